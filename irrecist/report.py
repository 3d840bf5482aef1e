"""``report.html``: one self-contained HTML page of a finished run, built from its output folder.

The page needs no network: CSS is inline, plots are embedded as SVG data URIs, there is no script and no
web font, and a Content-Security-Policy forbids any other resource. Every text taken from the tables is
escaped. It holds the endpoints (ORR with its exact 95 % CI per criterion), the best overall responses,
the plots, the 6 cm eligibility findings, the problems of ``errors.csv`` and one section per subject with
its timeline and the reason of every call, followed by its key images when the run has ``lines.csv`` and the
images are at hand (:mod:`irrecist.keyimages`). The tables hold subject ids only, never patient names.

The page stays readable and small for large runs: above ``SUBJECT_LIMIT`` subjects, the per-subject table and
sections cover only the subjects that need a look (at most ``SUBJECT_LIMIT``, see ``LOOK_REASONS``), lists of
ineligible subjects are cut at ``SUBJECT_LIMIT`` rows and the problems table at ``PROBLEM_LIMIT`` rows, each
with a sentence saying how many more rows are in the run's tables.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from irrecist import __version__
from irrecist.files import atomic_write
from irrecist.keyimages import CSS as KEY_IMAGE_CSS
from irrecist.keyimages import KeyImages, parse_lines
from irrecist.plots import COLOURS, PLOT_KINDS, plot_path, write_plots
from irrecist.results import (
    BURDEN_NAMES,
    CRITERION_NAMES,
    Entity,
    Row,
    RunResults,
    load_run,
    records,
    response_key,
)

REPORT_NAME = "report.html"

SUBJECT_LIMIT = 200
"""Runs with up to this many subjects get every subject in the BOR table and a section each; larger runs get
them only for the subjects that need a look, the most pressing ``SUBJECT_LIMIT`` of them."""
PROBLEM_LIMIT = 500
"""The problems table lists at most this many rows of errors.csv, errors before warnings."""
LOOK_REASONS = (
    "error in errors.csv",
    "ineligible or unknown eligibility at baseline",
    "unconfirmed or pending (ir)PD",
    "warning in errors.csv",
    "QC flags",
    "best overall response PD, NE or MISSING, or no measurable disease",
)
"""Why a subject of a large run needs a look, most pressing first (the order in which they are picked)."""
_RANK = {reason: i for i, reason in enumerate(LOOK_REASONS)}
_ERROR, _INELIGIBLE, _UNCONFIRMED, _WARNING, _QC, _OUTCOME = LOOK_REASONS

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""Content-Security-Policy of the page: nothing but inline styles and data: images can load."""

TIMELINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("timepoint", "Assessment"),
    ("date", "Date"),
    ("study_day", "Day"),
    ("target_sum_mm", "Target sum (mm)"),
    ("new_lesions_mm", "New lesions (mm)"),
    ("tmtb_mm", "TMTB (mm)"),
    ("nadir_mm", "Nadir (mm)"),
    ("pct_from_baseline", "vs baseline (%)"),
    ("pct_from_nadir", "vs nadir (%)"),
    ("change_from_nadir_mm", "vs nadir (mm)"),
    ("target_response", "Target"),
    ("nontarget_response", "Non-target"),
    ("new_lesions", "New lesions"),
    ("response", "Response"),
    ("pd_status", "PD status"),
)
"""Columns of a subject's timeline table; each assessment's ``reason`` follows on a full-width row."""
RESPONSE_COLUMNS = ("target_response", "nontarget_response", "response")

