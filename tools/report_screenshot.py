"""Render a run's report.html in headless Chromium to a PNG and check that the picture is not blank.

Usage::

    irrecist score test_images --out /tmp/demo_out          # writes /tmp/demo_out/report.html
    python tools/report_screenshot.py /tmp/demo_out/report.html --out /tmp/report.png [--width 1280 --height 4000]
    python tools/report_screenshot.py /tmp/demo_out --section subject-DEMO-001 --out /tmp/subject.png --height 2400

Needs a Chromium binary (Debian: ``apt-get install chromium``; or pass ``--chromium PATH``). Chromium runs
with a throw-away profile, no network services and, as root, without its sandbox. The screenshot is the top
``--height`` pixels of the page; with ``--section ID`` the page is cut down to the element with that id (e.g. a
subject's section ``subject-DEMO-001`` with its key images, or ``keyimages-DEMO-001``), kept with the page's
style, so that a part far down the page is rendered at the top (Chromium's headless screenshot does not scroll
to a ``#fragment``). Exit code 0 when the PNG was written and looks like a page (enough
non-background pixels, several colours), 1 when it looks blank, 2 when Chromium is missing or fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MIN_INK_FRACTION = 0.02
"""At least this share of pixels must differ from the page background."""
MIN_COLOURS = 8
"""At least this many distinct colours (text, tables, plots) must be present."""


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable: ``explicit``, ``$CHROMIUM`` or the first candidate on PATH."""
    for name in (explicit, os.environ.get("CHROMIUM"), *CANDIDATES):
        if name and (found := shutil.which(name)):
            return found
    return None


def screenshot(html: Path, out: Path, *, width: int = 1280, height: int = 4000, chromium: str | None = None) -> None:
    """Render ``html`` with headless Chromium into the PNG ``out``; raises RuntimeError on failure."""
    exe = find_chromium(chromium)
    if exe is None:
        raise RuntimeError("no Chromium found: install it (apt-get install chromium) or pass --chromium PATH")
    with tempfile.TemporaryDirectory(prefix="irrecist-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out.resolve()}",
            html.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        out.unlink(missing_ok=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


def section_page(text: str, ident: str) -> str:
    """The report page with only the element ``id="ident"`` in its body (its head, hence its style, kept);
    ValueError when there is no such element."""
    start = re.search(rf'<(\w+)[^>]*\sid="{re.escape(ident)}"', text)
    if start is None:
        raise ValueError(f"no element with id {ident!r}")
    tag, depth, pos = start.group(1), 0, start.start()
    for m in re.compile(rf"<(/?){tag}\b[^>]*>").finditer(text, pos):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            head = text[: text.index("<body>") + len("<body>")]
            return f"{head}<main>{text[pos : m.end()]}</main></body></html>\n"
    raise ValueError(f"the element with id {ident!r} is not closed")


def blank_check(png: Path) -> tuple[bool, float, int]:
    """(looks like a page, share of non-background pixels, distinct colours) of a screenshot."""
    img = np.asarray(Image.open(png).convert("RGB"))
    flat = img.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    ink = float(np.any(flat != background, axis=1).mean())
    return ink >= MIN_INK_FRACTION and len(colours) >= MIN_COLOURS, ink, len(colours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="report.html (or a run folder holding it)")
    parser.add_argument("--out", type=Path, default=Path("report.png"), help="PNG to write (default report.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--chromium", help="Chromium executable (default: $CHROMIUM or chromium on PATH)")
    parser.add_argument("--section", metavar="ID", help="render only the element with this id (e.g. subject-DEMO-001)")
    args = parser.parse_args(argv)
    html = args.html / "report.html" if args.html.is_dir() else args.html
    if not html.is_file():
        print(f"report_screenshot: {html}: no such file", file=sys.stderr)
        return 2
    try:
        if args.section:
            with tempfile.TemporaryDirectory(prefix="irrecist-section-") as tmp:
                page = Path(tmp) / "section.html"
                page.write_text(section_page(html.read_text(encoding="utf-8"), args.section), encoding="utf-8")
                screenshot(page, args.out, width=args.width, height=args.height, chromium=args.chromium)
        else:
            screenshot(html, args.out, width=args.width, height=args.height, chromium=args.chromium)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"report_screenshot: {exc}", file=sys.stderr)
        return 2
    ok, ink, colours = blank_check(args.out)
    print(
        f"{args.out}: {args.width}x{args.height}, {ink:.1%} non-background pixels, {colours} colours: "
        + ("looks like a page" if ok else "BLANK")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
