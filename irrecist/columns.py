"""Column names of the lesion table and the subject table (spec/lesion-table.md; names are fixed)."""

from __future__ import annotations

LESION_COLUMNS: list[str] = [
    "subject_id",
    "timepoint",
    "date",
    "lesion_id",
    "role",
    "organ",
    "nodal",
    "long_axis_mm",
    "short_axis_mm",
    "status",
    "unit",
    "slice_thickness_mm",
    "reader",
    "source",
]
REQUIRED_LESION_COLUMNS: list[str] = ["subject_id", "timepoint", "date", "lesion_id"]

ROLES: tuple[str, ...] = ("target", "non-target", "new")
STATUSES: tuple[str, ...] = (
    "present",
    "absent",
    "too_small",
    "not_evaluated",
    "unequivocal_progression",
    "equivocal",
)
MERGED_PREFIX = "merged_into:"
UNITS: tuple[str, ...] = ("mm", "cm")

SUBJECT_COLUMNS: list[str] = [
    "subject_id",
    "treatment_start_date",
    "last_treatment_date",
    "new_therapy_date",
    "data_cut_date",
    "tumor_type",
]
