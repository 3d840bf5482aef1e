"""Broken and hostile files (issue 7), all made here in tmp_path: each yields a located issue line from
``irrecist.extract.extract_paths`` and the good file beside it is still read; absurd length fields allocate
nothing, XML entities open no file and no socket, sidecars outside the input folder are refused."""

from __future__ import annotations

import io
import os
import shutil
import struct
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from irrecist.dicomio import SMALL_READ, BoundedFile, dcmread
from irrecist.errors import InputError, Level, Problem
from irrecist.extract import Extraction, extract_paths
from tests.audit import watching

DEMO = Path(__file__).resolve().parent.parent / "test_images"
GOOD_SR = DEMO / "DEMO-001" / "2023-01-09_baseline" / "sr.dcm"  # T1 40 mm, T2 25 mm, NT1
SEG = DEMO / "DEMO-002" / "2023-01-16_baseline" / "seg.dcm"
CT = DEMO / "DEMO-002" / "2023-01-16_baseline" / "ct" / "001.dcm"
HUGE = 0xFFFFFFF0  # a 4 GB length field

# ------------------------------------------------------------------------------------------- builders


def _patched(data: bytes, marker: bytes, replacement: bytes) -> bytes:
    i = data.find(marker)
    assert i >= 0, marker
    return data[:i] + replacement + data[i + len(replacement) :]


