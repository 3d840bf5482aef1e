"""A progress bar for long runs (many files or subjects): shown on a terminal, silent otherwise.

``progress(items, desc="reading DICOM")`` yields the items unchanged. The bar (tqdm) is drawn on stderr only
when stderr is a terminal, so logs, pipes, CI and tests see nothing at all; ``enabled=True`` forces it
(e.g. into a ``file`` for a test) and ``enabled=False`` silences it. ``IRRECIST_PROGRESS=0`` or ``1`` in the
environment overrides the terminal check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

ENV = "IRRECIST_PROGRESS"
"""Environment override: ``0`` never shows a bar, ``1`` always does."""


def bar_enabled(stream: TextIO | None = None) -> bool:
    """Whether a bar should be drawn on ``stream`` (default stderr): the override, else whether it is a tty."""
    env = os.environ.get(ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str = "",
    *,
    unit: str = "it",
    enabled: bool | None = None,
    file: TextIO | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable``, drawing a progress bar when enabled (default: stderr is a terminal).

    ``total`` defaults to ``len(iterable)`` when it has one. The bar is removed when the loop ends.
    """
    stream = sys.stderr if file is None else file
    show = bar_enabled(stream) if enabled is None else enabled
    if not show:
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    bar = tqdm(
        iterable,
        total=total,
        desc=desc or None,
        unit=unit,
        file=stream,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.2,
    )
    try:
        yield from bar
    finally:
        bar.close()
