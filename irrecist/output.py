"""Result tables of a scoring run (timepoints, subjects, summary, errors) and their atomic writing.

Columns follow the scoring issue: responses carry the criterion's own labels, booleans are written
``true`` / ``false``, lengths in millimetres, dates ISO 8601. Files are written to a temporary name and
renamed when complete, so an interrupted run never leaves a half-written table that looks finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from irrecist.endpoints import Landmark, endpoints
from irrecist.errors import ERROR_COLUMNS
from irrecist.rules.responses import Response, label, labels
from irrecist.rules.subject import SubjectScore
from irrecist.rules.timepoint import pct_tenths
from irrecist.scoring import ScoreRun

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


def timepoint_rows(s: SubjectScore) -> list[tuple[Any, ...]]:
    """One subject's rows of timepoints.csv, as tuples in ``TIMEPOINT_COLUMNS`` order (a tuple per row: the
    table has one row per assessment, so this is the hot loop of writing it)."""
    cfg = s.config
    ir = cfg.name == "irrecist"
    sid, reader, crit = s.subject_id, s.reader, cfg.name
    base_um = s.baseline.sum_um
    labels_ = labels(cfg)
    rows: list[tuple[Any, ...]] = []
    for t in s.timepoints:
        burden, nadir = t.burden_um, t.nadir_um
        if t.is_baseline:
            rows.append((
                sid, reader, crit, t.timepoint, t.date.isoformat(), s.study_day(t.date), _mm(t.target_sum_um),
                _mm(t.new_um) if ir else None, _mm(burden) if ir else None, _mm(t.baseline_um), None, None, None,
                None, "", "", "", "", t.pd_status, "; ".join(t.reasons),
            ))  # fmt: skip
            continue
        rows.append((
            sid, reader, crit, t.timepoint, t.date.isoformat(), s.study_day(t.date), _mm(t.target_sum_um),
            _mm(t.new_um) if ir else None, _mm(burden) if ir else None, _mm(t.baseline_um), _mm(nadir),
            _pct(burden, base_um), _pct(burden, nadir),
            None if burden is None or nadir is None else (burden - nadir) / 1000,
            _cat(t.target.value if t.target else None, ir), _cat(t.nontarget.value if t.nontarget else None, ir),
            t.new_lesions, "" if t.response is None else labels_[t.response], t.pd_status, "; ".join(t.reasons),
        ))  # fmt: skip
    return rows


def _pct(value_um: int | None, reference_um: int | None) -> float | None:
    """``TimepointResult.pct`` as a float: the exact tenths of a percent, divided once (correctly rounded, so
    equal to ``float(Decimal)`` of the same tenths)."""
    if value_um is None or not reference_um:
        return None
    return pct_tenths(value_um, reference_um) / 10


def _num(d: Any) -> float | None:
    return None if d is None else float(d)


def subject_row(s: SubjectScore) -> dict[str, Any]:
    cfg = s.config
    b = s.baseline
    confirmed = s.bor.confirmed if s.bor.bor in (Response.CR, Response.PR, Response.PD) else None
    return {
        "subject_id": s.subject_id, "reader": s.reader, "criterion": cfg.name,
        "baseline_eligible": _bool(b.eligible), "ineligible_lesions": ";".join(b.ineligible_lesions),
        "measurable_disease": _bool(b.measurable_disease), "baseline_mm": _mm(b.sum_um),
        "bor": label(s.bor.bor, cfg), "bor_confirmed": _bool(confirmed),
        "bor_date": s.bor.date.isoformat() if s.bor.date else "",
        "first_response_date": s.first_response_date.isoformat() if s.first_response_date else "",
        "pd_date": s.pd_date.isoformat() if s.pd_date else "",
        "pd_confirmed": _bool(s.pd_confirmed if s.pd_date else None),
        "duration_of_response_days": s.duration_of_response_days,
        "best_pct_change": _num(s.best_pct_change),
        "assessments": len(s.timepoints),
        "qc_flags": " | ".join(s.qc_flags),
    }  # fmt: skip


def timepoints_frame(run: ScoreRun) -> pd.DataFrame:
    rows = [r for crun in run.runs.values() for s in crun.scores for r in timepoint_rows(s)]
    return pd.DataFrame.from_records(rows, columns=TIMEPOINT_COLUMNS)


def subjects_frame(run: ScoreRun) -> pd.DataFrame:
    rows = [subject_row(s) for crun in run.runs.values() for s in crun.scores]
    return pd.DataFrame(rows, columns=SUBJECT_COLUMNS)


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``. The file gets the
    permissions of a normally created file (``mkstemp`` would leave it readable by its owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda p: df.to_csv(p, index=False, lineterminator="\n"))


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
