"""Result tables of a scoring run (timepoints, subjects, summary, errors) and their atomic writing.

Columns follow the scoring issue: responses carry the criterion's own labels, booleans are written
``true`` / ``false``, lengths in millimetres, dates ISO 8601. Files are written to a temporary name and
renamed when complete, so an interrupted run never leaves a half-written table that looks finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from irrecist.cohort import EPOCH, NONE
from irrecist.endpoints import Landmark, endpoints
from irrecist.errors import ERROR_COLUMNS
from irrecist.files import atomic_write, write_csv
from irrecist.rules.reasons import pct_tenths_array, words
from irrecist.rules.responses import Response, label, labels
from irrecist.rules.subject import SubjectScore
from irrecist.rules.timepoint import NEW_LESION_WORDS, NONTARGET_CATEGORIES, RESPONSES, TARGET_CATEGORIES
from irrecist.scoring import ScoreRun
from irrecist.threads import side_by_side

TIMEPOINT_COLUMNS = [
    "subject_id", "reader", "criterion", "timepoint", "date", "study_day", "target_sum_mm", "new_lesions_mm",
    "tmtb_mm", "baseline_mm", "nadir_mm", "pct_from_baseline", "pct_from_nadir", "change_from_nadir_mm",
    "target_response", "nontarget_response", "new_lesions", "response", "pd_status", "reason",
]  # fmt: skip
SUBJECT_COLUMNS = [
    "subject_id", "reader", "criterion", "baseline_eligible", "ineligible_lesions", "measurable_disease",
    "baseline_mm", "bor", "bor_confirmed", "bor_date", "first_response_date", "pd_date", "pd_confirmed",
    "duration_of_response_days", "best_pct_change", "assessments", "qc_flags",
]  # fmt: skip


def _mm(um: int | None) -> float | None:
    return None if um is None else um / 1000


def _bool(v: bool | None) -> str:
    return "" if v is None else ("true" if v else "false")


def _cat(value: str | None, ir: bool) -> str:
    if not value or value == "NONE":
        return ""
    if ir and value != "NON-CR/NON-PD":
        return "ir" + value
    return value


category_label = _cat
"""Public name of ``_cat``: a target / non-target category in the criterion's spelling (``irPR``, ``NON-CR/NON-PD``;
empty for ``NONE``). Used by ``irrecist.cdisc``."""


def _num(d: Any) -> float | None:
    return None if d is None else float(d)


def subject_row(s: SubjectScore) -> tuple[Any, ...]:
    """One row of subjects.csv, in ``SUBJECT_COLUMNS`` order."""
    cfg = s.config
    b = s.baseline
    confirmed = s.bor.confirmed if s.bor.bor in (Response.CR, Response.PR, Response.PD) else None
    return (
        s.subject_id, s.reader, cfg.name, _bool(b.eligible), ";".join(b.ineligible_lesions),
        _bool(b.measurable_disease), _mm(b.sum_um), label(s.bor.bor, cfg), _bool(confirmed),
        s.bor.date.isoformat() if s.bor.date else "",
        s.first_response_date.isoformat() if s.first_response_date else "",
        s.pd_date.isoformat() if s.pd_date else "", _bool(s.pd_confirmed if s.pd_date else None),
        s.duration_of_response_days, _num(s.best_pct_change), len(s.timepoints), " | ".join(s.qc_flags),
    )  # fmt: skip


def timepoints_frame(run: ScoreRun) -> pd.DataFrame:
    """timepoints.csv: one row per assessment of every scored subject, built column-wise from the engine's
    arrays (``irrecist.rules.timepoint.Timepoints``); text columns are Arrow-backed strings."""
    blocks = [_timepoint_columns(block) for crun in run.runs.values() for block in _blocks(crun.scores)]
    if not blocks:
        return pd.DataFrame(columns=TIMEPOINT_COLUMNS)
    columns: dict[str, Any] = {}
    for name in TIMEPOINT_COLUMNS:
        parts = [b[name] for b in blocks]
        if isinstance(parts[0], pa.Array):
            columns[name] = pd.array(parts[0] if len(parts) == 1 else pa.concat_arrays(parts), dtype=TEXT)
        else:
            columns[name] = np.concatenate(parts)
    return pd.DataFrame(columns)


def _text_dtype() -> Any:
    """pandas' own text dtype on Arrow storage: ``str`` in pandas 3 (missing is NaN), ``string[pyarrow]`` in 2."""
    try:
        return pd.StringDtype("pyarrow", na_value=np.nan)  # type: ignore[call-arg, unused-ignore]
    except TypeError:
        return pd.StringDtype("pyarrow")


TEXT = _text_dtype()


def _blocks(scores: list[SubjectScore]) -> list[list[SubjectScore]]:
    """Runs of consecutive subjects scored in one engine pass (sharing their arrays)."""
    out: list[list[SubjectScore]] = []
    for s in scores:
        if out and out[-1][0].timepoints.source[1] is s.timepoints.source[1]:
            out[-1].append(s)
        else:
            out.append([s])
    return out


