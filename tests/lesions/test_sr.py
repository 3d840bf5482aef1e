"""DICOM SR readers (DICOM PS3.16 TID 1500; AIM SR renderings) against real files and SRs built with highdicom.

Expected values are those of ../shared/data/real/PROVENANCE.md (sections 1, 3, 4, 5, 9); real files are read
in place.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, generate_uid

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import Level, Problem
from irrecist.lesions.base import ReadResult
from irrecist.lesions.sr import CONTEXT_CONCEPTS, GenericSRReader, TID1500Reader, context_items
from irrecist.lesions.sr_generic import (
    DEVICE_OBSERVER_NAME,
    DEVICE_OBSERVER_UID,
    MAX_DEPTH,
    OBSERVER_TYPE,
    PERSON_OBSERVER_NAME,
    TIME_POINT_CONCEPTS,
    TRACKING_ID,
    TRACKING_UID,
    find_text,
    observer_of,
    timepoint_of,
)
from tests.conftest import need_shared

AIM = ("annotation-and-image-markup", "AIMToolkit_v3.0.2_rv11", "examples", "SampleAIMAnnotationsAndImages",
       "AIMAnnotations")
# PROVENANCE.md section 1: exact stored lengths (XML CalculationData/@value; the SR copies round to 6 decimals)
AIM_LENGTHS: dict[tuple[str, str, str], float] = {
    ("0022", "Baseline", "A"): 39.5795974731445, ("0022", "Baseline", "B"): 34.9826850891113,
    ("0022", "Followup", "A"): 42.221248626709, ("0022", "Followup", "B"): 37.2198791503906,
    ("0023", "Baseline", "A"): 36.6118927001953, ("0023", "Baseline", "B"): 34.9895172119141,
    ("0023", "Followup", "A"): 49.1345481872559, ("0023", "Followup", "B"): 57.3676948547363,
    ("0024", "Baseline", "A"): 66.791389465332, ("0024", "Baseline", "B"): 68.0955963134766,
    ("0024", "Followup", "A"): 73.7734603881836, ("0024", "Followup", "B"): 95.6205596923828,
    ("0025", "Baseline", "A"): 76.8581008911133, ("0025", "Baseline", "B"): 74.8764266967774,
    ("0025", "Followup", "A"): 67.5867614746094, ("0025", "Followup", "B"): 71.4840698242188,
    ("0028", "Baseline", "A"): 30.5629596710205, ("0028", "Baseline", "B"): 28.8822383880615,
    ("0028", "Followup", "A"): 22.528923034668, ("0028", "Followup", "B"): 43.3007850646973,
}
AIM_PATIENT_IDS = {"0022": "409978", "0023": "12345", "0024": "23456", "0025": "34567", "0028": "54321"}


def aim_sr(patient: str, visit: str, reader: str) -> Path:
    folder = "Baseline" if visit == "Baseline" else "FollowUp"
    return need_shared("data", "real", *AIM, folder, f"{patient}{visit}{reader}.dcm")


def messages(result: ReadResult, level: Level | None = None) -> list[str]:
    return [p.message for p in result.problems if level is None or p.level is level]


def everything(result: ReadResult) -> str:
    """All row values and problem fields as one text, to prove what never appears."""
    parts = [str(v) for row in result.rows for v in row.values()]
    parts += [str(v) for p in result.problems for v in p.as_row().values()]
    return "\n".join(parts)


def check_rows(result: ReadResult) -> None:
    for row in result.rows:
        assert set(LESION_COLUMNS) <= set(row)
        assert row["unit"] == "mm"
        assert row["source"].endswith("#" + row["sop_instance_uid"])


# ------------------------------------------------------------------ real TID 1500 files


def test_cornerstone_sr_falls_back_and_reads_lengths(real_data: Path) -> None:
    path = real_data / "dcmjs" / "examples" / "data" / "structured_report.dcm"
    reader = TID1500Reader()
    assert reader.can_read(path) and not GenericSRReader().can_read(path)
    result = reader.read(path)
    check_rows(result)
    bidirectional = [r for r in result.rows if r["measurement"] == "long_axis,short_axis"]
    assert len(bidirectional) == 1
    assert bidirectional[0]["long_axis_mm"] == pytest.approx(93.9)
    assert bidirectional[0]["short_axis_mm"] == pytest.approx(47.0)
    lengths = sorted(r["long_axis_mm"] for r in result.rows if r["measurement"] == "length")
    assert lengths == pytest.approx([39.366492911614, 133.992062006165], abs=1e-9)
    assert len(result.rows) == 3 and all(r["status"] == "present" for r in result.rows)
    # the two ellipse areas reuse the Length code (G-D7FE): reported, never read as sizes
    sizes = {r["long_axis_mm"] for r in result.rows} | {r["short_axis_mm"] for r in result.rows}
    assert not any(s is not None and s > 3000 for s in sizes)
    warnings = messages(result, Level.WARNING)
    assert sum("4806.42" in m and "an area" in m for m in warnings) == 1
    assert sum("3905.36" in m and "an area" in m for m in warnings) == 1
    # highdicom refuses the NUM without Measured Value Sequence: the fallback says so and what it skipped
    assert any("highdicom refused" in m and "structured_report.dcm" in m for m in warnings)
    assert any("skipped" in m and "'Center' (DCM 111010)" in m for m in warnings)
    # tool names are not lesion names: lesion_id falls back to the (per-export) Tracking UID, with a warning
    for row in result.rows:
        assert row["tracking_id"].startswith("cornerstoneTools@^4.0.0:")
        assert row["lesion_id"] == row["tracking_uid"]
        assert any(p.lesion_id == row["lesion_id"] and "map it to a lesion" in p.message for p in result.problems)
    assert not any(p.level is Level.ERROR for p in result.problems)


def test_highdicom_sr_diameters_and_volume(real_data: Path) -> None:
    path = real_data / "highdicom" / "data" / "test_files" / "sr_document_with_multiple_groups.dcm"
    result = TID1500Reader().read(path)
    check_rows(result)
    by_id = {r["lesion_id"]: r for r in result.rows}
    assert set(by_id) == {"LungNodule0001", "Aorta0001"}
    nodule = by_id["LungNodule0001"]
    assert (nodule["long_axis_mm"], nodule["measurement"], nodule["organ"]) == (10.0, "diameter", "Lung")
    assert nodule["label"] == "Nodule" and nodule["nodal"] is False and nodule["short_axis_mm"] is None
    assert by_id["Aorta0001"]["long_axis_mm"] == 20.0
    for row in result.rows:
        assert (row["subject_id"], row["date"], row["reader"]) == ("1CT1", "2004-01-19", "Doe^John")
    assert any("Volume 200" in m and "a volume" in m for m in messages(result, Level.WARNING))
    assert any("Intensity Histogram Mean" in m for m in messages(result, Level.INFO))
    assert "CompressedSamples" not in everything(result)  # the patient's name


def test_highdicom_planar_area_is_not_a_size(real_data: Path) -> None:
    result = TID1500Reader().read(real_data / "highdicom" / "data" / "test_files" / "sr_document.dcm")
    assert result.rows == []
    assert any("1.7 square centimeter is an area" in m for m in messages(result, Level.WARNING))


def test_pixel_unit_sizes_are_reported_not_read(real_data: Path) -> None:
    result = TID1500Reader().read(real_data / "dcmjs" / "test" / "sample-sr.dcm")
    assert result.rows == []
    pixel = [m for m in messages(result, Level.WARNING) if "in pixels" in m]
    assert len(pixel) == 2 and any("64.45" in m for m in pixel) and any("42.967" in m for m in pixel)


def test_pet_volume_is_not_a_size(real_data: Path) -> None:
    result = TID1500Reader().read(real_data / "dcmqi" / "data" / "sr-example" / "sr.dcm")
    assert result.rows == []
    assert any("Volume 33.5824" in m and "a volume" in m for m in messages(result, Level.WARNING))
    assert any("SUVbw 6.01529" in m for m in messages(result, Level.INFO))


# ------------------------------------------------------------------ AIM SR renderings (not TID 1500)


@pytest.mark.parametrize(("patient", "visit", "reader"), sorted(AIM_LENGTHS), ids="-".join)
def test_aim_sr_lengths(patient: str, visit: str, reader: str) -> None:
    path = aim_sr(patient, visit, reader)
    assert GenericSRReader().can_read(path) and not TID1500Reader().can_read(path)
    result = GenericSRReader().read(path)
    check_rows(result)
    assert len(result.rows) == 1
    row = result.rows[0]
    assert row["long_axis_mm"] == pytest.approx(AIM_LENGTHS[patient, visit, reader], abs=1e-4)
    assert (row["lesion_id"], row["reader"], row["organ"]) == (patient, reader, "LUNG")
    assert (row["subject_id"], row["measurement"], row["status"]) == (AIM_PATIENT_IDS[patient], "length", "present")
    assert row["role"] is None  # "Target Lesion Complete Response" is a demo leftover, not a baseline category
    assert row["date"] is None and any("StudyDate is empty" in m for m in messages(result, Level.WARNING))
    assert f"1.3.6.1.4.1.9328.50.1.{patient}" not in everything(result)  # PatientName holds the CT's id


def test_aim_sr_longitudinal_pair_0022_reader_a() -> None:
    baseline = GenericSRReader().read(aim_sr("0022", "Baseline", "A")).rows[0]
    follow_up = GenericSRReader().read(aim_sr("0022", "Followup", "A")).rows[0]
    assert (baseline["long_axis_mm"], follow_up["long_axis_mm"]) == pytest.approx((39.58, 42.22), abs=0.005)
    assert baseline["lesion_id"] == follow_up["lesion_id"] == "0022"
    assert baseline["study_uid"] != follow_up["study_uid"]  # two studies, to be dated through their images


def test_offis_sr_is_not_a_measurement_report(real_data: Path) -> None:
    path = real_data / "pydicom" / "test_files" / "test-SR.dcm"
    assert not TID1500Reader().can_read(path) and not GenericSRReader().can_read(path)
    refused = TID1500Reader().read(path)
    assert refused.rows == [] and any("not a TID 1500" in m for m in messages(refused, Level.ERROR))
    generic = GenericSRReader().read(path)
    assert generic.rows == []
    assert sum("Diameter 3 cm without a two-point line" in m for m in messages(generic, Level.WARNING)) == 2


def test_ct_image_is_refused(real_data: Path) -> None:
    path = real_data / "highdicom" / "data" / "test_files" / "ct_image.dcm"
    assert not TID1500Reader().can_read(path)
    result = TID1500Reader().read(path)
    assert result.rows == [] and [p.level for p in result.problems] == [Level.ERROR]


# ------------------------------------------------------------------ SR built with highdicom


def _ct_image() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "SUBJ-007", "Secret^Patient", "19700101", "F"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20240115", "101010", "A1", "1"
    ds.ReferringPhysicianName, ds.Modality = "", "CT"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    return ds


def _build_sr(path: Path) -> Path:
    """TID 1500 with cm axes on a node, a Length-coded area in mm2 plus a diameter, and a length in pixels."""
    image = _ct_image()
    source = hd.sr.SourceImageForRegion.from_source_image(image)
    time_point = hd.sr.TimePointContext(time_point="week 8", subject_time_point_identifier="V3")
    category = Code("112073", "DCM", "Baseline Category")

    def region(kind: hd.sr.GraphicTypeValues, points: list[list[float]]) -> hd.sr.ImageRegion:
        return hd.sr.ImageRegion(graphic_type=kind, graphic_data=np.array(points), source_image=source)

    def tracking(identifier: str) -> hd.sr.TrackingIdentifier:
        return hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier)

    node = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking("N1"),
        referenced_region=region(hd.sr.GraphicTypeValues.POLYLINE, [[10.0, 10.0], [40.0, 40.0]]),
        finding_type=Code("108369006", "SCT", "Neoplasm"),
        finding_sites=[hd.sr.FindingSite(Code("59441001", "SCT", "Lymph node"))],
        time_point_context=time_point,
        measurements=[
            hd.sr.Measurement(name=Code("103339001", "SCT", "Long Axis"), value=2.5, unit=Code("cm", "UCUM", "cm")),
            hd.sr.Measurement(name=Code("G-A186", "SRT", "Short Axis"), value=1.5, unit=Code("cm", "UCUM", "cm")),
        ],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(category, Code("112074", "DCM", "Target Lesion at Baseline"))
        ],
    )
    area = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking("T2"),
        referenced_region=region(hd.sr.GraphicTypeValues.CIRCLE, [[50.0, 50.0], [50.0, 60.0]]),
        time_point_context=time_point,
        measurements=[
            hd.sr.Measurement(name=Code("410668003", "SCT", "Length"), value=300.0,
                              unit=Code("mm2", "UCUM", "square millimeter")),
            hd.sr.Measurement(name=Code("81827009", "SCT", "Diameter"), value=12.0, unit=Code("mm", "UCUM", "mm")),
        ],
    )
    pixels = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking("NT1"),
        time_point_context=time_point,
        measurements=[hd.sr.Measurement(name=Code("410668003", "SCT", "Length"), value=64.0,
                                        unit=Code("{px}", "UCUM", "pixels"))],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(category, Code("112075", "DCM", "Non-Target Lesion at Baseline"))
        ],
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Smith^Jane"),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=Code("25045-6", "LN", "CT unspecified body region"),
        imaging_measurements=[node, area, pixels],
    )
    sr = hd.sr.Comprehensive3DSR(evidence=[image], content=report[0], series_instance_uid=generate_uid(),
                                 series_number=10, sop_instance_uid=generate_uid(), instance_number=1)
    sr.save_as(path)
    return path


@pytest.fixture
def built_sr(tmp_path: Path) -> Path:
    return _build_sr(tmp_path / "built_sr.dcm")


def test_built_sr_round_trip(built_sr: Path) -> None:
    reader = TID1500Reader()
    assert reader.can_read(built_sr) and reader.can_read(pydicom.dcmread(built_sr, stop_before_pixels=True))
    result = reader.read(built_sr)
    check_rows(result)
    by_id = {r["lesion_id"]: r for r in result.rows}
    assert set(by_id) == {"N1", "T2", "NT1"}
    node = by_id["N1"]
    assert (node["long_axis_mm"], node["short_axis_mm"]) == pytest.approx((25.0, 15.0))  # cm read as mm
    assert (node["role"], node["nodal"], node["organ"], node["label"]) == ("target", True, "Lymph node", "Neoplasm")
    assert node["measurement"] == "long_axis,short_axis" and node["status"] == "present"
    area = by_id["T2"]
    assert (area["long_axis_mm"], area["measurement"], area["role"]) == (12.0, "diameter", None)
    non_target = by_id["NT1"]
    assert (non_target["role"], non_target["long_axis_mm"], non_target["status"]) == ("non-target", None, None)
    for row in result.rows:
        assert (row["subject_id"], row["date"], row["timepoint"]) == ("SUBJ-007", "2024-01-15", "week 8")
        assert row["reader"] == "Smith^Jane" and row["tracking_uid"]
    warnings = messages(result, Level.WARNING)
    assert any("Length 300 square millimeter is an area" in m for m in warnings)
    assert any("Length 64 pixels is in pixels" in m for m in warnings)
    assert "Secret" not in everything(result)
    assert not any(p.level is Level.ERROR for p in result.problems)


def test_built_sr_from_dataset_matches_path(built_sr: Path) -> None:
    from_path = TID1500Reader().read(built_sr).rows
    from_dataset = TID1500Reader().read(pydicom.dcmread(built_sr)).rows
    header_only = TID1500Reader().read(pydicom.dcmread(built_sr, specific_tags=["SOPClassUID"])).rows
    key = [(r["lesion_id"], r["long_axis_mm"], r["short_axis_mm"]) for r in from_path]
    assert [(r["lesion_id"], r["long_axis_mm"], r["short_axis_mm"]) for r in from_dataset] == key
    assert [(r["lesion_id"], r["long_axis_mm"], r["short_axis_mm"]) for r in header_only] == key


def test_a_dataset_given_by_the_caller_is_not_changed(built_sr: Path) -> None:
    """highdicom converts an SR in place only when the reader read it from a file itself."""
    ds = pydicom.dcmread(built_sr)
    before = (type(ds), type(ds.ContentSequence[0]), ds.to_json())
    assert TID1500Reader().read(ds).rows
    assert (type(ds), type(ds.ContentSequence[0]), ds.to_json()) == before
    assert type(ds) is pydicom.FileDataset


# ------------------------------------------------------------------ bad input: reported, never raised


@pytest.mark.parametrize("reader", [TID1500Reader(), GenericSRReader()], ids=lambda r: r.name)
@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_truncated_file_is_an_error_problem(built_sr: Path, tmp_path: Path, reader: Any, cut: float) -> None:
    data = built_sr.read_bytes()
    broken = tmp_path / "truncated.dcm"
    broken.write_bytes(data[: int(len(data) * cut)])
    result = reader.read(broken)
    assert result.rows == []
    errors = [p for p in result.problems if p.level is Level.ERROR]
    assert len(errors) == 1 and "truncated.dcm" in errors[0].message and "truncated.dcm" in errors[0].source


@pytest.mark.parametrize("reader", [TID1500Reader(), GenericSRReader()], ids=lambda r: r.name)
def test_missing_and_garbage_files(tmp_path: Path, reader: Any) -> None:
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"not a DICOM file at all" * 10)
    for path in (garbage, tmp_path / "absent.dcm"):
        assert reader.can_read(path) is False
        result = reader.read(path)
        assert result.rows == [] and [p.level for p in result.problems] == [Level.ERROR]
        assert path.name in result.problems[0].message


def _item(value_type: str, code: Code, relationship: str = "CONTAINS", **values: Any) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = code.value, code.scheme_designator, code.meaning
    item.ConceptNameCodeSequence = [name]
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _length_num(value: str, unit: str = "mm") -> Dataset:
    measured, unit_code = Dataset(), Dataset()
    unit_code.CodeValue, unit_code.CodingSchemeDesignator, unit_code.CodeMeaning = unit, "UCUM", unit
    measured.NumericValue, measured.MeasurementUnitsCodeSequence = value, [unit_code]
    return _item("NUM", Code("G-D7FE", "SRT", "Length"), MeasuredValueSequence=[measured])


def _report(*content: Dataset) -> Dataset:
    ds = _item("CONTAINER", Code("126000", "DCM", "Imaging Measurement Report"), ContinuityOfContent="SEPARATE")
    del ds.RelationshipType
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "1500"
    ds.ContentTemplateSequence = [template]
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.33", generate_uid()
    ds.PatientID, ds.StudyDate = "DEEP-1", "20240301"
    ds.ContentSequence = list(content)
    return ds


def _group(tracking_id: str, *content: Dataset) -> Dataset:
    group = _item("CONTAINER", Code("125007", "DCM", "Measurement Group"), ContinuityOfContent="SEPARATE")
    tracking = _item("TEXT", Code("112039", "DCM", "Tracking Identifier"), "HAS OBS CONTEXT", TextValue=tracking_id)
    group.ContentSequence = [tracking, *content]
    return group


def test_deep_content_tree_is_bounded() -> None:
    deepest = chain = _item("CONTAINER", Code("111028", "DCM", "Image Library"), ContinuityOfContent="SEPARATE")
    for _ in range(3 * MAX_DEPTH):
        outer = _item("CONTAINER", Code("111028", "DCM", "Image Library"), ContinuityOfContent="SEPARATE")
        outer.ContentSequence = [chain]
        chain = outer
    deepest.ContentSequence = [_group("buried", _length_num("99"))]
    measurements = _item("CONTAINER", Code("126010", "DCM", "Imaging Measurements"), ContinuityOfContent="SEPARATE")
    measurements.ContentSequence = [_group("D1", _length_num("1.2", "cm"))]
    result = TID1500Reader().read(_report(measurements, chain))
    assert [(r["lesion_id"], r["long_axis_mm"], r["date"]) for r in result.rows] == [("D1", 12.0, "2024-03-01")]
    warnings = messages(result, Level.WARNING)
    assert any("too deep or cyclic for highdicom" in m for m in warnings)
    assert any(f"content below depth {MAX_DEPTH}" in m for m in warnings)


def test_cyclic_content_tree_is_reported() -> None:
    group = _group("C1", _length_num("7"))
    group.ContentSequence.append(group)
    result = TID1500Reader().read(_report(group))
    assert [(r["lesion_id"], r["long_axis_mm"]) for r in result.rows] == [("C1", 7.0)]
    assert any("a cycle" in m for m in messages(result, Level.WARNING))
    generic = GenericSRReader().read(_report(group))
    assert generic.rows == [] and any("TID 1500" in m for m in messages(generic, Level.ERROR))


def test_problems_are_problem_records(real_data: Path) -> None:
    result = TID1500Reader().read(real_data / "dcmjs" / "examples" / "data" / "structured_report.dcm")
    assert result.problems and all(isinstance(p, Problem) and p.source for p in result.problems)


# ------------------------------------------------------------------ context lookups on the few items they ask for


def test_context_concepts_are_in_one_lookup_each() -> None:
    concepts = [c for codes in CONTEXT_CONCEPTS.values() for c in codes]
    assert all(a != b for i, a in enumerate(concepts) for b in concepts[i + 1 :])


_CONTEXT_NAMES = [TRACKING_ID, TRACKING_UID, *TIME_POINT_CONCEPTS, OBSERVER_TYPE]  # what sr_generic looks for
_OBSERVER_NAMES = [PERSON_OBSERVER_NAME, DEVICE_OBSERVER_NAME, DEVICE_OBSERVER_UID]


def _context_item(rng: random.Random, k: int, names: list[Code] | None = None) -> Dataset:
    """A TEXT (or CODE) item named by a context concept (possibly with another version) or by another concept
    (an SRT code and its SCT twin among them); an Observer Type item carries observer names as children, as
    TID 1002 does."""
    names = names or [*_CONTEXT_NAMES, *_OBSERVER_NAMES] + [
        Code("121071", "DCM", "Finding"), Code("T-D0050", "SRT", "Tissue"), Code("85756007", "SCT", "Tissue"),
        Code("121008", "DCM", "Person Observer Name", "1.1"), Code("112039", "99X", "Not a tracking id"),
    ]  # fmt: skip
    name = rng.choice(names)
    text = rng.choice(["", " ", f"value {k}", "Unknown^", "^unknown"])
    if rng.random() < 0.15:
        value = Dataset()
        value.CodeValue, value.CodingSchemeDesignator, value.CodeMeaning = "121007", "DCM", f"meaning {k}"
        item = _item("CODE", name, "HAS OBS CONTEXT", ConceptCodeSequence=[value])
    else:
        item = _item("TEXT", name, "HAS OBS CONTEXT", TextValue=text)
    if name.scheme_version:
        item.ConceptNameCodeSequence[0].CodingSchemeVersion = name.scheme_version
    if name == OBSERVER_TYPE:
        item.ContentSequence = [_context_item(rng, 100 * k + j, _OBSERVER_NAMES) for j in range(rng.randrange(3))]
    elif rng.random() < 0.1:
        item.ContentSequence = [_context_item(rng, 100 * k + j) for j in range(rng.randrange(3))]
    return item


def test_context_lookups_answer_as_on_all_items() -> None:
    """find_text, timepoint_of and observer_of give on each lookup's items what they give on all items, for
    random item lists mixing context concepts (as DCM, SRT twins, other versions) with other concepts."""
    rng = random.Random(1500)
    for _ in range(400):
        items = [_context_item(rng, k) for k in range(rng.randrange(12))]
        context = context_items(items)
        assert find_text(context["tracking"], TRACKING_ID) == find_text(items, TRACKING_ID)
        assert find_text(context["tracking"], TRACKING_UID) == find_text(items, TRACKING_UID)
        assert timepoint_of(context["time point"]) == timepoint_of(items)
        assert observer_of(context["observer"]) == observer_of(items)