PLOT_CAPTIONS = {
    "waterfall": "Best percentage change of the {burden} from baseline per subject, coloured and labelled by best "
    "overall response; dashed lines at the run's response and progression thresholds.",
    "spider": "Percentage change of the {burden} from baseline at each assessment (study day), one line per subject; "
    "diamonds mark progression: filled when confirmed, hollow when unconfirmed or pending.",
    "swimmer": "Time on study per subject up to the last assessment, with the first response, the first complete "
    "response, progression and the assessment that confirmed progression.",
}


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _tint(hex_colour: str, amount: float = 0.72) -> str:
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def _css() -> str:
    badges = "\n".join(f".r-{key} {{ background: {_tint(col)}; border-color: {col}; }}" for key, col in COLOURS.items())
    return (
        """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d1d1f;
  margin: 0; background: #fafafa; }
main { max-width: 1320px; margin: 0 auto; padding: 1.5rem 2rem 4rem; background: #fff; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.4rem 0 .6rem; padding-bottom: .25rem; border-bottom: 2px solid #ddd; }
h3 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
h4 { font-size: 1rem; margin: 1rem 0 .3rem; color: #333; }
p.meta, .note { color: #555; font-size: .9rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; }
a { color: #0a58ca; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .84rem; }
th, td { border: 1px solid #d6d6d6; padding: .22rem .42rem; vertical-align: top; text-align: left; }
th { background: #f1f3f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.call td { border-bottom: none; }
tr.why td { border-top: none; color: #333; padding-bottom: .45rem; }
tr.why .label { color: #777; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
td.nw { white-space: nowrap; }
tr.baseline td { background: #f8f9fa; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
.card { border: 1px solid #d6d6d6; border-radius: 6px; padding: .7rem 1rem; min-width: 16rem; }
.card .big { font-size: 1.6rem; font-weight: 700; }
.resp { display: inline-block; padding: 0 .35rem; border-left: 4px solid #999; border-radius: 3px;
  white-space: nowrap; }
.level-error { color: #a40000; font-weight: 600; }
.level-warning { color: #8a5a00; font-weight: 600; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .88rem; }
section.subject { border-top: 1px solid #e5e5e5; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: .3rem 0 .6rem; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; }
@media print { body { background: #fff; } main { max-width: none; padding: 0; } figure, tr { break-inside: avoid; } }
"""
        + KEY_IMAGE_CSS
        + badges
        + "\n"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    table_id: str = "",
    numeric: Sequence[int] = (),
    nowrap: Sequence[int] = (),
) -> str:
    """An HTML table; cells are already-escaped HTML, ``numeric`` columns are right-aligned and ``nowrap``
    columns (ids, dates) are not broken."""

    def cell(i: int, c: str) -> str:
        cls = " ".join(n for n, cols in (("num", numeric), ("nw", nowrap)) if i in cols)
        return f'<td class="{cls}">{c}</td>' if cls else f"<td>{c}</td>"

    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for row in rows:
        body.append(f"<tr>{''.join(cell(i, c) for i, c in enumerate(row))}</tr>")
    tid = f' id="{e(table_id)}"' if table_id else ""
    return f'<div class="scroll"><table{tid}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _resp(label: str) -> str:
    """A response label as a coloured badge (the text stays the criterion's own label)."""
    if not label:
        return ""
    return f'<span class="resp r-{e(_slug(response_key(label)))}">{e(label)}</span>'


def _pct(block: dict[str, Any]) -> tuple[str, str]:
    if block.get("pct") is None:
        return "n/a", "n/a"
    return f"{block['pct']} %", f"{block['ci95_low_pct']} to {block['ci95_high_pct']} %"


