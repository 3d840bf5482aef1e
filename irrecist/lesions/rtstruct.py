"""RT Structure Set (RTSTRUCT) reader: one lesion per ROI, diameters from the contour points.

Standard: PS3.3 A.19 (RT Structure Set IOD), C.8.8.5 (Structure Set Module: ``StructureSetROISequence``
with ``ROINumber``/``ROIName``), C.8.8.6 (ROI Contour Module: ``ROIContourSequence`` >
``ContourSequence`` with ``ContourGeometricType`` and ``ContourData`` as x\\y\\z triples in patient mm).

Only ``CLOSED_PLANAR`` contours describe a region. Contours are grouped by plane (their normal and
offset; for axial contours simply their z) and projected on an orthonormal in-plane basis (x, y
themselves for axial planes). On each plane, the rings are read with the even-odd rule (an inner ring
is a hole, C.8.8.6.3), and :func:`irrecist.lesions.geometry.contour_diameters` gives the long axis
(largest distance between contour points) and the short axis (longest chord inside the rings
perpendicular to it). The long axis is maximised over planes; the short axis is taken on that plane.
No pixel spacing is needed. Files without file meta or preamble are read with ``force=True``.

Each row's axes are also returned as lines (:class:`irrecist.lesions.base.MeasuredLine`, ``space="patient"``):
their end points mapped back to patient mm, on the image the measured plane's first contour names
(``ContourImageSequence[0].ReferencedSOPInstanceUID``, C.8.8.6; ``ReferencedFrameNumber`` as the frame). The
extraction maps them to that image's pixels when the image is among the inputs; a plane whose contours name no
image gives no line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from irrecist.dicomio import dcmread
from irrecist.errors import Level, Problem
from irrecist.lesions import geometry
from irrecist.lesions.base import PATIENT, MeasuredLine, Point3, ReadResult
from irrecist.lesions.seg import as_path, guarded_read, header_fields, lesion_row, sop_class_of, source_of

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
_AXIAL = (0.0, 0.0, 1.0)
CONTOUR_DATA = 0x30060050
_Plane = tuple[tuple[float, float, float], float, list[NDArray[np.float64]], list[Dataset]]
"""One contour plane of an ROI: unit normal, offset (mm), its rings (in-plane mm) and their contour items."""


def _plane_of(points: NDArray[np.float64]) -> tuple[tuple[float, float, float], float] | None:
    """Unit normal (sign made canonical, snapped to axial) and offset of a planar contour."""
    if np.ptp(points[:, 2]) <= 1e-3:
        return _AXIAL, float(points[:, 2].mean())
    if len(points) < 3:
        return None
    nxt = np.roll(points, -1, axis=0)  # Newell's method
    normal = np.array(
        [
            np.sum((points[:, 1] - nxt[:, 1]) * (points[:, 2] + nxt[:, 2])),
            np.sum((points[:, 2] - nxt[:, 2]) * (points[:, 0] + nxt[:, 0])),
            np.sum((points[:, 0] - nxt[:, 0]) * (points[:, 1] + nxt[:, 1])),
        ]
    )
    norm = float(np.linalg.norm(normal))
    if norm < 1e-9:
        return None
    normal /= norm
    if normal[int(np.argmax(np.abs(normal)))] < 0:
        normal = -normal
    n = (float(normal[0]), float(normal[1]), float(normal[2]))
    return n, float(points.mean(axis=0) @ normal)


def _basis(normal: tuple[float, float, float]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """An orthonormal basis (e1, e2) of the plane with this unit normal; x and y for axial planes."""
    if normal == _AXIAL:
        return np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    n = np.asarray(normal)
    ref = np.eye(3)[int(np.argmin(np.abs(n)))]
    e1 = ref - (ref @ n) * n
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(n, e1)


def _in_plane(points: NDArray[np.float64], normal: tuple[float, float, float]) -> NDArray[np.float64]:
    """2-D coordinates (mm) on the basis :func:`_basis` of the plane; axial planes keep x and y."""
    if normal == _AXIAL:
        return points[:, :2].copy()
    e1, e2 = _basis(normal)
    return np.stack([points @ e1, points @ e2], axis=1)


def _in_patient(p: geometry.Point, normal: tuple[float, float, float], offset: float) -> Point3:
    """A 2-D in-plane point (:func:`_in_plane`) back in patient mm: ``a e1 + b e2 + offset n``."""
    e1, e2 = _basis(normal)
    q = p[0] * e1 + p[1] * e2 + offset * np.asarray(normal)
    return float(q[0]), float(q[1]), float(q[2])


def _contour_image(items: list[Dataset]) -> tuple[str, int | None] | None:
    """SOP Instance UID and frame (1-based, None when not given) of the image the first of these contours that
    names one lies on (ContourImageSequence, C.8.8.6); None when none names an image."""
    for item in items:
        for ref in item.get("ContourImageSequence", None) or ():
            uid = str(ref.get("ReferencedSOPInstanceUID", "") or "").strip("\0 ")
            if uid:
                return uid, _first_int(ref.get("ReferencedFrameNumber", None))
    return None


def _first_int(value: Any) -> int | None:
    """The first of an IS value (VM 1-n) as an int; None when absent or not a number."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _contour_data(item: Dataset) -> NDArray[np.float64]:
    """``ContourData`` as floats; parses the raw DS bytes directly (pydicom's DS conversion is slow)."""
    elem = item.get_item(CONTOUR_DATA) if CONTOUR_DATA in item else None
    raw = getattr(elem, "value", None)
    if isinstance(raw, bytes):
        try:
            return np.array(raw.decode("ascii").replace("\\", " ").split(), dtype=np.float64)
        except (UnicodeDecodeError, ValueError):
            pass  # let pydicom report it
    return np.asarray([float(v) for v in item.get("ContourData", []) or []], dtype=np.float64)


