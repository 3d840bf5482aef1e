"""Smoke tests of the benchmark scripts at tiny sizes: they run and print their ratios (no timing asserted)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pydicom
import pytest

from benchmarks import bench_diameters, bench_extract, bench_scoring


def test_bench_scoring_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_scoring", "--subjects", "20", "--repeat", "1"])
    bench_scoring.main()
    out = capsys.readouterr().out
    assert re.search(r"ratio: [0-9.]+x", out)
    assert re.search(r"issue 2 scope \(score \+ core tables\) [0-9.]+ s = [0-9.]+x the floor", out)
    assert re.search(r"writing the seven CSV tables alone, frames made beforehand: [0-9.]+ s = [0-9.]+x", out)


def test_bench_scoring_curve_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_scoring", "--curve", "10,20"])
    bench_scoring.main()
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["10", "20"] and all(float(r[5]) > 0 for r in rows)


def test_bench_extract_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench_extract.main(["--files", "50", "--repeat", "1"])
    out = capsys.readouterr().out
    assert re.search(r"extract / dcmread: [0-9.]+x", out) and re.search(r"header-only read: [0-9.]+x", out)
    floor = re.search(r"SR and SEG objects alone \(([0-9.]+) s\) = [0-9.]+ s", out)
    assert floor and float(floor.group(1)) > 0  # the demo's first subjects carry an SR or a SEG


def test_bench_extract_clinical_series_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trial = tmp_path / "trial"
    bench_extract.main(["--files", "50", "--slices", "40", "--size", "96", "--repeat", "1", "--dir", str(trial)])
    assert re.search(r"extract / dcmread: [0-9.]+x", capsys.readouterr().out)
    ct = next(trial.rglob("ct/040.dcm"))
    assert pydicom.dcmread(ct, stop_before_pixels=True).Rows == 96
    assert not (ct.parent / "041.dcm").exists()


def test_bench_extract_seg_workload_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench_extract.main(["--seg-workload", "3", "--seg-size", "64", "--repeat", "1"])
    out = capsys.readouterr().out
    assert re.search(r"speedup [0-9.]+x", out) and re.search(r"2 processes vs 1, same run: [0-9.]+x", out)


def test_bench_diameters_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench_diameters.main(["--shape", "12", "96", "96", "--lesions", "4", "--repeat", "1"])
    out = capsys.readouterr().out
    assert re.search(r"label_feret_diameters .* [0-9.]+x faster .* max \|difference\| ", out)
    assert re.search(r"label_long_axes .* [0-9.]+x faster", out)
