"""A small, independent irRECIST scorer for the demo's ground truth (decisions.md section 4, defaults).

It covers only what the demo's stories use: target and nodal-target measures, non-target presence,
new measurable lesions admitted to TMTB, irPD with confirmation against the same nadir, irCR, irPR with
"PR persists", irSD, irNN, and BOR with confirmation and the SD minimum. It is deliberately separate from
the project's engine: the demo's expected answers must not come from the code they test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from demo_spec import LesionSpec, Size, SubjectSpec

D = Decimal
PD_RATIO, PD_MIN_MM, PR_RATIO = D("1.20"), D(5), D("0.70")
CONFIRM_DAYS, SD_MIN_DAYS, MAX_BASELINE_LD = 28, 42, D(60)
MIN_MEASURABLE, NODE_TARGET_MIN, NODE_NORMAL_BELOW = D(10), D(15), D(10)
MAX_NEW_IN_TMTB, MAX_NEW_PER_ORGAN = 5, 2
RANK = ("irCR", "irPR", "irSD", "irNN", "irPD", "irNE")

Overrides = Mapping[tuple[str, int], tuple[float, float]]
"""(lesion_id, assessment index) -> (long, short) replacing the true diameters (e.g. measured on masks)."""


@dataclass(frozen=True)
class TimepointResult:
    """Expected values at one assessment."""

    label: str
    date: str
    days: int
    target_sum_mm: Decimal
    tmtb_mm: Decimal
    nadir_mm: Decimal | None
    pct_from_baseline: Decimal | None
    response: str
    pd_status: str


@dataclass(frozen=True)
class SubjectResult:
    """Expected per-assessment results, BOR and the 6 cm verdict of one subject."""

    timepoints: tuple[TimepointResult, ...]
    bor: str
    bor_confirmed: bool | None
    pd_date: str | None
    baseline_eligible: bool
    ineligible_lesions: tuple[str, ...]
    measurable_disease: bool


def _size(lesion: LesionSpec, i: int, overrides: Overrides | None) -> Size:
    if overrides is not None and (lesion.lesion_id, i) in overrides:
        return overrides[(lesion.lesion_id, i)]
    return lesion.sizes[i]


def _measure(lesion: LesionSpec, i: int, overrides: Overrides | None) -> Decimal:
    """LD, or SA for a node; 0 when absent (decisions.md section 3)."""
    s = _size(lesion, i, overrides)
    if s is None:
        return D(0)
    return D(str(s[1] if lesion.nodal else s[0]))


def _admitted(subj: SubjectSpec, overrides: Overrides | None) -> list[LesionSpec]:
    """New measurable lesions admitted to TMTB: order of appearance, larger first, 5 in all, 2 per organ."""
    cands = []
    for les in subj.lesions:
        if les.role != "new":
            continue
        m = _measure(les, les.first, overrides)
        if m >= (NODE_TARGET_MIN if les.nodal else MIN_MEASURABLE):
            cands.append((les.first, -m, les))
    cands.sort(key=lambda c: (c[0], c[1]))
    out: list[LesionSpec] = []
    per_organ: dict[str, int] = {}
    for _, _, les in cands:
        if len(out) < MAX_NEW_IN_TMTB and per_organ.get(les.organ, 0) < MAX_NEW_PER_ORGAN:
            out.append(les)
            per_organ[les.organ] = per_organ.get(les.organ, 0) + 1
    return out


def _is_cr(subj: SubjectSpec, i: int, overrides: Overrides | None) -> bool:
    """Every lesion gone and every node (target or non-target) below 10 mm short axis; no new lesion."""
    for les in subj.lesions:
        s = _size(les, i, overrides)
        if s is None:
            continue
        if les.role == "new" or not (les.nodal and D(str(s[1])) < NODE_NORMAL_BELOW):
            return False
    return True


def score(subj: SubjectSpec, overrides: Overrides | None = None) -> SubjectResult:
    """Score one subject's ground truth (or the truth with some diameters replaced)."""
    targets = [les for les in subj.lesions if les.role == "target"]
    admitted = _admitted(subj, overrides)
    n = subj.n_timepoints
    sums = [sum((_measure(t, i, overrides) for t in targets), D(0)) for i in range(n)]
    tmtb = [sums[i] + sum((_measure(a, i, overrides) for a in admitted if i >= a.first), D(0))
            for i in range(n)]
    base = tmtb[0]
    responses = [""] * n
    status = [""] * n
    nadirs: list[Decimal | None] = [None] * n
    pending: tuple[int, Decimal] | None = None
    confirmed_at: int | None = None
    had_response = False

    def meets_pd(i: int, nadir: Decimal) -> bool:
        return bool(targets or admitted) and tmtb[i] >= PD_RATIO * nadir and tmtb[i] - nadir >= PD_MIN_MM

    for i in range(1, n):
        nadir = min(tmtb[:i])
        nadirs[i] = nadir
        if pending is not None and subj.days[i] - subj.days[pending[0]] >= CONFIRM_DAYS:
            p, p_nadir = pending
            pending = None
            if meets_pd(i, p_nadir):
                status[p] = status[i] = "confirmed"
                responses[i] = "irPD"
                confirmed_at = p
                break
            status[p] = "unconfirmed"
        if meets_pd(i, nadir):
            responses[i], status[i] = "irPD", "pending"
            pending = (i, nadir)
            had_response = False
        elif _is_cr(subj, i, overrides):
            responses[i] = "irCR"
        elif not targets:
            responses[i] = "irNN"
        elif tmtb[i] <= PR_RATIO * base or had_response:
            responses[i] = "irPR"
        else:
            responses[i] = "irSD"
        if responses[i] in ("irCR", "irPR"):
            had_response = True

    bor, bor_confirmed = _bor(subj, responses, status, confirmed_at)
    pd_index = confirmed_at if confirmed_at is not None else (
        next((i for i in range(n) if status[i] == "pending"), None))
    baseline_ld = [(les.lesion_id, _size(les, 0, overrides)) for les in subj.lesions if not les.nodal]
    too_big = tuple(lid for lid, s in baseline_ld if s is not None and D(str(s[0])) > MAX_BASELINE_LD)
    tps = tuple(
        TimepointResult(
            subj.label(i), subj.date(i).isoformat(), subj.days[i], sums[i], tmtb[i], nadirs[i],
            ((tmtb[i] - base) * 100 / base).quantize(D("0.1")) if i and base else None,
            responses[i], status[i],
        )
        for i in range(n)
    )
    return SubjectResult(tps, bor, bor_confirmed,
                         subj.date(pd_index).isoformat() if pd_index is not None else None,
                         not too_big, too_big, bool(targets))


