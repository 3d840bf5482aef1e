"""Waterfall, spider and swimmer plots of a finished run, one set per criterion, as PNG and SVG.

Built from the run's output folder only (``irrecist.results``), so any finished run can be plotted again.
Figures are made without pyplot (no GUI backend, no global state) and saved deterministically: a fixed
SVG hash salt, glyphs as paths, fixed metadata and no dates, so the same tables give byte-identical files.

Runs of more than ``MAX_PLOT_SUBJECTS`` subjects are drawn so that they stay readable and fast: the waterfall
keeps every subject but draws its bars as one rasterized collection without names, and the spider and swimmer
plots draw an evenly spaced subset of ``MAX_PLOT_SUBJECTS`` subjects, stated in their titles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex, to_rgb, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from irrecist import __version__
from irrecist.files import atomic_write
from irrecist.results import BOR_KEYS, BURDEN_NAMES, CRITERION_NAMES, Entity, RunResults, number, response_key

PLOT_KINDS = ("waterfall", "spider", "swimmer")
FORMATS = ("png", "svg")
PNG_DPI = 150
MAX_DIRECT_LABELS = 30
"""Up to this many subjects, bars and lines are labelled directly; beyond it a colour key is drawn."""
MAX_PLOT_SUBJECTS = 200
"""Above this many subjects the waterfall draws its bars at once, unnamed and rasterized, and the spider and
swimmer plots show an evenly spaced subset of this many subjects (said in the title)."""
SOFTWARE = f"irrecist {__version__}"

RC: dict[Any, Any] = {  # keys typed loosely: older matplotlib stubs lack RcKeyType
    "svg.hashsalt": "irrecist",  # stable ids in the SVG
    "svg.fonttype": "path",  # glyphs as paths: no dependence on the viewer's fonts
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
}

# Okabe-Ito based, colour-blind safe; every bar and line also carries its label as text.
COLOURS = {
    "CR": "#0072B2",
    "PR": "#56B4E9",
    "SD": "#E6AB02",
    "NN": "#CC79A7",
    "PD": "#D55E00",
    "NE": "#7F7F7F",
    "ND": "#B0B0B0",
    "MISSING": "#D0D0D0",
}
OTHER = "#A0A0A0"
INK = "#222222"


def colour(bor: str) -> str:
    """Fill colour of a response label (any criterion's spelling)."""
    return COLOURS.get(response_key(bor), OTHER)


def ink(bor: str) -> str:
    """A darker shade of the response colour, readable as text on white."""
    r, g, b = to_rgb(colour(bor))
    return to_hex((r * 0.6, g * 0.6, b * 0.6))


def _key(marker: str, face: str, edge: str, label: str, size: float = 7) -> Line2D:
    """A legend entry for a marker (no line)."""
    return Line2D(
        [], [], marker=marker, linestyle="", markersize=size, markerfacecolor=face, markeredgecolor=edge, label=label
    )


def _bor_keys(bors: Iterable[str]) -> list[Line2D]:
    """Colour key of the BOR labels present, best first (used only where bars or lines are too many to label)."""
    present = dict.fromkeys(bors)
    order = sorted(present, key=lambda b: (BOR_KEYS.index(response_key(b)) if response_key(b) in BOR_KEYS else 99, b))
    return [Line2D([], [], color=colour(b), linewidth=6, label=b) for b in order]


def _names(labels: list[str], limit: int = 12) -> str:
    """Subject labels for a footnote, cut after ``limit`` with a count of the rest."""
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def _fmt(value: float) -> str:
    return f"{value:g}"


T = TypeVar("T")


def subset(items: Sequence[T], limit: int = MAX_PLOT_SUBJECTS) -> list[T]:
    """At most ``limit`` items, evenly spaced through ``items`` and in their order (the first always kept);
    deterministic, so the same run always shows the same subjects."""
    n = len(items)
    if n <= limit:
        return list(items)
    return [items[i * n // limit] for i in range(limit)]


def _subset_note(shown: int, total: int) -> str:
    """Subtitle words for a plot of a subset; empty when every subject is drawn."""
    if shown >= total:
        return ""
    return (
        f"; {shown} of the {total} subjects drawn (more than {MAX_PLOT_SUBJECTS}): an evenly spaced subset, "
        f"1 in {total / shown:.3g} in subjects.csv order"
    )


def _titles(fig: Figure, title: str, subtitle: str) -> None:
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    if subtitle:
        fig.axes[0].set_title(subtitle, loc="left", fontsize=8.5, color="#444444")


def _threshold_lines(ax: Axes, pd_pct: float, pr_pct: float, ir: bool) -> None:
    """Dashed PD and PR threshold lines, labelled at the right edge of the plot."""
    prefix = "ir" if ir else ""
    for y, text, key in (
        (pd_pct, f"+{_fmt(pd_pct)} % {prefix}PD", "PD"),
        (-pr_pct, f"-{_fmt(pr_pct)} % {prefix}PR", "PR"),
    ):
        ax.axhline(y, linestyle="--", linewidth=1, color=ink(key), zorder=1)
        ax.text(1.005, y, text, transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=8, color=ink(key))
    ax.axhline(0, color=INK, linewidth=0.8, zorder=1)


@dataclass(frozen=True)
class _Ctx:
    results: RunResults
    criterion: str

    @property
    def name(self) -> str:
        return CRITERION_NAMES.get(self.criterion, self.criterion)

    @property
    def burden(self) -> str:
        return BURDEN_NAMES.get(self.criterion, "burden")

    @property
    def ir(self) -> bool:
        return self.criterion == "irrecist"

    @property
    def pd_pct(self) -> float:
        return self.results.option_number(self.criterion, "pd_min_increase_pct", 20)

    @property
    def pr_pct(self) -> float:
        return self.results.option_number(self.criterion, "pr_min_decrease_pct", 30)

    @property
    def max_ld(self) -> float:
        return self.results.option_number(self.criterion, "max_baseline_ld_mm", 60)

    def pd_label(self) -> str:
        return "irPD" if self.ir else "PD"


def waterfall(results: RunResults, criterion: str) -> Figure:
    """Best percentage change of the burden per subject, bars coloured and labelled by BOR."""
    ctx = _Ctx(results, criterion)
    bars: list[tuple[float, str, str, bool]] = []
    left_out: list[str] = []
    for ent, row in results.subject_rows(criterion):
        value = number(row["best_pct_change"])
        if value is None:
            left_out.append(ent.label)
        else:
            bars.append((value, ent.label, row["bor"], row["baseline_eligible"] == "false"))
    bars.sort(key=lambda b: (-b[0], b[1]))
    n = len(bars)
    labelled = n <= MAX_DIRECT_LABELS
    many = n > MAX_PLOT_SUBJECTS
    width = 14.0 if many else min(40.0, max(7.5, 2.0 + (0.45 if labelled else 0.22) * n))
    fig = Figure(figsize=(width, 5.6), layout="constrained")
    ax = fig.add_subplot()
    values = [b[0] for b in bars]
    if many:
        _bars_at_once(ax, values, [b[2] for b in bars])
    else:
        ax.bar(range(n), values, width=0.75, color=[colour(b[2]) for b in bars], edgecolor=INK, linewidth=0.5,
               zorder=2)  # fmt: skip
    _threshold_lines(ax, ctx.pd_pct, ctx.pr_pct, ctx.ir)
    lo = min([*values, -ctx.pr_pct, 0.0])
    hi = max([*values, ctx.pd_pct, 0.0])
    pad = 0.16 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(-0.6, max(n, 1) - 0.4)
    if many:
        return _waterfall_many(fig, ax, ctx, bars, left_out, lo - 0.6 * pad)
    if labelled:
        for x, (value, _, bor, _) in enumerate(bars):
            up = value >= 0
            ax.annotate(
                f"{value:+.1f} %\n{bor}" if up else f"{bor}\n{value:+.1f} %",
                (x, value),
                xytext=(0, 3 if up else -3),
                textcoords="offset points",
                ha="center",
                va="bottom" if up else "top",
                fontsize=7.5,
                color=ink(bor),
                linespacing=1.1,
            )
    ax.set_xticks(
        range(n),
        [b[1] + (" †" if b[3] else "") for b in bars],
        rotation=45 if n <= 30 else 90,
        ha="right" if n <= 30 else "center",
        rotation_mode="anchor" if n <= 30 else "default",
    )
    ax.set_ylabel(f"Best change of {ctx.burden} from baseline (%)")
    ax.set_xlabel("Subject")
    notes = []
    if any(b[3] for b in bars):
        notes.append(f"† ineligible at baseline (a lesion over {_fmt(ctx.max_ld)} mm)")
    if left_out:
        notes.append(f"Not shown (no measurable baseline burden): {_names(left_out)}")
    if notes:
        fig.supxlabel("\n".join(notes), x=0.01, ha="left", fontsize=8, color="#444444")
    if not labelled:
        ax.legend(handles=_bor_keys(b[2] for b in bars), loc="lower left", fontsize=8, frameon=False)
    _titles(
        fig,
        f"Waterfall, {ctx.name}: best change of {ctx.burden} per subject (N = {n})",
        ("Bars coloured and labelled" if labelled else "Bars coloured")
        + " by best overall response; dashed lines: response and progression thresholds",
    )
    return fig


def _bars_at_once(ax: Axes, values: list[float], bors: list[str]) -> None:
    """All bars as one collection, touching, without edges or antialiasing (each is narrower than a pixel at
    this many subjects) and rasterized in the SVG: one artist instead of one per subject."""
    x = np.arange(len(values), dtype=float)
    v = np.asarray(values, dtype=float)
    verts = np.empty((len(values), 4, 2))
    verts[:, :, 0] = np.stack([x - 0.5, x - 0.5, x + 0.5, x + 0.5], axis=1)
    verts[:, :, 1] = np.stack([np.zeros_like(v), v, v, np.zeros_like(v)], axis=1)
    rgba = {b: to_rgba(colour(b)) for b in dict.fromkeys(bors)}
    bars = PolyCollection(
        list(verts),
        facecolors=[rgba[b] for b in bors],
        edgecolors="none",
        linewidths=0,
        antialiaseds=False,
        zorder=2,
        rasterized=True,
    )
    ax.add_collection(bars, autolim=False)


def _waterfall_many(
    fig: Figure, ax: Axes, ctx: _Ctx, bars: list[tuple[float, str, str, bool]], left_out: list[str], mark_y: float
) -> Figure:
    """The rest of a waterfall of more than ``MAX_PLOT_SUBJECTS`` bars: no subject names, ineligible subjects
    marked by a dagger under their bar, a colour key."""
    n = len(bars)
    ineligible = [x for x, b in enumerate(bars) if b[3]]
    if ineligible:
        ax.scatter(ineligible, [mark_y] * len(ineligible), marker=r"$\dagger$", s=30, color=INK, linewidths=0,
                   zorder=3, rasterized=True)  # fmt: skip
    ax.set_xticks([])
    ax.set_xlabel(f"Subjects, sorted by best change (not named above {MAX_PLOT_SUBJECTS} subjects)")
    ax.set_ylabel(f"Best change of {ctx.burden} from baseline (%)")
    notes = []
    if ineligible:
        notes.append(
            f"† under a bar: ineligible at baseline (a lesion over {_fmt(ctx.max_ld)} mm), {len(ineligible)} subjects"
        )
    if left_out:
        notes.append(f"Not shown (no measurable baseline burden): {_names(left_out)}")
    if notes:
        fig.supxlabel("\n".join(notes), x=0.01, ha="left", fontsize=8, color="#444444")
    ax.legend(handles=_bor_keys(b[2] for b in bars), loc="upper right", fontsize=8, frameon=False)
    _titles(
        fig,
        f"Waterfall, {ctx.name}: best change of {ctx.burden} per subject (N = {n})",
        "Bars coloured by best overall response, every subject drawn; dashed lines: response and progression "
        "thresholds",
    )
    return fig


@dataclass(frozen=True)
class _Point:
    day: float
    pct: float | None
    response: str
    pd_status: str
    timepoint: str
    date: str


POINT_COLUMNS = ("study_day", "pct_from_baseline", "baseline_mm", "response", "pd_status", "timepoint", "date")


def _points(results: RunResults, criterion: str, ent: Entity) -> list[_Point]:
    """The assessments of one subject with a study day, in order (computed once per run and criterion)."""
    key = (__name__, "points", criterion)
    cols = [results.column(c) for c in POINT_COLUMNS]
    if key not in results.cache:
        results.cache[key] = {
            e: _points_at(cols, results.timeline_positions(criterion, e)) for e in results.entities(criterion)
        }
    found: dict[Entity, list[_Point]] = results.cache[key]
    return found[ent] if ent in found else _points_at(cols, results.timeline_positions(criterion, ent))


def _points_at(cols: list[list[str]], positions: list[int]) -> list[_Point]:
    study_day, pct_from_baseline, baseline_mm, response, pd_status, timepoint, date = cols
    pts: list[_Point] = []
    for i, at in enumerate(positions):
        day = number(study_day[at])
        if day is None:
            continue
        pct = number(pct_from_baseline[at])
        if i == 0 and (number(baseline_mm[at]) or 0) > 0:
            pct = 0.0  # the baseline itself
        pts.append(_Point(day, pct, response[at], pd_status[at], timepoint[at], date[at]))
    return pts


def _pd_events(pts: list[_Point]) -> list[_Point]:
    """Progression events to mark: every (ir)PD with a confirmation status (unconfirmed, pending, confirmed),
    and the first PD of a criterion without confirmation; later PDs, outside the BOR window, are not marked."""
    pds = [p for p in pts if response_key(p.response) == "PD"]
    marked = [p for p in pds if p.pd_status]
    return marked if marked else pds[:1]


def _pd_filled(p: _Point) -> bool:
    """Filled marker for a confirmed (or confirmation-free) PD; hollow for unconfirmed or pending irPD."""
    return p.pd_status not in ("unconfirmed", "pending")


def _spread(targets: list[float], gap: float) -> list[float]:
    """Label heights near ``targets`` (any order) at least ``gap`` apart, moved as little as simple."""
    order = sorted(range(len(targets)), key=lambda i: targets[i])
    placed = [0.0] * len(targets)
    last = float("-inf")
    for i in order:
        placed[i] = max(targets[i], last + gap)
        last = placed[i]
    if order:  # centre the shifted block back on the targets
        shift = (sum(placed) - sum(targets)) / len(targets)
        placed = [p - shift for p in placed]
    return placed


def spider(results: RunResults, criterion: str) -> Figure:
    """Percentage change of the burden from baseline over study days, one line per subject."""
    ctx = _Ctx(results, criterion)
    fig = Figure(figsize=(10, 6.2), layout="constrained")
    ax = fig.add_subplot()
    bors = {ent: str(row["bor"]) for ent, row in results.subject_rows(criterion)}
    ends: list[tuple[float, float, str, str]] = []
    left_out: list[str] = []
    all_pct: list[float] = []
    max_day = 1.0
    lines: list[tuple[Entity, list[_Point], list[_Point]]] = []
    for ent in results.entities(criterion):
        every = _points(results, criterion, ent)
        pts = [p for p in every if p.pct is not None]
        if len(pts) < 2:
            left_out.append(ent.label)
            continue
        lines.append((ent, every, pts))
    shown = subset(lines)
    many = len(shown) < len(lines)
    at_once = len(shown) > MAX_DIRECT_LABELS  # progression marks of unlabelled lines: drawn in one call
    diamonds: list[tuple[float, float, bool]] = []
    for ent, every, pts in shown:
        events = _pd_events(every)
        bor = bors.get(ent, "")
        days = [p.day for p in pts]
        pcts = [p.pct for p in pts if p.pct is not None]
        all_pct += pcts
        max_day = max(max_day, *days)
        ax.plot(days, pcts, color=colour(bor), linewidth=1.6, marker="o", markersize=3, zorder=2, label=ent.label)
        for p in pts:
            if p in events and p.pct is not None:
                if at_once:
                    diamonds.append((p.day, p.pct, _pd_filled(p)))
                    continue
                ax.scatter(
                    [p.day],
                    [p.pct],
                    marker="D",
                    s=55,
                    linewidths=1.6,
                    zorder=4,
                    edgecolors=ink("PD"),
                    facecolors=colour("PD") if _pd_filled(p) else "white",
                )
        ends.append((days[-1], pcts[-1], f"{ent.label} {bor}", bor))
    if diamonds:
        ax.scatter(
            [d[0] for d in diamonds],
            [d[1] for d in diamonds],
            marker="D",
            s=55,
            linewidths=1.6,
            zorder=4,
            edgecolors=ink("PD"),
            facecolors=[colour("PD") if d[2] else "white" for d in diamonds],
        )
    _threshold_lines(ax, ctx.pd_pct, ctx.pr_pct, ctx.ir)
    lo = min([*all_pct, -ctx.pr_pct, 0.0])
    hi = max([*all_pct, ctx.pd_pct, 0.0])
    pad = 0.08 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(
        min(0.0, *(e[0] for e in ends)) if ends else 0.0, max_day * (1.22 if len(ends) <= MAX_DIRECT_LABELS else 1.04)
    )
    labelled = len(ends) <= MAX_DIRECT_LABELS
    if labelled:
        gap = 0.045 * (hi - lo + 2 * pad)
        clusters: dict[float, list[int]] = {}
        for i, e in enumerate(ends):
            clusters.setdefault(round(e[0] / max(max_day * 0.08, 1.0)), []).append(i)
        for members in clusters.values():
            ys = _spread([ends[i][1] for i in members], gap)
            for i, y in zip(members, ys, strict=True):
                day, pct, text, bor = ends[i]
                ax.annotate(
                    text,
                    (day, pct),
                    xytext=(day + max_day * 0.02, y),
                    textcoords="data",
                    va="center",
                    fontsize=7.5,
                    color=ink(bor),
                    arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.5, "shrinkA": 0, "shrinkB": 2},
                )
    ax.set_xlabel("Study day (day 1 = reference date)")
    ax.set_ylabel(f"Change of {ctx.burden} from baseline (%)")
    pd_name = ctx.pd_label()
    handles = [
        _key("D", colour("PD"), ink("PD"), f"{pd_name} confirmed (filled)" if ctx.ir else f"{pd_name} assessment"),
    ]
    if ctx.ir:
        handles.append(_key("D", "white", ink("PD"), f"{pd_name} unconfirmed or pending (hollow)"))
    if not labelled:  # too many lines to label: a colour key instead
        handles += _bor_keys(e[3] for e in ends) if many else _bor_keys(bors.values())
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    if left_out:
        fig.supxlabel(
            f"Not shown (no measurable baseline burden or no follow-up): {_names(left_out)}",
            x=0.01,
            ha="left",
            fontsize=8,
            color="#444444",
        )
    _titles(
        fig,
        f"Spider, {ctx.name}: change of {ctx.burden} from baseline over time (N = {len(lines)}"
        + (f", {len(shown)} shown)" if many else ")"),
        "One line per subject, coloured "
        + ("and labelled " if labelled else "")
        + "by best overall response"
        + _subset_note(len(shown), len(lines)),
    )
    return fig


_Lane = tuple[float, float, Entity, str, str, list[_Point], str]
"""start day, end day, entity, BOR, BOR confirmed, points, first response date"""


def swimmer(results: RunResults, criterion: str) -> Figure:
    """Time on study per subject (bar to the last assessment) with response and progression events."""
    ctx = _Ctx(results, criterion)
    lanes: list[_Lane] = []
    for ent, row in results.subject_rows(criterion):
        pts = _points(results, criterion, ent)
        if pts:
            lanes.append(
                (
                    min(1.0, pts[0].day),
                    pts[-1].day,
                    ent,
                    str(row["bor"]),
                    str(row["bor_confirmed"]),
                    pts,
                    str(row["first_response_date"]),
                )
            )
    total = len(lanes)
    lanes = subset(lanes)  # in file order: an evenly spaced subset of a large run
    many = len(lanes) < total
    lanes.sort(key=lambda lane: (-lane[1], lane[2].label))  # longest first
    n = len(lanes)
    fig = Figure(figsize=(10, min(60.0, 2.4 + 0.38 * n)), layout="constrained")
    ax = fig.add_subplot()
    max_day = max([lane[1] for lane in lanes] + [1.0])
    at_once = n > MAX_DIRECT_LABELS  # too many lanes to draw mark by mark: one call per kind of mark
    if at_once:
        _lanes_at_once(ax, lanes, max_day)
    for y, (start, end, _ent, bor, confirmed, pts, first_resp) in enumerate([] if at_once else lanes):
        ax.barh(y, end - start, left=start, height=0.55, color=colour(bor), edgecolor=INK, linewidth=0.5, zorder=1)
        text = bor + (" confirmed" if confirmed == "true" else "")
        ax.text(end + max_day * 0.012, y, text, va="center", ha="left", fontsize=7.5, color=ink(bor))
        ax.scatter([p.day for p in pts[1:]], [y] * len(pts[1:]), marker="|", s=70, color=INK, linewidths=1, zorder=2)
        resp_day = next((p.day for p in pts if p.date == first_resp), None) if first_resp else None
        if resp_day is not None:
            filled = confirmed == "true" and response_key(bor) in ("CR", "PR")
            ax.scatter(
                [resp_day],
                [y - 0.42],
                marker="v",
                s=45,
                zorder=3,
                edgecolors=ink("PR"),
                facecolors=colour("PR") if filled else "white",
                linewidths=1.2,
            )
        first_cr = next((p for p in pts if response_key(p.response) == "CR"), None)
        if first_cr is not None:
            ax.scatter(
                [first_cr.day],
                [y - 0.42],
                marker="*",
                s=90,
                zorder=3,
                color=colour("CR"),
                edgecolors=INK,
                linewidths=0.5,
            )
        events = _pd_events(pts)
        confirmed_pd = [p for p in events if p.pd_status == "confirmed"]
        confirmer = confirmed_pd[-1] if len(confirmed_pd) > 1 else None
        for p in pts:
            if p not in events:
                continue
            if p is confirmer:
                ax.scatter(
                    [p.day], [y], marker="X", s=80, zorder=4, color=ink("PD"), edgecolors="white", linewidths=0.8
                )
            else:
                ax.scatter(
                    [p.day],
                    [y],
                    marker="D",
                    s=45,
                    zorder=4,
                    edgecolors=INK,
                    linewidths=1.2,
                    facecolors=ink("PD") if _pd_filled(p) else "white",  # dark: visible on a PD-coloured bar
                )
    ax.set_yticks(range(n), [lane[2].label for lane in lanes])
    ax.set_ylim(n - 0.2 if n else 0.5, -0.7)  # first (longest) lane on top
    ax.set_xlim(min([lane[0] for lane in lanes] + [0.0]), max_day * 1.2)
    ax.set_xlabel("Study day (day 1 = reference date); bar ends at the last assessment")
    pd_name = ctx.pd_label()
    handles = [
        Line2D([], [], marker="|", linestyle="", markersize=9, color=INK, label="assessment"),
        _key("v", colour("PR"), ink("PR"), "first response (hollow: not confirmed)"),
        _key("*", colour("CR"), INK, "first CR", size=10),
        _key("D", ink("PD"), INK, f"{pd_name} (hollow: unconfirmed or pending)" if ctx.ir else pd_name),
    ]
    if ctx.ir:
        handles.append(_key("X", ink("PD"), "white", f"{pd_name} confirmed at this assessment", size=9))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=len(handles),
        fontsize=7.5,
        frameon=False,
        handletextpad=0.3,
        columnspacing=1.2,
    )
    _titles(
        fig,
        f"Swimmer, {ctx.name}: time on study per subject (N = {total}" + (f", {n} shown)" if many else ")"),
        "Bars coloured by best overall response, labelled at their end" + _subset_note(n, total),
    )
    return fig


def _lanes_at_once(ax: Axes, lanes: list[_Lane], max_day: float) -> None:
    """Lanes as ``swimmer`` draws them one by one, but with one call per kind of mark (bars, assessment
    ticks, responses, CRs, progressions, confirming assessments): the same picture, far fewer artists."""
    ys = range(len(lanes))
    ax.barh(ys, [lane[1] - lane[0] for lane in lanes], left=[lane[0] for lane in lanes], height=0.55,
            color=[colour(lane[3]) for lane in lanes], edgecolor=INK, linewidth=0.5, zorder=1)  # fmt: skip
    ticks: list[tuple[float, int]] = []
    responses: list[tuple[float, int, bool]] = []
    crs: list[tuple[float, int]] = []
    pds: list[tuple[float, int, bool]] = []
    confirmers: list[tuple[float, int]] = []
    for y, (_start, end, _ent, bor, confirmed, pts, first_resp) in enumerate(lanes):
        text = bor + (" confirmed" if confirmed == "true" else "")
        ax.text(end + max_day * 0.012, y, text, va="center", ha="left", fontsize=7.5, color=ink(bor))
        ticks += [(p.day, y) for p in pts[1:]]
        resp_day = next((p.day for p in pts if p.date == first_resp), None) if first_resp else None
        if resp_day is not None:
            responses.append((resp_day, y, confirmed == "true" and response_key(bor) in ("CR", "PR")))
        first_cr = next((p for p in pts if response_key(p.response) == "CR"), None)
        if first_cr is not None:
            crs.append((first_cr.day, y))
        events = _pd_events(pts)
        confirmed_pd = [p for p in events if p.pd_status == "confirmed"]
        confirmer = confirmed_pd[-1] if len(confirmed_pd) > 1 else None
        for p in pts:
            if p is confirmer:
                confirmers.append((p.day, y))
            elif p in events:
                pds.append((p.day, y, _pd_filled(p)))
    if ticks:
        ax.scatter([t[0] for t in ticks], [t[1] for t in ticks], marker="|", s=70, color=INK, linewidths=1, zorder=2)
    if responses:
        ax.scatter([r[0] for r in responses], [r[1] - 0.42 for r in responses], marker="v", s=45, zorder=3,
                   edgecolors=ink("PR"), facecolors=[colour("PR") if r[2] else "white" for r in responses],
                   linewidths=1.2)  # fmt: skip
    if crs:
        ax.scatter([c[0] for c in crs], [c[1] - 0.42 for c in crs], marker="*", s=90, zorder=3, color=colour("CR"),
                   edgecolors=INK, linewidths=0.5)  # fmt: skip
    if pds:
        ax.scatter([d[0] for d in pds], [d[1] for d in pds], marker="D", s=45, zorder=4, edgecolors=INK,
                   linewidths=1.2, facecolors=[ink("PD") if d[2] else "white" for d in pds])  # fmt: skip
    if confirmers:
        ax.scatter([c[0] for c in confirmers], [c[1] for c in confirmers], marker="X", s=80, zorder=4,
                   color=ink("PD"), edgecolors="white", linewidths=0.8)  # fmt: skip


PLOTS: dict[str, Callable[[RunResults, str], Figure]] = {"waterfall": waterfall, "spider": spider, "swimmer": swimmer}


def plot_path(folder: Path, kind: str, criterion: str, fmt: str) -> Path:
    """Where a plot is written: ``plots/KIND-CRITERION.FMT``."""
    return folder / f"{kind}-{criterion}.{fmt}"


def save(fig: Figure, path: Path) -> None:
    """Write one figure as PNG or SVG (from the suffix) with fixed metadata and no date."""
    fmt = path.suffix.lstrip(".")
    meta: dict[str, str | None] = {"Software": SOFTWARE} if fmt == "png" else {"Creator": SOFTWARE, "Date": None}
    with matplotlib.rc_context(RC):
        atomic_write(
            path,
            lambda p: fig.savefig(p, format=fmt, dpi=PNG_DPI, metadata=meta, bbox_inches="tight", pad_inches=0.15),
        )


def write_plots(results: RunResults, folder: Path | None = None) -> list[Path]:
    """Write every plot of every criterion into ``folder`` (default ``RUN/plots``); returns the paths.

    Plots of this naming scheme left from an earlier run (e.g. another criterion) are removed.
    """
    folder = folder or results.folder / "plots"
    written: list[Path] = []
    for criterion in results.criteria:
        for kind in PLOT_KINDS:
            with matplotlib.rc_context(RC):
                fig = PLOTS[kind](results, criterion)
            for fmt in FORMATS:
                path = plot_path(folder, kind, criterion, fmt)
                save(fig, path)
                written.append(path)
    if folder.is_dir():
        keep = set(written)
        for kind in PLOT_KINDS:
            for fmt in FORMATS:
                for stale in folder.glob(f"{kind}-*.{fmt}"):
                    if stale not in keep:
                        stale.unlink()
    return written
