"""Exact in-plane lesion diameters (RECIST 1.1 long and short axis) from masks and contours.

Coordinates are 2-D, in millimetres, in the image plane: ``x`` along a row (column index times the
column spacing) and ``y`` down the columns (row index times the row spacing). DICOM ``PixelSpacing`` is
``[row spacing, column spacing]`` (PS3.3 C.7.6.2.1.1), so a mask slice with spacing ``(sr, sc)`` has its
pixel ``(r, c)`` centred at ``(x, y) = (c * sc, r * sr)``.

Long axis
    The largest distance between two points of the region: convex hull (Andrew's monotone chain,
    O(n log n)) then rotating calipers over the hull's antipodal pairs (O(h)). For a mask the points
    are the pixel **centres** (default) or the pixel **corners** (``corners=True``: the outline of
    the pixel squares, about one pixel longer). Mask hulls are computed on integer (doubled) pixel
    indices, so the hull and every caliper decision are exact; only the final lengths are floats.

Short axis
    The longest chord of the region perpendicular to the long axis: among all lines perpendicular to
    the long axis, the longest single segment lying inside the region (a segment, not the spread of
    disjoint pieces). The region is read with the even-odd rule from its boundary edges:

    * contour (polygon rings on one plane, e.g. RTSTRUCT ``CLOSED_PLANAR``): the rings as given,
      an inner ring being a hole;
    * mask, corners: the union of the closed pixel squares;
    * mask, centres: the same union shrunk by half a pixel on every side, i.e. the union of the
      squares whose four corners are centres of region pixels (a one-pixel-wide line has no width).

    The chord length is piecewise linear in the line's position between consecutive vertex positions
    along the long axis, so its maximum is found exactly at those positions. A rectangle of width
    ``a >= b`` gives ``b * hypot(a, b) / a`` (not the hull width ``2ab / hypot(a, b)``); an ellipse
    gives its minor axis. Ties for the long axis keep the first caliper pair found.

Per volume the long axis is maximised over slices (first slice on ties) and the short axis is taken
on that slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

Point = tuple[float, float]


@dataclass(frozen=True)
class Axis:
    """One measured axis: its length in mm and its two end points ``(x, y)`` in mm."""

    length_mm: float
    start: Point
    end: Point


@dataclass(frozen=True)
class Diameters:
    """Long and short axis of a region; ``slice_index`` is set by the per-volume functions."""

    long_axis: Axis
    short_axis: Axis
    slice_index: int | None = None

    @property
    def long_axis_mm(self) -> float:
        return self.long_axis.length_mm

    @property
    def short_axis_mm(self) -> float:
        return self.short_axis.length_mm


def _cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain; counter-clockwise, without collinear points (exact for int input)."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _pairs(points: ArrayLike) -> list[tuple[float, float]]:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return [(float(x), float(y)) for x, y in arr.tolist()]


def convex_hull(points: ArrayLike) -> NDArray[np.float64]:
    """Convex hull vertices of 2-D points, counter-clockwise, shape ``(h, 2)``."""
    return np.array(_hull(_pairs(points)), dtype=np.float64).reshape(-1, 2)


def _calipers(hull: Sequence[tuple[float, float]], sx: float = 1.0, sy: float = 1.0) -> tuple[int, int]:
    """Indices of the farthest pair of hull vertices (rotating calipers over antipodal pairs).

    Caliper decisions use the hull's own coordinates (exact for integers); distances use the hull
    scaled by ``(sx, sy)``: a positive diagonal scaling keeps convexity and orientation.
    """
    n = len(hull)
    if n < 2:
        return 0, 0

    def d2(a: int, b: int) -> float:
        dx = (hull[a][0] - hull[b][0]) * sx
        dy = (hull[a][1] - hull[b][1]) * sy
        return dx * dx + dy * dy

    best, bi, bj = -1.0, 0, 0
    i, j = 0, 1
    while i < j:
        while True:
            d = d2(i, j)
            if d > best:
                best, bi, bj = d, i, j
            nj = (j + 1) % n
            ex, ey = hull[nj][0] - hull[j][0], hull[nj][1] - hull[j][1]
            fx, fy = hull[i + 1][0] - hull[i][0], hull[i + 1][1] - hull[i][1]
            if ex * fy - ey * fx >= 0:
                break
            j = nj
        i += 1
    return bi, bj


def _axis(p: Sequence[float], q: Sequence[float]) -> Axis:
    a = (float(p[0]), float(p[1]))
    b = (float(q[0]), float(q[1]))
    return Axis(float(np.hypot(b[0] - a[0], b[1] - a[1])), a, b)


def long_axis(points: ArrayLike) -> Axis:
    """Largest distance between any two of the 2-D points (mm), by hull + rotating calipers."""
    hull = _hull(_pairs(points))
    if not hull:
        raise ValueError("no points")
    i, j = _calipers(hull)
    return _axis(hull[i], hull[j])


def longest_chord(edges: ArrayLike, direction: Sequence[float]) -> Axis:
    """Longest segment inside the even-odd region of ``edges`` perpendicular to ``direction``.

    ``edges`` has shape ``(E, 2, 2)`` (start and end point of each boundary edge, mm). The region
    need not be convex; holes and separate pieces are allowed. Returns a zero axis when nothing is
    crossed.
    """
    e = np.asarray(edges, dtype=np.float64).reshape(-1, 2, 2)
    ux, uy = float(direction[0]), float(direction[1])
    norm = float(np.hypot(ux, uy))
    if e.shape[0] == 0 or norm == 0.0:
        return Axis(0.0, (0.0, 0.0), (0.0, 0.0))
    ux, uy = ux / norm, uy / norm
    vx, vy = -uy, ux
    s = e[..., 0] * ux + e[..., 1] * uy  # position along the long axis
    w = e[..., 0] * vx + e[..., 1] * vy  # position along the chord
    keep = np.abs(s[:, 1] - s[:, 0]) > 1e-12 * max(1.0, float(np.abs(s).max()))
    s, w = s[keep], w[keep]
    if s.shape[0] == 0:
        return Axis(0.0, (0.0, 0.0), (0.0, 0.0))
    lo, hi = s.min(axis=1), s.max(axis=1)
    slope = (w[:, 1] - w[:, 0]) / (s[:, 1] - s[:, 0])
    events = np.unique(s)
    order = np.argsort(lo, kind="stable")
    lo, hi, slope, s0, w0 = lo[order], hi[order], slope[order], s[order, 0], w[order, 0]
    best = (0.0, 0.0, 0.0, 0.0)  # length, t, w_start, w_end
    for a, b in zip(events[:-1], events[1:], strict=True):
        if b - a <= 1e-12:
            continue
        mid = 0.5 * (a + b)
        stop = int(np.searchsorted(lo, mid))
        act = np.nonzero(hi[:stop] > mid)[0]
        if act.size < 2:
            continue
        wm = w0[act] + slope[act] * (mid - s0[act])
        srt = np.argsort(wm, kind="stable")
        act, wm = act[srt], wm[srt]
        m = act.size - act.size % 2
        starts, ends = list(range(0, m, 2)), list(range(1, m, 2))
        # merge pieces that touch (shared boundary of two rings): one chord, not two
        k = 0
        while k < len(starts) - 1:
            if wm[starts[k + 1]] - wm[ends[k]] <= 1e-9:
                ends[k] = ends.pop(k + 1)
                starts.pop(k + 1)
            else:
                k += 1
        for t in (a, b):
            wt = w0[act] + slope[act] * (t - s0[act])
            for st, en in zip(starts, ends, strict=True):
                length = float(wt[en] - wt[st])
                if length > best[0]:
                    best = (length, float(t), float(wt[st]), float(wt[en]))
    length, t, ws, we = best
    p = (t * ux + ws * vx, t * uy + ws * vy)
    q = (t * ux + we * vx, t * uy + we * vy)
    return Axis(length, p, q)


def ring_edges(rings: Sequence[ArrayLike]) -> NDArray[np.float64]:
    """Edges `(E, 2, 2)` of closed rings (each ring closes from its last point to its first)."""
    out = []
    for ring in rings:
        r = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
        if len(r) >= 2:
            out.append(np.stack([r, np.roll(r, -1, axis=0)], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))


def contour_diameters(rings: Sequence[ArrayLike]) -> Diameters:
    """Diameters of closed polygon rings on one plane (2-D points in mm), even-odd rule."""
    pts = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in rings]
    if not pts or sum(len(p) for p in pts) == 0:
        raise ValueError("no contour points")
    la = long_axis(np.concatenate(pts))
    direction = (la.end[0] - la.start[0], la.end[1] - la.start[1])
    return Diameters(la, longest_chord(ring_edges(pts), direction))


def _row_extremes(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    rows = np.nonzero(mask.any(axis=1))[0]
    sub = mask[rows]
    first = sub.argmax(axis=1)
    last = sub.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
    return rows.astype(np.int64), first.astype(np.int64), last.astype(np.int64)


def _mask_hull(mask: NDArray[np.bool_], corners: bool) -> list[tuple[float, float]]:
    """Hull of the region's centres (or corners) in doubled integer indices ``(2c, 2r)``."""
    rows, first, last = _row_extremes(mask)
    if corners:
        xs = np.concatenate([2 * first - 1, 2 * first - 1, 2 * last + 1, 2 * last + 1])
        ys = np.concatenate([2 * rows - 1, 2 * rows + 1, 2 * rows - 1, 2 * rows + 1])
    else:
        xs = np.concatenate([2 * first, 2 * last])
        ys = np.concatenate([2 * rows, 2 * rows])
    return _hull(zip(xs.tolist(), ys.tolist(), strict=True))


