"""Baseline rules: measurability, target limits, organs, the 6 cm eligibility limit, target selection.

decisions.md section 2 (RECIST 1.1 sections 3.1 and 4.2) and section 2.1 (the protocol's 6 cm limit).
A baseline that breaks a rule is not repaired: the subject is scored as recorded with a QC flag.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from irrecist.cohort import NONTARGET, TARGET, BoolArray, Cohort, IntArray, MadeOnDemand, offsets
from irrecist.model import Lesion, Observation, Status
from irrecist.rules.config import CriterionConfig, mm_to_um

NODE_ORGAN = "lymph node"
_SIDE_WORDS = {"left", "right", "bilateral", "both", "l", "r", "lt", "rt"}
_NODE_WORDS = re.compile(r"\b(lymph|node|nodes|nodal|ln)\b")


def organ_key(organ: str, nodal: bool, config: CriterionConfig) -> str:
    """Normalised organ for the per-organ rules: case, spaces and plurals removed; with
    ``paired_organs_as_one`` also left/right; every lymph node is one organ (EORTC clarification)."""
    text = re.sub(r"[^a-z0-9]+", " ", organ.lower()).strip()
    if nodal or _NODE_WORDS.search(text):
        return NODE_ORGAN
    words = []
    for w in text.split():
        if config.paired_organs_as_one and w in _SIDE_WORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        words.append(w)
    return " ".join(words) or text


def lesion_measure_um(lesion: Lesion, obs: Observation | None, config: CriterionConfig) -> int | None:
    """The value a lesion contributes to a sum (decisions.md 1 and 3): LD, or SA for a node; 0 when absent
    or merged into another lesion; ``too_small_mm`` when too small to measure; None when not evaluated."""
    if obs is None:
        return None
    st = obs.status
    if st is Status.ABSENT or st is Status.MERGED:
        return 0
    if st is Status.NOT_EVALUATED:
        return None
    value = obs.short_um if lesion.nodal else obs.long_um
    if st is Status.TOO_SMALL and value is None:
        return mm_to_um(config.too_small_mm)
    return value


def measurability_problem(lesion: Lesion, obs: Observation, config: CriterionConfig) -> str | None:
    """Why a lesion is not measurable (RECIST 1.1 section 3.1.1, decisions.md 2), or None when it is."""
    if lesion.nodal:
        sa = obs.short_um
        need = mm_to_um(config.node_target_min_sa_mm)
        if sa is None:
            return "a nodal target needs its short axis"
        if sa < need:
            return f"node short axis {fmt_mm(sa)} mm is below {config.node_target_min_sa_mm} mm"
        return None
    ld = obs.long_um
    if ld is None:
        return "no long axis"
    need = mm_to_um(config.min_measurable_mm)
    rule = f"{config.min_measurable_mm} mm"
    limit = mm_to_um(config.slice_thickness_limit_mm)
    if obs.slice_um is not None and obs.slice_um > limit:
        by_slice = int(config.slice_thickness_factor * obs.slice_um)
        if by_slice > need:
            need = by_slice
            rule = f"{config.slice_thickness_factor} x slice thickness {fmt_mm(obs.slice_um)} mm"
    if ld < need:
        return f"long axis {fmt_mm(ld)} mm is below {rule}"
    return None


def fmt_mm(um: int) -> str:
    """Micrometres as millimetres with one decimal (or more when needed to be exact)."""
    if um >= 0 and um % 100 == 0:
        return f"{um // 1000}.{(um % 1000) // 100}"
    s = f"{um / 1000:.3f}".rstrip("0")
    if s.endswith("."):
        s += "0"
    head, _, tail = s.partition(".")
    return f"{head}.{tail}" if tail else head


@dataclass
class Baseline:
    """What the baseline says: targets, non-targets, sum, QC flags and the 6 cm verdict."""

    targets: Sequence[Lesion]
    nontargets: Sequence[Lesion]
    sum_um: int
    measurable_disease: bool
    eligible: bool | None  # None: unknown (no baseline measurement)
    ineligible_lesions: list[str]
    qc: list[tuple[str, str]] = field(default_factory=list)  # (lesion_id, message)


def analyse_baseline(
    lesions: dict[str, Lesion], observations: dict[str, Observation], config: CriterionConfig
) -> Baseline:
    """Baseline targets and checks; raises nothing: unmeasured targets are the caller's error."""
    targets = [lesions[i] for i in observations if lesions[i].role.value == "target"]
    nontargets = [lesions[i] for i in observations if lesions[i].role.value == "non-target"]
    qc: list[tuple[str, str]] = []
    total = 0
    measurable = False
    for t in targets:
        obs = observations[t.lesion_id]
        m = lesion_measure_um(t, obs, config)
        total += m or 0
        why = measurability_problem(t, obs, config)
        if why is None:
            measurable = True
        else:
            qc.append((t.lesion_id, f"target {t.lesion_id} is not measurable at baseline: {why} (RECIST 1.1 3.1.1)"))
    if len(targets) > config.max_targets:
        ids = ", ".join(t.lesion_id for t in targets)
        qc.append(("", f"{len(targets)} targets ({ids}); at most {config.max_targets} allowed (RECIST 1.1 4.2)"))
    per_organ = Counter(t.organ_key for t in targets)
    for organ, n in sorted(per_organ.items()):
        if n > config.max_targets_per_organ:
            ids = ", ".join(t.lesion_id for t in targets if t.organ_key == organ)
            qc.append(
                (
                    "",
                    f"{n} targets in {organ} ({ids}); at most {config.max_targets_per_organ} per organ "
                    "(RECIST 1.1 4.2)",
                )
            )
    eligible, offending = six_cm_check([*targets, *nontargets], observations, config)
    return Baseline(targets, nontargets, total, measurable, eligible, offending, qc)


