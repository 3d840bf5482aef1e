"""Safety of results (issue 7): inputs opened read-only and never changed, outputs written whole or not at all,
the same inputs give byte-identical outputs, and ``--strict`` turns every warning into an error."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from irrecist_cli.main import main
from tests.audit import watching

DEMO = Path(__file__).resolve().parent.parent / "test_images"
SUBJECTS = ["DEMO-001", "DEMO-002"]  # measurements in SR; in SEG with roles from the annotation table


def digests(*roots: Path) -> dict[str, str]:
    files = [f for r in roots for f in ([r] if r.is_file() else sorted(r.rglob("*"))) if f.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def outputs(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("notes") / "annotations.csv"
    table = pd.read_csv(DEMO / "annotations.csv", dtype=str, keep_default_na=False)
    table[table.subject_id.isin(SUBJECTS)].to_csv(path, index=False)
    return path


def commands(notes: Path, out: Path) -> list[list[str]]:
    inputs = [str(DEMO / s) for s in SUBJECTS]
    return [
        ["score", *inputs, "--annotations", str(notes), "--out", str(out / "score")],
        ["extract", *inputs, "--annotations", str(notes), "--out", str(out / "extract")],
    ]


def test_inputs_are_read_only_unchanged_and_outputs_byte_identical(
    notes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roots = [DEMO / s for s in SUBJECTS] + [notes]
    before = digests(*roots)
    out = tmp_path / "out"
    with watching(*roots) as seen:
        for argv in commands(notes, out):
            assert main(argv) == 0, capsys.readouterr()
    opened = {path for event, path in seen if event == "open"}
    assert len(opened) >= 10 and str(notes) in opened  # the hook saw the inputs being read ...
    assert [s for s in seen if s[0] != "open"] == []  # ... and never opened one for writing
    assert digests(*roots) == before
    first = outputs(out)
    assert {"score/timepoints.csv", "score/report.html", "extract/lesions.csv"} <= set(first)
    shutil.rmtree(out)
    for argv in commands(notes, out):
        assert main(argv) == 0
    second = outputs(out)
    assert set(second) == set(first)
    assert [name for name in first if first[name] != second[name]] == []


# ------------------------------------------------------------------------------------------- atomic writes


def _failing_to_csv(real: Callable[..., Any], fail_on: str) -> Callable[..., Any]:
    def to_csv(self: pd.DataFrame, path: Any = None, *args: Any, **kwargs: Any) -> Any:
        if path is not None and fail_on in str(path):
            Path(path).write_text("half a tab", encoding="utf-8")
            raise OSError("disk full")
        return real(self, path, *args, **kwargs)

    return to_csv


def _failing_write_bytes(real: Callable[..., Any], fail_on: str) -> Callable[..., Any]:
    """The result tables are written as bytes (``irrecist.csvio``): half written, then the disk is full."""

    def write_bytes(self: Path, data: bytes) -> int:
        if fail_on in self.name:
            real(self, data[: len(data) // 2])
            raise OSError("disk full")
        return int(real(self, data))

    return write_bytes


class _FullDisk(io.BufferedWriter):
    """A file that takes half of what it is given, then the disk is full."""

    def write(self, data: Any) -> int:
        view = memoryview(data)
        super().write(view[: len(view) // 2])
        raise OSError("disk full")


def _failing_open(real: Callable[..., Any], fail_on: str) -> Callable[..., Any]:
    """The result tables are written in pieces through ``Path.open`` (``irrecist.files.write_csv``)."""

    def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if fail_on in self.name and "w" in mode:
            return _FullDisk(io.FileIO(self, "w"))
        return real(self, mode, *args, **kwargs)

    return open_


@pytest.mark.parametrize(("command", "table"), [("score", "subjects.csv"), ("extract", "issues.csv")])
def test_an_interrupted_write_leaves_the_previous_file_whole(
    command: str, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "lesions.csv"
    src.write_text(
        "subject_id,timepoint,date,lesion_id,role,organ,long_axis_mm\n"
        "001,baseline,2024-01-01,T1,target,liver,40\n001,week 8,2024-02-26,T1,,,30\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = [command, str(src), "--out", str(out)] + (["--no-report"] if command == "score" else [])
    assert main(argv) == 0
    before = (out / table).read_bytes()
    monkeypatch.setattr(pd.DataFrame, "to_csv", _failing_to_csv(pd.DataFrame.to_csv, f".{table}."))
    monkeypatch.setattr(Path, "write_bytes", _failing_write_bytes(Path.write_bytes, f".{table}."))
    monkeypatch.setattr(Path, "open", _failing_open(Path.open, f".{table}."))
    with pytest.raises(OSError, match="disk full"):
        main(argv)
    assert (out / table).read_bytes() == before
    assert [f.name for f in out.rglob("*") if f.name.endswith(".tmp")] == []


# ------------------------------------------------------------------------------------------- --strict


@pytest.fixture
def jump_table(tmp_path: Path) -> Path:
    path = tmp_path / "lesions.csv"
    path.write_text(
        "subject_id,timepoint,date,lesion_id,role,organ,long_axis_mm\n"
        "GOOD,baseline,2024-01-01,T1,target,liver,40\nGOOD,week 8,2024-02-26,T1,,,30\n"
        "JUMP,baseline,2024-01-01,T1,target,liver,42\nJUMP,week 8,2024-02-26,T1,,,4.1\n",
        encoding="utf-8",
    )
    return path


def _score(table: Path, out: Path, *extra: str) -> tuple[int, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    code = main(["score", str(table), "--out", str(out), "--no-report", *extra])
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    subjects = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    return code, errors, subjects, json.loads((out / "summary.json").read_text())["criteria"]["irrecist"]


def test_strict_score_does_not_score_a_subject_with_a_warning(jump_table: Path, tmp_path: Path) -> None:
    code, errors, subjects, summary = _score(jump_table, tmp_path / "lenient")
    assert code == 0 and set(subjects.subject_id) == {"GOOD", "JUMP"}
    assert list(errors.level) == ["warning"]
    code, errors, subjects, summary = _score(jump_table, tmp_path / "strict", "--strict")
    assert code == 1 and set(subjects.subject_id) == {"GOOD"}
    assert set(errors.level) == {"error"} and set(errors.subject_id) == {"JUMP"}
    assert any(m.startswith("strict: T1 changes from 42 mm") for m in errors.message)
    (why,) = [m for m in errors.message if "subject not scored" in m]
    assert why.startswith("irrecist: subject not scored: 1 warning(s) under --strict, the first: T1 changes")
    assert (summary["subjects_scored"], summary["subjects_not_scored"]) == (1, 1)


def test_strict_file_warnings_become_errors_and_the_rest_is_scored(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "empty.dcm").write_bytes(b"")
    out = tmp_path / "out"
    assert main(["score", str(DEMO / "DEMO-001"), str(junk), "--out", str(out), "--no-report"]) == 0
    assert main(["score", str(DEMO / "DEMO-001"), str(junk), "--out", str(out), "--no-report", "--strict"]) == 1
    errors = pd.read_csv(out / "errors.csv", dtype=str, keep_default_na=False)
    (line,) = errors[errors.source.str.endswith("empty.dcm")].itertuples()
    assert (line.level, line.message) == ("error", "strict: empty file: not read")
    assert set(pd.read_csv(out / "subjects.csv", dtype=str).subject_id) == {"DEMO-001"}


def test_strict_extract_reports_warnings_as_errors_and_keeps_the_table(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(DEMO / "DEMO-001" / "2023-01-09_baseline", folder, ignore=shutil.ignore_patterns("ct"))
    (folder / "notes.txt").write_text("not a study file", encoding="utf-8")
    lenient, strict = tmp_path / "lenient", tmp_path / "strict"
    assert main(["extract", str(folder), "--out", str(lenient)]) == 0
    assert main(["extract", str(folder), "--out", str(strict), "--strict"]) == 1
    a = pd.read_csv(lenient / "issues.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(strict / "issues.csv", dtype=str, keep_default_na=False)
    assert "warning" in set(a.level) and "warning" not in set(b.level)
    assert list(b[a.level == "warning"].message) == ["strict: " + m for m in a[a.level == "warning"].message]
    assert (lenient / "lesions.csv").read_bytes() == (strict / "lesions.csv").read_bytes()
