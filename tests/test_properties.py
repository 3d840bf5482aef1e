"""Property tests of the engine (hypothesis): invariants that must hold for any measurements."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irrecist.lesion_table import build_subjects
from irrecist.model import Status
from irrecist.rules.config import profile
from irrecist.rules.responses import Response
from irrecist.rules.subject import score_subject
from tests.helpers import frame, responses, score_rows, series

IR = profile("irrecist")
R = profile("recist1.1")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A subject with 1-4 non-nodal targets, optional new lesions and non-targets, 2-6 assessments."""
    n_tp = draw(st.integers(2, 6))
    n_t = draw(st.integers(1, 4))
    targets = {
        f"T{i}": [draw(st.integers(10, 80))] + [draw(st.integers(0, 120)) for _ in range(n_tp - 1)]
        for i in range(1, n_t + 1)
    }
    new: dict[str, list[float | None]] = {}
    for j in range(draw(st.integers(0, 2))):
        start = draw(st.integers(1, n_tp - 1))
        new[f"N{j + 1}"] = [None] * start + [draw(st.integers(0, 40)) for _ in range(n_tp - start)]
    nontarget = {}
    if draw(st.booleans()):
        nontarget["NT1"] = ["present"] + [
            draw(st.sampled_from(["present", "absent", "unequivocal_progression"])) for _ in range(n_tp - 1)
        ]
    gaps = [draw(st.integers(14, 90)) for _ in range(n_tp - 1)]
    days = [0]
    for g in gaps:
        days.append(days[-1] + g)
    return {"targets": targets, "new": new, "nontarget": nontarget, "days": days}


def _score(sc: dict[str, Any], cfg: Any, shuffle_seed: int | None = None, factor: int = 1) -> Any:
    targets = {k: [None if v is None else v * factor for v in vals] for k, vals in sc["targets"].items()}
    new = {k: [None if v is None else v * factor for v in vals] for k, vals in sc["new"].items()}
    rows = series(targets, new=new, nontarget=sc["nontarget"], days=sc["days"])
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(rows)
    subjects = build_subjects(frame(rows), "t", cfg)
    assert not subjects.failed, [p.message for p in subjects.problems]
    return score_subject(subjects.records[0], cfg)


def _summary(score: Any) -> tuple[Any, ...]:
    return (
        tuple(responses(score)),
        tuple(t.pd_status for t in score.timepoints),
        tuple(t.burden_um for t in score.timepoints),
        score.bor.bor,
        score.bor.date,
        score.bor.confirmed,
        score.pd_date,
    )


@SETTINGS
@given(scenarios(), st.integers(0, 10_000))
def test_row_order_does_not_change_any_result(sc: dict[str, Any], seed: int) -> None:
    for cfg in (IR, R):
        assert _summary(_score(sc, cfg)) == _summary(_score(sc, cfg, shuffle_seed=seed))


@SETTINGS
@given(scenarios(), st.integers(2, 5))
def test_scaling_every_diameter_keeps_every_response(sc: dict[str, Any], factor: int) -> None:
    """Scale invariance holds for the relative rules; the absolute floors (5 mm over the nadir, 10 mm
    measurability, 10 mm node normality) are not scale-free, so they are set to 0 here."""
    for base in (IR, R):
        cfg = base.replace(pd_min_increase_mm=0, min_measurable_mm=0, node_target_min_sa_mm=0)
        a, b = _score(sc, cfg), _score(sc, cfg, factor=factor)
        assert responses(a) == responses(b)
        assert (a.bor.bor, a.bor.confirmed) == (b.bor.bor, b.bor.confirmed)


@SETTINGS
@given(scenarios())
def test_ircr_never_while_a_new_lesion_is_present(sc: dict[str, Any]) -> None:
    score = _score(sc, IR)
    for t in score.timepoints[1:]:
        if t.new_lesions == "yes":
            assert t.response is not Response.CR


