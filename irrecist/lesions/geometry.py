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
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
    chains = []
    for seq in (pts, pts[::-1]):
        chain: list[tuple[float, float]] = []
        for p in seq:  # _cross(chain[-2], chain[-1], p) <= 0, inlined (the hot loop of every mask)
            px, py = p
            while len(chain) >= 2:
                (ox, oy), (ax, ay) = chain[-2], chain[-1]
                if (ax - ox) * (py - oy) - (ay - oy) * (px - ox) > 0:
                    break
                chain.pop()
            chain.append(p)
        chains.append(chain[:-1])
    return chains[0] + chains[1]


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

    A sweep along ``direction``: between two consecutive edge end points (a *slab*) the same edges cross
    every perpendicular line in the same order, so the inside of the region along such a line is the
    pieces between the 1st and 2nd, 3rd and 4th... crossing (pieces that touch are one chord), and a
    piece's length is linear in the position, longest at one of the slab's two ends. All slabs are
    evaluated at once, in blocks of at most ``_SWEEP_BLOCK`` (slab, edge) pairs; the longest chord is the
    first one found in the order slab, then its lower and upper end, then the pieces across.
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
    a, b = events[:-1], events[1:]
    wide = b - a > 1e-12
    a, b = a[wide], b[wide]
    mid = 0.5 * (a + b)
    best = (0.0, 0.0, 0.0, 0.0)  # length, t, w_start, w_end
    step = max(1, _SWEEP_BLOCK // max(1, len(lo)))
    for k in range(0, len(mid), step):
        found = _slab_chords(lo, hi, slope, s0, w0, a[k : k + step], b[k : k + step], mid[k : k + step])
        if found is not None and found[0] > best[0]:
            best = found
    length, t, ws, we = best
    p = (t * ux + ws * vx, t * uy + ws * vy)
    q = (t * ux + we * vx, t * uy + we * vy)
    return Axis(length, p, q)


_SWEEP_BLOCK = 1 << 20
"""At most this many (slab, edge) pairs are held at once by ``longest_chord``'s sweep."""
_TOUCH_MM = 1e-9
"""Pieces of a chord closer than this (mm) touch (a boundary shared by two rings): they are one chord."""


def _slab_chords(
    lo: NDArray[np.float64], hi: NDArray[np.float64], slope: NDArray[np.float64], s0: NDArray[np.float64],
    w0: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64], mid: NDArray[np.float64],
) -> tuple[float, float, float, float] | None:  # fmt: skip
    """The longest chord of ``longest_chord``'s sweep over the slabs ``[a, b]`` (edges sorted by ``lo``):
    (length, position, start, end) of the first longest in sweep order, or None when no chord is longer
    than 0."""
    # the edges crossing each slab's middle, in edge order within each slab
    crossing = (lo[None, :] < mid[:, None]) & (hi[None, :] > mid[:, None])
    slab, edge = np.nonzero(crossing)
    count = np.bincount(slab, minlength=len(mid))
    wm = w0[edge] + slope[edge] * (mid[slab] - s0[edge])
    by = np.lexsort((edge, wm, slab))  # equal crossings in edge order
    slab, edge, wm = slab[by], edge[by], wm[by]
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    rank = np.arange(len(slab)) - first[slab]
    usable = count - count % 2  # an odd last crossing closes nothing
    piece = (rank < usable[slab]) & (count[slab] >= 2)
    starts = np.flatnonzero(piece & (rank % 2 == 0))
    ends = starts + 1
    if not len(starts):
        return None
    # pieces that touch the one before them in the same slab join it: a chord runs from the start of its
    # first piece to the end of its last
    joins = np.zeros(len(starts), dtype=bool)
    joins[1:] = (slab[starts[1:]] == slab[starts[:-1]]) & (wm[starts[1:]] - wm[ends[:-1]] <= _TOUCH_MM)
    chord_start = starts[~joins]
    last = np.flatnonzero(np.append(~joins[1:], True))
    chord_end = ends[last]
    chord_slab = slab[chord_start]
    # every chord at each slab's lower end, then at its upper end
    e_start, e_end = edge[chord_start], edge[chord_end]
    t = np.concatenate([a[chord_slab], b[chord_slab]])
    e_start, e_end = np.tile(e_start, 2), np.tile(e_end, 2)
    ws = w0[e_start] + slope[e_start] * (t - s0[e_start])
    we = w0[e_end] + slope[e_end] * (t - s0[e_end])
    n = len(chord_slab)
    at_end, chord = np.repeat([0, 1], n), np.tile(np.arange(n), 2)
    order = np.lexsort((chord, at_end, np.tile(chord_slab, 2)))  # the sweep's order: slab, end, chord
    length = (we - ws)[order]
    i = int(np.argmax(length))  # the first longest
    if not length[i] > 0.0:
        return None
    k = int(order[i])
    return float(length[i]), float(t[k]), float(ws[k]), float(we[k])


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
    return _extremes_hull(*_row_extremes(mask), corners)


