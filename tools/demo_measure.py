"""Check measurements of the demo's voxelised lesions: long and short axis of a mask, as a reader would take
them (../shared/spec/formats.md: per slice, long axis = largest distance between region points, short axis
= longest chord perpendicular to it; the slice with the longest long axis wins).

Two point conventions: pixel ``centres`` (the region is the union of squares spanned by four region pixel
centres) and pixel ``corners`` (the union of the pixel squares). The chord is sampled finely (1/50 pixel),
which is ample for a within-one-voxel check; readers compute it exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

STEP = 0.02  # pixels


def _inside(mask: np.ndarray, r: np.ndarray, c: np.ndarray, corners: bool) -> np.ndarray:
    """Whether points (row, col in pixel-index units, centres at integers) lie in the region."""
    rows, cols = mask.shape
    padded = np.zeros((rows + 2, cols + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    if corners:
        ri, ci = np.floor(r + 0.5).astype(int) + 1, np.floor(c + 0.5).astype(int) + 1
        ri, ci = np.clip(ri, 0, rows + 1), np.clip(ci, 0, cols + 1)
        return padded[ri, ci]
    r0, c0 = np.floor(r).astype(int) + 1, np.floor(c).astype(int) + 1
    r0, c0 = np.clip(r0, 0, rows), np.clip(c0, 0, cols)
    return padded[r0, c0] & padded[r0 + 1, c0] & padded[r0, c0 + 1] & padded[r0 + 1, c0 + 1]


def slice_axes(mask: np.ndarray, corners: bool) -> tuple[float, float]:
    """(long, short) axis of one 2-D mask, in pixels."""
    rr, cc = np.nonzero(mask)
    pts = np.stack([rr, cc], axis=1).astype(float)
    if corners:
        offsets = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
        pts = (pts[:, None, :] + offsets[None]).reshape(-1, 2)
    if len(pts) < 3 or np.linalg.matrix_rank(pts - pts[0]) < 2:
        return 0.0, 0.0
    hull = pts[ConvexHull(pts).vertices]
    d = np.linalg.norm(hull[:, None, :] - hull[None, :, :], axis=-1)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    long = float(d[i, j])
    u = (hull[j] - hull[i]) / long
    w = np.array([-u[1], u[0]])
    t_all, s_all = pts @ u, pts @ w
    ts = np.arange(t_all.min(), t_all.max() + STEP, STEP * 2.5)
    ss = np.arange(s_all.min() - 1, s_all.max() + 1 + STEP, STEP)
    tt, sg = np.meshgrid(ts, ss, indexing="ij")
    r, c = tt * u[0] + sg * w[0], tt * u[1] + sg * w[1]
    inside = _inside(mask, r, c, corners)
    best = 0
    for row in inside:  # longest run of consecutive inside samples on each perpendicular line
        if row.any():
            padded = np.concatenate([[0], row.astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(padded))
            best = max(best, int((edges[1::2] - edges[::2]).max()))
    return long, max(best - 1, 0) * STEP


def volume_axes(mask: np.ndarray, spacing: float, corners: bool) -> tuple[float, float]:
    """(long, short) axis in mm of a 3-D mask (slices, rows, cols): the slice with the longest long axis."""
    best = (0.0, 0.0)
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        axes = slice_axes(mask[k], corners)
        if axes[0] > best[0]:
            best = axes
    return best[0] * spacing, best[1] * spacing