@SETTINGS
@given(scenarios())
def test_recist_never_cr_or_pr_with_an_unequivocal_new_lesion(sc: dict[str, Any]) -> None:
    score = _score(sc, R)
    for t in score.timepoints[1:]:
        if t.new_lesions == "yes":
            assert t.response is Response.PD


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 5000), st.integers(0, 400))
def test_pd_boundary_is_exact_and_inclusive(nadir_tenths: int, pct_tenths: int) -> None:
    """Independent expectation in Decimal: PD iff sum >= 1.2 x nadir and sum - nadir >= 5 mm (inclusive)."""
    nadir = Decimal(nadir_tenths) / 10
    grown = (nadir * (1000 + pct_tenths) / 1000).quantize(Decimal("0.001"))
    want_pd = grown >= nadir * Decimal("1.2") and grown - nadir >= 5
    score = score_rows(series({"T1": [str(nadir), str(grown)]}), R)  # type: ignore[list-item]
    assert (responses(score)[1] == "PD") == want_pd


def test_exact_boundaries_from_the_issue() -> None:
    # +20.0 % with +5.0 mm is PD; -30.0 % is PR (integer-tenths inputs, no float rounding involved)
    assert responses(score_rows(series({"T1": [25.0, 30.0]}), R))[1] == "PD"
    assert responses(score_rows(series({"T1": [33.3, 23.31]}), R))[1] == "PR"
    assert responses(score_rows(series({"T1": [33.3, 23.32]}), R))[1] == "SD"


_EDGES = [0, 4499, 4500, 4999, 5000, 9949, 9950, 9999, 10000, 10001, 11249, 11250, 11252, 11253, 12000, 12499,
          12500, 13500, 14999, 15000, 15001, 16665, 16668, 16669, 19998, 19999, 20000]
"""Lengths (um) on and beside every threshold the options below produce (10 mm, 9.95, 12.5, 15 mm nodes,
factor x slice: 2 x 6 mm, 2.25 x 5 / 5.001 / 6 mm, 3.333 x 5 / 5.001 / 6 mm, 1.5 x 10 mm, 2 x 10 mm), so
boundaries, and the truncation of a non-integral factor x slice, are hit often."""
_LEN = st.one_of(st.just(None), st.integers(0, 80_000), st.sampled_from(_EDGES))
_SLICE = st.one_of(st.just(None), st.integers(0, 12_000), st.sampled_from([4900, 5000, 5001, 6000, 7500, 10000]))


@given(
    rows=st.lists(
        st.tuples(st.booleans(), _LEN, _LEN, _SLICE,
                  st.sampled_from(list(Status))),
        min_size=1, max_size=40,
    ),
    factor=st.sampled_from(["2", "1.5", "2.25", "0", "3.333"]),
    limit=st.sampled_from(["5", "4.9", "0"]),
    minimum=st.sampled_from(["10", "9.95", "12.5"]),
    too_small=st.sampled_from(["5", "4.5"]),
)
@SETTINGS
def test_array_rules_equal_the_scalar_rules(
    rows: list[tuple[bool, int | None, int | None, int | None, Status]], factor: str, limit: str, minimum: str,
    too_small: str,
) -> None:
    """The engine's array forms of two rules give what the scalar rules give, value by value:
    ``measures`` = ``lesion_measure_um`` and ``target_measurable_mask`` = ``measurability_problem is None``
    (RECIST 1.1 3.1.1 and 4.3.2, decisions.md 1-3), under unusual option values too."""
    _compare_array_rules(rows, factor, limit, minimum, too_small)


@pytest.mark.parametrize(
    ("row", "factor", "limit"),
    [
        ((True, None, 15000, None, Status.PRESENT), "2", "5"),  # node SA exactly 15 mm: measurable
        ((True, None, 14999, None, Status.PRESENT), "2", "5"),
        ((False, 11250, None, 5000, Status.PRESENT), "2.25", "4.9"),  # 2.25 x 5 mm, slices over the limit
        ((False, 11249, None, 5000, Status.PRESENT), "2.25", "5"),  # 5 mm slices are not over a 5 mm limit
        ((False, 11249, None, 5000, Status.PRESENT), "2.25", "4.9"),
        ((False, 16668, None, 5001, Status.PRESENT), "3.333", "5"),  # 3.333 x 5.001 = 16.668333: truncated
        ((False, 16669, None, 5001, Status.PRESENT), "3.333", "5"),
        ((False, 10000, None, None, Status.PRESENT), "2", "5"),
        ((False, None, None, None, Status.TOO_SMALL), "2", "5"),
    ],
)
def test_array_rules_at_their_boundaries(
    row: tuple[bool, int | None, int | None, int | None, Status], factor: str, limit: str
) -> None:
    _compare_array_rules([row], factor, limit, "10", "5")