def _spacing(spacing: Sequence[float]) -> tuple[float, float]:
    sr, sc = float(spacing[0]), float(spacing[1])
    if not (sr > 0 and sc > 0):
        raise ValueError(f"pixel spacing must be > 0, got {spacing!r}")
    return sr, sc


def mask_long_axis(mask: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False) -> Axis:
    """Long axis of a 2-D mask; ``spacing`` is ``(row, column)`` mm (DICOM PixelSpacing order)."""
    m = np.asarray(mask, dtype=bool)
    sr, sc = _spacing(spacing)
    if not m.any():
        raise ValueError("empty mask")
    hull = _mask_hull(m, corners)
    i, j = _calipers(hull, sc, sr)
    return _axis((hull[i][0] * sc / 2, hull[i][1] * sr / 2), (hull[j][0] * sc / 2, hull[j][1] * sr / 2))


def mask_edges(mask: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False) -> NDArray[np.float64]:
    """Boundary edges ``(E, 2, 2)`` in mm of the mask's region (see the module docstring)."""
    m = np.asarray(mask, dtype=bool)
    sr, sc = _spacing(spacing)
    off = -0.5
    if not corners:  # squares spanned by four region centres
        m = m[:-1, :-1] & m[1:, :-1] & m[:-1, 1:] & m[1:, 1:]
        off = 0.0
    p = np.pad(m, 1)
    vr, vc = np.nonzero(p[1:-1, :-1] != p[1:-1, 1:])  # vertical edge left of column vc (x = vc + off)
    hr, hc = np.nonzero(p[:-1, 1:-1] != p[1:, 1:-1])  # horizontal edge above row hr (y = hr + off)
    vx = (vc + off) * sc
    hy = (hr + off) * sr
    vert = np.stack([np.stack([vx, (vr + off) * sr], -1), np.stack([vx, (vr + off + 1) * sr], -1)], 1)
    horiz = np.stack([np.stack([(hc + off) * sc, hy], -1), np.stack([(hc + off + 1) * sc, hy], -1)], 1)
    return np.concatenate([vert.reshape(-1, 2, 2), horiz.reshape(-1, 2, 2)])


