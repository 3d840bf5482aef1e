"""The demo trial's written ground truth: annotations.csv, expected.json and README.md."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import highdicom
import pydicom
from demo_score import SubjectResult
from demo_spec import TITLES, LesionSpec, SubjectSpec

COLUMNS = ["subject_id", "timepoint", "date", "lesion_id", "role", "organ", "nodal", "long_axis_mm",
           "short_axis_mm", "status", "unit", "slice_thickness_mm", "reader", "source"]
FORMAT_NAMES = {
    "sr": "TID 1500 SR (`sr.dcm`)",
    "seg": "SEG (`seg.dcm`)",
    "rtstruct": "RTSTRUCT (`rtstruct.dcm`)",
    "csv": "annotations.csv only",
}


def num(v: float | Decimal | None) -> str:
    """A length as written in the tables: ``40``, ``12.5``; empty for None."""
    if v is None:
        return ""
    d = Decimal(str(v)).normalize()
    return f"{d:f}"


def jnum(v: float | Decimal | None) -> float | None:
    return None if v is None else float(v)


def folder_name(subj: SubjectSpec, i: int) -> str:
    """Assessment folder: ``2023-01-09_baseline``, ``2023-03-06_week08``."""
    label = subj.label(i)
    slug = label if label == "baseline" else f"week{int(label.split()[1]):02d}"
    return f"{subj.date(i).isoformat()}_{slug}"


def _role_row(subj: SubjectSpec, les: LesionSpec) -> dict[str, str]:
    i = les.first
    return {"subject_id": subj.subject_id, "timepoint": subj.label(i), "date": subj.date(i).isoformat(),
            "lesion_id": les.lesion_id, "role": les.role, "organ": les.organ,
            "nodal": "true" if les.nodal else "false", "slice_thickness_mm": num(subj.slice_thickness_mm)}


def annotation_rows(subjects: Sequence[SubjectSpec]) -> list[dict[str, str]]:
    """Rows of annotations.csv: roles where DICOM does not carry them; every measurement of csv subjects."""
    rows: list[dict[str, str]] = []
    for subj in subjects:
        if subj.fmt == "csv":
            for i in range(subj.n_timepoints):
                for les in subj.lesions:
                    status = les.status(i)
                    if not status:
                        continue
                    row = _role_row(subj, les) if i == les.first else {
                        "subject_id": subj.subject_id, "timepoint": subj.label(i),
                        "date": subj.date(i).isoformat(), "lesion_id": les.lesion_id,
                        "slice_thickness_mm": num(subj.slice_thickness_mm)}
                    size = les.sizes[i]
                    row.update({"status": status, "unit": "mm"})
                    if size is not None:
                        row.update({"long_axis_mm": num(size[0]), "short_axis_mm": num(size[1])})
                    rows.append(row)
        else:
            for les in subj.lesions:
                # SR carries the baseline category (CID 6145) but no "new" role and no nodal flag.
                if subj.fmt != "sr" or les.role == "new" or les.nodal:
                    rows.append(_role_row(subj, les))
    return rows


def annotations_csv(subjects: Sequence[SubjectSpec]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in annotation_rows(subjects):
        w.writerow({c: row.get(c, "") for c in COLUMNS})
    return buf.getvalue()


def expected(subjects: Sequence[SubjectSpec], results: Sequence[SubjectResult]) -> dict[str, Any]:
    """The machine-readable ground truth (expected.json)."""
    out: dict[str, Any] = {
        "criterion": "irrecist",
        "rules": "../shared/spec/decisions.md section 4, default options; reference date = baseline scan",
        "generator": "tools/make_demo.py",
        "generated_with": {"pydicom": pydicom.__version__, "highdicom": highdicom.__version__},
        "subjects": {},
    }
    for subj, res in zip(subjects, results, strict=True):
        tps = []
        for i, tp in enumerate(res.timepoints):
            lesions: dict[str, Any] = {}
            for les in subj.lesions:
                status = les.status(i)
                if status:
                    size = les.sizes[i]
                    lesions[les.lesion_id] = {
                        "long_axis_mm": jnum(size[0]) if size else None,
                        "short_axis_mm": jnum(size[1]) if size else None, "status": status}
            tps.append({"label": tp.label, "date": tp.date, "days_from_baseline": tp.days,
                        "target_sum_mm": jnum(tp.target_sum_mm), "tmtb_mm": jnum(tp.tmtb_mm),
                        "nadir_mm": jnum(tp.nadir_mm), "pct_from_baseline": jnum(tp.pct_from_baseline),
                        "response": tp.response, "pd_status": tp.pd_status,
                        "folder": f"{subj.subject_id}/{folder_name(subj, i)}", "lesions": lesions})
        out["subjects"][subj.subject_id] = {
            "story": subj.story, "measurements_in": subj.fmt,
            "pixel_spacing_mm": subj.pixel_spacing_mm, "slice_thickness_mm": subj.slice_thickness_mm,
            "n_slices": subj.n_slices,
            "baseline_eligible": res.baseline_eligible, "ineligible_lesions": list(res.ineligible_lesions),
            "measurable_disease": res.measurable_disease,
            "bor": res.bor, "bor_confirmed": res.bor_confirmed, "pd_date": res.pd_date,
            "lesions": [{"lesion_id": les.lesion_id, "role": les.role, "organ": les.organ, "nodal": les.nodal,
                         "first_timepoint": subj.label(les.first)} for les in subj.lesions],
            "timepoints": tps,
        }
    return out


def expected_json(subjects: Sequence[SubjectSpec], results: Sequence[SubjectResult]) -> str:
    return json.dumps(expected(subjects, results), indent=2) + "\n"


def _yes(v: bool | None) -> str:
    return "" if v is None else ("yes" if v else "no")


def _size_cell(les: LesionSpec, i: int) -> str:
    status = les.status(i)
    size = les.sizes[i]
    if size is not None:
        return f"{num(size[0])} x {num(size[1])}"
    return "absent" if status == "absent" else "-"


INTRO = """# The irrecist demo trial

