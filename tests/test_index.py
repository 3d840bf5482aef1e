"""Study index: headers only, studies grouped by subject/study/date, every unused file reported, timepoints."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.fileset import FileSet

from irrecist.errors import Level
from irrecist.index import STUDY_COLUMNS, TimepointMap, build_index, label_assessments, read_timepoint_map
from tests.conftest import need_shared
from tests.helpers import AIM_SAMPLES as AIM

# patient -> (baseline StudyDate, follow-up StudyDate) of the CT slices (PROVENANCE.md section 1)
DATES = {
    "0022": ("2000-07-01", "2000-08-10"),
    "0023": ("2000-01-01", "2000-07-12"),
    "0024": ("2000-01-01", "2000-04-20"),
    "0025": ("2000-01-01", "2000-08-23"),
    "0028": ("2000-01-01", "2000-10-12"),
}
CT_SUBJECT = "1.3.6.1.4.1.9328.50.1.{}"


@pytest.fixture(scope="module")
def aim_dir() -> Path:
    return need_shared(*AIM)


def test_aim_set_studies(aim_dir: Path) -> None:
    index = build_index([aim_dir])
    studies = index.studies()
    assert list(studies.columns) == STUDY_COLUMNS
    assert all(isinstance(v, str) for v in studies.to_numpy().ravel())
    ct = studies[studies.modality == "CT"]
    assert len(ct) == 10 and set(ct.file_count) == {"1"} and set(ct.sop_class) == {"CT Image Storage"}
    got = {(s, d) for s, d in zip(ct.subject_id, ct.date, strict=True)}
    assert got == {(CT_SUBJECT.format(p), d) for p, ds in DATES.items() for d in ds}
    # each study holds its CT series and the two readers' SR renderings, all under the images' subject and date
    sr = studies[studies.modality == "SR"]
    assert len(sr) == 20 and set(sr.sop_class) == {"Comprehensive SR Storage"}
    for study, group in studies.groupby("study_uid"):
        assert group.subject_id.nunique() == 1 and group.date.nunique() == 1, study
        assert Counter(group.modality) == {"CT": 1, "SR": 2}
    # the SRs carry another PatientID and no date: each study reports the disagreement once
    differs = [p for p in index.problems if "PatientID differs" in p.message]
    assert len(differs) == 10 and all(p.level is Level.WARNING for p in differs)
    assert index.image_spacing()["1.3.6.1.4.1.9328.50.1.10717"] == pytest.approx((0.691406, 0.691406), abs=1e-6)


def test_headers_only_and_every_file_accounted_for(real_data: Path) -> None:
    index = build_index([real_data])
    for rec in index.files:
        assert rec.header is None or "PixelData" not in rec.header
        assert rec.header is None or "PatientName" not in rec.header
    used = {rec.path for rec in index.files}
    reported = {Path(p.source.split("#")[0]) for p in index.problems}
    every = {p for p in real_data.rglob("*") if p.is_file()}
    assert every <= used | reported, sorted(map(str, every - used - reported))[:5]
    lines = {Path(p.source).name: p for p in index.problems}
    assert "not DICOM" in lines["PROVENANCE.md"].message
    assert "not DICOM" in lines["lung1_label.nrrd"].message
    assert any(name.endswith("LICENSE.txt") for name in lines)
    # the RTSTRUCT without preamble or file meta is read with force
    assert any(rec.path.name == "rtstruct.dcm" and rec.modality == "RTSTRUCT" for rec in index.files)


def test_junk_empty_and_truncated_files_are_issue_lines(aim_dir: Path, tmp_path: Path) -> None:
    ct = (aim_dir / "Images" / "Baseline" / "0022Baseline.dcm").read_bytes()
    sr = (aim_dir / "AIMAnnotations" / "Baseline" / "0022BaselineA.dcm").read_bytes()
    (tmp_path / "good.dcm").write_bytes(ct)
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01 not an image " * 20)
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "cut_header.dcm").write_bytes(ct[:1000])
    (tmp_path / "cut_pixels.dcm").write_bytes(ct[:300_000])
    (tmp_path / "cut_sr.dcm").write_bytes(sr[:5000])
    (tmp_path / "notes.xml").write_text("<notes>not AIM</notes>", encoding="utf-8")
    index = build_index([tmp_path, tmp_path / "missing-folder"])
    assert [r.path.name for r in index.files] == ["good.dcm"]
    by_name = {Path(p.source).name: p for p in index.problems}
    assert by_name["empty.dcm"].level is Level.WARNING and "empty" in by_name["empty.dcm"].message
    assert "not DICOM" in by_name["junk.bin"].message
    assert "not AIM" in by_name["notes.xml"].message
    for name in ("cut_header.dcm", "cut_pixels.dcm", "cut_sr.dcm"):
        assert by_name[name].level is Level.ERROR and "truncated" in by_name[name].message, name
    assert "not found" in by_name["missing-folder"].message


def test_dicomdir_given_by_name_indexes_its_files(aim_dir: Path, tmp_path: Path) -> None:
    fs = FileSet()
    for f in sorted((aim_dir / "Images").rglob("*.dcm"))[:3]:
        fs.add(pydicom.dcmread(f))
    fs.write(tmp_path / "media")
    index = build_index([tmp_path / "media" / "DICOMDIR"])
    assert sum(r.kind == "dicom" for r in index.files) == 3
    assert len(index.studies()) == 3
    victim = next(p for p in (tmp_path / "media").rglob("IM*"))
    shutil.move(victim, tmp_path / "moved")
    index = build_index([tmp_path / "media"])
    assert any("missing" in p.message and p.level is Level.WARNING for p in index.problems)


def test_timepoint_labels_from_dates() -> None:
    visits = [("S1", "2024-01-01"), ("S1", "2024-02-26"), ("S2", "2024-03-05"), ("S2", "2024-01-05")]
    labels, problems = label_assessments(visits, {}, {})
    assert labels == {
        ("S1", "2024-01-01"): "baseline",
        ("S1", "2024-02-26"): "day 56",
        ("S2", "2024-01-05"): "baseline",
        ("S2", "2024-03-05"): "day 60",
    }
    assert problems == []


def test_timepoint_labels_given_then_mapping_then_date(tmp_path: Path) -> None:
    table = tmp_path / "visits.csv"
    table.write_text(
        "subject_id,date,study_uid,timepoint\nS1,20240226,,week 8\n,,1.2.3,week 16\nS1,,,orphan\n", encoding="utf-8"
    )
    tmap, problems = read_timepoint_map(table)
    assert tmap.by_visit == {("S1", "2024-02-26"): "week 8"} and tmap.by_study == {"1.2.3": "week 16"}
    assert len(problems) == 1 and "row 4" in problems[0].source
    visits = [("S1", "2024-01-01"), ("S1", "2024-02-26"), ("S1", "2024-04-22"), ("S1", "2024-06-01")]
    given = {("S1", "2024-01-01"): Counter({"BL": 3}), ("S1", "2024-02-26"): Counter({"TP2": 1})}
    studies = {("S1", "2024-04-22"): {"1.2.3"}}
    labels, problems = label_assessments(visits, given, studies, tmap)
    assert labels[("S1", "2024-01-01")] == "BL"  # TID 1502 / reader label first
    assert labels[("S1", "2024-02-26")] == "TP2"  # ... even when the mapping says otherwise (reported)
    assert labels[("S1", "2024-04-22")] == "week 16"  # mapping by study UID
    assert labels[("S1", "2024-06-01")] == "day 152"  # date, counted from the earliest date
    assert any("week 8" in p.message for p in problems)


def test_timepoint_conflicts_are_reported() -> None:
    visits = [("S1", "2024-01-01"), ("S1", "2024-02-01"), ("S1", "")]
    given = {
        ("S1", "2024-01-01"): Counter({"baseline": 2, "screening": 1}),
        ("S1", "2024-02-01"): Counter({"baseline": 1}),
    }
    labels, problems = label_assessments(visits, given, {}, TimepointMap())
    assert labels[("S1", "2024-01-01")] == "baseline"
    messages = " | ".join(p.message for p in problems)
    assert "several timepoint labels" in messages
    assert "labels two dates" in messages
    assert labels[("S1", "")] == "" and any(p.level is Level.ERROR for p in problems)


# ------------------------------------------------------------------ the fast header scan (issue 6)


def _classify_both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object, bool]:
    """classify with the fast scan and with pydicom only (an exception counts as a result), and whether the
    scan took the file."""
    import irrecist.index as ix

    def run() -> object:
        try:
            return ix.classify(path)
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc))

    taken: list[bool] = []
    scan = ix.scan_header

    def spy(fh: Any, size: int) -> Any:
        found = scan(fh, size)
        taken.append(found is not None)
        return found

    with monkeypatch.context() as m:
        m.setattr(ix, "scan_header", spy)
        fast = run()
        m.setattr(ix, "scan_header", lambda fh, size: None)
        slow = run()
    return fast, slow, any(taken)


def test_fast_scan_gives_the_pydicom_record_for_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every DICOM file at hand (demo, pydicom's test files: implicit VR, big endian, deflate, JPEG, odd
    sequences, no preamble ...) gets the same record and problems with the scan as with pydicom alone."""
    import pydicom.data

    roots = [Path(__file__).resolve().parent.parent / "test_images", Path(pydicom.data.__file__).parent]
    files = sorted(p for r in roots for p in r.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc"))
    scanned = 0
    for path in files:
        fast, slow, taken = _classify_both(path, monkeypatch)
        assert fast == slow, path
        scanned += taken
    assert scanned > 800 and scanned < len(files) - 50  # both ways are exercised


def test_fast_scan_on_cut_and_corrupted_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Truncated anywhere, or one header byte changed: the scan never gives another answer than pydicom."""
    import random
    import warnings

    import pydicom.data

    warnings.simplefilter("ignore")
    rng = random.Random(6)
    seeds = [
        Path(__file__).resolve().parent.parent / "test_images" / "DEMO-001" / "2023-01-09_baseline" / "ct" / "001.dcm",
        Path(pydicom.data.get_testdata_file("MR_small.dcm") or ""),
        Path(pydicom.data.get_testdata_file("JPEG2000.dcm") or ""),
        Path(pydicom.data.get_testdata_file("waveform_ecg.dcm") or ""),
    ]
    for seed in seeds:
        data = seed.read_bytes()
        variants = [data[:cut] for cut in rng.sample(range(len(data)), 40)]
        for _ in range(120):
            b = bytearray(data)
            b[rng.randrange(128, min(len(b), 2000))] = rng.randrange(256)
            variants.append(bytes(b))
        for k, v in enumerate(variants):
            path = tmp_path / f"{seed.stem}-{k}.dcm"
            path.write_bytes(v)
            fast, slow, _ = _classify_both(path, monkeypatch)
            assert fast == slow, (seed.name, k)


def test_several_ds_numbers_are_the_floats_pydicom_reads() -> None:
    """The scan's DS shortcut (PixelSpacing, ImagePositionPatient ...) gives pydicom's numbers, or leaves the
    value to pydicom: odd spacing, NUL padding, signs, exponents, one value, empty parts, words, long values."""
    import random
    import warnings

    from pydicom.dataelem import RawDataElement, convert_raw_data_element
    from pydicom.tag import BaseTag

    from irrecist.index import _decimals

    warnings.simplefilter("ignore")
    rng = random.Random(30)
    alphabet = b"0123456789.+-eE \\\0\tnaif_"
    taken = 0
    for k in range(20000):
        if k % 2:
            value = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 24)))
        else:
            numbers = [repr(rng.uniform(-1e3, 1e3))[: rng.randrange(1, 17)] for _ in range(rng.randrange(1, 4))]
            value = "\\".join(numbers).encode() + rng.choice([b"", b" ", b"\0", b" \0"])
        numbers_read = _decimals(value)
        if numbers_read is None:
            continue
        taken += 1
        raw = RawDataElement(BaseTag(0x00280030), "DS", len(value), value, 0, False, True)
        assert [float(v) for v in convert_raw_data_element(raw).value] == numbers_read, value
    assert taken > 5000