def _pct_column(value: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``pct_tenths(value, reference) / 10`` elementwise (NaN where either is missing or the reference is 0):
    the same exact integer rounding, divided once."""
    ok = (value >= 0) & (reference > 0)
    return np.where(ok, pct_tenths_array(value, reference) / 10, np.nan)


def _mm_column(um: np.ndarray) -> np.ndarray:
    return np.where(um >= 0, um / 1000, np.nan)


def _timepoint_columns(scores: list[SubjectScore]) -> dict[str, Any]:
    c, tps, _, _ = scores[0].timepoints.source
    cfg = scores[0].config
    ir = cfg.name == "irrecist"
    ranges = np.asarray([s.timepoints.source[2:] for s in scores], dtype=np.int64).reshape(-1, 2)
    lengths = ranges[:, 1] - ranges[:, 0]
    first = np.repeat(ranges[:, 0], lengths)
    idx = first + np.arange(len(first), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    owner = pa.array(np.repeat(np.arange(len(scores)), lengths))
    take = pa.array(idx)
    base = tps.baseline[idx]
    is_base = idx == first
    follow = ~is_base
    burden, nadir = tps.burden[idx], np.where(follow, tps.nadir[idx], NONE)
    days = c.a_day[idx]
    refs = np.repeat(np.asarray([(s.reference_date - EPOCH).days for s in scores], dtype=np.int64), lengths)
    delta = days - refs
    labels_ = labels(cfg)

    no_value = np.full(len(idx), np.nan)

    def columns() -> dict[str, Any]:
        return {
            "subject_id": pa.array([s.subject_id for s in scores], pa.string()).take(owner),
            "reader": pa.array([s.reader for s in scores], pa.string()).take(owner),
            "criterion": pa.array([cfg.name], pa.string()).take(pa.array(np.zeros(len(idx), dtype=np.int64))),
            "timepoint": c.a_label_text.take(take),
            "date": pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.string()),
            "study_day": np.where(delta >= 0, delta + 1, delta),
            "target_sum_mm": _mm_column(tps.target_sum[idx]),
            "new_lesions_mm": _mm_column(tps.new[idx]) if ir else no_value,
            "tmtb_mm": _mm_column(burden) if ir else no_value,
            "baseline_mm": base / 1000,
            "nadir_mm": _mm_column(nadir),
            "pct_from_baseline": np.where(follow, _pct_column(burden, base), np.nan),
            "pct_from_nadir": _pct_column(burden, nadir),
            "change_from_nadir_mm": np.where((burden >= 0) & (nadir >= 0), (burden - nadir) / 1000, np.nan),
            "target_response": words([_cat(t.value, ir) for t in TARGET_CATEGORIES], tps.target[idx]),
            "nontarget_response": words([_cat(t.value, ir) for t in NONTARGET_CATEGORIES], tps.nontarget[idx]),
            "new_lesions": words(list(NEW_LESION_WORDS), np.where(follow, tps.new_lesions[idx], -1)),
            "response": words([labels_[r] for r in RESPONSES], tps.response[idx]),
            "pd_status": pa.array(tps.pd_status, pa.string()).take(take),
        }

    # the reasons (the largest column) beside the others: Arrow joins them without the GIL
    reason, rest = side_by_side(lambda: tps.reasons.text(idx), columns)
    return {**rest, "reason": reason}


def subjects_frame(run: ScoreRun) -> pd.DataFrame:
    rows = [subject_row(s) for crun in run.runs.values() for s in crun.scores]
    return pd.DataFrame.from_records(rows, columns=SUBJECT_COLUMNS)


def errors_frame(run: ScoreRun) -> pd.DataFrame:
    return pd.DataFrame([p.as_row() for p in run.problems], columns=ERROR_COLUMNS)


def summary(
    run: ScoreRun, *, exclude_ineligible: bool = False, orr_at: str | Landmark | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"criteria": {}}
    for name, crun in run.runs.items():
        block = endpoints(crun.scores, exclude_ineligible=exclude_ineligible, orr_at=orr_at)
        block["subjects_not_scored"] = len(crun.failed)
        block["options"] = {k: (str(v) if v is not None else None) for k, v in crun.config.options().items()}
        out["criteria"][name] = block
    out["errors"] = sum(1 for p in run.problems if p.level.value == "error")
    out["warnings"] = sum(1 for p in run.problems if p.level.value == "warning")
    return out


def write_run(
    run: ScoreRun,
    out: Path,
    *,
    exclude_ineligible: bool = False,
    orr_at: str | Landmark | None = None,
    xpt: bool = False,
    parquet: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """Write timepoints.csv, subjects.csv, summary.json, errors.csv, lines.csv (only when inputs were extracted)
    and the CDISC tables (``cdisc/``; SAS transport copies with ``xpt``, Parquet copies of every table with
    ``parquet``) into ``out``, then the plots and report.html unless ``report`` is false; returns the summary."""
    write_csv(timepoints_frame(run), out / "timepoints.csv")
    write_csv(subjects_frame(run), out / "subjects.csv")
    write_csv(errors_frame(run), out / "errors.csv")
    if run.lines is not None:  # the measured lines of extracted inputs, for the report's key images
        write_csv(run.lines, out / "lines.csv")
    summ = summary(run, exclude_ineligible=exclude_ineligible, orr_at=orr_at)
    text = json.dumps(summ, indent=2, sort_keys=False) + "\n"
    atomic_write(out / "summary.json", lambda p: p.write_text(text, encoding="utf-8"))
    from irrecist.cdisc import write_extras  # imports this module

    write_extras(run, out, xpt=xpt, parquet=parquet)
    if report:  # plots/ and report.html, built from the tables just written
        from irrecist.report import write_report  # imports this module

        write_report(out)
    return summ
