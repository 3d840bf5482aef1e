"""Generic DICOM SR reading (DICOM PS3.3 C.17.3 content trees), shared by the readers in ``sr.py``.

A depth-bounded, cycle-safe content-tree walk; size concepts (CID 7470) and units (areas, volumes and pixel
values are reported, never read as diameters); TID 1502 time points; observers (TID 1002/1003/1004); the
header (PatientID, StudyDate; never the patient's name); and the builder of lesion-table rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.sr.coding import Code

from irrecist.columns import LESION_COLUMNS
from irrecist.dicomio import dcmread
from irrecist.errors import Level, Problem

from .base import MeasuredLine, Point, ReadResult

__all__ = [
    "MAX_DEPTH", "SR_STORAGE_UIDS", "SRGroup", "SRHeader", "SRLine", "SRNum", "group_lines", "group_rows",
    "iter_content", "scoord_of",
]  # fmt: skip

SR_STORAGE_UIDS: frozenset[str] = frozenset(
    {uid.BasicTextSRStorage, uid.EnhancedSRStorage, uid.ComprehensiveSRStorage, uid.Comprehensive3DSRStorage,
     uid.ExtensibleSRStorage}
)
MAX_DEPTH = 64
"""Deepest content-tree level walked; deeper subtrees are skipped and reported."""

# Size concepts (CID 7470); the key is the row's ``measurement`` value.
SIZE_CONCEPTS: dict[str, Code] = {
    "length": Code("410668003", "SCT", "Length"),
    "long_axis": Code("103339001", "SCT", "Long Axis"),
    "short_axis": Code("103340004", "SCT", "Short Axis"),
    "diameter": Code("81827009", "SCT", "Diameter"),
}
REPORT = Code("126000", "DCM", "Imaging Measurement Report")
TRACKING_ID = Code("112039", "DCM", "Tracking Identifier")
TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
FINDING = Code("121071", "DCM", "Finding")
FINDING_SITE = Code("363698007", "SCT", "Finding Site")
LYMPH_NODE = Code("59441001", "SCT", "Lymph node")
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
PERSON_OBSERVER_NAME = Code("121008", "DCM", "Person Observer Name")
DEVICE_OBSERVER_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
# TID 1502 Time Point Context, in order of preference for the row's ``timepoint``.
TIME_POINT_CONCEPTS: tuple[Code, ...] = (
    Code("C2348792", "UMLS", "Time Point"),
    Code("126070", "DCM", "Subject Time Point Identifier"),
    Code("126071", "DCM", "Protocol Time Point Identifier"),
    Code("126072", "DCM", "Time Point Type"),
)
# CID 6145 Baseline Category.
BASELINE_CATEGORY: dict[Code, str] = {
    Code("112074", "DCM", "Target Lesion at Baseline"): "target",
    Code("112075", "DCM", "Non-Target Lesion at Baseline"): "non-target",
    Code("112076", "DCM", "Non-Lesion at Baseline"): "non-lesion",
}
_LENGTH_UNITS = {"mm": 1.0, "cm": 10.0}
_AREA_UNITS = {"mm2", "cm2", "m2", "mm^2", "cm^2", "um2"}
_VOLUME_UNITS = {"ml", "l", "ul", "mm3", "cm3", "m3", "mm^3", "cm^3"}
_PIXEL_UNITS = {"px", "{px}", "[px]", "pixel", "pixels", "{pixel}", "{pixels}"}
_TOOL_ID = re.compile(r"[\w.\-]+@[^:\s]*:\w+")  # Cornerstone's "cornerstoneTools@^4.0.0:Length"


@dataclass
class SRHeader:
    """Where a report comes from: file, subject, scan date and UIDs (PS3.3 C.7.1.1, C.7.2.1)."""

    path: str
    subject_id: str | None = None
    date: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    sop_uid: str | None = None

    @property
    def source(self) -> str:
        return f"{self.path}#{self.sop_uid or ''}"

    def problem(self, level: Level, message: str, lesion_id: str = "", timepoint: str = "") -> Problem:
        return Problem(level, self.source, self.subject_id or "", lesion_id, timepoint, message)


@dataclass(frozen=True)
class SRLine:
    """A shape drawn on one image: a SCOORD content item (PS3.3 C.18.6) with its SELECTED FROM IMAGE reference.

    ``points`` are (column, row) image pixel positions (C.18.6.1.1: (0, 0) is the top left corner of the top
    left pixel): two for a POLYLINE line, four for an ELLIPSE (major axis end points, then minor axis end
    points, C.18.6.1.2). ``frame`` is the referenced frame number (1-based), None for a single-frame image."""

    graphic_type: str
    points: tuple[Point, ...]
    sop_instance_uid: str
    frame: int | None

    def axis(self, axis: str) -> tuple[Point, Point] | None:
        """The segment measuring ``axis`` (``long``, ``short``, ``length``): a line is its own segment for any
        axis; an ellipse gives its major axis for ``long`` / ``length`` and its minor axis for ``short``."""
        if self.graphic_type == "POLYLINE":
            return self.points[0], self.points[1]
        return (self.points[2], self.points[3]) if axis == "short" else (self.points[0], self.points[1])


@dataclass
class SRNum:
    """One NUM content item; ``kind`` is its size slot (``length`` ...), or None for other concepts; ``line`` the
    two-point line (or ellipse) it was measured on, from its INFERRED FROM SCOORD child (TID 300 / TID 320)."""

    meaning: str
    value: float | None
    unit: str
    unit_meaning: str
    kind: str | None
    line: SRLine | None = None


@dataclass
class SRGroup:
    """What one measurement group (or one generic annotation) says about a lesion."""

    number: int
    tracking_id: str | None = None
    tracking_uid: str | None = None
    finding: str | None = None
    sites: list[Code] = field(default_factory=list)
    nums: list[SRNum] = field(default_factory=list)
    value_codes: list[Code] = field(default_factory=list)
    timepoint: str | None = None
    observer: str | None = None
    region: SRLine | None = None  # the group's own line or ellipse (TID 1410 Image Region; a generic SR's line)


# ------------------------------------------------------------------ content-tree helpers (pydicom)


def to_code(item: Dataset) -> Code | None:
    """A pydicom ``Code`` from a code sequence item or a highdicom CodedConcept (PS3.3 Table 8.8-1)."""
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue")
    scheme = item.get("CodingSchemeDesignator")
    return Code(str(value), str(scheme), str(item.get("CodeMeaning", ""))) if value and scheme else None


def concept_name(item: Dataset) -> Code | None:
    seq = item.get("ConceptNameCodeSequence")
    return to_code(seq[0]) if seq else None


def concept_value(item: Dataset) -> Code | None:
    seq = item.get("ConceptCodeSequence")
    return to_code(seq[0]) if seq else None


def matches(code: Code | None, *refs: Code) -> bool:
    """Code equality (SRT and SCT twins compare equal) that is False, not an error, for a missing code."""
    return code is not None and any(code == ref for ref in refs)


def children(item: Dataset) -> Sequence[Dataset]:
    return item.get("ContentSequence") or []


def describe(code: Code | None) -> str:
    return f"'{code.meaning}' ({code.scheme_designator} {code.value})" if code else "an unnamed item"


def iter_content(
    root: Dataset, limits: list[str], max_depth: int = MAX_DEPTH
) -> Iterator[tuple[Dataset, int, tuple[Dataset, ...]]]:
    """Depth-first walk of a content tree (PS3.3 C.17.3) without recursion, bounded in depth and cycle-safe.

    Yields ``(item, depth, ancestors)``; subtrees deeper than ``max_depth`` and items that contain one of
    their own ancestors are skipped and described in ``limits``.
    """
    stack: list[tuple[Dataset, int, tuple[Dataset, ...]]] = [(root, 0, ())]
    while stack:
        item, depth, ancestors = stack.pop()
        yield item, depth, ancestors
        kids = children(item)
        if not kids:
            continue
        if depth >= max_depth:
            limits.append(f"content below depth {max_depth} under {describe(concept_name(item))}")
            continue
        chain = (*ancestors, item)
        seen = {id(a) for a in chain}
        for kid in reversed(list(kids)):
            if id(kid) in seen:
                limits.append(f"a cycle: {describe(concept_name(kid))} contains one of its own ancestors")
            else:
                stack.append((kid, depth + 1, chain))


def text_of(item: Dataset) -> str | None:
    """The value of a TEXT, UIDREF, PNAME or CODE item as text (PS3.3 C.17.3.2)."""
    vt = item.get("ValueType")
    raw: Any = {"TEXT": "TextValue", "UIDREF": "UID", "PNAME": "PersonName"}.get(str(vt))
    if raw is not None:
        raw = item.get(raw)
    elif vt == "CODE" and (code := concept_value(item)) is not None:
        raw = code.meaning
    text = str(raw).strip() if raw is not None else ""
    return text or None


def find_text(items: Iterable[Dataset], name: Code) -> str | None:
    return next((t for item in items if matches(concept_name(item), name) and (t := text_of(item))), None)


def timepoint_of(items: Sequence[Dataset]) -> str | None:
    """The visit label from TID 1502 Time Point Context items (first concept of TIME_POINT_CONCEPTS found)."""
    return next((t for name in TIME_POINT_CONCEPTS if (t := find_text(items, name))), None)


def observer_of(items: Sequence[Dataset]) -> str | None:
    """Person observer name, else device name or UID (TID 1002/1003/1004); placeholders give None."""
    flat: list[Dataset] = []
    for item in items:
        flat.append(item)
        if matches(concept_name(item), OBSERVER_TYPE):
            flat.extend(children(item))
    person = find_text(flat, PERSON_OBSERVER_NAME)
    if person and {part.strip().lower() for part in person.split("^")} <= {"", "unknown"}:
        person = None
    return person or find_text(flat, DEVICE_OBSERVER_NAME) or find_text(flat, DEVICE_OBSERVER_UID)


def size_kind(name: Code | None) -> str | None:
    return next((kind for kind, code in SIZE_CONCEPTS.items() if matches(name, code)), None)


def unit_kind(unit: str, meaning: str) -> str:
    """``length``, ``area``, ``volume``, ``pixel`` or ``other`` for a UCUM unit code (PS3.16 CID 7181)."""
    low, mean = unit.strip().lower(), meaning.strip().lower()
    if low in _PIXEL_UNITS or mean in _PIXEL_UNITS:
        return "pixel"
    for kind, units in (("length", _LENGTH_UNITS), ("area", _AREA_UNITS), ("volume", _VOLUME_UNITS)):
        if low in units:
            return kind
    return "other"


def num_of(item: Dataset, kind: str | None = None) -> SRNum | None:
    """An SRNum from a NUM item, or None when it has no Measured Value (PS3.3 C.18.1)."""
    name = concept_name(item)
    mvs = item.get("MeasuredValueSequence")
    if not mvs or mvs[0].get("NumericValue") in (None, ""):
        return None
    units = mvs[0].get("MeasurementUnitsCodeSequence")
    unit = to_code(units[0]) if units else None
    return SRNum(
        meaning=name.meaning if name else "NUM",
        value=float(mvs[0].NumericValue),
        unit=str(unit.value) if unit else "",
        unit_meaning=str(unit.meaning) if unit else "",
        kind=kind if kind is not None else size_kind(name),
        line=next((line for k in children(item) if (line := scoord_of(k)) is not None), None),
    )


_SHAPE_VALUES = {"POLYLINE": 4, "ELLIPSE": 8}  # GraphicData values of a two-point line and of an ellipse


def scoord_of(item: Dataset) -> SRLine | None:
    """An :class:`SRLine` from a SCOORD item that is a two-point POLYLINE or an ELLIPSE and names the image it
    was drawn on (its IMAGE child, PS3.3 C.18.6 / TID 320); None for anything else."""
    if item.get("ValueType") != "SCOORD":
        return None
    kind = str(item.get("GraphicType", "") or "").upper()
    data = item.get("GraphicData") or []
    if _SHAPE_VALUES.get(kind) != len(data):
        return None
    image = next((k for k in children(item) if k.get("ValueType") == "IMAGE"), None)
    refs = image.get("ReferencedSOPSequence") if image is not None else None
    if not refs or not refs[0].get("ReferencedSOPInstanceUID"):
        return None
    try:
        values = [float(v) for v in data]
        frames = refs[0].get("ReferencedFrameNumber")
        if isinstance(frames, MultiValue | list):
            frames = frames[0] if len(frames) else None
        frame = int(frames) if frames not in (None, "") else None
    except (TypeError, ValueError, IndexError):
        return None
    if not all(math.isfinite(v) for v in values):
        return None
    points = tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))
    return SRLine(kind, points, str(refs[0].ReferencedSOPInstanceUID), frame if frame else None)


# ------------------------------------------------------------------ loading


def source_path(obj: Any) -> str:
    if isinstance(obj, Dataset):
        name = getattr(obj, "filename", None)
        return str(name) if isinstance(name, str) and name else "<dataset>"
    return str(obj)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_dataset(obj: Any) -> tuple[Dataset | None, str]:
    """The full dataset of ``obj`` (a path or a Dataset), or None and the reason it cannot be read."""
    try:
        if isinstance(obj, Dataset):
            if "ContentSequence" in obj:
                return obj, ""
            name = getattr(obj, "filename", None)
            if not (isinstance(name, str) and Path(name).is_file()):
                return None, "the dataset has no Content Sequence and no file to read it from"
            obj = name
        try:
            ds = dcmread(obj)
        except InvalidDicomError:
            ds = dcmread(obj, force=True)
        if "SOPClassUID" not in ds or "ContentSequence" not in ds:
            return None, "no SOP Class UID or no Content Sequence: not a DICOM SR document"
        return ds, ""
    except Exception as exc:  # any parse failure is a report line, never a crash
        return None, f"{type(exc).__name__}: {first_line(exc)}"


def is_sr(ds: Dataset | None) -> bool:
    return ds is not None and str(ds.get("SOPClassUID", "")) in SR_STORAGE_UIDS


def is_measurement_report(ds: Dataset) -> bool:
    """TID 1500 by Content Template Sequence, or by the root concept DCM 126000."""
    try:
        templates = ds.get("ContentTemplateSequence") or []
        if any(str(t.get("TemplateIdentifier", "")).strip() == "1500" for t in templates):
            return True
        return matches(concept_name(ds), REPORT)
    except Exception:
        return False


def header_of(ds: Dataset, path: str, problems: list[Problem]) -> SRHeader:
    """Subject (PatientID), scan date (StudyDate as ISO 8601) and UIDs; never the patient's name."""
    raw_date = str(ds.get("StudyDate", "") or "").strip()
    try:
        date: str | None = datetime.strptime(raw_date, "%Y%m%d").date().isoformat()
    except ValueError:
        date = None
    header = SRHeader(
        path=path,
        subject_id=str(ds.get("PatientID", "") or "").strip() or None,
        date=date,
        study_uid=str(ds.get("StudyInstanceUID", "") or "") or None,
        series_uid=str(ds.get("SeriesInstanceUID", "") or "") or None,
        sop_uid=str(ds.get("SOPInstanceUID", "") or "") or None,
    )
    if header.subject_id is None:
        problems.append(header.problem(Level.WARNING, f"{path}: PatientID is empty: subject_id left empty"))
    if date is None:
        found = f"StudyDate {raw_date!r} is not a YYYYMMDD date" if raw_date else "StudyDate is empty"
        problems.append(header.problem(Level.WARNING, f"{path}: {found}: date left empty; link the report to its "
                                       f"images through study_uid {header.study_uid}"))
    return header


