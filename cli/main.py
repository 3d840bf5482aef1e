"""``irrecist`` command line: argument parsing and printing only (the work is in ``irrecist``).

Exit codes: 0 when everything asked for was done, 1 when some subjects or files could not be used (the
rest is still written), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irrecist import __version__
from irrecist.endpoints import LANDMARK_WINDOW_DAYS, Landmark
from irrecist.errors import ConfigError, InputError
from irrecist.rules.config import load_protocol, option_docs, parse_set_args, profile

if TYPE_CHECKING:
    from irrecist.pseudonym import Pseudonymizer

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="irrecist", description="Tumour-response calls (irRECIST, RECIST 1.1).")
    parser.add_argument("--version", action="version", version=f"irrecist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sc = sub.add_parser("score", help="score lesion tables (or folders of them) into response tables")
    sc.add_argument("inputs", nargs="+", type=Path, help="lesion tables (CSV/Parquet) or folders")
    sc.add_argument("--out", type=Path, required=True, help="output folder")
    sc.add_argument("--criterion", default="irrecist", choices=["irrecist", "recist1.1", "all"])
    sc.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an option (see `irrecist options`)",
    )
    sc.add_argument("--protocol", type=Path, help="protocol file (TOML or JSON) with option values")
    sc.add_argument("--subjects", type=Path, help="subject table: treatment dates, new therapy, data cut")
    sc.add_argument("--exclude-ineligible", action="store_true", help="leave 6 cm-ineligible subjects out of ORR")
    landmark = sc.add_mutually_exclusive_group()
    landmark.add_argument("--orr-at", metavar="VISIT", help="also report the landmark ORR at this visit label")
    landmark.add_argument(
        "--orr-at-day",
        type=int,
        metavar="N",
        help="also report the landmark ORR at the assessment nearest day N after --orr-anchor (see --orr-window)",
    )
    sc.add_argument(
        "--orr-window",
        type=int,
        default=LANDMARK_WINDOW_DAYS,
        metavar="DAYS",
        help=f"with --orr-at-day: assessments within +- DAYS of day N count (default {LANDMARK_WINDOW_DAYS})",
    )
    sc.add_argument(
        "--orr-anchor",
        choices=["reference", "last-treatment"],
        default="reference",
        help="with --orr-at-day: count days from treatment start (else the baseline scan) or from the subject "
        "table's last_treatment_date (default reference)",
    )
    sc.add_argument(
        "--annotations",
        type=Path,
        action="append",
        default=[],
        help="annotation table merged onto what DICOM provides (lesion table or label mapping)",
    )
    sc.add_argument("--workers", type=int, default=1, help="processes for reading DICOM (default 1)")
    sc.add_argument("--dask", metavar="ADDRESS", help="read DICOM on this dask.distributed scheduler (irrecist[dask])")
    _privacy_options(sc, "a subject with a warning is not scored")
    sc.add_argument("--xpt", action="store_true", help="also write the CDISC tables as SAS transport v5 (.xpt)")
    sc.add_argument("--parquet", action="store_true", help="also write every table as Parquet beside its CSV")
    sc.add_argument("--no-report", action="store_true", help="do not write plots/ and report.html")

    ex = sub.add_parser("extract", help="read DICOM studies and annotations into a lesion table for review")
    ex.add_argument("inputs", nargs="+", type=Path, help="folders or files (DICOM, AIM, Slicer, tables)")
    ex.add_argument(
        "--out", type=Path, required=True, help="output folder: lesions.csv, studies.csv, issues.csv, lines.csv"
    )
    ex.add_argument("--annotations", type=Path, action="append", default=[], help="annotation table to merge")
    ex.add_argument("--mapping", type=Path, help="lesion label or timepoint mapping table")
    ex.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    ex.add_argument("--dask", metavar="ADDRESS", help="read DICOM on this dask.distributed scheduler (irrecist[dask])")
    _privacy_options(ex, "the lesion table is still written whole")

    ve = sub.add_parser("verify", help="run reference cases and report pass/fail")
    ve.add_argument("cases", type=Path, help="folder of case JSON files")
    ve.add_argument("--json", action="store_true", help="print a JSON array of results")

    rp = sub.add_parser("report", help="(re)write plots/ and report.html from a finished run's output folder")
    rp.add_argument("folder", type=Path, help="output folder of `irrecist score` (timepoints.csv, subjects.csv, ...)")

    op = sub.add_parser("options", help="list every option with its default per criterion")
    op.add_argument("--criterion", default="irrecist", choices=["irrecist", "recist1.1"])
    return parser


def _privacy_options(parser: argparse.ArgumentParser, strict_effect: str) -> None:
    parser.add_argument("--strict", action="store_true", help=f"every warning is an error ({strict_effect}; exit 1)")
    parser.add_argument(
        "--pseudonymize",
        metavar="SECRET",
        help="replace subject ids in every output by HMAC-SHA256(SECRET, id), 16 hex digits; env:NAME reads the "
        "secret from the environment variable NAME",
    )


def _pseudonymizer(args: argparse.Namespace) -> Pseudonymizer | None:
    from irrecist.pseudonym import Pseudonymizer

    return Pseudonymizer.from_secret(args.pseudonymize) if args.pseudonymize is not None else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else USAGE_ERROR
    if args.command in ("score", "extract", "report"):
        from irrecist.runtime import prefer_releasing_allocator

        prefer_releasing_allocator()
    try:
        if args.command == "score":
            return cmd_score(args)
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "extract":
            return cmd_extract(args)
        if args.command == "report":
            return cmd_report(args)
        return cmd_options(args)
    except ConfigError as exc:
        print(f"irrecist: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except InputError as exc:
        print(f"irrecist: {exc}", file=sys.stderr)
        return 1


def cmd_score(args: argparse.Namespace) -> int:
    from irrecist.output import write_run
    from irrecist.scoring import make_configs, score_paths

    sets = parse_set_args(args.sets)
    protocol = load_protocol(args.protocol) if args.protocol else None
    configs = make_configs([args.criterion], sets, protocol)
    for p in args.inputs:
        if not p.exists():
            print(f"irrecist: {p}: no such file or folder", file=sys.stderr)
            return USAGE_ERROR
    run = score_paths(
        args.inputs,
        configs,
        args.subjects,
        args.annotations,
        args.workers,
        pseudonym=_pseudonymizer(args),
        strict=args.strict,
        dask=args.dask,
    )
    summary = write_run(
        run,
        args.out,
        exclude_ineligible=args.exclude_ineligible,
        orr_at=_landmark(args),
        xpt=args.xpt,
        parquet=args.parquet,
        report=False,
    )
    complete = run.complete
    del run  # the report reads the tables just written: the scored subjects are freed first (peak memory)
    if not args.no_report:
        from irrecist.report import write_report

        write_report(args.out)
    print_summary(summary, args.out)
    if not args.no_report:
        print(f"report: {args.out / 'report.html'} (plots in {args.out / 'plots'})")
    return 0 if complete else 1


def _landmark(args: argparse.Namespace) -> str | Landmark | None:
    """``--orr-at VISIT`` or ``--orr-at-day N`` (with ``--orr-window`` and ``--orr-anchor``) as a landmark."""
    if args.orr_at_day is None:
        return str(args.orr_at) if args.orr_at else None
    anchor = args.orr_anchor.replace("-", "_")
    try:
        return Landmark(day=args.orr_at_day, window_days=args.orr_window, anchor=anchor)
    except ValueError as exc:
        raise ConfigError(f"--orr-at-day {args.orr_at_day} --orr-window {args.orr_window}: {exc}") from None


def _ci(block: dict[str, Any]) -> str:
    if block.get("pct") is None:
        return f"{block['n']}/{block['N']} (no evaluable subject)"
    return (
        f"{block['n']}/{block['N']} = {block['pct']} % (95 % CI {block['ci95_low_pct']} to {block['ci95_high_pct']} %)"
    )


def print_summary(summary: dict[str, Any], out: Path) -> None:
    for name, block in summary["criteria"].items():
        if not block.get("subjects_scored"):
            print(f"{name}: no subject scored")
            continue
        conf = "confirmed" if block["confirmation_required"] else "unconfirmed"
        print(f"{name}: {block['subjects_scored']} subject(s) scored, {block['subjects_not_scored']} not scored")
        print(f"  ORR ({conf}, response-evaluable): {_ci(block['orr'])}")
        print(f"  ORR (all subjects):             {_ci(block['orr_all_subjects'])}")
        print(f"  DCR (response-evaluable):       {_ci(block['dcr'])}")
        counts = ", ".join(f"{k} {v}" for k, v in block["bor_counts"].items())
        print(f"  BOR: {counts}")
        if "landmark_orr" in block:
            lm = block["landmark_orr"]
            where = lm.get("visit") or f"day {lm['day']} +- {lm['window_days']} after {lm['anchor'].replace('_', ' ')}"
            print(f"  ORR at {where}: {_ci(lm)}")
        inel = block["eligibility"]["ineligible_subjects"]
        if inel:
            print(
                f"  ineligible at baseline (6 cm limit): {', '.join(inel)}"
                + (f" ({block['excluded_ineligible']} excluded from ORR)" if block["excluded_ineligible"] else "")
            )
    print(f"errors: {summary['errors']}, warnings: {summary['warnings']} (see {out / 'errors.csv'})")
    print(f"written: {out / 'timepoints.csv'}, {out / 'subjects.csv'}, {out / 'summary.json'}")


def cmd_extract(args: argparse.Namespace) -> int:
    from irrecist.extract import extract_paths, write_extraction

    for p in [*args.inputs, *args.annotations]:
        if not p.exists():
            print(f"irrecist: {p}: no such file or folder", file=sys.stderr)
            return USAGE_ERROR
    pseudonym = _pseudonymizer(args)
    ex = extract_paths(args.inputs, args.annotations, args.mapping, workers=args.workers, dask=args.dask)
    if pseudonym is not None:
        from irrecist.pseudonym import pseudonymize_extraction

        ex = pseudonymize_extraction(ex, pseudonym)
    if args.strict:
        from irrecist.strict import strict_problems

        ex.problems = strict_problems(ex.problems)
    written = write_extraction(ex, args.out)
    subjects = ex.lesions["subject_id"].nunique() if len(ex.lesions) else 0
    errors = sum(1 for p in ex.problems if p.level.value == "error")
    warnings = sum(1 for p in ex.problems if p.level.value == "warning")
    print(f"{len(ex.lesions)} lesion measurement(s) of {subjects} subject(s) from {len(ex.studies)} series")
    print(f"errors: {errors}, warnings: {warnings}")
    print("written: " + ", ".join(str(p) for p in written.values()))
    return 1 if errors else 0


def cmd_report(args: argparse.Namespace) -> int:
    from irrecist.report import write_report

    try:
        path = write_report(args.folder)
    except InputError as exc:  # not a finished run's folder: a usage error
        print(f"irrecist: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(f"written: {path} (plots in {args.folder / 'plots'})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from irrecist.verify import run_cases

    if not args.cases.is_dir():
        print(f"irrecist: {args.cases}: not a folder of cases", file=sys.stderr)
        return USAGE_ERROR
    results = run_cases(args.cases)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        for r in results:
            line = f"{r.status.upper():11} {r.id} ({r.criterion})"
            if r.status != "pass":
                line += f": {r.detail}"
            print(line)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0 if results and all(r.status == "pass" for r in results) else 1


def cmd_options(args: argparse.Namespace) -> int:
    cfg = profile(args.criterion)
    docs = option_docs()
    for name, value in cfg.options().items():
        if name == "name":
            continue
        print(f"{name} = {value}")
        if docs.get(name):
            print(f"    {docs[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
