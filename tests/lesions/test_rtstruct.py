"""RTSTRUCT reader: real structure sets (read in place) and one written here with known shapes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ImplicitVRLittleEndian, generate_uid

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import Level
from irrecist.index import read_image_plane
from irrecist.lesions import geometry
from irrecist.lesions.base import PATIENT, PIXEL, ImagePlane, MeasuredLine
from irrecist.lesions.rtstruct import RTSTRUCT_SOP_CLASS, RtStructReader, _longest_plane

DICOMPYLER = "dicompyler-core/tests/testdata/example_data/rtss.dcm"
NO_META = "pydicom/test_files/rtstruct.dcm"
MIM = "rt-utils/tests/empty/dummy_rt.dcm"


def by_id(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["lesion_id"]: r for r in rows}


def test_dicompyler_tumour_bed(real_data: Path) -> None:
    path = real_data / DICOMPYLER
    reader = RtStructReader()
    assert reader.can_read(path)
    result = reader.read(path)
    rows = by_id(result.rows)
    bed = rows["Tumor Bed"]
    assert set(LESION_COLUMNS) <= set(bed)
    assert bed["long_axis_mm"] == pytest.approx(27.5, abs=0.05)
    assert 0 < bed["short_axis_mm"] < bed["long_axis_mm"]  # type: ignore[operator]
    assert rows["Tumor Bed Block"]["long_axis_mm"] == pytest.approx(48.07, abs=0.01)
    assert rows["Nodes"]["long_axis_mm"] == pytest.approx(11.00, abs=0.01)
    assert rows["Scar"]["long_axis_mm"] == pytest.approx(14.67, abs=0.01)
    assert rows["Heart"]["long_axis_mm"] == pytest.approx(105.10, abs=0.01)
    assert (bed["subject_id"], bed["timepoint"], bed["status"], bed["unit"]) == ("123456", "", "present", "mm")
    assert bed["date"] == "1901-01-01"
    assert str(bed["source"]).startswith(f"{path}#")
    # the empty ROI "Areola" gives a warning and no row
    assert "Areola" not in rows
    (problem,) = result.problems
    assert problem.level is Level.WARNING and problem.lesion_id == "Areola" and "empty" in problem.message
    # the patient's name is never copied
    assert all("boost" not in str(v).lower() for r in result.rows for v in r.values())


def test_file_without_meta_needs_force(real_data: Path) -> None:
    path = real_data / NO_META
    reader = RtStructReader()
    assert reader.can_read(path)
    result = reader.read(path)
    assert [r["lesion_id"] for r in result.rows] == ["patient"]
    point_rois = [p.lesion_id for p in result.problems if "POINT" in p.message]
    assert point_rois == ["Isocenter 1", "Isocenter 2"]
    assert not [p for p in result.problems if p.level is Level.ERROR]


def test_mim_structure_set(real_data: Path) -> None:
    rows = by_id(RtStructReader().read(real_data / MIM).rows)
    expected = {"ROI-1": 36.40, "ROI-2": 30.90, "ROI-3": 34.34, "ROI-4": 43.53}
    assert {k: round(float(rows[k]["long_axis_mm"]), 2) for k in expected} == expected  # type: ignore[arg-type]


def contour(points: list[tuple[float, float, float]], kind: str = "CLOSED_PLANAR") -> Dataset:
    item = Dataset()
    item.ContourGeometricType = kind
    item.NumberOfContourPoints = len(points)
    item.ContourData = [f"{v:g}" for p in points for v in p]
    return item


def rect_z(x0: float, y0: float, w: float, h: float, z: float) -> list[tuple[float, float, float]]:
    return [(x0, y0, z), (x0 + w, y0, z), (x0 + w, y0 + h, z), (x0, y0 + h, z)]


def structure_set() -> Dataset:
    rois: dict[str, list[Dataset]] = {
        "T1": [contour(rect_z(0, 0, 30, 10, 0)), contour(rect_z(0, 0, 20, 8, 3))],
        "ring": [contour(rect_z(0, 0, 24, 24, 6)), contour(rect_z(8, 8, 8, 8, 6)[::-1])],
        "sagittal": [contour([(5, 0, 0), (5, 20, 0), (5, 20, 12), (5, 0, 12)])],
        "empty": [],
        "point": [contour([(1, 2, 3)], "POINT")],
        "bad data": [contour(rect_z(0, 0, 4, 3, 0)), contour(rect_z(0, 0, 4, 3, 3))],
    }
    rois["bad data"][1].ContourData = ["1", "2", "3", "4"]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(RTSTRUCT_SOP_CLASS)
    ds.SOPClassUID = RTSTRUCT_SOP_CLASS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.PatientName, ds.StudyDate, ds.Modality = "RT-01", "Hidden^Name", "20230911", "RTSTRUCT"
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    for number, (name, items) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        ds.StructureSetROISequence.append(roi)
        if items:
            rc = Dataset()
            rc.ReferencedROINumber = number
            rc.ContourSequence = Sequence(items)
            ds.ROIContourSequence.append(rc)
    return ds


def test_written_structure_set(tmp_path: Path) -> None:
    path = tmp_path / "rs.dcm"
    structure_set().save_as(path, enforce_file_format=True)
    reader = RtStructReader()
    for obj in (path, pydicom.dcmread(path)):
        assert reader.can_read(obj)
        result = reader.read(obj)
        rows = by_id(result.rows)
        assert list(rows) == ["T1", "ring", "sagittal", "bad data"]
        d = math.hypot(30, 10)
        assert rows["T1"]["long_axis_mm"] == pytest.approx(d)
        assert rows["T1"]["short_axis_mm"] == pytest.approx(10 * d / 30)
        assert rows["ring"]["long_axis_mm"] == pytest.approx(24 * math.sqrt(2))
        assert rows["ring"]["short_axis_mm"] == pytest.approx(16 * math.sqrt(2))  # the hole cuts the chords
        d = math.hypot(20, 12)
        assert rows["sagittal"]["long_axis_mm"] == pytest.approx(d)
        assert rows["sagittal"]["short_axis_mm"] == pytest.approx(12 * d / 20)
        assert rows["bad data"]["long_axis_mm"] == pytest.approx(5.0)
        assert (rows["T1"]["subject_id"], rows["T1"]["date"]) == ("RT-01", "2023-09-11")
        warned = sorted(p.lesion_id for p in result.problems)
        assert warned == ["bad data", "empty", "point"]
        assert all(p.level is Level.WARNING for p in result.problems)
        assert all("Hidden" not in str(v) for r in result.rows for v in r.values())


def test_truncated_file_gives_error_problem(real_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.dcm"
    path.write_bytes((real_data / DICOMPYLER).read_bytes()[:3000])
    result = RtStructReader().read(path)
    assert result.rows == []
    assert [p.level for p in result.problems] == [Level.ERROR]
    assert str(path) in result.problems[0].source
    assert RtStructReader().read(tmp_path / "missing.dcm").problems[0].level is Level.ERROR


# ------------------------------------------------------------------------------------------- lines


def header(ipp: list[float], iop: list[float], spacing: list[float]) -> Dataset:
    ds = Dataset()
    ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing = ipp, iop, spacing
    return ds


def test_lines_in_patient_space_on_the_named_image() -> None:
    """Each ROI's long and short axis end points, in patient mm on the measured plane, with the image the
    plane's first contour names (ContourImageSequence, PS3.3 C.8.8.6); no image named, no line."""
    ds = structure_set()
    for k in range(3):  # T1, ring, sagittal
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", f"1.2.3.{k}"
        ds.ROIContourSequence[k].ContourSequence[0].ContourImageSequence = [ref]
    result = RtStructReader().read(ds)
    rows = [r["lesion_id"] for r in result.rows]
    got = {(rows[ln.row], ln.axis): ln for ln in result.lines}
    assert set(got) == {(n, a) for n in ("T1", "ring", "sagittal") for a in ("long", "short")}
    assert all(ln.space == PATIENT and ln.frame is None for ln in result.lines)
    t1 = got["T1", "long"]
    assert t1.sop_instance_uid == "1.2.3.0" and {t1.start, t1.end} == {(0.0, 0.0, 0.0), (30.0, 10.0, 0.0)}
    short = got["T1", "short"]
    assert math.dist(short.start, short.end) == pytest.approx(result.rows[0]["short_axis_mm"])
    assert short.start[2] == short.end[2] == 0.0
    sag = got["sagittal", "long"]  # an oblique basis internally; back in patient mm on the x = 5 plane
    assert {tuple(round(v, 9) for v in p) for p in (sag.start, sag.end)} in (
        {(5.0, 0.0, 0.0), (5.0, 20.0, 12.0)},
        {(5.0, 20.0, 0.0), (5.0, 0.0, 12.0)},
    )
    for axis in ("long", "short"):
        ln = got["sagittal", axis]
        assert ln.start[0] == pytest.approx(5.0) and ln.end[0] == pytest.approx(5.0)
        want = result.rows[2]["long_axis_mm" if axis == "long" else "short_axis_mm"]
        assert math.dist(ln.start, ln.end) == pytest.approx(want)


