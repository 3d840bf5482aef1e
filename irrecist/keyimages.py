"""Key images for the report: the slice each lesion was measured on, cropped around the measured line, with the
line drawn, one strip per lesion across the assessments (baseline first).

Input is a run folder's ``lines.csv`` (:data:`irrecist.extract.LINE_COLUMNS`): end points in the pixel
coordinates of the image they were drawn on, (column, row) with (0, 0) the top left corner of the top left pixel
(DICOM SCOORD, PS3.3 C.18.6.1.1). Each image is read with the project's bounded reader
(:func:`irrecist.dicomio.dcmread`) and pydicom's ``pixel_array``; the Modality LUT (Rescale Slope / Intercept,
PS3.3 C.11.1) turns stored values into HU for CT, then the image's first Window Center / Width (C.11.2.1.2)
sets the grey scale, else the 1st to 99th percentile of the crop. MONOCHROME1 is inverted. The crop is a square
of :data:`CROP_FACTOR` times the longest line of the cell (at least :data:`MIN_CROP_PX` pixels), centred on the
lines and kept inside the image; it is scaled to :data:`THUMB_PX` pixels and embedded as a base64 PNG. A missing
or unreadable image gives a short note instead, never an error. At most :data:`KEY_IMAGE_LIMIT` thumbnails are
embedded in one report; the strips beyond say so.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

LINES_NAME = "lines.csv"
THUMB_PX = 176
"""Side of a thumbnail, in screen pixels."""
CROP_FACTOR = 3.0
"""The crop's side is this many times the longest line shown in it ..."""
MIN_CROP_PX = 64
"""... and at least this many image pixels (or the whole image when it is smaller)."""
KEY_IMAGE_LIMIT = 400
"""Thumbnails embedded in one report at most (about 20 kB each), whatever the number of subjects."""
PERCENTILES = (1.0, 99.0)
"""Grey scale of an image without Window Center / Width: these percentiles of the crop."""
AXIS_COLOURS = {"long": (255, 196, 0), "length": (255, 196, 0), "short": (0, 200, 255)}
"""Line colours: the long axis (or single length) amber, the short axis cyan."""

CSS = """
.keyimages { margin: .4rem 0 1.2rem; }
.strip { display: flex; gap: .6rem; overflow-x: auto; padding: .3rem 0 .5rem; align-items: flex-start; }
.strip .lesion { min-width: 4.5rem; font-weight: 600; padding-top: .3rem; }
figure.key { margin: 0; flex: 0 0 auto; width: 176px; }
figure.key img { display: block; width: 176px; height: 176px; border: 1px solid #444; image-rendering: auto; }
figure.key .missing { width: 176px; height: 176px; box-sizing: border-box; border: 1px dashed #bbb;
  display: flex; align-items: center; justify-content: center; text-align: center; padding: .5rem;
  color: #666; font-size: .8rem; overflow-wrap: anywhere; }
figure.key figcaption { font-size: .78rem; line-height: 1.3; margin-top: .2rem; }
"""
"""Style of the key-image strips (added to the report's stylesheet)."""


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


@dataclass(frozen=True)
class Line:
    """One row of lines.csv, parsed."""

    lesion_id: str
    timepoint: str
    axis: str
    length_mm: str
    sop_instance_uid: str
    frame: int | None
    start: tuple[float, float]
    end: tuple[float, float]
    image_file: str

    @property
    def length_px(self) -> float:
        return math.dist(self.start, self.end)


def parse_lines(rows: Sequence[dict[str, str]]) -> tuple[list[Line], int]:
    """The usable rows of lines.csv as :class:`Line` and the number of rows left out (unreadable numbers)."""
    out: list[Line] = []
    bad = 0
    for r in rows:
        try:
            frame = int(r["frame"]) if r.get("frame") else None
            xy = [float(r[k]) for k in ("x1", "y1", "x2", "y2")]
        except (KeyError, ValueError):
            bad += 1
            continue
        if not all(math.isfinite(v) for v in xy):
            bad += 1
            continue
        out.append(
            Line(r.get("lesion_id", ""), r.get("timepoint", ""), r.get("axis", ""), r.get("length_mm", ""),
                 r.get("sop_instance_uid", ""), frame, (xy[0], xy[1]), (xy[2], xy[3]), r.get("image_file", ""))
        )  # fmt: skip
    return out, bad


