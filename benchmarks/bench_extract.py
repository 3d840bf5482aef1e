"""Indexing and extraction benchmark (issue 6, part 2): ``irrecist extract`` on a folder of DICOM files (CT
slices plus the demo trial's SR, SEG and RTSTRUCT objects) against plain pydicom reads of the same files, all
measured in this run.

    python -m benchmarks.bench_extract --files 2000                            # the demo's dense mix
    python -m benchmarks.bench_extract --files 2000 --slices 100 --size 512    # clinical series (of record)
    python -m benchmarks.bench_extract --files 2000 --cold     # also: fresh processes, imports included
    python -m benchmarks.bench_extract --seg-workload 48       # --workers 1 vs 2 where SEG decoding dominates

The clinical series are the workload issue 3's speed requirement is judged on (README, "How fast extraction is");
the demo's dense mix (64 x 64 slices, an annotation object per 30 files) is kept as the harder case, with a printed
floor: the header index plus highdicom's own parse of its SR and SEG objects.

Warm figures are measured in this process after one untimed pass over every file (page cache warm, every
module imported): the minimum of ``--repeat`` runs. Cold figures run each measurement in a fresh interpreter
and time it from before its imports (``pydicom`` for the baselines; ``irrecist.extract`` and whatever it
imports for the index and the extraction) to the end of the work; interpreter start itself is not included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / "tools"


def _demo_modules() -> tuple[object, object]:
    """The demo trial writer (``tools/make_demo.py``) and its subject specs."""
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    import demo_spec  # type: ignore[import-not-found]
    import make_demo  # type: ignore[import-not-found]

    return make_demo, demo_spec


def _subjects(n_files: int, slices: int | None = None) -> Iterator[tuple[object, int]]:
    """Copies of the demo subjects under new IDs (so new UIDs), cycling until ``n_files`` files are planned;
    ``slices`` CT slices per series instead of the demo's 24-30."""
    _, spec = _demo_modules()
    total, k = 0, 0
    while total < n_files:
        base = spec.SUBJECTS[k % len(spec.SUBJECTS)]  # type: ignore[attr-defined]
        subj = replace(base, subject_id=f"BENCH-{k:04d}", patient_name=f"Bench^{k:04d}")
        if slices:
            subj = replace(subj, n_slices=slices)
        files = subj.n_timepoints * (subj.n_slices + (0 if subj.fmt == "csv" else 1))
        yield subj, files
        total += files
        k += 1


def generate(out: Path, n_files: int, slices: int | None = None, size: int | None = None) -> int:
    """Write at least ``n_files`` DICOM files (demo CT series and their SR, SEG, RTSTRUCT) under ``out``: the
    demo's series (24-30 slices of 64 x 64 pixels), or ``slices`` slices of ``size`` x ``size`` pixels."""
    make_demo, _ = _demo_modules()
    import demo_dicom  # type: ignore[import-not-found]  # tools/, on the path once _demo_modules ran

    grid = demo_dicom.ROWS, demo_dicom.COLS
    if size:
        demo_dicom.ROWS = demo_dicom.COLS = size
    try:
        for subj, _files in _subjects(n_files, slices):
            make_demo.write_subject(subj, out)  # type: ignore[attr-defined]
    finally:
        demo_dicom.ROWS, demo_dicom.COLS = grid
    return sum(1 for p in out.rglob("*.dcm"))


def make_seg_workload(out: Path, n_files: int, size: int = 512) -> int:
    """``n_files`` SEG objects (one study each) with ``size`` x ``size`` frames: one demo SEG (DEMO-002's
    baseline, field of view 96 mm, 2 mm slices; about 25 frames, 3 segments) written by the demo tools, copied
    under new patient, study, series and instance UIDs. Per-file work is SEG decoding and measuring."""
    make_demo, spec = _demo_modules()
    import demo_dicom  # type: ignore[import-not-found]
    import demo_objects  # type: ignore[import-not-found]
    import pydicom

    saved = demo_dicom.ROWS, demo_dicom.COLS
    demo_dicom.ROWS = demo_dicom.COLS = size
    try:
        base = spec.subject("DEMO-002")  # type: ignore[attr-defined]
        subj = replace(base, subject_id="SEGW", pixel_spacing_mm=96.0 / size, n_slices=48, slice_thickness_mm=2.0)
        demo_dicom.check_layout(subj)
        slices, masks = demo_dicom.ct_series(subj, 0)
        doc = demo_objects.seg_document(subj, 0, slices, masks)
        demo_dicom.freeze(doc, demo_dicom.da(subj.date(0)), "SEGW")
        first = out / "seg-template.dcm"
        demo_dicom.write(doc, first)
    finally:
        demo_dicom.ROWS, demo_dicom.COLS = saved
    for k in range(n_files):
        ds = pydicom.dcmread(first)
        ds.PatientID = f"SEGW-{k:04d}"
        ds.StudyInstanceUID = demo_dicom.uid("segw", k, "study")
        ds.SeriesInstanceUID = demo_dicom.uid("segw", k, "series")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = demo_dicom.uid("segw", k, "seg")
        folder = out / f"SEGW-{k:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        ds.save_as(folder / "seg.dcm")
    first.unlink()
    return n_files


