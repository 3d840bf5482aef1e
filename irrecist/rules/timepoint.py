"""The one timepoint engine: sums, TMTB, nadir, target / non-target / new-lesion categories, overall
response and a checkable reason at every assessment of every subject of a cohort, in one pass.

RECIST 1.1 (decisions.md section 3) and irRECIST (section 4) differ only by options of
``CriterionConfig``: new measurable lesions enter the burden (``new_lesions_in_burden``) or define PD
(``new_lesions_define_pd``). Confirmation of irPD is a later pass (``confirmation.py``).

The engine works on arrays (``irrecist.cohort.Cohort``): per-lesion measures, per-assessment sums and
categories are column operations; the state that runs from one assessment to the next (nadir, PR
persistence, the last overall response) advances one assessment index at a time for all subjects at once.
New lesions, their admission to TMTB in order of appearance within the caps included, are column operations
too (``_new_lesions``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irrecist.cohort import (
    NEW,
    NONE,
    NONTARGET,
    S_ABSENT,
    S_EQUIVOCAL,
    S_MERGED,
    S_NOT_EVALUATED,
    S_PRESENT,
    S_TOO_SMALL,
    S_UNEQUIVOCAL,
    TARGET,
    BoolArray,
    Cohort,
    IntArray,
)
from irrecist.rules.baseline import target_measurable_mask
from irrecist.rules.config import CriterionConfig, mm_to_um
from irrecist.rules.confirmation import STATUSES
from irrecist.rules.reasons import Reasons, concat, mm_text, pct_tenths_array, tenths_text, texts_at, words
from irrecist.rules.responses import (
    RESPONSES,
    NonTargetCategory,
    Response,
    TargetCategory,
    overall_response,
    response_words,
)
from irrecist.threads import side_by_side

TARGET_CATEGORIES: tuple[TargetCategory, ...] = tuple(TargetCategory)
NONTARGET_CATEGORIES: tuple[NonTargetCategory, ...] = tuple(NonTargetCategory)
NEW_LESION_WORDS: tuple[str, ...] = ("no", "yes", "equivocal")
"""New lesions at an assessment (``Timepoints.new_lesions`` codes): none, one there, only equivocal ones."""
_T = {c: i for i, c in enumerate(TARGET_CATEGORIES)}
_NT = {c: i for i, c in enumerate(NONTARGET_CATEGORIES)}
_R = {r: i for i, r in enumerate(RESPONSES)}
_NEVER = np.iinfo(np.int64).max
"""Admission index of a lesion never admitted to TMTB."""


@dataclass
class TimepointResult:
    """One assessment's numbers and calls; lengths in micrometres."""

    timepoint: str
    date: date
    is_baseline: bool
    target_sum_um: int | None = None
    new_um: int | None = None
    burden_um: int | None = None  # SOD (RECIST 1.1) or TMTB (irRECIST); partial only when it proves PD
    baseline_um: int = 0
    nadir_um: int | None = None
    nadir_label: str = ""
    target: TargetCategory | None = None
    nontarget: NonTargetCategory | None = None
    new_lesions: str = ""  # "yes", "no", "equivocal"
    response: Response | None = None
    pd_status: str = ""
    evaluable: bool = False  # burden fully evaluated: may set the nadir
    nontarget_pd: bool = False
    reasons: list[str] = field(default_factory=list)
    admitted: list[str] = field(default_factory=list)


def pct_tenths(value_um: int, reference_um: int) -> int:
    """(value - reference) / reference in tenths of a percent, rounded half away from zero, exactly."""
    num = (value_um - reference_um) * 1000
    q, rem = divmod(abs(num), reference_um)
    if 2 * rem >= reference_um:
        q += 1
    return q if num >= 0 else -q


def _pd_terms(config: CriterionConfig) -> tuple[int, int, int]:
    """RECIST 1.1 section 4.3.1 as integers: PD when burden x ``b`` >= nadir x ``n`` (>= +pd_min_increase_pct %,
    the percentage as an exact fraction) and burden - nadir >= ``mm`` micrometres (pd_min_increase_mm)."""
    pct = Fraction(config.pd_min_increase_pct)
    return 100 * pct.denominator, 100 * pct.denominator + pct.numerator, mm_to_um(config.pd_min_increase_mm)


def is_pd(burden_um: int, nadir_um: int, config: CriterionConfig) -> bool:
    """RECIST 1.1 section 4.3.1: >= +20 % over the nadir and >= +5 mm; inclusive, exact."""
    b, n, mm = _pd_terms(config)
    return burden_um * b >= nadir_um * n and burden_um - nadir_um >= mm


