"""Exact diameters: hull + rotating calipers against brute force, and short axes with known answers."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from scipy import ndimage

from irrecist.lesions import geometry as g

SETTINGS = settings(max_examples=100, deadline=None)


def brute_force(points: NDArray[np.float64]) -> float:
    diff = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def boundary_points(mask: NDArray[np.bool_], spacing: tuple[float, float], corners: bool) -> NDArray[np.float64]:
    """Region points on the boundary (pixels with an outside 4-neighbour), in mm as (x, y)."""
    inner = ndimage.binary_erosion(mask, border_value=0)
    r, c = np.nonzero(mask & ~inner)
    sr, sc = spacing
    if not corners:
        return np.stack([c * sc, r * sr], axis=1)
    offs = [(-0.5, -0.5), (-0.5, 0.5), (0.5, -0.5), (0.5, 0.5)]
    return np.concatenate([np.stack([(c + dc) * sc, (r + dr) * sr], axis=1) for dr, dc in offs])


masks = arrays(bool, st.tuples(st.integers(1, 14), st.integers(1, 14))).filter(lambda m: bool(m.any()))
spacings = st.tuples(st.floats(0.1, 5.0), st.floats(0.1, 5.0))
coord = st.floats(-500, 500, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(mask=masks, spacing=spacings, corners=st.booleans())
def test_mask_long_axis_equals_brute_force(
    mask: NDArray[np.bool_], spacing: tuple[float, float], corners: bool
) -> None:
    axis = g.mask_long_axis(mask, spacing, corners)
    expected = brute_force(boundary_points(mask, spacing, corners))
    assert abs(axis.length_mm - expected) <= 1e-9
    assert math.isclose(math.dist(axis.start, axis.end), axis.length_mm, abs_tol=1e-9)


@SETTINGS
@given(points=st.lists(st.tuples(coord, coord), min_size=1, max_size=60))
def test_contour_long_axis_equals_brute_force(points: list[tuple[float, float]]) -> None:
    pts = np.array(points)
    assert abs(g.long_axis(pts).length_mm - brute_force(pts)) <= 1e-9


@SETTINGS
@given(points=st.lists(st.tuples(st.integers(-4, 4), st.integers(-4, 4)), min_size=1, max_size=40))
def test_degenerate_lattice_points(points: list[tuple[int, int]]) -> None:
    """Duplicates and collinear points (all on a line, two points, one point)."""
    pts = np.array(points, dtype=float)
    assert abs(g.long_axis(pts).length_mm - brute_force(pts)) <= 1e-9


@SETTINGS
@given(mask=masks, spacing=spacings, corners=st.booleans())
def test_short_axis_bounds(mask: NDArray[np.bool_], spacing: tuple[float, float], corners: bool) -> None:
    """The chord is perpendicular to the long axis and no longer than it."""
    d = g.mask_diameters(mask, spacing, corners)
    assert 0.0 <= d.short_axis_mm <= d.long_axis_mm + 1e-9
    if d.short_axis_mm > 0:
        u = np.subtract(d.long_axis.end, d.long_axis.start)
        v = np.subtract(d.short_axis.end, d.short_axis.start)
        assert abs(float(u @ v)) <= 1e-6 * d.long_axis_mm * d.short_axis_mm


def rectangle_answer(a: float, b: float) -> tuple[float, float]:
    """Long axis (diagonal) and longest perpendicular chord of an a x b rectangle."""
    d = math.hypot(a, b)
    return d, min(a, b) * d / max(a, b)


@pytest.mark.parametrize("corners", [False, True])
@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.8, 0.5), (0.5, 1.3)])
def test_rectangle_mask(corners: bool, spacing: tuple[float, float]) -> None:
    rows, cols = 12, 31
    mask = np.zeros((40, 50), bool)
    mask[5 : 5 + rows, 7 : 7 + cols] = True
    n_r, n_c = (rows, cols) if corners else (rows - 1, cols - 1)
    long_mm, short_mm = rectangle_answer(n_c * spacing[1], n_r * spacing[0])
    d = g.mask_diameters(mask, spacing, corners)
    assert d.long_axis_mm == pytest.approx(long_mm, abs=1e-9)
    assert d.short_axis_mm == pytest.approx(short_mm, abs=1e-9)


def test_rectangle_contour_and_square_with_hole() -> None:
    d = g.contour_diameters([[(0, 0), (30, 0), (30, 10), (0, 10)]])
    assert d.long_axis_mm == pytest.approx(math.hypot(30, 10))
    assert d.short_axis_mm == pytest.approx(rectangle_answer(30, 10)[1])
    # 24 mm square with a centred 8 mm hole: the chords across the hole are cut in two, the longest
    # chord just misses the hole's corner: 24*sqrt(2) - 8*sqrt(2)
    outer = [(0, 0), (24, 0), (24, 24), (0, 24)]
    hole = [(8, 8), (8, 16), (16, 16), (16, 8)]
    d = g.contour_diameters([outer, hole])
    assert d.long_axis_mm == pytest.approx(24 * math.sqrt(2))
    assert d.short_axis_mm == pytest.approx(16 * math.sqrt(2))


def test_chord_does_not_bridge_gaps_but_joins_touching_rings() -> None:
    apart = g.ring_edges([[(0, 0), (2, 0), (2, 2), (0, 2)], [(0, 3), (2, 3), (2, 5), (0, 5)]])
    assert g.longest_chord(apart, (1, 0)).length_mm == pytest.approx(2.0)
    touching = g.ring_edges([[(0, 0), (2, 0), (2, 2), (0, 2)], [(0, 2), (2, 2), (2, 4), (0, 4)]])
    assert g.longest_chord(touching, (1, 0)).length_mm == pytest.approx(4.0)


def test_u_shape_mask_chord_stays_inside() -> None:
    mask = np.zeros((20, 20), bool)
    mask[2:18, 2:5] = mask[2:18, 15:18] = mask[15:18, 2:18] = True  # a U open at the top
    chord = g.mask_short_axis(mask, (0.0, 1.0), corners=True)  # horizontal chords
    assert chord.length_mm == pytest.approx(16.0)  # only the bottom bar spans the full width
    chord = g.mask_short_axis(np.pad(mask[:14], 1), (0.0, 1.0), corners=True)  # arms only
    assert chord.length_mm == pytest.approx(3.0)


def ellipse_mask(a: float, b: float, theta: float, spacing: tuple[float, float], size: int = 160) -> NDArray[np.bool_]:
    sr, sc = spacing
    yy, xx = np.mgrid[0:size, 0:size]
    x, y = (xx - size / 2) * sc, (yy - size / 2) * sr
    ct, st_ = math.cos(theta), math.sin(theta)
    xr, yr = x * ct + y * st_, -x * st_ + y * ct
    return (xr / a) ** 2 + (yr / b) ** 2 <= 1.0


@pytest.mark.parametrize("corners", [False, True])
@pytest.mark.parametrize("theta", [0.0, 0.5, math.pi / 2])
@pytest.mark.parametrize("spacing", [(0.7, 0.7), (0.9, 0.6)])
def test_ellipse_mask_within_one_pixel(corners: bool, theta: float, spacing: tuple[float, float]) -> None:
    """Corners measure the pixel outline (~ the true ellipse); centres lose about one pixel."""
    a, b = 40.3, 18.2
    d = g.mask_diameters(ellipse_mask(a, b, theta, spacing), spacing, corners)
    pixel = math.hypot(*spacing)
    shrink = 0.0 if corners else sum(spacing) / 2
    assert abs(d.long_axis_mm - (2 * a - shrink)) <= pixel
    assert abs(d.short_axis_mm - (2 * b - shrink)) <= pixel


def test_ellipse_contour() -> None:
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    ring = np.stack(
        [
            12 * np.cos(t) * np.cos(0.3) - 5 * np.sin(t) * np.sin(0.3),
            12 * np.cos(t) * np.sin(0.3) + 5 * np.sin(t) * np.cos(0.3),
        ],
        axis=1,
    )
    d = g.contour_diameters([ring])
    assert d.long_axis_mm == pytest.approx(24.0, abs=1e-3)
    assert d.short_axis_mm == pytest.approx(10.0, abs=1e-3)


def test_single_pixel_and_line() -> None:
    one = np.zeros((5, 5), bool)
    one[2, 2] = True
    assert g.mask_diameters(one).long_axis_mm == 0.0
    assert g.mask_diameters(one, corners=True).long_axis_mm == pytest.approx(math.sqrt(2))
    assert g.mask_diameters(one, corners=True).short_axis_mm == pytest.approx(math.sqrt(2))
    line = np.zeros((5, 9), bool)
    line[2, 1:8] = True
    d = g.mask_diameters(line, (1.0, 0.5))
    assert (d.long_axis_mm, d.short_axis_mm) == (pytest.approx(3.0), 0.0)  # centres: no width


def test_volume_takes_short_axis_on_longest_slice() -> None:
    vol = np.zeros((3, 30, 30), bool)
    vol[0, 5:10, 5:25] = True  # 20 x 5
    vol[1, 5:25, 5:15] = True  # 10 x 20: longest diagonal
    vol[2, 10:12, 10:12] = True
    d = g.volume_diameters(vol, (1.0, 1.0), corners=True)
    assert d is not None and d.slice_index == 1
    assert d.long_axis_mm == pytest.approx(math.hypot(10, 20))
    assert d.short_axis_mm == pytest.approx(rectangle_answer(10, 20)[1])
    assert g.volume_diameters(np.zeros((2, 4, 4), bool)) is None


def test_label_image_fast_and_consistent() -> None:
    rng = np.random.default_rng(7)
    labels = np.zeros((512, 512), np.int32)
    yy, xx = np.mgrid[0:512, 0:512]
    for k in range(1, 21):
        cy, cx = rng.integers(40, 472, 2)
        ry, rx = rng.integers(4, 35, 2)
        labels[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = k
    start = time.perf_counter()
    out = g.label_diameters(labels, (0.7, 0.7))
    assert time.perf_counter() - start < 2.0
    assert set(out) == set(np.unique(labels[labels > 0]).tolist())
    for k in (1, 10, 20):
        if k in out:
            whole = g.mask_diameters(labels == k, (0.7, 0.7))
            assert out[k].long_axis_mm == pytest.approx(whole.long_axis_mm, abs=1e-9)
            assert out[k].short_axis_mm == pytest.approx(whole.short_axis_mm, abs=1e-9)


# ------------------------------------------------------------------ issue 6: vectorised and compared routines

labels_2d = arrays(np.int16, st.tuples(st.integers(1, 16), st.integers(1, 16)), elements=st.integers(-2, 4))


@SETTINGS
@given(labels=labels_2d, spacing=spacings, corners=st.booleans())
def test_label_long_axes_equal_mask_long_axis(labels: NDArray[np.int16], spacing: tuple[float, float],
                                              corners: bool) -> None:
    got = g.label_long_axes(labels, spacing, corners)
    want = {int(k): g.mask_long_axis(labels == k, spacing, corners) for k in np.unique(labels) if k != 0}
    assert got == want


@SETTINGS
@given(mask=masks, corners=st.booleans())
def test_pruned_hull_is_the_full_hull(mask: NDArray[np.bool_], corners: bool) -> None:
    """Pruning row ends before the monotone chain never changes the hull (vertices and their order)."""
    rows, first, last = g._row_extremes(mask)
    if corners:
        xs = np.concatenate([2 * first - 1, 2 * first - 1, 2 * last + 1, 2 * last + 1])
        ys = np.concatenate([2 * rows - 1, 2 * rows + 1, 2 * rows - 1, 2 * rows + 1])
    else:
        xs, ys = np.concatenate([2 * first, 2 * last]), np.concatenate([2 * rows, 2 * rows])
    assert g._extremes_hull(rows, first, last, corners) == g._hull(zip(xs.tolist(), ys.tolist(), strict=True))


@SETTINGS
@given(mask=masks, spacing=spacings)
def test_feret_diameter_is_scikit_images(mask: NDArray[np.bool_], spacing: tuple[float, float]) -> None:
    """scikit-image's regionprops feret_diameter_max (0.5 iso-contour of the convex hull image), exactly."""
    import warnings

    from skimage.measure import regionprops

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = regionprops(mask.astype(np.uint8), spacing=spacing)[0].feret_diameter_max
    assert g.feret_diameter(mask, spacing).length_mm == pytest.approx(want, abs=1e-9)


