"""report.html of the demo trial, parsed (no browser): endpoints equal summary.json, every subject has a
section with its timeline, every reason is shown, plots are embedded, nothing loads from the network, text
is escaped; the `report` command and `score --no-report`. A synthetic run above the report's subject limit:
only the subjects that need a look get a section, with a note saying where the others are."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import irrecist.report as report_module
from benchmarks.make_trial import make_table
from irrecist.plots import MAX_PLOT_SUBJECTS, PLOT_KINDS
from irrecist.report import LOOK_REASONS, REPORT_NAME, SUBJECT_LIMIT, render, write_report
from irrecist.results import load_run
from irrecist_cli.main import main
from tests.helpers import frame, series

DEMO = Path(__file__).resolve().parent.parent / "test_images"
EXPECTED: dict[str, Any] = json.loads((DEMO / "expected.json").read_text())["subjects"]
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None) -> list[Node]:
        found = [self] if tag in (None, self.tag) else []
        for c in self.children:
            if isinstance(c, Node):
                found += c.iter(tag)
        return found

    def by_id(self, ident: str) -> Node:
        hits = [n for n in self.iter() if n.attrs.get("id") == ident]
        assert len(hits) == 1, f"{len(hits)} element(s) with id {ident!r}"
        return hits[0]

    def rows(self) -> list[list[str]]:
        """Text of each body row's cells."""
        return [[td.text().strip() for td in tr.iter("td")] for tr in self.iter("tbody")[0].iter("tr")]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["score", str(DEMO), "--out", str(out), "--criterion", "all"]) == 0
    return out


@pytest.fixture(scope="module")
def page(demo: Path) -> Node:
    return parse((demo / REPORT_NAME).read_text(encoding="utf-8"))


def test_orr_with_ci_equals_summary(demo: Path, page: Node) -> None:
    summary = json.loads((demo / "summary.json").read_text())
    assert list(summary["criteria"]) == ["irrecist", "recist1.1"]
    for crit, block in summary["criteria"].items():
        rows = page.by_id(f"endpoints-{crit}").rows()
        for row, key in zip(rows, ("orr", "orr_all_subjects", "dcr"), strict=False):
            m = block[key]
            assert row[2:] == [
                str(m["n"]),
                str(m["N"]),
                f"{m['pct']} %",
                f"{m['ci95_low_pct']} to {m['ci95_high_pct']} %",
            ]
        card = page.by_id(f"orr-card-{crit}").text()
        assert f"{block['orr']['pct']} %" in card and f"{block['orr']['n']}/{block['orr']['N']}" in card
    # the demo's known answer (README, test_images/expected.json): irRECIST ORR 4/7 = 57.1 %
    assert page.by_id("endpoints-irrecist").rows()[0][2:] == ["4", "7", "57.1 %", "18.4 to 90.1 %"]


def test_bor_tables_match_subjects_and_expected(demo: Path, page: Node) -> None:
    subj = pd.read_csv(demo / "subjects.csv", dtype=str, keep_default_na=False)
    for crit in ("irrecist", "recist1.1"):
        rows = page.by_id(f"bor-subjects-{crit}").rows()
        got = {r[0]: r[1] for r in rows}
        want = dict(subj[subj.criterion == crit][["subject_id", "bor"]].itertuples(index=False, name=None))
        assert got == want
    irrecist = {r[0]: r[1] for r in page.by_id("bor-subjects-irrecist").rows()}
    assert irrecist == {sid: s["bor"] for sid, s in EXPECTED.items()}
    counts = {r[0]: int(r[1]) for r in page.by_id("bor-counts-irrecist").rows()}
    assert counts == json.loads((demo / "summary.json").read_text())["criteria"]["irrecist"]["bor_counts"]


def test_every_subject_has_a_section_with_its_timeline(demo: Path, page: Node) -> None:
    tp = pd.read_csv(demo / "timepoints.csv", dtype=str, keep_default_na=False)
    sections = {n.attrs["id"]: n for n in page.iter("section") if "subject" in n.attrs.get("class", "").split()}
    assert len(sections) == len(EXPECTED) == 8
    for sid in EXPECTED:
        sec = sections[f"subject-{sid}"]
        assert sec.iter("h3")[0].text() == sid
        for crit in ("irrecist", "recist1.1"):
            table = sec.by_id(f"timeline-{sid}-{crit}")
            want = tp[(tp.subject_id == sid) & (tp.criterion == crit)]
            header = [th.text() for th in table.iter("th")]
            calls = [tr for tr in table.iter("tbody")[0].iter("tr") if "why" not in tr.attrs.get("class", "")]
            for col, name in (("timepoint", "Assessment"), ("date", "Date"), ("response", "Response")):
                assert [tr.iter("td")[header.index(name)].text() for tr in calls] == list(want[col]), (sid, col)


