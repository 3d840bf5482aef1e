"""Patient data (issue 7): outputs and logs carry subject ids and never patient names, birth dates or other
identifying DICOM attributes; ``--pseudonymize SECRET`` replaces subject ids by a keyed hash, the same in every
output of ``score`` and ``extract``. Runs over demo DICOM studies whose headers carry patient names."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import re
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from irrecist.errors import ConfigError, Level, Problem
from irrecist.pseudonym import LENGTH, Pseudonymizer
from irrecist_cli.main import main

DEMO = Path(__file__).resolve().parent.parent / "test_images"
SUBJECTS = ["DEMO-001", "DEMO-002", "DEMO-007"]  # SR; SEG; RTSTRUCT with a lesion over 6 cm (in summary.json)
SECRET = "correct horse battery staple"
IDENTIFYING = ["PatientName", "PatientBirthDate", "AccessionNumber", "OtherPatientNames", "PatientAddress"]


def expected(sid: str) -> str:
    return hmac.new(SECRET.encode(), sid.encode(), hashlib.sha256).hexdigest()[:LENGTH]


def identifying_values() -> set[str]:
    """Every identifying value in the headers of the demo subjects used (names split at ^, dates in both forms)."""
    found: set[str] = set()
    for sid in SUBJECTS:
        for f in sorted((DEMO / sid).rglob("*.dcm")):
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=IDENTIFYING)
            for kw in IDENTIFYING:
                value = str(ds.get(kw, "") or "").strip()
                if not value:
                    continue
                found |= {part for part in re.split(r"[\^=]", value) if len(part) >= 3}
                if kw == "PatientBirthDate" and len(value) == 8:
                    found.add(f"{value[:4]}-{value[4:6]}-{value[6:]}")
    return found


def output_texts(folder: Path) -> dict[str, str]:
    """Every file written under ``folder`` as text (binary files decoded byte for byte). Text drawn into PNG
    plots is pixels; the SVG twin of each plot keeps it as text (comments), so it is checked there."""
    return {str(f.relative_to(folder)): f.read_bytes().decode("latin-1") for f in folder.rglob("*") if f.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """score (every output, report and plots included) and extract, pseudonymized, plus what they printed."""
    base = tmp_path_factory.mktemp("privacy")
    notes = pd.read_csv(DEMO / "annotations.csv", dtype=str, keep_default_na=False)
    notes[notes.subject_id.isin(SUBJECTS)].to_csv(base / "annotations.csv", index=False)
    inputs = [str(DEMO / s) for s in SUBJECTS]
    out: dict[str, dict[str, str]] = {}
    for name, argv in (
        ("score", ["score", *inputs, "--annotations", str(base / "annotations.csv"), "--out", str(base / "score")]),
        ("extract", ["extract", *inputs, "--annotations", str(base / "annotations.csv"), "--out", str(base / "ex")]),
    ):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = main([*argv, "--pseudonymize", SECRET])
        assert code in (0, 1), printed.getvalue()
        folder = base / ("score" if name == "score" else "ex")
        out[name] = {**output_texts(folder), "<printed>": printed.getvalue()}
    return out


def test_no_name_birth_date_or_accession_number_in_any_output_or_log(runs: dict[str, dict[str, str]]) -> None:
    values = identifying_values()
    assert {"Demo", "1958-03-14"} & values, values  # the demo headers do carry them
    for run, files in runs.items():
        assert len(files) >= (8 if run == "score" else 4), sorted(files)
        for name, text in files.items():
            for value in values:
                assert value not in text, (run, name, value)


def test_no_subject_id_in_any_output_or_log(runs: dict[str, dict[str, str]]) -> None:
    for run, files in runs.items():
        for name, text in files.items():
            for sid in SUBJECTS:
                assert sid not in text, (run, name, sid)


def test_pseudonyms_are_the_keyed_hash_and_agree_across_outputs(runs: dict[str, dict[str, str]]) -> None:
    want = {expected(s) for s in SUBJECTS}
    score, extract = runs["score"], runs["extract"]
    for files, table in ((score, "subjects.csv"), (score, "timepoints.csv"), (extract, "lesions.csv"),
                         (extract, "studies.csv")):  # fmt: skip
        ids = set(pd.read_csv(pd.io.common.StringIO(files[table]), dtype=str).subject_id)
        assert ids <= want and ids, (table, ids)
    scored = set(pd.read_csv(pd.io.common.StringIO(score["subjects.csv"]), dtype=str).subject_id)
    assert scored == want
    summary = json.loads(score["summary.json"])
    assert summary["criteria"]["irrecist"]["eligibility"]["ineligible_subjects"] == [expected("DEMO-007")]
    for name, text in score.items():  # CDISC tables, report and plots name the same pseudonyms
        if (name.startswith(("cdisc", "plots")) or name == "report.html") and not name.endswith(".png"):
            assert any(p in text for p in want), name
    assert expected("DEMO-007") in score["<printed>"]  # the printed summary lists the ineligible subject


def test_pseudonym_definition() -> None:
    p = Pseudonymizer.from_secret(SECRET)
    assert p("DEMO-001") == expected("DEMO-001") and len(p("x")) == LENGTH
    assert p("") == "" and p("DEMO-001") != Pseudonymizer.from_secret("other")("DEMO-001")
    sub = p.replacer(["DEMO-001", "7", "A B"])
    text = "DEMO-001/2023-01-09_baseline/sr.dcm#1.2.7.4 row 7: subject 7, 'DEMO-001'. A B; DEMO-0017"
    assert sub(text) == (
        f"{p('DEMO-001')}/2023-01-09_baseline/sr.dcm#1.2.7.4 row 7: subject {p('7')}, '{p('DEMO-001')}'. "
        f"{p('A B')}; DEMO-0017"
    )
    (prob,) = p.problems([Problem(Level.ERROR, "DEMO-001/x.dcm", "DEMO-001", message="PatientID 'DEMO-001'")], sub)
    assert (prob.source, prob.subject_id, prob.message) == (
        f"{p('DEMO-001')}/x.dcm",
        p("DEMO-001"),
        f"PatientID '{p('DEMO-001')}'",
    )


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRRECIST_TEST_SECRET", SECRET)
    assert Pseudonymizer.from_secret("env:IRRECIST_TEST_SECRET")("DEMO-001") == expected("DEMO-001")
    with pytest.raises(ConfigError, match="IRRECIST_UNSET_SECRET is not set"):
        Pseudonymizer.from_secret("env:IRRECIST_UNSET_SECRET")
    with pytest.raises(ConfigError, match="non-empty secret"):
        Pseudonymizer.from_secret("")


def test_table_input_is_pseudonymized_with_its_subject_table(tmp_path: Path) -> None:
    table = tmp_path / "lesions.csv"
    table.write_text(
        "subject_id,timepoint,date,lesion_id,role,organ,long_axis_mm\n"
        "PAT-77,baseline,2024-01-01,T1,target,liver,40\nPAT-77,week 8,2024-02-26,T1,,,-3\n"
        " SUBJ-9 ,baseline,2024-01-01,T1,target,liver,40\nSUBJ-9,week 8,2024-02-26,T1,,,20\n",
        encoding="utf-8",
    )
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("subject_id,treatment_start_date\nSUBJ-9,2023-12-25\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["score", str(table), "--subjects", str(subjects), "--out", str(out), "--no-report"]
    assert main([*argv, "--pseudonymize", SECRET]) == 1
    files = output_texts(out)
    for name, text in files.items():
        assert "PAT-77" not in text and "SUBJ-9" not in text, name
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    assert set(errors.subject_id) == {expected("PAT-77")}
    tp = pd.read_csv(out / "timepoints.csv", dtype=str, keep_default_na=False)
    assert set(tp.subject_id) == {expected("SUBJ-9")}  # stripped like the engine strips it
    assert list(tp.study_day) == ["8", "64"]  # the subject table's dates were joined under the pseudonym


def test_nothing_to_score_message_is_pseudonymized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When nothing can be scored, the message quoting the first error carries pseudonyms too."""
    from irrecist_cli.main import main

    lesions = tmp_path / "lesions.csv"
    lesions.write_text("subject_id,date\nRAW-ID-1,2024-01-01\n")  # no timepoint / lesion_id: rejected
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("subject_id,treatment_start_date\nRAW-ID-1,2024-01-01\nRAW-ID-1,2024-01-02\n")
    code = main(["score", str(lesions), "--subjects", str(subjects), "--out", str(tmp_path / "out"),
                 "--pseudonymize", "s3cret"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "nothing to score" in err and "appears twice" in err
    assert "RAW-ID-1" not in err
