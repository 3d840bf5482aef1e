"""Presentation state reader: two-point POLYLINE calipers of a softcopy presentation state as long axes.

Standard: DICOM PS3.3 A.33 (Softcopy Presentation State IODs), C.10.5 Graphic Annotation Module
(``GraphicAnnotationSequence`` > ``GraphicObjectSequence`` / ``TextObjectSequence``), C.10.4 Displayed Area
Module (``PresentationPixelSpacing``), C.7.6.2.1.1 (``PixelSpacing`` = [row spacing, column spacing] in mm).

A caliper is a graphic object of type POLYLINE with exactly two points. PIXEL units are (column, row)
positions on the referenced image, so the length is ``hypot(dcol * column_spacing, drow * row_spacing)``.
The spacing comes from the referenced image's header (the optional ``image_spacing`` lookup, built with
:func:`image_spacing_from_files`), else from the presentation state's own ``PresentationPixelSpacing``;
when neither exists the caliper is reported, never guessed. DISPLAY units (fractions of the displayed area)
are reported and skipped. The lesion id is the first line of the caliper's text object (same annotation
layer; matched by compound graphic / graphic group id, then by anchor point); the full text goes to ``label``.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from irrecist.columns import LESION_COLUMNS
from irrecist.dicomio import dcmread
from irrecist.errors import Level, Problem
from irrecist.lesions.base import MeasuredLine, ReadResult

Spacing = tuple[float, float]
"""(row spacing, column spacing) in mm, the order of DICOM PixelSpacing."""

PRESENTATION_STATE_CLASSES: frozenset[str] = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.2",  # Color Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.3",  # Pseudo-Color Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.4",  # Blending Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.5",  # XA/XRF Grayscale Softcopy Presentation State
    }
)
SPACING_TOLERANCE = 0.01  # relative difference between two spacings treated as a disagreement
LABEL_TOLERANCE_MM = 1.0  # a length written in the label that differs more than this is reported
ANCHOR_TOLERANCE_PX = 2.0  # a text anchored this close to a caliper end labels that caliper

_MEASURE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(mm|cm)\b", re.IGNORECASE)
_MEASURE_ONLY = re.compile(
    r"^\s*(?:length|distance|long(?: axis)?|short(?: axis)?|diameter)?\s*[:=]?\s*"
    r"\d+(?:[.,]\d+)?\s*(?:mm|cm)\b",
    re.IGNORECASE,
)


def image_spacing_from_files(paths: Iterable[str | Path]) -> dict[str, Spacing]:
    """SOP Instance UID -> PixelSpacing (row, column) of the images among ``paths`` (headers only).

    Files that are not DICOM or carry no PixelSpacing are left out; a caliper on such an image is then
    reported by the reader that needs it.
    """
    out: dict[str, Spacing] = {}
    for p in paths:
        try:
            ds = dcmread(p, stop_before_pixels=True, specific_tags=["SOPInstanceUID", "PixelSpacing"])
            uid, ps = ds.get("SOPInstanceUID"), ds.get("PixelSpacing")
            if uid and ps is not None and len(ps) == 2:
                out[str(uid)] = (float(ps[0]), float(ps[1]))
        except Exception:  # noqa: S112 - not an image with spacing: nothing to record
            continue
    return out


def pixel_length_mm(p0: tuple[float, float], p1: tuple[float, float], spacing: Spacing) -> float:
    """Length in mm between two (column, row) pixel positions with PixelSpacing (row, column)."""
    return math.hypot((p1[0] - p0[0]) * spacing[1], (p1[1] - p0[1]) * spacing[0])


def _iso_date(value: Any) -> str | None:
    s = str(value or "").strip()
    m = re.match(r"^(\d{4})-?(\d{2})-?(\d{2})", s)
    try:  # a calendar date only (not 2024-02-30)
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat() if m else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    s = str(value).strip() if value is not None else ""
    return s or None


def empty_row() -> dict[str, Any]:
    """A lesion-table row with every column empty."""
    return {c: None for c in LESION_COLUMNS}


@dataclass
class _Caliper:
    points: tuple[tuple[float, float], tuple[float, float]]
    number: int  # 1-based position in GraphicObjectSequence
    compound_id: int | None
    group_id: int | None


@dataclass
class _Label:
    text: str
    anchor: tuple[float, float] | None
    compound_id: int | None
    group_id: int | None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def lesion_id_from_label(text: str | None) -> str | None:
    """First line of a label that is not just a measurement (``"Length: 11.1mm"``)."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not _MEASURE_ONLY.match(line):
            return line
    return None