def test_every_reason_appears_verbatim(demo: Path, page: Node) -> None:
    tp = pd.read_csv(demo / "timepoints.csv", dtype=str, keep_default_na=False)
    total = 0
    for (sid, crit), want in tp.groupby(["subject_id", "criterion"], sort=False):
        table = page.by_id(f"timeline-{sid}-{crit}")
        shown = [
            td.text().removeprefix("Reason:").strip()
            for td in table.iter("td")
            if "reason" in td.attrs.get("class", "")
        ]
        assert shown == list(want.reason), (sid, crit)
        total += len(shown)
    assert total == len(tp) == 64  # 32 assessments, two criteria
    assert any("pseudoprogression" in r for r in tp.reason)


def test_self_contained_no_network(demo: Path, page: Node) -> None:
    raw = (demo / REPORT_NAME).read_text(encoding="utf-8")
    assert "http://" not in raw and "https://" not in raw
    assert not page.iter("script") and not page.iter("link") and not page.iter("iframe")
    assert "@import" not in raw and "url(" not in raw
    for node in page.iter():
        for attr in ("src", "href", "srcset", "action"):
            if attr in node.attrs:
                value = node.attrs[attr]
                allowed = ("#", "data:image/svg+xml;base64,", "data:image/png;base64,")  # plots, key images
                assert value.startswith(allowed), (node.tag, attr, value[:60])
    csp = [m for m in page.iter("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]


def test_plots_embedded_as_valid_svg(demo: Path, page: Node) -> None:
    for crit in ("irrecist", "recist1.1"):
        for kind in PLOT_KINDS:
            img = page.by_id(f"plot-{kind}-{crit}").iter("img")[0]
            data = base64.b64decode(img.attrs["src"].split(",", 1)[1])
            assert data == (demo / "plots" / f"{kind}-{crit}.svg").read_bytes()
            assert ET.fromstring(data).tag.endswith("svg")
            assert kind in img.attrs["alt"].lower()


def test_eligibility_and_problems(demo: Path, page: Node) -> None:
    rows = page.by_id("ineligible-irrecist").rows()
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (sid, "false", ", ".join(s["ineligible_lesions"])) for sid, s in EXPECTED.items() if not s["baseline_eligible"]
    ]
    assert "60 mm" in page.by_id("eligibility").text()
    errors = pd.read_csv(demo / "errors.csv", dtype=str, keep_default_na=False)
    assert len(errors) > 0
    problems = page.by_id("problems-table").rows()
    assert [(r[0], r[5]) for r in problems] == list(errors[["level", "message"]].itertuples(index=False, name=None))


def test_no_patient_name(demo: Path) -> None:
    import pydicom

    names = set()
    for f in sorted(DEMO.rglob("*.dcm"))[:20]:
        ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["PatientName"])
        names.update(p for p in str(ds.get("PatientName", "")).split("^") if len(p) > 2)
    assert names
    raw = (demo / REPORT_NAME).read_text(encoding="utf-8")
    # embedded images are checked decoded: their base64 text spells any 4 letters by chance
    raw = re.sub(r"data:[\w/+.-]+;base64,([A-Za-z0-9+/=]+)", lambda m: base64.b64decode(m[1]).decode("latin-1"), raw)
    assert not [n for n in names if n in raw]


def test_text_is_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>&amp'
    table = tmp_path / "lesions.csv"
    frame(series({"T1": [40, 20, 18]}, subject=evil)).to_csv(table, index=False)
    out = tmp_path / "out"
    assert main(["score", str(table), "--out", str(out)]) == 0
    raw = (out / REPORT_NAME).read_text(encoding="utf-8")
    assert "<script>" not in raw
    tree = parse(raw)
    assert not tree.iter("script")
    assert evil in [h.text() for h in tree.iter("h3")]  # shown as text, exactly


