"""Scenario tests of the timepoint engine, confirmation and BOR against hand computations
(decisions.md sections 3 and 4)."""

from __future__ import annotations

from datetime import date

import pytest

from irrecist.rules.config import profile
from irrecist.rules.responses import Response
from tests.helpers import responses, score_rows, series

R = profile("recist1.1")
IR = profile("irrecist")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # nadir 50 at baseline: +20 % is 60 (+10 mm) -> PD exactly at the boundary
        ([50, 60], "PD"),
        ([50, 59.9], "SD"),
        # baseline 25: 30 is +20 % but only +5.0 mm -> PD; 29.9 is +19.6 %
        ([25, 30], "PD"),
        # nadir 20: 24 is +20 % but only +4 mm -> not PD (absolute floor)
        ([20, 24], "SD"),
        # -30.0 % exactly is PR, -29.9 % is SD
        ([100, 70], "PR"),
        ([100, 70.1], "SD"),
        # float trap: 0.1-mm steps that a binary float gets wrong at the boundary
        ([10.1, 10.1 * 1.2 + 5], "PD"),
    ],
    ids=["+20%_+10mm", "+19.8%", "+20%_+5mm", "+20%_+4mm", "-30%", "-29.9%", "float-trap"],
)
def test_boundaries_recist(values: list[float], expected: str) -> None:
    score = score_rows(series({"T1": [round(v, 2) for v in values]}), R)
    assert responses(score)[1] == expected


def test_sixty_point_one_mm_fails_the_6cm_limit() -> None:
    ok = score_rows(series({"T1": [60.0, 50]}), IR)
    bad = score_rows(series({"T1": [60.1, 50]}), IR)
    assert ok.baseline.eligible is True
    assert bad.baseline.eligible is False and bad.baseline.ineligible_lesions == ["T1"]


def test_node_short_axis_and_nodal_cr_with_nonzero_sum() -> None:
    score = score_rows(series({"N1": [20, 9], "T1": [15, 0]}, nodal={"N1"}), R)
    assert responses(score) == ["", "CR"]
    assert score.timepoints[1].target_sum_um == 9000


def test_partial_assessment_proving_pd_and_ne_otherwise() -> None:
    # baseline 25+15+10 = 50; T1+T2 = 80 with T3 missing: already PD (RECIST 1.1 4.4.2)
    pd = score_rows(series({"T1": [25, 50], "T2": [15, 30], "T3": [10, None]}), R)
    assert responses(pd) == ["", "PD"]
    ne = score_rows(series({"T1": [25, 20], "T2": [15, 10], "T3": [10, None]}), R)
    assert responses(ne) == ["", "NE"]


def test_pr_persists_until_pd() -> None:
    # 100 -> 70 (PR) -> 80 (-20 %: SD by the number, PR persists) -> 85 (+21 %, +15 mm: PD) -> 80 (SD again)
    score = score_rows(series({"T1": [100, 70, 80, 85, 80]}), R)
    assert responses(score) == ["", "PR", "PR", "PD", "SD"]


def test_pr_persistence_can_be_switched_off() -> None:
    score = score_rows(series({"T1": [100, 70, 80]}), R.replace(pr_persists="false"))
    assert responses(score) == ["", "PR", "SD"]


def test_new_lesion_is_pd_in_recist_but_enters_tmtb_in_irrecist() -> None:
    rows = series({"T1": [40, 36]}, new={"N1": [None, 12]})
    assert responses(score_rows(rows, R)) == ["", "PD"]
    ir = score_rows(rows, IR)
    # TMTB 36 + 12 = 48 vs nadir 40: +20 % and +8 mm -> irPD, pending (no later scan)
    assert responses(ir) == ["", "irPD"]
    assert ir.timepoints[1].burden_um == 48000
    assert ir.timepoints[1].pd_status == "pending"
    assert ir.bor.bor is Response.PD and ir.bor.confirmed is False


def test_new_lesions_over_the_organ_cap_stay_outside_tmtb() -> None:
    rows = series(
        {"T1": [60, 60]},
        new={"N1": [None, 11], "N2": [None, 13], "N3": [None, 12]},
        organs={"N1": "liver", "N2": "liver", "N3": "Liver"},
    )
    score = score_rows(rows, IR)
    # ties on first appearance: larger first -> N2 (13) and N3 (12) admitted, N1 over the per-organ cap
    assert score.timepoints[1].admitted == ["N2", "N3"]
    assert score.timepoints[1].burden_um == 85000


def test_irpd_confirmation_ignores_too_early_scans_and_uses_the_first_nadir() -> None:
    # baseline 50; day 56: 62 (+24 %, irPD); day 70 (14 days later, too early): 40; day 112: 61 vs nadir 50
    rows = series({"T1": [50, 62, 40, 61]}, days=[0, 56, 70, 112])
    score = score_rows(rows, IR)
    assert [t.pd_status for t in score.timepoints[1:]] == ["confirmed", "", "confirmed"]
    assert score.pd_date == date(2024, 2, 26) and score.pd_confirmed is True


def test_irpd_not_confirmed_is_pseudoprogression_and_later_irpd_is_a_new_episode() -> None:
    rows = series({"T1": [50, 62, 45, 56, 58]}, days=[0, 56, 112, 168, 224])
    score = score_rows(rows, IR)
    # 62 irPD; 45 refutes it (unconfirmed); 56 vs nadir 45: +24 %, +11 mm -> new episode; 58 confirms it
    assert responses(score) == ["", "irPD", "irSD", "irPD", "irPD"]
    assert [t.pd_status for t in score.timepoints[1:]] == ["unconfirmed", "", "confirmed", "confirmed"]
    assert score.pd_date == date(2024, 6, 17)
    assert score.bor.bor is Response.SD


