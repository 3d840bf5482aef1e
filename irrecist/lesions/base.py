"""The one interface every reader implements (spec/style.md: readers in a registry, nibabel style).

A reader says whether it can read an object and reads it into lesion-table rows plus located problems.
Rows use the column names of ``irrecist.columns.LESION_COLUMNS``; a reader fills what its format carries
and leaves the rest empty (``None``). Readers never score and never raise on a bad file: they report it.

Readers that know where a size was measured also return its line (:class:`MeasuredLine`) in the pixel
coordinates of the image it was drawn on, for the report's key images. Readers that measure in patient
coordinates (RTSTRUCT) return their lines in that space (``space="patient"``); whoever holds the image's header
(the extraction) maps them to pixels with :meth:`MeasuredLine.to_pixels` and :class:`ImagePlane`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from irrecist.errors import Problem

Point = tuple[float, float]
"""A position on an image in pixels: (column, row), (0, 0) the top left corner of the top left pixel, so the
centre of pixel (column c, row r), 0-based, is (c + 0.5, r + 0.5) (DICOM SCOORD, PS3.3 C.18.6.1.1; the same
convention for GSPS PIXEL units, C.10.5.1.2, and AIM two-dimensional coordinates)."""

Point3 = tuple[float, float, float]
"""A position in the patient coordinate system in mm (x, y, z; PS3.3 C.7.6.2.1.1)."""

PIXEL, PATIENT = "pixel", "patient"
"""``MeasuredLine.space`` values: image pixels (:data:`Point`) or patient coordinates (:data:`Point3`)."""

PLANE_TOLERANCE_MM = 0.5
"""Largest distance (mm) of a patient-space line's end points from the plane of the image it names; farther, the
line is not on that image and is not drawn."""

ORTHOGONALITY_TOLERANCE = 1e-3
"""Largest |cos| between the two ImageOrientationPatient directions (and deviation of their norms from 1)
accepted as an orthonormal image plane."""

AXES = ("long", "short", "length")
"""``MeasuredLine.axis`` values: the long or the short axis of a bidimensional measurement, or a single length
(a caliper, a diameter); ``long`` and ``length`` are the row's ``long_axis_mm``, ``short`` its ``short_axis_mm``."""


@dataclass(frozen=True)
class MeasuredLine:
    """Where one axis of a lesion-table row was measured: a line on one image (or one frame of it).

    ``row`` is the position of the row in :attr:`ReadResult.rows`; ``frame`` is 1-based, None for a single-frame
    image; ``start`` and ``end`` are :data:`Point` pixel positions on the image ``sop_instance_uid`` (``space``
    ``"pixel"``), or :data:`Point3` patient positions in mm on that image's plane (``space`` ``"patient"``)."""

    row: int
    axis: str
    sop_instance_uid: str
    frame: int | None
    start: Point | Point3
    end: Point | Point3
    space: str = PIXEL

    def to_pixels(self, plane: ImagePlane) -> MeasuredLine | None:
        """This line in the pixel coordinates of ``plane`` (its image); a pixel line is returned as it is. None when
        an end point lies farther than :data:`PLANE_TOLERANCE_MM` from the plane (not drawn on that image)."""
        if self.space == PIXEL:
            return self
        if len(self.start) != 3 or len(self.end) != 3:
            return None
        ends = [plane.pixel(p) for p in (self.start, self.end)]  # type: ignore[arg-type]
        if any(off > PLANE_TOLERANCE_MM for _, off in ends):
            return None
        return replace(self, start=ends[0][0], end=ends[1][0], space=PIXEL)


@dataclass(frozen=True)
class ImagePlane:
    """Where the pixels of a single-frame image lie in the patient (PS3.3 C.7.6.2.1.1, Image Plane Module):
    ``position`` is ImagePositionPatient (the centre of the first pixel), ``row_cosines`` and ``column_cosines``
    the two halves of ImageOrientationPatient (the directions of increasing column and row index), ``spacing``
    PixelSpacing (row spacing, column spacing) in mm."""

    position: Point3
    row_cosines: Point3
    column_cosines: Point3
    spacing: tuple[float, float]

    @classmethod
    def from_header(cls, ds: Any) -> ImagePlane | None:
        """The plane of an image header (pydicom Dataset); None when ImagePositionPatient, ImageOrientationPatient
        or PixelSpacing is missing, malformed, or not an orthonormal plane with positive spacing."""
        try:
            ipp = [float(v) for v in ds.get("ImagePositionPatient") or ()]
            iop = [float(v) for v in ds.get("ImageOrientationPatient") or ()]
            ps = [float(v) for v in ds.get("PixelSpacing") or ()]
        except (TypeError, ValueError):
            return None
        if len(ipp) != 3 or len(iop) != 6 or len(ps) != 2 or not all(map(math.isfinite, ipp + iop + ps)):
            return None
        r, c = iop[:3], iop[3:]
        norms = (math.sqrt(sum(v * v for v in r)), math.sqrt(sum(v * v for v in c)))
        if min(ps) <= 0 or any(abs(n - 1) > ORTHOGONALITY_TOLERANCE for n in norms):
            return None
        if abs(sum(a * b for a, b in zip(r, c, strict=True))) > ORTHOGONALITY_TOLERANCE:
            return None
        row = (r[0] / norms[0], r[1] / norms[0], r[2] / norms[0])
        col = (c[0] / norms[1], c[1] / norms[1], c[2] / norms[1])
        return cls((ipp[0], ipp[1], ipp[2]), row, col, (ps[0], ps[1]))

    def pixel(self, p: Point3) -> tuple[Point, float]:
        """``p`` (patient mm) as a :data:`Point` (column, row) on this image, corner convention, and its distance
        (mm) from the image plane. C.7.6.2.1.1: P = S + X * di * i + Y * dj * j, with X the row cosines, di the
        column spacing (PixelSpacing[1]), i the column index; Y the column cosines, dj the row spacing; i and j
        index pixel centres, so 0.5 is added to both for the corner convention of :data:`Point`."""
        d = (p[0] - self.position[0], p[1] - self.position[1], p[2] - self.position[2])
        x, y = self.row_cosines, self.column_cosines
        along_row = d[0] * x[0] + d[1] * x[1] + d[2] * x[2]
        along_col = d[0] * y[0] + d[1] * y[1] + d[2] * y[2]
        n = (x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0])
        off = abs(d[0] * n[0] + d[1] * n[1] + d[2] * n[2])
        return (along_row / self.spacing[1] + 0.5, along_col / self.spacing[0] + 0.5), off


@dataclass
class ReadResult:
    """What a reader returns: lesion-table rows, the problems met while reading, and (optional) the lines on
    which the rows' sizes were measured (readers without geometry leave ``lines`` empty)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: list[MeasuredLine] = field(default_factory=list)

    def extend(self, other: ReadResult) -> None:
        offset = len(self.rows)
        self.rows.extend(other.rows)
        self.problems.extend(other.problems)
        self.lines.extend(replace(line, row=line.row + offset) for line in other.lines)


class Reader(Protocol):
    """A lesion reader for one kind of object (a DICOM SOP class, an XML dialect, a table)."""

    name: str

    def can_read(self, obj: Any) -> bool:
        """True when this reader understands ``obj`` (a path or an already-parsed header)."""
        ...

    def read(self, obj: Any) -> ReadResult:
        """Read ``obj`` into lesion-table rows; report problems instead of raising."""
        ...
