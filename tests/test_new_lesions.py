"""New lesions on arrays (``timepoint._new_lesions``, decisions.md 4, RECIST 1.1 4.3.2) against the scalar rules
they replace: which new lesions count, which are admitted to TMTB (order of first appearance, larger first, then
lesion id; the total and per-organ caps) and the reasons, field by field on random cohorts."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irrecist.cohort import NEW, Cohort, from_records
from irrecist.model import Assessment, Lesion, Observation, Role, Status, SubjectRecord
from irrecist.rules.baseline import measurability_problem
from irrecist.rules.config import CriterionConfig, mm_to_um, profile
from irrecist.rules.timepoint import _NEVER, _new_lesions, _NewLesions, baseline_members, measures, new_counts_mask

IR = profile("irrecist")
R = profile("recist1.1")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def new_counts(lesion: Lesion, obs: Observation, config: CriterionConfig) -> bool:
    """The scalar rule: a new lesion that is there: present, too small or progressing, not measured 0, and for a
    node with a recorded SA, SA >= ``node_pathological_min_sa_mm`` (RECIST 1.1 4.3.2)."""
    if obs.status not in (Status.PRESENT, Status.TOO_SMALL, Status.UNEQUIVOCAL_PROGRESSION):
        return False
    if obs.status is Status.PRESENT and (obs.short_um if lesion.nodal else obs.long_um) == 0:
        return False
    if lesion.nodal and obs.short_um is not None:
        return obs.short_um >= mm_to_um(config.node_pathological_min_sa_mm)
    return True


def reference(c: Cohort, config: CriterionConfig) -> _NewLesions:
    """The scalar engine, subject by subject on objects (the code ``_new_lesions`` replaced)."""
    out = _NewLesions(
        np.full(len(c.l_id), _NEVER, dtype=np.int64), np.full(len(c.l_id), _NEVER, dtype=np.int64),
        np.zeros(len(c.a_date), bool), np.zeros(len(c.a_date), bool), {}, {},
    )  # fmt: skip
    a_k = c.a_index().tolist()
    for e in range(c.n_entities):
        admitted: list[int] = []
        per_organ: Counter[str] = Counter()
        first_seen: dict[int, date] = {}
        for a in range(int(c.a_start[e]), int(c.a_start[e + 1])):
            present: list[str] = []
            equivocal: list[str] = []
            candidates: list[tuple[date, int, str, int]] = []
            for o in range(int(c.o_start[a]), int(c.o_start[a + 1])):
                li = int(c.o_lesion[o])
                if c.l_role[li] != NEW:
                    continue
                les, ob = c.lesion(li), c.observation(o)
                if ob.status is Status.EQUIVOCAL:
                    equivocal.append(les.lesion_id)
                    continue
                if not new_counts(les, ob, config):
                    continue
                first_seen.setdefault(li, c.a_date[a])
                if li in admitted:
                    continue
                if config.new_lesions_in_burden and measurability_problem(les, ob, config) is None:
                    v = ob.short_um if les.nodal else ob.long_um
                    candidates.append((first_seen[li], -(v or 0), les.lesion_id, li))
                else:
                    present.append(les.lesion_id)
            newly: list[str] = []
            for _first, _neg, lid, li in sorted(candidates):
                okey = c.l_organ_key[li]
                if len(admitted) < config.max_new_in_tmtb and per_organ[okey] < config.max_new_in_tmtb_per_organ:
                    admitted.append(li)
                    per_organ[okey] += 1
                    out.admit_k[li] = a_k[a]
                    out.admit_order[li] = len(admitted)
                    newly.append(lid)
                else:
                    present.append(lid)
            reasons = []
            if newly:
                reasons.append(f"new measurable lesion(s) {', '.join(newly)} added to TMTB")
                out.admitted[a] = newly
            if present:
                if config.new_lesions_define_pd:
                    reasons.append(f"new lesion(s) {', '.join(sorted(present))}: PD (RECIST 1.1 4.3.2)")
                else:
                    reasons.append(f"new lesion(s) {', '.join(sorted(present))} outside TMTB: no irCR while present")
            if equivocal:
                reasons.append(f"equivocal new lesion(s) {', '.join(sorted(equivocal))}: not PD unless confirmed")
            if reasons:
                out.reasons[a] = reasons
            out.present[a] = bool(present)
            out.equivocal[a] = bool(equivocal)
    return out


def assert_same(got: _NewLesions, want: _NewLesions) -> None:
    assert got.admit_k.tolist() == want.admit_k.tolist()
    assert got.admit_order.tolist() == want.admit_order.tolist()
    assert got.present.tolist() == want.present.tolist()
    assert got.equivocal.tolist() == want.equivocal.tolist()
    assert list(got.reasons.items()) == list(want.reasons.items())  # same keys, same order, same strings
    assert list(got.admitted.items()) == list(want.admitted.items())


def run(c: Cohort, config: CriterionConfig) -> _NewLesions:
    return _new_lesions(c, config, baseline_members(c, measures(c, config)))


# lengths on and beside the thresholds the configs below use (0, 5, 9.95, 10, 12, 12.5, 15 mm, factor x slice)
_EDGES = [0, 1, 4999, 5000, 9949, 9950, 9999, 10000, 10001, 11999, 12000, 12499, 12500, 14999, 15000, 15001, 20000]
_LEN = st.one_of(st.just(None), st.sampled_from(_EDGES), st.sampled_from([20000, 30000]), st.integers(0, 40_000))
_SLICE = st.one_of(st.just(None), st.sampled_from([4900, 5000, 5001, 6000, 7500]))
_IDS = ["N1", "N10", "N2", "n1", "a", "N1b", "X", "N9", "N01"]


@st.composite
def observations(draw: st.DrawFn, lid: str) -> Observation:
    status = draw(st.one_of(st.just(Status.PRESENT), st.sampled_from(list(Status))))
    return Observation(lid, status, draw(_LEN), draw(_LEN), draw(_SLICE), "T1" if status is Status.MERGED else None)


@st.composite
def cohorts(draw: st.DrawFn) -> list[SubjectRecord]:
    """1-4 subjects, each with a target and 0-8 new lesions (ids whose string order differs from their number,
    three organs, some nodes) observed at random later assessments with every status, sizes on the thresholds,
    and ties of size and first appearance; now and then two assessments on one date."""
    records = []
    for s in range(draw(st.integers(1, 4))):
        n_tp = draw(st.integers(1, 6))
        day, days = 0, []
        for _ in range(n_tp):
            days.append(day)
            day += draw(st.sampled_from([0, 1, 28, 56]))
        lesions = {"T1": Lesion("T1", Role.TARGET, "liver", "liver", False)}
        ids = draw(st.lists(st.sampled_from(_IDS), unique=True, max_size=8))
        starts = draw(st.lists(st.integers(0, n_tp - 1), min_size=1, max_size=3))  # few: lesions appear together
        first = {lid: draw(st.sampled_from(starts)) for lid in ids}
        for lid in ids:
            organ = draw(st.sampled_from(["liver", "lung", "lymph node"]))
            lesions[lid] = Lesion(lid, Role.NEW, organ, organ, draw(st.booleans()))
        order = ids[:]
        if draw(st.booleans()):
            order.reverse()  # recorded order within an assessment must not matter
        assessments = []
        for k, d in enumerate(days):
            obs = {"T1": Observation("T1", Status.PRESENT, 30000)}
            for lid in order:
                if k >= first[lid] and (k == first[lid] or draw(st.integers(0, 5)) > 0):
                    obs[lid] = draw(observations(lid))
            assessments.append(Assessment(f"v{k}", date(2024, 1, 1) + timedelta(days=d), obs))
        # lesions in first-appearance order, as the cohort builder makes them
        seen = ["T1"] + sorted(ids, key=lambda lid: first[lid])
        records.append(SubjectRecord(f"S{s}", "", {lid: lesions[lid] for lid in seen}, assessments))
    return records


_CONFIG = st.fixed_dictionaries(
    {
        "max_new_in_tmtb": st.integers(0, 6),
        "max_new_in_tmtb_per_organ": st.integers(0, 3),
        "new_lesions_define_pd": st.booleans(),
        "node_pathological_min_sa_mm": st.sampled_from(["10", "12", "9.95"]),
        "node_target_min_sa_mm": st.sampled_from(["15", "10", "12.5"]),
        "min_measurable_mm": st.sampled_from(["10", "9.95", "12.5", "0"]),
        "slice_thickness_factor": st.sampled_from(["2", "2.25", "0"]),
        "slice_thickness_limit_mm": st.sampled_from(["5", "4.9"]),
        "too_small_mm": st.sampled_from(["5", "4.5"]),
    }
)


@SETTINGS
@given(records=cohorts(), base=st.sampled_from([IR, R]), options=_CONFIG)
def test_new_lesions_on_arrays_equal_the_scalar_engine(
    records: list[SubjectRecord], base: CriterionConfig, options: dict[str, Any]
) -> None:
    """Every field of ``_new_lesions`` equals the subject-by-subject engine on objects with the scalar rules
    (``new_counts``, ``measurability_problem``), under RECIST 1.1 and irRECIST with random caps and thresholds."""
    c = from_records(records)
    cfg = base.replace(**options)
    assert_same(run(c, cfg), reference(c, cfg))


@SETTINGS
@given(
    rows=st.lists(st.tuples(st.booleans(), _LEN, _LEN, st.sampled_from(list(Status))), min_size=1, max_size=40),
    normal=st.sampled_from(["10", "12", "9.95", "0"]),
)
def test_new_counts_mask_equals_the_scalar_rule(
    rows: list[tuple[bool, int | None, int | None, Status]], normal: str
) -> None:
    """``new_counts_mask`` = ``new_counts`` observation by observation (RECIST 1.1 4.3.2), -1 for unrecorded."""
    cfg = IR.replace(node_pathological_min_sa_mm=normal)

    def um(v: int | None) -> int:
        return -1 if v is None else v

    got = new_counts_mask(
        np.asarray([list(Status).index(s) for *_r, s in rows], dtype=np.int64),
        np.asarray([n for n, *_r in rows], dtype=bool),
        np.asarray([um(lo) for _n, lo, _s, _st in rows], dtype=np.int64),
        np.asarray([um(sh) for _n, _lo, sh, _st in rows], dtype=np.int64),
        cfg,
    )
    want = [
        new_counts(Lesion("N", Role.NEW, "liver", "liver", n), Observation("N", s, lo, sh), cfg)
        for n, lo, sh, s in rows
    ]
    assert got.tolist() == want


def _subject(new: dict[str, tuple[str, bool, list[tuple[Status, int | None, int | None]]]], n_tp: int) -> Cohort:
    """One subject: a liver target and new lesions ``id: (organ, nodal, [(status, LD, SA) per follow-up, from
    the first])`` (lists shorter than the follow-ups start later: the last entries are the last visits)."""
    lesions = {"T1": Lesion("T1", Role.TARGET, "liver", "liver", False)}
    lesions |= {lid: Lesion(lid, Role.NEW, organ, organ, nodal) for lid, (organ, nodal, _o) in new.items()}
    assessments = []
    for k in range(n_tp):
        obs = {"T1": Observation("T1", Status.PRESENT, 30000)}
        for lid, (_organ, _nodal, seq) in new.items():
            at = k - (n_tp - len(seq))
            if at >= 0:
                status, long_um, short_um = seq[at]
                obs[lid] = Observation(lid, status, long_um, short_um)
        assessments.append(Assessment(f"v{k}", date(2024, 1, 1) + timedelta(days=28 * k), obs))
    return from_records([SubjectRecord("S", "", lesions, assessments)])


P, SMALL, EQ = Status.PRESENT, Status.TOO_SMALL, Status.EQUIVOCAL


def _admitted(c: Cohort, out: _NewLesions) -> list[tuple[str, int, int]]:
    return sorted(
        (c.l_id[li], int(out.admit_k[li]), int(out.admit_order[li])) for li in np.flatnonzero(out.admit_k != _NEVER)
    )


def test_ties_larger_first_then_lesion_id_within_the_caps() -> None:
    """Same first appearance: larger first; same size: lesion id order as text ("N10" < "N2"); the per-organ cap
    (2) sends the third liver lesion outside TMTB, and a later larger liver lesion stays outside (caps never free
    up) while a lung lesion still gets in."""
    c = _subject(
        {
            "N2": ("liver", False, [(P, 20000, None), (P, 20000, None)]),
            "N10": ("liver", False, [(P, 20000, None), (P, 20000, None)]),
            "N3": ("liver", False, [(P, 25000, None), (P, 25000, None)]),
            "N4": ("liver", False, [(P, 40000, None)]),
            "N5": ("lung", False, [(P, 11000, None)]),
        },
        3,
    )
    out = run(c, IR)
    assert out.admitted == {1: ["N3", "N10"], 2: ["N5"]}
    assert out.reasons == {
        1: ["new measurable lesion(s) N3, N10 added to TMTB",
            "new lesion(s) N2 outside TMTB: no irCR while present"],
        2: ["new measurable lesion(s) N5 added to TMTB",
            "new lesion(s) N2, N4 outside TMTB: no irCR while present"],
    }  # fmt: skip
    assert _admitted(c, out) == [("N10", 1, 2), ("N3", 1, 1), ("N5", 2, 3)]
    assert_same(out, reference(c, IR))


def test_admitted_late_when_first_too_small_and_ordered_by_first_appearance() -> None:
    """A lesion that counts first while too small to measure is admitted when it becomes measurable, ahead of a
    larger lesion first seen at that assessment (order of first appearance, decisions.md 4); the total cap (2)
    leaves the larger one outside TMTB for good."""
    c = _subject(
        {
            "N1": ("liver", False, [(SMALL, None, None), (P, 12000, None), (P, 30000, None)]),
            "N2": ("lung", False, [(P, 50000, None), (P, 50000, None)]),
            "N3": ("bone", False, [(P, 11000, None), (EQ, None, None), (P, 15000, None)]),
        },
        4,
    )
    cfg = IR.replace(max_new_in_tmtb=2)
    out = run(c, cfg)
    assert out.admitted == {1: ["N3"], 2: ["N1"]}
    assert out.reasons[1] == ["new measurable lesion(s) N3 added to TMTB",
                              "new lesion(s) N1 outside TMTB: no irCR while present"]  # fmt: skip
    assert out.reasons[2] == ["new measurable lesion(s) N1 added to TMTB",
                              "new lesion(s) N2 outside TMTB: no irCR while present",
                              "equivocal new lesion(s) N3: not PD unless confirmed"]  # fmt: skip
    assert out.reasons[3] == ["new lesion(s) N2 outside TMTB: no irCR while present"]
    assert out.present.tolist() == [False, True, True, True] and out.equivocal.tolist() == [False, False, True, False]
    assert_same(out, reference(c, cfg))


@pytest.mark.parametrize(
    ("nodal", "long_um", "short_um", "status", "counts"),
    [
        (False, 0, None, P, False),  # measured 0: gone
        (False, None, None, SMALL, True),
        (False, 0, None, SMALL, True),  # too small: counts whatever its value
        (True, 20000, 0, P, False),
        (True, 20000, None, SMALL, True),  # a node without SA counts
        (True, None, 9999, SMALL, False),  # a node with SA below 10 mm does not
        (True, None, 10000, P, True),
        (False, 30000, None, Status.ABSENT, False),
        (False, 30000, None, Status.NOT_EVALUATED, False),
        (False, 30000, None, Status.UNEQUIVOCAL_PROGRESSION, True),
    ],
)
def test_new_counts_mask_at_its_boundaries(
    nodal: bool, long_um: int | None, short_um: int | None, status: Status, counts: bool
) -> None:
    got = new_counts_mask(
        np.asarray([list(Status).index(status)]), np.asarray([nodal]),
        np.asarray([-1 if long_um is None else long_um]), np.asarray([-1 if short_um is None else short_um]), IR,
    )  # fmt: skip
    want = new_counts(Lesion("N", Role.NEW, "liver", "liver", nodal), Observation("N", status, long_um, short_um), IR)
    assert got.tolist() == [counts] == [want]
