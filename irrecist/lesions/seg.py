"""DICOM Segmentation (SEG) reader: one lesion per segment, diameters from the mask.

Reads with highdicom (``hd.seg.segread``); when highdicom refuses a file (big-endian transfer syntax,
missing mandatory segment attributes as in early vendor SEGs) it falls back to pydicom + numpy and
reports a warning. Standard: PS3.3 A.51 (Segmentation IOD), C.8.20 (Segmentation Image Module),
C.7.6.16 (Multi-frame Functional Groups: Pixel Measures, Plane Position, Plane Orientation, Segment
Identification).

Per segment, frames are grouped by image plane (orientation + position; overlapping frames of one
segment on one plane are OR-ed) and measured in that plane with the frame's own ``PixelSpacing``
(per-frame functional group, else shared) by :mod:`irrecist.lesions.geometry`: long axis maximised
over planes, short axis on that plane, points on pixel centres unless ``corners=True``.
``FRACTIONAL`` segments are thresholded at half the maximum: a pixel is in the segment when its stored
value is ``>= 0.5 * MaximumFractionalValue`` (probability or occupancy >= 0.5). Segments may overlap:
each is measured on its own frames. Label-map SEGs (``...66.7``) use ``pixel == segment number``.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from irrecist.dicomio import dcmread
from irrecist.errors import Level, Problem
from irrecist.lesions import geometry
from irrecist.lesions.base import MeasuredLine, ReadResult

SEG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
}
LABELMAP_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
LYMPH_NODE_CODES = {("SCT", "59441001"), ("SRT", "T-C4000")}
ANATOMICAL_STRUCTURE_CODES = {("SCT", "91723000"), ("SRT", "T-D000A")}


# -- helpers shared with the RTSTRUCT reader -----------------------------------------------------


def as_path(obj: Any) -> Path | None:
    """``obj`` as a path when it is one (``str`` or ``os.PathLike``), else ``None``."""
    if isinstance(obj, Path):
        return obj
    if isinstance(obj, str | os.PathLike):
        return Path(obj)
    return None


def sop_class_of(obj: Any) -> str | None:
    """SOP Class UID of a path (header only, ``force=True``) or a dataset; ``None`` if unreadable."""
    try:
        if isinstance(obj, Dataset):
            ds = obj
        else:
            path = as_path(obj)
            if path is None or not path.is_file():
                return None
            ds = dcmread(path, stop_before_pixels=True, force=True)
        uid = ds.get("SOPClassUID")
        if uid is None and hasattr(ds, "file_meta"):
            uid = ds.file_meta.get("MediaStorageSOPClassUID")
        return str(uid) if uid else None
    except Exception:
        return None


def source_of(obj: Any, ds: Dataset | None) -> str:
    """``"<path>#<SOPInstanceUID>"`` (path alone when the UID is unknown)."""
    path = as_path(obj)
    name = str(path) if path else str(getattr(obj, "filename", "") or "<dataset>")
    uid = ds.get("SOPInstanceUID") if ds is not None else None
    return f"{name}#{uid}" if uid else name


def guarded_read(kind: str, obj: Any, read: Callable[[Any, ReadResult], None]) -> ReadResult:
    """Run a reader's ``read(obj, result)``; any exception on a bad file becomes an error Problem."""
    result = ReadResult()
    try:
        read(obj, result)
    except Exception as exc:  # never raise on a bad file
        result.problems.append(
            Problem(Level.ERROR, source_of(obj, None), message=f"cannot read {kind}: {type(exc).__name__}: {exc}")
        )
    return result


def iso_date(value: Any) -> str | None:
    """DICOM DA ``YYYYMMDD`` as ISO ``YYYY-MM-DD``; ``None`` when empty, malformed or not a calendar date."""
    text = str(value or "").strip()
    m = re.fullmatch(r"(\d{4})\.?(\d{2})\.?(\d{2})", text)
    try:
        return datetime.date(int(m[1]), int(m[2]), int(m[3])).isoformat() if m else None
    except ValueError:  # 20240230
        return None