def _times_ge(x: IntArray, x_mul: int, y: IntArray, y_mul: int) -> BoolArray:
    """``x * x_mul >= y * y_mul`` elementwise and exactly: int64 when the products cannot overflow, else
    Python integers."""
    bound = max(int(np.abs(x).max(initial=0)) * abs(x_mul), int(np.abs(y).max(initial=0)) * abs(y_mul))
    if bound < 2**62:
        return np.asarray(x * x_mul >= y * y_mul)
    return np.asarray(x.astype(object) * x_mul >= y.astype(object) * y_mul, dtype=bool)


def pd_mask(burden: IntArray, nadir: IntArray, config: CriterionConfig) -> BoolArray:
    """``is_pd`` for arrays: RECIST 1.1 section 4.3.1, >= +``pd_min_increase_pct`` % over the nadir and
    >= +``pd_min_increase_mm``; inclusive, exact (the percentage as a fraction)."""
    b, n, mm = _pd_terms(config)
    return _times_ge(burden, b, nadir, n) & (burden - nadir >= mm)


def pr_mask(burden: IntArray, baseline: IntArray, config: CriterionConfig) -> BoolArray:
    """RECIST 1.1 section 4.3.1: at least ``pr_min_decrease_pct`` % below the baseline sum; inclusive, exact."""
    pct = Fraction(config.pr_min_decrease_pct)
    return _times_ge(baseline, 100 * pct.denominator - pct.numerator, burden, 100 * pct.denominator)


def measures(c: Cohort, config: CriterionConfig) -> IntArray:
    """``lesion_measure_um`` of every observation (decisions.md 1 and 3): LD, or SA for a node; 0 when absent
    or merged; ``too_small_mm`` when too small to measure and unmeasured; -1 when not evaluated."""
    nodal = c.l_nodal[c.o_lesion]
    m = np.where(nodal, c.o_short, c.o_long)
    st = c.o_status
    m = np.where((st == S_TOO_SMALL) & (m < 0), mm_to_um(config.too_small_mm), m)
    m = np.where((st == S_ABSENT) | (st == S_MERGED), 0, m)
    return np.where(st == S_NOT_EVALUATED, NONE, m)


def _count(index: IntArray, n: int) -> IntArray:
    return np.bincount(index, minlength=n).astype(np.int64)


def _sum(index: IntArray, values: IntArray, n: int) -> IntArray:
    """Integer sums by group; exact (float64 holds every sum below 2**53 micrometres)."""
    return np.rint(np.bincount(index, weights=values, minlength=n)).astype(np.int64)


@dataclass
class BaselineMembers:
    """Which lesions each entity's baseline makes targets and non-targets (decisions.md 2)."""

    is_target: BoolArray  # per lesion
    is_nontarget: BoolArray  # per lesion
    rank: IntArray  # per lesion: position in its entity's baseline (orders the lesion lists of reasons)
    n_targets: IntArray  # per entity
    n_nontargets: IntArray  # per entity
    sum_um: IntArray  # per entity: the baseline sum of the targets


def baseline_members(c: Cohort, m: IntArray) -> BaselineMembers:
    n_e, n_l = c.n_entities, len(c.l_id)
    first = c.o_at_baseline
    role = c.l_role[c.o_lesion]
    is_target = np.zeros(n_l, dtype=bool)
    is_nontarget = np.zeros(n_l, dtype=bool)
    is_target[c.o_lesion[first & (role == TARGET)]] = True
    is_nontarget[c.o_lesion[first & (role == NONTARGET)]] = True
    rank = np.full(n_l, _NEVER, dtype=np.int64)
    base_o = np.flatnonzero(first)
    rank[c.o_lesion[base_o]] = base_o
    ent_o = c.a_entity[c.o_assessment]
    t_o = first & (role == TARGET)
    return BaselineMembers(
        is_target,
        is_nontarget,
        rank,
        _count(ent_o[t_o], n_e),
        _count(ent_o[first & (role == NONTARGET)], n_e),
        _sum(ent_o[t_o], np.maximum(m[t_o], 0), n_e),
    )


