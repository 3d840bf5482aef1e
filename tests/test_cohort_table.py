"""``build_cohort`` against the row-by-row path it replaces: ``from_records(build_subjects(...).records)``, the
same problems in the same order and the same failed subjects (spec/lesion-table.md, "Bad input")."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.make_trial import make_table
from irrecist.cohort import Cohort, from_records
from irrecist.cohort_table import build_cohort
from irrecist.lesion_table import build_subjects
from irrecist.model import SubjectInfo
from irrecist.rules.config import CriterionConfig, profile
from tests import test_bad_input, test_lesion_table
from tests.helpers import frame, series

IR = profile("irrecist")
R = profile("recist1.1")


def assert_same(df: pd.DataFrame, source: str = "lesions.csv", config: CriterionConfig = IR, **kw: Any) -> Cohort:
    """``build_cohort`` equals ``build_subjects`` + ``from_records`` field by field."""
    old = build_subjects(df, source, config, **kw)
    want = from_records(old.records)
    got, problems, failed = build_cohort(df, source, config, **kw)
    for f in dataclasses.fields(Cohort):
        a, b = getattr(want, f.name), getattr(got, f.name)
        if isinstance(a, np.ndarray):
            assert isinstance(b, np.ndarray) and a.dtype == b.dtype, f.name
            np.testing.assert_array_equal(b, a, err_msg=f.name)
        elif f.name == "a_source":  # a table's row places are written out when read (``row_places``)
            assert list(b) == a and [b[i] for i in range(len(b))] == a and b[1:3] == a[1:3]
        else:
            assert type(b) is type(a) and b == a, f.name
    assert problems == old.problems
    assert failed == old.failed
    return got


def as_read(df: pd.DataFrame) -> pd.DataFrame:
    """The frame as ``irrecist.inputs`` reads a table: every cell text, through a CSV."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False).astype(str)


def test_synthetic_trial() -> None:
    got = assert_same(as_read(make_table(300)))
    assert got.n_entities == 300 and any(got.warnings)  # the trial has jump warnings


def test_synthetic_trial_with_subject_info_and_offset() -> None:
    df = as_read(make_table(40, n_assessments=4, seed=3))
    info = {"S000001": SubjectInfo(treatment_start_date=date(2024, 1, 1)), "S000007": SubjectInfo(tumor_type="x")}
    assert_same(df, "t.parquet", R, row_offset=1, info=info)


def test_synthetic_trial_with_rare_subjects_interleaved() -> None:
    """Errors, fragments and merges in a few subjects among clean ones: the two paths put back in order."""
    df = as_read(make_table(30, n_assessments=3, seed=5))
    df.loc[5, "long_axis_mm"] = "-3"
    df.loc[20, "lesion_id"] = "T1.1"
    df.loc[40, "status"] = "merged_into:T1"
    df.loc[41, "status"] = "merged_into:T9"
    df.loc[60, "subject_id"] = ""
    df.loc[70, "unit"] = "cm"
    df.loc[80, "role"] = "non-target"
    got = assert_same(df)
    assert got.n_entities < 30


def _params(test: Callable[..., None]) -> list[Any]:
    """The cases of a parametrized test (``pytest.mark.parametrize``'s values)."""
    (mark,) = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    return list(mark.args[1])


@pytest.mark.parametrize("case", _params(test_lesion_table.test_bad_follow_up_row_stops_only_that_subject))
def test_lesion_table_bad_follow_up_rows(case: tuple[dict[str, str], str]) -> None:
    bad, _message = case
    row = test_lesion_table.row
    good = test_lesion_table.GOOD
    other = [row(sid="002", role="target", organ="lung", long_axis_mm="20"),
             row(sid="002", tp="w8", d="2024-02-26", long_axis_mm="20")]  # fmt: skip
    assert_same(frame([good[0], {**good[1], **bad}] + other))


@pytest.mark.parametrize("case", _params(test_lesion_table.test_subject_level_problems))
def test_lesion_table_subject_level_problems(case: tuple[list[dict[str, Any]], str]) -> None:
    rows, _message = case
    assert_same(frame(rows))


def test_lesion_table_small_tables() -> None:
    row, good = test_lesion_table.row, test_lesion_table.GOOD
    tables = [
        good,
        [row(role="target", organ="liver", long_axis_mm="4.05", unit="cm"),
         row(tp="w8", d="2024-02-26", long_axis_mm="28.35")],
        [row(role="target", organ="liver", long_axis_mm="40"),
         row(tp="w8", d="2024-02-26", lid="T1.1", long_axis_mm="18"),
         row(tp="w8", d="2024-02-26", lid="T1.2", long_axis_mm="14")],
        [row(role="target", organ="liver", long_axis_mm="20"),
         row(lid="T2", role="target", organ="lung", long_axis_mm="20"),
         row(tp="w8", d="2024-02-26", long_axis_mm="35"),
         row(tp="w8", d="2024-02-26", lid="T2", status="merged_into:T1")],
        [row(lid=""), row(tp="w8", d="2024-02-26", lid="")],
        [row(role="target", organ="liver", long_axis_mm="42"), row(tp="w8", d="2024-02-26", long_axis_mm="4.1")],
        good + [row(sid="", lid="T5")],
        [row(role="target", organ="liver", status="too_small"), row(tp="w8", d="2024-02-26", long_axis_mm="4")],
        [row(role="target", organ="liver", status="not_evaluated")],
        [{**r, "reader": "A"} for r in good] + [{**r, "reader": "B", "long_axis_mm": "44"} for r in good[:1]],
    ]  # fmt: skip
    for rows in tables:
        assert_same(frame(rows))


