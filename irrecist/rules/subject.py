"""Score subjects: baseline, every assessment, irPD confirmation, BOR and each subject's dates.

decisions.md sections 2 to 5. ``score_cohort`` scores every subject of a ``Cohort`` (the timepoint engine for
all at once, then confirmation and BOR per subject); ``score_subject`` scores one ``SubjectRecord`` as a
cohort of one. Pure: never touches files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from irrecist.cohort import EPOCH, NEW, S_EQUIVOCAL, TARGET, Cohort, IntArray, from_records
from irrecist.errors import InputError
from irrecist.model import SubjectRecord
from irrecist.rules.baseline import Baseline, analyse_baselines, fmt_mm
from irrecist.rules.bor import BorPoint, BorResult, best_overall_response, window
from irrecist.rules.config import CriterionConfig
from irrecist.rules.confirmation import CONFIRMED, PENDING, confirm_progression
from irrecist.rules.reasons import pct_tenths_array
from irrecist.rules.responses import NonTargetCategory, Response, label
from irrecist.rules.timepoint import (
    NONTARGET_CATEGORIES,
    RESPONSES,
    Timepoints,
    TimepointSeries,
    is_pd,
    measures,
    score_timepoints,
)


@dataclass
class SubjectScore:
    subject_id: str
    reader: str
    config: CriterionConfig
    baseline: Baseline
    reference_date: date
    timepoints: TimepointSeries
    bor: BorResult
    pd_date: date | None = None
    pd_confirmed: bool | None = None
    first_response_date: date | None = None
    best_pct_change: Decimal | None = None
    qc_flags: list[str] = field(default_factory=list)
    last_treatment_date: date | None = None
    """From the subject table; anchors a landmark read "N days after the last treatment" (decisions.md 5)."""

    @property
    def duration_of_response_days(self) -> int | None:
        if self.first_response_date is None or self.pd_date is None:
            return None
        return (self.pd_date - self.first_response_date).days

    def study_day(self, d: date) -> int:
        """CDISC study day: no day 0 (reference date is day 1)."""
        delta = (d - self.reference_date).days
        return delta + 1 if delta >= 0 else delta


def score_subject(rec: SubjectRecord, config: CriterionConfig) -> SubjectScore:
    """Score one subject as one reader recorded it. Raises ``InputError`` when it cannot be scored."""
    (result,) = score_cohort(from_records([rec]), config).results
    if isinstance(result, str):
        raise InputError(result)
    return result


def baseline_problems(c: Cohort, m: IntArray) -> list[str | None]:
    """Why each entity cannot be scored, or None: no assessment, a lesion with role 'new' at baseline, or a
    target without its measure at baseline (the first such observation in baseline order)."""
    out: list[str | None] = ["no assessment" if n == 0 else None for n in np.diff(c.a_start).tolist()]
    role = c.l_role[c.o_lesion]
    bad = c.o_at_baseline & ((role == NEW) | ((role == TARGET) & (m < 0)))
    for o in np.flatnonzero(bad).tolist():
        e = int(c.a_entity[c.o_assessment[o]])
        if out[e] is not None:
            continue
        li = int(c.o_lesion[o])
        lid, tp = c.l_id[li], c.a_label[c.o_assessment[o]]
        if role[o] == NEW:
            out[e] = f"lesion {lid} has role 'new' at baseline ({tp}); allowed at baseline: target, non-target"
        else:
            axis = "short_axis_mm" if c.l_nodal[li] else "long_axis_mm"
            out[e] = f"target {lid} has no {axis} at baseline ({tp})"
    return out


@dataclass
class ScoredCohort:
    """A cohort scored under one criterion: the engine's arrays (``timepoints``, with ``pd_status`` and the
    confirmation's reasons written in) and per entity its ``SubjectScore`` or the reason it was not scored."""

    config: CriterionConfig
    cohort: Cohort
    timepoints: Timepoints
    results: list[SubjectScore | str]


