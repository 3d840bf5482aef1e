"""Score subjects: baseline, every assessment, irPD confirmation, BOR and each subject's dates.

decisions.md sections 2 to 5. ``score_cohort`` scores every subject of a ``Cohort`` at once (the timepoint
engine, irPD confirmation and BOR on arrays), then makes each subject's ``SubjectScore``; ``score_subject``
scores one ``SubjectRecord`` as a cohort of one. Pure: never touches files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from irrecist.cohort import (
    EPOCH,
    NEW,
    S_EQUIVOCAL,
    TARGET,
    BoolArray,
    Cohort,
    IntArray,
    MadeOnDemand,
    from_records,
    groups,
    offsets,
)
from irrecist.errors import InputError
from irrecist.model import SubjectRecord
from irrecist.rules.baseline import Baseline, Baselines, analyse_baselines, fmt_mm
from irrecist.rules.bor import (
    NO_DAY,
    BorPoints,
    BorResult,
    best_overall_responses,
    day_of,
    first_where,
    window_mask,
)
from irrecist.rules.config import CriterionConfig
from irrecist.rules.confirmation import PENDING, STATUS_CODE, UNCONFIRMED, PdArrays, confirm_progressions
from irrecist.rules.reasons import pct_tenths_array
from irrecist.rules.responses import NonTargetCategory, Response, label
from irrecist.rules.timepoint import (
    NONTARGET_CATEGORIES,
    RESPONSES,
    Timepoints,
    TimepointSeries,
    measures,
    pd_mask,
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


def study_days(day: IntArray, reference: IntArray) -> IntArray:
    """CDISC study days (SDTMIG --DY, ADaM ADY) of day numbers: the reference date is day 1, there is no day 0
    (``SubjectScore.study_day`` for arrays; the CDISC tables' per-subject reference rows use that one)."""
    delta = day - reference
    return np.where(delta >= 0, delta + 1, delta)


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
class SubjectArrays:
    """Per entity of a scored cohort, what its ``SubjectScore`` holds (decisions.md 2 to 5), as arrays: the
    tables and endpoints are written from these, the objects are made only when asked for. Assessments are
    positions in the cohort, -1 for none; ``confirmed`` values are 1, 0 or -1 (not applicable)."""

    problem: list[str | None]  # why the entity was not scored, or None
    bor: IntArray  # codes into RESPONSES
    bor_a: IntArray  # the assessment that gives the BOR its date
    bor_index: IntArray  # its position among the entity's follow-ups
    bor_confirmed: IntArray
    bor_flags: dict[int, list[str]]  # A-R5 and SD-duration findings of the BOR
    first_response_a: IntArray
    pd_a: IntArray
    pd_confirmed: IntArray  # -1 without a PD date or when PD needs no confirmation
    best_tenths: IntArray  # best percentage change in tenths, NO_CHANGE for none
    reference_day: IntArray  # the reference date of each entity (decisions.md 3), days since 1970-01-01
    baselines: Baselines

    def flags(self, c: Cohort, e: int) -> list[str]:
        """The QC flags of entity ``e``: baseline findings, the table's warnings, the BOR's, and ORR evaluability."""
        flags = [msg for _lid, msg in self.baselines.qc.get(e, [])]
        flags.extend(msg for _lid, _tp, msg in c.warnings[e])
        flags.extend(self.bor_flags.get(e, []))
        if not self.baselines.has_target[e]:
            flags.append(NOT_EVALUABLE)
        return flags


NOT_EVALUABLE = "no target lesion at baseline: not response-evaluable for ORR"
"""The QC flag of a subject without a baseline target (ORR's response-evaluable population, decisions.md 5)."""


@dataclass
class ScoredCohort:
    """A cohort scored under one criterion: the engine's arrays (``timepoints``, with ``pd_status`` and the
    confirmation's reasons written in), each entity's results as arrays (``subjects``), and per entity its
    ``SubjectScore`` or the reason it was not scored (``results``, made when asked for)."""

    config: CriterionConfig
    cohort: Cohort
    timepoints: Timepoints
    subjects: SubjectArrays

    def score(self, e: int) -> SubjectScore | str:
        """Entity ``e``'s ``SubjectScore``, or why it was not scored."""
        s, c, config = self.subjects, self.cohort, self.config
        problem = s.problem[e]
        if problem is not None:
            return problem
        a_date = c.a_date
        i, first, pd_a = int(s.bor_a[e]), int(s.first_response_a[e]), int(s.pd_a[e])
        confirmed, pd_confirmed = int(s.bor_confirmed[e]), int(s.pd_confirmed[e])
        result = BorResult(
            RESPONSES[s.bor[e]],
            a_date[i] if i >= 0 else None,
            int(s.bor_index[e]) if i >= 0 else None,
            None if confirmed < 0 else bool(confirmed),
            None,
            s.bor_flags.get(e, []),
        )
        best = int(s.best_tenths[e])
        return SubjectScore(
            c.subject_id[e], c.reader[e], config, s.baselines[e], EPOCH + timedelta(days=int(s.reference_day[e])),
            TimepointSeries(c, self.timepoints, int(c.a_start[e]), int(c.a_start[e + 1])), result,
            pd_date=a_date[pd_a] if pd_a >= 0 else None,
            pd_confirmed=None if pd_confirmed < 0 else bool(pd_confirmed),
            first_response_date=a_date[first] if first >= 0 else None,
            best_pct_change=None if best == NO_CHANGE else Decimal(best).scaleb(-1),
            qc_flags=s.flags(c, e),
            last_treatment_date=c.info[e].last_treatment_date,
        )  # fmt: skip

    @property
    def results(self) -> MadeOnDemand[SubjectScore | str]:
        return MadeOnDemand(self.score, range(self.cohort.n_entities))

    def scores(self) -> Scores:
        """The scored entities' ``SubjectScore``s, in entity order."""
        return Scores(self, np.flatnonzero(np.array([p is None for p in self.subjects.problem], dtype=bool)))


class Scores(MadeOnDemand[SubjectScore]):
    """The ``SubjectScore``s of entities ``kept`` of a scored cohort, made when asked for: the run's tables
    read ``scored.subjects`` at ``kept`` instead."""

    __slots__ = ("scored", "kept")

    def __init__(self, scored: ScoredCohort, kept: IntArray) -> None:
        super().__init__(self._score, kept)
        self.scored, self.kept = scored, kept

    def _score(self, e: int) -> SubjectScore:
        score = self.scored.score(int(e))
        assert not isinstance(score, str), score
        return score

    def subset(self, keep: Sequence[int]) -> Scores:
        """The scores at positions ``keep``."""
        return Scores(self.scored, self.kept[np.asarray(keep, dtype=np.int64)])


def score_cohort(c: Cohort, config: CriterionConfig) -> ScoredCohort:
    """Score every entity of a cohort (decisions.md 2 to 5): the timepoint engine, irPD confirmation and BOR
    for all at once, as arrays."""
    m = measures(c, config)
    tps, members = score_timepoints(c, config, m)
    problems = baseline_problems(c, m)
    baselines = analyse_baselines(c, members.sum_um, config)
    f = _FollowUps(c, problems)
    if config.pd_requires_confirmation:
        episodes = _confirm(c, tps, f, config)
        skip, pd_pos = episodes.status == _UNCONFIRMED, episodes.pd_index
        pd_confirmed = np.where(pd_pos >= 0, episodes.confirmed, -1)
    else:
        skip, pd_pos = np.zeros(len(f.a), dtype=bool), first_where(tps.response[f.a] == _PD, f.start)
        pd_pos = _backdate_equivocal(c, tps, f, pd_pos)
        pd_confirmed = np.full(c.n_entities, -1, dtype=np.int64)
    pd_a = _at(f.a, pd_pos)
    pd_day = _at(c.a_day, pd_a, NO_DAY)
    points = BorPoints(f.start, tps.response[f.a], f.days, np.ones(len(f.a), dtype=bool), c.a_day[f.a], skip)
    inside, where = points.subset(window_mask(points, config, pd_day, f.new_therapy_day, f.data_cut_day))
    inside_a = f.a[where]
    bor = best_overall_responses(inside, config, baselines.has_target, [c.a_date[a] for a in inside_a.tolist()])
    codes = bor.bor.copy()
    # no baseline lesion at all: ND once followed up (decisions.md 3)
    empty = ~baselines.has_target & ~baselines.has_nontarget & np.isin(codes, (_ND, _MISSING))
    codes[empty] = np.where(np.diff(c.a_start)[empty] > 1, _ND, codes[empty])
    confirmed = bor.confirmed.copy()
    if config.pd_requires_confirmation:  # a PD BOR is confirmed when its irPD is (decisions.md 4)
        confirmed[codes == _PD] = (pd_confirmed[codes == _PD] == 1).astype(np.int64)
    bor_a = _at(inside_a, bor.index)
    subjects = SubjectArrays(
        problems, codes, bor_a, np.where(bor_a >= 0, _at(where, bor.index) - f.start[:-1], -1), confirmed,
        bor.flags, _at(inside_a, bor.first_response), pd_a, pd_confirmed,
        _best_changes(c, tps, members.sum_um, pd_day), f.reference_day, baselines,
    )  # fmt: skip
    return ScoredCohort(config, c, tps, subjects)


def _at(values: IntArray, index: IntArray, missing: int = -1) -> IntArray:
    """``values[index]`` where ``index >= 0``, else ``missing``."""
    if not len(values):
        return np.full(len(index), missing, dtype=np.int64)
    return np.where(index >= 0, values[np.maximum(index, 0)], missing)


class _FollowUps:
    """The follow-up assessments (all but the baseline) of the entities that can be scored, as BOR points:
    ``a`` their assessments, ``start`` offsets per entity, ``days`` since each entity's reference date
    (treatment start if given, else the baseline scan: decisions.md 3)."""

    def __init__(self, c: Cohort, problems: list[str | None]) -> None:
        ok = np.array([p is None for p in problems], dtype=bool)
        self.a = np.flatnonzero((c.a_index() > 0) & ok[c.a_entity])
        self.start = offsets(c.a_entity[self.a], c.n_entities)
        x = c.lists
        reference = [
            info.treatment_start_date or (c.a_date[x.a_start[e]] if x.a_start[e] < x.a_start[e + 1] else EPOCH)
            for e, info in enumerate(c.info)
        ]
        self.reference_day = np.array([day_of(d) for d in reference], dtype=np.int64)
        self.days = c.a_day[self.a] - self.reference_day[c.a_entity[self.a]]
        self.new_therapy_day = np.array([day_of(i.new_therapy_date) for i in c.info], dtype=np.int64)
        self.data_cut_day = np.array([day_of(i.data_cut_date) for i in c.info], dtype=np.int64)


NO_CHANGE = np.iinfo(np.int64).max
"""``SubjectArrays.best_tenths`` of an entity without a best change."""


def _best_changes(c: Cohort, tps: Timepoints, base_um: IntArray, pd_day: IntArray) -> IntArray:
    """Each entity's best percentage change of the burden from baseline: the lowest over its evaluable
    follow-ups up to the PD date (``pd_day``, ``NO_DAY`` for none; none without a baseline sum), in tenths
    rounded as ``pct_tenths``; ``NO_CHANGE`` for none."""
    n_e = c.n_entities
    best = np.full(n_e, NO_CHANGE, dtype=np.int64)
    if not n_e or not len(c.a_entity):
        return best
    a_e = c.a_entity
    base = base_um[a_e]
    counted = tps.evaluable & (c.a_index() > 0) & (base > 0) & (c.a_day <= pd_day[a_e])
    tenths = np.where(counted, pct_tenths_array(np.maximum(tps.burden, 0), base), NO_CHANGE)
    starts = c.a_start[:-1]
    has = np.diff(c.a_start) > 0
    best[has] = np.minimum.reduceat(tenths, starts[has])
    return best


_PD = RESPONSES.index(Response.PD)
_ND, _MISSING = RESPONSES.index(Response.ND), RESPONSES.index(Response.MISSING)
_NT_PD = NONTARGET_CATEGORIES.index(NonTargetCategory.PD)
_UNCONFIRMED, _PENDING = STATUS_CODE[UNCONFIRMED], STATUS_CODE[PENDING]


def _confirm(c: Cohort, tps: Timepoints, f: _FollowUps, config: CriterionConfig) -> PdArrays:
    """Run irPD confirmation (decisions.md 4) for every entity and write ``pd_status`` and its reasons."""

    def confirms(j: IntArray, k: IntArray) -> BoolArray:
        first, later = f.a[j], f.a[k]
        burden = tps.burden[later]
        nt_pd = (tps.nontarget[later] == _NT_PD) & config.nontarget_can_define_pd
        return np.asarray(nt_pd | ((burden >= 0) & pd_mask(np.maximum(burden, 0), tps.nadir[first], config)))

    got = confirm_progressions(f.start, f.days, tps.response[f.a], confirms, config)
    pd_word = label(Response.PD, config)
    entity = groups(f.start)
    pd_index, confirmed_at = got.pd_index.tolist(), got.confirmed_at.tolist()
    marked = np.flatnonzero(got.status)
    tps.pd_status[f.a[marked]] = got.status[marked]
    for pt, st in zip(marked.tolist(), got.status[marked].tolist(), strict=True):
        a, e = int(f.a[pt]), int(entity[pt])
        if st == _UNCONFIRMED:
            tps.reasons.add(
                a,
                "not confirmed at the next assessment >= "
                f"{config.pd_confirm_min_days} days later: pseudoprogression, nadir unchanged",
            )
        elif st == _PENDING:
            tps.reasons.add(a, "awaiting confirmation (no later assessment decides it yet)")
        elif confirmed_at[e] == pt:
            first = int(f.a[pd_index[e]])
            tps.reasons.add(
                a, f"confirms the {pd_word} of {c.a_label[first]} against its nadir {fmt_mm(int(tps.nadir[first]))} mm"
            )
        else:
            tps.reasons.add(
                a,
                "confirmed at a later assessment; PD dated here"
                if pt == pd_index[e]
                else "part of the confirmed episode",
            )
    return got


def _backdate_equivocal(c: Cohort, tps: Timepoints, f: _FollowUps, pd_pos: IntArray) -> IntArray:
    """RECIST 1.1 sections 4.3.2 / 4.4.4: an equivocal new lesion later confirmed dates PD back to the
    scan that first showed it (decisions.md 3); that earlier assessment becomes PD with the reason. Only
    entities with a PD and an equivocal new lesion are walked."""
    equivocal_o = (c.o_status == S_EQUIVOCAL) & (c.l_role[c.o_lesion] == NEW)
    has_equivocal = np.bincount(c.a_entity[c.o_assessment[equivocal_o]], minlength=c.n_entities) > 0
    out = pd_pos.copy()
    x = c.lists

    def statuses(a: int) -> dict[int, int]:
        start, end = x.o_start[a], x.o_start[a + 1]
        return dict(zip(c.o_lesion[start:end].tolist(), c.o_status[start:end].tolist(), strict=True))

    for e in np.flatnonzero(has_equivocal & (pd_pos >= 0)).tolist():
        follow = f.a[f.start[e] : f.start[e + 1]].tolist()
        pd_index = int(pd_pos[e] - f.start[e])
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
            tps.response[first] = _PD
            tps.reasons.add(
                first,
                f"new lesion(s) {', '.join(confirmed_ids)} first seen here as equivocal and confirmed "
                f"at {c.a_label[follow[pd_index]]}: PD dated back here (RECIST 1.1 4.3.2)",
            )
            out[e] = f.start[e] + earliest
    return out
