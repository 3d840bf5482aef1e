"""Many subject records as flat arrays: the form the timepoint engine scores in one pass.

A ``Cohort`` holds the subjects of a lesion table (one *entity* per subject and reader) as columns:
assessments grouped by entity in date order, lesions grouped by entity in first-appearance order, and
observations grouped by assessment. Lengths are whole micrometres as in ``irrecist.model``, with ``-1`` for
"not recorded". ``from_records`` builds one from ``SubjectRecord`` objects; ``record`` gives one back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TypeVar, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from irrecist.model import Assessment, Lesion, Observation, Role, Status, SubjectInfo, SubjectRecord

ROLES: tuple[Role, ...] = (Role.TARGET, Role.NONTARGET, Role.NEW)
"""Role codes: the position in this tuple."""
STATUSES: tuple[Status, ...] = tuple(Status)
"""Status codes: the position in this tuple."""
TARGET, NONTARGET, NEW = 0, 1, 2
S_PRESENT, S_ABSENT, S_TOO_SMALL, S_NOT_EVALUATED, S_UNEQUIVOCAL, S_EQUIVOCAL, S_MERGED = (
    STATUSES.index(s)
    for s in (
        Status.PRESENT,
        Status.ABSENT,
        Status.TOO_SMALL,
        Status.NOT_EVALUATED,
        Status.UNEQUIVOCAL_PROGRESSION,
        Status.EQUIVOCAL,
        Status.MERGED,
    )
)
NONE = -1
"""A length that was not recorded."""
EPOCH = date(1970, 1, 1)
"""Day 0 of ``Cohort.a_day``."""

IntArray = NDArray[np.int64]
T = TypeVar("T")
BoolArray = NDArray[np.bool_]


def offsets(groups: IntArray, n: int) -> IntArray:
    """Start offsets (length ``n + 1``) of ``n`` consecutive groups whose ids are ``groups`` (sorted)."""
    return np.searchsorted(groups, np.arange(n + 1)).astype(np.int64)


def iso_dates(days: IntArray, missing: BoolArray | None = None) -> pa.Array:
    """Day numbers (days since ``EPOCH``, as ``Cohort.a_day``) as ISO 8601 dates in text; null where ``missing``."""
    return pc.cast(pa.array(days.astype(np.int32), pa.date32(), mask=missing), pa.string())


def ranges(start: IntArray, end: IntArray) -> tuple[IntArray, IntArray]:
    """The positions ``start[i]`` to ``end[i] - 1`` of every ``i``, one after the other, and the ``i`` of each."""
    size = end - start
    owner = np.repeat(np.arange(len(size), dtype=np.int64), size)
    return np.arange(len(owner), dtype=np.int64) + np.repeat(start - (np.cumsum(size) - size), size), owner


def groups(start: IntArray) -> IntArray:
    """The group of every position, from the groups' start offsets (the inverse of ``offsets``)."""
    return np.repeat(np.arange(len(start) - 1, dtype=np.int64), np.diff(start))