def target_measurable_mask(
    nodal: BoolArray, long_um: IntArray, short_um: IntArray, slice_um: IntArray, config: CriterionConfig
) -> BoolArray:
    """``measurability_problem(...) is None`` for arrays of baseline measures (-1 = not recorded): RECIST 1.1
    section 3.1.1, decisions.md 2. A node needs SA >= ``node_target_min_sa_mm``; another lesion LD >=
    ``min_measurable_mm`` and, with slices thicker than ``slice_thickness_limit_mm``, >= the factor x thickness
    (truncated to whole micrometres, as the scalar rule does). Tested equal to the scalar rule."""
    factor = Fraction(config.slice_thickness_factor)
    by_slice = (slice_um * factor.numerator) // factor.denominator
    need = np.where(
        (slice_um >= 0) & (slice_um > mm_to_um(config.slice_thickness_limit_mm)),
        np.maximum(by_slice, mm_to_um(config.min_measurable_mm)),
        mm_to_um(config.min_measurable_mm),
    )
    node_ok = (short_um >= 0) & (short_um >= mm_to_um(config.node_target_min_sa_mm))
    other_ok = (long_um >= 0) & (long_um >= need)
    return np.where(nodal, node_ok, other_ok)


@dataclass(eq=False)
class Baselines:
    """``analyse_baseline`` of every entity of a cohort, as arrays (what the tables and endpoints read), with
    each entity's ``Baseline`` object made when asked for (``baselines[e]``)."""

    has_target: BoolArray
    has_nontarget: BoolArray
    sum_um: IntArray
    measurable: BoolArray
    eligible: IntArray  # 1 eligible, 0 not (decisions.md 2.1), -1 unknown (nothing measured at baseline)
    ineligible: dict[int, list[str]]  # the offending lesions of the ineligible entities
    qc: dict[int, list[tuple[str, str]]]  # (lesion_id, message) of the entities with baseline QC findings
    made: dict[int, Baseline]  # the entities analysed one by one (``analyse_baseline``)
    targets: tuple[IntArray, list[int]]  # baseline targets (lesion positions) and each entity's offsets into them
    nontargets: tuple[IntArray, list[int]]
    cohort: Cohort

    def __len__(self) -> int:
        return len(self.sum_um)

    def __iter__(self) -> Iterator[Baseline]:
        return (self[e] for e in range(len(self)))

    def __getitem__(self, e: int) -> Baseline:
        if not 0 <= e < len(self):
            raise IndexError(e)
        made = self.made.get(e)
        if made is not None:
            return made
        c = self.cohort
        (t_les, t_at), (nt_les, nt_at) = self.targets, self.nontargets
        targets = MadeOnDemand(c.lesion, t_les[t_at[e] : t_at[e + 1]])
        nontargets = MadeOnDemand(c.lesion, nt_les[nt_at[e] : nt_at[e + 1]])
        eligible = None if self.eligible[e] < 0 else bool(self.eligible[e])
        bad = list(self.ineligible.get(e, []))
        return Baseline(targets, nontargets, int(self.sum_um[e]), bool(self.measurable[e]), eligible, bad)


