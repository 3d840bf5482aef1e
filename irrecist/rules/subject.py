"""Score one subject: baseline, every assessment, irPD confirmation, BOR and the subject's dates.

decisions.md sections 2 to 5. Pure: takes a ``SubjectRecord`` and a ``CriterionConfig``, returns a
``SubjectScore``; never touches files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from irrecist.cohort import NEW, TARGET, Cohort, IntArray, from_records
from irrecist.errors import InputError
from irrecist.model import Status, SubjectRecord
from irrecist.rules.baseline import Baseline, analyse_baseline, fmt_mm
from irrecist.rules.bor import BorPoint, BorResult, best_overall_response, window
from irrecist.rules.config import CriterionConfig
from irrecist.rules.confirmation import CONFIRMED, PENDING, confirm_progression
from irrecist.rules.responses import Response, label
from irrecist.rules.timepoint import TimepointResult, is_pd, measures, score_timepoints


@dataclass
class SubjectScore:
    subject_id: str
    reader: str
    config: CriterionConfig
    baseline: Baseline
    reference_date: date
    timepoints: list[TimepointResult]
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
    (result,) = score_cohort(from_records([rec]), config, [rec])
    if isinstance(result, str):
        raise InputError(result)
    return result


def baseline_problems(c: Cohort, m: IntArray) -> list[str | None]:
    """Why each entity cannot be scored, or None: no assessment, a lesion with role 'new' at baseline, or a
    target without its measure at baseline (the first such observation in baseline order)."""
    out: list[str | None] = ["no assessment" if n == 0 else None for n in np.diff(c.a_start).tolist()]
    first = c.a_start[:-1][c.a_entity[c.o_assessment]] == c.o_assessment
    role = c.l_role[c.o_lesion]
    bad = first & ((role == NEW) | ((role == TARGET) & (m < 0)))
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


def score_cohort(
    c: Cohort, config: CriterionConfig, records: list[SubjectRecord] | None = None
) -> list[SubjectScore | str]:
    """Score every entity of a cohort: its ``SubjectScore``, or the reason it cannot be scored.
    ``records`` (entity ``i`` is ``records[i]``) saves rebuilding them from the cohort."""
    tps, _members = score_timepoints(c, config)
    problems = baseline_problems(c, measures(c, config))
    out: list[SubjectScore | str] = []
    for e in range(c.n_entities):
        problem = problems[e]
        if problem is not None:
            out.append(problem)
            continue
        rec = records[e] if records is not None else c.record(e)
        start, end = int(c.a_start[e]), int(c.a_start[e + 1])
        results = [tps.result(c, a, a == start) for a in range(start, end)]
        out.append(_score_entity(rec, config, results))
    return out


def _score_entity(rec: SubjectRecord, config: CriterionConfig, results: list[TimepointResult]) -> SubjectScore:
    """Baseline analysis, irPD confirmation, BOR and dates of one entity whose time points are scored."""
    base_a = rec.assessments[0]
    baseline = analyse_baseline(rec.lesions, base_a.observations, config)
    ref = rec.info.treatment_start_date or base_a.date
    score = SubjectScore(rec.subject_id, rec.reader, config, baseline, ref, results, BorResult(Response.MISSING))
    score.last_treatment_date = rec.info.last_treatment_date
    score.qc_flags.extend(msg for _lid, msg in baseline.qc)
    score.qc_flags.extend(msg for _lid, _tp, msg in rec.warnings)
    follow = results[1:]
    days = [(r.date - ref).days for r in follow]
    skip = [False] * len(follow)
    pd_index: int | None = None
    if config.pd_requires_confirmation:
        pd_index = _confirm(follow, days, config, skip, score)
    else:
        pd_index = next((i for i, r in enumerate(follow) if r.response is Response.PD), None)
        if pd_index is not None:
            pd_index = _backdate_equivocal(rec, follow, pd_index, config)
    score.pd_date = follow[pd_index].date if pd_index is not None else None
    points = [BorPoint(r.date, d, r.response or Response.NE, s) for r, d, s in zip(follow, days, skip, strict=True)]
    inside = window(points, config, score.pd_date, rec.info.new_therapy_date, rec.info.data_cut_date)
    has_target = bool(baseline.targets)
    bor = best_overall_response([points[i] for i in inside], config, has_target_disease=has_target)
    if not has_target and not baseline.nontargets and bor.bor in (Response.ND, Response.MISSING):
        bor.bor = Response.ND if follow else bor.bor
    if bor.index is not None:
        bor.index = inside[bor.index]
    if bor.first_response_index is not None:
        score.first_response_date = follow[inside[bor.first_response_index]].date
    if bor.bor is Response.PD and config.pd_requires_confirmation:
        bor.confirmed = bool(score.pd_confirmed)
    score.bor = bor
    score.qc_flags.extend(bor.flags)
    changes = [
        r.pct(baseline.sum_um)
        for i, r in enumerate(follow)
        if r.evaluable and (score.pd_date is None or r.date <= score.pd_date)
    ]
    known = [c for c in changes if c is not None]
    score.best_pct_change = min(known) if known else None
    if not baseline.targets:
        score.qc_flags.append("no target lesion at baseline: not response-evaluable for ORR")
    return score


def _confirm(
    follow: list[TimepointResult], days: list[int], config: CriterionConfig, skip: list[bool], score: SubjectScore
) -> int | None:
    """Run irPD confirmation (decisions.md 4) and write ``pd_status`` and reasons."""

    def confirms(j: int, k: int) -> bool:
        first, later = follow[j], follow[k]
        if later.nontarget_pd and config.nontarget_can_define_pd:
            return True
        nadir = first.nadir_um
        return later.burden_um is not None and nadir is not None and is_pd(later.burden_um, nadir, config)

    episodes = confirm_progression(days, [r.response for r in follow], confirms, config)
    for i, st in enumerate(episodes.status):
        follow[i].pd_status = st
        if st == "unconfirmed":
            skip[i] = True
            follow[i].reasons.append(
                "not confirmed at the next assessment >= "
                f"{config.pd_confirm_min_days} days later: pseudoprogression, nadir unchanged"
            )
        elif st == PENDING:
            follow[i].reasons.append("awaiting confirmation (no later assessment decides it yet)")
        elif st == CONFIRMED and episodes.confirmed_at == i:
            j = episodes.pd_index
            first = follow[j] if j is not None else None
            if first is not None:
                follow[i].reasons.append(
                    f"confirms the {label(Response.PD, config)} of {first.timepoint} "
                    f"against its nadir {_mm(first.nadir_um)} mm"
                )
        elif st == CONFIRMED:
            follow[i].reasons.append(
                "confirmed at a later assessment; PD dated here"
                if i == episodes.pd_index
                else "part of the confirmed episode"
            )
    if episodes.pd_index is not None:
        score.pd_confirmed = episodes.confirmed
    return episodes.pd_index


def _mm(um: int | None) -> str:
    return "" if um is None else fmt_mm(um)


def _backdate_equivocal(
    rec: SubjectRecord, follow: list[TimepointResult], pd_index: int, config: CriterionConfig
) -> int:
    """RECIST 1.1 sections 4.3.2 / 4.4.4: an equivocal new lesion later confirmed dates PD back to the
    scan that first showed it (decisions.md 3); that earlier assessment becomes PD with the reason."""
    pd_a = rec.assessments[1 + pd_index]
    earliest = pd_index
    confirmed_ids = []
    for lid, obs in pd_a.observations.items():
        if rec.lesions[lid].role.value != "new" or obs.status is Status.EQUIVOCAL:
            continue
        for i in range(pd_index):
            prev = rec.assessments[1 + i].observations.get(lid)
            if prev is not None and prev.status is Status.EQUIVOCAL:
                if i < earliest:
                    earliest = i
                confirmed_ids.append(lid)
                break
    if earliest < pd_index:
        first = follow[earliest]
        first.response = Response.PD
        first.reasons.append(
            f"new lesion(s) {', '.join(confirmed_ids)} first seen here as equivocal and confirmed "
            f"at {follow[pd_index].timepoint}: PD dated back here (RECIST 1.1 4.3.2)"
        )
    return earliest
