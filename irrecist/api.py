"""Python API: ``irrecist.score(table_or_paths, criterion="irrecist", **options)``.

The same composition as ``irrecist score`` (``irrecist.scoring``, ``irrecist.output``, ``irrecist.cdisc``),
returning the tables as pandas DataFrames instead of files, so the numbers are the CLI's numbers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from irrecist.cdisc import cdisc_frames, write_cdisc
from irrecist.endpoints import Landmark
from irrecist.errors import ConfigError, InputError
from irrecist.inputs import Collected, load_subject_table
from irrecist.output import errors_frame, subjects_frame, summary, timepoints_frame, write_run
from irrecist.pseudonym import Pseudonymizer
from irrecist.rules.config import load_protocol
from irrecist.scoring import ScoreRun, make_configs, score_collected, score_paths

PathLike = str | os.PathLike[str]
FRAME_SOURCE = "DataFrame"
"""Source named in problems about a lesion table given as a DataFrame (rows are 0-based positions)."""


@dataclass
class ScoreResult:
    """Everything one scoring produced. ``summary`` is the dict written as ``summary.json``; the frames have
    the columns of the CSV files (``timepoints``, ``subjects``, ``errors``) and ``cdisc`` holds ``tu``,
    ``tr``, ``rs`` and ``adrs`` (see the README, "CDISC tables")."""

    run: ScoreRun
    timepoints: pd.DataFrame
    subjects: pd.DataFrame
    summary: dict[str, Any]
    errors: pd.DataFrame
    cdisc: dict[str, pd.DataFrame]
    exclude_ineligible: bool = False
    orr_at: str | Landmark | None = None
    studyid: str = ""

    @property
    def complete(self) -> bool:
        """Every subject was scored under every criterion and no row was dropped (CLI exit code 0)."""
        return self.run.complete

    def write(self, out: PathLike, *, xpt: bool = False, parquet: bool = False) -> None:
        """Write the files ``irrecist score --out`` writes (same bytes for the same input)."""
        folder = Path(out)
        write_run(
            self.run, folder, exclude_ineligible=self.exclude_ineligible, orr_at=self.orr_at, xpt=xpt, parquet=parquet
        )
        if self.studyid:
            write_cdisc(self.cdisc, folder / "cdisc", xpt=xpt, parquet=parquet)


def _cell(value: Any) -> str:
    """One cell as the text a CSV reader would give (dates ISO 8601, booleans true/false)."""
    if isinstance(value, datetime):
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_text(df: pd.DataFrame) -> pd.DataFrame:
    """A table of text cells, empty for missing, the way ``irrecist.lesions.table.read_frame`` reads files."""
    out: dict[str, pd.Series] = {}
    for col in df.columns:
        s = df[col].reset_index(drop=True)
        missing = s.isna()
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.astype(object)
        out[str(col)] = s.astype(object).map(lambda v: "" if v is None or v is pd.NaT else _cell(v)).where(~missing, "")
    return pd.DataFrame(out, columns=[str(c) for c in df.columns]).astype(str)


def _paths(value: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [value] if isinstance(value, str | os.PathLike) else list(value)
    paths = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise TypeError(f"expected a DataFrame, a path or a list of paths; got {type(item).__name__}")
        p = Path(item)
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        paths.append(p)
    if not paths:
        raise InputError("no input: give a lesion table (DataFrame), a path or a list of paths")
    return paths


def _protocol(protocol: Mapping[str, Any] | PathLike | None) -> dict[str, Any] | None:
    if protocol is None:
        return None
    if isinstance(protocol, Mapping):
        return dict(protocol)
    if isinstance(protocol, str | os.PathLike):
        return load_protocol(Path(protocol))
    raise ConfigError(f"protocol: expected a mapping of options or a TOML/JSON file; got {type(protocol).__name__}")


def score(
    table_or_paths: pd.DataFrame | PathLike | Sequence[PathLike],
    criterion: str = "irrecist",
    *,
    subjects: pd.DataFrame | PathLike | None = None,
    protocol: Mapping[str, Any] | PathLike | None = None,
    annotations: Sequence[PathLike] = (),
    workers: int = 1,
    exclude_ineligible: bool = False,
    orr_at: str | Landmark | None = None,
    studyid: str = "",
    strict: bool = False,
    pseudonymize: str | None = None,
    **options: Any,
) -> ScoreResult:
    """Score a lesion table (DataFrame with the columns of spec/lesion-table.md), a file or folder, or a list
    of them, as ``irrecist score`` does.

    ``criterion`` is ``irrecist`` (default), ``recist1.1`` or ``all``. ``options`` are the ``--set`` options
    (``irrecist options``; decisions.md), e.g. ``pd_confirm_max_days=84, confirm_response=False``; they win
    over ``protocol`` (a mapping or a TOML/JSON file), which wins over the profile defaults. ``subjects`` is
    the subject table (DataFrame or file). ``studyid`` fills STUDYID of the CDISC tables. ``orr_at`` adds the
    landmark ORR: a visit label, or ``Landmark(day=28, anchor="last_treatment")`` for the assessment nearest
    day 28 after the last treatment (within +- 7 days unless ``window_days`` says otherwise).

    ``strict`` and ``pseudonymize`` (a secret, or ``env:NAME``) work as ``--strict`` and ``--pseudonymize``.

    Raises ``ConfigError`` for an unknown criterion or option or a bad value, ``InputError`` for a missing
    path or a lesion table without its required columns. Problems with single subjects or rows do not raise:
    they are in ``result.errors`` (and ``result.complete`` is false), as in ``errors.csv``.
    """
    configs = make_configs([criterion], options, _protocol(protocol))
    if isinstance(subjects, pd.DataFrame):
        subject_table: Path | pd.DataFrame | None = as_text(subjects)
    else:
        subject_table = Path(subjects) if subjects is not None else None
    pseudonym = Pseudonymizer.from_secret(pseudonymize) if pseudonymize is not None else None
    if isinstance(table_or_paths, pd.DataFrame):
        info, problems = load_subject_table(subject_table)
        got = Collected(frames=[(as_text(table_or_paths), FRAME_SOURCE, 0)], info=info, problems=problems)
        run = score_collected(got, configs, pseudonym=pseudonym, strict=strict)
    else:
        extra = [Path(a) for a in annotations]
        paths = _paths(table_or_paths)
        run = score_paths(paths, configs, subject_table, extra, workers, pseudonym=pseudonym, strict=strict)
    return ScoreResult(
        run=run,
        timepoints=timepoints_frame(run),
        subjects=subjects_frame(run),
        summary=summary(run, exclude_ineligible=exclude_ineligible, orr_at=orr_at),
        errors=errors_frame(run),
        cdisc=cdisc_frames(run, studyid=studyid),
        exclude_ineligible=exclude_ineligible,
        orr_at=orr_at,
        studyid=studyid,
    )

