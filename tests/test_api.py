"""The Python API ``irrecist.score``: same numbers as the CLI, inputs as DataFrame / path / list, options."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import irrecist
from irrecist.errors import ConfigError, InputError
from irrecist_cli.main import main
from tests.helpers import frame, series

CDISC = ("tu", "tr", "rs", "adrs")


@pytest.fixture
def rows() -> list[dict[str, object]]:
    out = series({"T1": [40, 45, 30, 25], "T2": [30, 41, 18, 15]}, subject="001")
    out += series({"T1": [50, 30, 28]}, subject="002", new={"N1": [None, 12, 14]})
    out += series({"T1": [63, 60]}, subject="003", nontarget={"NT1": ["present", "unequivocal_progression"]})
    return out


@pytest.fixture
def table(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "lesions.csv"
    frame(rows).to_csv(path, index=False)
    return path


def csv_text(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def test_same_tables_as_the_cli(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert main(["score", str(table), "--out", str(out), "--criterion", "all", "--set", "pd_confirm_max_days=84"]) == 0
    res = irrecist.score(table, "all", pd_confirm_max_days=84)
    assert isinstance(res, irrecist.ScoreResult) and res.complete
    assert csv_text(res.timepoints) == (out / "timepoints.csv").read_bytes()
    assert csv_text(res.subjects) == (out / "subjects.csv").read_bytes()
    assert csv_text(res.errors) == (out / "errors.csv").read_bytes()
    for name in CDISC:
        assert csv_text(res.cdisc[name]) == (out / "cdisc" / f"{name}.csv").read_bytes(), name
    assert res.summary == json.loads((out / "summary.json").read_text())
    assert res.summary["criteria"]["irrecist"]["options"]["pd_confirm_max_days"] == "84"
    # and the numbers are the expected ones, not merely equal to each other
    ir = res.timepoints[(res.timepoints.criterion == "irrecist") & (res.timepoints.subject_id == "001")]
    assert ir.tmtb_mm.tolist() == [70.0, 86.0, 48.0, 40.0]
    bor = res.subjects.set_index(["subject_id", "criterion"]).bor
    # 002: new lesion N1 is PD under RECIST 1.1, but enters TMTB under irRECIST (30 + 12 = 42 vs 50: irSD);
    # 003: unequivocal non-target progression at the last assessment: irPD, pending
    assert (bor["001", "irrecist"], bor["002", "recist1.1"], bor["002", "irrecist"]) == ("irPR", "PD", "irSD")
    assert bor["003", "irrecist"] == "irPD"


def test_write_gives_the_cli_files(table: Path, tmp_path: Path) -> None:
    assert main(["score", str(table), "--out", str(tmp_path / "cli"), "--parquet"]) == 0
    irrecist.score([str(table)]).write(tmp_path / "api", parquet=True)
    files = ["timepoints", "subjects", "errors"] + [f"cdisc/{name}" for name in CDISC]
    files = [f"{f}.{ext}" for f in files for ext in ("csv", "parquet")] + ["summary.json"]
    for f in files:
        assert (tmp_path / "api" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f


def test_dataframe_with_python_types_scores_like_the_file(table: Path, rows: list[dict[str, object]]) -> None:
    df = pd.DataFrame(rows)
    df["date"] = pd.to_datetime(df["date"])  # real dates instead of text
    df["nodal"] = df["nodal"].map({"true": True, "false": False})  # booleans; NaN where the row has none
    assert df["long_axis_mm"].dtype == float  # numbers with NaN
    from_frame = irrecist.score(df, "all")
    from_file = irrecist.score(table, "all")
    assert csv_text(from_frame.timepoints) == csv_text(from_file.timepoints)
    assert csv_text(from_frame.subjects) == csv_text(from_file.subjects)
    assert from_frame.summary == from_file.summary
    for name in CDISC:
        pd.testing.assert_frame_equal(from_frame.cdisc[name], from_file.cdisc[name])


def test_bad_rows_are_reported_with_the_frame_as_source(rows: list[dict[str, object]]) -> None:
    df = frame(rows)
    df.loc[1, "long_axis_mm"] = "-4"
    res = irrecist.score(df)
    assert not res.complete
    err = res.errors.iloc[0]
    assert (err.source, err.subject_id, err.message) == (
        "DataFrame row 1",
        "001",
        "long_axis_mm is -4; it must be a number >= 0",
    )
    assert "001" not in set(res.subjects.subject_id) and "002" in set(res.subjects.subject_id)


def test_options_change_the_result(table: Path) -> None:
    res = irrecist.score(table, pd_confirm_min_days=200)
    assert res.timepoints[res.timepoints.subject_id == "001"].pd_status.tolist()[1] == "pending"
    res = irrecist.score(table, confirm_response=False)
    assert res.subjects.set_index("subject_id").bor_confirmed["001"] == "false"
    adrs = res.cdisc["adrs"]
    assert adrs[(adrs.USUBJID == "001") & (adrs.PARAMCD == "CBOR")].AVALC.tolist() == ["irPR"]


def test_protocol_mapping_and_file(table: Path, tmp_path: Path) -> None:
    proto = {"max_baseline_ld_mm": 70, "irrecist": {"pd_confirm_min_days": 200}}
    res = irrecist.score(table, protocol=proto)
    assert res.subjects.set_index("subject_id").baseline_eligible["003"] == "true"
    path = tmp_path / "p.toml"
    path.write_text("max_baseline_ld_mm = 70\n")
    assert irrecist.score(table, protocol=path).subjects.set_index("subject_id").baseline_eligible["003"] == "true"
    # keyword options win over the protocol
    res = irrecist.score(table, protocol=proto, max_baseline_ld_mm=60)
    assert res.subjects.set_index("subject_id").baseline_eligible["003"] == "false"


def test_subject_table_as_frame_or_file(table: Path, tmp_path: Path, rows: list[dict[str, object]]) -> None:
    subjects = pd.DataFrame({"subject_id": ["001"], "treatment_start_date": [date(2024, 1, 5)]})
    for given in (subjects, tmp_path / "s.csv"):
        subjects.to_csv(tmp_path / "s.csv", index=False)
        for source in (table, frame(rows)):
            tp = irrecist.score(source, subjects=given).timepoints
            # baseline 2024-01-01 is 4 days before treatment start: day -4 (no day 0); 2024-02-26 is day 53
            assert tp[tp.subject_id == "001"].study_day.tolist()[:2] == [-4, 53]
            assert tp[tp.subject_id == "002"].study_day.tolist()[0] == 1


def test_studyid_fills_the_cdisc_tables(table: Path, tmp_path: Path) -> None:
    res = irrecist.score(table, studyid="IRX-001")
    for name in CDISC:
        assert set(res.cdisc[name].STUDYID) == {"IRX-001"}
    res.write(tmp_path / "o")
    assert set(pd.read_csv(tmp_path / "o" / "cdisc" / "adrs.csv").STUDYID) == {"IRX-001"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nope": 1}, "unknown option 'nope'"),
        ({"pd_min_increase_pct": "abc"}, "option pd_min_increase_pct: 'abc' is not a number"),
        ({"max_targets": True}, "option max_targets: True is not a whole number"),
        ({"cr_then_pr": "maybe"}, "allowed: pr, pd, invalidate"),
        ({"criterion": "who"}, "unknown criterion 'who'; allowed: irrecist, recist1.1"),
        ({"name": "recist1.1"}, "the criterion is chosen with --criterion"),
        ({"protocol": 42}, "protocol: expected a mapping of options or a TOML/JSON file"),
        ({"protocol": {"irecist": {"sd_min_days": 1}}}, r"unknown criterion table \[irecist\]"),
    ],
)
def test_bad_options_raise_config_error(table: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        irrecist.score(table, **kwargs)  # type: ignore[arg-type]


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        irrecist.score(tmp_path / "missing.csv")
    with pytest.raises(InputError, match=r"missing required column\(s\) timepoint, lesion_id"):
        irrecist.score(pd.DataFrame({"subject_id": ["1"], "date": ["2024-01-01"]}))
    with pytest.raises(TypeError, match="a DataFrame, a path or a list of paths"):
        irrecist.score([42])  # type: ignore[list-item]


def test_import_is_cheap() -> None:
    code = "import sys, irrecist; print('pandas' in sys.modules, irrecist.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", irrecist.__version__]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = irrecist.nothing  # type: ignore[attr-defined]


def test_landmark_by_day_matches_the_cli(table: Path, tmp_path: Path) -> None:
    """Day 112 after baseline: 001 irPR (48 mm, -31 %); 002 irSD (28 + 14 = 42 mm vs 50); 003 none: 1/3."""
    out = tmp_path / "cli"
    assert main(["score", str(table), "--out", str(out), "--no-report", "--orr-at-day", "112"]) == 0
    res = irrecist.score(table, orr_at=irrecist.Landmark(day=112))
    block = res.summary["criteria"]["irrecist"]["landmark_orr"]
    assert block == json.loads((out / "summary.json").read_text())["criteria"]["irrecist"]["landmark_orr"]
    assert (block["n"], block["N"], block["subjects_with_assessment"]) == (1, 3, 2)
    with pytest.raises(ValueError, match="either a visit label or a day"):
        irrecist.Landmark(visit="W4", day=28)


JUMP_ROWS = [
    {"subject_id": "GOOD", "timepoint": "baseline", "date": "2024-01-01", "lesion_id": "T1", "role": "target",
     "organ": "liver", "long_axis_mm": "40"},
    {"subject_id": "GOOD", "timepoint": "week 8", "date": "2024-02-26", "lesion_id": "T1", "long_axis_mm": "30"},
    {"subject_id": "JUMP", "timepoint": "baseline", "date": "2024-01-01", "lesion_id": "T1", "role": "target",
     "organ": "liver", "long_axis_mm": "42"},
    {"subject_id": "JUMP", "timepoint": "week 8", "date": "2024-02-26", "lesion_id": "T1", "long_axis_mm": "4.1"},
]  # fmt: skip


@pytest.mark.parametrize("as_file", [False, True])
def test_strict_and_pseudonymize_as_the_cli(tmp_path: Path, as_file: bool) -> None:
    """JUMP's 42 -> 4.1 mm is a warning; strict leaves JUMP unscored. Pseudonymized ids are the CLI's."""
    df = pd.DataFrame(JUMP_ROWS).fillna("")
    path = tmp_path / "lesions.csv"
    df.to_csv(path, index=False)
    given: pd.DataFrame | Path = path if as_file else df
    lenient = irrecist.score(given)
    assert set(lenient.subjects.subject_id) == {"GOOD", "JUMP"} and list(lenient.errors.level) == ["warning"]
    strict = irrecist.score(given, strict=True)
    assert not strict.complete and set(strict.subjects.subject_id) == {"GOOD"}
    assert set(strict.errors.level) == {"error"} and set(strict.errors.subject_id) == {"JUMP"}
    hidden = irrecist.score(given, pseudonymize="s3cret")
    assert main(["score", str(path), "--out", str(tmp_path / "cli"), "--no-report", "--pseudonymize", "s3cret"]) == 0
    cli = pd.read_csv(tmp_path / "cli" / "subjects.csv", dtype=str, keep_default_na=False)
    assert sorted(hidden.subjects.subject_id) == sorted(cli.subject_id)
    assert not {"GOOD", "JUMP"} & set(hidden.subjects.subject_id)
    assert "JUMP" not in csv_text(hidden.errors).decode()
