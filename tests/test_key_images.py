"""Key images (issue 5): the lines readers measured on, ``lines.csv`` and the report's key-image strips.

Each line is checked against an expectation that does not come from the reader: its length recomputed from its
end points and the PixelSpacing of the image it names equals the recorded size; on the demo trial its midpoint is
the lesion centre given in ``tools/demo_spec.py``; on real files its points are those listed in
``shared/data/real/PROVENANCE.md``. The report gets one strip per measured lesion, a note for a missing image,
and a headless Chromium screenshot of a subject section shows the drawn lines (skipped without Chromium).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydicom import dcmread

from irrecist.extract import LINE_COLUMNS, extract_paths
from irrecist.lesions.aim import AimReader
from irrecist.lesions.base import MeasuredLine, ReadResult
from irrecist.lesions.gsps import GspsReader
from irrecist.lesions.rtstruct import RtStructReader
from irrecist.lesions.seg import SegReader
from irrecist.lesions.sr import GenericSRReader, TID1500Reader
from irrecist.pseudonym import Pseudonymizer, pseudonymize_extraction
from irrecist.report import REPORT_NAME, write_report
from irrecist_cli.main import main
from tests.conftest import need_shared

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "test_images"
sys.path.insert(0, str(REPO / "tools"))

from demo_dicom import geometry  # noqa: E402
from demo_spec import subject  # noqa: E402

AIM = ("annotation-and-image-markup", "AIMToolkit_v3.0.2_rv11", "examples", "SampleAIMAnnotationsAndImages")
GSPS = ("dcm4che-typeddicom", "dcm4che-typeddicom-lib", "dcm4che-typeddicom-lib-std", "src", "test", "resources")
TOLERANCE_MM = 0.1


def spacing_of(path: str | Path) -> tuple[float, float]:
    ps = dcmread(path, stop_before_pixels=True).PixelSpacing
    return float(ps[0]), float(ps[1])


def drawn_mm(line: dict[str, str] | MeasuredLine, spacing: tuple[float, float]) -> float:
    """Length of a line from its (column, row) end points and PixelSpacing (row, column)."""
    if isinstance(line, MeasuredLine):
        (x1, y1), (x2, y2) = line.start, line.end
    else:
        x1, y1, x2, y2 = (float(line[k]) for k in ("x1", "y1", "x2", "y2"))
    return math.hypot((x2 - x1) * spacing[1], (y2 - y1) * spacing[0])


@pytest.fixture(scope="module")
def demo_lines() -> pd.DataFrame:
    return extract_paths([DEMO]).lines_frame()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keyimages")
    assert main(["score", str(DEMO), "--out", str(out), "--criterion", "all"]) == 0
    return out


# ------------------------------------------------------------------------------------------- readers


def test_extend_moves_line_rows() -> None:
    a = ReadResult(rows=[{"lesion_id": "T1"}], lines=[MeasuredLine(0, "length", "1.2", None, (0, 0), (1, 1))])
    b = ReadResult(rows=[{"lesion_id": "T2"}], lines=[MeasuredLine(0, "long", "1.3", 2, (0, 0), (2, 2))])
    a.extend(b)
    assert [(ln.row, a.rows[ln.row]["lesion_id"]) for ln in a.lines] == [(0, "T1"), (1, "T2")]


def test_demo_lines_measure_the_recorded_sizes(demo_lines: pd.DataFrame) -> None:
    """SR (TID 1500 SCOORD) and SEG (mask axes) lines: drawn length = recorded size, on the image file found."""
    assert list(demo_lines.columns) == LINE_COLUMNS
    assert set(demo_lines["axis"]) == {"long", "short"}
    spacing: dict[str, tuple[float, float]] = {}
    for line in demo_lines.to_dict("records"):
        assert line["image_file"], line
        path = line["image_file"]
        spacing.setdefault(path, spacing_of(path))
        assert dcmread(path, stop_before_pixels=True).SOPInstanceUID == line["sop_instance_uid"]
        assert drawn_mm(line, spacing[path]) == pytest.approx(float(line["length_mm"]), abs=TOLERANCE_MM), line


def test_demo_lines_lie_on_the_lesion(demo_lines: pd.DataFrame) -> None:
    """Long-axis midpoints are the lesion centres of the demo's spec, on (or next to) the lesion's centre slice."""
    checked = 0
    for line in demo_lines[demo_lines["axis"] == "long"].to_dict("records"):
        subj = subject(line["subject_id"])
        les = next(les for les in subj.lesions if les.lesion_id == line["lesion_id"])
        cx, cy = geometry(subj).image_coords(les.x_mm, les.y_mm)
        mid = ((float(line["x1"]) + float(line["x2"])) / 2, (float(line["y1"]) + float(line["y2"])) / 2)
        slice_no = int(Path(line["image_file"]).stem)
        if re.search(r"/(sr|rtstruct)\.dcm#", line["source"]):  # true axes (SR) or the widest contour: exact
            assert math.dist(mid, (cx, cy)) < 0.01 and slice_no == les.slice_index + 1, line
        else:  # the SEG measures the pixel mask: within a pixel and a half, on the centre slice or its neighbour
            assert math.dist(mid, (cx, cy)) < 1.5 and abs(slice_no - (les.slice_index + 1)) <= 1, line
        checked += 1
    assert checked >= 25


def test_lines_follow_their_row_through_identity(demo_lines: pd.DataFrame) -> None:
    """Every (subject, timepoint, lesion) with a line is a row of the lesion table, and the other way round for
    the SR, SEG and RTSTRUCT subjects (the table subject carries no lines)."""
    lesions = extract_paths([DEMO]).lesions
    with_lines = {"DEMO-001", "DEMO-002", "DEMO-003", "DEMO-004", "DEMO-005", "DEMO-006", "DEMO-007"}
    measured = lesions[lesions["subject_id"].isin(with_lines) & (lesions["long_axis_mm"] != "")]
    want = set(zip(measured["subject_id"], measured["timepoint"], measured["lesion_id"], strict=True))
    got = set(zip(demo_lines["subject_id"], demo_lines["timepoint"], demo_lines["lesion_id"], strict=True))
    assert got == want
    assert set(demo_lines["subject_id"]) == with_lines


@pytest.mark.parametrize("sid", ["DEMO-003", "DEMO-007"])
def test_demo_rtstruct_lines(demo_lines: pd.DataFrame, sid: str) -> None:
    """RTSTRUCT subjects: every measured row has its long and short axis line, on the CT slice through the lesion
    centre of ``tools/demo_spec.py`` (the file the contour's ContourImageSequence names), long-axis midpoint at the
    centre's pixel position, and each line's length from its pixels and that slice's PixelSpacing is the size."""
    lesions = extract_paths([DEMO / sid]).lesions
    measured = lesions[lesions["long_axis_mm"] != ""]
    assert len(measured) >= 10 and measured["source"].str.contains("/rtstruct.dcm#").all()
    lines = demo_lines[demo_lines["subject_id"] == sid]
    subj = subject(sid)
    for row in measured.to_dict("records"):
        got = lines[(lines["timepoint"] == row["timepoint"]) & (lines["lesion_id"] == row["lesion_id"])]
        assert sorted(got["axis"]) == ["long", "short"], row
        les = next(les for les in subj.lesions if les.lesion_id == row["lesion_id"])
        for line in got.to_dict("records"):
            image = dcmread(line["image_file"], stop_before_pixels=True)
            assert image.SOPInstanceUID == line["sop_instance_uid"] and line["frame"] == ""
            assert image.ImagePositionPatient[2] == pytest.approx(geometry(subj).z(les.slice_index))
            ps = (float(image.PixelSpacing[0]), float(image.PixelSpacing[1]))
            want = row["long_axis_mm"] if line["axis"] == "long" else row["short_axis_mm"]
            assert drawn_mm(line, ps) == pytest.approx(float(want), abs=TOLERANCE_MM), line
            mid = ((float(line["x1"]) + float(line["x2"])) / 2, (float(line["y1"]) + float(line["y2"])) / 2)
            assert math.dist(mid, geometry(subj).image_coords(les.x_mm, les.y_mm)) < 0.01, line


def test_rtstruct_lines_with_workers() -> None:
    """The patient-space lines are mapped to pixels after reading: the same lines.csv with 2 worker processes."""
    one = extract_paths([DEMO / "DEMO-007"]).lines_frame()
    two = extract_paths([DEMO / "DEMO-007"], workers=2).lines_frame()
    assert len(one) > 0 and one.equals(two)


def test_real_rtstruct_line_on_its_ct(tmp_path: Path) -> None:
    """rt-utils: ROI-1's two contours (a square of 24 mm and a hole) lie on ct_1.dcm (z = 60, 0.488281 mm), which is
    beside it: its long and short axes are drawn there, their pixel lengths giving the recorded sizes."""
    folder = need_shared("data", "real", "rt-utils", "tests", "mock_data")
    assert main(["extract", str(folder), "--out", str(tmp_path)]) in (0, 1)
    lines = pd.read_csv(tmp_path / "lines.csv", dtype=str, keep_default_na=False)
    assert sorted(lines["axis"]) == ["long", "short"] and set(lines["lesion_id"]) == {"ROI-1"}
    assert {Path(f).name for f in lines["image_file"]} == {"ct_1.dcm"}
    for line in lines.to_dict("records"):
        assert drawn_mm(line, spacing_of(line["image_file"])) == pytest.approx(float(line["length_mm"]), abs=1e-3)
        xs, ys = (float(line["x1"]), float(line["x2"])), (float(line["y1"]), float(line["y2"]))
        assert all(0 <= v <= 512 for v in xs + ys)


def test_real_rtstruct_without_its_image_gives_no_line() -> None:
    """dicompyler-core: the Tumor Bed (27.5 mm) is widest at z = -17.44; the one CT beside it is the slice at
    z = 168.56, not the image its contour names: the row is read, and no line is drawn (and no problem said)."""
    folder = need_shared("data", "real", "dicompyler-core", "tests", "testdata", "example_data")
    read = RtStructReader().read(folder / "rtss.dcm")
    (row,) = [i for i, r in enumerate(read.rows) if r["lesion_id"] == "Tumor Bed"]
    named = {ln.sop_instance_uid for ln in read.lines if ln.row == row}
    assert len(named) == 1 and all(ln.space == "patient" and ln.start[2] == pytest.approx(-17.44, abs=0.01)
                                   for ln in read.lines if ln.row == row)
    ct = dcmread(folder / "ct.0.dcm", stop_before_pixels=True)
    assert float(ct.ImagePositionPatient[2]) == pytest.approx(168.5593) and ct.SOPInstanceUID not in named
    ex = extract_paths([folder])
    bed = ex.lesions[ex.lesions["lesion_id"] == "Tumor Bed"]
    assert float(bed["long_axis_mm"].iloc[0]) == pytest.approx(27.5, abs=0.05)
    assert set(ex.images) == {ct.SOPInstanceUID}
    assert ex.lines_frame().empty  # no ROI is widest on the one slice at hand
    assert not [p for p in ex.problems if "line" in p.message.lower() or "plane" in p.message.lower()]


def test_real_gsps_caliper_line() -> None:
    """AGFA IMPAX caliper: (561.447, 624.360)-(606.472, 576.686) at PresentationPixelSpacing 0.17 = 11.15 mm."""
    result = GspsReader().read(need_shared("data", "real", *GSPS, "GSPS_PS.dcm"))
    (line,) = result.lines
    assert line.axis == "length" and line.frame is None
    assert line.start == pytest.approx((561.447, 624.360), abs=1e-3)
    assert line.end == pytest.approx((606.472, 576.686), abs=1e-3)
    assert drawn_mm(line, (0.17, 0.17)) == pytest.approx(result.rows[line.row]["long_axis_mm"], abs=1e-6)
    assert drawn_mm(line, (0.17, 0.17)) == pytest.approx(11.15, abs=0.01)


@pytest.mark.parametrize(
    ("name", "points"),
    [
        ("Baseline/0022BaselineA", ((143, 300), (92, 326))),
        ("Baseline/0024BaselineB", ((191, 158), (101, 198))),
        ("FollowUp/0023FollowupB", ((48, 332), (114, 385))),
        ("FollowUp/0028FollowupA", ((167, 168), (155, 199))),
    ],
    ids=["0022BA", "0024BB", "0023FB", "0028FA"],
)
def test_real_aim_lines_in_xml_and_sr(name: str, points: tuple[tuple[int, int], ...]) -> None:
    """AIM v3 XML and its DICOM SR rendering give the same line, with the points PROVENANCE.md lists."""
    folder = need_shared("data", "real", *AIM, "AIMAnnotations")
    xml = AimReader().read(folder / f"{name}.xml")
    sr = GenericSRReader().read(folder / f"{name}.dcm")
    for result in (xml, sr):
        (line,) = result.lines
        assert (line.start, line.end) == points
        assert line.axis == "length" and result.rows[line.row]["long_axis_mm"] > 0
    assert xml.lines[0].sop_instance_uid == sr.lines[0].sop_instance_uid


def test_real_aim_self_consistent_line_measures_its_value() -> None:
    """0022 baseline A (the one self-consistent sample): 57.24 px x 0.691406 mm = the stored 39.58 mm. The other
    samples' stored lengths disagree with their images (PROVENANCE.md); their lines are drawn as recorded."""
    root = need_shared("data", "real", *AIM)
    image = root / "Images" / "Baseline" / "0022Baseline.dcm"
    (line,) = AimReader().read(root / "AIMAnnotations" / "Baseline" / "0022BaselineA.xml").lines
    assert line.sop_instance_uid == dcmread(image, stop_before_pixels=True).SOPInstanceUID
    assert drawn_mm(line, spacing_of(image)) == pytest.approx(39.5795974731445, abs=TOLERANCE_MM)


def test_real_tid1500_scoords() -> None:
    """Cornerstone's TID 1500 (dcmjs): each NUM's INFERRED FROM SCOORD, with the points PROVENANCE.md lists;
    every length over its drawn pixels gives the one pixel spacing (about 0.9766 mm) of the absent images."""
    result = TID1500Reader().read(need_shared("data", "real", "dcmjs", "examples", "data", "structured_report.dcm"))
    got = {(ln.axis, ln.start, ln.end) for ln in result.lines}
    assert ("long", (71.5, 329.0), (139.5, 397.0)) in got
    assert ("short", (88.5, 380.0), (122.5, 346.0)) in got
    assert ("length", (237.5, 392.0), (272.5, 372.0)) in got
    assert ("length", (167.5, 288.0), (262.5, 387.0)) in got
    ratios = []
    for ln in result.lines:
        row = result.rows[ln.row]
        mm = row["short_axis_mm"] if ln.axis == "short" else row["long_axis_mm"]
        ratios.append(mm / math.dist(ln.start, ln.end))
    assert max(ratios) - min(ratios) < 0.005 and ratios[0] == pytest.approx(0.9766, abs=0.001)


def test_real_seg_line_on_its_source_ct() -> None:
    """LIDC nodule SEG (pydicomutils): the axes map to the CT slice the frame was derived from, and their drawn
    lengths with that CT's PixelSpacing equal the measured axes."""
    root = need_shared("data", "real", "pydicomutils", "examples", "data", "ct_images")
    result = SegReader().read(root / "dcm_segmentation" / "nodule_01_annotation_0.dcm")
    cts = {dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in (root / "original_dicom_images").iterdir()}
    assert {ln.axis for ln in result.lines} == {"long", "short"}
    for ln in result.lines:
        row = result.rows[ln.row]
        mm = row["short_axis_mm"] if ln.axis == "short" else row["long_axis_mm"]
        assert drawn_mm(ln, spacing_of(cts[ln.sop_instance_uid])) == pytest.approx(mm, abs=TOLERANCE_MM)


def test_real_aim_extraction_lines_follow_the_study_subject(tmp_path: Path) -> None:
    """The AIM SRs name another PatientID than their CT; lines.csv carries the subject the study resolved to, the
    image file found by the index, and the lines of both copies of each measurement once."""
    root = need_shared("data", "real", *AIM)
    assert main(["extract", str(root), "--out", str(tmp_path)]) in (0, 1)
    lines = pd.read_csv(tmp_path / "lines.csv", dtype=str, keep_default_na=False)
    assert list(lines.columns) == LINE_COLUMNS
    assert len(lines) == 20  # 5 patients x 2 time points x 2 readers, XML and SR kept once
    assert set(lines["subject_id"]) == {f"1.3.6.1.4.1.9328.50.1.00{n}" for n in (22, 23, 24, 25, 28)}
    assert all(Path(f).name.startswith(("00",)) and Path(f).is_file() for f in lines["image_file"])


# ------------------------------------------------------------------------------------------- outputs


def test_score_of_a_table_writes_no_lines(tmp_path: Path) -> None:
    assert main(["score", str(DEMO / "annotations.csv"), "--out", str(tmp_path)]) in (0, 1)
    assert not (tmp_path / "lines.csv").exists()


def test_pseudonymized_lines(run: Path, tmp_path: Path) -> None:
    """No subject id is left in lines.csv under --pseudonymize (score), nor in an extraction's lines."""
    assert main(["score", str(DEMO), "--out", str(tmp_path), "--pseudonymize", "secret", "--no-report"]) == 0
    text = (tmp_path / "lines.csv").read_text()
    assert "DEMO-0" not in text and len(text.splitlines()) == len((run / "lines.csv").read_text().splitlines())
    ex = pseudonymize_extraction(extract_paths([DEMO / "DEMO-001"]), Pseudonymizer(b"secret"))
    frame = ex.lines_frame()
    assert len(frame) and not frame.apply(lambda col: col.str.contains("DEMO-0")).any().any()


def test_report_has_a_strip_per_measured_lesion(run: Path) -> None:
    """One strip per (subject, lesion) of lines.csv, one thumbnail per assessment at which it has a line."""
    page = (run / REPORT_NAME).read_text(encoding="utf-8")
    lines = pd.read_csv(run / "lines.csv", dtype=str, keep_default_na=False)
    for (sid, lesion), group in lines.groupby(["subject_id", "lesion_id"]):
        strip = re.search(rf'<div class="strip" id="keyimages-{sid}-{lesion}"[^>]*>(.*?)</figure></div>', page)
        assert strip is not None, (sid, lesion)
        assert strip.group(1).count("data:image/png;base64,") == group["timepoint"].nunique()
    assert page.count('class="strip"') == len(lines.groupby(["subject_id", "lesion_id"]))
    assert 'class="missing"' not in page
    assert len(page) < 4_000_000


def test_report_has_rtstruct_strips(run: Path) -> None:
    """The RTSTRUCT subjects' sections end with key images: a strip per measured lesion, one thumbnail per
    assessment (DEMO-003: 5 assessments, DEMO-007: 4, every target measured at each)."""
    page = (run / REPORT_NAME).read_text(encoding="utf-8")
    for sid, visits in (("DEMO-003", 5), ("DEMO-007", 4)):
        for lesion in ("T1", "T2"):
            strip = re.search(rf'<div class="strip" id="keyimages-{sid}-{lesion}"[^>]*>(.*?)</figure></div>', page)
            assert strip is not None, (sid, lesion)
            assert strip.group(1).count("data:image/png;base64,") == visits, (sid, lesion)


def test_missing_image_gives_a_note(run: Path, tmp_path: Path) -> None:
    """A line whose image file is gone, or that lies outside its image: a note in its cell, the rest drawn."""
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    lines = pd.read_csv(folder / "lines.csv", dtype=str, keep_default_na=False)
    gone = lines["lesion_id"].eq("T1") & lines["subject_id"].eq("DEMO-001") & lines["timepoint"].eq("baseline")
    lines.loc[gone, "image_file"] = "nowhere/gone.dcm"
    outside = lines["lesion_id"].eq("T2") & lines["subject_id"].eq("DEMO-002") & lines["timepoint"].eq("baseline")
    lines.loc[outside, "x2"] = "9999"
    lines.to_csv(folder / "lines.csv", index=False)
    write_report(folder)
    page = (folder / REPORT_NAME).read_text(encoding="utf-8")
    assert "image not at hand (gone.dcm)" in page
    assert "the line lies outside the image (64 x 64 pixels)" in page
    assert page.count('class="missing"') == 2
    assert page.count("data:image/png;base64,") == (run / REPORT_NAME).read_text().count("data:image/png;") - 2


def test_report_without_lines_has_no_key_images(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    (folder / "lines.csv").unlink()
    write_report(folder)
    assert 'class="keyimages"' not in (folder / REPORT_NAME).read_text(encoding="utf-8")


def test_screenshot_of_a_subject_section_shows_the_lines(run: Path, tmp_path: Path) -> None:
    """Headless Chromium renders DEMO-002's section (timelines and key images): not blank, and the amber long
    axes and cyan short axes drawn on the thumbnails are on screen (tools/report_screenshot.py --section)."""
    import report_screenshot  # type: ignore[import-not-found]

    if report_screenshot.find_chromium() is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    png = tmp_path / "section.png"
    code = report_screenshot.main([str(run), "--section", "subject-DEMO-002", "--out", str(png), "--height", "2400"])
    assert code == 0
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    amber = (abs(pixels[..., 0] - 255) < 16) & (abs(pixels[..., 1] - 196) < 20) & (pixels[..., 2] < 60)
    cyan = (pixels[..., 0] < 60) & (abs(pixels[..., 1] - 200) < 24) & (pixels[..., 2] > 220)
    assert amber.sum() > 200 and cyan.sum() > 100


def test_parquet_copy_of_lines(tmp_path: Path) -> None:
    """--parquet copies lines.csv too, value for value."""
    assert main(["score", str(DEMO / "DEMO-001"), "--out", str(tmp_path), "--no-report", "--parquet"]) == 0
    csv = pd.read_csv(tmp_path / "lines.csv", dtype=str, keep_default_na=False)
    pq = pd.read_parquet(tmp_path / "lines.parquet")
    assert len(csv) > 0 and list(pq.columns) == list(csv.columns)
    assert pq.astype(str).where(pq.notna(), "").equals(csv)


# ------------------------------------------------------------------------------------------- Slicer markups


def _slicer_trial(tmp_path: Path, system: str, z_shift: float = 0.0) -> tuple[Path, Path, list[float]]:
    """DEMO-001's baseline CT and one Slicer line drawn on slice 010 from pixel (20.5, 30.5) to (40.5, 35.5)
    (corner convention), its control points computed from that slice's header (PS3.3 C.7.6.2.1.1)."""
    folder = tmp_path / "in"
    shutil.copytree(DEMO / "DEMO-001" / "2023-01-09_baseline" / "ct", folder / "ct")
    ct = folder / "ct" / "010.dcm"
    ds = dcmread(ct, stop_before_pixels=True)
    ipp, iop = np.array(ds.ImagePositionPatient, float), np.array(ds.ImageOrientationPatient, float)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    pixels = [20.5, 30.5, 40.5, 35.5]

    def lps(x: float, y: float) -> list[float]:
        p = ipp + (x - 0.5) * col_mm * iop[:3] + (y - 0.5) * row_mm * iop[3:] + [0.0, 0.0, z_shift]
        return [float(-p[0]), float(-p[1]), float(p[2])] if system == "RAS" else [float(v) for v in p]

    points = [lps(pixels[0], pixels[1]), lps(pixels[2], pixels[3])]
    markup = {"type": "Line", "name": "L1", "coordinateSystem": system,
              "controlPoints": [{"position": points[0]}, {"position": points[1]}]}  # fmt: skip
    (folder / "line.mrk.json").write_text(json.dumps({"markups": [markup]}), encoding="utf-8")
    sidecar = {"subject_id": "DEMO-001", "timepoint": "baseline", "date": "2023-01-09", "lesion_id": "T9",
               "role": "target", "organ": "liver"}  # fmt: skip
    (folder / "line.sidecar.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return folder, ct, pixels


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_slicer_line_is_drawn_on_the_slice_it_lies_on(tmp_path: Path, system: str) -> None:
    folder, ct, pixels = _slicer_trial(tmp_path, system)
    ex = extract_paths([folder])
    (line,) = ex.lines_frame().itertuples()
    assert (line.subject_id, line.lesion_id, line.axis, Path(line.image_file)) == ("DEMO-001", "T9", "long", ct)
    assert line.sop_instance_uid == dcmread(ct, stop_before_pixels=True).SOPInstanceUID
    assert [float(v) for v in (line.x1, line.y1, line.x2, line.y2)] == pytest.approx(pixels, abs=1e-6)
    row_mm, col_mm = (float(v) for v in dcmread(ct, stop_before_pixels=True).PixelSpacing)
    expected = math.hypot((pixels[2] - pixels[0]) * col_mm, (pixels[3] - pixels[1]) * row_mm)
    assert float(line.length_mm) == pytest.approx(expected, abs=TOLERANCE_MM)


def test_slicer_line_between_slices_gives_no_line(tmp_path: Path) -> None:
    """2.5 mm off every 5 mm slice: on no image plane (tolerance 0.5 mm), so no line and no problem."""
    folder, _ct, _pixels = _slicer_trial(tmp_path, "LPS", z_shift=2.5)
    ex = extract_paths([folder])
    assert len(ex.lesions) == 1 and ex.lines_frame().empty
    assert not [p for p in ex.problems if p.level.value == "error"]
