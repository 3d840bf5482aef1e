"""AIM XML reader: the 20 real AIM v3 measurements (PROVENANCE 1), AIM v1 (PROVENANCE 2), synthetic v4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import Level
from irrecist.lesions.aim import AimReader
from irrecist.lesions.gsps import image_spacing_from_files, pixel_length_mm
from tests.conftest import need_shared

SAMPLE = (
    "annotation-and-image-markup",
    "AIMToolkit_v3.0.2_rv11",
    "examples",
    "SampleAIMAnnotationsAndImages",
)
V1 = ("avt-ad-core", "src", "test", "resources", "RECIST_Data_rv_12")

# patient, time point, reader, stored length (XML CalculationData/@value), image StudyDate, recomputed mm
EXPECTED = [
    ("0022", "Baseline", "A", 39.5795974731445, "2000-07-01", 39.58),
    ("0022", "Baseline", "B", 34.9826850891113, "2000-07-01", 34.98),
    ("0023", "Baseline", "A", 36.6118927001953, "2000-01-01", 32.89),
    ("0023", "Baseline", "B", 34.9895172119141, "2000-01-01", 31.43),
    ("0024", "Baseline", "A", 66.791389465332, "2000-01-01", 56.98),
    ("0024", "Baseline", "B", 68.0955963134766, "2000-01-01", 58.09),
    ("0025", "Baseline", "A", 76.8581008911133, "2000-01-01", 80.33),
    ("0025", "Baseline", "B", 74.8764266967774, "2000-01-01", 78.26),
    ("0028", "Baseline", "A", 30.5629596710205, "2000-01-01", 22.45),
    ("0028", "Baseline", "B", 28.8822383880615, "2000-01-01", 21.21),
    ("0022", "Followup", "A", 42.221248626709, "2000-08-10", 46.24),
    ("0022", "Followup", "B", 37.2198791503906, "2000-08-10", 40.76),
    ("0023", "Followup", "A", 49.1345481872559, "2000-07-12", 44.32),
    ("0023", "Followup", "B", 57.3676948547363, "2000-07-12", 51.75),
    ("0024", "Followup", "A", 73.7734603881836, "2000-04-20", 71.22),
    ("0024", "Followup", "B", 95.6205596923828, "2000-04-20", 92.31),
    ("0025", "Followup", "A", 67.5867614746094, "2000-08-23", 76.74),
    ("0025", "Followup", "B", 71.4840698242188, "2000-08-23", 81.17),
    ("0028", "Followup", "A", 22.528923034668, "2000-10-12", 16.88),
    ("0028", "Followup", "B", 43.3007850646973, "2000-10-12", 32.44),
]
SUBJECT = {"0022": "409978", "0023": "12345", "0024": "23456", "0025": "34567", "0028": "54321"}


def _aim(patient: str, tp: str, reader: str) -> Path:
    folder = "Baseline" if tp == "Baseline" else "FollowUp"
    return need_shared("data", "real", *SAMPLE, "AIMAnnotations", folder, f"{patient}{tp}{reader}.xml")


@pytest.fixture(scope="module")
def spacing() -> dict[str, tuple[float, float]]:
    images = need_shared("data", "real", *SAMPLE, "Images")
    lookup = image_spacing_from_files(sorted(images.rglob("*.dcm")))
    assert len(lookup) == 10
    return lookup


def _warnings(result: Any) -> list[str]:
    return [p.message for p in result.problems if p.level is Level.WARNING]


def _errors(result: Any) -> list[str]:
    return [p.message for p in result.problems if p.level is Level.ERROR]


@pytest.mark.parametrize(("patient", "tp", "reader", "stored", "date", "recomputed"), EXPECTED)
def test_twenty_real_measurements(
    spacing: dict[str, tuple[float, float]],
    patient: str,
    tp: str,
    reader: str,
    stored: float,
    date: str,
    recomputed: float,
) -> None:
    path = _aim(patient, tp, reader)
    aim = AimReader(image_spacing=spacing)
    assert aim.can_read(path)
    result = aim.read(path)
    assert _errors(result) == []
    assert len(result.rows) == 1
    row = result.rows[0]
    assert set(LESION_COLUMNS) <= set(row)
    assert row["long_axis_mm"] == pytest.approx(stored, abs=1e-4)  # kept as recorded
    assert row["unit"] == "mm" and row["status"] == "present"
    assert row["lesion_id"] == patient and row["reader"] == reader and row["date"] == date
    assert row["subject_id"] == SUBJECT[patient] and row["organ"] == "LUNG"
    assert row["referenced_sop_instance_uid"] in spacing
    assert row["source"].startswith(str(path) + "#")
    flagged = [m for m in _warnings(result) if "disagrees with the geometry" in m]
    if abs(stored - recomputed) > 1.0:
        assert len(flagged) == 1 and f"{recomputed:.2f} mm" in flagged[0]
    else:
        assert flagged == []


def test_0024_baseline_disagreement_is_flagged_and_stored_value_kept(
    spacing: dict[str, tuple[float, float]],
) -> None:
    result = AimReader(image_spacing=spacing).read(_aim("0024", "Baseline", "A"))
    assert result.rows[0]["long_axis_mm"] == pytest.approx(66.791389465332, abs=1e-6)
    (warning,) = [p for p in result.problems if p.level is Level.WARNING]
    assert "66.79" in warning.message and "56.98" in warning.message
    assert warning.subject_id == "23456" and warning.lesion_id == "0024"


def test_0022_reader_a_baseline_to_followup(spacing: dict[str, tuple[float, float]]) -> None:
    aim = AimReader(image_spacing=spacing)
    bl = aim.read(_aim("0022", "Baseline", "A")).rows[0]
    fu = aim.read(_aim("0022", "Followup", "A")).rows[0]
    assert round(bl["long_axis_mm"], 2) == 39.58 and round(fu["long_axis_mm"], 2) == 42.22
    assert (bl["subject_id"], bl["lesion_id"], bl["reader"]) == (
        fu["subject_id"],
        fu["lesion_id"],
        fu["reader"],
    )
    assert bl["date"] < fu["date"]
    # geometry of baseline A: (143,300)-(92,326) x 0.691406 mm = 39.58 mm
    assert pixel_length_mm(
        (143, 300), (92, 326), spacing[bl["referenced_sop_instance_uid"]]
    ) == pytest.approx(39.58, abs=0.01)


def test_without_images_nothing_is_recomputed() -> None:
    result = AimReader().read(_aim("0024", "Baseline", "A"))
    assert result.rows[0]["long_axis_mm"] == pytest.approx(66.791389465332)
    assert _warnings(result) == [] and _errors(result) == []


@pytest.mark.parametrize(
    ("name", "value", "timepoint"),
    [
        ("0022BaselineA.xml", 39.5795974731445, "baseline"),
        ("0022FollowupA.xml", 46.2366, None),
        ("0022FollowupB.xml", 40.75, None),
        ("0022FollowupC.xml", 42.74, None),
    ],
)
def test_aim_v1_dialect(
    spacing: dict[str, tuple[float, float]], name: str, value: float, timepoint: str | None
) -> None:
    path = need_shared("data", "real", *V1, name)
    result = AimReader(image_spacing=spacing).read(path)
    row = result.rows[0]
    assert row["long_axis_mm"] == pytest.approx(value, abs=1e-6)
    assert row["role"] == "target" and row["timepoint"] == timepoint
    assert row["subject_id"] == "1.3.6.1.4.1.9328.50.1.0022"
    warnings = _warnings(result)
    # the AIM's own pixelSpacing (0.580078125) is wrong: the image header wins and agrees with the stored
    assert any("the header is used" in m for m in warnings)
    assert not any("disagrees with the geometry" in m for m in warnings)


V4 = """<?xml version="1.0" encoding="UTF-8"?>
<ImageAnnotationCollection xmlns="gme://caCORE.caCORE/4.4/edu.northwestern.radiology.AIM"
    xmlns:iso="uri:iso.org:21090" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" aimVersion="AIMv4_2">
  <uniqueIdentifier root="2.25.1"/>
  <user><name value="dr_who"/><loginName value="who"/></user>
  <person><name value="Doe^Jane"/><id value="P-7"/><birthDate value="19700101"/></person>
  <imageAnnotations>
    <ImageAnnotation>
      <uniqueIdentifier root="2.25.2"/>
      <name value="T1"/>
      <trackingUniqueIdentifier root="2.25.3"/>
      <calculationEntityCollection>
        <CalculationEntity>
          <typeCode code="G-D7FE" codeSystemName="SRT"><iso:displayName value="Length"/></typeCode>
          <calculationResultCollection>
            <CalculationResult type="Scalar" xsi:type="CompactCalculationResult">
              <unitOfMeasure value="cm"/><value value="2.5"/>
            </CalculationResult>
          </calculationResultCollection>
        </CalculationEntity>
      </calculationEntityCollection>
      <markupEntityCollection>
        <MarkupEntity xsi:type="TwoDimensionMultiPoint">
          <imageReferenceUid root="1.2.3.100"/>
          <twoDimensionSpatialCoordinateCollection>
            <TwoDimensionSpatialCoordinate><coordinateIndex value="1"/><x value="30"/><y value="40"/>
            </TwoDimensionSpatialCoordinate>
            <TwoDimensionSpatialCoordinate><coordinateIndex value="0"/><x value="0"/><y value="0"/>
            </TwoDimensionSpatialCoordinate>
          </twoDimensionSpatialCoordinateCollection>
        </MarkupEntity>
      </markupEntityCollection>
      <imageReferenceEntityCollection>
        <ImageReferenceEntity xsi:type="DicomImageReferenceEntity">
          <imageStudy>
            <instanceUid root="1.2.3.1"/><startDate value="20240301"/>
            <imageSeries><instanceUid root="1.2.3.2"/>
              <imageCollection><Image><sopInstanceUid root="1.2.3.100"/></Image></imageCollection>
            </imageSeries>
          </imageStudy>
        </ImageReferenceEntity>
      </imageReferenceEntityCollection>
      <imagingPhysicalEntityCollection>
        <ImagingPhysicalEntity><typeCode code="RID58"><iso:displayName value="liver"/></typeCode>
        </ImagingPhysicalEntity>
      </imagingPhysicalEntityCollection>
    </ImageAnnotation>
  </imageAnnotations>
