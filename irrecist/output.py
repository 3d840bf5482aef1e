"""Result tables of a scoring run (timepoints, subjects, summary, errors) and their atomic writing.

Columns follow the scoring issue: responses carry the criterion's own labels, booleans are written
``true`` / ``false``, lengths in millimetres, dates ISO 8601. Files are written to a temporary name and
renamed when complete, so an interrupted run never leaves a half-written table that looks finished.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from irrecist.cohort import NONE, Cohort, IntArray, iso_dates, ranges
from irrecist.endpoints import Landmark, endpoints
from irrecist.errors import ERROR_COLUMNS
from irrecist.files import atomic_write, write_csv
from irrecist.rules.config import CriterionConfig
from irrecist.rules.confirmation import STATUSES
from irrecist.rules.reasons import pct_tenths_array, words
from irrecist.rules.responses import Response, response_words
from irrecist.rules.subject import NO_CHANGE, NOT_EVALUABLE, Scores, SubjectArrays, study_days
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


def category_label(value: str | None, ir: bool) -> str:
    """A target / non-target category in the criterion's spelling (``irPR``, ``NON-CR/NON-PD``; empty for
    ``NONE``)."""
    if not value or value == "NONE":
        return ""
    if ir and value != "NON-CR/NON-PD":
        return "ir" + value
    return value


@dataclass(frozen=True)
class CodeWords:
    """The words of the engine's codes in a criterion's spelling, indexed by code: target and non-target
    categories, new-lesion states and overall responses (timepoints.csv and the CDISC RS table)."""

    target: list[str]
    nontarget: list[str]
    new_lesions: list[str]
    response: list[str]


def code_words(cfg: CriterionConfig) -> CodeWords:
    """``CodeWords`` of criterion ``cfg``."""
    ir = cfg.name == "irrecist"
    return CodeWords(
        [category_label(t.value, ir) for t in TARGET_CATEGORIES],
        [category_label(t.value, ir) for t in NONTARGET_CATEGORIES],
        list(NEW_LESION_WORDS),
        response_words(cfg),
    )


def timepoints_frame(run: ScoreRun) -> pd.DataFrame:
    """timepoints.csv: one row per assessment of every scored subject, built column-wise from the engine's
    arrays (``irrecist.rules.timepoint.Timepoints``); text columns are Arrow-backed strings."""
    return _stacked([_timepoint_columns(crun.scores) for crun in run.runs.values() if len(crun.scores)],
                    TIMEPOINT_COLUMNS)  # fmt: skip


def _stacked(blocks: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    """One frame from blocks of columns (one block per criterion): Arrow text as pandas' Arrow-backed strings,
    numpy arrays as they are, lists of Python values as pandas infers them."""
    if not blocks:
        return pd.DataFrame(columns=names)
    columns: dict[str, Any] = {}
    for name in names:
        parts = [b[name] for b in blocks]
        if isinstance(parts[0], pa.Array):
            columns[name] = pd.array(parts[0] if len(parts) == 1 else pa.concat_arrays(parts), dtype=TEXT)
        elif isinstance(parts[0], np.ndarray):
            columns[name] = np.concatenate(parts)
        else:
            columns[name] = [x for part in parts for x in part]
    return pd.DataFrame(columns, columns=names)


def _text_dtype() -> Any:
    """pandas' own text dtype on Arrow storage: ``str`` in pandas 3 (missing is NaN), ``string[pyarrow]`` in 2."""
    try:
        return pd.StringDtype("pyarrow", na_value=np.nan)  # type: ignore[call-arg, unused-ignore]
    except TypeError:
        return pd.StringDtype("pyarrow")


TEXT = _text_dtype()