def header_fields(ds: Dataset, source: str, problems: list[Problem]) -> dict[str, Any]:
    """Subject, date and UIDs common to every row of one object (no patient name is read)."""
    subject = str(ds.get("PatientID", "") or "").strip()
    if not subject:
        problems.append(Problem(Level.WARNING, source, message="PatientID is empty; subject_id left empty"))
    date = iso_date(ds.get("StudyDate"))
    if date is None:
        problems.append(
            Problem(Level.WARNING, source, subject, message=f"StudyDate {ds.get('StudyDate')!r} is not a date")
        )
    return {
        "subject_id": subject,
        "timepoint": "",
        "date": date,
        "study_uid": str(ds.get("StudyInstanceUID", "")) or None,
        "series_uid": str(ds.get("SeriesInstanceUID", "")) or None,
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "")) or None,
    }


def lesion_row(common: dict[str, Any], **values: Any) -> dict[str, Any]:
    """A lesion-table row with every column of ``LESION_COLUMNS`` (plus extras)."""
    row: dict[str, Any] = {
        "subject_id": common["subject_id"],
        "timepoint": "",
        "date": common["date"],
        "lesion_id": None,
        "role": None,
        "organ": None,
        "nodal": None,
        "long_axis_mm": None,
        "short_axis_mm": None,
        "status": "present",
        "unit": "mm",
        "slice_thickness_mm": None,
        "reader": None,
        "source": None,
    }
    row.update({k: common[k] for k in ("study_uid", "series_uid", "sop_instance_uid")})
    row.update(values)
    return row


# -- SEG specifics ------------------------------------------------------------------------------


def _highdicom() -> Any:
    """highdicom, imported when a SEG is first read: its import takes a quarter of a second, which runs
    without SEG (an RTSTRUCT reader uses the helpers above) do not pay."""
    import highdicom

    return highdicom


class _FunctionalGroups:
    """The Per-Frame and Shared Functional Groups Sequences of a multi-frame object (PS3.3 C.7.6.16), looked up
    once per object rather than once per frame and macro."""

    def __init__(self, ds: Dataset) -> None:
        self.per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
        self.shared = list((ds.get("SharedFunctionalGroupsSequence") or [])[:1])

    def first(self, index: int, keyword: str) -> Dataset | None:
        """First item of a functional-group macro for frame ``index``: per-frame, else shared."""
        for item in ([self.per_frame[index]] if index < len(self.per_frame) else []) + self.shared:
            seq = item.get(keyword)
            if seq:
                return seq[0]
        return None


def _cross(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float]:
    """The cross product of two 3-vectors, computed as ``numpy.cross`` computes it (each product rounded, then
    subtracted) without making arrays of six numbers."""
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def _geometry_problem(ds: Dataset) -> str:
    """Why the frames do not match the declared geometry (empty when they do): Rows, Columns and NumberOfFrames
    must be positive, the Per-Frame Functional Groups Sequence has one item per frame (PS3.3 C.7.6.16) and
    native pixel data holds every frame (PS3.5 8.1.1; 1-bit frames are packed one after the other)."""
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if rows <= 0 or cols <= 0 or frames <= 0:
        return f"Rows {rows}, Columns {cols}, NumberOfFrames {frames}: the frames have no pixels"
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and len(per_frame) != frames:
        return f"NumberOfFrames is {frames} but the Per-Frame Functional Groups Sequence has {len(per_frame)} items"
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if "PixelData" in ds and not (syntax is not None and syntax.is_compressed):
        bits, samples = int(ds.get("BitsAllocated", 1) or 1), int(ds.get("SamplesPerPixel", 1) or 1)
        need, have = (rows * cols * frames * samples * bits + 7) // 8, len(ds.PixelData or b"")
        if have < need:
            return f"the pixel data has {have} bytes; {frames} frame(s) of {rows} x {cols} at {bits} bit(s) need {need}"
    return ""