def _extremes_hull(
    rows: NDArray[np.int64], first: NDArray[np.int64], last: NDArray[np.int64], corners: bool
) -> list[tuple[float, float]]:
    """Hull, in doubled integer indices, of a region given by its rows and each row's first and last column.

    The row extremes form a left and a right chain ordered by row; points that cannot be hull vertices are
    pruned from each chain with vectorised passes before the exact monotone chain (:func:`_hull`) runs on the
    rest, so the hull is the same, only found faster."""
    if corners:
        ys = np.stack([2 * rows - 1, 2 * rows + 1], axis=1).ravel()
        left, right = np.repeat(2 * first - 1, 2), np.repeat(2 * last + 1, 2)
    else:
        ys, left, right = 2 * rows, 2 * first, 2 * last
    keep_left, keep_right = _chain_candidates(left, ys, 1), _chain_candidates(right, ys, -1)
    xs = np.concatenate([left[keep_left], right[keep_right]])
    return _hull(zip(xs.tolist(), np.concatenate([ys[keep_left], ys[keep_right]]).tolist(), strict=True))


_PRUNE_PASSES = 24


def _chain_candidates(xs: NDArray[np.int64], ys: NDArray[np.int64], side: int) -> NDArray[np.intp]:
    """Indices of the points of a chain (``ys`` non-decreasing, one point per row end; ``side`` 1 for the
    left ends, -1 for the right ends) that may be hull vertices. A point not strictly outside the segment
    joining its chain neighbours lies in the hull of them and of the other end of its row (same ``y``, on
    its inner side), so it is no hull vertex of the region; any number of such points may go at once."""
    idx = np.arange(xs.size)
    for _ in range(_PRUNE_PASSES):
        if idx.size < 3:
            break
        px, py = xs[idx], ys[idx]
        dx, dy = px[2:] - px[:-2], py[2:] - py[:-2]
        ex, ey = px[1:-1] - px[:-2], py[1:-1] - py[:-2]
        outside = side * (dx * ey - dy * ex) > 0
        if outside.all():
            break
        idx = idx[np.concatenate(([True], outside, [True]))]
    return idx


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