def _reach(points: NDArray[np.float64]) -> float:
    """An upper bound of the long axis of ``points`` (the largest distance between two of them): twice the largest
    distance from their centroid (|p - q| <= |p - c| + |c - q| for any c), a hair above it for rounding."""
    centre = points.mean(axis=0)
    return 2.0 * float(np.sqrt(((points - centre) ** 2).sum(axis=1)).max()) * (1 + 1e-9) + 1e-12


def _longest_plane(planes: list[tuple[Any, NDArray[np.float64]]]) -> tuple[Any, geometry.Axis]:
    """The key of the first of ``planes`` (key, in-plane points) whose long axis is the longest, and that axis:
    what measuring every plane in order gives. Planes are measured by decreasing :func:`_reach`, and the rest are
    skipped once none can reach the longest axis found (a lesion's contours on its other slices rarely can)."""
    reach = [_reach(points) for _, points in planes]
    best: tuple[float, int, geometry.Axis] | None = None
    for i in sorted(range(len(planes)), key=lambda k: -reach[k]):
        if best is not None and reach[i] < best[0]:
            break
        axis = geometry.long_axis(planes[i][1])
        if best is None or axis.length_mm > best[0] or (axis.length_mm == best[0] and i < best[1]):
            best = (axis.length_mm, i, axis)
    assert best is not None
    return planes[best[1]][0], best[2]


