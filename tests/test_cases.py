"""Every RECIST 1.1 and irRECIST reference case of shared/cases reproduces its published answer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from irrecist.verify import run_case, run_cases
from tests.conftest import need_shared


def _cases() -> list[Path]:
    try:
        folder = need_shared("cases")
    except pytest.skip.Exception:
        return []
    return sorted(folder.rglob("*.json"))


def test_cases_folder_present(cases_dir: Path) -> None:
    assert len(list(cases_dir.rglob("*.json"))) >= 60


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.stem)
def test_reference_case(path: Path) -> None:
    case = json.loads(path.read_text())
    result = run_case(case)
    if case["criterion"] in ("RECIST1.1", "irRECIST"):
        assert result.status == "pass", result.detail
    else:
        assert result.status == "unsupported"


def test_verify_detects_a_wrong_expectation(cases_dir: Path) -> None:
    """The verifier compares for real: corrupting an expected answer makes the case fail."""
    case = json.loads((cases_dir / "derived" / "irrecist-defaults-pseudoprogression.json").read_text())
    assert run_case(case).status == "pass"
    bad = copy.deepcopy(case)
    bad["expected"]["timepoint_responses"][1] = "irSD"
    result = run_case(bad)
    assert result.status == "fail" and "timepoint_responses[1]" in result.detail
    bad = copy.deepcopy(case)
    bad["expected"]["tmtb_mm"][2] = 55
    assert run_case(bad).status == "fail"
    bad = copy.deepcopy(case)
    bad["expected"]["best_overall_response"] = "irSD"
    assert run_case(bad).status == "fail"


def test_verify_response_level_detects_wrong_bor_date(cases_dir: Path) -> None:
    case = json.loads((cases_dir / "recist11-admiralonco-cbor-test1-subj2.json").read_text())
    assert run_case(case).status == "pass"
    case["expected"]["bor_date"] = "2020-01-01"
    assert run_case(case).status == "fail"


def test_verify_category_checks_every_alternative(cases_dir: Path) -> None:
    case = json.loads((cases_dir / "recist11-eisenhauer-table1-row04.json").read_text())
    assert run_case(case).status == "pass"
    case["timepoints"][0]["nontarget_response_alternatives"].append("PD")
    assert run_case(case).status == "fail"


def test_run_cases_reports_bad_files(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"id": "x"}')
    results = run_cases(tmp_path)
    assert [r.status for r in results] == ["error", "error"]


def test_verify_checks_nadirs_as_list_or_mapping(cases_dir: Path) -> None:
    """Sums 70 (baseline), 30, 48: the nadir before v1 is the baseline 70, before v2 it is v1's 30."""
    case = json.loads((cases_dir / "recist11-recisttracker-pd-from-nadir-beats-pr-from-baseline.json").read_text())
    for right, wrong in (([None, 70, 30], [None, 70, 70]), ({"v1": 70, "v2": 30}, {"v1": 70, "v2": 48})):
        case["expected"]["nadir_mm_before_tp"] = right
        assert run_case(case).status == "pass", run_case(case).detail
        case["expected"]["nadir_mm_before_tp"] = wrong
        result = run_case(case)
        assert result.status == "fail" and "nadir_mm_before_tp" in result.detail
    case["expected"]["nadir_mm_before_tp"] = {"v9": 70}
    assert "no time point labelled 'v9'" in run_case(case).detail


def test_verify_takes_the_external_pd_date_as_a_day(cases_dir: Path) -> None:
    """pd_day_input alone (no date): only assessments up to that day count, as with pd_date_input."""
    case = json.loads((cases_dir / "recist11-admiralonco-cbor-test1-subj9.json").read_text())
    del case["pd_date_input"]
    assert case["pd_day_input"] == 15
    assert run_case(case).status == "pass"
    case["pd_day_input"] = 14  # a day before A1's PD: no assessment is left in the window, so no BOR PD
    result = run_case(case)
    assert result.status == "fail" and "best_overall_response" in result.detail


def test_verify_accepts_any_conditional_bor(cases_dir: Path) -> None:
    case = json.loads((cases_dir / "recist11-admiralonco-cbor-test1-subj9.json").read_text())
    case["expected"]["best_overall_response"] = None
    case["expected"]["best_overall_response_if_sd_duration_met"] = "SD"
    assert run_case(case).status == "fail"
    case["expected"]["best_overall_response_if_sd_duration_not_met"] = "PD"
    assert run_case(case).status == "pass"


@pytest.mark.parametrize(
    ("name", "key", "index"),
    [
        ("recist11-recisttracker-pr-30pct.json", "target_responses", 1),  # lesion level
        ("recist11-eisenhauer-table1-row04.json", "timepoint_responses", 0),  # category level
        ("recist11-admiralonco-cbor-test1-subj2.json", "best_overall_response", None),  # time-point responses
    ],
)
def test_verify_infers_a_missing_input_level(cases_dir: Path, name: str, key: str, index: int | None) -> None:
    """Without ``input_level`` a case is judged by what its time points carry: the same checks run."""
    case = json.loads((cases_dir / name).read_text())
    bare = copy.deepcopy(case)
    del bare["input_level"]
    assert run_case(bare).status == "pass"
    for c in (case, bare):  # one expected answer made wrong: both fail with the same difference
        if index is None:
            c["expected"][key] = "NE"
        else:
            c["expected"][key][index] = "NE"
    with_level, inferred = run_case(case), run_case(bare)
    assert inferred.status == "fail" and inferred.detail == with_level.detail