def label_long_axes(labels: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False) -> dict[int, Axis]:
    """Long axis of every non-zero label of a 2-D label image, in one vectorised pass over its pixels (row
    extremes of all labels at once, then hull and calipers per label); equal to ``mask_long_axis(labels ==
    k, spacing, corners)`` for every label ``k``."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError("labels must be a 2-D integer image")
    sr, sc = _spacing(spacing)
    out: dict[int, Axis] = {}
    for label, rows, first, last in _label_row_extremes(lab):
        hull = _extremes_hull(rows, first, last, corners)
        i, j = _calipers(hull, sc, sr)
        out[label] = _axis((hull[i][0] * sc / 2, hull[i][1] * sr / 2), (hull[j][0] * sc / 2, hull[j][1] * sr / 2))
    return out


def label_diameters(
    labels: ArrayLike, spacing: Sequence[float] = (1.0, 1.0), corners: bool = False
) -> dict[int, Diameters]:
    """Diameters of every non-zero label of a 2-D label image (each label cropped to its bounding box)."""
    from scipy import ndimage  # imported here: a sixth of a second that mask readers do not need

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


# ------------------------------------------------------------------ scikit-image's Feret diameter convention


def _convex_chains(pts: NDArray[np.int64], passes: int | None = None) -> NDArray[np.int64]:
    """The vertices of the lower convex envelope of every chain of ``pts``: columns ``(x, y, chain)``, each chain's
    points consecutive with ``y`` strictly increasing; the envelope is the largest function of ``y`` convex in ``y``
    and below the chain's ``x`` (negate ``x`` for the upper, concave envelope). Its vertices and both ends of every
    chain are kept, in order. Batched pruning until nothing changes (or ``passes`` passes: then more points may
    remain, never fewer): a point not strictly left of the segment joining its two neighbours (same chain) goes; an
    envelope vertex is strictly left of every segment joining a point above it to a point below it, so any number
    of such points may go at once. Exact (integers)."""
    if pts.shape[1] < 3:
        return pts
    fixed = np.concatenate(([True], pts[2, :-2] != pts[2, 2:], [True]))  # chain ends (chain ids never decrease)
    done = 0
    while passes is None or done < passes:
        d = pts[:2, 1:] - pts[:2, :-1]  # (dx, dy) from each point to the next
        keep = fixed.copy()
        keep[1:-1] |= d[0, :-1] * d[1, 1:] < d[1, :-1] * d[0, 1:]  # a strict left turn
        if np.count_nonzero(keep) == keep.size:
            break
        pts, fixed = pts[:, keep], fixed[keep]
        done += 1
    return pts


def _ferets(chains: NDArray[np.int64], n: int, sr: float, sc: float) -> list[Axis]:
    """:func:`feret_diameter` of ``n`` regions at once from their row extremes, ``chains`` as :func:`_label_rows`
    gives them (for each region its rows ascending, then the same for the next region). No loop over regions;
    exact integer geometry on pixel indices.

    1. The left boundary ``f(y)`` of the hull ``conv(C)`` of the region's pixel centres is the lower convex envelope
       of the points (row, first column), the right one ``g(y)`` the upper concave envelope of (row, last column);
       both are linear between consecutive rows (their vertices are points of ``C``).
    2. The convex hull image ``H`` (the lattice points in ``conv(C) + D``, ``D`` the diamond ``|dx| + |dy| <= 1/2``
       spanned by the pixel edge midpoints) holds every row ``r`` of the region's span. The left end of the sum at
       ``r`` is the least ``f(r + t) - 1/2 + |t|`` over ``|t| <= 1/2`` with ``r + t`` in the span, linear in ``t``
       on either side of 0, so ``min(f(r) - 1/2, f(r - 1/2), f(r + 1/2)) = f(r) - max(1, s-, -s+) / 2``, ``s-``
       and ``s+`` the slopes of ``f`` before and after ``r`` (0 where none); the row's first pixel is its ceiling
       (``max(d, |dx|)`` for the ``d`` rows of an edge, ``x - max(0, floor(s- / 2), floor(-s+ / 2))`` on a
       vertex), its last pixel likewise ``floor(g(r) + max(1, -s-, s+) / 2)``.
    3. The 0.5 iso-contour points ``M`` (a pixel of ``H`` and a 4-neighbour outside it, halfway) have the hull
       ``conv(H) + D``: ``M`` lies in it, and each of its vertices is ``v + e``, ``v`` a vertex of ``conv(H)`` and
       ``e`` a vertex of ``D`` both extreme in one direction, so ``v + 2 e`` is outside ``H`` and ``v + e`` in
       ``M``. Its diameter is the largest ``|q - p + w|`` over points ``p, q`` of ``H`` that include the vertices
       of ``conv(H)`` and ``w`` in ``D - D``, whose vertices are the 4 unit steps: for each pair the longer of
       ``(|dx| + 1, dy)`` and ``(dx, |dy| + 1)`` (millimetres); its ends ``p - w / 2``, ``q + w / 2`` are in ``M``.
    4. A farthest pair of ``conv(H)`` is a left and a right row end (its ends minimise and maximise a linear
       function: with ``x`` in its gradient the leftmost and rightmost point of a row, else the first and last
       row, whose opposite ends are as far apart): every (left, right) pair of each region is measured, the row
       ends first pruned once as in 1 (vertices stay); the first largest wins.
    """
    # left chains 0..n-1, then right chains n..2n-1 with negated columns (g = -their lower convex envelope)
    env = _convex_chains(chains)
    x, y, c = env
    # each vertex's edge to the next vertex of its chain, (dx, d) = (columns, rows); a chain's last vertex: (0, 1)
    step = np.concatenate((env[:, 1:], _NO_CHAIN), axis=1) - env
    step[:2, step[2] != 0] = _NO_EDGE
    dx, d = step[0], step[1]
    at = d.cumsum() - d  # each vertex's row among all chains' rows: d rows per vertex, its own then the edge's
    # rows inside an edge: ceil(f - max(d, |dx|) / (2 d)) = (2 x d + 2 dx t - max(d, |dx|) + 2 d - 1) // (2 d),
    # t = row - y = k - at for the k-th row overall
    twice_d, twice_dx = 2 * d, 2 * dx
    per_row = np.repeat(
        np.array([twice_dx, twice_d, x * twice_d + twice_d - np.maximum(d, np.abs(dx)) - twice_dx * at - 1, y - at, c]),
        d, axis=1,
    )  # fmt: skip
    k = np.arange(per_row.shape[1])
    ext, per_row[3] = per_row[2], per_row[3] + k  # ext: first column (left chains), -(last column) (right chains)
    ext += per_row[0] * k
    ext //= per_row[1]
    # vertex rows: x - max(0, floor(slope before / 2), floor(-slope after / 2)); before a chain: a last vertex's 0
    ext[at] = x - np.maximum(np.maximum((-dx) // twice_d, 0), np.concatenate(([0], (dx // twice_d)[:-1])))
    ends = _convex_chains(per_row[2:], passes=1)  # (column, row, chain) of H's row ends

    # every (left, right) pair of each region: |last column - first column| and |row - row| (mm)
    x, y, c = ends
    if n == 1:  # all pairs in one table
        n_left = c.size - int(np.count_nonzero(c))
        ax, ay = np.abs(x[n_left:] + x[:n_left, None]) * sc, np.abs(y[n_left:] - y[:n_left, None]) * sr
    else:  # the pairs of each region in turn, all in one array
        count = np.bincount(c, minlength=2 * n)
        first_of = count.cumsum() - count
        n_left = int(first_of[n])
        reps = count[n:][c[:n_left]]  # right ends of each left end's region
        p = np.repeat(np.arange(n_left), reps)
        pair0 = reps.cumsum() - reps
        q = np.arange(int(pair0[-1] + reps[-1])) + np.repeat(first_of[n:][c[:n_left]] - pair0, reps)
        ax, ay = np.abs(x[q] + x[p]) * sc, np.abs(y[q] - y[p]) * sr
    wide = (ax + sc) ** 2 + ay**2  # squared, with a column more, or
    tall = ax**2 + (ay + sr) ** 2  # with a row more
    dist2 = np.maximum(wide, tall)
    if n == 1:
        i, j = divmod(int(dist2.argmax()), dist2.shape[1])
        best = [(i, n_left + j, bool(wide[i, j] >= tall[i, j]))]
    else:  # the first largest of each region
        region0 = pair0[first_of[:n]]
        hit = np.flatnonzero(dist2 == np.repeat(np.maximum.reduceat(dist2, region0), count[:n] * count[n:]))
        hit = hit[np.searchsorted(hit, region0)]
        best = list(zip(p[hit].tolist(), q[hit].tolist(), (wide >= tall)[hit].tolist(), strict=True))
    xs, ys = x.tolist(), y.tolist()
    out = []
    for i, j, across in best:  # p - w / 2 and q + w / 2, on doubled indices
        a, ya, b, yb = xs[i], ys[i], -xs[j], ys[j]
        wx, wy = (1 if b >= a else -1, 0) if across else (0, 1 if yb >= ya else -1)
        x0, y0, x1, y1 = (2 * a - wx) * sc / 2, (2 * ya - wy) * sr / 2, (2 * b + wx) * sc / 2, (2 * yb + wy) * sr / 2
        out.append(Axis(float(np.hypot(x1 - x0, y1 - y0)), (x0, y0), (x1, y1)))
    return out


_NO_CHAIN = np.array([[0], [0], [-1]], dtype=np.int64)
"""A point after all chains (chain id -1), so that each chain's last vertex has no edge."""
_NO_EDGE = np.array([[0], [1]], dtype=np.int64)
"""The (dx, d) of a chain's last vertex: no slope, one row (its own)."""