class RtStructReader:
    """DICOM RTSTRUCT → lesion rows (one per ROI with closed planar contours)."""

    name = "dicom-rtstruct"

    def can_read(self, obj: Any) -> bool:
        return sop_class_of(obj) == RTSTRUCT_SOP_CLASS

    def read(self, obj: Any) -> ReadResult:
        return guarded_read("RTSTRUCT", obj, self._read)

    def _read(self, obj: Any, result: ReadResult) -> None:
        path = as_path(obj)
        ds: Dataset = dcmread(Path(path), force=True) if path is not None else obj
        source = source_of(obj, ds)
        if str(ds.get("SOPClassUID", "")) != RTSTRUCT_SOP_CLASS:
            result.problems.append(
                Problem(Level.ERROR, source, message=f"not an RT Structure Set (SOPClassUID {ds.get('SOPClassUID')!r})")
            )
            return
        common = header_fields(ds, source, result.problems)
        subject = common["subject_id"]
        names: dict[int, str] = {}
        for item in ds.get("StructureSetROISequence", []):
            names[int(item.ROINumber)] = str(item.get("ROIName", "") or "").strip()
        contours: dict[int, list[Dataset]] = {}
        for item in ds.get("ROIContourSequence", []):
            contours.setdefault(int(item.ReferencedROINumber), []).extend(item.get("ContourSequence", []))
        if not names:
            result.problems.append(
                Problem(Level.ERROR, source, subject, message="no StructureSetROISequence: no ROI to read")
            )
            return
        for number in sorted(set(contours) - set(names)):
            result.problems.append(
                Problem(
                    Level.WARNING,
                    source,
                    subject,
                    message=f"ROIContourSequence refers to ROI {number}, absent from StructureSetROISequence",
                )
            )
        for number, name in sorted(names.items()):
            lesion_id = name or f"ROI {number}"
            measured = self._measure(number, lesion_id, contours.get(number, []), source, subject, result)
            if measured is None:
                continue
            (long_mm, short_mm), lines = measured
            result.lines.extend(replace(line, row=len(result.rows)) for line in lines)
            result.rows.append(
                lesion_row(
                    common,
                    lesion_id=lesion_id,
                    long_axis_mm=long_mm,
                    short_axis_mm=short_mm,
                    source=source,
                    label=name or None,
                )
            )

    def _measure(
        self, number: int, lesion_id: str, items: list[Dataset], source: str, subject: str, result: ReadResult
    ) -> tuple[tuple[float, float], list[MeasuredLine]] | None:
        """Long and short axis of one ROI and their lines in patient mm (row 0, none when the measured plane
        names no image), or ``None`` (with a warning) when it has no region."""

        def warn(message: str) -> None:
            result.problems.append(Problem(Level.WARNING, source, subject, lesion_id, message=message))

        where = f"ROI {number} ({lesion_id})"
        if not items:
            warn(f"{where} has no contours (empty ROI); no row")
            return None
        planes: dict[tuple[Any, ...], _Plane] = {}
        skipped: dict[str, int] = {}
        for k, item in enumerate(items, start=1):
            kind = str(item.get("ContourGeometricType", "") or "").upper()
            if kind != "CLOSED_PLANAR":
                skipped[kind or "no type"] = skipped.get(kind or "no type", 0) + 1
                continue
            data = _contour_data(item)
            if data.size == 0 or data.size % 3 or not np.isfinite(data).all():
                warn(f"{where} contour {k}: ContourData has {data.size} values, not x\\y\\z triples; skipped")
                continue
            pts = data.reshape(-1, 3)
            plane = _plane_of(pts)
            if plane is None:
                warn(f"{where} contour {k}: points do not define a plane; skipped")
                continue
            normal, offset = plane
            key = (tuple(round(v, 4) for v in normal), round(offset, 2))
            entry = planes.setdefault(key, (normal, offset, [], []))
            entry[2].append(_in_plane(pts, entry[0]))
            entry[3].append(item)
        if skipped:
            kinds = ", ".join(f"{n} {t}" for t, n in sorted(skipped.items()))
            if not planes:
                warn(f"{where} has no CLOSED_PLANAR contour ({kinds}); no diameter, no row")
                return None
            warn(f"{where}: {kinds} contour(s) ignored (not a closed region)")
        if not planes:
            warn(f"{where} has no usable contour; no row")
            return None
        ordered = sorted(planes.items(), key=lambda kv: (kv[0][0], kv[1][1]))
        key, la = _longest_plane([(k, np.concatenate(rings)) for k, (_, _, rings, _) in ordered])
        normal, offset, rings, measured = planes[key]
        direction = (la.end[0] - la.start[0], la.end[1] - la.start[1])
        sa = geometry.longest_chord(geometry.ring_edges(rings), direction)
        lines: list[MeasuredLine] = []
        image = _contour_image(measured)
        if image is not None:
            for name, axis in (("long", la), ("short", sa)):
                if axis.length_mm > 0:
                    start, end = (_in_patient(p, normal, offset) for p in (axis.start, axis.end))
                    lines.append(MeasuredLine(0, name, image[0], image[1], start, end, PATIENT))
        return (la.length_mm, sa.length_mm), lines