@dataclass
class Timepoints:
    """Every assessment of a cohort as the engine called it (indexed like ``Cohort.a_*``); lengths in
    micrometres, ``-1`` for none; categories and responses as indices into ``TARGET_CATEGORIES``,
    ``NONTARGET_CATEGORIES`` and ``RESPONSES`` (``-1`` at baselines)."""

    target_sum: IntArray
    new: IntArray
    burden: IntArray
    baseline: IntArray
    nadir: IntArray
    nadir_at: IntArray  # the assessment that set the nadir (the baseline's own index for the baseline sum)
    target: IntArray
    nontarget: IntArray
    new_lesions: IntArray  # index into ``NEW_LESION_WORDS`` ("no" at baselines)
    response: IntArray
    evaluable: BoolArray
    reasons: Reasons
    admitted: dict[int, list[str]]  # new lesions admitted to TMTB, per assessment where any were
    pd_status: IntArray  # ``confirmation.STATUSES`` codes, written by the confirmation pass (``subject._confirm``)

    def results(self, c: Cohort, start: int, end: int) -> list[TimepointResult]:
        """Assessments ``start`` to ``end - 1`` of one entity (``start`` is its baseline) as objects."""
        r = slice(start, end)
        tsum, new, burden, base, nadir, nadir_at, target, nontarget, response, evaluable, new_lesions = (
            arr[r].tolist()
            for arr in (self.target_sum, self.new, self.burden, self.baseline, self.nadir, self.nadir_at,
                        self.target, self.nontarget, self.response, self.evaluable, self.new_lesions)
        )  # fmt: skip

        def um(x: int) -> int | None:
            return None if x < 0 else x

        out = [
            TimepointResult(
                c.a_label[start], c.a_date[start], True, um(tsum[0]), um(new[0]), um(burden[0]), base[0], None, "",
                None, None, "no", None, "", True, False, self.reasons.of(start), [],
            )
        ]  # fmt: skip
        for i in range(1, end - start):
            a = start + i
            nt = NONTARGET_CATEGORIES[nontarget[i]]
            out.append(
                TimepointResult(
                    c.a_label[a], c.a_date[a], False, um(tsum[i]), um(new[i]), um(burden[i]), base[i], nadir[i],
                    "baseline" if nadir_at[i] == start else c.a_label[nadir_at[i]], TARGET_CATEGORIES[target[i]],
                    nt, NEW_LESION_WORDS[new_lesions[i]], RESPONSES[response[i]], STATUSES[self.pd_status[a]],
                    evaluable[i], nt is NonTargetCategory.PD, self.reasons.of(a), self.admitted.get(a, []),
                )
            )  # fmt: skip
        return out


class TimepointSeries(Sequence[TimepointResult]):
    """One entity's assessments as ``TimepointResult`` objects, made on first use (the tables are written from
    the arrays; objects are for the API, CDISC and verification)."""

    def __init__(self, c: Cohort, tps: Timepoints, start: int, end: int) -> None:
        self._c, self._tps, self._start, self._end = c, tps, start, end
        self._items: list[TimepointResult] | None = None

    @property
    def source(self) -> tuple[Cohort, Timepoints, int, int]:
        """The cohort, the engine's arrays and this entity's assessment range ``[start, end)`` in them."""
        return self._c, self._tps, self._start, self._end

    def _all(self) -> list[TimepointResult]:
        if self._items is None:
            self._items = self._tps.results(self._c, self._start, self._end)
        return self._items

    def __len__(self) -> int:
        return self._end - self._start

    @overload
    def __getitem__(self, i: int) -> TimepointResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[TimepointResult]: ...
    def __getitem__(self, i: int | slice) -> TimepointResult | list[TimepointResult]:
        return self._all()[i]

    def __iter__(self) -> Iterator[TimepointResult]:
        return iter(self._all())

    def __repr__(self) -> str:
        return repr(self._all())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass
class _NewLesions:
    """What the new lesions of each assessment do (decisions.md 4; RECIST 1.1 4.3.2)."""

    admit_k: IntArray  # per lesion: the assessment index (within its entity) that admitted it to TMTB
    admit_order: IntArray  # per lesion: its place in the order of admission
    present: BoolArray  # per assessment: a new lesion outside the burden is there
    equivocal: BoolArray  # per assessment
    reasons: dict[int, list[str]]  # per assessment with something to say
    admitted: dict[int, list[str]]  # per assessment: lesions admitted there