def feret_diameter(mask: ArrayLike, spacing: Sequence[float] = (1.0, 1.0)) -> Axis:
    """Maximum Feret diameter of a 2-D mask as scikit-image's ``regionprops(...).feret_diameter_max`` defines
    it (skimage 0.26, ``_regionprops.py``): the largest distance between points of the 0.5 iso-contour
    (marching squares) of the region's convex hull image, where the convex hull image holds every pixel whose
    centre lies in or on the convex hull of the midpoints of the region's pixel edges (``convex_hull_image``
    with its defaults). For a binary image those contour points are the midpoints between a pixel of the
    convex hull image and a 4-neighbour outside it. Not irrecist's long axis convention (pixel centres or
    corners); here to compare with scikit-image exactly. Exact integer geometry on pixel indices
    (:func:`_ferets`); when several pairs of contour points are farthest apart, any one of them is returned."""
    m = np.asarray(mask, dtype=bool)
    sr, sc = _spacing(spacing)
    if not m.any():
        raise ValueError("empty mask")
    rows, first, last = _row_extremes(m)
    chains = np.array([np.concatenate((first, -last)), np.concatenate((rows, rows)), np.repeat(_LEFT_RIGHT, rows.size)])
    return _ferets(chains, 1, sr, sc)[0]


_WORD = np.dtype(np.uint64)
""":func:`_label_rows` compares the labels with 0 a word (8 bytes) at a time, then the pixels of the words that are
not 0 one by one: half the work of the first comparison for 32-bit labels, an eighth for 8-bit ones."""
_IN_WORD = np.arange(_WORD.itemsize)
"""Pixel offsets within a word."""
_LEFT_RIGHT = np.array([0, 1], dtype=np.int64)
"""The chain ids of one region's left and right row ends."""


