"""Waterfall, spider and swimmer plots from a run folder: what they draw (known answers of a small hand-built
trial), valid PNG/SVG files, thresholds from the run's options, byte-identical reruns; above
MAX_PLOT_SUBJECTS (a synthetic trial) the waterfall draws every bar at once and spider and swimmer a subset."""

from __future__ import annotations

import hashlib
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from benchmarks.make_trial import make_table
from irrecist.plots import (
    COLOURS,
    MAX_DIRECT_LABELS,
    MAX_PLOT_SUBJECTS,
    PLOT_KINDS,
    ink,
    spider,
    subset,
    swimmer,
    waterfall,
    write_plots,
)
from irrecist.results import RunResults, load_run
from irrecist_cli.main import main
from tests.helpers import frame, series

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def trial_rows() -> list[dict[str, object]]:
    """001 confirmed irPR; 002 pseudoprogression (unconfirmed irPD), then irSD; 003 confirmed irPD;
    004 non-target disease only (irNN, no burden to plot)."""
    rows = series({"T1": [40, 25, 20, 18], "T2": [30, 20, 15, 12]}, subject="001")
    rows += series({"T1": [50, 62, 45, 40]}, subject="002")
    rows += series({"T1": [50, 65, 80]}, subject="003")
    rows += series({}, nontarget={"NT1": ["present", "present", "present", "present"]}, subject="004")
    return rows