@dataclass
class Cohort:
    """Entities (subject x reader), their assessments, lesions and observations as arrays."""

    subject_id: list[str]
    reader: list[str]
    info: list[SubjectInfo]
    warnings: list[list[tuple[str, str, str]]]
    # assessments: grouped by entity, date order within an entity (index 0 is the baseline)
    a_entity: IntArray
    a_date: list[date]
    a_label: list[str]
    a_source: Sequence[str]  # where each assessment was read (``row_places`` of a table's rows)
    # lesions: grouped by entity, first-appearance order
    l_entity: IntArray
    l_id: list[str]
    l_role: IntArray  # index into ROLES
    l_nodal: BoolArray
    l_organ: list[str]
    l_organ_key: list[str]
    # observations: grouped by assessment, in the order they were recorded
    o_assessment: IntArray
    o_lesion: IntArray
    o_status: IntArray  # index into STATUSES
    o_long: IntArray
    o_short: IntArray
    o_slice: IntArray
    o_merged_into: list[str | None]
    o_row: IntArray
    o_source: list[str]
    a_start: IntArray = field(init=False)
    """Offsets of each entity's assessments (length entities + 1)."""
    l_start: IntArray = field(init=False)
    """Offsets of each entity's lesions (length entities + 1)."""
    o_start: IntArray = field(init=False)
    """Offsets of each assessment's observations (length assessments + 1)."""

    def __post_init__(self) -> None:
        self.a_start = offsets(self.a_entity, len(self.subject_id))
        self.l_start = offsets(self.l_entity, len(self.subject_id))
        self.o_start = offsets(self.o_assessment, len(self.a_date))

    @property
    def n_entities(self) -> int:
        return len(self.subject_id)

    def a_index(self) -> IntArray:
        """Position of every assessment within its entity (0 = baseline)."""
        return self._a_index

    @cached_property
    def _a_index(self) -> IntArray:
        return np.arange(len(self.a_entity), dtype=np.int64) - self.a_start[self.a_entity]

    @cached_property
    def o_at_baseline(self) -> BoolArray:
        """Which observations belong to their entity's first assessment (the baseline)."""
        return self._a_index[self.o_assessment] == 0

    @cached_property
    def lists(self) -> CohortLists:
        """The offsets and per-lesion columns as Python lists (indexing a list is several times faster than
        a numpy array in the per-subject loops; per-observation columns are sliced where needed, to keep
        memory low)."""
        return CohortLists(
            self.a_start.tolist(), self.l_start.tolist(), self.o_start.tolist(), self.l_role.tolist(),
            self.l_nodal.tolist(),
        )  # fmt: skip

    @cached_property
    def a_day(self) -> IntArray:
        """Every assessment's date as days since 1970-01-01."""
        day = {d: (d - EPOCH).days for d in set(self.a_date)}
        return np.asarray([day[d] for d in self.a_date], dtype=np.int64)

    @cached_property
    def a_label_text(self) -> pa.Array:
        """Every assessment's visit label as Arrow text (for the tables)."""
        return pa.array(self.a_label, pa.string())

    @cached_property
    def _lesions(self) -> list[Lesion]:
        x = self.lists
        roles = [ROLES[r] for r in x.l_role]
        return [
            Lesion(*fields)
            for fields in zip(self.l_id, roles, self.l_organ, self.l_organ_key, x.l_nodal, strict=True)
        ]

    def lesion(self, i: int) -> Lesion:
        """Lesion ``i`` (all are made together, once: lesions are immutable and shared by every criterion)."""
        return self._lesions[i]

    def observation(self, o: int) -> Observation:
        return self.observations(o, o + 1)[0]

    def observations(self, start: int, end: int) -> list[Observation]:
        """Observations ``start`` to ``end - 1`` as objects."""
        return self._observations(slice(start, end), self.o_merged_into[start:end], self.o_source[start:end])

    def observations_at(self, index: IntArray) -> list[Observation]:
        """The observations at positions ``index``, as objects."""
        at = index.tolist()
        return self._observations(index, [self.o_merged_into[o] for o in at], [self.o_source[o] for o in at])

    def _observations(self, index: IntArray | slice, merged: list[str | None], source: list[str]) -> list[Observation]:
        lids = [self.l_id[i] for i in self.o_lesion[index].tolist()]
        cols = (self.o_status, self.o_long, self.o_short, self.o_slice, self.o_row)
        status, long_, short, slice_, row = (col[index].tolist() for col in cols)
        return [
            Observation(lid, STATUSES[st], None if lu < 0 else lu, None if su < 0 else su, None if tu < 0 else tu,
                        mi, so, r)
            for lid, st, lu, su, tu, mi, so, r in zip(lids, status, long_, short, slice_, merged, source, row,
                                                      strict=True)
        ]  # fmt: skip

    def record(self, e: int) -> SubjectRecord:
        """Entity ``e`` as a ``SubjectRecord`` (equal to the record it was built from)."""
        x = self.lists
        lesions = {self.l_id[i]: self.lesion(i) for i in range(x.l_start[e], x.l_start[e + 1])}
        first, last = x.a_start[e], x.a_start[e + 1]
        made = self.observations(x.o_start[first], x.o_start[last])  # the entity's observations, in one go
        base = x.o_start[first]
        assessments = []
        for a in range(first, last):
            obs = {ob.lesion_id: ob for ob in made[x.o_start[a] - base : x.o_start[a + 1] - base]}
            assessments.append(Assessment(self.a_label[a], self.a_date[a], obs, self.a_source[a]))
        return SubjectRecord(
            self.subject_id[e], self.reader[e], lesions, assessments, self.info[e], list(self.warnings[e])
        )