def _label_rows(lab: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp], NDArray[np.int64]]:
    """Row extremes of every non-zero label of a 2-D image, in one pass over its pixels: the labels (ascending), the
    first (label, row) entry of each label, and the chains ``(3, 2 m)`` of :func:`_ferets`: the ``m`` (label, row)
    entries, ordered by label then row, as (first column, row, label index), then as (-last column, row, label
    count + label index)."""
    flat = lab.ravel()
    per = _WORD.itemsize // flat.itemsize
    if flat.size % per == 0:  # 8 bytes at a time, then the pixels of the words that are not 0
        word = np.flatnonzero(flat.view(_WORD) != 0)
        idx = (word[:, None] * per + _IN_WORD[:per]).ravel()
        idx = idx[flat[idx] != 0]
    else:
        idx = np.flatnonzero(flat != 0)  # on a boolean array: several times faster than on integers
    if not idx.size:
        return flat[:0], np.zeros(0, np.intp), np.zeros((3, 0), np.int64)
    values = flat[idx]
    order = np.argsort(values, kind="stable")  # by label, row-major order kept within each label
    idx, values = idx[order], values[order]
    rows = idx // lab.shape[1]
    new_label = values[1:] != values[:-1]
    brk = np.flatnonzero(new_label | (rows[1:] != rows[:-1]))  # between two (label, row) entries
    head = np.concatenate(([0], brk + 1))
    new = np.concatenate(([True], new_label[brk]))
    start = np.flatnonzero(new)
    seg = new.cumsum() - 1
    ends = np.concatenate((idx[head], idx[np.concatenate((brk, [idx.size - 1]))]))
    rows = ends // lab.shape[1]
    chains = np.array([ends - rows * lab.shape[1], rows, np.concatenate((seg, seg + start.size))])
    chains[0, head.size :] *= -1
    return values[head[start]], start, chains


def _label_row_extremes(
    lab: NDArray[Any],
) -> list[tuple[int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]]:
    """(label, rows, first column, last column) of every non-zero label of a 2-D image, in one pass."""
    labels, start, chains = _label_rows(lab)
    m = chains.shape[1] // 2
    rows, first, last = chains[1, :m], chains[0, :m], -chains[0, m:]
    bounds = np.append(start, m).tolist()
    spans = zip(labels.tolist(), bounds[:-1], bounds[1:], strict=True)
    return [(int(v), rows[a:b], first[a:b], last[a:b]) for v, a, b in spans]


def label_feret_diameters(labels: ArrayLike, spacing: Sequence[float] = (1.0, 1.0)) -> dict[int, Axis]:
    """:func:`feret_diameter` of every non-zero label of a 2-D label image: row extremes found in one pass, then
    every label at once (:func:`_ferets`)."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.dtype.kind not in "iu":  # signed or unsigned integers
        raise ValueError("labels must be a 2-D integer image")
    sr, sc = _spacing(spacing)
    values, _, chains = _label_rows(lab)
    if not values.size:
        return {}
    return dict(zip(values.tolist(), _ferets(chains, values.size, sr, sc), strict=True))