def test_bad_input_table() -> None:
    """The table ``tests/test_bad_input.py`` scores: a good subject, one bad subject per case, a jump."""
    base, w8 = test_bad_input.BASE, test_bad_input.W8
    rows: list[dict[str, Any]] = test_bad_input.good("GOOD")
    for k, (case_rows, *_rest) in enumerate(test_bad_input.CASES.values()):
        rows += [{**r, "subject_id": f"B{k:02d}"} for r in case_rows]
    rows += [{**base, "subject_id": "JUMP", "long_axis_mm": "42"}, {**w8, "subject_id": "JUMP", "long_axis_mm": "4.1"}]
    df = as_read(pd.DataFrame(rows, columns=test_bad_input.COLUMNS, dtype=object).fillna(""))
    got = assert_same(df)
    assert got.subject_id == ["GOOD", "JUMP"]
    with_src = df.assign(__src="lesions.csv")
    assert_same(with_src)  # a column named like an internal one is just data
    assert_same(with_src.assign(__row=range(7, 7 + len(df))))  # tables merged by irrecist.scoring


def test_series_helper_tables() -> None:
    rows = series({"T1": [40, 30, 4, 20], "T2": [20, None, 18, 180]}, nodal={"T2"}, new={"N1": [None, 12, 14]},
                  nontarget={"NT1": ["present", "absent", "unequivocal_progression"]})  # fmt: skip
    rows += series({"T1": [30, 30]}, subject="S0", organs={"T1": "left lung"})
    assert_same(frame(rows))
    assert_same(frame(rows), config=R)


def test_fragment_subjects() -> None:
    """Fragments at one visit with the whole lesion, fragment-built parents with a jump, a merged fragment and
    an assessment without lesions: the rare path gives the same cohort, problems and failures."""
    row = test_lesion_table.row
    w8 = {"tp": "w8", "d": "2024-02-26"}
    rows = [row(role="target", organ="liver", long_axis_mm="40"), row(**w8, long_axis_mm="30"),
            row(**w8, lid="T1.1", long_axis_mm="10"),
            row(sid="002", role="target", organ="liver", long_axis_mm="40"),
            row(sid="002", **w8, lid="T1.1", long_axis_mm="2"), row(sid="002", **w8, lid="T1.2", long_axis_mm="2"),
            row(sid="003", role="target", organ="liver", long_axis_mm="40"),
            row(sid="003", **w8, lid="T1.1", status="merged_into:T7"),
            row(sid="004", tp="last", lid="")]  # fmt: skip
    got = assert_same(frame(rows))
    assert got.subject_id == ["002", "004"] and got.warnings[0] and -1 not in got.o_row
    assert_same(frame(rows).assign(__src="x.csv", __row=range(len(rows))))


def test_cells_that_are_not_text_and_a_shuffled_index() -> None:
    df = pd.DataFrame({"subject_id": [1, 1, 2], "timepoint": ["baseline", "w8", "baseline"],
                       "date": ["2024-01-01", "2024-02-26", "2024-01-01"], "lesion_id": ["T1", "T1", "T1"],
                       "role": ["target", "", "target"], "organ": ["liver", "", "lung"],
                       "long_axis_mm": [40, 4.5, 12.0]}, index=[7, 3, 5])  # fmt: skip
    assert_same(df)
    assert_same(df.iloc[::-1])