def _saved(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    value += b" " * (len(value) % 2)
    return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value


def deep_sr(depth: int) -> bytes:
    """A Comprehensive SR whose content tree is a chain of ``depth`` nested containers (undefined lengths)."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.33", generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.StudyDate, ds.Modality, ds.ValueType = "DEEP", "20240101", "SR", "CONTAINER"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "126000", "DCM", "Imaging Measurement Report"
    ds.ConceptNameCodeSequence = [name]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    head = io.BytesIO()
    ds.save_as(head, enforce_file_format=True)
    opening = (
        struct.pack("<HH", 0x0040, 0xA730) + b"SQ\0\0" + struct.pack("<I", 0xFFFFFFFF)  # Content Sequence
        + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)  # item
        + _element(0x0040, 0xA010, b"CS", b"CONTAINS") + _element(0x0040, 0xA040, b"CS", b"CONTAINER")
    )  # fmt: skip
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return head.getvalue() + opening * depth + closing * depth


def seg_with(change: Callable[[Dataset], None]) -> bytes:
    ds = pydicom.dcmread(SEG)
    change(ds)
    return _saved(ds)


def _fewer_items(ds: Dataset) -> None:
    del ds.PerFrameFunctionalGroupsSequence[1:]


def _zero_pixels(ds: Dataset) -> None:
    ds.Rows, ds.Columns, ds.PixelData = 0, 0, b""


def zero_pixel_ct() -> bytes:
    ds = pydicom.dcmread(CT)
    ds.Rows, ds.Columns, ds.PixelData = 0, 0, b""
    return _saved(ds)


def random_bytes(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


AIM_NS = "gme://caCORE.caCORE/3.2/edu.northwestern.radiology.AIM"

# name -> (file name, bytes builder, level, message pattern)
BROKEN: dict[str, tuple[str, Callable[[], bytes], Level, str]] = {
    "empty": ("empty.dcm", lambda: b"", Level.WARNING, "empty file: not read"),
    "random bytes": ("random.dcm", lambda: random_bytes(5000, 1), Level.WARNING, "not DICOM"),
    "random bytes after a DICOM preamble": (
        "preamble.dcm",
        lambda: b"\0" * 128 + b"DICM" + random_bytes(5000, 2),
        Level.ERROR,
        "truncated|unreadable|corrupt",
    ),
    "truncated SR": (
        "truncated_sr.dcm",
        lambda: GOOD_SR.read_bytes()[: GOOD_SR.stat().st_size // 3],
        Level.ERROR,
        "truncated",
    ),
    "truncated SEG": ("truncated_seg.dcm", lambda: SEG.read_bytes()[:3000], Level.ERROR, "truncated"),
    "zero-pixel image": ("zero.dcm", zero_pixel_ct, Level.WARNING, r"image of 0 x 0 pixels .*no pixels"),
    "zero-pixel SEG": (
        "zero_seg.dcm",
        lambda: seg_with(_zero_pixels),
        Level.ERROR,
        r"Rows 0, Columns 0.*the frames have no pixels",
    ),
    "SEG with more frames than it has": (
        "frames.dcm",
        lambda: seg_with(lambda ds: setattr(ds, "NumberOfFrames", int(ds.NumberOfFrames) + 5)),
        Level.ERROR,
        r"NumberOfFrames is 14 but the Per-Frame Functional Groups Sequence has 9 items",
    ),
    "SEG with one per-frame item for nine frames": (
        "items.dcm",
        lambda: seg_with(_fewer_items),
        Level.ERROR,
        r"NumberOfFrames is 9 but the Per-Frame Functional Groups Sequence has 1 items",
    ),
    "SEG with half its pixel data": (
        "pixels.dcm",
        lambda: seg_with(lambda ds: setattr(ds, "PixelData", ds.PixelData[: len(ds.PixelData) // 2])),
        Level.ERROR,
        r"the pixel data has 2304 bytes; 9 frame\(s\) of 64 x 64 at 1 bit\(s\) need 4608",
    ),
    "SEG frames larger than their pixel data": (
        "rows.dcm",
        lambda: seg_with(lambda ds: (setattr(ds, "Rows", 4000), setattr(ds, "Columns", 4000))),
        Level.ERROR,
        r"9 frame\(s\) of 4000 x 4000 at 1 bit\(s\) need 18000000",
    ),
    "4 GB PatientID": (
        "huge_id.dcm",
        lambda: _patched(
            GOOD_SR.read_bytes(), b"\x10\x00\x20\x00LO", b"\x10\x00\x20\x00UT\0\0" + struct.pack("<I", HUGE)
        ),
        Level.ERROR,
        r"declares 4294967280 bytes but the file \(\d+ bytes\) has only \d+ left",
    ),
    "4 GB pixel data": (
        "huge_pixels.dcm",
        lambda: _patched(
            CT.read_bytes(), b"\xe0\x7f\x10\x00OW\0\0", b"\xe0\x7f\x10\x00OW\0\0" + struct.pack("<I", HUGE)
        ),
        Level.ERROR,
        r"pixel data needs 4294967280 bytes",
    ),
    "corrupt VR in the header": (  # found by tests/test_fuzz.py: the value was converted outside the guard
        "bad_vr.dcm",
        lambda: _patched(GOOD_SR.read_bytes(), b"\x08\x00\x60\x00CS", b"\x08\x00\x60\x00C\xac"),
        Level.ERROR,
        r"unreadable file .*Unknown Value Representation",
    ),
    "impossible StudyDate": (  # found by tests/test_fuzz.py: 2024-02-30 reached the timepoint labels and raised
        "bad_date.dcm",
        lambda: seg_with(lambda ds: setattr(ds, "StudyDate", "20240230")),
        Level.WARNING,
        r"StudyDate '20240230' is not a date",
    ),
    "impossible date in a table row without a label": (
        "rows.csv",
        lambda: b"subject_id,timepoint,date,lesion_id,role,organ,long_axis_mm\nX1,,2024-02-30,T1,target,liver,12\n",
        Level.ERROR,
        r"date '2024-02-30' is not a calendar date YYYY-MM-DD and no timepoint label",
    ),
    "SR nested 5000 deep": ("deep.dcm", lambda: deep_sr(5000), Level.ERROR, r"nested too deeply"),
    "AIM with a billion laughs": (
        "bomb.xml",
        lambda: (
            '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + k)} "{("&" + chr(97 + k) + ";") * 10}">' for k in range(8))
            + f']>\n<ImageAnnotation xmlns="{AIM_NS}" name="&i;"/>\n'
        ).encode(),
        Level.ERROR,
        r"XML refused: entity declarations",
    ),
}


def good_rows(ex: Extraction) -> dict[str, str]:
    rows = ex.lesions[ex.lesions.source.str.contains("good_sr.dcm", regex=False)]
    return dict(zip(rows.lesion_id, rows.long_axis_mm, strict=True))


def run_beside_good(tmp_path: Path, files: dict[str, bytes]) -> Extraction:
    folder = tmp_path / "in"
    folder.mkdir(parents=True)
    shutil.copy(GOOD_SR, folder / "good_sr.dcm")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return extract_paths([folder])


def lines_for(ex: Extraction, name: str) -> list[Problem]:
    return [p for p in ex.problems if name in p.source or name in p.message or p.subject_id == "X1"]


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_is_an_issue_line_and_the_good_file_is_read(case: str, tmp_path: Path) -> None:
    name, build, level, pattern = BROKEN[case]
    ex = run_beside_good(tmp_path, {name: build()})
    import re

    mine = lines_for(ex, name)
    assert any(p.level is level and re.search(pattern, p.message) for p in mine), [p.as_row() for p in ex.problems]
    assert all(str(tmp_path) in p.source or p.source.startswith(("study ", "subject X1 date")) for p in mine)
    assert good_rows(ex) == {"NT1": "14", "T1": "40", "T2": "25"}
    assert not any("good_sr.dcm" in p.source and p.level is Level.ERROR for p in ex.problems)


def test_moderately_deep_sr_is_walked_to_a_bound(tmp_path: Path) -> None:
    """Deeper than the content walk's bound (64) but readable: reported, never a crash or a hang."""
    ex = run_beside_good(tmp_path, {"deep.dcm": deep_sr(120)})
    mine = lines_for(ex, "deep.dcm")
    assert mine and all(p.level in (Level.WARNING, Level.ERROR) for p in mine), [p.as_row() for p in ex.problems]
    assert any("depth" in p.message or "deep" in p.message for p in mine), [p.message for p in mine]
    assert good_rows(ex) == {"NT1": "14", "T1": "40", "T2": "25"}


def test_sr_by_reference_cycle_is_not_followed(tmp_path: Path) -> None:
    """A content item that refers back to the root by reference (PS3.3 C.17.3.2.5): the by-reference link is
    not followed, so the document reads like its original."""
    ds = pydicom.dcmread(GOOD_SR)
    ref = Dataset()
    ref.RelationshipType, ref.ReferencedContentItemIdentifier = "HAS PROPERTIES", [1]
    group = ds.ContentSequence[-1].ContentSequence[0]
    group.ContentSequence.append(ref)
    ex = run_beside_good(tmp_path, {"cycle.dcm": _saved(ds)})
    cyc = ex.lesions[ex.lesions.source.str.contains("cycle.dcm", regex=False)]
    assert len(cyc) >= 1 or lines_for(ex, "cycle.dcm")
    assert good_rows(ex) == {"NT1": "14", "T1": "40", "T2": "25"}


def test_cyclic_content_tree_in_memory_is_reported() -> None:
    """An SR dataset whose tree contains itself (possible only in memory): every SR reader stops and says so."""
    from irrecist.lesions.sr import GenericSRReader, TID1500Reader

    ds = pydicom.dcmread(GOOD_SR)
    group = ds.ContentSequence[-1].ContentSequence[0]
    group.ContentSequence.append(group)
    for reader in (TID1500Reader(), GenericSRReader()):
        result = reader.read(ds)
        assert result.problems, reader.name
        assert all(p.source for p in result.problems)
    tid = TID1500Reader().read(ds)
    assert any("cycle" in p.message for p in tid.problems), [p.message for p in tid.problems]
    assert {r["lesion_id"] for r in tid.rows} >= {"T1", "T2"}


# ------------------------------------------------------------------------------------------- memory guard


def test_bounded_file_never_reads_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(b"x" * 100)
    with BoundedFile(path) as fh:
        fh.seek(10)
        assert fh.read(4 << 30) == b"x" * 90
        assert fh.short == (10, 4 << 30, 90)
    with BoundedFile(path) as fh:  # small reads are passed as they are
        assert fh.read(SMALL_READ) == b"x" * 100 and fh.short is None


def test_a_4gb_length_field_allocates_nothing(tmp_path: Path) -> None:
    """pydicom alone would allocate the declared 4 GB before finding the file short (a buffered read of n bytes
    allocates n); through ``irrecist.dicomio`` the peak stays small and the file is refused, located. A 4 GB
    length inside a defined-length sequence is bounded by its item (pydicom parses the item from memory): the
    value swallows the rest of the item, and what is lost is reported."""
    top = _patched(GOOD_SR.read_bytes(), b"\x10\x00\x20\x00LO", b"\x10\x00\x20\x00UT\0\0" + struct.pack("<I", HUGE))
    deep = _patched(
        GOOD_SR.read_bytes(), b"\x40\x00\x60\xa1UT\0\0", b"\x40\x00\x60\xa1UT\0\0" + struct.pack("<I", HUGE)
    )
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "huge.dcm").write_bytes(top)
    (folder / "huge_text.dcm").write_bytes(deep)
    run_beside_good(tmp_path / "warm", {})  # imports and caches outside the measured window
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r"huge.dcm: an element at byte \d+ declares 4294967280 bytes"):
            dcmread(folder / "huge.dcm")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ex = extract_paths([folder])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"peak {peak / 1e6:.0f} MB"
    assert any(p.level is Level.ERROR and "declares 4294967280 bytes" in p.message for p in lines_for(ex, "huge.dcm"))
    rows = ex.lesions[ex.lesions.source.str.contains("huge_text.dcm", regex=False)]
    assert "T1" not in set(rows.lesion_id)  # the group whose text swallowed the rest of it gives no row ...
    assert any("measurement group 1" in p.message for p in lines_for(ex, "huge_text.dcm"))  # ... but a line