def analyse_baselines(c: Cohort, sum_um: IntArray, config: CriterionConfig) -> Baselines:
    """``analyse_baseline`` of every entity's first assessment (entities without one get an empty baseline).
    Entities whose targets are all measurable and within the limits are analysed on arrays; the others (they
    need QC messages) go through ``analyse_baseline`` itself. ``sum_um``: the baseline sums per entity."""
    x = c.lists
    n_e = c.n_entities
    base_o = np.flatnonzero(c.o_at_baseline)
    ent = c.a_entity[c.o_assessment[base_o]]
    les = c.o_lesion[base_o]
    role = c.l_role[les]
    nodal = c.l_nodal[les]
    is_t, is_nt = role == TARGET, role == NONTARGET
    ok = target_measurable_mask(nodal, c.o_long[base_o], c.o_short[base_o], c.o_slice[base_o], config)
    n_t = np.bincount(ent[is_t], minlength=n_e)
    bad_t = np.bincount(ent[is_t & ~ok], minlength=n_e)
    # targets per organ: any code that is equal for equal organ keys will do (hashing, not sorting, strings)
    organ_codes = np.asarray(pd.factorize(np.asarray(c.l_organ_key, dtype=object)[les[is_t]])[0], dtype=np.int64)
    pairs = ent[is_t].astype(np.int64) * (int(organ_codes.max(initial=0)) + 1) + organ_codes
    per_organ = np.bincount(pairs, minlength=1) if len(pairs) else np.zeros(0, dtype=np.int64)
    crowded = np.zeros(n_e, dtype=bool)
    crowded[ent[is_t][per_organ[pairs] > config.max_targets_per_organ]] = True
    plain = (bad_t == 0) & (n_t <= config.max_targets) & ~crowded
    # decisions.md 2.1: the 6 cm limit on every measured non-nodal baseline lesion (nodes by option)
    long_b, short_b = c.o_long[base_o], c.o_short[base_o]
    counted = (is_t | is_nt) & (~nodal | config.eligibility_includes_nodes)
    measured_o = (is_t | is_nt) & ((nodal & ((short_b >= 0) | (long_b >= 0))) | (counted & (long_b >= 0)))
    offending_o = counted & (long_b >= 0) & (long_b > mm_to_um(config.max_baseline_ld_mm))
    measured = np.bincount(ent[measured_o], minlength=n_e) > 0
    offending: dict[int, list[tuple[int, int]]] = {}
    rows = zip(base_o[offending_o].tolist(), ent[offending_o].tolist(), role[offending_o].tolist(), strict=True)
    for o, e, r in rows:
        offending.setdefault(e, []).append((0 if r == TARGET else 1, o))
    o_lesion = c.o_lesion
    out = Baselines(
        has_target=n_t > 0,
        has_nontarget=np.bincount(ent[is_nt], minlength=n_e) > 0,
        sum_um=np.asarray(sum_um, dtype=np.int64).copy(),
        measurable=n_t > 0,
        eligible=np.where(measured, np.where(np.bincount(ent[offending_o], minlength=n_e) > 0, 0, 1), -1),
        ineligible={e: [c.l_id[o_lesion[o]] for _k, o in sorted(found)] for e, found in offending.items()},
        qc={},
        made={},
        # per entity, in baseline order: its targets and its non-targets (offsets into one array each)
        targets=(les[is_t], offsets(ent[is_t], n_e).tolist()),
        nontargets=(les[is_nt], offsets(ent[is_nt], n_e).tolist()),
        cohort=c,
    )
    for e in np.flatnonzero(~plain).tolist():
        a = x.a_start[e]
        if a == x.a_start[e + 1]:
            made = Baseline([], [], 0, False, None, [])
        else:
            observations = {ob.lesion_id: ob for ob in c.observations(x.o_start[a], x.o_start[a + 1])}
            lesions = {lid: c.lesion(int(o_lesion[o])) for o, lid in enumerate(observations, start=x.o_start[a])}
            made = analyse_baseline(lesions, observations, config)
        out.made[e] = made
        out.has_target[e], out.has_nontarget[e] = bool(made.targets), bool(made.nontargets)
        out.sum_um[e], out.measurable[e] = made.sum_um, made.measurable_disease
        out.eligible[e] = -1 if made.eligible is None else int(made.eligible)
        out.ineligible.pop(e, None)
        if made.ineligible_lesions:
            out.ineligible[e] = made.ineligible_lesions
        if made.qc:
            out.qc[e] = made.qc
    return out