def _pct_column(value: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``pct_tenths(value, reference) / 10`` elementwise (NaN where either is missing or the reference is 0):
    the same exact integer rounding, divided once."""
    ok = (value >= 0) & (reference > 0)
    return np.where(ok, pct_tenths_array(value, reference) / 10, np.nan)


def _mm_column(um: np.ndarray) -> np.ndarray:
    return np.where(um >= 0, um / 1000, np.nan)


def _timepoint_columns(scores: Scores) -> dict[str, Any]:
    scored, kept = scores.scored, scores.kept
    c, tps, cfg = scored.cohort, scored.timepoints, scored.config
    ir = cfg.name == "irrecist"
    idx, owner_ = ranges(c.a_start[kept], c.a_start[kept + 1])
    first = c.a_start[c.a_entity[idx]]
    owner = pa.array(owner_)
    take = pa.array(idx)
    base = tps.baseline[idx]
    is_base = idx == first
    follow = ~is_base
    burden, nadir = tps.burden[idx], np.where(follow, tps.nadir[idx], NONE)
    days = c.a_day[idx]
    code = code_words(cfg)

    no_value = np.full(len(idx), np.nan)

    def columns() -> dict[str, Any]:
        return {
            "subject_id": _texts(c.subject_id, kept).take(owner),
            "reader": _texts(c.reader, kept).take(owner),
            "criterion": pa.array([cfg.name], pa.string()).take(pa.array(np.zeros(len(idx), dtype=np.int64))),
            "timepoint": c.a_label_text.take(take),
            "date": iso_dates(days),
            "study_day": study_days(days, scored.subjects.reference_day[c.a_entity[idx]]),
            "target_sum_mm": _mm_column(tps.target_sum[idx]),
            "new_lesions_mm": _mm_column(tps.new[idx]) if ir else no_value,
            "tmtb_mm": _mm_column(burden) if ir else no_value,
            "baseline_mm": base / 1000,
            "nadir_mm": _mm_column(nadir),
            "pct_from_baseline": np.where(follow, _pct_column(burden, base), np.nan),
            "pct_from_nadir": _pct_column(burden, nadir),
            "change_from_nadir_mm": np.where((burden >= 0) & (nadir >= 0), (burden - nadir) / 1000, np.nan),
            "target_response": words(code.target, tps.target[idx]),
            "nontarget_response": words(code.nontarget, tps.nontarget[idx]),
            "new_lesions": words(code.new_lesions, np.where(follow, tps.new_lesions[idx], -1)),
            "response": words(code.response, tps.response[idx]),
            "pd_status": words(list(STATUSES), tps.pd_status[idx]),
        }

    # the reasons (the largest column) beside the others: Arrow joins them without the GIL
    reason, rest = side_by_side(lambda: tps.reasons.text(idx), columns)
    return {**rest, "reason": reason}


def _texts(values: list[str], at: IntArray) -> pa.Array:
    """``values`` at positions ``at``, as Arrow text."""
    return pa.array(values, pa.string()).take(pa.array(at))


def _iso(c: Cohort, a: IntArray) -> pa.Array:
    """The dates of assessments ``a`` as ISO 8601 text, empty where ``a`` is -1."""
    days = c.a_day[np.maximum(a, 0)] if len(c.a_day) else np.zeros(len(a), np.int64)
    return pc.fill_null(iso_dates(days, a < 0), "")


def _subject_columns(scores: Scores) -> dict[str, Any]:
    """subjects.csv columns of one criterion's scores, from the engine's arrays (``SubjectArrays``)."""
    scored, kept = scores.scored, scores.kept
    c, s, cfg = scored.cohort, scored.subjects, scored.config
    b = s.baselines
    n = len(kept)
    bor = s.bor[kept]
    shows_confirmed = np.isin(bor, _CONFIRMABLE)
    confirmed = np.where(shows_confirmed, s.bor_confirmed[kept], -1)
    first, pd_a = s.first_response_a[kept], s.pd_a[kept]
    pd_confirmed = np.where(pd_a >= 0, s.pd_confirmed[kept], -1)
    both = (first >= 0) & (pd_a >= 0)
    duration = (c.a_day[np.maximum(pd_a, 0)] - c.a_day[np.maximum(first, 0)]).tolist() if n else []
    best = s.best_tenths[kept]
    best_pct = (best / 10).tolist()
    return {
        "subject_id": _texts(c.subject_id, kept),
        "reader": _texts(c.reader, kept),
        "criterion": [cfg.name] * n,
        "baseline_eligible": words(_BOOLS, b.eligible[kept]),
        "ineligible_lesions": [";".join(b.ineligible.get(e, ())) for e in kept.tolist()],
        "measurable_disease": words(_BOOLS, b.measurable[kept].astype(np.int64)),
        "baseline_mm": b.sum_um[kept] / 1000,
        "bor": words(response_words(cfg), bor),
        "bor_confirmed": words(_BOOLS, confirmed),
        "bor_date": _iso(c, s.bor_a[kept]),
        "first_response_date": _iso(c, first),
        "pd_date": _iso(c, pd_a),
        "pd_confirmed": words(_BOOLS, pd_confirmed),
        "duration_of_response_days": [d if ok else None for d, ok in zip(duration, both.tolist(), strict=True)],
        "best_pct_change": [None if t == NO_CHANGE else p for t, p in zip(best.tolist(), best_pct, strict=True)],
        "assessments": (c.a_start[kept + 1] - c.a_start[kept]).tolist(),
        "qc_flags": _flags(c, s, kept),
    }


_BOOLS = ["false", "true"]
"""Booleans as written, by code (-1, for none, is written empty)."""
_CONFIRMABLE = [RESPONSES.index(r) for r in (Response.CR, Response.PR, Response.PD)]
"""BOR whose ``bor_confirmed`` is written (decisions.md 3 and 4)."""


def _flags(c: Cohort, s: SubjectArrays, kept: IntArray) -> list[str]:
    """The qc_flags column: ``SubjectArrays.flags`` joined, written out only for the entities that have more
    than the ORR-evaluability flag."""
    out = np.where(s.baselines.has_target[kept], "", NOT_EVALUABLE).tolist()
    special = set(s.baselines.qc) | set(s.bor_flags) | {e for e, w in enumerate(c.warnings) if w}
    for i in np.flatnonzero(np.isin(kept, np.fromiter(special, dtype=np.int64, count=len(special)))).tolist():
        out[i] = " | ".join(s.flags(c, int(kept[i])))
    return out


def subjects_frame(run: ScoreRun) -> pd.DataFrame:
    """subjects.csv: one row per scored subject and criterion."""
    return _stacked([_subject_columns(crun.scores) for crun in run.runs.values() if len(crun.scores)],
                    SUBJECT_COLUMNS)  # fmt: skip


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
