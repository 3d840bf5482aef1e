"""Domain values: lesions, observations, assessments, subjects (spec/lesion-table.md).

Lengths are whole micrometres (``int``), so every threshold compares exactly (decisions.md section 1).
Input with finer digits than a micrometre is rounded to the nearest micrometre on read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum


class Role(str, Enum):
    """Lesion role at first appearance (spec/lesion-table.md)."""

    TARGET = "target"
    NONTARGET = "non-target"
    NEW = "new"


class Status(str, Enum):
    """Lesion status at one assessment (spec/lesion-table.md)."""

    PRESENT = "present"
    ABSENT = "absent"
    TOO_SMALL = "too_small"
    NOT_EVALUATED = "not_evaluated"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    EQUIVOCAL = "equivocal"
    MERGED = "merged_into"


@dataclass(frozen=True, slots=True)
class Lesion:
    """A lesion's identity, fixed at its first appearance."""

    lesion_id: str
    role: Role
    organ: str
    organ_key: str
    nodal: bool


@dataclass(slots=True)
class Observation:
    """One lesion at one assessment; fragments (``T4.1``, ``T4.2``) are already summed into the parent."""

    lesion_id: str
    status: Status
    long_um: int | None = None
    short_um: int | None = None
    slice_um: int | None = None
    merged_into: str | None = None
    source: str = ""
    row: int = -1  # 0-based index of the table row it came from (-1: not from a table)


@dataclass(slots=True)
class Assessment:
    """All observations of one subject at one scan date."""

    timepoint: str
    date: date
    observations: dict[str, Observation] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True, slots=True)
class SubjectInfo:
    """Optional subject table row (spec/lesion-table.md): reference dates and BOR window limits."""

    treatment_start_date: date | None = None
    last_treatment_date: date | None = None
    new_therapy_date: date | None = None
    data_cut_date: date | None = None
    tumor_type: str = ""


@dataclass(slots=True)
class SubjectRecord:
    """One subject as seen by one reader: its lesions and its assessments in date order."""

    subject_id: str
    reader: str
    lesions: dict[str, Lesion]
    assessments: list[Assessment]
    info: SubjectInfo = field(default_factory=SubjectInfo)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)
    """Reader-level QC findings as (lesion_id, timepoint, message); reported, never fatal."""