# ------------------------------------------------------------------ groups to rows


def _lesion_id(group: SRGroup) -> tuple[str, bool]:
    """Tracking Identifier if it names the lesion, else the Finding label, else the UID (flagged True)."""
    text = (group.tracking_id or "").strip()
    if text and text != "-1" and not _TOOL_ID.fullmatch(text):
        return text, False
    if group.finding:
        return group.finding, False
    return group.tracking_uid or f"group {group.number}", True


def group_rows(group: SRGroup, header: SRHeader, doc_timepoint: str | None, doc_observer: str | None,
               problems: list[Problem]) -> list[dict[str, Any]]:
    """At most one lesion-table row for ``group``; every value not read as a size gets a report line."""
    timepoint = group.timepoint or doc_timepoint
    where = f"measurement group {group.number} ({group.tracking_id or group.finding or 'no identifier'})"

    def report(level: Level, message: str, lesion_id: str = "") -> None:
        problems.append(header.problem(level, f"{header.path}: {where}: {message}", lesion_id, timepoint or ""))

    slots: dict[str, float] = {}
    ignored: list[str] = []
    for num in group.nums:
        if num.value is None:
            continue
        desc = f"{num.meaning} {num.value:g} {num.unit_meaning or num.unit}"
        kind = unit_kind(num.unit, num.unit_meaning)
        if kind in ("area", "volume", "pixel"):
            what = {"area": "an area", "volume": "a volume", "pixel": "in pixels, not mm"}[kind]
            report(Level.WARNING, f"{desc} is {what}: not read as a lesion size")
        elif num.kind is None:
            ignored.append(desc)
        elif kind != "length":
            report(Level.WARNING, f"{desc}: unit {num.unit!r} is not mm or cm: not read as a lesion size")
        elif not math.isfinite(num.value) or num.value < 0:
            report(Level.WARNING, f"{desc}: a size must be a number >= 0: not read")
        elif num.kind in slots:
            report(Level.WARNING, f"{desc}: a second {num.kind.replace('_', ' ')} in one group: ignored")
        else:
            slots[num.kind] = num.value * _LENGTH_UNITS[num.unit.strip().lower()]
    if ignored:
        report(Level.INFO, "measurements that are not lesion sizes, not read: " + "; ".join(ignored))

    role = next((r for code in group.value_codes for c, r in BASELINE_CATEGORY.items() if c == code), None)
    if role == "non-lesion":
        report(Level.INFO, "Non-Lesion at Baseline (DCM 112076): not a lesion, no row")
        return []
    if not slots and role is None:
        report(Level.INFO, "no lesion size and no baseline category: no row")
        return []

    axes = [k for k in ("long_axis", "short_axis") if k in slots]
    if axes:
        long_mm, short_mm, measurement = slots.get("long_axis"), slots.get("short_axis"), ",".join(axes)
    else:
        measurement = next((k for k in ("length", "diameter") if k in slots), "")
        long_mm, short_mm = slots.get(measurement), None
    if extra := [k for k in slots if k not in axes and k != measurement]:
        report(Level.WARNING, f"also carries {', '.join(extra)}: the row holds {measurement} only")
    lesion_id, unnamed = _lesion_id(group)
    if unnamed:
        report(Level.WARNING, f"Tracking Identifier {group.tracking_id!r} does not name the lesion and there "
               f"is no Finding label: lesion_id is {lesion_id!r}; map it to a lesion by hand", lesion_id)
    if not slots:
        report(Level.WARNING, f"{role} lesion without a length in mm or cm: no size on its row", lesion_id)
    site_text = " ".join(s.meaning for s in group.sites) + " " + (group.finding or "")
    row: dict[str, Any] = dict.fromkeys(LESION_COLUMNS)
    row.update(
        subject_id=header.subject_id,
        timepoint=timepoint,
        date=header.date,
        lesion_id=lesion_id,
        role=role,
        organ=group.sites[0].meaning if group.sites else None,
        nodal=any(s == LYMPH_NODE for s in group.sites) or "lymph node" in site_text.lower(),
        long_axis_mm=long_mm,
        short_axis_mm=short_mm,
        status="present" if slots else None,
        unit="mm",
        reader=group.observer or doc_observer,
        source=header.source,
        study_uid=header.study_uid,
        series_uid=header.series_uid,
        sop_instance_uid=header.sop_uid,
        tracking_uid=group.tracking_uid,
        tracking_id=group.tracking_id,
        label=group.finding,
        measurement=measurement or None,
    )
    return [row]


