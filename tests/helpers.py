"""Small builders for lesion tables in tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from irrecist.lesion_table import build_subjects
from irrecist.rules.config import CriterionConfig, profile
from irrecist.rules.subject import SubjectScore, score_subject

START = date(2024, 1, 1)
AIM_SAMPLES = (
    "data",
    "real",
    "annotation-and-image-markup",
    "AIMToolkit_v3.0.2_rv11",
    "examples",
    "SampleAIMAnnotationsAndImages",
)
"""The AIM toolkit's sample annotations and images, below the shared folder (PROVENANCE.md section 1)."""


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    return df.astype(object).where(df.notna(), "").astype(str)


def series(
    targets: dict[str, list[float | None]],
    *,
    days: list[int] | None = None,
    subject: str = "S1",
    nodal: set[str] | None = None,
    organs: dict[str, str] | None = None,
    new: dict[str, list[float | None]] | None = None,
    nontarget: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Rows for one subject: each target/new lesion's measure per assessment (None = no row)."""
    n = max(len(v) for v in list(targets.values()) + list((new or {}).values()) + list((nontarget or {}).values()))
    days = days or [56 * i for i in range(n)]
    nodal = nodal or set()
    organs = organs or {}
    rows: list[dict[str, Any]] = []
    for k in range(n):
        d = (START + timedelta(days=days[k])).isoformat()
        tp = "baseline" if k == 0 else f"day {days[k]}"
        base = {"subject_id": subject, "timepoint": tp, "date": d}
        count = 0
        for role, group in (("target", targets), ("new", new or {})):
            for lid, values in group.items():
                v = values[k] if k < len(values) else None
                if v is None:
                    continue
                is_node = lid in nodal
                row = {
                    **base,
                    "lesion_id": lid,
                    "role": role,
                    "organ": organs.get(lid, f"organ-{lid}"),
                    "nodal": "true" if is_node else "false",
                }
                row["short_axis_mm" if is_node else "long_axis_mm"] = v
                rows.append(row)
                count += 1
        for lid, statuses in (nontarget or {}).items():
            if k < len(statuses) and statuses[k]:
                rows.append(
                    {**base, "lesion_id": lid, "role": "non-target", "organ": f"organ-{lid}", "status": statuses[k]}
                )
                count += 1
        if count == 0:
            rows.append({**base, "lesion_id": ""})
    return rows


def score_rows(rows: list[dict[str, Any]], config: CriterionConfig | str = "irrecist") -> SubjectScore:
    cfg = profile(config) if isinstance(config, str) else config
    subjects = build_subjects(frame(rows), "test.csv", cfg)
    assert not subjects.failed, [p.message for p in subjects.problems]
    return score_subject(subjects.records[0], cfg)


def responses(score: SubjectScore) -> list[str]:
    from irrecist.rules.responses import label

    return ["" if t.is_baseline else label(t.response, score.config) for t in score.timepoints]