def _refuse_geometry(ds: Dataset, obj: Any, result: ReadResult) -> bool:
    """Report a SEG whose frames do not match their geometry (an error: nothing is measured from it)."""
    why = _geometry_problem(ds)
    if why:
        message = f"SEG frames do not match their geometry: {why}; not read"
        subject = str(ds.get("PatientID", "") or "")
        result.problems.append(Problem(Level.ERROR, source_of(obj, ds), subject, message=message))
    return bool(why)


class _Plane:
    """The union of one segment's frames on one image plane, and the source image of its first frame."""

    def __init__(
        self,
        mask: NDArray[np.bool_],
        spacing: tuple[float, ...],
        order: float,
        thick: float | None,
        source: tuple[str, int | None] | None = None,
    ):
        self.mask, self.spacing, self.order, self.thickness = mask, spacing, order, thick
        self.source = source

    def line(self, row: int, axis_name: str, axis: geometry.Axis) -> MeasuredLine | None:
        """``axis`` (mm in the frame's plane, pixel centres at ``(c * sc, r * sr)``) as a line in the source
        image's pixel coordinates ((column, row), the centre of pixel (c, r) at (c + 0.5, r + 0.5), PS3.3
        C.18.6.1.1); the SEG frame is taken to lie on its source image's pixel grid (C.8.20.2: derived from
        it, as highdicom and dcmqi write SEGs). None when the frame names no source image."""
        if self.source is None:
            return None
        sr, sc = self.spacing[0], self.spacing[1]

        def pixel(p: geometry.Point) -> geometry.Point:
            return (p[0] / sc + 0.5, p[1] / sr + 0.5)

        return MeasuredLine(row, axis_name, self.source[0], self.source[1], pixel(axis.start), pixel(axis.end))


def _source_image(groups: _FunctionalGroups, index: int) -> tuple[str, int | None] | None:
    """SOP Instance UID and frame (1-based; None for a single-frame image) of the image frame ``index`` was
    derived from (Derivation Image Functional Group > Source Image Sequence, PS3.3 C.7.6.16.2.6)."""
    derivation = groups.first(index, "DerivationImageSequence")
    sources = derivation.get("SourceImageSequence") if derivation is not None else None
    if not sources:
        return None
    uid = str(sources[0].get("ReferencedSOPInstanceUID", "") or "")
    if not uid:
        return None
    frames = sources[0].get("ReferencedFrameNumber")
    if frames is not None and not isinstance(frames, int | str):
        frames = frames[0] if len(frames) else None
    try:
        frame = int(frames) if frames not in (None, "") else None
    except (TypeError, ValueError):
        frame = None
    return uid, frame if frame else None


def _coded_meaning(item: Dataset, keyword: str) -> tuple[str | None, set[tuple[str, str]]]:
    seq = item.get(keyword) or []
    codes = {(str(c.get("CodingSchemeDesignator", "")), str(c.get("CodeValue", ""))) for c in seq}
    meaning = str(seq[0].get("CodeMeaning", "") or "") or None if seq else None
    return meaning, codes


def _organ(item: Dataset) -> tuple[str | None, bool | None]:
    """Organ from AnatomicRegionSequence, else from the property type when its category is
    Anatomical Structure; ``nodal`` is True when either names a lymph node, else unknown (None)."""
    organ, region_codes = _coded_meaning(item, "AnatomicRegionSequence")
    type_meaning, type_codes = _coded_meaning(item, "SegmentedPropertyTypeCodeSequence")
    _, category = _coded_meaning(item, "SegmentedPropertyCategoryCodeSequence")
    if organ is None and category & ANATOMICAL_STRUCTURE_CODES:
        organ = type_meaning
    texts = " ".join(t for t in (organ, type_meaning) if t).lower()
    nodal = bool((region_codes | type_codes) & LYMPH_NODE_CODES) or "lymph node" in texts
    return organ, (True if nodal else None)


