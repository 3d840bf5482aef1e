"""Trial endpoints over scored subjects (decisions.md section 5): ORR with the exact Clopper-Pearson 95 %
interval over the response-evaluable population and over all subjects, DCR, BOR counts, landmark ORR."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from scipy.stats import beta

from irrecist.rules.responses import Response, labels
from irrecist.rules.subject import SubjectScore

CONFIDENCE = 0.95
"""Confidence level of the reported intervals (two-sided)."""


def clopper_pearson(n: int, total: int, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Exact binomial interval (Clopper & Pearson 1934) for n successes out of total."""
    if total == 0:
        return None, None
    alpha = 1 - confidence
    lo = 0.0 if n == 0 else float(beta.ppf(alpha / 2, n, total - n + 1))
    hi = 1.0 if n == total else float(beta.ppf(1 - alpha / 2, n + 1, total - n))
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


def endpoints(
    scores: Sequence[SubjectScore], *, exclude_ineligible: bool = False, orr_at: str | None = None
) -> dict[str, Any]:
    """ORR, DCR and BOR counts for one criterion's scores."""
    if not scores:
        return {"subjects_scored": 0}
    lab = labels(scores[0].config)
    pool = [s for s in scores if not (exclude_ineligible and s.baseline.eligible is False)]
    evaluable = [s for s in pool if s.baseline.measurable_disease]
    responders = [s for s in evaluable if is_responder(s)]
    all_resp = [s for s in pool if is_responder(s)]
    dcr = [s for s in evaluable if s.bor.bor in (Response.CR, Response.PR, Response.SD)]
    counts = Counter(lab[s.bor.bor] for s in pool)
    out: dict[str, Any] = {
        "subjects_scored": len(scores),
        "subjects_in_analysis": len(pool),
        "excluded_ineligible": len(scores) - len(pool),
        "orr": {
            **proportion(len(responders), len(evaluable)),
            "population": "response-evaluable: measurable target disease at baseline",
        },
        "orr_all_subjects": {**proportion(len(all_resp), len(pool)), "population": "all subjects in analysis"},
        "dcr": {**proportion(len(dcr), len(evaluable)), "population": "response-evaluable"},
        "bor_counts": {lab[r]: counts.get(lab[r], 0) for r in Response if counts.get(lab[r], 0)},
        "eligibility": {
            "eligible": sum(1 for s in scores if s.baseline.eligible is True),
            "ineligible": sum(1 for s in scores if s.baseline.eligible is False),
            "unknown": sum(1 for s in scores if s.baseline.eligible is None),
            "ineligible_subjects": sorted({s.subject_id for s in scores if s.baseline.eligible is False}),
        },
        "confirmation_required": scores[0].config.confirm_response,
    }
    if orr_at:
        out["landmark_orr"] = landmark(evaluable, orr_at)
    return out


def landmark(evaluable: Sequence[SubjectScore], visit: str) -> dict[str, Any]:
    """Share of response-evaluable subjects whose assessment at ``visit`` is CR/PR (time-point response,
    decisions.md 5); a subject without that visit counts as a non-responder."""
    key = visit.strip().lower()
    n = 0
    seen = 0
    for s in evaluable:
        hit = [t for t in s.timepoints if t.timepoint.strip().lower() == key and not t.is_baseline]
        if hit:
            seen += 1
            if hit[0].response in (Response.CR, Response.PR):
                n += 1
    return {**proportion(n, len(evaluable)), "visit": visit, "subjects_with_visit": seen}