def test_patient_line_to_pixels() -> None:
    """C.7.6.2.1.1: column = (P - IPP).row_cosines / column spacing, row = (P - IPP).column_cosines / row spacing,
    plus 0.5 (IPP is the first pixel's centre; lines use its corner as (0, 0)); off the plane: no line."""
    plane = ImagePlane.from_header(header([-100, -50, 0], [1, 0, 0, 0, 1, 0], [0.5, 2.0]))
    assert plane is not None
    line = MeasuredLine(3, "long", "1.2", None, (-100.0, -50.0, 0.2), (-90.0, -40.0, 0.0), PATIENT)
    px = line.to_pixels(plane)
    assert px is not None and px.space == PIXEL and px.row == 3
    assert px.start == pytest.approx((0.5, 0.5)) and px.end == pytest.approx((5.5, 20.5))
    assert MeasuredLine(0, "long", "1.2", None, (0.0, 0.0, 3.0), (1.0, 1.0, 3.0), PATIENT).to_pixels(plane) is None
    # a sagittal image: columns along -y (anterior to posterior flipped), rows along -z
    sag = ImagePlane.from_header(header([5, 100, 50], [0, -1, 0, 0, 0, -1], [1.0, 1.0]))
    assert sag is not None
    px = MeasuredLine(0, "long", "1.2", None, (5.0, 100.0, 50.0), (5.0, 80.0, 38.0), PATIENT).to_pixels(sag)
    assert px is not None and px.start == pytest.approx((0.5, 0.5)) and px.end == pytest.approx((20.5, 12.5))