def _compare_array_rules(
    rows: list[tuple[bool, int | None, int | None, int | None, Status]], factor: str, limit: str, minimum: str,
    too_small: str,
) -> None:
    import numpy as np

    from irrecist.cohort import from_records
    from irrecist.model import Assessment, Lesion, Observation, Role, SubjectRecord
    from irrecist.rules.baseline import lesion_measure_um, measurability_problem, target_measurable_mask
    from irrecist.rules.timepoint import measures

    cfg = IR.replace(slice_thickness_factor=factor, slice_thickness_limit_mm=limit, min_measurable_mm=minimum,
                     too_small_mm=too_small)  # fmt: skip
    lesions = {f"L{i}": Lesion(f"L{i}", Role.TARGET, "liver", "liver", nodal) for i, (nodal, *_r) in enumerate(rows)}
    obs = {
        f"L{i}": Observation(f"L{i}", status, long_um, short_um, slice_um, "X" if status is Status.MERGED else None)
        for i, (_n, long_um, short_um, slice_um, status) in enumerate(rows)
    }
    rec = SubjectRecord("S", "", lesions, [Assessment("baseline", date(2024, 1, 1), obs)])
    c = from_records([rec])
    want_m = [lesion_measure_um(lesions[k], obs[k], cfg) for k in obs]
    assert [None if v < 0 else v for v in measures(c, cfg).tolist()] == want_m
    got = target_measurable_mask(c.l_nodal[c.o_lesion], c.o_long, c.o_short, c.o_slice, cfg)
    assert got.tolist() == [measurability_problem(lesions[k], obs[k], cfg) is None for k in obs]
    assert isinstance(got, np.ndarray)


def test_baseline_analysis_on_arrays_equals_the_reference() -> None:
    """``analyse_baselines`` (arrays for plain baselines) gives ``analyse_baseline``'s Baseline for every entity:
    plain ones, a non-measurable target, too many targets, a crowded organ, lesions over the 6 cm limit (a node's
    long axis only with ``eligibility_includes_nodes``), nothing measured, no target (decisions.md 2, 2.1)."""
    from irrecist.cohort import from_records
    from irrecist.model import Assessment, Lesion, Observation, Role, SubjectRecord
    from irrecist.rules.baseline import analyse_baseline, analyse_baselines
    from irrecist.rules.timepoint import measures, score_timepoints

    def lesion(lid: str, role: Role, organ: str = "liver", nodal: bool = False) -> Lesion:
        return Lesion(lid, role, organ, organ, nodal)

    T, NT = Role.TARGET, Role.NONTARGET
    subjects: list[list[tuple[Lesion, Observation]]] = [
        [(lesion("T1", T), Observation("T1", Status.PRESENT, 30000)),
         (lesion("NT1", NT, "bone"), Observation("NT1", Status.PRESENT))],
        [(lesion("T1", T), Observation("T1", Status.PRESENT, 8000))],
        [(lesion(f"T{i}", T, f"o{i}"), Observation(f"T{i}", Status.PRESENT, 20000)) for i in range(6)],
        [(lesion(f"T{i}", T), Observation(f"T{i}", Status.PRESENT, 20000)) for i in range(3)],
        [(lesion("T1", T), Observation("T1", Status.PRESENT, 60100)),
         (lesion("NT1", NT, "lung"), Observation("NT1", Status.PRESENT, 70000)),
         (lesion("N1", T, "lymph node", True), Observation("N1", Status.PRESENT, 65000, 20000))],
        [(lesion("NT1", NT), Observation("NT1", Status.PRESENT))],
        [(lesion("N1", NT, "lymph node", True), Observation("N1", Status.PRESENT, None, 12000))],
        [(lesion("T1", T), Observation("T1", Status.PRESENT, 60000, None, 7000))],
    ]
    records = [
        SubjectRecord(f"S{i}", "", {les.lesion_id: les for les, _ in pairs},
                      [Assessment("baseline", date(2024, 1, 1), {o.lesion_id: o for _, o in pairs})])
        for i, pairs in enumerate(subjects)
    ]  # fmt: skip
    c = from_records(records)
    for cfg in (IR, R, IR.replace(eligibility_includes_nodes=True, max_targets_per_organ=3)):
        tps, members = score_timepoints(c, cfg)
        assert measures(c, cfg).shape == c.o_lesion.shape
        got = analyse_baselines(c, members.sum_um, cfg)
        for e, (rec, b) in enumerate(zip(records, got, strict=True)):
            want = analyse_baseline(rec.lesions, rec.assessments[0].observations, cfg)
            assert b == want, rec.subject_id
            # the arrays the tables and endpoints read say what the object says
            assert (got.has_target[e], got.has_nontarget[e]) == (bool(want.targets), bool(want.nontargets))
            assert (got.sum_um[e], got.measurable[e]) == (want.sum_um, want.measurable_disease)
            assert got.eligible[e] == (-1 if want.eligible is None else int(want.eligible))
            assert got.ineligible.get(e, []) == want.ineligible_lesions and got.qc.get(e, []) == want.qc
    assert got[4].ineligible_lesions == ["T1", "N1", "NT1"] and got[5].eligible is None  # targets first