def length_in_label_mm(text: str | None) -> float | None:
    """A length written in the label (``"11.1mm"``, ``"1,2 cm"``) in mm, if any."""
    m = _MEASURE.search(text or "")
    if not m:
        return None
    value = float(m.group(1).replace(",", "."))
    return value * 10.0 if m.group(2).lower() == "cm" else value


class GspsReader:
    """Reads two-point calipers from softcopy presentation states (PS3.3 C.10.5)."""

    name = "gsps"

    def __init__(self, image_spacing: Mapping[str, Spacing] | None = None) -> None:
        self.image_spacing: Mapping[str, Spacing] = image_spacing or {}

    def can_read(self, obj: Any) -> bool:
        if isinstance(obj, Dataset):
            return str(obj.get("SOPClassUID", "")) in PRESENTATION_STATE_CLASSES
        if isinstance(obj, str | Path) and Path(obj).is_file():
            try:
                ds = dcmread(obj, stop_before_pixels=True, specific_tags=["SOPClassUID"])
            except Exception:
                return False
            return str(ds.get("SOPClassUID", "")) in PRESENTATION_STATE_CLASSES
        return False

    def read(self, obj: Any) -> ReadResult:
        result = ReadResult()
        if isinstance(obj, Dataset):
            ds, path = obj, str(getattr(obj, "filename", "") or "<dataset>")
        else:
            path = str(obj)
            try:
                ds = dcmread(obj)
            except Exception as exc:
                result.problems.append(
                    Problem(Level.ERROR, source=path, message=f"not a readable DICOM file: {exc}")
                )
                return result
        if str(ds.get("SOPClassUID", "")) not in PRESENTATION_STATE_CLASSES:
            msg = f"SOP Class {ds.get('SOPClassUID', 'missing')} is not a softcopy presentation state"
            result.problems.append(Problem(Level.ERROR, source=path, message=msg))
            return result
        try:
            self._read_dataset(ds, path, result)
        except Exception as exc:  # malformed content: report, never raise
            result.problems.append(
                Problem(
                    Level.ERROR,
                    source=path,
                    message=f"malformed presentation state: {type(exc).__name__}: {exc}",
                )
            )
        return result

    # -- internals -------------------------------------------------------------------------------------

    def _read_dataset(self, ds: Dataset, path: str, result: ReadResult) -> None:
        sop = str(ds.get("SOPInstanceUID", "") or "")
        source = f"{path}#{sop}"
        subject = _text(ds.get("PatientID"))
        where: dict[str, str] = {"source": source, "subject_id": subject or ""}

        def problem(level: Level, message: str, lesion: str | None = None) -> None:
            result.problems.append(Problem(level, lesion_id=lesion or "", message=message, **where))

        date = _iso_date(ds.get("StudyDate"))
        if date is None:
            problem(Level.WARNING, f"StudyDate {ds.get('StudyDate')!r} is missing or not a date")
        series_of: dict[str, str] = {}
        for series in ds.get("ReferencedSeriesSequence", []) or []:
            for img in series.get("ReferencedImageSequence", []) or []:
                series_of[str(img.ReferencedSOPInstanceUID)] = str(series.get("SeriesInstanceUID", ""))
        displayed = self._displayed_spacings(ds)
        annotations = ds.get("GraphicAnnotationSequence", []) or []
        if not annotations:
            problem(Level.INFO, "no graphic annotations: no caliper to read")
            return
        base = empty_row()
        base.update(
            subject_id=subject,
            date=date,
            status="present",
            unit="mm",
            reader=self._creator(ds),
            source=source,
            sop_instance_uid=sop or None,
            study_uid=_text(ds.get("StudyInstanceUID")),
        )
        # texts label calipers of the same layer on the same images, even from another annotation item
        found: list[tuple[str, tuple[str, str], list[str], _Caliper]] = []
        labels: dict[tuple[str, str], list[_Label]] = {}
        calipers: dict[tuple[str, str], list[_Caliper]] = {}
        frame_of: dict[str, int | None] = {}  # referenced image -> its referenced frame (1-based), if one
        for n_ann, ann in enumerate(annotations, start=1):
            layer = str(ann.get("GraphicLayer", "") or "")
            images = ann.get("ReferencedImageSequence", []) or []
            refs = [str(r.ReferencedSOPInstanceUID) for r in images]
            frame_of.update((str(r.ReferencedSOPInstanceUID), _first_frame(r)) for r in images)
            refs = refs or list(series_of)
            key = (layer, "\\".join(sorted(refs)))
            labels.setdefault(key, []).extend(self._label(t) for t in ann.get("TextObjectSequence", []) or [])
            ignored = 0
            for number, go in enumerate(ann.get("GraphicObjectSequence", []) or [], start=1):
                at = f"annotation {n_ann} (layer {layer!r}) graphic {number}"
                gtype = str(go.get("GraphicType", "")).upper()
                data = [float(v) for v in (go.get("GraphicData") or [])]
                npoints = _int_or_none(go.get("NumberOfGraphicPoints"))
                if gtype != "POLYLINE" or (npoints not in (None, 2)) or (npoints is None and len(data) != 4):
                    ignored += 1  # not a caliper (arrow, ellipse, outline): nothing to measure
                    continue
                if len(data) != 4:
                    problem(
                        Level.ERROR, f"{at}: two-point POLYLINE with {len(data)} GraphicData values (needs 4)"
                    )
                    continue
                units = str(go.get("GraphicAnnotationUnits", "")).upper()
                if units != "PIXEL":
                    problem(
                        Level.ERROR,
                        f"{at}: caliper in {units or 'unspecified'} units; "
                        "only PIXEL units can be converted to mm "
                        "(DISPLAY units are fractions of the displayed area): not measured",
                    )
                    continue
                cal = _Caliper(
                    ((data[0], data[1]), (data[2], data[3])),
                    number,
                    _int_or_none(go.get("CompoundGraphicInstanceID")),
                    _int_or_none(go.get("GraphicGroupID")),
                )
                calipers.setdefault(key, []).append(cal)
                found.append((at, key, refs, cal))
            if ignored:
                problem(
                    Level.INFO,
                    f"annotation {n_ann} (layer {layer!r}): {ignored} graphic object(s) "
                    "that are not two-point POLYLINE calipers were not read",
                )
        for at, key, refs, cal in found:
            label = self._match_label(cal, calipers[key], labels[key])
            lesion = lesion_id_from_label(label)
            spacing, ref, note = self._spacing(refs, displayed)
            if note:
                problem(note[0], f"{at}: {note[1]}", lesion)
            if spacing is None:
                continue
            length = pixel_length_mm(cal.points[0], cal.points[1], spacing)
            if lesion is None:
                problem(
                    Level.WARNING,
                    f"{at}: caliper ({length:.2f} mm) has no text label; lesion_id left empty",
                )
            stated = length_in_label_mm(label)
            if stated is not None and abs(stated - length) > LABEL_TOLERANCE_MM:
                problem(
                    Level.WARNING,
                    f"{at}: label says {stated:g} mm but the caliper measures {length:.2f} mm "
                    f"with pixel spacing {spacing[0]:g}\\{spacing[1]:g}; the measured value is kept",
                    lesion,
                )
            row = dict(base)
            row.update(
                lesion_id=lesion,
                long_axis_mm=length,
                label=label,
                referenced_sop_instance_uid=ref,
                series_uid=series_of.get(ref or "") or None,
            )
            if ref:  # PIXEL units are (column, row) on the referenced image (C.10.5.1.2), as SCOORD
                result.lines.append(MeasuredLine(len(result.rows), "length", ref, frame_of.get(ref), *cal.points))
            result.rows.append(row)

    def _spacing(
        self, refs: list[str], displayed: list[tuple[set[str] | None, Spacing]]
    ) -> tuple[Spacing | None, str | None, tuple[Level, str] | None]:
        """Spacing of the referenced image(s): image header first, else PresentationPixelSpacing."""
        found: list[tuple[Spacing, str]] = []
        notes: list[str] = []
        for uid in refs or [""]:
            header = self.image_spacing.get(uid) if uid else None
            shown = next((sp for imgs, sp in displayed if imgs is None or uid in imgs), None)
            if header is not None:
                found.append((header, uid))
                if shown is not None and not _same(header, shown):
                    notes.append(
                        f"PresentationPixelSpacing {shown[0]:g}\\{shown[1]:g} differs from the image's "
                        f"PixelSpacing {header[0]:g}\\{header[1]:g}; the image's is used"
                    )
            elif shown is not None:
                found.append((shown, uid))
        if not found:
            what = ", ".join(refs) or "no referenced image"
            return (
                None,
                refs[0] if refs else None,
                (
                    Level.ERROR,
                    "no pixel spacing: the presentation state has no PresentationPixelSpacing "
                    "and the referenced "
                    f"image ({what}) was not given; caliper not measured",
                ),
            )
        first = found[0][0]
        if any(not _same(first, sp) for sp, _ in found[1:]):
            listing = "; ".join(f"{u}: {s[0]:g}\\{s[1]:g}" for s, u in found)
            return (
                None,
                found[0][1] or None,
                (Level.ERROR, f"the annotation applies to images with different pixel spacings ({listing})"),
            )
        note = (Level.WARNING, notes[0]) if notes else None
        return first, found[0][1] or None, note

    @staticmethod
    def _displayed_spacings(ds: Dataset) -> list[tuple[set[str] | None, Spacing]]:
        out: list[tuple[set[str] | None, Spacing]] = []
        for item in ds.get("DisplayedAreaSelectionSequence", []) or []:
            ps = item.get("PresentationPixelSpacing")
            if ps is None or len(ps) != 2:
                continue
            imgs = {str(r.ReferencedSOPInstanceUID) for r in item.get("ReferencedImageSequence", []) or []}
            out.append((imgs or None, (float(ps[0]), float(ps[1]))))
        return out

    @staticmethod
    def _label(item: Dataset) -> _Label:
        anchor = item.get("AnchorPoint")
        units = str(item.get("AnchorPointAnnotationUnits", "")).upper()
        point = (float(anchor[0]), float(anchor[1])) if anchor is not None and len(anchor) == 2 else None
        return _Label(
            str(item.get("UnformattedTextValue", "") or ""),
            point if units == "PIXEL" else None,
            _int_or_none(item.get("CompoundGraphicInstanceID")),
            _int_or_none(item.get("GraphicGroupID")),
        )

    @staticmethod
    def _match_label(cal: _Caliper, calipers: list[_Caliper], labels: list[_Label]) -> str | None:
        """The caliper's text: same compound graphic or group id, else anchored at an end,
        else the only text."""
        for attr in ("compound_id", "group_id"):
            key = getattr(cal, attr)
            if key is not None:
                hits = [lb.text for lb in labels if getattr(lb, attr) == key and lb.text.strip()]
                if hits:
                    return "\n".join(hits)
        best: tuple[float, str] | None = None
        for lb in labels:
            if lb.anchor is None or not lb.text.strip():
                continue
            d = min(math.dist(lb.anchor, p) for p in cal.points)
            if d <= ANCHOR_TOLERANCE_PX and (best is None or d < best[0]):
                best = (d, lb.text)
        if best is not None:
            return best[1]
        texts = [lb.text for lb in labels if lb.text.strip()]
        if len(calipers) == 1 and len(texts) == 1:
            return texts[0]
        return None

    @staticmethod
    def _creator(ds: Dataset) -> str | None:
        """Reader id: content creator's identification code, else Content Creator's Name (PS3.3 C.11.10)."""
        for ident in ds.get("ContentCreatorIdentificationCodeSequence", []) or []:
            for code in ident.get("PersonIdentificationCodeSequence", []) or []:
                value = _text(code.get("CodeValue"))
                if value:
                    return value
        return _text(ds.get("ContentCreatorName"))


def _first_frame(item: Dataset) -> int | None:
    """The first ReferencedFrameNumber of a referenced image item (1-based); None when absent or not a number."""
    frames = item.get("ReferencedFrameNumber")
    if frames is not None and not isinstance(frames, int | str):
        frames = frames[0] if len(frames) else None
    frame = _int_or_none(frames)
    return frame if frame is not None and frame > 0 else None


def _same(a: Spacing, b: Spacing) -> bool:
    return all(abs(x - y) <= SPACING_TOLERANCE * max(abs(x), abs(y)) for x, y in zip(a, b, strict=True))