class _Page:
    """Assembles the page; each method returns one section's HTML."""

    def __init__(self, results: RunResults, subject_limit: int = SUBJECT_LIMIT) -> None:
        self.r = results
        self.limit = subject_limit
        self.key_images = KeyImages(results.folder)
        self.anchors: dict[str, str] = {}
        used: set[str] = set()
        for sid in dict.fromkeys(results.subjects["subject_id"].tolist()):
            base = "subject-" + _slug(sid)
            anchor, k = base, 1
            while anchor in used:
                k += 1
                anchor = f"{base}-{k}"
            self.anchors[sid] = anchor
            used.add(anchor)
        self.many = len(self.anchors) > subject_limit
        self.why: dict[str, list[str]] = self._need_a_look() if self.many else {}
        if self.many:  # the most pressing subjects, shown in file order
            order = {sid: i for i, sid in enumerate(self.anchors)}
            picked = sorted(self.why, key=lambda sid: (min(_RANK[w] for w in self.why[sid]), order[sid]))
            self.shown = {sid: self.anchors[sid] for sid in sorted(picked[:subject_limit], key=order.__getitem__)}
        else:
            self.shown = self.anchors

    def name(self, criterion: str) -> str:
        return CRITERION_NAMES.get(criterion, criterion)

    def link(self, sid: str) -> str:
        return f'<a href="#{e(self.shown[sid])}">{e(sid)}</a>' if sid in self.shown else e(sid)

    def _need_a_look(self) -> dict[str, list[str]]:
        """Subjects that need a look, with why (phrases in ``LOOK_REASONS`` order, the most pressing first)."""
        why: dict[str, dict[str, None]] = {}

        def flag(sid: str, reason: str) -> None:
            if sid in self.anchors:
                why.setdefault(sid, {})[reason] = None

        errors = records(self.r.errors)
        for row in errors:
            if row["level"] == "error":
                flag(row["subject_id"], _ERROR)
        for c in self.r.criteria:
            for ent, row in self.r.subject_rows(c):
                if row["baseline_eligible"] != "true":
                    flag(ent.subject_id, _INELIGIBLE)
        tp = self.r.timepoints
        if "pd_status" in tp.columns:
            pending = tp[tp["pd_status"].isin(["unconfirmed", "pending"])]
            for sid in pending["subject_id"].tolist():
                flag(sid, _UNCONFIRMED)
        for row in errors:
            if row["level"] != "error":
                flag(row["subject_id"], _WARNING)
        for c in self.r.criteria:
            for ent, row in self.r.subject_rows(c):
                if row.get("qc_flags"):
                    flag(ent.subject_id, _QC)
                if response_key(row["bor"]) in ("PD", "NE", "MISSING") or row.get("measurable_disease") == "false":
                    flag(ent.subject_id, _OUTCOME)
        return {sid: sorted(reasons, key=_RANK.__getitem__) for sid, reasons in why.items()}

    def header(self) -> str:
        s = self.r.summary
        crits = ", ".join(self.name(c) for c in self.r.criteria) or "none"
        n_subj = len(dict.fromkeys(self.r.subjects["subject_id"]))
        nav = "".join(
            f'<li><a href="#{a}">{t}</a></li>'
            for a, t in (
                ("endpoints", "Endpoints"),
                ("bor", "Best overall response"),
                ("plots", "Plots"),
                ("eligibility", "Eligibility"),
                ("problems", "Problems"),
                ("subjects", "Subjects"),
                ("options", "Options"),
            )
        )
        cards = []
        for c in self.r.criteria:
            orr = s["criteria"][c].get("orr")
            if not orr:
                cards.append(
                    f'<div class="card"><div>{e(self.name(c))} ORR</div><div class="big">no subject scored</div></div>'
                )
                continue
            pct, ci = _pct(orr)
            conf = "confirmed" if s["criteria"][c].get("confirmation_required") else "unconfirmed"
            cards.append(
                f'<div class="card" id="orr-card-{e(_slug(c))}"><div>{e(self.name(c))} ORR ({conf})</div>'
                f'<div class="big">{e(pct)}</div><div>{e(orr["n"])}/{e(orr["N"])} response-evaluable, '
                f"95 % CI {e(ci)}</div></div>"
            )
        return (
            f"<header><h1>irrecist report</h1>"
            f'<p class="meta">Run folder <code>{e(self.r.folder.name)}</code> &middot; criteria: {e(crits)} &middot; '
            f"{n_subj} subject(s) &middot; errors: {e(s.get('errors', 0))}, warnings: {e(s.get('warnings', 0))} "
            f"&middot; irrecist {e(__version__)}</p>"
            f'<nav><ul>{nav}</ul></nav><div class="cards">{"".join(cards)}</div></header>'
        )

    def endpoints(self) -> str:
        parts = [
            '<section id="endpoints"><h2>Endpoints</h2>',
            '<p class="note">Exact (Clopper-Pearson) 95 % confidence intervals. The response-evaluable population '
            "has measurable target disease at baseline.</p>",
        ]
        for c in self.r.criteria:
            block = self.r.summary["criteria"][c]
            parts.append(f"<h3>{e(self.name(c))}</h3>")
            if not block.get("subjects_scored"):
                parts.append("<p>No subject scored.</p>")
                continue
            rows = []
            conf = " (confirmed)" if block.get("confirmation_required") else " (unconfirmed)"
            measures = [
                ("ORR" + conf, block["orr"]),
                ("ORR, all subjects" + conf, block["orr_all_subjects"]),
                ("DCR (CR + PR + SD)", block["dcr"]),
            ]
            if "landmark_orr" in block:
                measures.append((f"ORR at {block['landmark_orr'].get('visit', '')}", block["landmark_orr"]))
            for label, m in measures:
                pct, ci = _pct(m)
                rows.append([e(label), e(m.get("population", "")), e(m["n"]), e(m["N"]), e(pct), e(ci)])
            parts.append(
                _table(
                    ["Measure", "Population", "n", "N", "%", "95 % CI"],
                    rows,
                    table_id=f"endpoints-{_slug(c)}",
                    numeric=(2, 3, 4, 5),
                )
            )
            parts.append(
                f'<p class="note">Subjects scored: {e(block.get("subjects_scored"))}, not scored: '
                f"{e(block.get('subjects_not_scored', 0))}, in the analysis: {e(block.get('subjects_in_analysis'))} "
                f"(left out as ineligible: {e(block.get('excluded_ineligible', 0))}).</p>"
            )
        parts.append("</section>")
        return "".join(parts)

    def bor(self) -> str:
        parts = ['<section id="bor"><h2>Best overall response</h2>']
        for c in self.r.criteria:
            block = self.r.summary["criteria"][c]
            parts.append(f"<h3>{e(self.name(c))}</h3>")
            counts = block.get("bor_counts") or {}
            total = block.get("subjects_in_analysis") or 0
            rows = [[_resp(k), e(v), e(f"{100 * v / total:.1f} %" if total else "")] for k, v in counts.items()]
            parts.append(
                _table(["BOR", "Subjects", "% of analysis"], rows, table_id=f"bor-counts-{_slug(c)}", numeric=(1, 2))
            )
            rows = []
            for ent, row in self.r.subject_rows(c):
                if self.many and ent.subject_id not in self.shown:
                    continue
                rows.append([
                    self.link(ent.subject_id), e(ent.reader), _resp(row["bor"]), e(row["bor_confirmed"]),
                    e(row["best_pct_change"]), e(row["bor_date"]), e(row["first_response_date"]), e(row["pd_date"]),
                    e(row["pd_confirmed"]), e(row["duration_of_response_days"]), e(row["baseline_eligible"]),
                    e(row["measurable_disease"]), e(row["qc_flags"]),
                ])  # fmt: skip
            headers = [
                "Subject",
                "Reader",
                "BOR",
                "Confirmed",
                "Best change (%)",
                "BOR date",
                "First response",
                "PD date",
                "PD confirmed",
                "DoR (days)",
                "Eligible (6 cm)",
                "Measurable",
                "QC flags",
            ]
            num: tuple[int, ...]
            nw: tuple[int, ...]
            if not any(r[1] for r in rows):  # a single reader: no reader column
                headers, rows = headers[:1] + headers[2:], [r[:1] + r[2:] for r in rows]
                num, nw = (3, 8), (0, 4, 5, 6)
            else:
                num, nw = (4, 9), (0, 1, 5, 6, 7)
            if self.many:
                parts.append(
                    f'<p class="note" id="bor-subjects-limit-{e(_slug(c))}">Listed: the {len(rows):,} row(s) of '
                    f'the subjects that have a section under <a href="#subjects">Subjects</a>, those that most need '
                    f"a look (this run has {len(self.anchors):,} subjects, more than the report's limit of "
                    f"{self.limit:,}). The counts above cover every subject; all {len(self.r.subject_rows(c)):,} "
                    "rows are in <code>subjects.csv</code>.</p>"
                )
            parts.append(_table(headers, rows, table_id=f"bor-subjects-{_slug(c)}", numeric=num, nowrap=nw))
        parts.append("</section>")
        return "".join(parts)

    def plots(self) -> str:
        parts = [
            '<section id="plots"><h2>Plots</h2><p class="note">The same plots are in the run folder\'s '
            "<code>plots/</code> as PNG and SVG.</p>"
        ]
        folder = self.r.folder / "plots"
        for c in self.r.criteria:
            parts.append(f"<h3>{e(self.name(c))}</h3>")
            for kind in PLOT_KINDS:
                path = plot_path(folder, kind, c, "svg")
                caption = PLOT_CAPTIONS[kind].format(burden=BURDEN_NAMES.get(c, "burden"))
                if not path.is_file():
                    parts.append(f'<p class="note">{e(kind)} plot missing ({e(path.name)}).</p>')
                    continue
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                alt = f"{kind.capitalize()} plot, {self.name(c)}. {caption}"
                parts.append(
                    f'<figure id="plot-{e(kind)}-{e(_slug(c))}"><img src="data:image/svg+xml;base64,{data}" '
                    f'alt="{e(alt)}"><figcaption>{e(caption)}</figcaption></figure>'
                )
        parts.append("</section>")
        return "".join(parts)

    def eligibility(self) -> str:
        parts = ['<section id="eligibility"><h2>Eligibility at baseline (6 cm check)</h2>']
        for c in self.r.criteria:
            block = self.r.summary["criteria"][c]
            elig = block.get("eligibility") or {}
            limit = self.r.options(c).get("max_baseline_ld_mm", "")
            parts.append(f"<h3>{e(self.name(c))}</h3>")
            parts.append(
                f"<p>Limit: no baseline lesion over {e(limit)} mm. Eligible: {e(elig.get('eligible', 0))}, "
                f"ineligible: {e(elig.get('ineligible', 0))}, unknown: {e(elig.get('unknown', 0))}. "
                + (
                    "Ineligible subjects are left out of ORR."
                    if block.get("excluded_ineligible")
                    else "Ineligible subjects are scored and counted in ORR (see <code>--exclude-ineligible</code>)."
                )
                + "</p>"
            )
            bad = [r for _, r in self.r.subject_rows(c) if r["baseline_eligible"] != "true"]
            if len(bad):
                rows = [
                    [
                        self.link(r["subject_id"]),
                        e(r["reader"]),
                        e(r["baseline_eligible"] or "unknown"),
                        e(r["ineligible_lesions"].replace(";", ", ")),
                        e(r["baseline_mm"]),
                    ]
                    for r in (bad[: self.limit] if self.many else bad)
                ]
                if len(rows) < len(bad):
                    parts.append(
                        f'<p class="note" id="ineligible-limit-{e(_slug(c))}">Listed: the first {len(rows):,} of '
                        f"{len(bad):,}; the other {len(bad) - len(rows):,} are in <code>subjects.csv</code> "
                        "(columns <code>baseline_eligible</code> and <code>ineligible_lesions</code>).</p>"
                    )
                parts.append(
                    _table(
                        ["Subject", "Reader", "Eligible", "Lesions over the limit", "Baseline sum (mm)"],
                        rows,
                        table_id=f"ineligible-{_slug(c)}",
                        numeric=(4,),
                    )
                )
            else:
                parts.append("<p>Every subject is eligible.</p>")
        parts.append("</section>")
        return "".join(parts)

    def problems(self) -> str:
        err = self.r.errors
        parts = ['<section id="problems"><h2>Problems (errors.csv)</h2>']
        if not len(err):
            parts.append("<p>No error and no warning.</p>")
        else:
            rows = records(err)
            if len(rows) > PROBLEM_LIMIT:  # errors first, then warnings; listed in file order
                keep = sorted(range(len(rows)), key=lambda i: (rows[i]["level"] != "error", i))[:PROBLEM_LIMIT]
                shown = [rows[i] for i in sorted(keep)]
                n_err = sum(1 for r in rows if r["level"] == "error")
                parts.append(
                    f'<p class="note" id="problems-limit">Listed: {len(shown):,} of the {len(rows):,} rows '
                    f"({n_err:,} error(s)), errors before warnings; the other {len(rows) - len(shown):,} are in "
                    "<code>errors.csv</code>.</p>"
                )
                rows = shown
            parts.append(
                _table(
                    ["Level", "Source", "Subject", "Lesion", "Assessment", "Message"],
                    self._problem_rows(rows, link=True),
                    table_id="problems-table",
                )
            )
        parts.append("</section>")
        return "".join(parts)

    def _problem_rows(self, err: list[Row], *, link: bool) -> list[list[str]]:
        return [
            [f'<span class="level-{e(_slug(r["level"]))}">{e(r["level"])}</span>', e(r["source"]),
             self.link(r["subject_id"]) if link else e(r["subject_id"]), e(r["lesion_id"]), e(r["timepoint"]),
             e(r["message"])]
            for r in err
        ]  # fmt: skip

    def subjects(self) -> str:
        parts = [
            '<section id="subjects"><h2>Subjects</h2><p class="note">Every assessment with the reason for its '
            "call. Percentages are changes of the scored burden.</p>"
        ]
        if self.many:
            parts.append(self._limit_note())
        blocks: dict[str, list[tuple[str, Entity, Row]]] = {sid: [] for sid in self.shown}
        for c in self.r.criteria:
            for ent, row in self.r.subject_rows(c):
                if ent.subject_id in blocks:
                    blocks[ent.subject_id].append((c, ent, row))
        for sid, anchor in self.shown.items():
            parts.append(f'<section class="subject" id="{e(anchor)}"><h3>{e(sid)}</h3>')
            if self.many:
                parts.append(f'<p class="note look">Needs a look: {e("; ".join(self.why[sid]))}.</p>')
            for c, ent, row in blocks[sid]:
                parts.append(self._subject_block(c, ent, row))
            parts.append(self._key_images(blocks[sid]))
            err = self.r.errors_of(sid)
            if len(err):
                parts.append("<h4>Problems</h4>")
                parts.append(
                    _table(
                        ["Level", "Source", "Subject", "Lesion", "Assessment", "Message"],
                        self._problem_rows(err, link=False),
                    )
                )
            parts.append("</section>")
        parts.append("</section>")
        return "".join(parts)

    def _key_images(self, blocks: list[tuple[str, Entity, Row]]) -> str:
        """Key-image strips of a subject, one set per reader, assessments in the order of its timeline."""
        criterion_of: dict[Entity, str] = {}
        for c, ent, _row in blocks:
            criterion_of.setdefault(ent, c)
        parts = []
        for ent, c in criterion_of.items():
            lines, _bad = parse_lines(self.r.lines_of(ent))
            if not lines:
                continue
            timeline = [(t["timepoint"], t["date"]) for t in self.r.timeline_rows(c, ent, ["timepoint", "date"])]
            title = "Key images" + (f", reader {ent.reader}" if ent.reader else "")
            anchor = "keyimages-" + "-".join(_slug(p) for p in (ent.subject_id, ent.reader) if p)
            parts.append(self.key_images.strips(lines, timeline, anchor, title))
        return "".join(parts)

    def _limit_note(self) -> str:
        total, look, shown = len(self.anchors), len(self.why), len(self.shown)
        picked = (
            f"all {look:,} are shown"
            if shown == look
            else f"the {shown:,} most pressing are shown (in the order of the reasons above, then file order)"
        )
        return (
            f'<p class="note" id="subjects-limit">This run has {total:,} subjects, more than the report\'s limit of '
            f"{self.limit:,}, so only subjects that need a look have a section: "
            f"{e('; '.join(LOOK_REASONS))}. {look:,} subject(s) need a look and {picked}. "
            f"The timelines of the other {total - shown:,} subjects are in <code>timepoints.csv</code>.</p>"
        )

    def _subject_block(self, criterion: str, ent: Entity, row: Row) -> str:
        title = self.name(criterion) + (f", reader {ent.reader}" if ent.reader else "")
        facts = [
            ("Best overall response", _resp(row["bor"]) + (" confirmed" if row["bor_confirmed"] == "true" else "")),
            ("BOR date", e(row["bor_date"])),
            ("First response", e(row["first_response_date"]) or "none"),
            (
                "PD date",
                (e(row["pd_date"]) + (" (confirmed)" if row["pd_confirmed"] == "true" else ""))
                if row["pd_date"]
                else "none",
            ),
            ("Best change", e(row["best_pct_change"] + " %") if row["best_pct_change"] else "n/a"),
            ("Baseline sum", e(row["baseline_mm"] + " mm") if row["baseline_mm"] else "n/a"),
            (
                "Eligible (6 cm)",
                e(row["baseline_eligible"] or "unknown")
                + (
                    f" (over the limit: {e(row['ineligible_lesions'].replace(';', ', '))})"
                    if row["ineligible_lesions"]
                    else ""
                ),
            ),
            ("Measurable disease", e(row["measurable_disease"])),
        ]
        if row["duration_of_response_days"]:
            facts.append(("Duration of response", e(row["duration_of_response_days"] + " days")))
        if row["qc_flags"]:
            facts.append(("QC flags", e(row["qc_flags"])))
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        tl = self.r.timeline_rows(criterion, ent)
        present = self.r.timepoints.columns
        cols = [(k, h) for k, h in TIMELINE_COLUMNS if k in present and k != "reason" and any(t[k] for t in tl)]
        body = []
        for i, t in enumerate(tl):
            cells = []
            for k, _h in cols:
                v = str(t[k])
                if k in RESPONSE_COLUMNS:
                    cells.append(f"<td>{_resp(v)}</td>")
                elif k in ("timepoint", "date", "new_lesions", "pd_status"):
                    cells.append(f'<td class="nw">{e(v)}</td>')
                else:
                    cells.append(f'<td class="num">{e(v)}</td>')
            cls = "baseline" if i == 0 else "call"
            body.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
            reason = str(t["reason"]) if "reason" in present else ""
            body.append(
                f'<tr class="why {cls}"><td colspan="{len(cols)}" class="reason">'
                f'<span class="label">Reason:</span> {e(reason)}</td></tr>'
            )
        head = "".join(f"<th>{e(h)}</th>" for _, h in cols)
        tid = "timeline-" + "-".join(_slug(p) for p in (ent.subject_id, ent.reader, criterion) if p)
        return (
            f'<h4>{e(title)}</h4><dl class="facts">{dl}</dl>'
            f'<div class="scroll"><table id="{e(tid)}" class="timeline"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )

    def options(self) -> str:
        parts = ['<section id="options"><h2>Options used</h2>']
        for c in self.r.criteria:
            rows = [[e(k), e("" if v is None else v)] for k, v in self.r.options(c).items()]
            parts.append(
                f"<details><summary>{e(self.name(c))}: {len(rows)} options</summary>"
                + _table(["Option", "Value"], rows, table_id=f"options-{_slug(c)}")
                + "</details>"
            )
        parts.append("</section>")
        return "".join(parts)


def render(results: RunResults, *, subject_limit: int = SUBJECT_LIMIT) -> str:
    """The report page as one HTML string (plots are read from ``RUN/plots/*.svg``); runs of more than
    ``subject_limit`` subjects get sections only for the subjects that need a look (see ``SUBJECT_LIMIT``)."""
    page = _Page(results, subject_limit)
    body = "".join([page.header(), page.endpoints(), page.bor(), page.plots(), page.eligibility(),
                     page.problems(), page.subjects(), page.options()])  # fmt: skip
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>irrecist report: {e(results.folder.name)}</title><style>{_css()}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def write_report(folder: Path, *, subject_limit: int = SUBJECT_LIMIT) -> Path:
    """(Re)write ``plots/`` and ``report.html`` in a finished run's output folder; returns the report's path.

    Raises ``InputError`` when the folder lacks the run's tables.
    """
    results = load_run(folder)
    write_plots(results)
    text = render(results, subject_limit=subject_limit)
    path = folder / REPORT_NAME
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path
