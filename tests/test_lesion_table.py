"""The lesion table reader: conversion, inheritance, fragments, merges and every bad-input path
(spec/lesion-table.md "Bad input")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from irrecist.errors import InputError, Level
from irrecist.lesion_table import build_subjects, check_columns
from irrecist.lesions.table import read_frame, read_subject_table
from irrecist.rules.config import profile
from tests.helpers import frame, responses, score_rows

IR = profile("irrecist")
R = profile("recist1.1")


def row(sid: str = "001", tp: str = "baseline", d: str = "2024-01-01", lid: str = "T1", **kw: Any) -> dict[str, Any]:
    return {"subject_id": sid, "timepoint": tp, "date": d, "lesion_id": lid, **kw}


GOOD = [
    row(role="target", organ="liver", long_axis_mm="40"),
    row(tp="week 8", d="2024-02-26", long_axis_mm="30"),
]


def build(rows: list[dict[str, Any]]) -> Any:
    return build_subjects(frame(rows), "lesions.csv", IR)


def test_roles_and_organs_are_inherited_and_cm_converted() -> None:
    rows = [
        row(role="target", organ="liver", long_axis_mm="4.05", unit="cm"),
        row(tp="w8", d="2024-02-26", long_axis_mm="28.35"),
    ]
    rec = build(rows).records[0]
    assert rec.lesions["T1"].role.value == "target" and rec.lesions["T1"].organ == "liver"
    assert [a.observations["T1"].long_um for a in rec.assessments] == [40500, 28350]


def test_fragments_are_summed_into_their_parent() -> None:
    rows = [
        row(role="target", organ="liver", long_axis_mm="40"),
        row(tp="w8", d="2024-02-26", lid="T1.1", long_axis_mm="18"),
        row(tp="w8", d="2024-02-26", lid="T1.2", long_axis_mm="14"),
    ]
    rec = build(rows).records[0]
    assert rec.assessments[1].observations["T1"].long_um == 32000
    assert set(rec.lesions) == {"T1"}


def test_lesion_recorded_whole_and_as_fragments_at_one_visit_is_an_error() -> None:
    """spec/lesion-table.md, bad input: 30 mm whole plus a 10 mm fragment must not silently become 40 mm."""
    w8 = {"tp": "w8", "d": "2024-02-26"}
    rows = [row(role="target", organ="liver", long_axis_mm="40"), row(**w8, long_axis_mm="30"),
            row(**w8, lid="T1.1", long_axis_mm="10")]  # fmt: skip
    out = build(rows)
    assert not out.records and out.failed
    (p,) = [p for p in out.problems if p.level is Level.ERROR]
    assert "T1 recorded both whole and as fragments (T1.1) at w8" in p.message and p.source == "lesions.csv row 4"


def test_parent_made_of_fragments_is_located_at_its_first_fragment() -> None:
    """A jump warning on a fragment-built parent names the first fragment's row (not the header row)."""
    w8 = {"tp": "w8", "d": "2024-02-26"}
    rows = [row(role="target", organ="liver", long_axis_mm="40"), row(**w8, lid="T1.1", long_axis_mm="2"),
            row(**w8, lid="T1.2", long_axis_mm="2")]  # fmt: skip
    out = build(rows)
    assert out.records[0].assessments[1].observations["T1"].row == 1
    (warn,) = [p for p in out.problems if p.level is Level.WARNING]
    assert "cm/mm mix-up" in warn.message and warn.source == "lesions.csv row 3" and warn.timepoint == "w8"


def test_fragment_cannot_be_merged_into_another_lesion() -> None:
    rows = [row(role="target", organ="liver", long_axis_mm="40"),
            row(tp="w8", d="2024-02-26", lid="T1.1", status="merged_into:T7")]  # fmt: skip
    out = build(rows)
    assert out.failed
    assert any("fragment T1.1 has status merged_into:T7; a fragment cannot be merged" in p.message
               and p.source == "lesions.csv row 3" for p in out.problems)  # fmt: skip


