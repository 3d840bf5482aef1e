"""Trial endpoints over scored subjects (decisions.md section 5): ORR with the exact Clopper-Pearson 95 %
interval over the response-evaluable population and over all subjects, DCR, BOR counts, landmark ORR."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from irrecist.cohort import BoolArray, IntArray
from irrecist.rules.responses import RESPONSES, Response, labels
from irrecist.rules.subject import Scores, SubjectScore
from irrecist.rules.timepoint import TimepointResult

CONFIDENCE = 0.95
"""Confidence level of the reported intervals (two-sided)."""

LANDMARK_WINDOW_DAYS = 7
"""Default half-width of the landmark window: an assessment within +- this many days of the landmark day
counts (``--orr-window``)."""

ANCHORS = ("reference", "last_treatment")


@dataclass(frozen=True)
class Landmark:
    """Where the landmark ORR is read (decisions.md 5): at a visit label (``--orr-at VISIT``), or at the
    assessment nearest ``day`` days after the anchor date within +- ``window_days`` (``--orr-at-day N``).
    Anchors: ``reference`` (treatment start, else the baseline scan) or ``last_treatment`` (the subject
    table's ``last_treatment_date``: the trial's primary endpoint is the response 4 weeks after it)."""

    visit: str | None = None
    day: int | None = None
    window_days: int = LANDMARK_WINDOW_DAYS
    anchor: str = "reference"

    def __post_init__(self) -> None:
        if (self.visit is None) == (self.day is None):
            raise ValueError("a landmark is either a visit label or a day, not both or neither")
        if self.anchor not in ANCHORS:
            raise ValueError(f"landmark anchor {self.anchor!r}; allowed: {', '.join(ANCHORS)}")
        if self.window_days < 0 or (self.day is not None and self.day < 0):
            raise ValueError("landmark day and window must be >= 0")


def clopper_pearson(n: int, total: int, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Exact binomial interval (Clopper & Pearson 1934) for n successes out of total."""
    if total == 0:
        return None, None
    # The bounds are quantiles of beta distributions; ``scipy.special.betaincinv(a, b, q)`` is what
    # ``scipy.stats.beta.ppf(q, a, b)`` computes (bit-identical), without the 0.4 s import of scipy.stats.
    from scipy.special import betaincinv

    alpha = 1 - confidence
    lo = 0.0 if n == 0 else float(betaincinv(n, total - n + 1, alpha / 2))
    hi = 1.0 if n == total else float(betaincinv(n + 1, total - n, 1 - alpha / 2))
    return lo, hi


def proportion(n: int, total: int) -> dict[str, Any]:
    lo, hi = clopper_pearson(n, total)
    return {
        "n": n,
        "N": total,
        "pct": None if total == 0 else round(100 * n / total, 1),
        "ci95_low_pct": None if lo is None else round(100 * lo, 1),
        "ci95_high_pct": None if hi is None else round(100 * hi, 1),
    }


def is_responder(s: SubjectScore) -> bool:
    """BOR CR/PR (irCR/irPR); with confirmation on, BOR is CR/PR only when confirmed (decisions.md 5)."""
    return s.bor.bor in (Response.CR, Response.PR)


@dataclass
class Outcomes:
    """What the endpoints count, per scored subject of one criterion: BOR (codes into ``RESPONSES``), the 6 cm
    verdict (1, 0, -1 unknown) and measurable disease at baseline."""

    subject_id: list[str]
    bor: IntArray
    eligible: IntArray
    measurable: BoolArray


def outcomes(scores: Sequence[SubjectScore]) -> Outcomes:
    """The outcomes of ``scores``: read from the engine's arrays for a run's ``Scores``, else from the objects."""
    if isinstance(scores, Scores):
        s, kept = scores.scored.subjects, scores.kept
        ids = scores.scored.cohort.subject_id
        b = s.baselines
        return Outcomes([ids[e] for e in kept.tolist()], s.bor[kept], b.eligible[kept], b.measurable[kept])
    return Outcomes(
        [s.subject_id for s in scores],
        np.array([RESPONSES.index(s.bor.bor) for s in scores], dtype=np.int64),
        np.array([-1 if s.baseline.eligible is None else int(s.baseline.eligible) for s in scores], dtype=np.int64),
        np.array([s.baseline.measurable_disease for s in scores], dtype=bool),
    )