def _burn(n: int) -> int:
    """CPU-bound reference task (pure Python)."""
    s = 0
    for i in range(n):
        s += i * i
    return s


def cpu_calibration(repeat: int, n: int = 2_000_000) -> float:
    """Speedup of 2 processes over 1 on a pure CPU-bound task, now: what the (shared) machine can give."""
    from concurrent.futures import ProcessPoolExecutor

    one = best(lambda: [_burn(n) for _ in range(4)], repeat)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_burn, [1000, 1000]))  # start the workers outside the timing
        two = best(lambda: list(pool.map(_burn, [n] * 4)), repeat)
    return one / two


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the pool's workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def seg_scaling(root: Path, repeat: int) -> dict[str, float]:
    """``extract_paths`` with 1 and 2 worker processes (pool start included), alternated: minimum wall time of
    each, and the CPU seconds (this process and its workers) of the fastest run of each."""
    from irrecist.extract import extract_paths

    extract_paths([root])  # untimed: imports, page cache
    times: dict[str, list[tuple[float, float]]] = {"workers=1": [], "workers=2": []}
    for _ in range(repeat):
        for w in (1, 2):
            c0, t0 = _cpu(), time.perf_counter()
            extract_paths([root], workers=w)
            times[f"workers={w}"].append((time.perf_counter() - t0, _cpu() - c0))
    out = {}
    for key, runs in times.items():
        wall, cpu = min(runs)
        out[key], out[f"{key} cpu"] = wall, cpu
    return out


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def best(fn: Callable[[], object], repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def read_all(files: list[Path], **kwargs: object) -> None:
    import pydicom

    for f in files:
        pydicom.dcmread(f, **kwargs)  # type: ignore[arg-type]


def highdicom_objects(files: list[Path]) -> list[tuple[Path, Callable[..., object]]]:
    """The SR and SEG files among ``files``, each with the highdicom ``from_dataset`` its reader parses it with
    (the readers' first step, issue 3: TID 1500 SR and SEG "with highdicom")."""
    import highdicom as hd
    import pydicom

    from irrecist.lesions.seg import SEG_SOP_CLASSES
    from irrecist.lesions.sr import HIGHDICOM_CLASSES

    parsers = {**{sop: cls.from_dataset for sop, cls in HIGHDICOM_CLASSES.items()},
               **{sop: hd.seg.Segmentation.from_dataset for sop in SEG_SOP_CLASSES}}  # fmt: skip
    out = []
    for f in files:
        sop = str(pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPClassUID"]).get("SOPClassUID", ""))
        if sop in parsers:
            out.append((f, parsers[sop]))
    return out


def parse_highdicom(objects: list[tuple[Path, Callable[..., object]]]) -> None:
    """Read each SR and SEG with pydicom and parse it with highdicom, nothing else: a floor under any
    extraction that uses highdicom for these objects."""
    import pydicom

    for f, parse in objects:
        parse(pydicom.dcmread(f), copy=False)


def warm(root: Path, repeat: int, workers: int = 1) -> dict[str, float]:
    """Seconds (minimum of ``repeat``) of each measurement, in this process."""
    from irrecist.extract import extract_paths
    from irrecist.index import build_index

    files = _files(root)
    extract_paths([root], workers=workers)  # untimed: imports, page cache
    read_all(files)
    objects = highdicom_objects(files)
    return {
        "dcmread": best(lambda: read_all(files), repeat),
        "dcmread_header": best(lambda: read_all(files, stop_before_pixels=True), repeat),
        "index": best(lambda: build_index([root]), repeat),
        "highdicom": best(lambda: parse_highdicom(objects), repeat),
        "extract": best(lambda: extract_paths([root], workers=workers), repeat),
    }


_COLD = {
    "dcmread": "import pydicom\nfor f in files: pydicom.dcmread(f)",
    "dcmread_header": "import pydicom\nfor f in files: pydicom.dcmread(f, stop_before_pixels=True)",
    "index": "from irrecist.index import build_index\nbuild_index([root])",
    "extract": "from irrecist.extract import extract_paths\nextract_paths([root])",
}


def cold(root: Path, repeat: int) -> dict[str, float]:
    """Seconds (minimum of ``repeat``) of each measurement in a fresh interpreter, its imports included."""
    out: dict[str, float] = {}
    for name, body in _COLD.items():
        code = (
            "import time, sys\nfrom pathlib import Path\nt0 = time.perf_counter()\n"
            f"root = Path({str(root)!r})\n"
            "files = sorted(p for p in root.rglob('*') if p.is_file())\n"
            f"{body}\nprint(time.perf_counter() - t0)\n"
        )
        times = []
        for _ in range(repeat):
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
            times.append(float(res.stdout.strip().splitlines()[-1]))
        out[name] = min(times)
    return out


def report(title: str, t: dict[str, float]) -> None:
    base = t["dcmread"]
    print(f"{title}")
    for name, label in (
        ("dcmread", "pydicom.dcmread, every file"),
        ("dcmread_header", "dcmread(stop_before_pixels=True)"),
        ("index", "header index (irrecist.index.build_index)"),
        ("extract", "extract_paths"),
    ):
        print(f"  {label:45s} {t[name]:7.3f} s   {t[name] / base:5.2f}x dcmread")
    print(
        f"  extract / dcmread: {t['extract'] / t['dcmread']:.2f}x (target < 1)   "
        f"extract / header-only read: {t['extract'] / t['dcmread_header']:.2f}x (target <= 1.5)"
    )
    if "highdicom" in t:
        floor = t["index"] + t["highdicom"]
        print(
            f"  floor: index + highdicom's parse of the SR and SEG objects alone ({t['highdicom']:.3f} s) = "
            f"{floor:.3f} s = {floor / base:.2f}x dcmread, {floor / t['dcmread_header']:.2f}x the header-only read"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--files", type=int, default=2000, help="DICOM files to generate (at least)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also measure in fresh interpreters (imports included)")
    ap.add_argument("--dir", type=Path, help="reuse (or create) the trial in this folder")
    ap.add_argument("--slices", type=int, help="CT slices per series (default: the demo's 24-30)")
    ap.add_argument("--size", type=int, help="CT slice rows and columns (default: the demo's 64)")
    ap.add_argument("--seg-workload", type=int, metavar="N", help="instead: N SEG files, --workers 1 vs 2")
    ap.add_argument("--seg-size", type=int, default=512, help="SEG frame rows and columns (default 512)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp) / "trial"
        if args.seg_workload:
            if not root.exists() or not any(root.rglob("*.dcm")):
                root.mkdir(parents=True, exist_ok=True)
                t0 = time.perf_counter()
                make_seg_workload(root, args.seg_workload, args.seg_size)
                print(f"generated {args.seg_workload} SEG files in {time.perf_counter() - t0:.1f} s")
            print(f"SEG files: {len(_files(root))} ({args.seg_size} x {args.seg_size} frames) under {root}")
            calibration = cpu_calibration(args.repeat, 2_000_000 if args.seg_size >= 256 else 20_000)
            t = seg_scaling(root, args.repeat)
            print(f"  extract_paths --workers 1: {t['workers=1']:.3f} s   --workers 2: {t['workers=2']:.3f} s   "
                  f"speedup {t['workers=1'] / t['workers=2']:.2f}x")
            print(f"  pure CPU reference task, 2 processes vs 1, same run: {calibration:.2f}x (the machine's share)")
            print(f"  CPU seconds (process and workers): {t['workers=1 cpu']:.3f} with 1 worker, "
                  f"{t['workers=2 cpu']:.3f} with 2 ({t['workers=2 cpu'] / t['workers=1 cpu']:.2f}x: the parallel "
                  "overhead)")
            return
        if not root.exists() or not any(root.rglob("*.dcm")):
            t0 = time.perf_counter()
            n = generate(root, args.files, args.slices, args.size)
            print(f"generated {n} DICOM files in {time.perf_counter() - t0:.1f} s")
        files = _files(root)
        print(f"files: {len(files)} under {root}")
        report(f"warm (one process, minimum of {args.repeat})", warm(root, args.repeat))
        if args.cold:
            report(
                f"cold (fresh interpreter per measurement, imports included, minimum of {args.repeat})",
                cold(root, args.repeat),
            )


if __name__ == "__main__":
    main()
