"""DICOM SEG reader: real files (read in place) and SEGs written here with highdicom."""

from __future__ import annotations

import math
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import Level
from irrecist.lesions.seg import SegReader

NODULE = "pydicomutils/examples/data/ct_images/dcm_segmentation/nodule_01_annotation_0.dcm"
LIVER = "dcmqi/data/segmentations/liver.dcm"
LIVER_BE = "pydicom-data/data_store/data/liver_expb.dcm"
OVERLAPS = "dcmqi/data/segmentations/partial_overlaps.dcm"
SYNGO = "QuantitativeReporting/Prototype/TestData/DICOM.SEG/syngo.seg.dcm"
FRACTIONAL = "highdicom/data/test_files/seg_image_ct_true_fractional.dcm"

SPACING = (0.8, 0.5)  # PixelSpacing: row spacing, column spacing


def errors(result: object) -> list[str]:
    return [p.message for p in result.problems if p.level is Level.ERROR]  # type: ignore[attr-defined]


# -- real files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("corners", "expected"), [(False, 31.8), (True, 32.7)])
def test_lidc_nodule_largest_axial_diameter(real_data: Path, corners: bool, expected: float) -> None:
    path = real_data / NODULE
    reader = SegReader(corners=corners)
    assert reader.can_read(path)
    result = reader.read(path)
    assert not result.problems
    (row,) = result.rows
    assert set(LESION_COLUMNS) <= set(row)
    assert row["long_axis_mm"] == pytest.approx(expected, abs=0.1)
    assert 0 < row["short_axis_mm"] < row["long_axis_mm"]
    assert row["lesion_id"] == "Nodule 1" and row["tracking_id"] == "Nodule 1"
    assert row["label"] == "Nodule 1 - Annotation 0"
    assert (row["subject_id"], row["date"], row["timepoint"]) == ("LIDC-IDRI-0001", "2000-01-01", "")
    assert (row["status"], row["unit"], row["slice_thickness_mm"]) == ("present", "mm", 2.5)
    assert row["organ"] == "Lung"
    assert row["source"] == f"{path}#{row['sop_instance_uid']}"


def test_big_endian_liver_equals_little_endian_twin(real_data: Path) -> None:
    reader = SegReader()
    little = reader.read(real_data / LIVER)
    big = reader.read(real_data / LIVER_BE)
    assert not little.problems
    assert [p.level for p in big.problems] == [Level.WARNING]  # highdicom refused: pydicom fallback
    assert "pydicom" in big.problems[0].message
    keys = ["subject_id", "date", "lesion_id", "long_axis_mm", "short_axis_mm", "slice_thickness_mm"]
    assert [[r[k] for k in keys] for r in big.rows] == [[r[k] for k in keys] for r in little.rows]
    assert little.rows[0]["long_axis_mm"] > 100


def test_overlapping_segments_each_measured(real_data: Path) -> None:
    result = SegReader().read(real_data / OVERLAPS)
    assert not result.problems
    assert [r["lesion_id"] for r in result.rows] == ["GREEN", "ORANGE", "PURPLE", "LIGHT_BLUE", "DARK_BLUE"]
    assert all(r["long_axis_mm"] > 0 for r in result.rows)


def test_vendor_seg_without_coded_properties(real_data: Path) -> None:
    """Siemens syngo SEG: highdicom refuses it, geometry only in per-frame groups."""
    result = SegReader().read(real_data / SYNGO)
    assert not errors(result)
    (row,) = result.rows
    assert row["lesion_id"] == "0" and row["long_axis_mm"] > 0 and row["slice_thickness_mm"] == 1.0


def test_real_fractional_seg(real_data: Path) -> None:
    result = SegReader().read(real_data / FRACTIONAL)
    assert not result.problems
    assert result.rows[0]["long_axis_mm"] > 0


def test_header_dataset_input(real_data: Path) -> None:
    header = pydicom.dcmread(real_data / NODULE, stop_before_pixels=True)
    reader = SegReader()
    assert reader.can_read(header)
    assert reader.read(header).rows[0]["long_axis_mm"] == pytest.approx(31.77, abs=0.01)
    assert not reader.can_read(pydicom.dcmread(real_data / "dicompyler-core/tests/testdata/example_data/rtss.dcm"))


# -- SEGs written here ----------------------------------------------------------------------------


def ct_series(n: int = 3, size: int = 64, thickness: float = 2.0) -> list[Dataset]:
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    out = []
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_of_ref
        ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "P-007", "Secret^Patient", "", "O"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240305", "101500", "1", ""
        ds.ReferringPhysicianName, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "", "CT", 1, k + 1
        ds.ImagePositionPatient = [-10.0, -20.0, 5.0 + k * thickness]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = list(SPACING), thickness
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.zeros((size, size), np.uint16).tobytes()
        out.append(ds)
    return out


def ellipse(size: int, cy: float, cx: float, b: float, a: float) -> NDArray[np.bool_]:
    yy, xx = np.mgrid[0:size, 0:size]
    return ((xx - cx) * SPACING[1] / a) ** 2 + ((yy - cy) * SPACING[0] / b) ** 2 <= 1


