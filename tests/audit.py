"""What the process opens and connects to, seen through Python audit hooks (PEP 578), for tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_STATE: dict[str, Any] = {"on": False, "under": (), "seen": []}


def _writes(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _STATE["on"]:
        return
    if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
        path = os.path.abspath(os.fsdecode(args[0]))
        if any(path == u or path.startswith(u + os.sep) for u in _STATE["under"]):
            mode = args[1] if len(args) > 1 else None
            flags = args[2] if len(args) > 2 else None
            _STATE["seen"].append(("open-write" if _writes(mode, flags) else "open", path))
    elif event.startswith(("socket.", "urllib.")):
        _STATE["seen"].append((event, repr(args)[:80]))


sys.addaudithook(_hook)  # cannot be removed; it records only inside ``watching``


@contextmanager
def watching(*paths: Path) -> Iterator[list[tuple[str, str]]]:
    """Records ("open" or "open-write", path) for every file opened at or under ``paths``, and every socket or
    URL event, while the block runs."""
    _STATE.update(on=True, under=tuple(os.path.abspath(p) for p in paths), seen=[])
    try:
        yield _STATE["seen"]
    finally:
        _STATE["on"] = False