def test_irpd_confirmation_max_days() -> None:
    rows = series({"T1": [50, 62, 63]}, days=[0, 56, 160])
    assert score_rows(rows, IR).pd_confirmed is True
    late = score_rows(rows, IR.replace(pd_confirm_max_days=84))
    assert [t.pd_status for t in late.timepoints[1:]] == ["unconfirmed", "pending"]


def test_nontarget_progression_confirms_and_measurable_only_variant() -> None:
    rows = series(
        {"T1": [40, 41, 42]}, nontarget={"NT1": ["present", "unequivocal_progression", "unequivocal_progression"]}
    )
    assert responses(score_rows(rows, IR)) == ["", "irPD", "irPD"]
    assert score_rows(rows, IR).pd_confirmed is True
    measurable_only = score_rows(rows, IR.replace(nontarget_can_define_pd=False))
    assert responses(measurable_only) == ["", "irSD", "irSD"]


def test_ircr_needs_every_new_lesion_gone() -> None:
    rows = series({"T1": [30, 0, 0]}, new={"N1": [None, 4, 0]})
    score = score_rows(rows, IR)
    assert responses(score) == ["", "irPR", "irCR"]


def test_bor_confirmation_and_sd_minimum() -> None:
    # PR at day 56 confirmed by PR at day 84 (28 days)
    assert score_rows(series({"T1": [50, 30, 30]}, days=[0, 56, 84]), R).bor.bor is Response.PR
    # 27 days later is too early: unconfirmed PR counts as SD (day 56 >= 42)
    early = score_rows(series({"T1": [50, 30, 30]}, days=[0, 56, 83]), R)
    assert early.bor.bor is Response.SD and early.bor.confirmed is None
    # SD only before the SD minimum, then PD -> PD
    assert score_rows(series({"T1": [50, 48, 70]}, days=[0, 28, 70]), R).bor.bor is Response.PD
    # ... then nothing evaluable -> NE
    assert score_rows(series({"T1": [50, 48]}, days=[0, 28]), R).bor.bor is Response.NE


def test_sd_minimum_counts_from_treatment_start() -> None:
    from dataclasses import replace

    from irrecist.lesion_table import build_subjects
    from irrecist.model import SubjectInfo
    from irrecist.rules.subject import score_subject
    from tests.helpers import frame

    rows = series({"T1": [50, 48]}, days=[0, 42])
    rec = build_subjects(frame(rows), "t", R).records[0]
    assert score_subject(rec, R).bor.bor is Response.SD
    rec = replace(rec, info=SubjectInfo(treatment_start_date=date(2024, 1, 10)))
    assert score_subject(rec, R).bor.bor is Response.NE  # day 42 scan is day 33 of treatment


def test_duration_of_response_and_best_change() -> None:
    score = score_rows(series({"T1": [50, 30, 30, 40]}, days=[0, 56, 112, 168]), R)
    assert score.bor.bor is Response.PR
    assert score.first_response_date == date(2024, 2, 26)
    assert score.pd_date == date(2024, 6, 17)
    assert score.duration_of_response_days == 112
    assert str(score.best_pct_change) == "-40.0"


def test_no_disease_is_nd() -> None:
    rows = [
        {"subject_id": "S", "timepoint": "baseline", "date": "2024-01-01", "lesion_id": ""},
        {"subject_id": "S", "timepoint": "w8", "date": "2024-02-26", "lesion_id": ""},
    ]
    score = score_rows(rows, IR)
    assert responses(score) == ["", "irND"] and score.bor.bor is Response.ND


def test_reappearance_after_cr_is_pd_in_recist() -> None:
    # T1 30 -> 0 (CR) -> 0 (CR) -> 3 mm: +3 mm over a nadir of 0 is not PD by the sum rule, but CR was assigned
    score = score_rows(series({"T1": [30, 0, 0, 3]}), R)
    assert responses(score) == ["", "CR", "CR", "PD"]
    off = score_rows(series({"T1": [30, 0, 0, 3]}), R.replace(reappearance_after_cr_is_pd=False))
    assert responses(off)[3] == "PR"


def test_cr_then_pr_options() -> None:
    from irrecist.rules.bor import BorPoint, best_overall_response

    pts = [BorPoint(date(2024, 2, 1), 56, Response.CR), BorPoint(date(2024, 3, 1), 84, Response.PR)]
    r = best_overall_response(pts, R)
    assert r.bor is Response.PR and r.confirmed and r.flags
    assert best_overall_response(pts, R.replace(cr_then_pr="pd")).bor is Response.SD
    assert best_overall_response(pts, R.replace(cr_then_pr="invalidate")).bor is Response.SD


@pytest.mark.parametrize("total", [1, 4, 10, 37, 20000])
def test_clopper_pearson_matches_its_closed_forms(total: int) -> None:
    """Exact 95 % interval (Clopper & Pearson 1934): for 0, 1, n - 1 and n successes the beta quantiles have
    closed forms, e.g. 0 of n gives [0, 1 - 0.025^(1/n)] and n of n gives [0.025^(1/n), 1]."""
    from irrecist.endpoints import clopper_pearson

    q = 0.025
    assert clopper_pearson(0, total) == pytest.approx((0.0, 1 - q ** (1 / total)), rel=1e-12)
    assert clopper_pearson(total, total) == pytest.approx((q ** (1 / total), 1.0), rel=1e-12)
    lo, _hi = clopper_pearson(1, total)
    assert lo == pytest.approx(1 - (1 - q) ** (1 / total), rel=1e-10)
    _lo, hi = clopper_pearson(total - 1, total)
    assert hi == pytest.approx((1 - q) ** (1 / total), rel=1e-10)
    assert clopper_pearson(0, 0) == (None, None)