@dataclass(frozen=True)
class CohortLists:
    """``Cohort`` columns as Python lists (see ``Cohort.lists``)."""

    a_start: list[int]
    l_start: list[int]
    o_start: list[int]
    l_role: list[int]
    l_nodal: list[bool]


class MadeOnDemand(Sequence[T]):
    """Objects of a cohort made when asked for and not kept: ``make(key)`` for each of ``keys``. A baseline's
    targets and non-targets (``Cohort.lesion`` of lesion positions: scoring only counts them, the CDISC tables
    and verification read them) and a run's subject records (``Cohort.record`` of entities: scoring needs
    none, the CDISC tables walk them once, ``--strict`` keeps a few), so a run never holds one object per
    lesion or observation for every subject at once."""

    __slots__ = ("_make", "_keys")

    def __init__(self, make: Callable[[int], T], keys: Sequence[int] | IntArray) -> None:
        self._make, self._keys = make, keys

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._make(k) for k in self._keys[i]]
        return self._make(self._keys[i])

    def __iter__(self) -> Iterator[T]:
        return (self._make(k) for k in self._keys)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))

    __hash__ = None  # type: ignore[assignment]


def row_places(source: str, rows: IntArray) -> MadeOnDemand[str]:
    """``"<source> row <n>"`` for each table row number of ``rows``, written out when read (every assessment of a
    table carries one; only a record made from the cohort reads it)."""
    return MadeOnDemand(f"{source} row {{}}".format, rows)


def from_records(records: list[SubjectRecord]) -> Cohort:
    """The records as one cohort (entity ``i`` is ``records[i]``)."""
    a_entity: list[int] = []
    a_date: list[date] = []
    a_label: list[str] = []
    a_source: list[str] = []
    l_entity: list[int] = []
    l_id: list[str] = []
    l_role: list[int] = []
    l_nodal: list[bool] = []
    l_organ: list[str] = []
    l_organ_key: list[str] = []
    o_cols: tuple[list[int], ...] = ([], [], [], [], [], [], [])  # assessment, lesion, status, long, short, slice, row
    o_merged: list[str | None] = []
    o_source: list[str] = []
    role_code = {r: i for i, r in enumerate(ROLES)}
    status_code = {s: i for i, s in enumerate(STATUSES)}
    oa, ol, ost, olong, oshort, oslice, orow = o_cols
    for e, rec in enumerate(records):
        index: dict[str, int] = {}
        for les in rec.lesions.values():
            index[les.lesion_id] = len(l_id)
            l_entity.append(e)
            l_id.append(les.lesion_id)
            l_role.append(role_code[les.role])
            l_nodal.append(les.nodal)
            l_organ.append(les.organ)
            l_organ_key.append(les.organ_key)
        for a in rec.assessments:
            ai = len(a_date)
            a_entity.append(e)
            a_date.append(a.date)
            a_label.append(a.timepoint)
            a_source.append(a.source)
            for lid, ob in a.observations.items():
                oa.append(ai)
                ol.append(index[lid])
                ost.append(status_code[ob.status])
                olong.append(NONE if ob.long_um is None else ob.long_um)
                oshort.append(NONE if ob.short_um is None else ob.short_um)
                oslice.append(NONE if ob.slice_um is None else ob.slice_um)
                orow.append(ob.row)
                o_merged.append(ob.merged_into)
                o_source.append(ob.source)

    def arr(values: list[int]) -> IntArray:
        return np.asarray(values, dtype=np.int64)

    return Cohort(
        [r.subject_id for r in records],
        [r.reader for r in records],
        [r.info for r in records],
        [r.warnings for r in records],
        arr(a_entity),
        a_date,
        a_label,
        a_source,
        arr(l_entity),
        l_id,
        arr(l_role),
        np.asarray(l_nodal, dtype=bool),
        l_organ,
        l_organ_key,
        arr(oa),
        arr(ol),
        arr(ost),
        arr(olong),
        arr(oshort),
        arr(oslice),
        o_merged,
        arr(orow),
        o_source,
    )
