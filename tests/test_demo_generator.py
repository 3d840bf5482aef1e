"""The demo trial generator (tools/make_demo.py, issue 4): deterministic output, valid DICOM read back with
pydicom and highdicom, ground truth consistent between README.md, expected.json and the objects."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.coding import Code

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "test_images"
sys.path.insert(0, str(REPO / "tools"))

import demo_dicom  # noqa: E402
import demo_measure  # noqa: E402
import demo_score  # noqa: E402
from demo_spec import SUBJECTS, subject  # noqa: E402

LONG, SHORT = Code("103339001", "SCT", "Long Axis"), Code("103340004", "SCT", "Short Axis")
TIME_POINT = Code("C2348792", "UMLS", "Time Point")
TOLERANCE_VOXELS = 0.8  # SEG diameters vs truth, both point conventions (kept under one voxel)


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run(out: Path, *subjects: str) -> None:
    args = [sys.executable, str(REPO / "tools" / "make_demo.py"), "--out", str(out)]
    if subjects:
        args += ["--subjects", *subjects]
    subprocess.run(args, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    _run(out)
    return out


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return dict(json.loads((DEMO / "expected.json").read_text(encoding="utf-8")))


def test_regenerating_reproduces_test_images_byte_for_byte(generated: Path, expected: dict[str, Any]) -> None:
    made_with = expected["generated_with"]
    if made_with != {"pydicom": pydicom.__version__, "highdicom": hd.__version__}:
        if os.environ.get("CI", "").lower() == "true":  # the test extra pins the writer versions
            pytest.fail(f"test_images/ was written with {made_with}; installed pydicom {pydicom.__version__}, "
                        f"highdicom {hd.__version__}")
        pytest.skip(f"test_images/ was written with {made_with}; installed pydicom {pydicom.__version__}, "
                    f"highdicom {hd.__version__} write other bytes (determinism is tested separately)")
    assert _hashes(generated) == _hashes(DEMO)


def test_two_runs_are_identical(generated: Path, tmp_path: Path) -> None:
    _run(tmp_path, "DEMO-002", "DEMO-004")  # another process, another hash seed
    for sid in ("DEMO-002", "DEMO-004"):
        assert _hashes(tmp_path / sid) == _hashes(generated / sid)


def test_size_under_15_mb() -> None:
    assert sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file()) < 15 * 1024 * 1024


def test_hand_derived_answers_equal_the_independent_scorer(expected: dict[str, Any]) -> None:
    for subj in SUBJECTS:
        res = demo_score.score(subj)
        got = expected["subjects"][subj.subject_id]
        assert tuple(t["response"] for t in got["timepoints"]) == subj.responses
        assert tuple(t["pd_status"] for t in got["timepoints"]) == subj.pd_status
        want = (subj.bor, subj.bor_confirmed, subj.eligible)
        assert (got["bor"], got["bor_confirmed"], got["baseline_eligible"]) == want
        assert (res.bor, res.bor_confirmed, res.baseline_eligible) == want
    stories = {s.subject_id: (s.bor, s.bor_confirmed, s.eligible) for s in SUBJECTS}
    assert ("irPR", True, True) in stories.values() and ("irCR", True, True) in stories.values()
    assert {"irSD", "irPD", "irNN"} <= {s.bor for s in SUBJECTS}
    assert any("unconfirmed" in s.pd_status for s in SUBJECTS)
    assert not stories["DEMO-007"][2]


def _ct_and_objects(root: Path) -> tuple[list[Path], list[Path]]:
    files = sorted(root.rglob("*.dcm"))
    return [p for p in files if p.parent.name == "ct"], [p for p in files if p.parent.name != "ct"]


def test_every_object_reads_back_with_pydicom(expected: dict[str, Any]) -> None:
    ct, objects = _ct_and_objects(DEMO)
    assert len(ct) == sum(s.n_slices * s.n_timepoints for s in SUBJECTS)
    names = {s.subject_id: s.patient_name for s in SUBJECTS}
    for path in ct[::7] + objects:
        ds = pydicom.dcmread(path)
        sid = path.relative_to(DEMO).parts[0]
        assert ds.PatientID == sid and str(ds.PatientName) == names[sid]
        assert ds.StudyDate and ds.StudyInstanceUID and ds.SOPInstanceUID
        if path.parent.name == "ct":
            assert ds.Modality == "CT" and ds.Rows == ds.Columns == 64 and ds.BitsAllocated == 16
            assert float(ds.SliceThickness) <= 5 and len(ds.ImagePositionPatient) == 3
            assert ds.pixel_array.shape == (64, 64)
    for subj in expected["subjects"].values():
        for tp in subj["timepoints"]:
            first = pydicom.dcmread(DEMO / tp["folder"] / "ct" / "001.dcm", stop_before_pixels=True)
            assert first.StudyDate == tp["date"].replace("-", "")
            assert first.ClinicalTrialTimePointID == tp["label"]


def _sr_groups(path: Path) -> dict[str, Any]:
    sr = hd.sr.srread(path)
    assert isinstance(sr.content, hd.sr.MeasurementReport)
    return {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}


def test_sr_measurements_read_back_with_highdicom(expected: dict[str, Any]) -> None:
    n = 0
    for subj in (s for s in SUBJECTS if s.fmt == "sr"):
        geo = demo_dicom.geometry(subj)
        truth = expected["subjects"][subj.subject_id]
        for i, tp in enumerate(truth["timepoints"]):
            path = DEMO / tp["folder"] / "sr.dcm"
            groups = _sr_groups(path)
            present = {k: v for k, v in tp["lesions"].items() if v["status"] == "present"}
            assert set(groups) == set(present)
            ct_uids = [pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
                       for p in sorted((path.parent / "ct").glob("*.dcm"))]
            for les in subj.lesions:
                if les.lesion_id not in groups:
                    continue
                g = groups[les.lesion_id]
                assert g.tracking_uid == demo_dicom.uid(subj.subject_id, les.lesion_id, "tracking")
                for code, key in ((LONG, "long_axis_mm"), (SHORT, "short_axis_mm")):
                    (m,) = g.get_measurements(name=code)
                    assert m.value == present[les.lesion_id][key] and m.unit.value == "mm"
                    (scoord,) = m.referenced_coordinates
                    assert scoord.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == \
                        ct_uids[les.slice_index]
                    (c0, r0), (c1, r1) = np.asarray(scoord.value, dtype=float)
                    assert math.hypot(c1 - c0, r1 - r0) * geo.spacing == pytest.approx(m.value, abs=1e-3)
                categories = {q.value for q in g.get_qualitative_evaluations()
                              if q.name == Code("112016", "DCM", "Baseline Category")}
                codes = {"target": {"112074"}, "non-target": {"112075"}}
                want = codes.get(les.role, set()) if i == 0 else set()
                assert {c.value for c in categories} == want
                labels = hd.sr.utils.find_content_items(g[0], name=TIME_POINT, recursive=True)
                assert [item.TextValue for item in labels] == [tp["label"]]
                assert g.finding_sites[0].value.meaning.lower() == les.organ
                n += 1
    assert n > 20


def test_seg_reads_back_with_highdicom_and_masks_measure_within_one_voxel(expected: dict[str, Any]) -> None:
    for subj in (s for s in SUBJECTS if s.fmt == "seg"):
        geo = demo_dicom.geometry(subj)
        for i, tp in enumerate(expected["subjects"][subj.subject_id]["timepoints"]):
            folder = DEMO / tp["folder"]
            seg = hd.seg.segread(folder / "seg.dcm")
            numbers = seg.get_segment_numbers()
            ids = [seg.get_segment_description(k).tracking_id for k in numbers]
            assert ids == [k for k, v in tp["lesions"].items() if v["status"] == "present"]
            uids = [pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
                    for p in sorted((folder / "ct").glob("*.dcm"))]
            pixels = seg.get_pixels_by_source_instance(
                uids, segment_numbers=numbers, ignore_spatial_locations=True,
                assert_missing_frames_are_empty=True)
            for n, lid in enumerate(ids):
                les = next(x for x in subj.lesions if x.lesion_id == lid)
                mask = pixels[..., n].astype(bool)
                assert np.array_equal(mask, demo_dicom.lesion_mask(les, i, geo))
                true = tp["lesions"][lid]
                tol = TOLERANCE_VOXELS * geo.spacing
                for corners in (False, True):
                    la, sa = demo_measure.volume_axes(mask, geo.spacing, corners)
                    assert abs(la - true["long_axis_mm"]) <= tol, (lid, i, corners)
                    assert abs(sa - true["short_axis_mm"]) <= tol, (lid, i, corners)


def test_calls_survive_voxelisation() -> None:
    """Scoring the SEG subjects on mask-measured diameters (either convention) gives the same answers."""
    for subj in (s for s in SUBJECTS if s.fmt == "seg"):
        geo = demo_dicom.geometry(subj)
        for corners in (False, True):
            overrides = {(les.lesion_id, i): demo_measure.volume_axes(demo_dicom.lesion_mask(les, i, geo),
                                                                        geo.spacing, corners)
                         for les in subj.lesions for i in range(subj.n_timepoints) if les.sizes[i]}
            res = demo_score.score(subj, overrides)
            assert tuple(t.response for t in res.timepoints) == subj.responses
            want = (subj.bor, subj.bor_confirmed, subj.eligible)
            assert (res.bor, res.bor_confirmed, res.baseline_eligible) == want


def test_rtstruct_reads_back_and_contours_give_the_true_axes(expected: dict[str, Any]) -> None:
    for subj in (s for s in SUBJECTS if s.fmt == "rtstruct"):
        for tp in expected["subjects"][subj.subject_id]["timepoints"]:
            ds = pydicom.dcmread(DEMO / tp["folder"] / "rtstruct.dcm")
            assert ds.Modality == "RTSTRUCT"
            names = {r.ROINumber: r.ROIName for r in ds.StructureSetROISequence}
            assert sorted(names.values()) == sorted(tp["lesions"])
            for roi in ds.ROIContourSequence:
                true = tp["lesions"][names[roi.ReferencedROINumber]]
                longest = 0.0
                for contour in roi.ContourSequence:
                    pts = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
                    assert contour.ContourGeometricType == "CLOSED_PLANAR" and np.ptp(pts[:, 2]) == 0
                    d = np.linalg.norm(pts[:, None, :2] - pts[None, :, :2], axis=-1)
                    longest = max(longest, float(d.max()))
                assert longest == pytest.approx(true["long_axis_mm"], abs=0.01)


def _md_tables(section: str) -> list[list[list[str]]]:
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in section.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r"-+", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _mm(cell: str) -> float | None:
    return float(cell) if cell else None


def test_readme_tables_agree_with_expected_json(expected: dict[str, Any]) -> None:
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (DEMO-\d{3})\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    (summary,) = [t for t in _md_tables(text.split("\n## DEMO-")[0]) if t[0][0] == "subject"]
    yes = {"yes": True, "no": False, "": None}
    assert [row[0] for row in summary[1:]] == list(expected["subjects"]) == list(sections)
    for row in summary[1:]:
        subj = expected["subjects"][row[0]]
        want = (subj["baseline_eligible"], subj["bor"], subj["bor_confirmed"])
        assert (yes[row[3]], row[5], yes[row[6]]) == want
        assert row[4] == (", ".join(subj["ineligible_lesions"]) or "-")
    for sid, subj in expected["subjects"].items():
        sizes, responses = _md_tables(sections[sid])
        for row in sizes[1:]:
            for cell, tp in zip(row[4:], subj["timepoints"], strict=True):
                les = tp["lesions"].get(row[0])
                if les is None:
                    assert cell == "-"
                elif les["status"] == "absent":
                    assert cell == "absent"
                else:
                    axes = [les["long_axis_mm"], les["short_axis_mm"]]
                    assert [float(v) for v in cell.split(" x ")] == axes
        for row, tp in zip(responses[1:], subj["timepoints"], strict=True):
            assert (row[0], row[1], int(row[2])) == (tp["label"], tp["date"], tp["days_from_baseline"])
            sums = (tp["target_sum_mm"], tp["tmtb_mm"], tp["nadir_mm"])
            assert (_mm(row[3]), _mm(row[4]), _mm(row[5])) == sums
            assert (row[7], row[8]) == (tp["response"], tp["pd_status"])
        assert f"BOR: **{subj['bor']}**" in sections[sid]


def test_annotations_table_has_the_lesion_table_columns() -> None:
    from irrecist.columns import LESION_COLUMNS

    lines = (DEMO / "annotations.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == LESION_COLUMNS
    rows = [dict(zip(LESION_COLUMNS, line.split(","), strict=True)) for line in lines[1:]]
    for subj in SUBJECTS:
        mine = [r for r in rows if r["subject_id"] == subj.subject_id]
        if subj.fmt in ("seg", "rtstruct"):  # every lesion's role, organ and nodal flag
            assert {r["lesion_id"] for r in mine if r["role"]} == {les.lesion_id for les in subj.lesions}
        if subj.fmt == "csv":
            seen = [les.status(i) for les in subj.lesions for i in range(subj.n_timepoints)]
            assert len(mine) == len([s for s in seen if s])
    new = {r["lesion_id"] for r in rows if r["subject_id"] == "DEMO-004" and r["role"] == "new"}
    assert new == {"N1", "N2"}


def test_patient_names_stay_in_dicom_headers() -> None:
    for name in ("annotations.csv", "expected.json", "README.md"):
        text = (DEMO / name).read_text(encoding="utf-8")
        assert not any(s.patient_name in text or s.patient_name.replace("^", " ") in text for s in SUBJECTS)


def test_subject_lookup_names_the_known_ids() -> None:
    with pytest.raises(KeyError, match="DEMO-001"):
        subject("DEMO-999")
