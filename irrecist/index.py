"""Study index: every file under the input paths, DICOM headers only, grouped by patient, study and date.

DICOM files are read with ``stop_before_pixels`` and only the attributes of
:data:`irrecist.lesions.registry.HEADER_TAGS` (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study, C.7.3.1 General
Series, C.12.1 SOP Common, C.7.6.2 Image Plane); the patient's name is never read. A DICOMDIR (PS3.10 7.2,
PS3.3 F.5) is optional: given by name, its referenced files are indexed; met in a folder, the folder is walked
anyway and missing referenced files are reported. Non-DICOM files are recognised by name and content (AIM XML,
Slicer ``.mrk.json`` and sidecars, tables); anything else, empty or unreadable files become problem lines and
never stop the run.

One study has one subject and one date: the images' PatientID and StudyDate win over those of annotation
objects (the AIM toolkit's SRs carry another PatientID and no date), and every disagreement is reported.

Timepoint labels, per assessment (subject, date), in this order: the TID 1502 time point context (PS3.16
TID 1502) or any label a reader or table gave; else the mapping table (``subject_id,date,timepoint`` or
``study_uid,timepoint``); else from the date: the subject's earliest assessment date is ``baseline`` and a later
one is ``day N`` with N the number of days since that date (so ``day 56`` is 56 days after baseline; this is
not the CDISC study day, which has no day 0).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import struct
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date as Date
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, BinaryIO, cast

import pandas as pd
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, STANDARD_VR

from irrecist.dicomio import BoundedFile, dcmread
from irrecist.errors import InputError, Level, Problem
from irrecist.lesions.base import ImagePlane
from irrecist.lesions.registry import ANNOTATION_CLASSES, HEADER_TAGS, read_header
from irrecist.lesions.table import TABLE_SUFFIXES, read_frame

STUDY_COLUMNS = ["subject_id", "study_uid", "date", "modality", "series_uid", "sop_class", "file_count"]
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
Spacing = tuple[float, float]
Assessment = tuple[str, str]  # (subject_id, ISO date)


@dataclass
class FileRecord:
    """One file met in the walk: what it is and, for DICOM, the header attributes the index keeps."""

    path: Path
    kind: str  # dicom, dicomdir, aim, slicer, sidecar, table
    sop_class: str = ""
    sop_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    subject_id: str = ""
    date: str = ""
    modality: str = ""
    spacing: Spacing | None = None
    is_image: bool = False
    header: Dataset | None = None

    @property
    def is_annotation_object(self) -> bool:
        return self.sop_class in ANNOTATION_CLASSES


@dataclass
class StudyIndex:
    """The files found, the problems met, and each study's resolved subject and date."""

    files: list[FileRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    study_subject: dict[str, str] = field(default_factory=dict)
    study_date: dict[str, str] = field(default_factory=dict)
    sop_study: dict[str, str] = field(default_factory=dict)

    def dicom(self) -> list[FileRecord]:
        return [f for f in self.files if f.kind == "dicom"]

    def image_spacing(self) -> dict[str, Spacing]:
        """SOP Instance UID -> PixelSpacing (row, column) of every indexed image (for GSPS and AIM)."""
        return {f.sop_uid: f.spacing for f in self.dicom() if f.sop_uid and f.spacing is not None}

    def studies(self) -> pd.DataFrame:
        """One row per series: subject, study UID, date, modality, series UID, SOP class name, file count."""
        counts: Counter[tuple[str, ...]] = Counter()
        names: dict[str, str] = {}  # SOP class UID -> its name, looked up once per class
        for f in self.dicom():
            subject = self.study_subject.get(f.study_uid, f.subject_id)
            day = self.study_date.get(f.study_uid, f.date)
            if f.sop_class not in names:
                names[f.sop_class] = UID(f.sop_class).name if f.sop_class else ""
            counts[(subject, f.study_uid, day, f.modality, f.series_uid, names[f.sop_class])] += 1
        rows = [dict(zip(STUDY_COLUMNS, (*key, str(n)), strict=True)) for key, n in sorted(counts.items())]
        return pd.DataFrame(rows, columns=STUDY_COLUMNS, dtype=str)


# ------------------------------------------------------------------------------------------- the walk


def iso_date(value: object) -> str:
    """DICOM DA (``YYYYMMDD``) or ISO date as ``YYYY-MM-DD``; empty when missing or malformed."""
    text = str(value or "").strip().replace("-", "").replace(".", "")[:8]
    try:
        return Date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat() if len(text) == 8 else ""
    except ValueError:
        return ""


def _dicomdir_files(path: Path) -> tuple[list[Path], list[Problem]]:
    """Files referenced by a DICOMDIR (Referenced File ID, PS3.3 F.3.2.2); missing ones are reported."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path, force=True)
    except Exception as exc:
        return [], [Problem(Level.ERROR, str(path), message=f"DICOMDIR cannot be read: {exc}")]
    files: list[Path] = []
    missing: list[Path] = []
    for rec in ds.get("DirectoryRecordSequence", []) or []:
        ref = rec.get("ReferencedFileID")
        if not ref:
            continue
        parts = [ref] if isinstance(ref, str) else list(ref)
        target = path.parent.joinpath(*[str(p) for p in parts])
        if not target.is_file():  # file systems may not keep the upper case of ISO 9660 names
            alt = path.parent.joinpath(*[str(p).lower() for p in parts])
            target = alt if alt.is_file() else target
        (files if target.is_file() else missing).append(target)
    problems = [
        Problem(Level.INFO, str(path), message=f"DICOMDIR lists {len(files) + len(missing)} files; all are indexed")
    ]
    if missing:
        shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        problems.append(Problem(Level.WARNING, str(path), message=f"{len(missing)} files listed are missing: {shown}"))
    return files, problems


def walk(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Every file under ``paths`` (folders recursively, sorted), each once; a DICOMDIR given by name adds
    the files it lists."""
    seen: dict[Path, None] = {}
    problems: list[Problem] = []
    for p in map(Path, paths):
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if q.is_file():
                    seen.setdefault(q, None)
        elif p.is_file():
            seen.setdefault(p, None)
            if p.name.upper() == "DICOMDIR":
                listed, probs = _dicomdir_files(p)
                problems.extend(probs)
                for q in listed:
                    seen.setdefault(q, None)
        else:
            problems.append(Problem(Level.ERROR, str(p), message="path not found: nothing read from it"))
    for p in list(seen):
        if p.name.upper() == "DICOMDIR" and p not in map(Path, paths):
            problems.extend(x for x in _dicomdir_files(p)[1] if x.level is not Level.INFO)
    return list(seen), problems


def _looks_like_aim(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(8192)
    return b"radiology.AIM" in head or b"<ImageAnnotation" in head


def _truncation(ds: Dataset | Scanned, fh: BinaryIO) -> str:
    """Why the file is shorter than its elements say (empty when complete). pydicom reads truncated files
    silently; after a header read the file position is past the end (an element cut short) or at the pixel
    data element (PS3.5 7.1), whose defined length must fit in the file. A :class:`Scanned` header carries
    where its scan stopped and the bytes there, so its file is not read again."""
    ts = str(getattr(ds, "file_meta", {}).get("TransferSyntaxUID", "") or "")
    if isinstance(ds, Scanned):
        return _pixel_data_problem(ds.stop, ds.size, ds.next_bytes, ts)
    pos = fh.tell()
    size = fh.seek(0, os.SEEK_END)
    if pos > size:
        return f"{size} bytes, but its elements need at least {pos}"
    fh.seek(pos)
    return _pixel_data_problem(pos, size, fh.read(12), ts)


def _pixel_data_problem(pos: int, size: int, head: bytes, ts: str) -> str:
    """Why the pixel data element whose first bytes (up to 12) ``head`` are, at ``pos`` in a file of ``size``
    bytes with transfer syntax ``ts``, does not fit in the file (empty when it fits, or ``head`` is not one)."""
    little = ts != "1.2.840.10008.1.2.2"
    if len(head) < 8 or head[:2] != (b"\xe0\x7f" if little else b"\x7f\xe0"):
        return ""
    implicit = ts in ("", "1.2.840.10008.1.2")
    fmt = "<" if little else ">"
    if implicit:
        length, header = struct.unpack(fmt + "I", head[4:8])[0], 8
    elif head[4:6] in (b"OB", b"OW", b"OF", b"OD", b"UN") and len(head) == 12:
        length, header = struct.unpack(fmt + "I", head[8:12])[0], 12
    else:
        length, header = struct.unpack(fmt + "H", head[6:8])[0], 8
    if length != 0xFFFFFFFF and pos + header + length > size:
        return f"pixel data needs {length} bytes but only {size - pos - header} remain"
    return ""


# ------------------------------------------------------------------------------------------- fast header scan
# Most files of a study are images: their index attributes are found by walking the file's element headers
# (PS3.5 7.1.2, explicit VR little endian) without building a pydicom dataset, and only the values of
# HEADER_TAGS are converted, by pydicom's own converter (so ``get`` gives what ``Dataset.get`` gives). Only
# plain files are taken this way: a Part 10 preamble, an explicit VR little endian dataset, every element
# complete and every sequence well formed, kept text values in ASCII, not an annotation class. Anything else
# (implicit VR, big endian, deflate, an unknown VR, a broken sequence, non-ASCII text ...) is read by pydicom
# as before; tests/test_index.py checks that both ways give the same record on every DICOM file at hand.

_VRS = frozenset(str(vr).encode() for vr in STANDARD_VR)
_VRS_32 = frozenset(str(vr).encode() for vr in EXPLICIT_VR_LENGTH_32)
_SCAN_SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5")  # explicit VR little endian; RLE
_SCAN_PREFIX = "1.2.840.10008.1.2.4."  # JPEG family: explicit VR little endian datasets (PS3.5 A.4)
_ELEMENT = struct.Struct("<HH2sH")
_ITEM = struct.Struct("<HHI")
_U32 = struct.Struct("<I")
_UNDEFINED = 0xFFFFFFFF
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})  # where pydicom's stop_before_pixels stops
_SPECIAL_GROUPS = frozenset({0x0000, 0x0002, 0xFFFE, 0x7FE0})  # not at a plain top level; or the pixel data's
_BINARY_VRS = frozenset({b"US", b"UL", b"SS", b"SL", b"FL", b"FD"})
_KEEP: dict[int, tuple[str, bytes]] = {  # HEADER_TAGS (tag -> keyword, dictionary VR)
    int(tag_for_keyword(kw) or 0): (kw, dictionary_VR(int(tag_for_keyword(kw) or 0)).encode()) for kw in HEADER_TAGS
}
_HEADER_BYTES = {vr: 12 if vr in _VRS_32 else 8 for vr in _VRS | _VRS_32}  # explicit VR element header, by VR
_ASCII = re.compile(rb"[ -~\0]*\Z")  # printable ASCII (and NUL padding): the same text in every character set
_CHUNK = 1 << 16
_MAX_DEPTH = 16