def write_seg(
    tmp: Path,
    pixels: NDArray[np.generic],
    descs: list[hd.seg.SegmentDescription],
    segmentation_type: hd.seg.SegmentationTypeValues = hd.seg.SegmentationTypeValues.BINARY,
) -> Path:
    seg = hd.seg.Segmentation(
        source_images=ct_series(),
        pixel_array=pixels,
        segment_descriptions=descs,
        series_instance_uid=generate_uid(),
        series_number=100,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="irrecist tests",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="1",
        content_creator_name="Reader^A",
        segmentation_type=segmentation_type,
    )
    path = tmp / "seg.dcm"
    seg.save_as(path)
    return path


def desc(
    number: int, label: str, tracking_id: str | None = None, region: Code | None = None
) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_id=tracking_id,
        tracking_uid=generate_uid() if tracking_id else None,
        anatomic_regions=[region] if region is not None else None,
    )


def test_written_binary_seg_known_shapes(tmp_path: Path) -> None:
    """Segment 1: a 12 x 31 pixel rectangle; segment 2 (overlapping it): ellipses, largest on slice 2."""
    pixels = np.zeros((3, 64, 64, 2), bool)
    pixels[1, 10:22, 5:36, 0] = True
    pixels[0, :, :, 1] = ellipse(64, 32, 32, 6.0, 10.0)
    pixels[2, :, :, 1] = ellipse(64, 30, 30, 8.2, 12.3)  # semi-axes b (y) and a (x) in mm
    path = write_seg(
        tmp_path, pixels, [desc(1, "rect", "T1", codes.SCT.Liver), desc(2, "ellipse", None, codes.SCT.LymphNode)]
    )
    for corners, n_r, n_c in ((False, 11, 30), (True, 12, 31)):
        result = SegReader(corners=corners).read(path)
        assert not result.problems
        rect, ell = result.rows
        a, b = n_c * SPACING[1], n_r * SPACING[0]  # 15 x 9.6 mm (centres) or 15.5 x 9.6
        d = math.hypot(a, b)
        assert rect["long_axis_mm"] == pytest.approx(d, abs=1e-9)
        assert rect["short_axis_mm"] == pytest.approx(min(a, b) * d / max(a, b), abs=1e-9)
        assert (rect["lesion_id"], rect["organ"], rect["nodal"]) == ("T1", "Liver", None)
        assert (ell["lesion_id"], ell["organ"], ell["nodal"]) == ("ellipse", "Lymph Node", True)
        shrink = 0.0 if corners else sum(SPACING) / 2
        assert abs(ell["long_axis_mm"] - (24.6 - shrink)) <= math.hypot(*SPACING)
        assert abs(ell["short_axis_mm"] - (16.4 - shrink)) <= math.hypot(*SPACING)
        assert (rect["subject_id"], rect["date"], rect["reader"]) == ("P-007", "2024-03-05", "Reader^A")
        assert rect["slice_thickness_mm"] == 2.0
        assert all("Secret" not in str(v) for r in result.rows for v in r.values())


def test_written_fractional_seg_threshold(tmp_path: Path) -> None:
    """Probability 0.6 inside a rectangle and 0.4 around it: only the rectangle is >= 0.5."""
    pixels = np.zeros((3, 64, 64), np.float32)
    pixels[1, 5:40, 5:50] = 0.4
    pixels[1, 10:22, 10:40] = 0.6
    path = write_seg(tmp_path, pixels, [desc(1, "prob")], segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL)
    (row,) = SegReader(corners=True).read(path).rows
    a, b = 30 * SPACING[1], 12 * SPACING[0]
    assert row["long_axis_mm"] == pytest.approx(math.hypot(a, b), abs=1e-9)
    assert row["lesion_id"] == "prob"


def test_truncated_and_garbage_files_give_error_problems(real_data: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes((real_data / NODULE).read_bytes()[:5000])
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"not dicom at all" * 10)
    reader = SegReader()
    assert not reader.can_read(garbage)
    for path in (truncated, garbage, tmp_path / "missing.dcm"):
        result = reader.read(path)
        assert result.rows == []
        assert errors(result), path
        assert all(str(path) in p.source for p in result.problems if p.level is Level.ERROR)


def test_empty_segment_is_reported(tmp_path: Path) -> None:
    pixels = np.zeros((3, 64, 64, 2), bool)
    pixels[1, 10:20, 10:20, 0] = True
    path = write_seg(tmp_path, pixels, [desc(1, "full"), desc(2, "empty")])
    result = SegReader().read(path)
    assert [r["lesion_id"] for r in result.rows] == ["full"]
    (problem,) = result.problems
    assert problem.level is Level.WARNING and problem.lesion_id == "empty"


def test_written_label_map_seg(tmp_path: Path) -> None:
    """Label Map Segmentation Storage (one frame holds every segment as its number)."""
    pixels = np.zeros((3, 64, 64), np.uint8)
    pixels[1, 10:22, 5:36] = 1
    pixels[2, 30:40, 30:60] = 2
    path = write_seg(tmp_path, pixels, [desc(1, "a"), desc(2, "b")], hd.seg.SegmentationTypeValues.LABELMAP)
    result = SegReader(corners=True).read(path)
    assert not result.problems
    lengths = {r["lesion_id"]: r["long_axis_mm"] for r in result.rows}
    assert lengths == {"a": pytest.approx(math.hypot(15.5, 9.6)), "b": pytest.approx(math.hypot(15.0, 8.0))}