def _bor(subj: SubjectSpec, responses: list[str], status: list[str],
         confirmed_at: int | None) -> tuple[str, bool | None]:
    """Best overall response up to the first irPD of a confirmed episode (decisions.md sections 3, 4)."""
    last = confirmed_at if confirmed_at is not None else len(responses) - 1
    cands: list[tuple[str, bool | None]] = []
    for i in range(1, last + 1):
        r = responses[i]
        if r in ("irCR", "irPR"):
            ok = ("irCR",) if r == "irCR" else ("irCR", "irPR")
            conf = False
            for j in range(i + 1, len(responses)):
                if responses[j] in ("irSD", "irNN"):
                    break
                if responses[j] in ok and subj.days[j] - subj.days[i] >= CONFIRM_DAYS:
                    conf = True
                    break
            if conf:
                cands.append((r, True))
            elif subj.days[i] >= SD_MIN_DAYS:
                cands.append(("irSD", None))
        elif r in ("irSD", "irNN") and subj.days[i] >= SD_MIN_DAYS:
            cands.append((r, None))
        elif r == "irPD" and status[i] in ("confirmed", "pending"):
            cands.append((r, status[i] == "confirmed"))
    if not cands:
        return "irNE", None
    return min(cands, key=lambda c: RANK.index(c[0]))