Synthetic CT studies of {n} subjects with known answers, written by `tools/make_demo.py` (run
`python tools/make_demo.py --out test_images`; the output is the same byte for byte on every run with the
same pydicom and highdicom versions, here pydicom {pydicom} and highdicom {highdicom}). Nothing here comes
from a real patient: names, dates and images are made up.

Score it with `irrecist score test_images --out results`; `annotations.csv` supplies the roles that the
SEG and RTSTRUCT objects lack and must be merged onto the rows read from DICOM (issue 3: `--annotations`).
Regenerate some subjects only with `--subjects DEMO-001 ...` (the three text files then list only those).

## Layout
- `DEMO-00n/<date>_<visit>/ct/NNN.dcm`: one axial CT series per assessment, 64 x 64 pixels, 20 to 32
  slices of 3 to 5 mm, 1.5 or 2 mm pixels, 12-bit stored values with rescale slope 1, intercept -1024
  (Hounsfield units). Lesions are ellipsoids of known diameters; each lesion's centre lies exactly on a
  slice, so its true long and short axes are those of its section on that slice; the cranio-caudal
  semi-axis is 0.4 x the short axis. Study and series UIDs are fixed (hashes of fixed strings).
  Headers carry the visit label as Clinical Trial Time Point ID (0012,0050).
- `sr.dcm`: Comprehensive 3D SR, TID 1500; one TID 1501 measurement group per lesion with Tracking
  Identifier (the lesion id) and a fixed Tracking UID per lesion, Finding `SCT 52988006` Lesion, Finding
  Site (the organ), TID 1502 time point context (the visit label, Baseline / Posttreatment), Long Axis
  `SCT 103339001` and Short Axis `SCT 103340004` in `mm`, each inferred from a two-point SCOORD POLYLINE on
  the CT slice through the lesion's centre, and at baseline the qualitative evaluation Baseline Category
  `DCM 112016` = `DCM 112074` Target / `DCM 112075` Non-Target Lesion at Baseline. The values are the true
  diameters. No observer is recorded: the trial has one reader, and every row's reader is empty.
- `seg.dcm`: binary SEG, one segment per lesion (label, tracking id = lesion id, fixed tracking UID);
  voxels whose centre lies inside the ellipsoid. Diameters measured on the mask differ from the true ones
  by less than one voxel.