def six_cm_check(
    lesions: list[Lesion], observations: dict[str, Observation], config: CriterionConfig
) -> tuple[bool | None, list[str]]:
    """decisions.md 2.1: every non-nodal baseline lesion with a measured LD must have LD <= the limit
    (nodes too with ``eligibility_includes_nodes``). Returns (verdict, offending lesion ids);
    the verdict is None (unknown) when no baseline lesion was measured."""
    limit = mm_to_um(config.max_baseline_ld_mm)
    measured = False
    offending = []
    for les in lesions:
        obs = observations[les.lesion_id]
        if les.nodal:
            if obs.short_um is not None or obs.long_um is not None:
                measured = True
            if not config.eligibility_includes_nodes:
                continue
        if obs.long_um is None:
            continue
        measured = True
        if obs.long_um > limit:
            offending.append(les.lesion_id)
    if not measured:
        return None, []
    return (not offending), offending


@dataclass
class Selection:
    """Target selection from candidate lesions (RECIST 1.1 section 4.2)."""

    targets: list[str]
    nontargets: list[str]  # measurable lesions not chosen, and pathological non-measurable nodes/lesions
    measurable: dict[str, bool]
    pathological_nonmeasurable: list[str]
    normal: list[str]


def select_targets(candidates: list[tuple[Lesion, Observation]], config: CriterionConfig) -> Selection:
    """Choose targets by size within the limits (at most ``max_targets``, ``max_targets_per_organ`` per
    organ, all nodes one organ); other measurable lesions become non-targets (Schwartz 2016); nodes with
    SA in [10, 15) mm are pathological non-targets; below 10 mm they are normal and not recorded."""
    measurable: dict[str, bool] = {}
    patho: list[str] = []
    normal: list[str] = []
    small: list[str] = []
    pool: list[tuple[int, str, str]] = []
    for les, obs in candidates:
        ok = measurability_problem(les, obs, config) is None
        measurable[les.lesion_id] = ok
        if ok:
            m = lesion_measure_um(les, obs, config) or 0
            pool.append((m, les.lesion_id, les.organ_key))
        elif not les.nodal:
            small.append(les.lesion_id)
        elif obs.short_um is not None and obs.short_um < mm_to_um(config.node_pathological_min_sa_mm):
            normal.append(les.lesion_id)
        else:
            patho.append(les.lesion_id)
    pool.sort(key=lambda x: (-x[0], x[1]))
    targets: list[str] = []
    per_organ: Counter[str] = Counter()
    rest: list[str] = []
    for _m, lid, organ in pool:
        if len(targets) < config.max_targets and per_organ[organ] < config.max_targets_per_organ:
            targets.append(lid)
            per_organ[organ] += 1
        else:
            rest.append(lid)
    return Selection(targets, rest + small + patho, measurable, patho, normal)