class _Unusual(Exception):
    """The file is not plain: pydicom reads it."""


class Scanned(dict[str, Any]):
    """The :data:`HEADER_TAGS` values that :func:`scan_header` found, by keyword, converted as
    ``Dataset.get`` converts them (several DS numbers: a list of equal floats, :func:`_convert`), and the
    transfer syntax as ``file_meta``."""

    file_meta: dict[str, str]
    stop: int  # where the scan stopped (the pixel data element, or the end of the file), as pydicom's header read
    size: int  # the file's size
    next_bytes: bytes  # up to 12 bytes from ``stop``: the pixel data element's header, if any


class _Window:
    """Random access to a file through one buffer of at least :data:`_CHUNK` bytes."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size, self.base = fh, size, 0
        fh.seek(0)
        self.buf = fh.read(_CHUNK)

    def at(self, pos: int, n: int) -> int:
        """Offset of file position ``pos`` in ``self.buf``, with ``n`` bytes available from there."""
        off = pos - self.base
        if off < 0 or off + n > len(self.buf):
            if pos + n > self.size:
                raise _Unusual
            self.fh.seek(pos)
            self.buf, self.base, off = self.fh.read(max(n, _CHUNK)), pos, 0
            if len(self.buf) < n:
                raise _Unusual
        return off

    def element(self, pos: int) -> tuple[int, bytes, int, int]:
        """(tag, VR, value length, value position) of the explicit VR element at ``pos``."""
        off = self.at(pos, 8)
        group, elem, vr, length = _ELEMENT.unpack_from(self.buf, off)
        if vr in _VRS_32:
            off = self.at(pos, 12)
            return group << 16 | elem, vr, _U32.unpack_from(self.buf, off + 8)[0], pos + 12
        if vr not in _VRS:
            raise _Unusual
        return group << 16 | elem, vr, length, pos + 8

    def value(self, pos: int, length: int) -> bytes:
        off = self.at(pos, length)
        return self.buf[off : off + length]

    def dataset(self, pos: int, end: int | None, depth: int) -> int:
        """Walk a sequence item's elements from ``pos`` to ``end`` (None: to the item delimitation item);
        returns the position after the item."""
        while end is None or pos < end:
            off = self.at(pos, 8)
            if self.buf[off : off + 4] == b"\xfe\xff\x0d\xe0":
                if end is not None:
                    raise _Unusual
                return pos + 8
            _tag, vr, length, vpos = self.element(pos)
            if length == _UNDEFINED:
                if vr != b"SQ":
                    raise _Unusual
                pos = self.sequence(vpos, None, depth + 1)
            elif vr == b"SQ":
                pos = self.sequence(vpos, vpos + length, depth + 1)
            else:
                pos = vpos + length
        if pos != end:
            raise _Unusual
        return pos

    def sequence(self, pos: int, end: int | None, depth: int) -> int:
        """Walk the items of a sequence from ``pos`` to ``end`` (None: to the sequence delimitation item)."""
        if depth > _MAX_DEPTH:
            raise _Unusual
        while end is None or pos < end:
            off = self.at(pos, 8)
            group, elem, length = _ITEM.unpack_from(self.buf, off)
            if (group, elem) == (0xFFFE, 0xE0DD) and end is None:
                return pos + 8
            if (group, elem) != (0xFFFE, 0xE000):
                raise _Unusual
            item_end = None if length == _UNDEFINED else pos + 8 + length
            if item_end is not None and item_end > self.size:
                raise _Unusual
            pos = self.dataset(pos + 8, item_end, depth)
        if pos != end:
            raise _Unusual
        return pos


def _scan(fh: BinaryIO, size: int, keep: dict[int, tuple[str, bytes]] = _KEEP) -> Scanned | None:
    """:func:`scan_header` keeping the tags of ``keep`` (SOPClassUID and SOPInstanceUID among them)."""
    w = _Window(fh, size)
    if len(w.buf) < 132 or w.buf[128:132] != b"DICM":
        return None
    pos, meta = 132, {}
    while True:  # file meta information (PS3.10 7.1)
        tag, vr, length, vpos = w.element(pos)
        if tag >> 16 != 0x0002:
            break
        if length == _UNDEFINED or vpos + length > size:
            return None
        if tag in (0x00020002, 0x00020010):
            meta[tag] = w.value(vpos, length).decode("ascii").rstrip("\0 ")
        pos = vpos + length
    syntax = meta.get(0x00020010, "")
    if not (syntax in _SCAN_SYNTAXES or syntax.startswith(_SCAN_PREFIX)) or meta.get(0x00020002) in ANNOTATION_CLASSES:
        return None
    raw: list[tuple[int, bytes, bytes, int]] = []
    unpack, u32, heads, special = _ELEMENT.unpack_from, _U32.unpack_from, _HEADER_BYTES, _SPECIAL_GROUPS
    buf, base = w.buf, w.base
    last = len(buf) - 12  # the last offset in buf with a whole element header (12 bytes at most) after it
    next_bytes = b""
    while pos < size:  # the dataset's top level, up to the pixel data
        off = pos - base
        if not 0 <= off <= last:
            off = w.at(pos, min(12, size - pos))
            buf, base, last = w.buf, w.base, len(w.buf) - 12
        group, elem, vr, length = unpack(buf, off)
        head = heads.get(vr)
        if head is None:
            return None
        if head == 12:
            length = u32(buf, off + 8)[0]
        vpos = pos + head
        tag = group << 16 | elem
        if group in special:
            if tag in _PIXEL_TAGS:
                next_bytes = buf[off : off + 12]
                break
            if group != 0x7FE0:
                return None
        if length == _UNDEFINED:
            if vr != b"SQ" or tag in keep:
                return None
            pos = w.sequence(vpos, None, 1)
            buf, base, last = w.buf, w.base, len(w.buf) - 12
            continue
        pos = vpos + length
        if pos > size:
            return None
        if tag in keep:
            value = w.value(vpos, length)
            buf, base, last = w.buf, w.base, len(w.buf) - 12
            if vr != keep[tag][1] or (vr not in _BINARY_VRS and not _ASCII.match(value)):
                return None
            raw.append((tag, vr, value, vpos))
    out = Scanned()
    out.file_meta = {"TransferSyntaxUID": syntax}
    out.stop, out.size, out.next_bytes = pos, size, next_bytes
    for tag, vr, value, vpos in raw:
        keyword = keep[tag][0]
        if keyword in out:
            return None
        out[keyword] = _convert(tag, vr, value, vpos)
    sop_class = out.get("SOPClassUID")
    if not isinstance(sop_class, str) or not sop_class or sop_class in ANNOTATION_CLASSES:
        return None
    if not out.get("SOPInstanceUID"):
        return None
    fh.seek(pos)
    return out


_SINGLE_TEXT = frozenset({b"AE", b"AS", b"CS", b"DA", b"DT", b"LO", b"SH", b"TM", b"UI"})
_DS_NUMBER = re.compile(rb" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *\Z")
"""One DS value (PS3.5 6.2: digits, sign, decimal point, exponent; spaces around) that pydicom's DSfloat takes
as Python's ``float`` does, and whose validation never complains (at most 16 characters)."""