def score_cohort(
    c: Cohort, config: CriterionConfig, each: Callable[[range], Iterable[int]] = iter
) -> ScoredCohort:
    """Score every entity of a cohort (decisions.md 2 to 5): the timepoint engine for all at once, then per
    entity the baseline analysis, irPD confirmation, BOR and dates. ``each`` wraps the loop over entities
    (the command line passes a progress bar)."""
    m = measures(c, config)
    tps, members = score_timepoints(c, config, m)
    problems = baseline_problems(c, m)
    v = _Values(tps)
    baselines = analyse_baselines(c, members.sum_um, config)
    results: list[SubjectScore | str] = []
    for e in each(range(c.n_entities)):
        problem = problems[e]
        results.append(problem if problem is not None else _score_entity(c, e, baselines[e], tps, v, config))
    tps.response[:] = v.response  # RECIST back-dating may have made an earlier assessment PD
    _best_changes(c, tps, members.sum_um, results)
    return ScoredCohort(config, c, tps, results)


_NO_CHANGE = np.iinfo(np.int64).max


def _best_changes(c: Cohort, tps: Timepoints, base_um: IntArray, results: list[SubjectScore | str]) -> None:
    """Each subject's best percentage change of the burden from baseline: the lowest over its evaluable
    follow-ups up to the PD date (none without a baseline sum), in tenths rounded as ``pct_tenths``."""
    n_e = c.n_entities
    if not n_e or not len(c.a_entity):
        return
    pd_day = np.full(n_e, _NO_CHANGE, dtype=np.int64)
    for e, r in enumerate(results):
        if not isinstance(r, str) and r.pd_date is not None:
            pd_day[e] = (r.pd_date - EPOCH).days
    a_e = c.a_entity
    base = base_um[a_e]
    counted = tps.evaluable & (c.a_index() > 0) & (base > 0) & (c.a_day <= pd_day[a_e])
    tenths = np.where(counted, pct_tenths_array(np.maximum(tps.burden, 0), base), _NO_CHANGE)
    starts = c.a_start[:-1]
    has = np.diff(c.a_start) > 0
    best = np.full(n_e, _NO_CHANGE, dtype=np.int64)
    best[has] = np.minimum.reduceat(tenths, starts[has])
    for e, r in enumerate(results):
        if not isinstance(r, str) and best[e] != _NO_CHANGE:
            r.best_pct_change = Decimal(int(best[e])).scaleb(-1)


class _Values:
    """The engine's per-assessment arrays as lists, for the per-subject loop (list indexing is several times
    faster than numpy scalar indexing); ``response`` is written back to the arrays after the loop."""

    def __init__(self, tps: Timepoints) -> None:
        self.response: list[int] = tps.response.tolist()
        self.burden: list[int] = tps.burden.tolist()
        self.nadir: list[int] = tps.nadir.tolist()
        self.nontarget: list[int] = tps.nontarget.tolist()
        self.pd_status = tps.pd_status
        self.reasons = tps.reasons


def _score_entity(
    c: Cohort, e: int, baseline: Baseline, tps: Timepoints, v: _Values, config: CriterionConfig
) -> SubjectScore:
    """irPD confirmation, BOR and dates of one entity whose time points are scored."""
    start, end = c.lists.a_start[e], c.lists.a_start[e + 1]
    info = c.info[e]
    ref = info.treatment_start_date or c.a_date[start]
    score = SubjectScore(
        c.subject_id[e], c.reader[e], config, baseline, ref, TimepointSeries(c, tps, start, end),
        BorResult(Response.MISSING),
    )  # fmt: skip
    score.last_treatment_date = info.last_treatment_date
    score.qc_flags.extend(msg for _lid, msg in baseline.qc)
    score.qc_flags.extend(msg for _lid, _tp, msg in c.warnings[e])
    follow = list(range(start + 1, end))
    dates = [c.a_date[a] for a in follow]
    days = [(d - ref).days for d in dates]
    skip = [False] * len(follow)
    pd_index: int | None = None
    if config.pd_requires_confirmation:
        pd_index = _confirm(c, v, follow, days, config, skip, score)
    else:
        pd_index = next((i for i, a in enumerate(follow) if v.response[a] == _PD), None)
        if pd_index is not None:
            pd_index = _backdate_equivocal(c, v, follow, pd_index)
    score.pd_date = dates[pd_index] if pd_index is not None else None
    points = [
        BorPoint(d, day, RESPONSES[v.response[a]], s) for a, d, day, s in zip(follow, dates, days, skip, strict=True)
    ]
    inside = window(points, config, score.pd_date, info.new_therapy_date, info.data_cut_date)
    has_target = bool(baseline.targets)
    bor = best_overall_response([points[i] for i in inside], config, has_target_disease=has_target)
    if not has_target and not baseline.nontargets and bor.bor in (Response.ND, Response.MISSING):
        bor.bor = Response.ND if follow else bor.bor
    if bor.index is not None:
        bor.index = inside[bor.index]
    if bor.first_response_index is not None:
        score.first_response_date = dates[inside[bor.first_response_index]]
    if bor.bor is Response.PD and config.pd_requires_confirmation:
        bor.confirmed = bool(score.pd_confirmed)
    score.bor = bor
    score.qc_flags.extend(bor.flags)
    if not baseline.targets:
        score.qc_flags.append("no target lesion at baseline: not response-evaluable for ORR")
    return score