@SETTINGS
@given(labels=labels_2d, spacing=spacings)
def test_label_feret_diameters_equal_feret_diameter(labels: NDArray[np.int16], spacing: tuple[float, float]) -> None:
    got = g.label_feret_diameters(labels, spacing)
    assert got == {int(k): g.feret_diameter(labels == k, spacing) for k in np.unique(labels) if k != 0}


def longest_chord_by_slab(edges: NDArray[np.float64], direction: tuple[float, float]) -> g.Axis:
    """The sweep one slab at a time (the code ``geometry.longest_chord`` replaced, kept as its reference): the
    edges crossing the slab's middle in order, pieces between the 1st and 2nd, 3rd and 4th... crossing, touching
    pieces joined, each measured at both ends of the slab; the first longest wins."""
    e = np.asarray(edges, dtype=np.float64).reshape(-1, 2, 2)
    ux, uy = float(direction[0]), float(direction[1])
    norm = float(np.hypot(ux, uy))
    if e.shape[0] == 0 or norm == 0.0:
        return g.Axis(0.0, (0.0, 0.0), (0.0, 0.0))
    ux, uy = ux / norm, uy / norm
    vx, vy = -uy, ux
    s = e[..., 0] * ux + e[..., 1] * uy
    w = e[..., 0] * vx + e[..., 1] * vy
    keep = np.abs(s[:, 1] - s[:, 0]) > 1e-12 * max(1.0, float(np.abs(s).max()))
    s, w = s[keep], w[keep]
    if s.shape[0] == 0:
        return g.Axis(0.0, (0.0, 0.0), (0.0, 0.0))
    lo, hi = s.min(axis=1), s.max(axis=1)
    slope = (w[:, 1] - w[:, 0]) / (s[:, 1] - s[:, 0])
    events = np.unique(s)
    order = np.argsort(lo, kind="stable")
    lo, hi, slope, s0, w0 = lo[order], hi[order], slope[order], s[order, 0], w[order, 0]
    best = (0.0, 0.0, 0.0, 0.0)
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
        k = 0
        while k < len(starts) - 1:
            if wm[starts[k + 1]] - wm[ends[k]] <= 1e-9:
                ends[k] = ends.pop(k + 1)
                starts.pop(k + 1)
            else:
                k += 1
        for t in (a, b):
            wt = w0[act] + slope[act] * (t - s0[act])
            for st_, en in zip(starts, ends, strict=True):
                length = float(wt[en] - wt[st_])
                if length > best[0]:
                    best = (length, float(t), float(wt[st_]), float(wt[en]))
    length, t, ws, we = best
    return g.Axis(length, (t * ux + ws * vx, t * uy + ws * vy), (t * ux + we * vx, t * uy + we * vy))


