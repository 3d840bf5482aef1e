"""The command line on small tables: outputs, labels, booleans, options, exit codes, error report."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from irrecist_cli.main import main
from tests.helpers import START, frame, series

DEMO = Path(__file__).resolve().parent.parent / "test_images"
HEADER = "subject_id,timepoint,date,lesion_id,role,organ,nodal,long_axis_mm,short_axis_mm,status\n"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rows = series({"T1": [40, 45, 30, 25], "T2": [30, 41, 18, 15]}, subject="001") + series(
        {"T1": [50, 30, 28]}, subject="002"
    )
    rows += series({"T1": [63, 60]}, subject="003")  # 63 mm: over the 6 cm limit
    path = tmp_path / "lesions.csv"
    frame(rows).to_csv(path, index=False)
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_score_writes_every_table(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, text, _ = run(["score", str(table), "--out", str(out), "--criterion", "all"], capsys)
    assert code == 0
    tp = pd.read_csv(out / "timepoints.csv", dtype=str, keep_default_na=False)
    for col in [
        "subject_id",
        "reader",
        "criterion",
        "timepoint",
        "date",
        "study_day",
        "target_sum_mm",
        "new_lesions_mm",
        "tmtb_mm",
        "baseline_mm",
        "nadir_mm",
        "pct_from_baseline",
        "pct_from_nadir",
        "change_from_nadir_mm",
        "target_response",
        "nontarget_response",
        "new_lesions",
        "response",
        "pd_status",
        "reason",
    ]:
        assert col in tp.columns
    ir = tp[(tp.criterion == "irrecist") & (tp.subject_id == "001")]
    # 70 -> 86 (+22.9 %, +16 mm: irPD), 48 (-31.4 %: irPR, refutes the irPD), 40 (irPR confirms)
    assert list(ir.response) == ["", "irPD", "irPR", "irPR"]
    assert list(ir.pd_status) == ["", "unconfirmed", "", ""]
    assert list(ir.tmtb_mm) == ["70.0", "86.0", "48.0", "40.0"]
    assert ir.study_day.tolist() == ["1", "57", "113", "169"]
    assert "TMTB 86.0 mm: +22.9 % from baseline 70.0 mm; +22.9 % and +16.0 mm vs the nadir 70.0 mm" in ir.reason.iloc[1]
    rc = tp[(tp.criterion == "recist1.1") & (tp.subject_id == "001")]
    assert list(rc.response) == ["", "PD", "PR", "PR"]
    subj = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    s1 = subj[(subj.subject_id == "001") & (subj.criterion == "irrecist")].iloc[0]
    assert (s1.bor, s1.bor_confirmed, s1.bor_date) == ("irPR", "true", "2024-04-22")
    s3 = subj[(subj.subject_id == "003") & (subj.criterion == "irrecist")].iloc[0]
    assert (s3.baseline_eligible, s3.ineligible_lesions) == ("false", "T1")
    summary = json.loads((out / "summary.json").read_text())
    orr = summary["criteria"]["irrecist"]["orr"]
    # 001 irPR confirmed; 002: 50 -> 30 (PR) -> 28 (PR, 56 days later): confirmed; 003 SD
    assert (orr["n"], orr["N"], orr["pct"]) == (2, 3, 66.7)
    assert (orr["ci95_low_pct"], orr["ci95_high_pct"]) == (9.4, 99.2)
    assert "ORR (confirmed, response-evaluable): 2/3 = 66.7 %" in text
    assert "ineligible at baseline (6 cm limit): 003" in text
    assert pd.read_csv(out / "errors.csv").empty


def test_exclude_ineligible_and_landmark(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    code, _, _ = run(["score", str(table), "--out", str(out), "--exclude-ineligible", "--orr-at", "day 112"], capsys)
    assert code == 0
    block = json.loads((out / "summary.json").read_text())["criteria"]["irrecist"]
    assert (block["orr"]["n"], block["orr"]["N"]) == (2, 2)
    assert block["excluded_ineligible"] == 1
    assert (block["landmark_orr"]["n"], block["landmark_orr"]["N"]) == (2, 2)


def _landmark_block(table: Path, out: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict:
    code, text, _ = run(["score", str(table), "--out", str(out), "--no-report", *flags], capsys)
    assert code == 0
    return dict(json.loads((out / "summary.json").read_text())["criteria"]["irrecist"]["landmark_orr"])


def test_landmark_by_day_with_window(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Assessments on days 0, 56, 112, 168 after baseline (no treatment start: the baseline scan anchors).
    Day 112: 001 irPR, 002 irPR, 003 has no assessment there (non-responder): 2/3."""
    lm = _landmark_block(table, tmp_path / "a", capsys, "--orr-at-day", "112")
    assert (lm["n"], lm["N"], lm["subjects_with_assessment"], lm["window_days"]) == (2, 3, 2, 7)
    # the window is inclusive: day 105 +- 7 reaches day 112, +- 6 does not
    lm = _landmark_block(table, tmp_path / "b", capsys, "--orr-at-day", "105", "--orr-window", "7")
    assert (lm["n"], lm["subjects_with_assessment"]) == (2, 2)
    lm = _landmark_block(table, tmp_path / "c", capsys, "--orr-at-day", "105", "--orr-window", "6")
    assert (lm["n"], lm["subjects_with_assessment"]) == (0, 0)
    # day 84 +- 28: days 56 and 112 are equally near, the earlier counts: 001 irPD (no), 002 irPR, 003 irSD
    lm = _landmark_block(table, tmp_path / "d", capsys, "--orr-at-day", "84", "--orr-window", "28")
    assert (lm["n"], lm["subjects_with_assessment"]) == (1, 3)