_PD = RESPONSES.index(Response.PD)
_NT_PD = NONTARGET_CATEGORIES.index(NonTargetCategory.PD)


def _confirm(
    c: Cohort,
    v: _Values,
    follow: list[int],
    days: list[int],
    config: CriterionConfig,
    skip: list[bool],
    score: SubjectScore,
) -> int | None:
    """Run irPD confirmation (decisions.md 4) and write ``pd_status`` and reasons."""

    def confirms(j: int, k: int) -> bool:
        first, later = follow[j], follow[k]
        if v.nontarget[later] == _NT_PD and config.nontarget_can_define_pd:
            return True
        burden = v.burden[later]
        return burden >= 0 and is_pd(burden, v.nadir[first], config)

    responses = [v.response[a] for a in follow]
    if _PD not in responses:
        return None  # nothing to confirm
    episodes = confirm_progression(days, [RESPONSES[r] for r in responses], confirms, config)
    for i, st in enumerate(episodes.status):
        a = follow[i]
        v.pd_status[a] = st
        if st == "unconfirmed":
            skip[i] = True
            v.reasons.add(
                a,
                "not confirmed at the next assessment >= "
                f"{config.pd_confirm_min_days} days later: pseudoprogression, nadir unchanged"
            )
        elif st == PENDING:
            v.reasons.add(a, "awaiting confirmation (no later assessment decides it yet)")
        elif st == CONFIRMED and episodes.confirmed_at == i:
            j = episodes.pd_index
            if j is not None:
                first = follow[j]
                v.reasons.add(
                    a,
                    f"confirms the {label(Response.PD, config)} of {c.a_label[first]} "
                    f"against its nadir {_mm(v.nadir[first])} mm"
                )
        elif st == CONFIRMED:
            v.reasons.add(
                a,
                "confirmed at a later assessment; PD dated here"
                if i == episodes.pd_index
                else "part of the confirmed episode"
            )
    if episodes.pd_index is not None:
        score.pd_confirmed = episodes.confirmed
    return episodes.pd_index


def _mm(um: int | None) -> str:
    return "" if um is None else fmt_mm(um)


def _backdate_equivocal(c: Cohort, v: _Values, follow: list[int], pd_index: int) -> int:
    """RECIST 1.1 sections 4.3.2 / 4.4.4: an equivocal new lesion later confirmed dates PD back to the
    scan that first showed it (decisions.md 3); that earlier assessment becomes PD with the reason."""

    def statuses(a: int) -> dict[int, int]:
        start, end = c.lists.o_start[a], c.lists.o_start[a + 1]
        return dict(zip(c.o_lesion[start:end].tolist(), c.o_status[start:end].tolist(), strict=True))

    earlier = [statuses(a) for a in follow[:pd_index]]
    earliest = pd_index
    confirmed_ids = []
    for li, st in statuses(follow[pd_index]).items():
        if c.l_role[li] != NEW or st == S_EQUIVOCAL:
            continue
        for i in range(pd_index):
            if earlier[i].get(li) == S_EQUIVOCAL:
                earliest = min(earliest, i)
                confirmed_ids.append(c.l_id[li])
                break
    if earliest < pd_index:
        first = follow[earliest]
        v.response[first] = _PD
        v.reasons.add(
            first,
            f"new lesion(s) {', '.join(confirmed_ids)} first seen here as equivocal and confirmed "
            f"at {c.a_label[follow[pd_index]]}: PD dated back here (RECIST 1.1 4.3.2)"
        )
    return earliest