def test_rows_sorted_on_four_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables too varied for one integer sort key are sorted with ``np.lexsort``, in the same order."""
    import irrecist.cohort_table

    monkeypatch.setattr(irrecist.cohort_table, "_ONE_KEY", 0.0)
    df = as_read(make_table(30, n_assessments=3, seed=2)).sample(frac=1, random_state=1).assign(reader="")
    df.loc[df.index[:5], "reader"] = ["B", "A", "", "A", "B"]
    assert_same(df)


def test_empty_tables() -> None:
    columns = ["subject_id", "timepoint", "date", "lesion_id"]
    assert_same(pd.DataFrame({c: pd.Series([], dtype=str) for c in columns}))
    assert_same(frame([{"subject_id": "", "timepoint": "baseline", "date": "2024-01-01", "lesion_id": ""}]))


# Messy tables: subjects built to be mostly valid, then cells replaced by values from MESSY.
DATES = ["2024-01-01", "2024-02-26", "2024-04-22", "2024-06-17"]
MESSY: dict[str, list[str]] = {
    "subject_id": ["", " 001", "002", "B"],
    "reader": ["", "A", " B"],
    "timepoint": ["", "baseline", "Baseline ", "week 8", "w8"],
    "date": ["2023-12-01", "2024-02-26", "2024-1-1", "2024-02-30", "x", " 2024-04-22", ""],
    "lesion_id": ["", "T1", "T1.1", "T1.2", "T1.1.1", "T2.1", "N1", "NT1.1", "T3.x"],
    "role": ["", "target", "non-target", "new", "targets"],
    "organ": ["", "liver", "Liver", "lungs", "left lung", "lymph node"],
    "nodal": ["", "true", "FALSE", "yes", "maybe"],
    "long_axis_mm": ["", "0", "4.1", "40", "-4", "4O", "NaN", "1e300", "35.55", "12000", "inf"],
    "short_axis_mm": ["", "0", "9", "18", "-1", "x"],
    "status": [
        "",
        "present",
        "Absent",
        "too_small",
        "not_evaluated",
        "unequivocal_progression",
        "equivocal",
        "merged_into:T1",
        "MERGED_INTO: T2",
        "merged_into:T9",
        "gone",
    ],  # fmt: skip
    "unit": ["", "mm", "cm", "CM", "inch"],
    "slice_thickness_mm": ["", "5", "-1"],
    "source": ["", "x.dcm"],
}
ROLE_OF = {"T": "target", "N": "new", "X": "non-target"}
OPTIONAL = ["role", "organ", "nodal", "long_axis_mm", "short_axis_mm", "status", "unit", "slice_thickness_mm",
            "reader", "source"]  # fmt: skip


@st.composite
def messy_tables(draw: st.DrawFn) -> pd.DataFrame:
    """Small lesion tables: valid-looking subjects (inheritance, new lesions, fragments, merges, jumps, cm
    units, nodes), a few cells made bad, rows shuffled, optional columns dropped."""
    rows: list[dict[str, str]] = []
    for _ in range(draw(st.integers(1, 4))):
        sid = draw(st.sampled_from(["001", "002", "003", "B", "b"]))
        reader = draw(st.sampled_from(["", "", "A", "B"]))
        n_visits = draw(st.integers(1, 4))
        lesions = draw(st.lists(st.sampled_from(["T1", "T2", "X1", "X2"]), max_size=3, unique=True))
        nodal = draw(st.sets(st.sampled_from(lesions))) if lesions else set()
        unit = draw(st.sampled_from(["", "", "mm", "cm"]))
        for k in range(n_visits):
            base = {"subject_id": sid, "reader": reader, "timepoint": "baseline" if k == 0 else f"week {8 * k}",
                    "date": DATES[k], "unit": unit}  # fmt: skip
            here = [lid for lid in lesions if draw(st.integers(0, 5))] + (["N1"] if k and draw(st.booleans()) else [])
            if not here:
                rows.append({**base, "lesion_id": ""})
            for lid in here:
                first = not any(r["lesion_id"] == lid and r["subject_id"] == sid for r in rows)
                r = {**base, "lesion_id": lid, "role": ROLE_OF[lid[0]] if first or draw(st.booleans()) else "",
                     "organ": draw(st.sampled_from(["liver", "lung", "Liver", "lymph node"])) if first else "",
                     "nodal": "true" if lid in nodal else draw(st.sampled_from(["", "false"]))}  # fmt: skip
                value = draw(st.sampled_from(["12", "40", "4.1", "0", "35.55", "300", "3", ""]))
                if lid[0] == "X":
                    r["status"] = draw(st.sampled_from(["", "present", "absent", "unequivocal_progression"]))
                elif draw(st.integers(0, 9)) == 0 and k:
                    r["status"] = draw(st.sampled_from(["absent", "too_small", "merged_into:T1", "merged_into:T2"]))
                else:
                    r["short_axis_mm" if lid in nodal else "long_axis_mm"] = value or "10"
                if lid == "T1" and k and draw(st.integers(0, 4)) == 0:  # split into fragments
                    rows += [{**r, "lesion_id": f"T1.{j}", "role": "", "organ": ""} for j in (1, 2)]
                    if draw(st.booleans()):
                        continue
                rows.append(r)
    for i, name, value in draw(st.lists(st.tuples(st.integers(0, len(rows) - 1), st.sampled_from(list(MESSY)),
                                                  st.integers(0, 10)), max_size=3)):  # fmt: skip
        rows[i][name] = MESSY[name][value % len(MESSY[name])]
    rows = draw(st.permutations(rows))
    keep = [c for c in OPTIONAL if draw(st.integers(0, 5))]
    columns = ["subject_id", "timepoint", "date", "lesion_id", *keep]
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in rows], columns=columns, dtype=str)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_tables(), st.sampled_from([IR, R]), st.booleans(), st.integers(1, 2))
def test_messy_tables(df: pd.DataFrame, config: CriterionConfig, merged: bool, offset: int) -> None:
    if merged:  # tables merged by irrecist.scoring carry their own file and row
        df = df.assign(__src=["a.csv" if i % 2 else "b.csv" for i in range(len(df))], __row=range(len(df)))
    info = {"001": SubjectInfo(tumor_type="solid")}
    assert_same(df, "lesions.csv", config, row_offset=offset, info=info)