@SETTINGS
@given(mask=masks, spacing=spacings, corners=st.booleans(), angle=st.floats(0, 2 * math.pi))
def test_chord_sweep_on_arrays_equals_the_slab_loop_on_masks(
    mask: NDArray[np.bool_], spacing: tuple[float, float], corners: bool, angle: float
) -> None:
    """``longest_chord`` (all slabs at once) gives exactly what the slab-by-slab sweep gives: same length and end
    points, bit for bit, on mask boundaries (many shared vertices and equal positions) in any direction."""
    edges = g.mask_edges(mask, spacing, corners)
    for direction in ((math.cos(angle), math.sin(angle)), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        assert g.longest_chord(edges, direction) == longest_chord_by_slab(edges, direction)


@SETTINGS
@given(rings=st.lists(st.lists(st.tuples(coord, coord), min_size=3, max_size=12), min_size=1, max_size=3),
       angle=st.floats(0, 2 * math.pi), block=st.sampled_from([1, 3, 64, 1 << 20]))  # fmt: skip
def test_chord_sweep_on_arrays_equals_the_slab_loop_on_contours(
    rings: list[list[tuple[float, float]]], angle: float, block: int
) -> None:
    """The same on random (self-intersecting, nested, overlapping) polygon rings, with the sweep cut into blocks
    of any size (the first longest chord wins across blocks too)."""
    edges = g.ring_edges(rings)
    direction = (math.cos(angle), math.sin(angle))
    default = g._SWEEP_BLOCK
    try:
        g._SWEEP_BLOCK = block
        got = g.longest_chord(edges, direction)
    finally:
        g._SWEEP_BLOCK = default
    assert got == longest_chord_by_slab(edges, direction)


# ------------------------------------------------------------------ Feret diameters: batched code against the polygon


def lattice_spans(
    hull: NDArray[np.int64], axis: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """For a convex polygon in doubled integer coordinates: every pixel line ``2 k`` of the other axis that holds a
    pixel index inside or on the polygon, with the first and last such index (the code ``geometry`` replaced)."""
    v = np.asarray(hull, dtype=np.int64).reshape(-1, 2)
    w = np.roll(v, -1, axis=0)
    p0, p1, q0, q1 = v[:, axis], v[:, 1 - axis], w[:, axis], w[:, 1 - axis]
    lo, hi = np.minimum(p1, q1), np.maximum(p1, q1)
    start = lo + (lo % 2)
    count = np.maximum(0, (hi - start) // 2 + 1)
    edge = np.repeat(np.arange(v.shape[0]), count)
    line = np.repeat(start, count) + 2 * (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    flat = p1[edge] == q1[edge]
    den = np.where(flat, 1, q1[edge] - p1[edge])
    num = np.where(flat, 0, p0[edge] * den + (line - p1[edge]) * (q0[edge] - p0[edge]))
    sign = np.sign(den)
    num_lo = np.where(flat, np.minimum(p0[edge], q0[edge]), num * sign)
    num_hi = np.where(flat, np.maximum(p0[edge], q0[edge]), num * sign)
    den = den * sign
    first = -((-num_lo) // (2 * den))
    last = num_hi // (2 * den)
    k = line // 2
    order = np.argsort(k, kind="stable")
    k, first, last = k[order], first[order], last[order]
    bounds = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ks, firsts, lasts = k[bounds], np.minimum.reduceat(first, bounds), np.maximum.reduceat(last, bounds)
    keep = firsts <= lasts
    return ks[keep], firsts[keep], lasts[keep]


DIAMOND_EDGES = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.int64)


def plus_diamond(hull: list[tuple[float, float]]) -> NDArray[np.int64]:
    """Minkowski sum of a convex polygon (doubled integer coordinates, counter-clockwise) and the diamond of the
    pixel edge midpoints, by merging edge directions."""
    v = np.asarray(hull, dtype=np.int64).reshape(-1, 2)
    start = int(np.lexsort((v[:, 0], v[:, 1]))[0])
    v = np.roll(v, -start, axis=0)
    edges = np.concatenate([np.roll(v, -1, axis=0) - v if len(v) > 1 else np.zeros((0, 2), np.int64), DIAMOND_EDGES])
    angle = np.mod(np.arctan2(edges[:, 1], edges[:, 0]), 2 * np.pi)
    order = np.argsort(angle, kind="stable")
    return v[0] + np.array([0, -1]) + np.concatenate([np.zeros((1, 2), np.int64), np.cumsum(edges[order], axis=0)[:-1]])


def hull_image_spans(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Rows of scikit-image's convex hull image (pixel centres in or on the hull of the pixel edge midpoints) and
    their first and last column, from the hull polygon."""
    rows, first, last = g._row_extremes(mask)
    return lattice_spans(plus_diamond(g._extremes_hull(rows, first, last, corners=False)), 0)


def feret_by_polygon(mask: NDArray[np.bool_], spacing: tuple[float, float]) -> g.Axis:
    """scikit-image's maximum Feret diameter one region at a time (the code ``geometry.feret_diameter`` replaced, kept
    as its reference): hull of the pixel centres, plus the diamond, the convex hull image's row and column spans, the
    contour points at their ends, hull and rotating calipers."""
    sr, sc = spacing
    rows, first, last = g._row_extremes(mask)
    edges = plus_diamond(g._extremes_hull(rows, first, last, corners=False))
    rows_h, left, right = lattice_spans(edges, 0)
    cols, top, bottom = lattice_spans(edges, 1)
    keep = [g._chain_candidates(x, 2 * rows_h, s) for x, s in ((2 * left - 1, 1), (2 * right + 1, -1))]
    keep += [g._chain_candidates(y, 2 * cols, s) for y, s in ((2 * top - 1, 1), (2 * bottom + 1, -1))]
    xs = np.concatenate([(2 * left - 1)[keep[0]], (2 * right + 1)[keep[1]], (2 * cols)[keep[2]], (2 * cols)[keep[3]]])
    ys = np.concatenate(
        [(2 * rows_h)[keep[0]], (2 * rows_h)[keep[1]], (2 * top - 1)[keep[2]], (2 * bottom + 1)[keep[3]]]
    )
    hull = g._hull(zip(xs.tolist(), ys.tolist(), strict=True))
    i, j = g._calipers(hull, sc, sr)
    return g._axis((hull[i][0] * sc / 2, hull[i][1] * sr / 2), (hull[j][0] * sc / 2, hull[j][1] * sr / 2))


def assert_contour_point(point: tuple[float, float], mask: NDArray[np.bool_], spacing: tuple[float, float]) -> None:
    """``point`` (mm) is a 0.5 iso-contour point of the convex hull image: halfway between a pixel of it and a
    4-neighbour outside it."""
    rows, first, last = hull_image_spans(mask)
    inside = {(int(r), c) for r, a, b in zip(rows, first, last, strict=True) for c in range(int(a), int(b) + 1)}
    x2, y2 = point[0] * 2 / spacing[1], point[1] * 2 / spacing[0]
    cx, cy = round(x2), round(y2)
    assert abs(x2 - cx) < 1e-6 and abs(y2 - cy) < 1e-6 and (cx + cy) % 2 == 1  # one coordinate on a pixel edge
    if cx % 2:
        pair = [((cx - 1) // 2, cy // 2), ((cx + 1) // 2, cy // 2)]
    else:
        pair = [(cx // 2, (cy - 1) // 2), (cx // 2, (cy + 1) // 2)]
    assert sorted((r, c) in inside for c, r in pair) == [False, True]


def check_against_polygon(labels: NDArray[np.integer], spacing: tuple[float, float], contour: bool = True) -> None:
    got = g.label_feret_diameters(labels, spacing)
    assert set(got) == {int(k) for k in np.unique(labels) if k != 0}
    for k, axis in got.items():
        mask = labels == k
        assert abs(axis.length_mm - feret_by_polygon(mask, spacing).length_mm) <= 1e-9
        assert math.isclose(math.dist(axis.start, axis.end), axis.length_mm, abs_tol=1e-9)
        assert g.feret_diameter(mask, spacing) == axis  # one region alone: the same code, the same answer
        if contour:
            assert_contour_point(axis.start, mask, spacing)
            assert_contour_point(axis.end, mask, spacing)


@st.composite
def label_images(draw: st.DrawFn) -> NDArray[np.int32]:
    """Several labels of odd shapes: ellipses cut by the border, thin lines at any angle, single pixels, single rows
    and columns, boxes, scattered pixels; a label may be drawn more than once (disconnected pieces)."""
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    labels = np.zeros((h, w), np.int32)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(draw(st.integers(1, 6))):
        k = draw(st.integers(1, 5))
        kind = draw(st.sampled_from(["ellipse", "line", "pixel", "row", "column", "box", "scatter"]))
        r0, c0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        if kind == "ellipse":
            cy, cx = draw(st.floats(-4, h + 4)), draw(st.floats(-4, w + 4))
            a, b, th = draw(st.floats(0.3, 14)), draw(st.floats(0.3, 14)), draw(st.floats(0, math.pi))
            u = (xx - cx) * math.cos(th) + (yy - cy) * math.sin(th)
            v = -(xx - cx) * math.sin(th) + (yy - cy) * math.cos(th)
            labels[(u / a) ** 2 + (v / b) ** 2 <= 1] = k
        elif kind == "line":
            r1, c1 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            t = np.linspace(0.0, 1.0, 2 * (h + w))
            labels[np.rint(r0 + t * (r1 - r0)).astype(int), np.rint(c0 + t * (c1 - c0)).astype(int)] = k
        elif kind == "pixel":
            labels[r0, c0] = k
        elif kind == "row":
            labels[r0, c0 : draw(st.integers(c0 + 1, w))] = k
        elif kind == "column":
            labels[r0 : draw(st.integers(r0 + 1, h)), c0] = k
        elif kind == "box":
            labels[r0 : draw(st.integers(r0 + 1, h)), c0 : draw(st.integers(c0 + 1, w))] = k
        else:
            labels[draw(arrays(bool, (h, w), elements=st.booleans()))] = k
    return labels


@SETTINGS
@given(labels=label_images(), spacing=spacings)
def test_label_feret_diameters_equal_the_polygon_code(labels: NDArray[np.int32], spacing: tuple[float, float]) -> None:
    """The batched code (all labels at once) gives the lengths of the one-region polygon code it replaced, its ends
    are contour points as far apart as the length says, and scikit-image agrees."""
    import warnings

    from skimage.measure import regionprops

    check_against_polygon(labels, spacing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = {r.label: r.feret_diameter_max for r in regionprops(labels, spacing=spacing)}
    got = g.label_feret_diameters(labels, spacing)
    assert set(got) == set(want)
    assert all(abs(got[k].length_mm - want[k]) <= 1e-9 for k in want)


def test_label_feret_diameters_on_many_random_images() -> None:
    """A few hundred larger random label images: blobs, rings, stripes and noise with many labels at once."""
    rng = np.random.default_rng(2024)
    for trial in range(300):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        yy, xx = np.mgrid[0:h, 0:w]
        labels = np.zeros((h, w), np.int64)
        for k in range(1, int(rng.integers(2, 12))):
            cy, cx = rng.uniform(-5, h + 5), rng.uniform(-5, w + 5)
            a, b, th = rng.uniform(0.3, 25), rng.uniform(0.3, 25), rng.uniform(0, np.pi)
            u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
            v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
            e = (u / a) ** 2 + (v / b) ** 2
            labels[(e <= 1) & ((e >= 0.4) if trial % 3 == 0 else True)] = k * (-1) ** trial  # rings; negative labels
        if trial % 4 == 1:
            labels[rng.random((h, w)) < 0.05] = 99  # one label scattered everywhere
        if trial % 5 == 2:
            labels[:, :: int(rng.integers(2, 5))] = 7  # stripes: one label in many pieces on every row
        spacing = (float(rng.uniform(0.2, 3)), float(rng.uniform(0.2, 3)))
        check_against_polygon(labels, spacing, contour=trial % 10 == 0)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.7, 1.9), (2.5, 0.4)])
def test_feret_edge_cases(spacing: tuple[float, float]) -> None:
    """One pixel, one row, one column, thin diagonals both ways, labels on all four borders and across a row end,
    two labels alternating along rows, a label in far-apart pieces, and label values of several integer types."""
    labels = np.zeros((16, 20), np.int64)
    labels[3, 4] = 1
    labels[5, 2:15] = 2
    labels[1:14, 18] = 3
    labels[np.arange(7, 16), np.arange(1, 10)] = 4
    labels[np.arange(15, 6, -1), np.arange(8, 17)] = 5
    labels[0, :] = 6
    labels[1:, 0] = 6
    labels[15, 10:] = 7
    labels[9, 11:19:2] = 8
    labels[9, 12:19:2] = 9
    labels[2, 1] = labels[13, 16] = 10
    check_against_polygon(labels, spacing)
    one = g.feret_diameter(labels == 1, spacing)
    assert one.length_mm == pytest.approx(max(spacing))  # opposite edge midpoints of the pixel
    for dtype in (np.uint8, np.int16, np.int32, np.uint64):
        assert g.label_feret_diameters(labels.astype(dtype), spacing) == g.label_feret_diameters(labels, spacing)
    sign = np.where(labels % 2 == 0, 1, -1)  # large and negative labels (sorted in another order)
    big = {(k + 2**40) * (1 if k % 2 == 0 else -1): v for k, v in g.label_feret_diameters(labels, spacing).items()}
    assert g.label_feret_diameters(np.where(labels > 0, labels + 2**40, 0) * sign, spacing) == big
    assert g.label_feret_diameters(np.zeros((3, 4), np.int32), spacing) == {}


def lower_envelope_vertices(x: list[int], y: list[int]) -> list[int]:
    """Indices of the vertices of the lower convex envelope x(y) of points with strictly increasing y, with both
    ends (a monotone chain, one point at a time)."""
    out: list[int] = []
    for i in range(len(x)):
        while len(out) >= 2:
            a, b = out[-2], out[-1]
            if (x[b] - x[a]) * (y[i] - y[b]) < (y[b] - y[a]) * (x[i] - x[b]):  # b strictly left: stays
                break
            out.pop()
        out.append(i)
    return out


@SETTINGS
@given(chains=st.lists(st.lists(st.tuples(st.integers(-30, 30), st.integers(1, 4)), min_size=1, max_size=25),
                       min_size=1, max_size=5))  # fmt: skip
def test_convex_chains_are_the_envelopes(chains: list[list[tuple[int, int]]]) -> None:
    """Batched pruning to convergence gives each chain's lower convex envelope vertices exactly; a single pass keeps
    all of them (and maybe more)."""
    xs, ys, cs, want = [], [], [], []
    for c, chain in enumerate(chains):
        x = [p[0] for p in chain]
        y = np.cumsum([p[1] for p in chain]).tolist()  # strictly increasing, with gaps
        want += [(x[i], y[i], c) for i in lower_envelope_vertices(x, y)]
        xs, ys, cs = xs + x, ys + y, cs + [c] * len(x)
    pts = np.array([xs, ys, cs], dtype=np.int64)
    assert [tuple(p) for p in g._convex_chains(pts).T.tolist()] == want
    once = {tuple(p) for p in g._convex_chains(pts, passes=1).T.tolist()}
    assert set(want) <= once