RESPONDER_CODES = [RESPONSES.index(Response.CR), RESPONSES.index(Response.PR)]
"""BOR codes of a responder (``is_responder``), the ORR numerator."""
_CONTROLLED = [*RESPONDER_CODES, RESPONSES.index(Response.SD)]


def endpoints(
    scores: Sequence[SubjectScore], *, exclude_ineligible: bool = False, orr_at: str | Landmark | None = None
) -> dict[str, Any]:
    """ORR, DCR and BOR counts for one criterion's scores (decisions.md 5)."""
    if not scores:
        return {"subjects_scored": 0}
    config = scores.scored.config if isinstance(scores, Scores) else scores[0].config
    lab = labels(config)
    o = outcomes(scores)
    pool = ~((o.eligible == 0) & exclude_ineligible)
    evaluable = pool & o.measurable
    responder = np.isin(o.bor, RESPONDER_CODES)
    counts: Counter[str] = Counter()
    for code, n in enumerate(np.bincount(o.bor[pool], minlength=len(RESPONSES)).tolist()):
        counts[lab[RESPONSES[code]]] += n
    out: dict[str, Any] = {
        "subjects_scored": len(scores),
        "subjects_in_analysis": int(pool.sum()),
        "excluded_ineligible": len(scores) - int(pool.sum()),
        "orr": {
            **proportion(int((evaluable & responder).sum()), int(evaluable.sum())),
            "population": "response-evaluable: measurable target disease at baseline",
        },
        "orr_all_subjects": {
            **proportion(int((pool & responder).sum()), int(pool.sum())),
            "population": "all subjects in analysis",
        },
        "dcr": {
            **proportion(int((evaluable & np.isin(o.bor, _CONTROLLED)).sum()), int(evaluable.sum())),
            "population": "response-evaluable",
        },
        "bor_counts": {lab[r]: counts[lab[r]] for r in Response if counts.get(lab[r], 0)},
        "eligibility": {
            "eligible": int((o.eligible == 1).sum()),
            "ineligible": int((o.eligible == 0).sum()),
            "unknown": int((o.eligible < 0).sum()),
            "ineligible_subjects": sorted({o.subject_id[i] for i in np.flatnonzero(o.eligible == 0).tolist()}),
        },
        "confirmation_required": config.confirm_response,
    }
    if orr_at:
        where = orr_at if isinstance(orr_at, Landmark) else Landmark(visit=orr_at)
        out["landmark_orr"] = landmark([scores[i] for i in np.flatnonzero(evaluable).tolist()], where)
    return out


def landmark(evaluable: Sequence[SubjectScore], where: Landmark) -> dict[str, Any]:
    """Share of response-evaluable subjects whose assessment at the landmark is CR/PR (time-point response,
    decisions.md 5); a subject without an assessment there counts as a non-responder."""
    n = 0
    seen = 0
    for s in evaluable:
        hit = _at_visit(s, where.visit) if where.visit is not None else _at_day(s, where)
        if hit is not None:
            seen += 1
            if hit.response in (Response.CR, Response.PR):
                n += 1
    out = proportion(n, len(evaluable))
    if where.visit is not None:
        return {**out, "visit": where.visit, "subjects_with_visit": seen}
    missing = sum(1 for s in evaluable if _anchor(s, where) is None)
    return {
        **out,
        "day": where.day,
        "window_days": where.window_days,
        "anchor": where.anchor,
        "subjects_with_assessment": seen,
        "subjects_without_anchor_date": missing,
    }


def _at_visit(s: SubjectScore, visit: str) -> TimepointResult | None:
    key = visit.strip().lower()
    return next((t for t in s.timepoints if t.timepoint.strip().lower() == key and not t.is_baseline), None)


def _anchor(s: SubjectScore, where: Landmark) -> date | None:
    return s.reference_date if where.anchor == "reference" else s.last_treatment_date


def _at_day(s: SubjectScore, where: Landmark) -> TimepointResult | None:
    """The post-baseline assessment nearest the landmark day within the window (ties: the earlier one)."""
    anchor = _anchor(s, where)
    if anchor is None or where.day is None:
        return None
    best: tuple[int, TimepointResult] | None = None
    for t in s.timepoints:
        off = abs((t.date - anchor).days - where.day)
        if not t.is_baseline and off <= where.window_days and (best is None or off < best[0]):
            best = (off, t)
    return None if best is None else best[1]