@dataclass
class KeyImages:
    """Renders the strips of a run and counts the thumbnails embedded so far (against :data:`KEY_IMAGE_LIMIT`).
    Each thumbnail reads its image file once; nothing is kept between thumbnails."""

    folder: Path
    limit: int = KEY_IMAGE_LIMIT
    embedded: int = 0

    def strips(self, lines: list[Line], timeline: Sequence[tuple[str, str]], anchor: str, title: str) -> str:
        """HTML of one subject's (and reader's) key images: one strip per lesion, one cell per assessment of
        ``timeline`` ((timepoint, date) pairs in order, baseline first) at which the lesion has a line."""
        by_lesion: dict[str, dict[str, list[Line]]] = {}
        for line in lines:
            by_lesion.setdefault(line.lesion_id, {}).setdefault(line.timepoint, []).append(line)
        if not by_lesion:
            return ""
        order = {tp: i for i, (tp, _d) in enumerate(timeline)}
        dates = dict(timeline)
        parts = [f'<h4>{e(title)}</h4><div class="keyimages" id="{e(anchor)}">']
        for lesion, cells in by_lesion.items():
            parts.append(
                f'<div class="strip" id="{e(anchor)}-{e(_slug(lesion))}" data-lesion="{e(lesion)}">'
                f'<div class="lesion">{e(lesion)}</div>'
            )
            for tp in sorted(cells, key=lambda t: (order.get(t, len(order)), t)):
                parts.append(self._cell(lesion, tp, dates.get(tp, ""), cells[tp]))
            parts.append("</div>")
        parts.append("</div>")
        return "".join(parts)

    def _cell(self, lesion: str, timepoint: str, date: str, lines: list[Line]) -> str:
        rank = {"long": 0, "length": 0, "short": 1}
        lines = sorted(lines, key=lambda ln: rank.get(ln.axis, 2))
        sizes = ", ".join(f"{ln.axis} {_mm(ln.length_mm)}" for ln in lines)
        caption = f"<figcaption><b>{e(timepoint)}</b> {e(date)}<br>{e(sizes)}</figcaption>"
        main = lines[0]
        shown = [ln for ln in lines if (ln.sop_instance_uid, ln.frame) == (main.sop_instance_uid, main.frame)]
        if self.embedded >= self.limit:
            note = f"not embedded: the report holds at most {self.limit} key images"
            return f'<figure class="key"><div class="missing">{e(note)}</div>{caption}</figure>'
        try:
            png, why = self._thumbnail(main, shown)
        except Exception as exc:  # a broken image is a note in the page, never a failed report
            png, why = None, f"cannot draw the image: {type(exc).__name__}"
        if png is None:
            return f'<figure class="key"><div class="missing">{e(why)}</div>{caption}</figure>'
        self.embedded += 1
        alt = f"{lesion} at {timepoint}: {sizes}, line drawn on image {main.sop_instance_uid}"
        data = base64.b64encode(png).decode("ascii")
        return (
            f'<figure class="key"><img src="data:image/png;base64,{data}" width="{THUMB_PX}" height="{THUMB_PX}" '
            f'alt="{e(alt)}">{caption}</figure>'
        )

    def _resolve(self, name: str) -> Path | None:
        """The image file: as written (relative to the working directory), else relative to the run folder."""
        if not name:
            return None
        path = Path(name)
        for candidate in (path, self.folder / path):
            if candidate.is_file():
                return candidate
        return None

    def _thumbnail(self, main: Line, lines: list[Line]) -> tuple[bytes | None, str]:
        grey, why = _read_image(self._resolve(main.image_file), main)
        if grey is None:
            return None, why
        rows, cols = grey.shape[:2]
        pts = np.array([p for ln in lines for p in (ln.start, ln.end)], dtype=np.float64)
        if (pts < 0).any() or (pts[:, 0] > cols).any() or (pts[:, 1] > rows).any():
            return None, f"the line lies outside the image ({cols} x {rows} pixels)"
        x0, y0, side = crop_box(pts, max(ln.length_px for ln in lines), cols, rows)
        return _png(grey[y0 : y0 + side[1], x0 : x0 + side[0]], lines, x0, y0), ""


def _mm(text: str) -> str:
    """A recorded length for a caption, to 0.1 mm (``12.3 mm``); the text as written when it is no number."""
    try:
        return f"{float(text):.1f} mm"
    except ValueError:
        return f"{text} mm" if text else "(no size)"