def new_counts_mask(
    status: IntArray, nodal: BoolArray, long_um: IntArray, short_um: IntArray, config: CriterionConfig
) -> BoolArray:
    """Which new-lesion observations are there (-1 = not recorded): present, too small or progressing; not
    when measured 0 on its axis (LD, SA for a node); a node with a recorded SA only when SA >=
    ``node_pathological_min_sa_mm`` (RECIST 1.1 4.3.2, FAQ 'new lymph node lesions')."""
    there = (status == S_PRESENT) | (status == S_TOO_SMALL) | (status == S_UNEQUIVOCAL)
    gone = (status == S_PRESENT) & (np.where(nodal, short_um, long_um) == 0)
    normal = nodal & (short_um >= 0) & (short_um < mm_to_um(config.node_pathological_min_sa_mm))
    return np.asarray(there & ~gone & ~normal)


def _first_of(lesion: IntArray, mask: BoolArray) -> tuple[IntArray, IntArray]:
    """The lesions where ``mask`` holds and, for each, the position of its first such observation (observations
    in assessment order)."""
    at = np.flatnonzero(mask)
    lesions, first = np.unique(lesion[at], return_index=True)
    return lesions, at[first]


def _codes(values: list[str]) -> IntArray:
    """Each text's rank among the distinct ``values`` in Python's string order."""
    rank = {v: i for i, v in enumerate(sorted(set(values)))}
    return np.asarray([rank[v] for v in values], dtype=np.int64)