class SegReader:
    """DICOM SEG → lesion rows (one per non-empty segment)."""

    name = "dicom-seg"

    def __init__(self, corners: bool = False) -> None:
        self.corners = corners

    def can_read(self, obj: Any) -> bool:
        return sop_class_of(obj) in SEG_SOP_CLASSES

    def read(self, obj: Any) -> ReadResult:
        return guarded_read("SEG", obj, self._read)

    def _open(self, obj: Any, result: ReadResult) -> tuple[Dataset, Callable[[int], NDArray[Any]]] | None:
        path = as_path(obj)
        if path is None and isinstance(obj, Dataset) and "PixelData" not in obj and getattr(obj, "filename", None):
            path = Path(obj.filename)  # a header read without pixels: reopen the file
        try:
            ds = dcmread(path) if path is not None else obj
            seg = _highdicom().seg.Segmentation.from_dataset(ds, copy=path is None)
            return seg, lambda i: np.asarray(seg.get_stored_frame(i + 1))
        except Exception as exc:
            refused = f"{type(exc).__name__}: {exc}"
        try:
            ds = dcmread(path, force=True) if path is not None else obj
        except Exception as exc:
            result.problems.append(
                Problem(Level.ERROR, source_of(obj, None), message=f"cannot read SEG: {type(exc).__name__}: {exc}")
            )
            return None
        if str(ds.get("SOPClassUID", "")) not in SEG_SOP_CLASSES:
            result.problems.append(
                Problem(Level.ERROR, source_of(obj, ds), message=f"not a Segmentation object ({refused})")
            )
            return None
        if _refuse_geometry(ds, obj, result):
            return None
        pixels = np.asarray(ds.pixel_array)
        if pixels.ndim == 2:
            pixels = pixels[None]
        result.problems.append(
            Problem(
                Level.WARNING,
                source_of(obj, ds),
                str(ds.get("PatientID", "")),
                message=f"highdicom refused this SEG ({refused}); read with pydicom + numpy instead",
            )
        )
        return ds, lambda i: pixels[i]

    def _read(self, obj: Any, result: ReadResult) -> None:
        opened = self._open(obj, result)
        if opened is None:
            return
        ds, frame = opened
        if _refuse_geometry(ds, obj, result):
            return
        source = source_of(obj, ds)
        common = header_fields(ds, source, result.problems)
        subject = common["subject_id"]
        items = {int(it.SegmentNumber): it for it in ds.get("SegmentSequence", [])}
        if isinstance(ds, _highdicom().seg.Segmentation):
            items = {n: ds.get_segment_description(n) for n in ds.segment_numbers}
        if not items:
            result.problems.append(Problem(Level.ERROR, source, subject, message="SEG has no SegmentSequence"))
            return
        planes = self._planes(ds, frame, set(items), source, subject, result)
        reader = str(ds.get("ContentCreatorName", "") or "") or None
        for number, item in sorted(items.items()):
            label = str(item.get("SegmentLabel", "") or "").strip()
            tracking_id = str(item.get("TrackingID", "") or "").strip() or None
            lesion_id = tracking_id or label or f"segment {number}"
            where = f"segment {number} ({label or 'no label'})"
            seg_planes = sorted(planes.get(number, {}).values(), key=lambda p: p.order)
            if not seg_planes:
                result.problems.append(
                    Problem(Level.WARNING, source, subject, lesion_id, message=f"{where} has no pixels; no row")
                )
                continue
            best: tuple[float, _Plane, geometry.Axis] | None = None
            for plane in seg_planes:
                axis = geometry.mask_long_axis(plane.mask, plane.spacing, self.corners)
                if best is None or axis.length_mm > best[0]:
                    best = (axis.length_mm, plane, axis)
            assert best is not None
            _, plane, la = best
            direction = (la.end[0] - la.start[0], la.end[1] - la.start[1])
            sa = geometry.mask_short_axis(plane.mask, direction, plane.spacing, self.corners)
            organ, nodal = _organ(item)
            for name, axis in (("long", la), ("short", sa)):
                if (line := plane.line(len(result.rows), name, axis)) is not None and axis.length_mm > 0:
                    result.lines.append(line)
            result.rows.append(
                lesion_row(
                    common,
                    lesion_id=lesion_id,
                    organ=organ,
                    nodal=nodal,
                    long_axis_mm=la.length_mm,
                    short_axis_mm=sa.length_mm,
                    slice_thickness_mm=plane.thickness,
                    reader=reader,
                    source=source,
                    tracking_id=tracking_id,
                    tracking_uid=str(item.get("TrackingUID", "") or "") or None,
                    label=label or None,
                )
            )

    def _planes(
        self,
        ds: Dataset,
        frame: Callable[[int], NDArray[Any]],
        numbers: set[int],
        source: str,
        subject: str,
        result: ReadResult,
    ) -> dict[int, dict[tuple[Any, ...], _Plane]]:
        """Masks per segment number and image plane, with the plane's spacing and thickness."""
        fractional = str(ds.get("SegmentationType", "")).upper() == "FRACTIONAL"
        threshold = 0.5 * float(ds.get("MaximumFractionalValue", 255) or 255) if fractional else 0.0
        labelmap = str(ds.get("SOPClassUID", "")) == LABELMAP_SOP_CLASS
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        groups = _FunctionalGroups(ds)
        planes: dict[int, dict[tuple[Any, ...], _Plane]] = {}
        reported: set[str] = set()

        def once(message: str, level: Level = Level.WARNING) -> None:
            if message not in reported:
                reported.add(message)
                result.problems.append(Problem(level, source, subject, message=message))

        for i in range(n_frames):
            ident = groups.first(i, "SegmentIdentificationSequence")
            if ident is not None and not labelmap:
                wanted = [int(ident.ReferencedSegmentNumber)]
            elif labelmap:
                wanted = sorted(numbers)
            else:
                once(f"frame {i + 1} has no SegmentIdentificationSequence; frame skipped")
                continue
            measures = groups.first(i, "PixelMeasuresSequence")
            spacing = _floats(measures.get("PixelSpacing"), 2) if measures is not None else None
            if spacing is None or min(spacing) <= 0:
                once(f"frame {i + 1}: no valid PixelSpacing (PixelMeasuresSequence); cannot measure in mm", Level.ERROR)
                continue
            thick = (measures.get("SliceThickness") or measures.get("SpacingBetweenSlices")) if measures else None
            ori_item = groups.first(i, "PlaneOrientationSequence")
            pos_item = groups.first(i, "PlanePositionSequence")
            ori = _floats(ori_item.get("ImageOrientationPatient"), 6) if ori_item is not None else None
            pos = _floats(pos_item.get("ImagePositionPatient"), 3) if pos_item is not None else None
            if ori is None or pos is None:
                once("frames without ImageOrientationPatient/ImagePositionPatient: each frame is its own plane")
                key: tuple[Any, ...] = ("frame", i)
                order = float(i)
            else:
                normal = _cross(ori[:3], ori[3:])
                key = (tuple(round(v, 4) for v in ori), tuple(round(v, 2) for v in pos))
                order = float(np.dot(normal, pos))
            data = frame(i)
            for number in wanted:
                mask = data == number if labelmap else (data >= threshold if fractional else data > 0)
                if not mask.any():
                    continue
                per = planes.setdefault(number, {})
                if key in per and per[key].mask.shape == mask.shape:
                    per[key].mask |= mask
                else:
                    per[key if key not in per else (*key, i)] = _Plane(
                        mask.copy(), spacing, order, float(thick) if thick else None, _source_image(groups, i)
                    )
        return planes