def test_landmark_after_last_treatment(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The trial's primary endpoint: 4 weeks after the last treatment. 001 was last treated on day 84, so day
    28 after it is its day-112 scan (irPR); 002 and 003 have no last_treatment_date: non-responders."""
    subjects = tmp_path / "subjects.csv"
    subjects.write_text(f"subject_id,last_treatment_date\n001,{(START + timedelta(days=84)).isoformat()}\n")
    flags = ("--subjects", str(subjects), "--orr-at-day", "28", "--orr-anchor", "last-treatment")
    lm = _landmark_block(table, tmp_path / "o", capsys, *flags)
    assert (lm["n"], lm["N"], lm["subjects_with_assessment"], lm["subjects_without_anchor_date"]) == (1, 3, 1, 2)
    assert lm["anchor"] == "last_treatment"


def test_landmark_flags_are_checked(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["score", str(table), "--out", str(tmp_path), "--orr-at", "W4", "--orr-at-day", "28"], capsys)
    assert code == 2 and "not allowed with argument" in err
    code, _, err = run(["score", str(table), "--out", str(tmp_path), "--orr-at-day", "-3"], capsys)
    assert code == 2 and "landmark day and window must be >= 0" in err


def test_set_and_protocol_change_options(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    # confirmation off: BOR irPR is reported as not confirmed
    code, _, _ = run(["score", str(table), "--out", str(out), "--set", "confirm_response=false"], capsys)
    assert code == 0
    subj = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    assert subj[subj.subject_id == "001"].bor_confirmed.iloc[0] == "false"
    proto = tmp_path / "protocol.toml"
    proto.write_text("max_baseline_ld_mm = 70\n[irrecist]\npd_confirm_min_days = 200\n")
    code, _, _ = run(["score", str(table), "--out", str(out), "--protocol", str(proto)], capsys)
    subj = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    assert subj[subj.subject_id == "003"].baseline_eligible.iloc[0] == "true"
    tp = pd.read_csv(out / "timepoints.csv", dtype=str, keep_default_na=False)
    assert tp[tp.subject_id == "001"].pd_status.tolist()[1] == "pending"  # 200-day window: nothing decides it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nope=1"], "unknown option 'nope'"),
        (["--set", "pd_min_increase_pct=abc"], "option pd_min_increase_pct: 'abc' is not a number"),
        (["--set", "cr_then_pr=maybe"], "allowed: pr, pd, invalidate"),
        (["--set", "confirm_response"], "expected NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(["score", str(table), "--out", str(tmp_path / "o"), *args], capsys)
    assert code == 2 and message in err


def test_missing_input_and_bad_criterion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["score", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no such file" in err
    assert main(["score", "x.csv", "--out", "o", "--criterion", "who"]) == 2


def test_bad_subject_is_reported_and_others_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "l.csv"
    path.write_text(
        HEADER + "001,baseline,2024-01-01,T1,target,liver,,40,,\n"
        "001,w8,2024-02-26,T1,,,,-4,,\n"
        "002,baseline,2024-01-01,T1,target,liver,,40,,\n"
        "002,w8,2024-02-26,T1,,,,30,,\n"
    )
    out = tmp_path / "o"
    code, text, _ = run(["score", str(path), "--out", str(out)], capsys)
    assert code == 1
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    assert errors.iloc[0].to_dict() == {
        "level": "error",
        "source": f"{path} row 3",
        "subject_id": "001",
        "lesion_id": "T1",
        "timepoint": "w8",
        "message": "long_axis_mm is -4; it must be a number >= 0",
    }
    assert pd.read_csv(out / "subjects.csv").subject_id.astype(str).str.zfill(3).tolist() == ["002"]
    assert "errors: 1" in text


def test_missing_columns_reject_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "l.csv"
    path.write_text("subject_id,date\n001,2024-01-01\n")
    code, _, err = run(["score", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "missing required column(s) timepoint, lesion_id" in err


def test_outputs_are_byte_identical_across_runs(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b"):
        assert main(["score", str(table), "--out", str(tmp_path / name), "--criterion", "all"]) == 0
    for f in ("timepoints.csv", "subjects.csv", "summary.json", "errors.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_verify_json(cases_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(["verify", str(cases_dir), "--json"], capsys)
    results = json.loads(text)
    assert {r["status"] for r in results} <= {"pass", "unsupported"}
    assert code == 1  # unsupported criteria (iRECIST, irRC, imRECIST) are not "all pass"
    assert set(results[0]) == {"id", "criterion", "status", "detail"}


def test_verify_exit_0_when_all_pass(cases_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for p in (cases_dir / "derived").glob("irrecist-*.json"):
        (tmp_path / p.name).write_text(p.read_text())
    code, text, _ = run(["verify", str(tmp_path)], capsys)
    assert code == 0 and "pass" in text.splitlines()[-1]


def test_options_lists_documented_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(["options", "--criterion", "recist1.1"], capsys)
    assert code == 0
    assert "pd_min_increase_pct = 20" in text and "RECIST 1.1 section 4.3.1" in text


def test_outputs_get_normal_file_permissions(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Atomic writes go through mkstemp (mode 0600); the finished files get 0666 minus the umask."""
    import os
    import stat

    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        assert run(["score", str(table), "--out", str(out), "--no-report"], capsys)[0] == 0
    finally:
        os.umask(old)
    for name in ("timepoints.csv", "subjects.csv", "summary.json", "errors.csv", "cdisc/tr.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_extract_outputs_get_normal_file_permissions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``extract`` writes atomically too, and its tables are readable by others as normally created files
    are (they were left at mkstemp's 0600)."""
    import os
    import stat

    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        assert run(["extract", str(DEMO / "DEMO-001"), "--out", str(out)], capsys)[0] == 0
    finally:
        os.umask(old)
    for name in ("lesions.csv", "studies.csv", "issues.csv", "lines.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_score_prefers_an_allocator_that_returns_memory() -> None:
    """irrecist.runtime: jemalloc becomes pyarrow's pool when the wheel has it (the peak-memory figure of
    benchmarks/RESULTS.md depends on it); otherwise the default stays."""
    import pyarrow as pa

    from irrecist.runtime import prefer_releasing_allocator

    before = pa.default_memory_pool()
    try:
        try:
            pa.jemalloc_memory_pool()
            expected = "jemalloc"
        except NotImplementedError:
            expected = before.backend_name
        assert prefer_releasing_allocator() == expected == pa.default_memory_pool().backend_name
    finally:
        pa.set_memory_pool(before)