def test_report_command_rewrites_identically(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (demo / REPORT_NAME).read_bytes()
    plots = {p.name: p.read_bytes() for p in (demo / "plots").iterdir()}
    (demo / REPORT_NAME).unlink()
    assert main(["report", str(demo)]) == 0
    assert str(demo / REPORT_NAME) in capsys.readouterr().out
    assert (demo / REPORT_NAME).read_bytes() == before
    assert {p.name: p.read_bytes() for p in (demo / "plots").iterdir()} == plots


@pytest.mark.parametrize("present", [[], ["timepoints.csv", "subjects.csv"]])
def test_report_command_without_run_files(
    tmp_path: Path, present: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for name in present:
        (tmp_path / name).write_text("subject_id\n")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "summary.json" in err and "not an irrecist output folder" in err
    assert not (tmp_path / REPORT_NAME).exists()


def test_score_no_report_and_empty_run(tmp_path: Path) -> None:
    table = tmp_path / "lesions.csv"
    frame(series({"T1": [40, -3]}, subject="bad")).to_csv(table, index=False)  # the only subject is unscorable
    out = tmp_path / "out"
    assert main(["score", str(table), "--out", str(out), "--no-report"]) == 1
    assert (out / "subjects.csv").exists() and not (out / REPORT_NAME).exists() and not (out / "plots").exists()
    assert main(["report", str(out)]) == 0
    page = parse((out / REPORT_NAME).read_text(encoding="utf-8"))
    assert "No subject scored" in page.by_id("endpoints").text()
    assert "long_axis_mm" in page.by_id("problems-table").text()
    assert len(list((out / "plots").glob("*.png"))) == 3


# ---------------------------------------------------------------------------------------- a run above the limit

MANY = SUBJECT_LIMIT + 100


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic trial of MANY subjects (benchmarks.make_trial), scored without report, then reported."""
    tmp = tmp_path_factory.mktemp("many")
    make_table(MANY).to_csv(tmp / "trial.csv", index=False)
    out = tmp / "out"
    assert main(["score", str(tmp / "trial.csv"), "--out", str(out), "--no-report"]) == 0
    assert not (out / REPORT_NAME).exists()
    write_report(out)
    return out


@pytest.fixture(scope="module")
def many_page(many: Path) -> Node:
    return parse((many / REPORT_NAME).read_text(encoding="utf-8"))


def need_a_look(folder: Path) -> list[str]:
    """Subjects that need a look, most pressing first (README: the reasons in order, then file order), worked
    out from the run's tables independently of the report code."""
    subj = pd.read_csv(folder / "subjects.csv", dtype=str, keep_default_na=False)
    tp = pd.read_csv(folder / "timepoints.csv", dtype=str, keep_default_na=False)
    err = pd.read_csv(folder / "errors.csv", dtype=str, keep_default_na=False)
    order = list(dict.fromkeys(subj.subject_id))
    bor = subj.bor.str.removeprefix("ir")
    flagged = [
        err[err.level == "error"].subject_id,
        subj[subj.baseline_eligible != "true"].subject_id,
        tp[tp.pd_status.isin(["unconfirmed", "pending"])].subject_id,
        err[err.level != "error"].subject_id,
        subj[subj.qc_flags != ""].subject_id,
        subj[bor.isin(["PD", "NE", "MISSING"]) | (subj.measurable_disease == "false")].subject_id,
    ]
    assert len(flagged) == len(LOOK_REASONS)
    rank: dict[str, int] = {}
    for r, ids in enumerate(flagged):
        for sid in ids:
            if sid in order:
                rank.setdefault(sid, r)
    return sorted(rank, key=lambda sid: (rank[sid], order.index(sid)))


def subject_sections(page: Node) -> list[str]:
    return [n.attrs["id"] for n in page.iter("section") if "subject" in n.attrs.get("class", "").split()]


def test_small_run_has_no_limit_note(page: Node) -> None:
    ids = {n.attrs.get("id") for n in page.iter()}
    assert not ids & {"subjects-limit", "problems-limit", "bor-subjects-limit-irrecist", "ineligible-limit-irrecist"}
    assert "Needs a look" not in page.by_id("subjects").text()


def test_large_run_shows_only_subjects_that_need_a_look(many: Path, many_page: Node) -> None:
    look = need_a_look(many)
    assert 0 < len(look) <= SUBJECT_LIMIT < MANY  # this trial: every subject that needs a look fits
    subj = pd.read_csv(many / "subjects.csv", dtype=str, keep_default_na=False)
    order = list(subj.subject_id)
    want = sorted(look, key=order.index)  # shown in file order
    assert subject_sections(many_page) == [f"subject-{sid}" for sid in want]
    note = many_page.by_id("subjects-limit").text()
    assert f"This run has {MANY} subjects, more than the report's limit of {SUBJECT_LIMIT}" in note
    assert f"{len(look)} subject(s) need a look and all {len(look)} are shown." in note
    assert f"The timelines of the other {MANY - len(look)} subjects are in timepoints.csv." in note
    tp = pd.read_csv(many / "timepoints.csv", dtype=str, keep_default_na=False)
    for sid in want[:5]:  # a shown subject's section is complete: every assessment and reason
        sec = many_page.by_id(f"subject-{sid}")
        assert sec.iter("p")[0].text().startswith("Needs a look: ")
        reasons = sec.iter("p")[0].text().removeprefix("Needs a look: ").rstrip(".").split("; ")
        assert reasons and set(reasons) <= set(LOOK_REASONS)
        shown = [
            td.text()
            for td in sec.by_id(f"timeline-{sid}-irrecist").iter("td")
            if "reason" in td.attrs.get("class", "")
        ]
        assert [r.removeprefix("Reason: ") for r in shown] == list(tp[tp.subject_id == sid].reason)
    # the BOR table lists the same subjects, and says where the others are
    assert [r[0] for r in many_page.by_id("bor-subjects-irrecist").rows()] == want
    assert "subjects.csv" in many_page.by_id("bor-subjects-limit-irrecist").text()
    counts = {r[0]: int(r[1]) for r in many_page.by_id("bor-counts-irrecist").rows()}
    assert sum(counts.values()) == MANY  # the counts still cover everyone
    # a subject without a section is named without a link
    links = {a.attrs["href"] for a in many_page.by_id("bor").iter("a")}
    assert links == {"#subjects"} | {f"#subject-{sid}" for sid in want}


def test_large_run_picks_the_most_pressing_subjects(many: Path) -> None:
    limit = 12
    page = parse(render(load_run(many), subject_limit=limit))
    look = need_a_look(many)
    assert len(look) > limit
    order = list(pd.read_csv(many / "subjects.csv", dtype=str, keep_default_na=False).subject_id)
    assert subject_sections(page) == [f"subject-{sid}" for sid in sorted(look[:limit], key=order.index)]
    note = page.by_id("subjects-limit").text()
    assert f"{len(look)} subject(s) need a look and the {limit} most pressing are shown" in note
    assert f"The timelines of the other {MANY - limit} subjects are in timepoints.csv." in note
    # the list of ineligible subjects is cut at the limit too
    subj = pd.read_csv(many / "subjects.csv", dtype=str, keep_default_na=False)
    bad = list(subj[subj.baseline_eligible != "true"].subject_id)
    assert len(bad) > 2
    page = parse(render(load_run(many), subject_limit=2))
    assert [r[0] for r in page.by_id("ineligible-irrecist").rows()] == bad[:2]
    note = page.by_id("ineligible-limit-irrecist").text()
    assert f"Listed: the first 2 of {len(bad)}; the other {len(bad) - 2} are in subjects.csv" in note


def test_large_run_plots_present(many: Path, many_page: Node) -> None:
    for kind in PLOT_KINDS:
        img = many_page.by_id(f"plot-{kind}-irrecist").iter("img")[0]
        data = base64.b64decode(img.attrs["src"].split(",", 1)[1])
        assert data == (many / "plots" / f"{kind}-irrecist.svg").read_bytes()
        assert ET.fromstring(data).tag.endswith("svg")
        assert (many / "plots" / f"{kind}-irrecist.png").stat().st_size > 0
    spider_svg = (many / "plots" / "spider-irrecist.svg").read_text(encoding="utf-8")
    assert f"(N = {MANY}, {MAX_PLOT_SUBJECTS} shown)" in spider_svg  # the title (SVG keeps text as a comment)


def test_problems_table_is_cut_with_a_note(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    err = pd.read_csv(many / "errors.csv", dtype=str, keep_default_na=False)
    limit = 5
    assert len(err) > limit
    monkeypatch.setattr(report_module, "PROBLEM_LIMIT", limit)
    page = parse(render(load_run(many)))
    rows = page.by_id("problems-table").rows()
    assert [r[5] for r in rows] == list(err.message[:limit])  # no error in this run: the first warnings
    note = page.by_id("problems-limit").text()
    assert (
        f"Listed: {limit} of the {len(err)} rows" in note and f"the other {len(err) - limit} are in errors.csv" in note
    )


def test_large_run_report_rewrites_identically(many: Path) -> None:
    def digests() -> dict[str, bytes]:
        files = [many / REPORT_NAME, *sorted((many / "plots").iterdir())]
        return {p.name: hashlib.sha256(p.read_bytes()).digest() for p in files}

    before = digests()
    assert len(before) == 1 + len(PLOT_KINDS) * 2
    (many / REPORT_NAME).unlink()
    assert main(["report", str(many)]) == 0
    assert digests() == before
