"""The one interface every reader implements (spec/style.md: readers in a registry, nibabel style).

A reader says whether it can read an object and reads it into lesion-table rows plus located problems.
Rows use the column names of ``irrecist.columns.LESION_COLUMNS``; a reader fills what its format carries
and leaves the rest empty (``None``). Readers never score and never raise on a bad file: they report it.

Readers that know where a size was measured also return its line (:class:`MeasuredLine`) in the pixel
coordinates of the image it was drawn on, for the report's key images.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from irrecist.errors import Problem

Point = tuple[float, float]
"""A position on an image in pixels: (column, row), (0, 0) the top left corner of the top left pixel, so the
centre of pixel (column c, row r), 0-based, is (c + 0.5, r + 0.5) (DICOM SCOORD, PS3.3 C.18.6.1.1; the same
convention for GSPS PIXEL units, C.10.5.1.2, and AIM two-dimensional coordinates)."""

AXES = ("long", "short", "length")
"""``MeasuredLine.axis`` values: the long or the short axis of a bidimensional measurement, or a single length
(a caliper, a diameter); ``long`` and ``length`` are the row's ``long_axis_mm``, ``short`` its ``short_axis_mm``."""


@dataclass(frozen=True)
class MeasuredLine:
    """Where one axis of a lesion-table row was measured: a line on one image (or one frame of it).

    ``row`` is the position of the row in :attr:`ReadResult.rows`; ``frame`` is 1-based, None for a single-frame
    image; ``start`` and ``end`` are :data:`Point` pixel positions on the image ``sop_instance_uid``."""

    row: int
    axis: str
    sop_instance_uid: str
    frame: int | None
    start: Point
    end: Point


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
