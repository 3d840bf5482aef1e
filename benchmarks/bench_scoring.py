"""Scoring benchmark: ``irrecist score`` work on a large lesion table, as a ratio to the floor of a bare
``pandas.read_csv`` plus a group-sum of the same file, both measured in this run (issue 6, benchmark 1).

    python -m benchmarks.bench_scoring --subjects 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from benchmarks.make_trial import make_table
from irrecist.output import write_run
from irrecist.report import write_report
from irrecist.scoring import ScoreRun, make_configs, score_paths


def floor_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    df.groupby(["subject_id", "timepoint"])["long_axis_mm"].sum()
    return time.perf_counter() - t0


def score_seconds(path: Path, out: Path) -> float:
    """Read, validate, score and write every table (CSV and CDISC), without the HTML report."""
    t0 = time.perf_counter()
    run = score_paths([path], make_configs(["irrecist"]))
    write_run(run, out, report=False)
    return time.perf_counter() - t0


def phase_seconds(path: Path, out: Path) -> dict[str, float]:
    """The same run split where issue 2's scope ends: read + validate + score, the core tables of issue 2
    (timepoints, subjects, errors, summary), then the CDISC tables of issue 5; and, apart, the time of writing
    those CSV files alone (``write_seconds``)."""
    from irrecist.cdisc import write_extras
    from irrecist.output import errors_frame, subjects_frame, summary, timepoints_frame, write_csv

    t0 = time.perf_counter()
    run = score_paths([path], make_configs(["irrecist"]))
    t1 = time.perf_counter()
    write_csv(timepoints_frame(run), out / "timepoints.csv")
    write_csv(subjects_frame(run), out / "subjects.csv")
    write_csv(errors_frame(run), out / "errors.csv")
    (out / "summary.json").write_text(str(summary(run)))
    t2 = time.perf_counter()
    write_extras(run, out)
    t3 = time.perf_counter()
    return {"score": t1 - t0, "core tables": t2 - t1, "cdisc": t3 - t2, "writing alone": write_seconds(run, out)}


def write_seconds(run: ScoreRun, out: Path) -> float:
    """Only the writing of the run's CSV files (the four core tables and the four CDISC tables): each frame is
    made untimed, then written (timed) and dropped, one at a time with the cyclic GC paused, as ``irrecist score``
    writes them. A lower bound for any run that writes these outputs, before any rule or frame is made."""
    from irrecist.cdisc import cdisc_tables
    from irrecist.output import errors_frame, subjects_frame, timepoints_frame, write_csv
    from irrecist.scoring import paused_gc

    def frames() -> Iterator[tuple[str, pd.DataFrame]]:
        yield from (("timepoints", timepoints_frame(run)), ("subjects", subjects_frame(run)))
        yield "errors", errors_frame(run)
        yield from cdisc_tables(run)

    spent = 0.0
    with paused_gc():
        for name, df in frames():
            t0 = time.perf_counter()
            write_csv(df, out / f"alone-{name}.csv")
            spent += time.perf_counter() - t0
            del df
    return spent


def cli_peak_mb(path: Path, out: Path) -> float:
    """Peak resident memory (MB) of ``irrecist score PATH --out OUT`` (report included) in a child process: what
    a user's run needs, without this benchmark's own tables."""
    # VmHWM, the child's own high-water mark: ru_maxrss would count the parent's pages the child held between
    # fork and exec (Linux keeps the larger of the two across exec)
    code = (
        "import sys; from irrecist_cli.main import main; main(sys.argv[1:]); "
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, "score", str(path), "--out", str(out)], check=True, capture_output=True, text=True
    )
    return int(res.stdout.split()[-1]) / 1024


def report_seconds(out: Path) -> float:
    """Plots and report.html from the written run folder (what ``irrecist score`` adds by default)."""
    t0 = time.perf_counter()
    write_report(out)
    return time.perf_counter() - t0


def curve(sizes: list[int]) -> None:
    """Scaling curve: time per 1,000 subjects at each size (linear growth keeps it flat), with the floor
    measured on the same file; sizes run in a fresh temporary folder each, smallest first."""
    print("subjects  rows       floor s  score s  ratio  s per 1k subjects")
    for n in sorted(sizes):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trial.csv"
            df = make_table(n)
            df.to_csv(path, index=False)
            floor = floor_seconds(path)
            score = score_seconds(path, Path(tmp) / "out")
            print(f"{n:<9} {len(df):<10} {floor:<8.2f} {score:<8.2f} {score / floor:<6.1f} {score / n * 1000:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--curve", help="comma-separated subject counts, e.g. 1000,5000,20000,100000")
    args = ap.parse_args()
    if args.curve:
        curve([int(x) for x in args.curve.split(",")])
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trial.csv"
        df = make_table(args.subjects)
        df.to_csv(path, index=False)
        floor = min(floor_seconds(path) for _ in range(args.repeat))
        score = min(score_seconds(path, Path(tmp) / "out") for _ in range(args.repeat))
        report = min(report_seconds(Path(tmp) / "out") for _ in range(args.repeat))
        runs = [phase_seconds(path, Path(tmp) / f"phases{i}") for i in range(args.repeat)]
        phases = {k: min(r[k] for r in runs) for k in runs[0]}
        peak_mb = cli_peak_mb(path, Path(tmp) / "cli")
    print(f"rows={len(df)} subjects={args.subjects}")
    print(f"floor (read_csv + group-sum): {floor:.3f} s")
    print(f"irrecist score (read, validate, score, write): {score:.2f} s")
    print(f"ratio: {score / floor:.1f}x")
    print(f"peak RSS of `irrecist score` (child process, report included): {peak_mb:.0f} MB")
    print(f"plots + report.html from the run folder: {report:.2f} s ({report / floor:.1f}x the floor)")
    core = phases["score"] + phases["core tables"]
    alone = phases.pop("writing alone")
    print(
        f"phases (min of {args.repeat} more runs each): "
        + ", ".join(f"{k} {v:.2f} s ({v / floor:.1f}x)" for k, v in phases.items())
        + f"; issue 2 scope (score + core tables) {core:.2f} s = {core / floor:.1f}x the floor"
    )
    print(
        f"writing the seven CSV tables alone, frames made beforehand: {alone:.2f} s = {alone / floor:.1f}x the floor "
        "(a lower bound for any run that writes them)"
    )


if __name__ == "__main__":
    main()