def _decimals(value: bytes) -> list[float] | None:
    """Several DS numbers (PixelSpacing, ImagePositionPatient ...) as floats, equal to the DSfloats of pydicom's
    MultiValue (``multi_string``: trailing spaces and NULs dropped, split at backslashes, ``float`` of each);
    None for a single value or any text :data:`_DS_NUMBER` does not take: pydicom converts those."""
    parts = value.rstrip(b" \0").split(b"\\")
    if len(parts) < 2 or not all(len(part) <= 16 and _DS_NUMBER.match(part) for part in parts):
        return None
    return [float(part) for part in parts]


def _convert(tag: int, vr: bytes, value: bytes, vpos: int) -> Any:
    """The value ``Dataset.get`` gives: one ASCII text value or one US directly (the string or int pydicom
    makes of it), several plain DS numbers as a list of floats (equal to pydicom's MultiValue of DSfloat; the
    index and the plane reader only take their floats), anything else through pydicom's converter."""
    if vr in _SINGLE_TEXT and b"\\" not in value:
        return value.decode("ascii").rstrip("\0 ")
    if vr == b"US" and len(value) == 2:
        return int.from_bytes(value, "little")
    if vr == b"DS" and (numbers := _decimals(value)) is not None:
        return numbers
    elem = RawDataElement(BaseTag(tag), vr.decode(), len(value), value, vpos, False, True)
    if not value:
        elem = elem._replace(value=cast(bytes | None, empty_value_for_VR(elem.VR, raw=True)))
    with warnings.catch_warnings():  # as read_header: pydicom's warnings on odd values
        warnings.simplefilter("ignore")
        return convert_raw_data_element(elem).value