# ------------------------------------------------------------------------------------------- XML and sidecars


def test_aim_external_entities_open_no_file_and_no_socket(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    files = {
        "file_entity.xml": (
            f'<?xml version="1.0"?>\n<!DOCTYPE ImageAnnotation [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            f'<ImageAnnotation xmlns="{AIM_NS}" name="&xxe;"></ImageAnnotation>\n'
        ).encode(),
        "net_entity.xml": (
            '<?xml version="1.0"?>\n<!DOCTYPE ImageAnnotation [<!ENTITY net SYSTEM "http://127.0.0.1:9/x">]>\n'
            f'<ImageAnnotation xmlns="{AIM_NS}" name="&net;"></ImageAnnotation>\n'
        ).encode(),
        "external_dtd.xml": (
            '<?xml version="1.0"?>\n<!DOCTYPE ImageAnnotation SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
            f'<ImageAnnotation xmlns="{AIM_NS}" name="x"></ImageAnnotation>\n'
        ).encode(),
    }
    with watching(secret) as seen:
        ex = run_beside_good(tmp_path, files)
    assert seen == []  # the secret was never opened, no socket or URL was touched
    for name in ("file_entity.xml", "net_entity.xml"):
        mine = lines_for(ex, name)
        assert any(p.level is Level.ERROR and "XML refused" in p.message for p in mine), (name, mine)
    assert lines_for(ex, "external_dtd.xml")  # read (no measurement in it) or refused, never fetched
    assert "TOP-SECRET" not in repr(ex.problems) + ex.lesions.to_csv()
    assert good_rows(ex) == {"NT1": "14", "T1": "40", "T2": "25"}


def test_sidecar_outside_the_input_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "evil.json"
    secret.write_text('{"subject_id": "STOLEN", "timepoint": "baseline", "date": "2024-01-01", "lesion_id": "T9"}')
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(GOOD_SR, folder / "good_sr.dcm")
    markup = {"markups": [{"type": "Line", "name": "L1", "coordinateSystem": "LPS",
                           "controlPoints": [{"position": [0, 0, 0]}, {"position": [0, 0, 9]}]}]}  # fmt: skip
    import json

    (folder / "t1.mrk.json").write_text(json.dumps(markup), encoding="utf-8")
    os.symlink(secret, folder / "t1.sidecar.json")
    with watching(secret) as seen, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = extract_paths([folder])
    assert seen == []  # resolved and refused before anything was read from it
    mine = lines_for(ex, "t1.mrk.json")
    assert any(p.level is Level.ERROR and "outside the input folder" in p.message for p in mine), [
        p.as_row() for p in ex.problems
    ]
    assert "STOLEN" not in ex.lesions.to_csv() + repr(ex.problems)
    assert good_rows(ex) == {"NT1": "14", "T1": "40", "T2": "25"}


def test_watching_sees_opens_and_sockets(tmp_path: Path) -> None:
    """The audit hook behind ``watching`` does record what the two tests above assert never happens."""
    import socket

    target = tmp_path / "seen.txt"
    target.write_text("x", encoding="utf-8")
    with watching(target) as seen:
        target.read_text(encoding="utf-8")
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(0.2)
            sock.connect(("127.0.0.1", 9))
    assert ("open", str(target)) in seen and any(event == "socket.connect" for event, _ in seen)
    with watching(target) as seen:
        target.write_text("y", encoding="utf-8")
    assert seen == [("open-write", str(target))]