@pytest.mark.parametrize(
    "bad",
    [
        header([0, 0], [1, 0, 0, 0, 1, 0], [1, 1]),  # IPP of two values
        header([0, 0, 0], [1, 0, 0, 1, 0, 0], [1, 1]),  # parallel directions
        header([0, 0, 0], [2, 0, 0, 0, 1, 0], [1, 1]),  # not unit
        header([0, 0, 0], [1, 0, 0, 0, 1, 0], [0, 1]),  # zero spacing
        Dataset(),  # nothing
    ],
    ids=["ipp", "parallel", "norm", "spacing", "empty"],
)
def test_image_plane_refuses_bad_headers(bad: Dataset) -> None:
    assert ImagePlane.from_header(bad) is None


def test_image_plane_of_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").write_bytes(b"not dicom at all")
    assert read_image_plane(tmp_path / "x.dcm") is None
    assert read_image_plane(tmp_path / "missing.dcm") is None


def test_real_mim_lines_on_present_slices(real_data: Path) -> None:
    """MIM's structure set: each ROI's widest plane is z = 60 or 65, the two CT slices rt-utils ships (ct_1, ct_2);
    mapped on them, each line's pixel length with their 0.488281 mm spacing is the recorded size."""
    result = RtStructReader().read(real_data / MIM)
    cts = {}
    for name in ("ct_1.dcm", "ct_2.dcm"):
        path = real_data / "rt-utils" / "tests" / "mock_data" / name
        cts[pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID] = read_image_plane(path)
    assert len(result.lines) == 8
    for line in result.lines:
        plane = cts[line.sop_instance_uid]
        assert plane is not None
        px = line.to_pixels(plane)
        assert px is not None
        row = result.rows[line.row]
        want = row["long_axis_mm"] if line.axis == "long" else row["short_axis_mm"]
        drawn = math.hypot((px.end[0] - px.start[0]) * 0.488281, (px.end[1] - px.start[1]) * 0.488281)
        assert drawn == pytest.approx(want, abs=1e-3)


def test_longest_plane_is_the_first_longest_in_order() -> None:
    """Skipping planes that cannot reach the longest axis found gives the plane (and axis) that measuring every
    plane in order gives: the first with the longest axis, ties included (equal and mirrored contours)."""
    rng = np.random.default_rng(6)
    for _ in range(300):
        planes: list[tuple[object, np.ndarray]] = []
        for k in range(int(rng.integers(1, 8))):
            if planes and rng.random() < 0.3:  # the same contour again, or mirrored: a tie
                points = planes[int(rng.integers(len(planes)))][1] * rng.choice([1.0, -1.0])
            else:
                n = int(rng.integers(1, 40))
                points = rng.normal(0.0, rng.uniform(0.1, 30.0), (n, 2)) + rng.uniform(-100, 100, 2)
            planes.append((("plane", k), points))
        first, best = None, None
        for key, points in planes:
            axis = geometry.long_axis(points)
            if best is None or axis.length_mm > best.length_mm:
                first, best = key, axis
        assert _longest_plane(planes) == (first, best)
    # a later plane as long as an earlier one but reaching further (its centroid off centre) is measured first
    pair = np.array([[0.0, 0.0], [10.0, 0.0]])
    lopsided = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert _longest_plane([("pair", pair), ("lopsided", lopsided)])[0] == "pair"