def test_merged_lesion_contributes_zero() -> None:
    rows = [
        row(role="target", organ="liver", long_axis_mm="20"),
        row(lid="T2", role="target", organ="lung", long_axis_mm="20"),
        row(tp="w8", d="2024-02-26", long_axis_mm="35"),
        row(tp="w8", d="2024-02-26", lid="T2", status="merged_into:T1"),
    ]
    score = score_rows(rows, R)
    assert score.timepoints[1].target_sum_um == 35000


def test_empty_lesion_id_records_an_assessment_without_lesions() -> None:
    rows = [row(lid=""), row(tp="w8", d="2024-02-26", lid="")]
    rec = build(rows).records[0]
    assert len(rec.assessments) == 2 and not rec.assessments[1].observations


def test_missing_required_columns_reject_the_whole_file() -> None:
    with pytest.raises(InputError, match=r"missing required column\(s\) date, lesion_id.*columns subject_id"):
        check_columns(["subject_id", "timepoint", "long_axis_mm"], "x.csv")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"long_axis_mm": "-4"}, r"lesions.csv row 3 .*long_axis_mm is -4; it must be a number >= 0"),
        ({"long_axis_mm": "4O"}, r"long_axis_mm is '4O'; it must be a number >= 0"),
        ({"date": "2024-02-30"}, r"date is '2024-02-30'; it must be an ISO date YYYY-MM-DD"),
        ({"role": "targets"}, r"role is 'targets'; allowed: target, non-target, new"),
        ({"status": "gone"}, r"status is 'gone'; allowed: present, absent"),
        ({"unit": "inch"}, r"unit is 'inch'; allowed: mm, cm"),
        ({"timepoint": ""}, r"timepoint is empty"),
        ({"role": "non-target"}, r"has role 'non-target' here but 'target' at first appearance"),
        ({"organ": "lung"}, r"has organ 'lung' here but 'liver' at first appearance"),
        ({"long_axis_mm": "", "status": "present"}, r"present but has no long_axis_mm"),
        ({"status": "unequivocal_progression"}, r"allowed only for non-target lesions"),
        ({"status": "merged_into:T9"}, r"merged into 'T9', which is not a lesion of this subject"),
    ],
)
def test_bad_follow_up_row_stops_only_that_subject(bad: dict[str, str], message: str) -> None:
    other = [
        row(sid="002", role="target", organ="lung", long_axis_mm="20"),
        row(sid="002", tp="w8", d="2024-02-26", long_axis_mm="20"),
    ]
    rows = [GOOD[0], {**GOOD[1], **bad}] + other
    out = build(rows)
    assert [r.subject_id for r in out.records] == ["002"]
    assert ("001", "") in out.failed
    errors = [p for p in out.problems if p.level is Level.ERROR]
    text = "\n".join(f"{p.source} (subject {p.subject_id}, {p.lesion_id}): {p.message}" for p in errors)
    with pytest.raises(AssertionError, match=message):
        raise AssertionError(text)
    assert all(p.subject_id == "001" for p in errors)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [row(role="target", organ="liver", long_axis_mm="40"), row(long_axis_mm="41")],
            r"lesion T1 appears twice at baseline",
        ),
        (
            [
                row(role="target", organ="liver", long_axis_mm="40"),
                row(tp="w8", d="2024-02-26", lid="N1", long_axis_mm="12"),
            ],
            r"lesion N1 first appears without a role",
        ),
        (
            [
                row(role="target", organ="liver", long_axis_mm="40"),
                row(tp="w8", d="2024-02-26", lid="T2", role="target", organ="lung", long_axis_mm="12"),
            ],
            r"first appears after baseline with role 'target'",
        ),
        (
            [row(role="target", organ="liver", long_axis_mm="40"), row(tp="baseline", d="2024-02-26", lid="")],
            r"timepoint 'baseline' is used on 2024-01-01 and 2024-02-26",
        ),
        (
            [
                row(tp="screening", role="target", organ="liver", long_axis_mm="40"),
                row(tp="w8", d="2024-01-01", lid=""),
            ],
            r"date 2024-01-01 carries two timepoint labels",
        ),
        (
            [row(tp="week 2", d="2023-12-01", lid=""), row(role="target", organ="liver", long_axis_mm="40")],
            r"is before the baseline",
        ),
        (
            [row(role="target", organ="lymph node", nodal="true", long_axis_mm="30")],
            r"nodal target lesion T1 is present but has no short_axis_mm",
        ),
        ([row(role="target", organ="liver", nodal="maybe", long_axis_mm="30")], r"nodal is 'maybe'"),
    ],
)
def test_subject_level_problems(rows: list[dict[str, Any]], message: str) -> None:
    out = build(rows)
    assert not out.records and ("001", "") in out.failed
    assert any(__import__("re").search(message, p.message) for p in out.problems), [p.message for p in out.problems]


