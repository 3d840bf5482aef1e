"""A finished scoring run read back from its output folder (timepoints.csv, subjects.csv, summary.json,
errors.csv), for the plots and the HTML report.

Everything is read as text exactly as written (``dtype=str``, empty cells stay ``""``), so a report made
from the folder shows the very values of the tables; numbers are parsed only where a plot needs them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from irrecist.errors import InputError

REQUIRED_FILES = ("timepoints.csv", "subjects.csv", "summary.json")
"""Files a run folder must hold; ``errors.csv`` and ``lines.csv`` are optional (read as empty when missing)."""
LINE_FILE = "lines.csv"
LINE_KEYS = ("subject_id", "reader", "timepoint", "lesion_id", "axis", "x1", "y1", "x2", "y2", "image_file")
"""Columns of lines.csv the report needs (``irrecist.extract.LINE_COLUMNS``)."""

CRITERION_NAMES = {"irrecist": "irRECIST", "recist1.1": "RECIST 1.1"}
"""Display names of the criteria."""

BURDEN_NAMES = {"irrecist": "TMTB", "recist1.1": "sum of diameters"}
"""The burden whose percentage change the criterion scores (decisions.md 3 and 4)."""

BOR_KEYS = ("CR", "PR", "SD", "NN", "PD", "NE", "ND", "MISSING")
"""Criterion-neutral response keys, best first (the BOR ranking of ``irrecist.rules.responses``)."""

Row = dict[str, str]
"""One table row as written: column name -> cell text (``""`` for an empty cell)."""


def response_key(label: str) -> str:
    """Criterion-neutral key of a response label: ``irPR`` -> ``PR``, ``NON-CR/NON-PD`` / ``irNN`` -> ``NN``."""
    if label in ("NON-CR/NON-PD", "irNN"):
        return "NN"
    if label.startswith("ir") and label[2:] in BOR_KEYS:
        return label[2:]
    return label


def number(text: str) -> float | None:
    """A table cell as a float; ``None`` for an empty or non-numeric cell."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class Entity:
    """One scored unit of a criterion: a subject as read by one reader."""

    subject_id: str
    reader: str

    @property
    def label(self) -> str:
        """Display label: the subject id, with the reader in parentheses when there is one."""
        return f"{self.subject_id} ({self.reader})" if self.reader else self.subject_id


