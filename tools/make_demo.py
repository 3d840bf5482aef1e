"""Write the irrecist demo trial (``test_images/``): synthetic CT studies with SR, SEG, RTSTRUCT and a
lesion table, plus the expected irRECIST answers (README.md, expected.json).

Usage: ``python tools/make_demo.py [--out test_images] [--subjects DEMO-001 ...]``. The output is the same
byte for byte on every run: UIDs are hashes of fixed strings, dates and times are fixed, noise comes from
seeded generators.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_dicom import check_layout, ct_series, da, freeze, write  # noqa: E402
from demo_docs import annotations_csv, expected_json, folder_name, readme  # noqa: E402
from demo_objects import rtstruct_document, seg_document, sr_document  # noqa: E402
from demo_score import SubjectResult, score  # noqa: E402
from demo_spec import SUBJECTS, SubjectSpec, subject  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def check_expectations(subj: SubjectSpec, res: SubjectResult) -> None:
    """The hand-derived answers in demo_spec must equal what demo_score derives from the diameters."""
    got = (tuple(t.response for t in res.timepoints), tuple(t.pd_status for t in res.timepoints),
           res.bor, res.bor_confirmed, res.baseline_eligible)
    want = (subj.responses, subj.pd_status, subj.bor, subj.bor_confirmed, subj.eligible)
    if got != want:
        raise SystemExit(f"{subj.subject_id}: hand-derived answers {want} differ from the derived {got}")


def write_subject(subj: SubjectSpec, out: Path) -> None:
    """All assessments of one subject: CT slices and the subject's measurement objects."""
    root = out / subj.subject_id
    if root.exists():
        shutil.rmtree(root)
    for i in range(subj.n_timepoints):
        folder = root / folder_name(subj, i)
        slices, masks = ct_series(subj, i)
        for k, ds in enumerate(slices):
            write(ds, folder / "ct" / f"{k + 1:03d}.dcm")
        owner = f"{subj.subject_id}/{i}"
        if subj.fmt == "sr":
            doc = sr_document(subj, i, slices)
        elif subj.fmt == "seg":
            doc = seg_document(subj, i, slices, masks)
        elif subj.fmt == "rtstruct":
            doc = rtstruct_document(subj, i, slices)
        else:
            continue
        freeze(doc, da(subj.date(i)), owner)
        write(doc, folder / f"{subj.fmt}.dcm")


def build(out: Path, subject_ids: Sequence[str] | None = None) -> list[SubjectSpec]:
    """Generate the demo (or some of its subjects) under ``out``; returns the subjects written."""
    chosen = [subject(s) for s in subject_ids] if subject_ids else list(SUBJECTS)
    results = []
    for subj in chosen:
        check_layout(subj)
        res = score(subj)
        check_expectations(subj, res)
        results.append(res)
    out.mkdir(parents=True, exist_ok=True)
    for subj in chosen:
        write_subject(subj, out)
    (out / "annotations.csv").write_text(annotations_csv(chosen), encoding="utf-8")
    (out / "expected.json").write_text(expected_json(chosen, results), encoding="utf-8")
    (out / "README.md").write_text(readme(chosen, results), encoding="utf-8")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=REPO / "test_images", help="output folder (test_images)")
    p.add_argument("--subjects", nargs="+", metavar="ID", help="only these subjects (e.g. DEMO-001)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    start = time.perf_counter()
    written = build(args.out, args.subjects)
    print(f"wrote {len(written)} subjects to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