def test_tenfold_jump_warns_and_keeps_the_value() -> None:
    rows = [row(role="target", organ="liver", long_axis_mm="42"), row(tp="w8", d="2024-02-26", long_axis_mm="4.1")]
    out = build(rows)
    assert out.records and out.records[0].assessments[1].observations["T1"].long_um == 4100
    warn = [p for p in out.problems if p.level is Level.WARNING]
    assert warn and "cm/mm mix-up" in warn[0].message and warn[0].source == "lesions.csv row 3"


def test_row_without_subject_is_reported_not_dropped_silently() -> None:
    out = build(GOOD + [row(sid="", lid="T5")])
    assert len(out.records) == 1
    assert any("subject_id is empty" in p.message and p.source == "lesions.csv row 4" for p in out.problems)


def test_target_without_baseline_measure_is_a_subject_error() -> None:
    from irrecist.cohort import from_records
    from irrecist.scoring import score_cohort_run

    rows = [row(role="target", organ="liver", status="too_small"), row(tp="w8", d="2024-02-26", long_axis_mm="4")]
    run = score_cohort_run(from_records(build(rows).records), {}, IR)
    assert not run.failed and responses(run.scores[0]) == ["", "irSD"]
    rows = [row(role="target", organ="liver", status="not_evaluated")]
    run = score_cohort_run(from_records(build(rows).records), {}, IR)
    assert "target T1 has no long_axis_mm at baseline" in run.failed[("001", "")]


def test_readers_are_scored_separately() -> None:
    rows = [{**r, "reader": "A"} for r in GOOD] + [{**r, "reader": "B", "long_axis_mm": "44"} for r in GOOD[:1]]
    out = build(rows)
    assert sorted((r.subject_id, r.reader) for r in out.records) == [("001", "A"), ("001", "B")]


def test_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    df = frame(GOOD)
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    a, off_a = read_frame(tmp_path / "t.csv")
    b, off_b = read_frame(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert (off_a, off_b) == (2, 1)


def test_unreadable_file_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope.csv: file not found"):
        read_frame(tmp_path / "nope.csv")
    (tmp_path / "bin.parquet").write_bytes(b"\x00\x01garbage")
    with pytest.raises(InputError, match=r"bin.parquet: cannot be read as a parquet table"):
        read_frame(tmp_path / "bin.parquet")


def test_subject_table(tmp_path: Path) -> None:
    p = tmp_path / "subjects.csv"
    p.write_text("subject_id,treatment_start_date,data_cut_date\n001,2024-01-05,2024-12-31\n002,2024-13-01,\n,,\n")
    info, problems = read_subject_table(p)
    assert str(info["001"].treatment_start_date) == "2024-01-05"
    assert "002" not in info
    assert any("row 3" in m and "treatment_start_date is '2024-13-01'" in m for m in problems)
    assert any("row 4" in m and "subject_id is empty" in m for m in problems)