_LINE_AXES = {"long_axis": "long", "short_axis": "short"}


def group_lines(group: SRGroup, row: dict[str, Any], index: int) -> list[MeasuredLine]:
    """The lines of the sizes held by ``row`` (the row of ``group``, at position ``index`` of the result): each
    size NUM's own SCOORD, else the group's region (a line or an ellipse) for its long axis or length."""
    measurement = str(row.get("measurement") or "")
    wanted = _LINE_AXES if "_axis" in measurement else {measurement: "length"} if measurement else {}
    out: list[MeasuredLine] = []
    for num in group.nums:
        axis = wanted.get(num.kind or "")
        if axis is None or any(m.axis == axis for m in out) or unit_kind(num.unit, num.unit_meaning) != "length":
            continue
        line = num.line
        if line is None and group.region is not None and (axis != "short" or group.region.graphic_type == "ELLIPSE"):
            line = group.region
        segment = line.axis(axis) if line is not None else None
        if line is not None and segment is not None:
            out.append(MeasuredLine(index, axis, line.sop_instance_uid, line.frame, *segment))
    return out


def guarded_read(obj: Any, accept: Callable[[Dataset], str], read: Callable[[Dataset, str], ReadResult]
                 ) -> ReadResult:
    """Load ``obj``, refuse it when ``accept(ds)`` gives a reason, else ``read(ds, path)``; never raise."""
    path = source_path(obj)
    ds, why = load_dataset(obj)
    if ds is None:
        return ReadResult(problems=[Problem(Level.ERROR, path, message=f"{path}: cannot read as DICOM SR: {why}")])
    source = f"{path}#{ds.get('SOPInstanceUID', '')}"
    try:
        if refusal := accept(ds):
            return ReadResult(problems=[Problem(Level.ERROR, source, message=f"{path}: {refusal}")])
        return read(ds, path)
    except Exception as exc:  # a malformed content tree is a report line, never a crash
        message = f"{path}: malformed SR content ({type(exc).__name__}: {first_line(exc)}); nothing read"
        return ReadResult(problems=[Problem(Level.ERROR, source, message=message)])