</ImageAnnotationCollection>
"""


def test_synthetic_aim_v4(tmp_path: Path) -> None:
    path = tmp_path / "t1.xml"
    path.write_text(V4, encoding="utf-8")
    aim = AimReader(image_spacing={"1.2.3.100": (0.5, 0.5)})  # 50 px x 0.5 mm = 25 mm = 2.5 cm: agrees
    assert aim.can_read(path)
    result = aim.read(path)
    assert result.problems == []
    row = result.rows[0]
    assert row["long_axis_mm"] == pytest.approx(25.0)
    assert row["subject_id"] == "P-7" and row["reader"] == "dr_who" and row["lesion_id"] == "T1"
    assert row["date"] == "2024-03-01" and row["organ"] == "liver" and row["tracking_uid"] == "2.25.3"
    assert (row["study_uid"], row["series_uid"], row["referenced_sop_instance_uid"]) == (
        "1.2.3.1",
        "1.2.3.2",
        "1.2.3.100",
    )
    assert row["source"] == f"{path}#2.25.2"
    assert "Doe" not in repr(result.rows)
    # with a different spacing the same file is flagged, and the stored 25 mm is kept
    flagged = AimReader(image_spacing={"1.2.3.100": (0.8, 0.8)}).read(path)
    assert flagged.rows[0]["long_axis_mm"] == pytest.approx(25.0)
    assert any("40.00 mm" in m for m in _warnings(flagged))


def test_area_unit_is_not_a_length(tmp_path: Path) -> None:
    path = tmp_path / "area.xml"
    path.write_text(V4.replace('"cm"', '"mm2"'), encoding="utf-8")
    result = AimReader().read(path)
    assert any("mm2" in m for m in _errors(result))
    assert result.rows[0]["long_axis_mm"] is None


def test_external_entity_is_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE ImageAnnotation [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<ImageAnnotation xmlns="gme://caCORE.caCORE/3.2/edu.northwestern.radiology.AIM" name="&xxe;">'
        "</ImageAnnotation>\n",
        encoding="utf-8",
    )
    result = AimReader().read(path)
    assert result.rows == []
    errors = _errors(result)
    assert len(errors) == 1 and "entity" in errors[0].lower()
    assert "TOP-SECRET" not in repr(result.problems)


def test_internal_entity_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    path.write_text(
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<ImageAnnotation name="&b;"/>\n',
        encoding="utf-8",
    )
    result = AimReader().read(path)
    assert result.rows == [] and _errors(result)


def test_malformed_files_give_problems_not_exceptions(tmp_path: Path) -> None:
    aim = AimReader()
    broken = tmp_path / "broken.xml"
    broken.write_text(V4[: len(V4) // 2], encoding="utf-8")
    assert any("not well-formed" in m for m in _errors(aim.read(broken)))
    other = tmp_path / "other.xml"
    other.write_text("<root><child/></root>", encoding="utf-8")
    assert not aim.can_read(other)
    assert any("not an AIM" in m for m in _errors(aim.read(other)))
    assert _errors(aim.read(tmp_path / "missing.xml"))
    assert not aim.can_read(tmp_path / "missing.xml")
    bad_value = tmp_path / "bad_value.xml"
    bad_value.write_text(V4.replace('value="2.5"', 'value="lots"'), encoding="utf-8")
    result = aim.read(bad_value)
    assert any("no numeric value" in m for m in _errors(result))