@dataclass(frozen=True)
class RunResults:
    """The tables of one run folder, as written."""

    folder: Path
    timepoints: pd.DataFrame
    subjects: pd.DataFrame
    summary: dict[str, Any]
    errors: pd.DataFrame

    @property
    def criteria(self) -> list[str]:
        """Criteria of the run, in the order of summary.json."""
        return list(self.summary.get("criteria", {}))

    def options(self, criterion: str) -> dict[str, Any]:
        """The options the criterion was scored with (values as written in summary.json)."""
        return dict(self.summary["criteria"][criterion].get("options") or {})

    def option_number(self, criterion: str, name: str, default: float) -> float:
        """A numeric option of the run, e.g. ``pd_min_increase_pct``; ``default`` when absent."""
        value = number(str(self.options(criterion).get(name, "")))
        return default if value is None else value

    def subjects_of(self, criterion: str) -> pd.DataFrame:
        """Rows of subjects.csv for one criterion, in file order."""
        return self.subjects[self.subjects["criterion"] == criterion]

    def subject_rows(self, criterion: str) -> list[tuple[Entity, Row]]:
        """(entity, subjects.csv row) pairs of one criterion, in file order (grouped once per run)."""
        return self._subject_rows.get(criterion, [])

    def iter_subject_rows(self, criterion: str) -> Iterator[tuple[Entity, Row]]:
        """(entity, subjects.csv row) pairs of one criterion."""
        yield from self.subject_rows(criterion)

    def timeline_rows(self, criterion: str, entity: Entity, columns: Sequence[str] | None = None) -> list[Row]:
        """Rows of timepoints.csv for one subject and reader under one criterion, in file (date) order; only
        ``columns`` (those present) when given."""
        names = self.timepoints.columns if columns is None else [c for c in columns if c in self.timepoints.columns]
        cols = {str(c): self.column(str(c)) for c in names}
        return [{c: values[i] for c, values in cols.items()} for i in self.timeline_positions(criterion, entity)]

    def timeline_positions(self, criterion: str, entity: Entity) -> list[int]:
        """Positions (0-based rows) in timepoints.csv of one subject and reader under one criterion, in order."""
        return self._timeline_index.get((criterion, *_key(entity)), [])

    def column(self, name: str) -> list[str]:
        """One column of timepoints.csv as a list of cell texts (converted once per run)."""
        cache = self._timepoint_columns
        if name not in cache:
            cache[name] = self.timepoints[name].tolist()
        return cache[name]

    def timeline(self, criterion: str, entity: Entity) -> pd.DataFrame:
        """Rows of timepoints.csv for one subject and reader under one criterion, in file (date) order."""
        return self.timepoints.iloc[self.timeline_positions(criterion, entity)]

    def errors_of(self, subject_id: str) -> list[Row]:
        """Rows of errors.csv about one subject, in file order."""
        return self._errors_by_subject.get(subject_id, [])

    def entities(self, criterion: str | None = None) -> list[Entity]:
        """Subjects (per reader) in first-seen order, for one criterion or all."""
        rows = self.subjects if criterion is None else self.subjects_of(criterion)
        seen: dict[Entity, None] = {}
        for sid, reader in zip(rows["subject_id"], rows["reader"], strict=True):
            seen.setdefault(Entity(sid, reader), None)
        return list(seen)

    # Grouped once, on first use (cached_property writes the instance __dict__, allowed on a frozen dataclass).

    def lines_of(self, entity: Entity) -> list[Row]:
        """Rows of lines.csv (the measured lines, for key images) of one subject and reader, in file order."""
        return self._lines.get(_key(entity), [])

    @cached_property
    def _lines(self) -> dict[tuple[str, str], list[Row]]:
        """lines.csv grouped by (subject, reader); empty when the run has no usable lines.csv."""
        path = self.folder / LINE_FILE
        groups: dict[tuple[str, str], list[Row]] = {}
        if not path.is_file():
            return groups
        try:
            frame = _read_csv(path, LINE_KEYS)
        except InputError:
            return groups  # the report says nothing of key images then; lines.csv is for review
        for row in records(frame):
            groups.setdefault((row["subject_id"], row["reader"]), []).append(row)
        return groups

    @cached_property
    def _subject_rows(self) -> dict[str, list[tuple[Entity, Row]]]:
        groups: dict[str, list[tuple[Entity, Row]]] = {}
        for row in records(self.subjects):
            groups.setdefault(row["criterion"], []).append((Entity(row["subject_id"], row["reader"]), row))
        return groups

    @cached_property
    def cache(self) -> dict[Any, Any]:
        """Scratch space for data derived from this run once and used by several readers (e.g. the plots)."""
        return {}

    @cached_property
    def _timepoint_columns(self) -> dict[str, list[str]]:
        """timepoints.csv columns as lists, converted on first use (``column``)."""
        return {}

    @cached_property
    def _timeline_index(self) -> dict[tuple[str, str, str], list[int]]:
        """Positions of the timepoints.csv rows of each (criterion, subject, reader), in file order."""
        index: dict[tuple[str, str, str], list[int]] = {}
        keys = zip(self.column("criterion"), self.column("subject_id"), self.column("reader"), strict=True)
        for i, key in enumerate(keys):
            index.setdefault(key, []).append(i)
        return index

    @cached_property
    def _errors_by_subject(self) -> dict[str, list[Row]]:
        groups: dict[str, list[Row]] = {}
        for row in records(self.errors):
            groups.setdefault(row["subject_id"], []).append(row)
        return groups


def _key(entity: Entity) -> tuple[str, str]:
    return entity.subject_id, entity.reader


def records(frame: pd.DataFrame) -> list[Row]:
    """The rows of a text frame as dicts, in order; much faster than ``to_dict("records")`` on string columns."""
    names = [str(c) for c in frame.columns]
    columns = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a CSV table ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; is this an irrecist output folder?")
    return df


def missing_files(folder: Path) -> list[str]:
    """Names of the required run files that ``folder`` lacks (all of them when it is not a folder)."""
    if not folder.is_dir():
        return list(REQUIRED_FILES)
    return [name for name in REQUIRED_FILES if not (folder / name).is_file()]


def load_run(folder: Path) -> RunResults:
    """Read a finished run's output folder; ``InputError`` says which file is missing or unusable."""
    missing = missing_files(folder)
    if missing:
        raise InputError(
            f"{folder}: not an irrecist output folder: missing {', '.join(missing)} "
            "(run `irrecist score INPUT --out DIR` first)"
        )
    tp = _read_csv(folder / "timepoints.csv", ("subject_id", "reader", "criterion", "timepoint", "study_day"))
    subj = _read_csv(folder / "subjects.csv", ("subject_id", "reader", "criterion", "bor"))
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder / 'summary.json'}: not valid JSON ({exc})") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("criteria"), dict):
        raise InputError(f"{folder / 'summary.json'}: no 'criteria' object; is this an irrecist summary?")
    err_path = folder / "errors.csv"
    cols = ("level", "source", "subject_id", "lesion_id", "timepoint", "message")
    errors = _read_csv(err_path, cols) if err_path.is_file() else pd.DataFrame(columns=list(cols), dtype=str)
    return RunResults(folder, tp, subj, summary, errors)