- `rtstruct.dcm`: RT Structure Set, one ROI per lesion (ROIName = lesion id), a CLOSED_PLANAR contour of
  the ellipsoid's exact section (64 points, including both ends of each axis) on every slice it crosses.
- `annotations.csv`: the lesion table (`../shared/spec/lesion-table.md` columns): role, organ and nodal
  flag of the lesions whose DICOM objects do not carry them (SEG, RTSTRUCT, new lesions and nodes in SR;
  measurements empty, they come from DICOM), and every measurement of DEMO-008, which has no measurement
  object. Merge it onto what DICOM provides (`--annotations`).
- `expected.json`: the same ground truth as this file, machine-readable.

## How the expected answers were made
From the ellipsoids' true diameters, by the rules of `../shared/spec/decisions.md` section 4 (irRECIST,
default options: irPD at +20 % and +5 mm over the nadir, confirmation at the next scan >= 28 days later
against the same nadir; irPR at -30 % from baseline, confirmed >= 28 days later; SD minimum 42 days from the
baseline scan; baseline LD <= 60 mm). They were worked out by hand, and `tools/demo_score.py` (independent of
the irrecist engine) re-derives them each time the generator runs. Every value is far from a threshold,
so the at-most-one-voxel error of SEG diameters cannot change a call. A node's measure is its short axis.
The assessment that confirms an irPD is marked `confirmed`, as is the irPD it confirms.

## Summary

| subject | story | measurements in | baseline eligible | ineligible lesions | BOR | BOR confirmed |
|---|---|---|---|---|---|---|
"""


def readme(subjects: Sequence[SubjectSpec], results: Sequence[SubjectResult]) -> str:
    """README.md: layout, method, and per subject the story, true diameters and expected responses."""
    parts = [INTRO.format(n=len(subjects), pydicom=pydicom.__version__, highdicom=highdicom.__version__)]
    for subj, res in zip(subjects, results, strict=True):
        cells = [subj.subject_id, TITLES[subj.subject_id], subj.fmt, _yes(res.baseline_eligible),
                 ", ".join(res.ineligible_lesions) or "-", res.bor, _yes(res.bor_confirmed)]
        parts.append(f"| {' | '.join(cells)} |\n")
    for subj, res in zip(subjects, results, strict=True):
        n = subj.n_timepoints
        parts.append(f"\n## {subj.subject_id}\n\n{subj.story}\n\n"
                     f"Measurements in: {FORMAT_NAMES[subj.fmt]}. "
                     f"Grid: {num(subj.pixel_spacing_mm)} mm pixels, "
                     f"{subj.n_slices} slices of {num(subj.slice_thickness_mm)} mm.\n\n"
                     "True diameters, long x short axis (mm):\n\n")
        head = " | ".join(f"{subj.label(i)} {subj.date(i).isoformat()}" for i in range(n))
        parts.append(f"| lesion | role | organ | nodal | {head} |\n|{'---|' * (4 + n)}\n")
        for les in subj.lesions:
            sizes = " | ".join(_size_cell(les, i) for i in range(n))
            parts.append(f"| {les.lesion_id} | {les.role} | {les.organ} | {_yes(les.nodal)} | {sizes} |\n")
        parts.append("\nExpected irRECIST responses:\n\n| assessment | date | days from baseline | "
                     "target sum mm | TMTB mm | nadir mm | change from baseline % | response | pd status |\n"
                     "|---|---|---|---|---|---|---|---|---|\n")
        for tp in res.timepoints:
            row = [tp.label, tp.date, str(tp.days), num(tp.target_sum_mm), num(tp.tmtb_mm), num(tp.nadir_mm),
                   num(tp.pct_from_baseline), tp.response, tp.pd_status]
            parts.append(f"| {' | '.join(row)} |\n")
        conf = {True: "confirmed", False: "not confirmed", None: "confirmation not applicable"}
        verdict = "eligible" if res.baseline_eligible else f"ineligible ({', '.join(res.ineligible_lesions)})"
        pd = f", PD date {res.pd_date}" if res.pd_date else ""
        parts.append(f"\nBOR: **{res.bor}** ({conf[res.bor_confirmed]}{pd}). "
                     f"Baseline 6 cm check: {verdict}.\n")
    return "".join(parts)