def score(tmp: Path, name: str, *extra: str) -> Path:
    table = tmp / "lesions.csv"
    if not table.exists():
        frame(trial_rows()).to_csv(table, index=False)
    out = tmp / name
    assert main(["score", str(table), "--out", str(out), "--no-report", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResults:
    return load_run(score(tmp_path_factory.mktemp("plots"), "out", "--criterion", "all"))


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def markers(fig: Figure) -> list[tuple[float, float, tuple[float, ...]]]:
    """(x, y, facecolour) of every scatter point of the first axes."""
    out = []
    for coll in fig.axes[0].collections:
        assert isinstance(coll, PathCollection)
        faces = coll.get_facecolors()
        for i, (x, y) in enumerate(coll.get_offsets()):
            out.append((float(x), float(y), tuple(float(c) for c in faces[i % len(faces)])))
    return out


def test_run_table_known_answers(run: RunResults) -> None:
    subj = run.subjects_of("irrecist").set_index("subject_id")
    assert dict(subj["bor"]) == {"001": "irPR", "002": "irSD", "003": "irPD", "004": "irNN"}
    assert dict(subj["best_pct_change"]) == {"001": "-57.1", "002": "-20.0", "003": "30.0", "004": ""}


def test_waterfall_bars_sorted_coloured_and_labelled(run: RunResults) -> None:
    fig = waterfall(run, "irrecist")
    ax = fig.axes[0]
    bars = ax.patches
    assert [round(b.get_height(), 1) for b in bars] == [30.0, -20.0, -57.1]
    assert [b.get_facecolor() for b in bars] == [to_rgba(COLOURS[k]) for k in ("PD", "SD", "PR")]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["003", "002", "001"]
    texts = [t.get_text() for t in ax.texts]
    assert "+30.0 %\nirPD" in texts and "irPR\n-57.1 %" in texts
    assert "N = 3" in fig.get_suptitle()
    assert "004" in fig.get_supxlabel()  # left out, and said so


def test_threshold_lines_come_from_the_run_options(tmp_path: Path) -> None:
    default = waterfall(load_run(score(tmp_path, "default")), "irrecist").axes[0]
    custom_run = load_run(
        score(tmp_path, "custom", "--set", "pd_min_increase_pct=25", "--set", "pr_min_decrease_pct=40")
    )
    custom = waterfall(custom_run, "irrecist").axes[0]
    for ax, pd_pct, pr_pct in ((default, 20, 30), (custom, 25, 40)):
        levels = {round(float(line.get_ydata()[0]), 6) for line in ax.lines}  # type: ignore[index]
        assert levels == {pd_pct, -pr_pct, 0}
        texts = {t.get_text() for t in ax.texts}
        assert f"+{pd_pct} % irPD" in texts and f"-{pr_pct} % irPR" in texts


def test_spider_lines_and_progression_markers(run: RunResults) -> None:
    fig = spider(run, "irrecist")
    lines = {line.get_label(): line for line in fig.axes[0].lines if not str(line.get_label()).startswith("_")}
    assert sorted(lines) == ["001", "002", "003"]  # 004 has no burden
    assert list(lines["001"].get_xdata()) == [1, 57, 113, 169]  # type: ignore[arg-type]
    assert [round(y, 1) for y in lines["001"].get_ydata()] == [0.0, -35.7, -50.0, -57.1]  # type: ignore[union-attr]
    diamonds = {(x, round(y, 1)): face for x, y, face in markers(fig)}
    white = to_rgba("white")
    assert diamonds == {
        (57, 24.0): white,  # 002: unconfirmed irPD (pseudoprogression): hollow
        (57, 30.0): to_rgba(COLOURS["PD"]),  # 003: confirmed: filled
        (113, 60.0): to_rgba(COLOURS["PD"]),
    }
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"001 irPR", "002 irSD", "003 irPD"} <= labels
    assert "004" in fig.get_supxlabel()


def test_spider_recist_marks_pd_filled(run: RunResults) -> None:
    fig = spider(run, "recist1.1")
    faces = {(x, round(y, 1)): face for x, y, face in markers(fig)}
    assert faces[(57, 24.0)] == to_rgba(COLOURS["PD"])  # RECIST 1.1: PD needs no confirmation


def test_swimmer_lanes_and_events(run: RunResults) -> None:
    fig = swimmer(run, "irrecist")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["001", "002", "004", "003"]  # longest first
    assert [(b.get_x(), b.get_width()) for b in ax.patches] == [(1, 168), (1, 168), (1, 168), (1, 112)]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["irPR confirmed", "irSD", "irNN", "irPD confirmed"]
    points = markers(fig)
    white, dark_pd = to_rgba("white"), to_rgba(ink("PD"))
    assert (57.0, 3.0, dark_pd) in points  # 003: first irPD of the confirmed episode, filled
    assert (113.0, 3.0, dark_pd) in points  # 003: the confirming assessment (a cross)
    assert (57.0, 1.0, white) in points  # 002: unconfirmed irPD, hollow
    assert (57.0, -0.42, to_rgba(COLOURS["PR"])) in [(x, round(y, 2), f) for x, y, f in points]  # 001 response


def test_files_valid_png_and_svg_without_dates(run: RunResults, tmp_path: Path) -> None:
    written = write_plots(run, tmp_path / "plots")
    assert sorted(p.name for p in written) == sorted(
        f"{k}-{c}.{f}" for k in PLOT_KINDS for c in ("irrecist", "recist1.1") for f in ("png", "svg")
    )
    for p in written:
        data = p.read_bytes()
        if p.suffix == ".png":
            assert data.startswith(PNG_MAGIC)
            with Image.open(p) as img:
                img.verify()
            with Image.open(p) as img:
                assert img.width > 600 and img.height > 300
                assert img.info.get("Software", "").startswith("irrecist")
                assert not {"Creation Time", "date:create", "date:modify"} & set(img.info)
            assert b"tIME" not in data
        else:
            root = ET.fromstring(data)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert b"<dc:date>" not in data and b"irrecist" in data


def test_byte_identical_on_rerun_and_in_another_folder(run: RunResults, tmp_path: Path) -> None:
    first = tmp_path / "a"
    write_plots(run, first)
    before = digests(first)
    write_plots(run, first)
    assert digests(first) == before
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("timepoints.csv", "subjects.csv", "summary.json", "errors.csv"):
        shutil.copy(run.folder / name, copy / name)
    write_plots(load_run(copy))
    assert digests(copy / "plots") == before


def test_stale_plots_removed_other_files_kept(run: RunResults, tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "waterfall-oldcriterion.png").write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    write_plots(run, folder)
    assert not (folder / "waterfall-oldcriterion.png").exists()
    assert (folder / "notes.txt").read_text() == "mine"


def test_many_subjects_get_a_colour_key_instead_of_labels(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = []
    for i in range(MAX_DIRECT_LABELS + 1):
        rows += series({"T1": [40, 40 - i, 40 - i]}, subject=f"S{i:02d}")
    table = tmp_path / "many.csv"
    frame(rows).to_csv(table, index=False)
    out = tmp_path / "out"
    assert main(["score", str(table), "--out", str(out), "--no-report"]) == 0
    run = load_run(out)
    for fig in (waterfall(run, "irrecist"), spider(run, "irrecist")):
        ax = fig.axes[0]
        assert not [t for t in ax.texts if t.get_text().startswith("S")]  # no per-subject labels
        legend = ax.get_legend()
        assert legend is not None
        assert {"irPR", "irSD"} <= {t.get_text() for t in legend.get_texts()}


# ------------------------------------------------------------------------ more subjects than MAX_PLOT_SUBJECTS


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> RunResults:
    """A synthetic trial (benchmarks.make_trial) of more subjects than the plots draw one by one."""
    tmp = tmp_path_factory.mktemp("large")
    make_table(MAX_PLOT_SUBJECTS + 60).to_csv(tmp / "trial.csv", index=False)
    out = tmp / "out"
    assert main(["score", str(tmp / "trial.csv"), "--out", str(out), "--no-report"]) == 0
    return load_run(out)


def test_subset_is_evenly_spaced_and_deterministic() -> None:
    assert subset(list(range(1000)), 200) == list(range(0, 1000, 5))
    assert subset(list(range(7)), 200) == list(range(7))
    picked = subset(list(range(301)), 200)
    assert len(picked) == 200 and picked[0] == 0 and picked == sorted(set(picked))
    assert picked == subset(list(range(301)), 200)


def test_large_waterfall_draws_every_bar_at_once(large: RunResults, tmp_path: Path) -> None:
    subj = large.subjects_of("irrecist")
    measured = subj[subj.best_pct_change != ""]
    n = len(measured)
    assert n > MAX_PLOT_SUBJECTS
    fig = waterfall(large, "irrecist")
    ax = fig.axes[0]
    assert not ax.patches  # no artist per bar
    (bars,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert bars.get_rasterized()
    heights = [float(np.asarray(p.vertices)[1, 1]) for p in bars.get_paths()]  # corner (x - 0.5, value)
    assert len(heights) == n
    want = sorted(((float(v), sid) for v, sid in zip(measured.best_pct_change, measured.subject_id, strict=True)),
                  key=lambda b: (-b[0], b[1]))  # fmt: skip
    assert heights == [v for v, _ in want]
    bor = dict(zip(measured.subject_id, measured.bor, strict=True))
    assert [tuple(f) for f in np.asarray(bars.get_facecolor())] == [
        to_rgba(COLOURS[bor[sid].removeprefix("ir")]) for _, sid in want
    ]
    assert not [t for t in ax.get_xticklabels() if t.get_text()]  # subjects not named
    assert f"N = {n}" in fig.get_suptitle()
    legend = ax.get_legend()
    assert legend is not None and {"irPR", "irSD"} <= {t.get_text() for t in legend.get_texts()}
    write_plots(large, tmp_path)
    assert b"<image" in (tmp_path / "waterfall-irrecist.svg").read_bytes()  # bars rasterized inside the SVG


def test_large_spider_and_swimmer_draw_a_stated_subset(large: RunResults) -> None:
    everyone = [e.label for e in large.entities("irrecist")]
    want = set(subset(everyone))  # make_trial: every subject has a baseline burden and follow-up
    assert len(want) == MAX_PLOT_SUBJECTS < len(everyone)
    fig = spider(large, "irrecist")
    lines = [str(line.get_label()) for line in fig.axes[0].lines if not str(line.get_label()).startswith("_")]
    assert len(lines) == MAX_PLOT_SUBJECTS and set(lines) == want
    assert f"(N = {len(everyone)}, {MAX_PLOT_SUBJECTS} shown)" in fig.get_suptitle()
    assert "evenly spaced" in fig.axes[0].get_title(loc="left")
    assert len(fig.axes[0].collections) <= 1  # progression marks in one call
    fig = swimmer(large, "irrecist")
    lanes = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(lanes) == MAX_PLOT_SUBJECTS and set(lanes) == want
    assert f"(N = {len(everyone)}, {MAX_PLOT_SUBJECTS} shown)" in fig.get_suptitle()
    assert "evenly spaced" in fig.axes[0].get_title(loc="left")


def test_large_plots_byte_identical_on_rerun(large: RunResults, tmp_path: Path) -> None:
    write_plots(large, tmp_path / "a")
    write_plots(load_run(large.folder), tmp_path / "b")
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