def _rank_in_group(group: IntArray) -> IntArray:
    """Each element's position among the earlier elements of its group (groups are any integers)."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    pos = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    out = np.empty(len(g), dtype=np.int64)
    out[order] = pos
    return out


def _id_lists(c: Cohort, a: IntArray, lesion: IntArray, rank: IntArray) -> dict[int, str]:
    """The lesion ids of observations (at assessments ``a``, of lesions ``lesion``) joined by ", " per assessment,
    ordered by ``rank`` (one per observation) within each."""
    if not len(a):
        return {}
    order = np.lexsort((rank, a))
    a, ids = a[order], [c.l_id[li] for li in lesion[order].tolist()]
    cut = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]).tolist() + [len(a)]
    keys = a[cut[:-1]].tolist()
    return {k: ", ".join(ids[s:e]) for k, s, e in zip(keys, cut[:-1], cut[1:], strict=True)}


def _new_lesions(c: Cohort, config: CriterionConfig, members: BaselineMembers) -> _NewLesions:
    """New lesions on arrays. RECIST 1.1: any unequivocal one counts (section 4.3.2). irRECIST (decisions.md
    4): measurable ones are admitted to TMTB in order of first appearance (ties: larger first, then lesion id)
    within ``max_new_in_tmtb`` and ``max_new_in_tmtb_per_organ``; the others only preclude irCR while present.
    The caps never free up, so a lesion is admitted at the first assessment where it is measurable or never."""
    n_a, n_l = len(c.a_date), len(c.l_id)
    out = _NewLesions(
        np.full(n_l, _NEVER, dtype=np.int64), np.full(n_l, _NEVER, dtype=np.int64),
        np.zeros(n_a, bool), np.zeros(n_a, bool), {}, {},
    )  # fmt: skip
    new_o = np.flatnonzero(c.l_role[c.o_lesion] == NEW)
    if not len(new_o):
        return out
    a_o, l_o, st = c.o_assessment[new_o], c.o_lesion[new_o], c.o_status[new_o]
    nodal = c.l_nodal[l_o]
    long_, short = c.o_long[new_o], c.o_short[new_o]
    counts = new_counts_mask(st, nodal, long_, short, config)
    equivocal = st == S_EQUIVOCAL
    admit_a = np.full(n_l, _NEVER, dtype=np.int64)  # per lesion: the assessment that admitted it
    newly: dict[int, list[str]] = {}
    if config.new_lesions_in_burden:
        measurable = target_measurable_mask(nodal, long_, short, c.o_slice[new_o], config)
        cand_l, cand = _first_of(l_o, counts & measurable)
        if len(cand):
            seen_l, seen = _first_of(l_o, counts)
            first_day = np.zeros(n_l, dtype=np.int64)
            first_day[seen_l] = c.a_day[a_o[seen]]
            cand_a = a_o[cand]
            value = np.where(nodal, short, long_)[cand]  # recorded: the lesion is measurable there
            ids = _codes([c.l_id[li] for li in cand_l.tolist()])
            order = np.lexsort((ids, -value, first_day[cand_l], cand_a))
            cand_l, cand_a = cand_l[order], cand_a[order]
            ent = c.l_entity[cand_l]
            organ = _codes([c.l_organ_key[li] for li in cand_l.tolist()])
            within_organ = _rank_in_group(ent * (int(organ.max()) + 1) + organ) < config.max_new_in_tmtb_per_organ
            ok = np.flatnonzero(within_organ)
            in_subject = _rank_in_group(ent[ok])  # place among the subject's admissions
            within = in_subject < config.max_new_in_tmtb
            ok, order_in_subject = ok[within], in_subject[within]
            adm_l, adm_a = cand_l[ok], cand_a[ok]
            admit_a[adm_l] = adm_a
            out.admit_k[adm_l] = c.a_index()[adm_a]
            out.admit_order[adm_l] = order_in_subject + 1
            for a, lid in zip(adm_a.tolist(), [c.l_id[li] for li in adm_l.tolist()], strict=True):
                newly.setdefault(a, []).append(lid)
    rank = np.full(n_l, _NEVER, dtype=np.int64)
    new_l = np.unique(l_o)
    rank[new_l] = _codes([c.l_id[li] for li in new_l.tolist()])
    present = counts & (admit_a[l_o] > a_o)
    out.present[a_o[present]] = True
    out.equivocal[a_o[equivocal]] = True
    there = _id_lists(c, a_o[present], l_o[present], rank[l_o[present]])
    unsure = _id_lists(c, a_o[equivocal], l_o[equivocal], rank[l_o[equivocal]])
    there_then = ": PD (RECIST 1.1 4.3.2)" if config.new_lesions_define_pd else " outside TMTB: no irCR while present"
    for a in sorted(newly.keys() | there.keys() | unsure.keys()):
        reasons = []
        if a in newly:
            out.admitted[a] = newly[a]
            reasons.append(f"new measurable lesion(s) {', '.join(newly[a])} added to TMTB")
        if a in there:
            reasons.append(f"new lesion(s) {there[a]}{there_then}")
        if a in unsure:
            reasons.append(f"equivocal new lesion(s) {unsure[a]}: not PD unless confirmed")
        out.reasons[a] = reasons
    return out


def _response_table(config: CriterionConfig) -> IntArray:
    """``overall_response`` for every (target, non-target, new lesion) combination, as response indices."""
    table = np.zeros((len(TARGET_CATEGORIES), len(NONTARGET_CATEGORIES), 2), dtype=np.int64)
    for t, tc in enumerate(TARGET_CATEGORIES):
        for n, nc in enumerate(NONTARGET_CATEGORIES):
            for new in (0, 1):
                table[t, n, new] = _R[overall_response(tc, nc, bool(new), config)]
    return table


def score_timepoints(
    c: Cohort, config: CriterionConfig, m: IntArray | None = None
) -> tuple[Timepoints, BaselineMembers]:
    """Walk every entity's assessments in date order (decisions.md 3 and 4). The baseline must be valid
    (no new lesion, every target measured: ``subject.baseline_problems``); entities that are not are scored
    too, and their results are to be ignored. ``m``: the ``measures`` when the caller has them already."""
    n_a, n_e = len(c.a_date), c.n_entities
    if m is None:
        m = measures(c, config)
    mem = baseline_members(c, m)
    new = _new_lesions(c, config, mem)
    o_a, o_l = c.o_assessment, c.o_lesion
    a_e = c.a_entity
    a_k = c.a_index()
    normal = mm_to_um(config.node_pathological_min_sa_mm)
    nodal_o = c.l_nodal[o_l]
    # burden members: the targets, and from their admission on, admitted new lesions
    admitted_o = new.admit_k[o_l] <= a_k[o_a]
    target_o = mem.is_target[o_l]
    member_o = target_o | admitted_o
    # admitted new lesions counted from their admission to the entity's last assessment (+1 / -1, summed)
    adm = np.flatnonzero(new.admit_k != _NEVER)
    adm_e = c.l_entity[adm]
    start, end = c.a_start[adm_e] + new.admit_k[adm], c.a_start[adm_e + 1]
    start, end = start[start < end], end[start < end]
    n_admitted = np.cumsum(np.bincount(start, minlength=n_a + 1) - np.bincount(end, minlength=n_a + 1))[:n_a]
    n_members = mem.n_targets[a_e] + n_admitted
    measured = member_o & (m >= 0)
    total = _sum(o_a[measured], m[measured], n_a)
    tsum = _sum(o_a[measured & target_o], m[measured & target_o], n_a)
    missing = n_members - _count(o_a[measured], n_a)
    not_cr = measured & np.where(nodal_o, m >= normal, m > 0)
    all_cr = (missing == 0) & (_count(o_a[not_cr], n_a) == 0)
    admitted_present = _count(o_a[admitted_o & (m > 0)], n_a) > 0
    # non-targets (RECIST 1.1 section 4.3.3)
    nt_o = mem.is_nontarget[o_l]
    st = c.o_status
    nt_ne_o = nt_o & (st == S_NOT_EVALUATED)
    nt_pd_o = nt_o & (st == S_UNEQUIVOCAL)
    gone = (st == S_ABSENT) | (st == S_MERGED) | (nodal_o & (c.o_short >= 0) & (c.o_short < normal))
    nt_present_o = nt_o & ~nt_ne_o & ~nt_pd_o & ~gone
    n_nt = mem.n_nontargets[a_e]
    nt_ne = n_nt - _count(o_a[nt_o & ~nt_ne_o], n_a)
    nt_pd = _count(o_a[nt_pd_o], n_a)
    ntcat = np.where(
        n_nt == 0,
        _NT[NonTargetCategory.NONE],
        np.where(
            nt_pd > 0,
            _NT[NonTargetCategory.PD],
            np.where(
                nt_ne > 0,
                _NT[NonTargetCategory.NE],
                np.where(_count(o_a[nt_present_o], n_a) > 0, _NT[NonTargetCategory.NN], _NT[NonTargetCategory.CR]),
            ),
        ),
    )
    new_present = new.present
    table = _response_table(config)
    out = Timepoints(
        target_sum=np.full(n_a, NONE, dtype=np.int64),
        new=np.full(n_a, NONE, dtype=np.int64),
        burden=np.full(n_a, NONE, dtype=np.int64),
        baseline=mem.sum_um[a_e],
        nadir=np.full(n_a, NONE, dtype=np.int64),
        nadir_at=np.full(n_a, NONE, dtype=np.int64),
        target=np.full(n_a, NONE, dtype=np.int64),
        nontarget=np.where(a_k == 0, NONE, ntcat),
        new_lesions=np.zeros(n_a, dtype=np.int64),
        response=np.full(n_a, NONE, dtype=np.int64),
        evaluable=np.zeros(n_a, dtype=bool),
        reasons=Reasons([], {}, []),
        admitted=new.admitted,
        pd_status=np.zeros(n_a, dtype=np.int64),
    )
    base_a = c.a_start[:-1][np.diff(c.a_start) > 0]
    out.target_sum[base_a] = mem.sum_um[a_e[base_a]]
    out.new[base_a] = 0
    out.burden[base_a] = mem.sum_um[a_e[base_a]]
    out.evaluable[base_a] = True
    # the sequential state, one assessment index at a time for every entity
    counts = np.diff(c.a_start)
    nadir_e = mem.sum_um.copy()
    nadir_at_e = c.a_start[:-1].copy()
    since_pd = np.zeros(n_e, dtype=bool)  # a target PR/CR since the last PD (PR persists, A-R1)
    last_cr = np.zeros(n_e, dtype=bool)  # the last overall response other than NE was CR
    persisted = np.zeros(n_a, dtype=bool)
    reappeared_pd = np.zeros(n_a, dtype=bool)
    t_idx = {k: np.int64(v) for k, v in _T.items()}
    for k in range(1, int(counts.max(initial=0))):
        ents = np.flatnonzero(counts > k)
        a = c.a_start[ents] + k
        nadir = nadir_e[ents]
        out.nadir[a], out.nadir_at[a] = nadir, nadir_at_e[ents]
        tot, base = total[a], mem.sum_um[ents]
        pd = pd_mask(tot, nadir, config)
        none = n_members[a] == 0
        partial = ~none & (missing[a] > 0)
        full = ~none & ~partial
        pr = pr_mask(tot, base, config)
        cr = all_cr[a]
        persist = full & ~pd & ~cr & ~pr & config.pr_persists & since_pd[ents]
        cat = np.select(
            [none, partial & pd, partial, pd, cr, pr | persist],
            [t_idx[TargetCategory.NONE], t_idx[TargetCategory.PD], t_idx[TargetCategory.NE],
             t_idx[TargetCategory.PD], t_idx[TargetCategory.CR], t_idx[TargetCategory.PR]],
            t_idx[TargetCategory.SD],
        )  # fmt: skip
        has_burden = full | (partial & pd)
        out.burden[a] = np.where(has_burden, tot, NONE)
        out.target_sum[a] = np.where(has_burden, tsum[a], NONE)
        out.new[a] = np.where(has_burden, tot - tsum[a], NONE)
        out.evaluable[a] = full
        out.target[a] = cat
        persisted[a] = persist
        nt = ntcat[a]
        resp = table[cat, nt, new_present[a].astype(np.int64)]
        if config.reappearance_after_cr_is_pd:
            back = (
                last_cr[ents]
                & (
                    (cat == t_idx[TargetCategory.PR])
                    | (cat == t_idx[TargetCategory.SD])
                    | (nt == _NT[NonTargetCategory.NN])
                )
                & (resp != _R[Response.PD])
            )
            resp = np.where(back, _R[Response.PD], resp)
            reappeared_pd[a] = back
        out.response[a] = resp
        lower = full & (tot < nadir)
        nadir_e[ents[lower]] = tot[lower]
        nadir_at_e[ents[lower]] = a[lower]
        is_pd_resp = resp == _R[Response.PD]
        since_pd[ents] = np.where(
            is_pd_resp, False, since_pd[ents] | (cat == t_idx[TargetCategory.PR]) | (cat == t_idx[TargetCategory.CR])
        )
        not_ne = resp != _R[Response.NE]
        last_cr[ents] = np.where(not_ne, resp == _R[Response.CR], last_cr[ents])
    out.new_lesions = np.where(a_k == 0, 0, np.where(new_present | admitted_present, 1, np.where(new.equivocal, 2, 0)))
    out.reasons = _reasons(c, config, out, mem, new, m, missing, nt_ne, nt_pd, persisted, reappeared_pd)
    return out, mem


def _reasons(
    c: Cohort,
    config: CriterionConfig,
    out: Timepoints,
    mem: BaselineMembers,
    new: _NewLesions,
    m: IntArray,
    missing: IntArray,
    nt_ne: IntArray,
    nt_pd: IntArray,
    persisted: BoolArray,
    reappeared_pd: BoolArray,
) -> Reasons:
    """A reason a radiologist can check at every assessment: the numbers, the comparison, each rule that
    applied, and the call (``irrecist.rules.reasons``)."""
    word = "TMTB" if config.new_lesions_in_burden else "SOD"
    is_base = c.a_index() == 0
    t_none = _T[TargetCategory.NONE]
    has_numbers = ~is_base & (out.burden >= 0) & (out.target != t_none)
    num, bl, fu = np.flatnonzero(has_numbers), np.flatnonzero(is_base), np.flatnonzero(~is_base)
    # the three kinds of text side by side (Arrow formats them without the GIL)
    numbers, baseline_line, call = side_by_side(
        lambda: _numbers(c, out, word, num), lambda: _baseline_lines(c, out, mem, word, bl),
        lambda: _calls(config, out, fu),
    )  # fmt: skip
    # the rules that applied (few assessments)
    t_pd = _T[TargetCategory.PD]
    follow = ~is_base
    events = follow & ((missing > 0) & (out.target != t_none) | persisted | (nt_pd > 0) | (nt_ne > 0) | reappeared_pd)
    rules: dict[int, list[str]] = {a: list(r) for a, r in new.reasons.items() if not is_base[a]}
    for a in np.flatnonzero(events).tolist():
        found = rules.setdefault(a, [])
        t = int(out.target[a])
        if missing[a] > 0 and t != t_none:
            ids = ", ".join(_missing_members(c, mem, new, m, a))
            if t == t_pd:
                found.append(
                    f"{ids} not evaluated, but the evaluated lesions alone already prove PD (RECIST 1.1 4.4.2)"
                )
            else:
                found.append(f"{ids} not evaluated: {word} not evaluable")
        if persisted[a]:
            found.append("PR persists: no PD since the last PR/CR (decisions.md 3, A-R1)")
        if nt_pd[a] > 0:
            found.append(f"unequivocal progression of non-target {', '.join(_nontargets(c, mem, a, 'pd'))}")
        elif nt_ne[a] > 0:
            found.append(f"non-target {', '.join(_nontargets(c, mem, a, 'ne'))} not evaluated")
        if reappeared_pd[a]:
            found.append("disease reappears after an overall CR: PD (RECIST Working Group Q&A, A-R10)")
    n_a = len(is_base)
    return Reasons([(baseline_line, _positions(bl, n_a)), (numbers, _positions(num, n_a))], rules,
                   [(call, _positions(fu, n_a))])  # fmt: skip


def _numbers(c: Cohort, out: Timepoints, word: str, num: IntArray) -> pa.Array:
    """The numbers of the follow-ups ``num`` (which have a burden): the burden, its change from the baseline
    and from the nadir, in millimetres and percent."""
    b, n, base_n = out.burden[num], np.maximum(out.nadir[num], 0), out.baseline[num]
    d = b - n
    at = np.maximum(out.nadir_at[num], 0)
    first = c.a_start[:-1][c.a_entity[num]]
    nadir_label = np.where(at == first, "baseline", np.asarray(c.a_label, dtype=object)[at])
    vs_baseline = _where(
        base_n > 0,
        lambda k: concat(
            ": ", tenths_text(pct_tenths_array(b[k], base_n[k])), " % from baseline ", mm_text(base_n[k]), " mm"
        ),
    )
    vs_nadir = _where(n > 0, lambda k: concat(tenths_text(pct_tenths_array(b[k], n[k])), " % and "))
    return pc.binary_join_element_wise(
        word, " ", mm_text(b), " mm", vs_baseline, "; ", vs_nadir, pa.array(np.where(d >= 0, "+", "-")),
        mm_text(np.abs(d)), " mm vs the nadir ", mm_text(n), " mm (", pa.array(nadir_label, pa.string()), ")", "",
        null_handling="replace", null_replacement="",
    )  # fmt: skip


def _baseline_lines(c: Cohort, out: Timepoints, mem: BaselineMembers, word: str, bl: IntArray) -> pa.Array:
    """The baselines ``bl``: their sum and number of targets."""
    return concat(
        "baseline ", word, " ", mm_text(out.baseline[bl]), " mm from ",
        pc.cast(pa.array(mem.n_targets[c.a_entity[bl]]), pa.string()), " target(s)",
    )  # fmt: skip


def _calls(config: CriterionConfig, out: Timepoints, fu: IntArray) -> pa.Array:
    """The call at the follow-ups ``fu``: target, non-target and new-lesion categories and the response."""
    return concat(
        "target ", words([t.value for t in TARGET_CATEGORIES], out.target[fu]),
        ", non-target ", words([t.value for t in NONTARGET_CATEGORIES], out.nontarget[fu]),
        ", new lesions ", words(list(NEW_LESION_WORDS), out.new_lesions[fu]),
        ": ", words(response_words(config), out.response[fu]),
    )  # fmt: skip


def _positions(rows: IntArray, n: int) -> IntArray:
    """Each of ``n`` assessments' position in ``rows`` (-1 when not there)."""
    at = np.full(n, -1, dtype=np.int64)
    at[rows] = np.arange(len(rows))
    return at


