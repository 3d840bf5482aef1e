"""Diameters from masks (issue 6, part 3): irrecist's geometry against scikit-image's
``regionprops(...).feret_diameter_max``, slice by slice, on a label volume of ellipsoid lesions, all measured
in this run.

    python -m benchmarks.bench_diameters --shape 200 512 512 --lesions 20

Three routines measure the largest diameter of every lesion on every slice it crosses:

* scikit-image: ``regionprops(labels[k], spacing=...)`` per slice, ``feret_diameter_max`` per region;
* irrecist, scikit-image's convention: :func:`irrecist.lesions.geometry.label_feret_diameters` (all lesions
  of a slice in one batch, no loop over lesions; each value that of :func:`~irrecist.lesions.geometry.feret_diameter`:
  the 0.5 iso-contour of the region's convex hull image, which is what scikit-image measures: neither pixel
  centres nor corners);
  its values must equal scikit-image's within 0.01 mm;
* irrecist, its own convention: :func:`irrecist.lesions.geometry.mask_long_axis` per lesion crop (pixel
  centres, what the SEG reader reports), :func:`irrecist.lesions.geometry.label_long_axes` (all lesions of a
  slice in one pass, same values), and the per-lesion RECIST answer (long axis over slices, short axis on
  that slice).

The slices that hold a lesion are found once, outside the timings, and given to every routine;
``mask_long_axis`` gets each lesion cropped with ``scipy.ndimage.find_objects`` (timed), as ``regionprops``
crops inside. Times are the minimum of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from irrecist.lesions import geometry

Key = tuple[int, int]  # (label, slice)


def make_volume(shape: tuple[int, int, int], n_lesions: int, spacing: tuple[float, float, float],
                seed: int = 11) -> NDArray[np.int32]:
    """Labels 1..n of non-touching, randomly oriented ellipsoids (in-plane diameters 4-60 mm)."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    sz, sy, sx = spacing
    vol = np.zeros(shape, dtype=np.int32)
    cols = int(np.ceil(np.sqrt(n_lesions)))
    rows = int(np.ceil(n_lesions / cols))
    cell_y, cell_x = ny / rows, nx / cols
    for k in range(n_lesions):
        cy, cx = (k // cols + 0.5) * cell_y, (k % cols + 0.5) * cell_x
        limit = 0.45 * min(cell_y * sy, cell_x * sx)  # mm: stays inside its grid cell
        a = rng.uniform(2.0, min(30.0, limit))
        b = rng.uniform(0.4, 1.0) * a
        c = rng.uniform(3.0, min(25.0, nz * sz / 2.5))
        cz = rng.uniform(c / sz, nz - 1 - c / sz)
        th = rng.uniform(0, np.pi)
        z0, z1 = max(0, int(cz - c / sz) - 1), min(nz, int(cz + c / sz) + 2)
        y0, y1 = max(0, int(cy - a / sy) - 1), min(ny, int(cy + a / sy) + 2)
        x0, x1 = max(0, int(cx - a / sx) - 1), min(nx, int(cx + a / sx) + 2)
        z, y, x = np.ogrid[z0:z1, y0:y1, x0:x1]
        dz, dy, dx = (z - cz) * sz, (y - cy) * sy, (x - cx) * sx
        u = dx * np.cos(th) + dy * np.sin(th)
        v = -dx * np.sin(th) + dy * np.cos(th)
        inside = (u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1.0
        vol[z0:z1, y0:y1, x0:x1][inside] = k + 1
    return vol


def lesion_slices(vol: NDArray[np.int32]) -> list[int]:
    """Slices that hold a lesion (found once, outside the timings: both sides get the same list)."""
    return [int(k) for k in np.nonzero(vol.reshape(vol.shape[0], -1).any(axis=1))[0]]


def skimage_feret(vol: NDArray[np.int32], slices: list[int], spacing: tuple[float, float]) -> dict[Key, float]:
    from skimage.measure import regionprops

    out: dict[Key, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image warns on one-pixel-wide regions
        for k in slices:
            for region in regionprops(vol[k], spacing=spacing):
                out[(region.label, k)] = float(region.feret_diameter_max)
    return out


def per_slice(
    vol: NDArray[np.int32], slices: list[int], measure: Callable[[NDArray[np.bool_]], float]
) -> dict[Key, float]:
    """``measure`` of every lesion on every slice, each lesion cropped with ``find_objects`` as regionprops does."""
    out: dict[Key, float] = {}
    for k in slices:
        plane = vol[k]
        for label, box in enumerate(ndimage.find_objects(plane), start=1):
            if box is not None:
                out[(label, k)] = measure(plane[box] == label)
    return out


def per_slice_vectorised(
    vol: NDArray[np.int32], slices: list[int], measure: Callable[[NDArray[np.int32]], dict[int, geometry.Axis]]
) -> dict[Key, float]:
    """``measure`` of all lesions of a slice at once (one pass over the slice's pixels)."""
    return {(label, k): axis.length_mm for k in slices for label, axis in measure(vol[k]).items()}


def recist(vol: NDArray[np.int32], spacing: tuple[float, float]) -> dict[int, geometry.Diameters]:
    """irrecist's per-lesion answer: long axis maximised over slices, short axis on that slice."""
    out = {}
    for label, box in enumerate(ndimage.find_objects(vol), start=1):
        if box is not None:
            d = geometry.volume_diameters(vol[box] == label, spacing)
            if d is not None:
                out[label] = d
    return out


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--shape", type=int, nargs=3, default=[200, 512, 512], metavar=("SLICES", "ROWS", "COLS"))
    ap.add_argument("--lesions", type=int, default=20)
    ap.add_argument("--spacing", type=float, nargs=3, default=[2.5, 0.78, 0.78], metavar=("Z", "ROW", "COL"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    shape = (args.shape[0], args.shape[1], args.shape[2])
    sz, sr, sc = args.spacing
    vol = make_volume(shape, args.lesions, (sz, sr, sc))
    plane = (sr, sc)
    print(f"volume {shape[0]}x{shape[1]}x{shape[2]}, {args.lesions} lesions, spacing {sz}/{sr}/{sc} mm")

    slices = lesion_slices(vol)
    t_sk, sk = best(lambda: skimage_feret(vol, slices, plane), args.repeat)
    t_fe, fe = best(lambda: per_slice_vectorised(vol, slices, lambda p: geometry.label_feret_diameters(p, plane)),
                    args.repeat)
    t_la, la = best(lambda: per_slice(vol, slices, lambda m: geometry.mask_long_axis(m, plane).length_mm),
                    args.repeat)
    t_lv, lv = best(lambda: per_slice_vectorised(vol, slices, lambda p: geometry.label_long_axes(p, plane)),
                    args.repeat)
    t_re, _ = best(lambda: recist(vol, plane), args.repeat)
    assert isinstance(sk, dict) and isinstance(fe, dict) and isinstance(la, dict) and isinstance(lv, dict)
    if set(lv) != set(la) or max(abs(lv[k] - la[k]) for k in la) > 1e-9:  # crops: other float rounding
        raise SystemExit("label_long_axes differs from mask_long_axis")
    if set(sk) != set(fe):
        raise SystemExit(f"different regions: {len(sk)} (scikit-image) vs {len(fe)} (irrecist)")
    diff = max(abs(sk[k] - fe[k]) for k in sk)
    offset = [sk[k] - la[k] for k in sk]
    print(f"regions (lesion x slice): {len(sk)}")
    print(f"scikit-image regionprops feret_diameter_max:     {t_sk:7.3f} s   1.00x")
    print(f"irrecist label_feret_diameters (skimage's points): {t_fe:5.3f} s   {t_sk / t_fe:5.1f}x faster   "
          f"max |difference| {diff:.2e} mm (target < 0.01 mm)")
    print(f"irrecist mask_long_axis (pixel centres):         {t_la:7.3f} s   {t_sk / t_la:5.1f}x faster   "
          f"scikit-image minus centres: {min(offset):.2f} to {max(offset):.2f} mm (convention, not error)")
    print(f"irrecist label_long_axes (pixel centres, per slice): {t_lv:5.3f} s   {t_sk / t_lv:5.1f}x faster   "
          "(same values as mask_long_axis)")
    print(f"irrecist volume_diameters (long + short axis):   {t_re:7.3f} s   {t_sk / t_re:5.1f}x faster")
    if diff >= 0.01:
        raise SystemExit("values differ by 0.01 mm or more under the same convention")


if __name__ == "__main__":
    main()
