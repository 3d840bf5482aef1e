"""Presentation state (GSPS) reader: real AGFA caliper (PROVENANCE section 12) and synthetic files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import Level
from irrecist.lesions.gsps import (
    GspsReader,
    image_spacing_from_files,
    length_in_label_mm,
    lesion_id_from_label,
    pixel_length_mm,
)
from tests.conftest import need_shared

GSPS_DIR = (
    "dcm4che-typeddicom",
    "dcm4che-typeddicom-lib",
    "dcm4che-typeddicom-lib-std",
    "src",
    "test",
    "resources",
)
CR_IMAGE_UID = "1.2.40.0.13.1.188812342173958994015240267909703912045"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


def _gsps_ps() -> Path:
    return need_shared("data", "real", *GSPS_DIR, "GSPS_PS.dcm")


def _errors(result: Any) -> list[str]:
    return [p.message for p in result.problems if p.level is Level.ERROR]


def _all_text(result: Any) -> str:
    return repr(result.rows) + repr([p.as_row() for p in result.problems])


# -- real files ------------------------------------------------------------------------------------------


def test_real_caliper_is_11_15_mm() -> None:
    reader = GspsReader()
    assert reader.can_read(_gsps_ps())
    result = reader.read(_gsps_ps())
    assert _errors(result) == []
    assert len(result.rows) == 1
    row = result.rows[0]
    assert set(LESION_COLUMNS) <= set(row)
    # (561.447, 624.360)-(606.472, 576.686): 65.575 px x PresentationPixelSpacing 0.17 = 11.148 mm
    assert row["long_axis_mm"] == pytest.approx(11.148, abs=1e-3)
    assert round(row["long_axis_mm"], 2) == 11.15
    assert row["unit"] == "mm" and row["status"] == "present"
    assert row["lesion_id"] == "Distance measurement 1"
    assert row["label"] == "Distance measurement 1\nLength: 11.1mm[proj]"
    assert row["subject_id"] == "PID_L1OFNX58"
    assert row["date"] == "2007-09-28"
    assert row["referenced_sop_instance_uid"] == CR_IMAGE_UID
    assert row["source"].endswith("GSPS_PS.dcm#1.2.40.0.13.1.125707042816659709440724323349970373350")
    assert row["reader"] == "PETER"
    # the patient's name is never copied
    assert "Kunde" not in _all_text(result) and "Kreszenz" not in _all_text(result)


def test_real_gsps_without_annotations_reads_nothing_without_error() -> None:
    path = need_shared("data", "real", *GSPS_DIR, "GSPS.dcm")
    result = GspsReader().read(path)
    assert result.rows == []
    assert _errors(result) == []


def test_real_header_dataset_and_image_spacing_lookup() -> None:
    header = pydicom.dcmread(_gsps_ps(), stop_before_pixels=True)
    reader = GspsReader(image_spacing={CR_IMAGE_UID: (0.2, 0.2)})
    assert reader.can_read(header)
    result = reader.read(header)
    length = result.rows[0]["long_axis_mm"]
    assert length == pytest.approx(11.148 / 0.17 * 0.2, abs=1e-3)  # the image's own spacing wins
    warnings = [p.message for p in result.problems if p.level is Level.WARNING]
    assert any("PresentationPixelSpacing 0.17" in m for m in warnings)
    assert any("label says 11.1 mm" in m for m in warnings)


def test_can_read_refuses_other_objects(tmp_path: Path) -> None:
    reader = GspsReader()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not reader.can_read(text)
    assert not reader.can_read(tmp_path / "missing.dcm")
    assert not reader.can_read(Dataset())


def test_image_spacing_from_files_skips_non_images(tmp_path: Path) -> None:
    img = tmp_path / "img.dcm"
    _image(img, "1.2.3.4", (0.5, 0.7))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    assert image_spacing_from_files([img, junk, _gsps_ps()]) == {"1.2.3.4": (0.5, 0.7)}


# -- synthetic files -------------------------------------------------------------------------------------


def _save(ds: Dataset, path: Path, sop_class: str) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def _image(path: Path, uid: str, spacing: tuple[float, float]) -> Path:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = uid
    ds.PixelSpacing = list(spacing)
    return _save(ds, path, ds.SOPClassUID)


def _graphic(points: list[float], units: str = "PIXEL", gtype: str = "POLYLINE") -> Dataset:
    go = Dataset()
    go.GraphicAnnotationUnits = units
    go.GraphicDimensions = 2
    go.NumberOfGraphicPoints = len(points) // 2
    go.GraphicData = points
    go.GraphicType = gtype
    return go


def _text(text: str, anchor: tuple[float, float] | None = None) -> Dataset:
    t = Dataset()
    t.UnformattedTextValue = text
    if anchor is not None:
        t.AnchorPointAnnotationUnits = "PIXEL"
        t.AnchorPoint = list(anchor)
        t.AnchorPointVisibility = "N"
    return t


def _gsps(
    path: Path, graphics: list[Dataset], texts: list[Dataset], spacing: tuple[float, float] | None = None
) -> Path:
    ds = Dataset()
    ds.SOPClassUID = GSPS_CLASS
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "PR"
    ds.PatientName = "Secret^Patient"
    ds.PatientID = "S-001"
    ds.StudyDate = "20240301"
    ds.StudyInstanceUID = generate_uid()
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = "1.2.3.100"
    series = Dataset()
    series.SeriesInstanceUID = "1.2.3.99"
    series.ReferencedImageSequence = Sequence([ref])
    ds.ReferencedSeriesSequence = Sequence([series])
    ann = Dataset()
    ann.GraphicLayer = "LESIONS"
    ann.ReferencedImageSequence = Sequence([ref])
    if graphics:
        ann.GraphicObjectSequence = Sequence(graphics)
    if texts:
        ann.TextObjectSequence = Sequence(texts)
    ds.GraphicAnnotationSequence = Sequence([ann])
    if spacing is not None:
        area = Dataset()
        area.PresentationSizeMode = "SCALE TO FIT"
        area.PresentationPixelSpacing = list(spacing)
        ds.DisplayedAreaSelectionSequence = Sequence([area])
    return _save(ds, path, GSPS_CLASS)


def test_display_units_are_reported_not_guessed(tmp_path: Path) -> None:
    path = _gsps(
        tmp_path / "ps.dcm", [_graphic([0.1, 0.1, 0.4, 0.5], units="DISPLAY")], [_text("T1")], (0.5, 0.5)
    )
    result = GspsReader().read(path)
    assert result.rows == []
    errors = _errors(result)
    assert len(errors) == 1 and "DISPLAY units" in errors[0]
    assert result.problems[0].subject_id == "S-001"


def test_no_spacing_anywhere_is_reported(tmp_path: Path) -> None:
    path = _gsps(tmp_path / "ps.dcm", [_graphic([0, 0, 30, 40])], [_text("T1")])
    result = GspsReader().read(path)
    assert result.rows == []
    assert any("no pixel spacing" in m and "1.2.3.100" in m for m in _errors(result))


def test_anisotropic_spacing_from_lookup_and_labels_by_anchor(tmp_path: Path) -> None:
    graphics = [_graphic([0, 0, 30, 40]), _graphic([100, 100, 110, 100]), _graphic([1, 1, 5, 5, 9, 1])]
    texts = [_text("T2\n10 mm", anchor=(110, 100)), _text("T1", anchor=(30, 40))]
    path = _gsps(tmp_path / "ps.dcm", graphics, texts)
    result = GspsReader(image_spacing={"1.2.3.100": (0.5, 1.0)}).read(path)  # rows 0.5 mm, columns 1.0 mm
    rows = {r["lesion_id"]: r for r in result.rows}
    assert set(rows) == {"T1", "T2"}
    assert rows["T1"]["long_axis_mm"] == pytest.approx(math.hypot(30 * 1.0, 40 * 0.5))
    assert rows["T2"]["long_axis_mm"] == pytest.approx(10.0)
    assert rows["T1"]["series_uid"] == "1.2.3.99" and rows["T1"]["date"] == "2024-03-01"
    assert _errors(result) == []
    assert any(p.level is Level.INFO and "not two-point" in p.message for p in result.problems)
    assert "Secret" not in _all_text(result)
    # each caliper's line: its row, the referenced image and its (column, row) points as written
    lines = {result.rows[ln.row]["lesion_id"]: ln for ln in result.lines}
    assert set(lines) == {"T1", "T2"}
    assert (lines["T1"].start, lines["T1"].end, lines["T1"].axis) == ((0, 0), (30, 40), "length")
    assert lines["T2"].sop_instance_uid == "1.2.3.100" and lines["T2"].frame is None


def test_unlabelled_caliper_is_kept_with_a_warning(tmp_path: Path) -> None:
    path = _gsps(tmp_path / "ps.dcm", [_graphic([0, 0, 10, 0])], [], (0.8, 0.8))
    result = GspsReader().read(path)
    assert result.rows[0]["lesion_id"] is None
    assert result.rows[0]["long_axis_mm"] == pytest.approx(8.0)
    assert any(p.level is Level.WARNING and "no text label" in p.message for p in result.problems)


def test_malformed_files_give_problems_not_exceptions(tmp_path: Path) -> None:
    reader = GspsReader()
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 10)
    assert _errors(reader.read(junk))
    assert _errors(reader.read(tmp_path / "missing.dcm"))
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(_gsps_ps().read_bytes()[:3000])
    result = reader.read(truncated)
    assert _errors(result) and result.rows == []
    bad = _gsps(tmp_path / "bad.dcm", [_graphic([0, 0, 30])], [_text("T1")], (0.5, 0.5))
    ds = pydicom.dcmread(bad)
    ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0].NumberOfGraphicPoints = 2
    ds.save_as(bad)
    assert any("3 GraphicData values" in m for m in _errors(reader.read(bad)))
    image = _image(tmp_path / "ct.dcm", "1.2.3.5", (0.5, 0.5))
    assert not reader.can_read(image)
    assert any("not a softcopy presentation state" in m for m in _errors(reader.read(image)))


def test_label_helpers() -> None:
    assert lesion_id_from_label("Distance measurement 1\nLength: 11.1mm[proj]") == "Distance measurement 1"
    assert lesion_id_from_label("Length: 11.1mm\nT3") == "T3"
    assert lesion_id_from_label("12.5 mm") is None
    assert length_in_label_mm("Length: 11.1mm[proj]") == pytest.approx(11.1)
    assert length_in_label_mm("2,5 cm") == pytest.approx(25.0)
    assert length_in_label_mm("T1") is None
    assert pixel_length_mm((0, 0), (3, 4), (2.0, 1.0)) == pytest.approx(math.hypot(3, 8))


def test_label_from_another_item_of_the_same_layer(tmp_path: Path) -> None:
    path = _gsps(tmp_path / "ps.dcm", [_graphic([0, 0, 0, 20])], [], (0.5, 0.5))
    ds = pydicom.dcmread(path)
    text_item = Dataset()
    text_item.GraphicLayer = "LESIONS"
    text_item.ReferencedImageSequence = ds.GraphicAnnotationSequence[0].ReferencedImageSequence
    text_item.TextObjectSequence = Sequence([_text("NT2")])
    ds.GraphicAnnotationSequence.append(text_item)
    ds.save_as(path)
    result = GspsReader().read(path)
    assert [(r["lesion_id"], r["long_axis_mm"]) for r in result.rows] == [("NT2", pytest.approx(10.0))]
