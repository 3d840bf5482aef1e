"""AIM XML reader: Annotation and Image Markup v1/v3 (``ImageAnnotation`` root) and v4
(``ImageAnnotationCollection`` > ``imageAnnotations`` > ``ImageAnnotation``).

AIM model (NCI caBIG AIM v3 rev 11, AIM v4 rev 48 / v4.2): an ImageAnnotation has a name (the lesion), a
user (the annotator), a person (the patient: only its id is read, never its name), calculations (Length,
Long/Short Axis, with a unit), markups (geometric shapes with (x, y) = (column, row) pixel coordinates on a
referenced SOP Instance, or 3D patient coordinates in mm), and the referenced study (instance UID, start
date), series and image. The XML is parsed with defusedxml: entity declarations (internal or external) and
external references are refused and reported; nothing is fetched.

The stored length is kept as recorded. When the pixel spacing of the referenced image is known (the optional
``image_spacing`` lookup from the images' headers, which wins, or a pixel spacing written in the AIM), the
length is recomputed from the two points (``PixelSpacing`` = [row, column], DICOM PS3.3 C.7.6.2.1.1) and a
disagreement over 1 mm is reported as a warning. AIM has no visit label: ``timepoint`` is left empty (AIM v1
``imageAnnotationType`` ``RECIST_Baseline_*`` gives ``baseline``) for the caller to fill from the date.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from irrecist.errors import Level, Problem
from irrecist.lesions.base import MeasuredLine, ReadResult
from irrecist.lesions.gsps import Spacing, empty_row, pixel_length_mm

DISAGREEMENT_MM = 1.0
MAX_BYTES = 50_000_000
_UNITS = {"mm": 1.0, "millimeter": 1.0, "millimetre": 1.0, "cm": 10.0, "centimeter": 10.0, "centimetre": 10.0}
_LONG_CODES = {"G-A22A", "G-D7FE", "410668003", "G-A185", "103339001", "M-02550", "81827009"}
_SHORT_CODES = {"G-A186", "103340004"}
ProblemSink = Callable[[Level, str], None]


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _first(el: Element | None, *names: str) -> Element | None:
    """First descendant (or ``el`` itself) whose local name is one of ``names``, tried in that order."""
    if el is None:
        return None
    for name in names:
        for node in el.iter():
            if _local(node.tag) == name:
                return node
    return None


def _all(el: Element | None, *names: str) -> list[Element]:
    return [] if el is None else [n for n in el.iter() if _local(n.tag) in names]


def _get(el: Element | None, *names: str) -> str | None:
    """An attribute (v1/v3 style) or a direct child's value/root/code attribute (v4 style); any case."""
    if el is None:
        return None
    wanted = [n.lower() for n in names]
    attrs = {_local(k).lower(): v for k, v in el.attrib.items()}
    children = {_local(c.tag).lower(): c for c in el}
    for name in wanted:
        if attrs.get(name, "").strip():
            return attrs[name].strip()
        child = children.get(name)
        if child is not None:
            for key in ("value", "root", "code"):
                if child.get(key, "").strip():
                    return child.get(key, "").strip()
    return None


def _float(value: str | None) -> float | None:
    try:
        v = float(value) if value is not None else None
    except ValueError:
        return None
    return v if v is not None and math.isfinite(v) else None


def _iso_date(value: str | None) -> str | None:
    m = re.match(r"^(\d{4})-?(\d{2})-?(\d{2})", (value or "").strip())
    try:  # a calendar date only (not 2024-02-30)
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat() if m else None
    except ValueError:
        return None


def _looks_like_aim(head: bytes) -> bool:
    return b"radiology.AIM" in head or b"<ImageAnnotation" in head