def _where(mask: BoolArray, fmt: Callable[[BoolArray], pa.Array]) -> pa.Array:
    """``fmt(mask)`` (texts of the rows where ``mask`` holds) spread over every row, null elsewhere."""
    return texts_at(fmt(mask), np.where(mask, np.cumsum(mask) - 1, -1))


def _entity_lesions(c: Cohort, a: int) -> range:
    e = int(c.a_entity[a])
    return range(int(c.l_start[e]), int(c.l_start[e + 1]))


def _missing_members(c: Cohort, mem: BaselineMembers, new: _NewLesions, m: IntArray, a: int) -> list[str]:
    """Burden members not measured at assessment ``a``: targets in baseline order, then admitted lesions in
    order of admission."""
    k = int(a - c.a_start[c.a_entity[a]])
    measured = {int(c.o_lesion[o]) for o in range(c.o_start[a], c.o_start[a + 1]) if m[o] >= 0}
    lesions = _entity_lesions(c, a)
    targets = sorted((li for li in lesions if mem.is_target[li]), key=lambda li: mem.rank[li])
    admitted = sorted((li for li in lesions if new.admit_k[li] <= k), key=lambda li: new.admit_order[li])
    return [c.l_id[li] for li in targets + admitted if li not in measured]


def _nontargets(c: Cohort, mem: BaselineMembers, a: int, which: str) -> list[str]:
    """Non-targets at assessment ``a`` in baseline order: progressing (``pd``) or not evaluated (``ne``)."""
    status = {int(c.o_lesion[o]): int(c.o_status[o]) for o in range(c.o_start[a], c.o_start[a + 1])}
    nts = sorted((li for li in _entity_lesions(c, a) if mem.is_nontarget[li]), key=lambda li: mem.rank[li])
    if which == "pd":
        return [c.l_id[li] for li in nts if status.get(li) == S_UNEQUIVOCAL]
    return [c.l_id[li] for li in nts if status.get(li, S_NOT_EVALUATED) == S_NOT_EVALUATED]
