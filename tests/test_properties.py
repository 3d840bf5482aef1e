"""Property tests of the engine (hypothesis): invariants that must hold for any measurements."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irrecist.lesion_table import build_subjects
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
