"""Collect scoring inputs: lesion tables given directly or found in folders, and the subject table.

Composition layer between the file system and the engine: every file met is either used or reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from irrecist.errors import InputError, Level, Problem
from irrecist.lesion_table import check_columns
from irrecist.lesions.table import is_lesion_table, read_frame, read_subject_table
from irrecist.model import SubjectInfo


@dataclass
class Collected:
    frames: list[tuple[pd.DataFrame, str, int]] = field(default_factory=list)
    info: dict[str, SubjectInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")))
        else:
            out.append(p)
    return out


def collect_tables(paths: Sequence[Path], subjects_table: Path | None = None) -> Collected:
    """Lesion tables among ``paths`` (files or folders). A file given by name must be a lesion table; other
    files found in folders are listed in the problems, never silently skipped."""
    got = Collected()
    if subjects_table is not None:
        got.info, msgs = read_subject_table(subjects_table)
        got.problems.extend(Problem(Level.ERROR, str(subjects_table), "", "", "", m) for m in msgs)
    explicit = {p for p in paths if not p.is_dir()}
    for f in _files(paths):
        if f in explicit or is_lesion_table(f):
            try:
                df, offset = read_frame(f)
                check_columns(list(df.columns), str(f))
                got.frames.append((df, str(f), offset))
            except InputError as exc:
                got.problems.append(Problem(Level.ERROR, str(f), "", "", "", str(exc)))
        elif f.suffix.lower() != ".md":
            got.problems.append(
                Problem(Level.WARNING, str(f), "", "", "", "not a lesion table: not read by `irrecist score`")
            )
    if not got.frames:
        first = next((p.message for p in got.problems if p.level is Level.ERROR), "no lesion table found")
        raise InputError(f"nothing to score: {first}")
    return got