def crop_box(points: NDArray[np.float64], length_px: float, cols: int, rows: int) -> tuple[int, int, tuple[int, int]]:
    """Top left pixel and (width, height) of the crop: a square of ``CROP_FACTOR`` times ``length_px`` (at least
    ``MIN_CROP_PX``) centred on the points, moved inside the image and cut to it when the image is smaller."""
    want = max(MIN_CROP_PX, math.ceil(CROP_FACTOR * length_px))
    cx, cy = points[:, 0].mean(), points[:, 1].mean()
    width, height = min(want, cols), min(want, rows)
    x0 = int(min(max(round(cx - width / 2), 0), cols - width))
    y0 = int(min(max(round(cy - height / 2), 0), rows - height))
    return x0, y0, (width, height)


def _read_image(path: Path | None, line: Line) -> tuple[NDArray[Any] | None, str]:
    """The 8-bit grey (or RGB) pixels of the image (frame) a line was drawn on, or None and why not."""
    if path is None:
        name = Path(line.image_file).name if line.image_file else f"image {line.sop_instance_uid}"
        return None, f"image not at hand ({name})" if line.image_file else f"{name} was not among the inputs"
    from pydicom.pixels import apply_modality_lut

    from irrecist.dicomio import dcmread

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path)
            arr = np.asarray(ds.pixel_array)
    except Exception as exc:
        return None, f"cannot read the image {path.name}: {type(exc).__name__}"
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames > 1:
        index = (line.frame or 1) - 1
        if not 0 <= index < arr.shape[0]:
            return None, f"frame {line.frame} is not in {path.name} ({frames} frames)"
        arr = arr[index]
    if samples == 3 and arr.ndim == 3:
        return arr.astype(np.uint8) if arr.dtype == np.uint8 else _stretch(arr.astype(np.float64)), ""
    if arr.ndim != 2:
        return None, f"{path.name}: pixel data of shape {arr.shape} is not one grey image"
    values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    window = _window(ds)
    if window is not None:
        lo, hi = window
        grey = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    else:
        grey = values  # windowed on the crop (percentiles), see _png
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        grey = (grey.max() + grey.min()) - grey
    return (grey * 255).round().astype(np.uint8) if window is not None else grey, ""


def _window(ds: Any) -> tuple[float, float] | None:
    """(low, high) of the first Window Center / Width (PS3.3 C.11.2.1.2), or None."""
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    try:
        c = float(centre[0] if hasattr(centre, "__len__") and not isinstance(centre, str) else centre)
        w = float(width[0] if hasattr(width, "__len__") and not isinstance(width, str) else width)
    except (TypeError, ValueError, IndexError):
        return None
    if not (math.isfinite(c) and math.isfinite(w)) or w <= 1:
        return None
    return c - w / 2, c + w / 2


def _stretch(values: NDArray[np.float64]) -> NDArray[np.uint8]:
    lo, hi = np.percentile(values, PERCENTILES) if values.size else (0.0, 1.0)
    scale = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return (np.clip(scale, 0.0, 1.0) * 255).round().astype(np.uint8)


def _png(crop: NDArray[Any], lines: list[Line], x0: int, y0: int) -> bytes:
    """The crop scaled to ``THUMB_PX`` (longest side) with the lines drawn, as PNG bytes (deterministic)."""
    from PIL import Image, ImageDraw

    pixels = crop if crop.dtype == np.uint8 else _stretch(np.asarray(crop, dtype=np.float64))
    image = Image.fromarray(pixels).convert("RGB")
    height, width = pixels.shape[:2]
    scale = THUMB_PX / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
    if size != (THUMB_PX, THUMB_PX):  # a non-square crop (image smaller than the crop) is padded in black
        canvas = Image.new("RGB", (THUMB_PX, THUMB_PX))
        canvas.paste(image, (0, 0))
        image = canvas
    draw = ImageDraw.Draw(image)
    for ln in lines:
        # pixel (0, 0) of the drawing is centred on (0, 0); a SCOORD point is relative to the pixels' corners
        ends = [((x - x0) * scale - 0.5, (y - y0) * scale - 0.5) for x, y in (ln.start, ln.end)]
        colour = AXIS_COLOURS.get(ln.axis, (255, 64, 64))
        draw.line(ends, fill=(0, 0, 0), width=4)  # a dark halo keeps the line visible on bright tissue
        draw.line(ends, fill=colour, width=2)
        for x, y in ends:
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=colour)
    out = io.BytesIO()
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()
