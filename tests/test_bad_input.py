"""Bad rows and tables (issue 7, spec/lesion-table.md "Bad input"), end to end through ``irrecist score``: each
problem is one located line of errors.csv (file and row, subject, lesion, timepoint, what was found, what is
allowed), the subject concerned is not scored, and every other subject still is."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from irrecist.lesion_table import MAX_MM
from irrecist_cli.main import main

COLUMNS = ["subject_id", "timepoint", "date", "lesion_id", "role", "organ", "nodal", "long_axis_mm", "short_axis_mm",
           "status"]  # fmt: skip
BASE = {"timepoint": "baseline", "date": "2024-01-01", "lesion_id": "T1", "role": "target", "organ": "liver"}
W8 = {"timepoint": "week 8", "date": "2024-02-26", "lesion_id": "T1"}


def good(sid: str) -> list[dict[str, Any]]:
    return [{**BASE, "subject_id": sid, "long_axis_mm": "40"}, {**W8, "subject_id": sid, "long_axis_mm": "30"}]


def bad_follow_up(**cells: str) -> list[dict[str, Any]]:
    """Baseline fine; the week 8 row (the one located) carries ``cells``."""
    return [{**BASE, "long_axis_mm": "40"}, {**W8, "long_axis_mm": "30", **cells, "_bad": True}]


# case: (rows of the subject (the row marked _bad is the one the error names), lesion, timepoint, message pattern)
CASES: dict[str, tuple[list[dict[str, Any]], str, str, str]] = {
    "negative diameter": (
        bad_follow_up(long_axis_mm="-4"),
        "T1",
        "week 8",
        r"long_axis_mm is -4; it must be a number >= 0",
    ),
    "non-numeric diameter": (
        bad_follow_up(long_axis_mm="4O"),
        "T1",
        "week 8",
        r"long_axis_mm is '4O'; it must be a number >= 0",
    ),
    "not a number": (
        bad_follow_up(short_axis_mm="NaN"),
        "T1",
        "week 8",
        r"short_axis_mm is 'NaN'; it must be a number",
    ),
    "absurd diameter": (
        bad_follow_up(long_axis_mm="1e300"),
        "T1",
        "week 8",
        rf"long_axis_mm is 1e300 mm; .* at most {MAX_MM} mm",
    ),
    "impossible date": (
        bad_follow_up(date="2024-02-30"),
        "T1",
        "week 8",
        r"date is '2024-02-30'; it must be an ISO date YYYY-MM-DD",
    ),
    "follow-up before baseline": (
        [{**BASE, "long_axis_mm": "40"}, {**W8, "date": "2023-12-01", "long_axis_mm": "30", "_bad": True}],
        "T1",
        "week 8",
        r"assessment 'week 8' on 2023-12-01 is before the baseline \(2024-01-01\); a follow-up cannot precede",
    ),
    "unknown role": (
        [{**BASE, "role": "targets", "long_axis_mm": "40", "_bad": True}, {**W8, "long_axis_mm": "30"}],
        "T1",
        "baseline",
        r"role is 'targets'; allowed: target, non-target, new",
    ),
    "unknown status": (
        bad_follow_up(status="gone", long_axis_mm=""),
        "T1",
        "week 8",
        r"status is 'gone'; allowed: present, absent",
    ),
    "present node without short axis": (
        [
            {**BASE, "organ": "lymph node", "nodal": "true", "long_axis_mm": "30", "short_axis_mm": "18"},
            {**W8, "long_axis_mm": "25", "_bad": True},
        ],
        "T1",
        "week 8",
        r"nodal target lesion T1 is present but has no short_axis_mm; a present target lesion needs its measure",
    ),
    "same lesion twice at one assessment": (
        [{**BASE, "long_axis_mm": "40"}, {**W8, "long_axis_mm": "31"}, {**W8, "long_axis_mm": "30", "_bad": True}],
        "T1",
        "week 8",
        r"lesion T1 appears twice at week 8; one row per lesion and assessment",
    ),
    "one lesion with two organs": (
        bad_follow_up(organ="lung"),
        "T1",
        "week 8",
        r"has organ 'lung' here but 'liver' at first appearance; one lesion",
    ),
    "one lesion with two roles": (
        bad_follow_up(role="non-target"),
        "T1",
        "week 8",
        r"has role 'non-target' here but 'target' at first appearance; one lesion has one role",
    ),
    "new lesion without a role at follow-up": (
        [*good("x")[:1], {**W8, "long_axis_mm": "30"}, {**W8, "lesion_id": "N1", "long_axis_mm": "12", "_bad": True}],
        "N1",
        "week 8",
        r"lesion N1 first appears without a role; allowed: target, non-target, new",
    ),
    "one label on two dates": (
        [{**BASE, "long_axis_mm": "40"}, {**W8, "timepoint": "baseline", "long_axis_mm": "30", "_bad": True}],
        "T1",
        "baseline",
        r"timepoint 'baseline' is used on 2024-01-01 and 2024-02-26; a visit label must be unique per date",
    ),
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, int], pd.DataFrame]:
    """One table with a good subject, one bad subject per case, and a subject with a tenfold jump; scored once."""
    folder = tmp_path_factory.mktemp("bad_input")
    rows: list[dict[str, Any]] = good("GOOD")
    located: dict[str, int] = {}
    for k, (case_rows, *_rest) in enumerate(CASES.values()):
        sid = f"B{k:02d}"
        for r in case_rows:
            if r.get("_bad"):
                located[sid] = len(rows) + 2  # header line, then rows from line 2
            rows.append({**r, "subject_id": sid})
    rows += [
        {**BASE, "subject_id": "JUMP", "long_axis_mm": "42"},
        {**W8, "subject_id": "JUMP", "long_axis_mm": "4.1", "_bad": True},
    ]
    located["JUMP"] = len(rows) + 1
    table = folder / "lesions.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    out = folder / "out"
    code = main(["score", str(table), "--out", str(out), "--no-report"])
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    return code, out, located, errors


@pytest.mark.parametrize("case", list(CASES))
def test_bad_row_is_one_located_line_and_only_its_subject_stops(
    case: str, scored: tuple[int, Path, dict[str, int], pd.DataFrame]
) -> None:
    code, out, located, errors = scored
    _rows, lesion, timepoint, pattern = CASES[case]
    sid = f"B{list(CASES).index(case):02d}"
    mine = errors[errors.subject_id == sid]
    assert len(mine) >= 1 and set(mine.level) == {"error"}, mine.to_dict("records")
    hits = mine[[bool(re.search(pattern, m)) for m in mine.message]]
    at_row = hits[hits.source.str.endswith(f"lesions.csv row {located[sid]}")]
    assert len(at_row) == 1, (pattern, located[sid], mine.to_dict("records"))
    line = at_row.iloc[0]
    assert (line.lesion_id, line.timepoint) == (lesion, timepoint)
    subjects = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    assert sid not in set(subjects.subject_id)
    assert {"GOOD", "JUMP"} <= set(subjects.subject_id)
    assert code == 1


def test_tenfold_jump_warns_and_is_scored_as_recorded(scored: tuple[int, Path, dict[str, int], pd.DataFrame]) -> None:
    _code, out, located, errors = scored
    (line,) = errors[errors.subject_id == "JUMP"].itertuples()
    assert line.level == "warning" and line.source.endswith(f"lesions.csv row {located['JUMP']}")
    assert (line.lesion_id, line.timepoint) == ("T1", "week 8")
    assert "changes from 42 mm at baseline to 4.1 mm at week 8" in line.message and "kept as recorded" in line.message
    tp = pd.read_csv(out / "timepoints.csv", dtype=str, keep_default_na=False)
    assert list(tp[tp.subject_id == "JUMP"].target_sum_mm) == ["42.0", "4.1"]


def test_summary_counts_the_subjects_not_scored(scored: tuple[int, Path, dict[str, int], pd.DataFrame]) -> None:
    _code, out, _located, errors = scored
    import json

    block = json.loads((out / "summary.json").read_text())["criteria"]["irrecist"]
    assert block["subjects_scored"] == 2 and block["subjects_not_scored"] == len(CASES)
    assert set(errors[errors.level == "error"].subject_id) == {f"B{k:02d}" for k in range(len(CASES))}


def test_missing_required_columns_reject_the_whole_file_and_others_are_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.csv").write_text("subject_id,visit,long_axis_mm\nB1,baseline,40\n", encoding="utf-8")
    pd.DataFrame(good("GOOD"), columns=COLUMNS, dtype=object).fillna("").to_csv(tmp_path / "good.csv", index=False)
    out = tmp_path / "out"
    code = main(["score", str(tmp_path / "broken.csv"), str(tmp_path / "good.csv"), "--out", str(out), "--no-report"])
    assert code == 1
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    (line,) = errors[errors.source.str.endswith("broken.csv")].itertuples()
    assert line.level == "error"
    assert "missing required column(s) timepoint, date, lesion_id" in line.message
    assert "required: subject_id, timepoint, date, lesion_id" in line.message  # the list expected
    subjects = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    assert set(subjects.subject_id) == {"GOOD"}
    # alone, the file stops the run with the same message and no traceback
    code = main(["score", str(tmp_path / "broken.csv"), "--out", str(tmp_path / "out2"), "--no-report"])
    err = capsys.readouterr().err
    assert code == 1 and "missing required column(s) timepoint, date, lesion_id" in err and "Traceback" not in err


def test_a_column_named_like_an_internal_one_is_just_data(tmp_path: Path) -> None:
    """Found by tests/test_fuzz.py: a ``__src`` column (the name used for merged tables' sources) and a row
    without subject made the reader raise ``KeyError``."""
    table = tmp_path / "lesions.csv"
    table.write_text(
        "subject_id,timepoint,date,lesion_id,role,organ,long_axis_mm,__src\n"
        "GOOD,baseline,2024-01-01,T1,target,liver,40,x\n,baseline,2024-01-01,T1,target,liver,40,y\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["score", str(table), "--out", str(out), "--no-report"]) == 1
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    (line,) = errors.itertuples()
    assert line.source.endswith("lesions.csv row 3") and "subject_id is empty" in line.message


def test_empty_table_file_is_an_irrecist_error(tmp_path: Path) -> None:
    """An empty file gives no lesion table: collecting reports it, scoring says there is nothing to score
    (found by fuzzing after the 'nothing to score' check moved behind pseudonymization)."""
    from irrecist.errors import InputError
    from irrecist.inputs import collect_tables
    from irrecist.scoring import make_configs, score_frames

    path = tmp_path / "lesions.csv"
    path.write_bytes(b"")
    got = collect_tables([path])
    assert not got.frames and any(str(path) in p.source for p in got.problems)
    with pytest.raises(InputError, match="nothing to score"):
        score_frames(got.frames, make_configs(["irrecist"]), got.info)
