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
from irrecist.lesions.table import TABLE_SUFFIXES, read_frame, read_subject_table, subject_infos
from irrecist.model import SubjectInfo


@dataclass
class Collected:
    frames: list[tuple[pd.DataFrame, str, int]] = field(default_factory=list)
    info: dict[str, SubjectInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)  # subject ids met in DICOM and annotations (pseudonymization)
    lines: pd.DataFrame | None = None  # lines.csv of the extraction (None: no folder or DICOM input)


def load_subject_table(
    subjects: Path | pd.DataFrame | None,
) -> tuple[dict[str, SubjectInfo], list[Problem]]:
    """The optional subject table, from a file or from a frame of text cells (``read_frame``'s shape), with
    the rows it could not use as located errors."""
    if subjects is None:
        return {}, []
    if isinstance(subjects, pd.DataFrame):
        source = "subjects DataFrame"
        info, msgs = subject_infos(subjects, source, 0)
    else:
        source = str(subjects)
        info, msgs = read_subject_table(subjects)
    return info, [Problem(Level.ERROR, source, "", "", "", m) for m in msgs]


def collect_tables(
    paths: Sequence[Path],
    subjects_table: Path | pd.DataFrame | None = None,
    annotations: Sequence[Path] = (),
    workers: int = 1,
    dask: str | None = None,
) -> Collected:
    """Lesion tables among ``paths``: a table file given by name is scored as it is; folders and other files
    go through the study index and the readers (``irrecist.extract``), with the tables found beside them and
    ``annotations`` merged in. Every file met is either used or listed in the problems."""
    got = Collected()
    got.info, subject_problems = load_subject_table(subjects_table)
    got.problems.extend(subject_problems)
    tables = [p for p in paths if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES]
    others = [p for p in paths if p not in tables]
    for f in tables:
        try:
            df, offset = read_frame(f)
            check_columns(list(df.columns), str(f))
            got.frames.append((df, str(f), offset))
        except InputError as exc:
            got.problems.append(Problem(Level.ERROR, str(f), "", "", "", str(exc)))
    if others:
        from irrecist.extract import extract_paths

        ex = extract_paths(others, annotations, workers=workers, dask=dask)
        got.problems.extend(ex.problems)
        got.seen_ids |= ex.seen_ids
        got.lines = ex.lines_frame()
        if len(ex.lesions):
            names = ", ".join(str(p) for p in others)
            got.frames.append((ex.lesions, f"lesion table extracted from {names}", 2))
    return got


def require_tables(got: Collected) -> Collected:
    """Raise when nothing scorable was found, quoting the first error (call after any pseudonymization, so
    the message carries the same ids as the outputs)."""
    if not got.frames:
        first = next((p.message for p in got.problems if p.level is Level.ERROR), "no lesion found")
        raise InputError(f"nothing to score: {first}")
    return got