def scan_header(fh: BinaryIO, size: int) -> Scanned | None:
    """The :data:`HEADER_TAGS` values of a plain image file without a pydicom dataset, ``fh`` left where
    pydicom's header read leaves it (at the pixel data element, or the end); None, with ``fh`` back at 0, for
    any other file: pydicom reads it."""
    try:
        found = _scan(fh, size)
    except (_Unusual, struct.error, UnicodeDecodeError):
        found = None
    if found is None:
        fh.seek(0)
    return found


PLANE_TAGS = ["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"]
"""What :func:`read_image_plane` reads (PS3.3 C.7.6.2, Image Plane Module); not kept by the index itself, which
has no use for them on every image."""
_PLANE_KEEP = {  # PLANE_TAGS and the two UIDs the fast scan requires
    int(tag_for_keyword(kw) or 0): (kw, dictionary_VR(int(tag_for_keyword(kw) or 0)).encode())
    for kw in [*PLANE_TAGS, "SOPClassUID", "SOPInstanceUID"]
}


def read_image_plane(path: str | Path) -> ImagePlane | None:
    """The plane of a single-frame image file (:class:`ImagePlane`, PS3.3 C.7.6.2.1.1), read from its header
    alone (the fast scan for plain files, else pydicom); None when the file cannot be read or its header has no
    usable plane (multi-frame images keep theirs in functional groups: None). Never raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with BoundedFile(Path(path)) as fh:
                try:
                    found: Dataset | Scanned | None = _scan(fh, fh.size, _PLANE_KEEP)
                except (_Unusual, struct.error, UnicodeDecodeError):
                    found = None
                if found is None:
                    fh.seek(0)
                    found = dcmread(fh, stop_before_pixels=True, specific_tags=PLANE_TAGS, force=True)
            return ImagePlane.from_header(found)
    except Exception:
        return None


def classify(path: Path) -> tuple[FileRecord | None, list[Problem]]:
    """What one file is (header only for DICOM); a problem line instead of a record when it cannot be used."""
    src = str(path)
    name = path.name.lower()
    try:
        if path.stat().st_size == 0:
            return None, [Problem(Level.WARNING, src, message="empty file: not read")]
        if name.endswith(".mrk.json"):
            return FileRecord(path, "slicer"), []
        if name.endswith((".sidecar.json", ".sidecar.csv")):
            return FileRecord(path, "sidecar"), []
        if name.endswith(".xml"):
            if _looks_like_aim(path):
                return FileRecord(path, "aim"), []
            return None, [Problem(Level.WARNING, src, message="XML file that is not AIM: not read")]
        if name.endswith(TABLE_SUFFIXES):
            return FileRecord(path, "table"), []
        with BoundedFile(path) as fh:  # read-only; no element read past the end of the file
            ds: Dataset | Scanned = scan_header(fh, fh.size) or read_header(fh)
            truncated = _truncation(ds, fh)
            if isinstance(ds, Dataset):  # convert the kept values here: a corrupt one is this file's problem
                for keyword in HEADER_TAGS:  # (a Scanned header holds converted values)
                    ds.get(keyword)
        if truncated:
            return None, [
                Problem(
                    Level.ERROR,
                    src,
                    str(ds.get("PatientID", "") or ""),
                    message=(f"truncated DICOM file: {truncated}; not read"),
                )
            ]
    except InvalidDicomError:
        msg = "not DICOM and not a known annotation format (AIM .xml, .mrk.json, CSV/Parquet table): not read"
        return None, [Problem(Level.WARNING, src, message=msg)]
    except RecursionError:
        return None, [Problem(Level.ERROR, src, message="DICOM sequences nested too deeply to be read: not read")]
    except Exception as exc:
        return None, [Problem(Level.ERROR, src, message=f"unreadable file (truncated or corrupt?): {exc}")]
    sop_class = str(ds.get("SOPClassUID", "") or "") or str(
        getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", "") or ""
    )
    if sop_class == DICOMDIR_CLASS or path.name.upper() == "DICOMDIR":
        return FileRecord(path, "dicomdir", sop_class=DICOMDIR_CLASS), []
    sop_uid = str(ds.get("SOPInstanceUID", "") or "")
    if not sop_class or not sop_uid:
        missing = " and ".join(n for n, v in (("SOPClassUID", sop_class), ("SOPInstanceUID", sop_uid)) if not v)
        return None, [Problem(Level.ERROR, src, message=f"DICOM header without {missing} (truncated?): not read")]
    spacing = None
    ps = ds.get("PixelSpacing")
    try:
        if ps is not None and len(ps) == 2:
            spacing = (float(ps[0]), float(ps[1]))
    except (TypeError, ValueError):
        spacing = None
    rec = FileRecord(
        path,
        "dicom",
        sop_class=sop_class,
        sop_uid=sop_uid,
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        subject_id=str(ds.get("PatientID", "") or "").strip(),
        # an annotation's Series Date is when it was made, not the scan: only images fall back to it
        date=iso_date(ds.get("StudyDate"))
        or ("" if sop_class in ANNOTATION_CLASSES else iso_date(ds.get("SeriesDate"))),
        modality=str(ds.get("Modality", "") or ""),
        spacing=spacing,
        is_image="Rows" in ds and sop_class not in ANNOTATION_CLASSES,
        # kept for the readers' dispatch only (annotation objects are always read by pydicom)
        header=ds if sop_class in ANNOTATION_CLASSES and isinstance(ds, Dataset) else None,
    )
    problems = []
    if not rec.study_uid:
        problems.append(Problem(Level.WARNING, f"{src}#{sop_uid}", rec.subject_id, message="no StudyInstanceUID"))
    size = (ds.get("Rows"), ds.get("Columns"))
    if rec.is_image and not all(isinstance(v, int) and v > 0 for v in size):
        message = f"image of {size[0]} x {size[1]} pixels (Rows x Columns): no pixels; indexed only"
        problems.append(Problem(Level.WARNING, f"{src}#{sop_uid}", rec.subject_id, message=message))
    return rec, problems


PARALLEL_INDEX_FILES = 20_000
"""Below this many files the header index runs in one process: a plain image header takes about 0.1 ms
(:func:`scan_header`), less than starting workers and sending the records back (benchmarks/RESULTS.md)."""


def pool_context() -> BaseContext | None:
    """``fork`` where it is safe (POSIX, no other thread): workers start in milliseconds with every module
    the parent imported (and, for the readers, the run's registry already built); else the platform's default."""
    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    return None


def build_index(paths: Sequence[Path], workers: int = 1) -> StudyIndex:
    """Walk ``paths``, classify every file (headers only) and resolve each study's subject and date."""
    files, problems = walk(paths)
    index = StudyIndex(problems=problems)
    if workers > 1 and len(files) >= PARALLEL_INDEX_FILES:
        with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context()) as pool:
            results = list(pool.map(classify, files, chunksize=max(256, len(files) // (4 * workers))))
    else:
        results = [classify(f) for f in files]
    for rec, probs in results:
        index.problems.extend(probs)
        if rec is not None:
            index.files.append(rec)
    _resolve_studies(index)
    return index


def _resolve_studies(index: StudyIndex) -> None:
    """One subject and one date per study: the images' values first, then the most common; report the rest."""
    by_study: dict[str, list[FileRecord]] = {}
    for f in index.dicom():
        if f.sop_uid:
            index.sop_study[f.sop_uid] = f.study_uid
        if f.study_uid:
            by_study.setdefault(f.study_uid, []).append(f)
    for study, recs in by_study.items():
        for attr, table, what in (
            ("subject_id", index.study_subject, "PatientID"),
            ("date", index.study_date, "StudyDate"),
        ):
            images = Counter(getattr(r, attr) for r in recs if r.is_image and getattr(r, attr))
            anyone = Counter(getattr(r, attr) for r in recs if getattr(r, attr))
            chosen = (images or anyone).most_common(1)
            if not chosen:
                continue
            value = chosen[0][0]
            table[study] = value
            others: dict[str, list[FileRecord]] = {}
            for r in recs:
                if getattr(r, attr) and getattr(r, attr) != value:
                    others.setdefault(getattr(r, attr), []).append(r)
            if others:
                found = "; ".join(
                    f"{v!r} in {len(rs)} {rs[0].modality or 'DICOM'} file(s) (e.g. {rs[0].path.name})"
                    for v, rs in others.items()
                )
                origin = "its images" if images else "most of its files"
                index.problems.append(
                    Problem(
                        Level.WARNING,
                        f"study {study}",
                        value if attr == "subject_id" else "",
                        message=f"{what} differs within study {study}: {found}; {value!r} from {origin} is used for "
                        "every object of the study",
                    )
                )


# ------------------------------------------------------------------------------------------- timepoints


@dataclass
class TimepointMap:
    """User mapping to visit labels: by study UID, or by subject and date."""

    by_study: dict[str, str] = field(default_factory=dict)
    by_visit: dict[Assessment, str] = field(default_factory=dict)


def is_timepoint_map(columns: Iterable[str]) -> bool:
    cols = set(columns)
    return "timepoint" in cols and ("study_uid" in cols or {"subject_id", "date"} <= cols) and "lesion_id" not in cols


def read_timepoint_map(path: Path) -> tuple[TimepointMap, list[Problem]]:
    """``subject_id,date,timepoint`` and/or ``study_uid,timepoint`` rows; bad rows are reported."""
    df, offset = read_frame(path)
    if not is_timepoint_map(df.columns):
        raise InputError(f"{path}: a timepoint mapping needs columns subject_id,date,timepoint or study_uid,timepoint")
    out, problems = TimepointMap(), []
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path} row {i + offset}"
        label = str(row.get("timepoint", "")).strip()
        study = str(row.get("study_uid", "") or "").strip()
        subject = str(row.get("subject_id", "") or "").strip()
        day = iso_date(row.get("date", ""))
        if not label:
            problems.append(Problem(Level.WARNING, where, subject, message="timepoint is empty: row ignored"))
        elif study:
            out.by_study[study] = label
        elif subject and day:
            out.by_visit[(subject, day)] = label
        else:
            problems.append(
                Problem(
                    Level.WARNING,
                    where,
                    subject,
                    message=(
                        f"needs study_uid, or subject_id and an ISO date (date is {row.get('date', '')!r}): row ignored"
                    ),
                )
            )
    return out, problems


def label_assessments(
    visits: Iterable[Assessment],
    given: Mapping[Assessment, Counter[str]],
    studies: Mapping[Assessment, set[str]],
    tmap: TimepointMap | None = None,
) -> tuple[dict[Assessment, str], list[Problem]]:
    """A visit label for every (subject, date): given label (TID 1502, sidecar, table), else the mapping
    table, else ``baseline`` / ``day N`` from the subject's earliest date."""
    tmap = tmap or TimepointMap()
    visits = sorted(set(visits))
    first: dict[str, str] = {}
    for subject, day in visits:
        if day and iso_date(day) == day and (subject not in first or day < first[subject]):
            first[subject] = day
    labels: dict[Assessment, str] = {}
    problems: list[Problem] = []
    for subject, day in visits:
        where = f"subject {subject} date {day or '(none)'}"
        counts = given.get((subject, day), Counter())
        mapped = tmap.by_visit.get((subject, day)) or next(
            (tmap.by_study[s] for s in sorted(studies.get((subject, day), set())) if s in tmap.by_study), None
        )
        if counts:
            label = counts.most_common(1)[0][0]
            if len(counts) > 1:
                problems.append(
                    Problem(
                        Level.WARNING,
                        where,
                        subject,
                        timepoint=label,
                        message=(
                            f"one assessment carries several timepoint labels {sorted(counts)}; "
                            f"{label!r} is used for all"
                        ),
                    )
                )
            if mapped and mapped != label:
                problems.append(
                    Problem(
                        Level.INFO,
                        where,
                        subject,
                        timepoint=label,
                        message=(
                            f"the mapping table says {mapped!r}; the label recorded in the files ({label!r}) is used"
                        ),
                    )
                )
        elif mapped:
            label = mapped
        elif day and iso_date(day) == day:
            d0 = Date.fromisoformat(first[subject])
            n = (Date.fromisoformat(day) - d0).days
            label = "baseline" if n == 0 else f"day {n}"
        else:
            label = ""
            problems.append(
                Problem(
                    Level.ERROR,
                    where,
                    subject,
                    message=(
                        (f"date {day!r} is not a calendar date YYYY-MM-DD" if day else "no date")
                        + " and no timepoint label: the assessment cannot be placed; give a timepoint mapping"
                    ),
                )
            )
        labels[(subject, day)] = label
    seen: dict[tuple[str, str], str] = {}
    for (subject, day), label in labels.items():
        if label and (subject, label) in seen and seen[(subject, label)] != day:
            problems.append(
                Problem(
                    Level.WARNING,
                    f"subject {subject}",
                    subject,
                    timepoint=label,
                    message=(
                        f"timepoint {label!r} labels two dates ({seen[(subject, label)]} and {day}); labels must be "
                        "unique per subject and date"
                    ),
                )
            )
        seen.setdefault((subject, label), day)
    return labels, problems