def mask_short_axis(
    mask: ArrayLike, direction: Sequence[float], spacing: Sequence[float] = (1.0, 1.0), corners: bool = False
) -> Axis:
    """Longest chord of a 2-D mask's region perpendicular to ``direction`` (x, y in mm)."""
    return longest_chord(mask_edges(mask, spacing, corners), direction)


def mask_diameters(mask: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False) -> Diameters:
    """Long and short axis of a non-empty 2-D mask (all its pixels form one region)."""
    la = mask_long_axis(mask, spacing, corners)
    direction = (la.end[0] - la.start[0], la.end[1] - la.start[1])
    return Diameters(la, mask_short_axis(mask, direction, spacing, corners))


def volume_diameters(
    volume: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False
) -> Diameters | None:
    """Per-volume diameters of a ``(slices, rows, columns)`` mask; ``None`` when empty.

    The long axis is the largest over slices (first on ties); the short axis is measured on that slice.
    """
    v = np.asarray(volume, dtype=bool)
    if v.ndim == 2:
        v = v[None]
    best: tuple[float, int, Axis] | None = None
    for k in range(v.shape[0]):
        if not v[k].any():
            continue
        la = mask_long_axis(v[k], spacing, corners)
        if best is None or la.length_mm > best[0]:
            best = (la.length_mm, k, la)
    if best is None:
        return None
    _, k, la = best
    direction = (la.end[0] - la.start[0], la.end[1] - la.start[1])
    return Diameters(la, mask_short_axis(v[k], direction, spacing, corners), slice_index=k)


def label_diameters(
    labels: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False
) -> dict[int, Diameters]:
    """Diameters of every non-zero label of a 2-D label image (each label cropped to its bounding box)."""
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError("labels must be integers")
    sr, sc = _spacing(spacing)
    out: dict[int, Diameters] = {}
    for idx, box in enumerate(ndimage.find_objects(lab), start=1):
        if box is None:
            continue
        d = mask_diameters(lab[box] == idx, (sr, sc), corners)
        dx, dy = box[1].start * sc, box[0].start * sr

        def shift(a: Axis, dx: float = dx, dy: float = dy) -> Axis:
            return Axis(a.length_mm, (a.start[0] + dx, a.start[1] + dy), (a.end[0] + dx, a.end[1] + dy))

        out[idx] = Diameters(shift(d.long_axis), shift(d.short_axis))
    return out