class AimReader:
    """Reads AIM v1/v3/v4 XML annotations into lesion-table rows (one row per ImageAnnotation)."""

    name = "aim"

    def __init__(self, image_spacing: Mapping[str, Spacing] | None = None) -> None:
        self.image_spacing: Mapping[str, Spacing] = image_spacing or {}

    def can_read(self, obj: Any) -> bool:
        if not isinstance(obj, str | Path) or not str(obj).lower().endswith(".xml"):
            return False
        try:
            with open(obj, "rb") as fh:
                return _looks_like_aim(fh.read(8192))
        except OSError:
            return False

    def read(self, obj: Any) -> ReadResult:
        result = ReadResult()
        path = str(obj)

        def fail(message: str) -> ReadResult:
            result.problems.append(Problem(Level.ERROR, source=path, message=message))
            return result

        if not isinstance(obj, str | Path):
            return fail(f"AIM reader needs a file path, got {type(obj).__name__}")
        try:
            size = Path(obj).stat().st_size
            if size > MAX_BYTES:
                return fail(f"file is {size} bytes; AIM files over {MAX_BYTES} bytes are not read")
            data = Path(obj).read_bytes()
        except OSError as exc:
            return fail(f"cannot read file: {exc}")
        try:
            root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        except DefusedXmlException as exc:
            return fail(f"XML refused: entity declarations and external references are not allowed ({exc!r})")
        except ParseError as exc:
            return fail(f"not well-formed XML: {exc}")
        kind = _local(root.tag)
        if kind == "ImageAnnotation":
            annotations = [root]
        elif kind == "ImageAnnotationCollection":
            annotations = _all(root, "ImageAnnotation")
        else:
            return fail(f"root element <{kind}> is not an AIM ImageAnnotation or ImageAnnotationCollection")
        if not annotations:
            result.problems.append(
                Problem(Level.INFO, source=path, message="AIM collection holds no ImageAnnotation")
            )
        for n, ann in enumerate(annotations, start=1):
            try:
                self._read_annotation(root, ann, n, path, result)
            except Exception as exc:  # malformed content: report, never raise
                fail(f"ImageAnnotation {n}: malformed ({type(exc).__name__}: {exc})")
        return result

    # -- internals -------------------------------------------------------------------------------------

    def _read_annotation(self, root: Element, ann: Element, n: int, path: str, result: ReadResult) -> None:
        uid = _get(ann, "uniqueIdentifier", "uid") or f"ImageAnnotation[{n}]"
        source = f"{path}#{uid}"
        # the person: v3 <Person id>, v1 <Patient patientID>, v4 <person><id value>; its name is never read
        person = _first(ann, "Person", "Patient", "person") or _first(root, "Person", "Patient", "person")
        subject = _get(person, "patientID") or _get(person, "id")
        lesion = _get(ann, "name")
        ann_type = (_get(ann, "imageAnnotationType") or "").lower()
        timepoint = "baseline" if "baseline" in ann_type else None
        where = {
            "source": source,
            "subject_id": subject or "",
            "lesion_id": lesion or "",
            "timepoint": timepoint or "",
        }

        def problem(level: Level, message: str) -> None:
            result.problems.append(Problem(level, message=message, **where))

        user = _first(ann, "User", "user") or _first(root, "User", "user")
        reader = _get(user, "name", "authorName", "loginName")
        study = _first(ann, "ImageStudy", "Study", "imageStudy")
        series = _first(ann, "ImageSeries", "Series", "imageSeries")
        image = _first(ann, "Image")
        date = _iso_date(_get(study, "startDate", "date"))
        if date is None:
            problem(Level.WARNING, "no study date (ImageStudy startDate) in the annotation")
        ref_uid = _get(image, "sopInstanceUID")
        long_mm, short_mm = self._calculations(ann, problem)
        points, point_uid, is_3d = self._line(ann)
        ref_uid = point_uid or ref_uid  # the image the points are on, else the first referenced image
        geometric, how = self._geometric_length(points, is_3d, ref_uid, image, problem)
        if long_mm is None and geometric is not None:
            long_mm = geometric
            problem(
                Level.INFO, f"no stored length: long axis {geometric:.2f} mm computed from the points ({how})"
            )
        elif long_mm is not None and geometric is not None and abs(long_mm - geometric) > DISAGREEMENT_MM:
            problem(
                Level.WARNING,
                f"stored length {long_mm:.2f} mm disagrees with the geometry: {how} = {geometric:.2f} mm "
                f"(difference {geometric - long_mm:+.2f} mm > {DISAGREEMENT_MM:g} mm); "
                "the stored value is kept",
            )
        if long_mm is None and short_mm is None:
            problem(Level.WARNING, "no length in the annotation and none computable from its markup")
        role = None
        if "target" in ann_type:
            role = "non-target" if "non" in ann_type else "target"
        elif "new" in ann_type:
            role = "new"
        organ_el = _first(ann, "AnatomicEntity", "ImagingPhysicalEntity")
        organ = _get(organ_el, "codeMeaning") or _display_name(organ_el)
        row = empty_row()
        row.update(
            subject_id=subject,
            timepoint=timepoint,
            date=date,
            lesion_id=lesion,
            role=role,
            organ=organ,
            long_axis_mm=long_mm,
            short_axis_mm=short_mm,
            status="present",
            unit="mm",
            reader=reader,
            source=source,
            study_uid=_get(study, "instanceUID", "studyInstanceUID"),
            series_uid=_get(series, "instanceUID", "seriesInstanceUID"),
            referenced_sop_instance_uid=ref_uid,
            tracking_uid=_get(ann, "trackingUniqueIdentifier"),
        )
        if len(points) == 2 and not is_3d and ref_uid and long_mm is not None:
            # two-dimensional coordinates are (x, y) = (column, row) on the referenced image, as DICOM SCOORD
            axis = "length" if short_mm is None else "long"
            p0, p1 = (points[0][0], points[0][1]), (points[1][0], points[1][1])
            result.lines.append(MeasuredLine(len(result.rows), axis, ref_uid, None, p0, p1))
        result.rows.append(row)

    @staticmethod
    def _calculations(ann: Element, problem: ProblemSink) -> tuple[float | None, float | None]:
        """Stored long and short axis in mm from Calculation (v1/v3) or CalculationEntity (v4)."""
        found: dict[str, float] = {}
        for calc in _all(ann, "Calculation", "CalculationEntity"):
            codes = {calc.get("codeValue", "")} | {c.get("code", "") for c in _all(calc, "typeCode")}
            words = (
                " ".join(
                    [calc.get(k, "") for k in ("codeMeaning", "type", "description")]
                    + [_get(calc, "description") or ""]
                    + [_display_name(c) or "" for c in _all(calc, "typeCode")]
                )
                .lower()
                .replace("_", " ")
            )
            if codes & _SHORT_CODES or "short axis" in words:
                kind = "short"
            elif codes & _LONG_CODES or any(w in words for w in ("length", "long axis", "diameter")):
                kind = "long"
            else:
                continue
            for res in _all(calc, "CalculationResult"):
                unit = (_get(res, "unitOfMeasure") or "").strip()
                data = _first(res, "CalculationData", "Data") or res
                value = _float(_get(data, "value"))
                if value is None:
                    problem(Level.ERROR, f"{kind} axis calculation has no numeric value")
                    continue
                factor = _UNITS.get(unit.lower())
                if factor is None:
                    problem(
                        Level.ERROR,
                        f"{kind} axis value {value:g} has unit {unit!r}; only mm or cm are a length",
                    )
                    continue
                if value < 0:
                    problem(Level.ERROR, f"{kind} axis value {value:g} {unit} is negative")
                    continue
                if kind in found:
                    problem(
                        Level.WARNING,
                        f"more than one {kind} axis value; the first ({found[kind]:.2f} mm) is used",
                    )
                    continue
                found[kind] = value * factor
        return found.get("long"), found.get("short")

    @staticmethod
    def _line(ann: Element) -> tuple[list[tuple[float, ...]], str | None, bool]:
        """Points of the first two-point shape: 2D pixel (column, row) or 3D patient mm."""
        for shape in _all(ann, "GeometricShape", "MarkupEntity"):
            coords = _all(
                shape, "SpatialCoordinate", "TwoDimensionSpatialCoordinate", "ThreeDimensionSpatialCoordinate"
            )
            if len(coords) != 2:
                continue
            is_3d = any(_get(c, "z") is not None for c in coords)
            keyed = sorted(coords, key=lambda c: _float(_get(c, "coordinateIndex")) or 0.0)
            axes = ("x", "y", "z") if is_3d else ("x", "y")
            pts = [tuple(_float(_get(c, a)) for a in axes) for c in keyed]
            if any(v is None for p in pts for v in p):
                continue
            uid = _get(keyed[0], "imageReferenceUID") or _get(shape, "imageReferenceUid")
            return [tuple(float(v) for v in p if v is not None) for p in pts], uid, is_3d
        return [], None, False

    def _geometric_length(
        self,
        points: list[tuple[float, ...]],
        is_3d: bool,
        ref_uid: str | None,
        image: Element | None,
        problem: ProblemSink,
    ) -> tuple[float | None, str]:
        if len(points) != 2:
            return None, ""
        if is_3d:
            return math.dist(points[0], points[1]), "distance of the two 3D points"
        header = self.image_spacing.get(ref_uid or "")
        stated = _aim_spacing(image)
        if (
            header is not None
            and stated is not None
            and not all(abs(a - b) <= 1e-3 * max(a, b) for a, b in zip(header, stated, strict=True))
        ):
            problem(
                Level.WARNING,
                f"the AIM states pixel spacing {stated[0]:g}\\{stated[1]:g} "
                f"but the referenced image's header says "
                f"{header[0]:g}\\{header[1]:g}; the header is used",
            )
        spacing, origin = (header, "image header") if header is not None else (stated, "AIM Image element")
        if spacing is None:
            return None, ""
        p0, p1 = (points[0][0], points[0][1]), (points[1][0], points[1][1])
        px = math.dist(p0, p1)
        how = f"{px:.2f} px with pixel spacing {spacing[0]:g}\\{spacing[1]:g} ({origin})"
        return pixel_length_mm(p0, p1, spacing), how


def _display_name(el: Element | None) -> str | None:
    """v4 coded value: ``<typeCode code=..><iso:displayName value=../></typeCode>`` (first typeCode)."""
    if el is None:
        return None
    code = el if _local(el.tag) == "typeCode" else _first(el, "typeCode")
    dn = _first(code, "displayName")
    return (dn.get("value") or "").strip() or None if dn is not None else None


def _aim_spacing(image: Element | None) -> Spacing | None:
    """(row, column) spacing written in the AIM Image element (v1 ``pixelSpacingVertical/Horizontal``)."""
    if image is None:
        return None
    row = col = None
    for node in image.iter():
        items = list(node.attrib.items()) + [(_local(node.tag), node.get("value", ""))]
        for key, value in items:
            k = _local(key).lower()
            if "spacing" in k and "pixel" in k:
                if "vertical" in k or "row" in k:
                    row = _float(value)
                elif "horizontal" in k or "column" in k:
                    col = _float(value)
    return (row, col) if row and col else None