@given(
    values=st.lists(st.one_of(st.integers(0, 10**9), st.sampled_from([0, 5, 100, 999, 1000, 12000, 12300, 12340])),
                    min_size=1, max_size=50),
    refs=st.lists(st.integers(1, 10**8), min_size=1, max_size=50),
)
@SETTINGS
def test_reason_numbers_on_arrays_equal_the_scalar_formats(values: list[int], refs: list[int]) -> None:
    """``irrecist.rules.reasons`` formats lengths and percentages as ``fmt_mm`` and ``f"{pct_tenths / 10:+.1f}"``
    do, value by value (the reason column must read the same as the scalar engine wrote it)."""
    import numpy as np

    from irrecist.rules.baseline import fmt_mm
    from irrecist.rules.reasons import mm_text, pct_tenths_array, tenths_text
    from irrecist.rules.timepoint import pct_tenths

    um = np.asarray(values, dtype=np.int64)
    assert mm_text(um).to_pylist() == [fmt_mm(v) for v in values]
    n = min(len(values), len(refs))
    ref = np.asarray(refs[:n], dtype=np.int64)
    tenths = pct_tenths_array(um[:n], ref)
    assert tenths.tolist() == [pct_tenths(v, r) for v, r in zip(values[:n], refs[:n], strict=True)]
    assert tenths_text(tenths).to_pylist() == [f"{t / 10:+.1f}" for t in tenths.tolist()]


@given(
    n=st.integers(0, 40),
    rules=st.dictionaries(st.integers(0, 45), st.lists(st.sampled_from(["r1", "r2; x", ""]), min_size=1, max_size=3)),
    later=st.dictionaries(st.integers(0, 45), st.lists(st.sampled_from(["l1", "l2"]), min_size=1, max_size=2)),
    pick=st.randoms(use_true_random=False),
)
@SETTINGS
def test_reason_column_joins_each_assessments_reasons(
    n: int, rules: dict[int, list[str]], later: dict[int, list[str]], pick: random.Random
) -> None:
    """``Reasons.text`` (the column, built from sparse parts) is ``"; ".join(Reasons.of(a))`` for each assessment
    asked for, in any order and subset (rules and later reasons kept only where they are), one value per
    assessment even where it has none (pyarrow's skipping join drops such rows: ``reasons.join_present``)."""
    import numpy as np
    import pyarrow as pa

    from irrecist.rules.reasons import Reasons

    lead = pa.array([f"lead {a}" for a in range(n)], pa.string())
    at = np.where(np.arange(n) % 3 == 0, -1, np.arange(n)).astype(np.int64)  # every third has no lead
    reasons = Reasons([(lead, at)], rules, [], later)
    index = np.asarray(pick.sample(range(n), pick.randint(0, n)), dtype=np.int64)
    want = ["; ".join(reasons.of(a)) for a in index.tolist()]
    assert reasons.text(index).to_pylist() == want  # an assessment without any reason: empty, and kept
