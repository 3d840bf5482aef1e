"""CDISC tables of a scoring run: SDTM TU, TR and RS (SDTMIG v3.4, Oncology domains) and ADaM ADRS.

- **TU** (tumor/lesion identification): one row per lesion and reader at its first appearance, TUTESTCD
  ``TUMIDENT``, TUORRES ``TARGET`` / ``NON-TARGET`` / ``NEW``, TULOC the organ as recorded.
- **TR** (tumor/lesion results): per lesion and assessment its measure, ``LDIAM`` (longest diameter) or for a
  lymph node ``LPERP`` (short axis), ``TUMSTATE`` (non-target and qualitative states), and per assessment
  ``SUMDIAM`` (sum of the baseline targets' measures, decisions.md 1 and 3).
- **RS** (disease response): per criterion and assessment ``TRGRESP``, ``NTRGRESP``, ``NEWLIND``,
  ``OVRLRESP``; RSCAT names the criterion, values are the criterion's own labels.
- **ADRS** (ADaM BDS, ADaM Oncology): ``OVR`` per assessment, ``BOR``, ``CBOR`` and ``RSP`` per subject.

TU and TR hold what was recorded and do not depend on the criterion; RS and ADRS hold one block per
criterion. Lengths are whole micrometres in the engine and are written as millimetres exactly.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import itertools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irrecist.endpoints import is_responder
from irrecist.errors import ConfigError
from irrecist.files import atomic_write, write_csv
from irrecist.model import Lesion, Observation, Role, Status, SubjectRecord
from irrecist.output import category_label, errors_frame, subjects_frame, timepoints_frame
from irrecist.rules.baseline import fmt_mm, lesion_measure_um
from irrecist.rules.config import CriterionConfig
from irrecist.rules.responses import Response, label
from irrecist.rules.subject import SubjectScore, score_subject
from irrecist.scoring import ScoreRun, paused_gc

CRITERION_NAMES = {"irrecist": "irRECIST", "recist1.1": "RECIST 1.1"}
"""RSCAT / PARCAT3 value of each criterion."""

AVAL_CODES: dict[Response, int] = {
    Response.CR: 1, Response.PR: 2, Response.SD: 3, Response.NN: 4, Response.PD: 5, Response.NE: 6,
    Response.MISSING: 7,
}  # fmt: skip
"""AVAL of a response parameter: admiralonco ``aval_resp()`` (CR 1 ... NE 6, MISSING 7; ND has none);
an irRECIST value takes the code of its RECIST counterpart (irPR 2)."""

XPT_MAX_CHAR = 200
"""SAS transport v5: a character variable holds at most 200 bytes (FDA Study Data Technical Conformance
Guide); longer text is cut in the ``.xpt`` copy only."""


@dataclass(frozen=True)
class Var:
    """One variable of a CDISC table: name (<= 8 characters), label (<= 40) and kind."""

    name: str
    label: str
    kind: str  # "char", "int" (whole number), "num" (decimal) or "date" (ADaM numeric date)


def _v(spec: str) -> tuple[Var, ...]:
    out = []
    for line in spec.strip().splitlines():
        name, kind, text = (p.strip() for p in line.split("|"))
        out.append(Var(name, text, kind))
    return tuple(out)


TU_VARS = _v("""
STUDYID|char|Study Identifier
DOMAIN|char|Domain Abbreviation
USUBJID|char|Unique Subject Identifier
TUSEQ|int|Sequence Number
TULNKID|char|Link ID
TUTESTCD|char|Tumor/Lesion ID Short Name
TUTEST|char|Tumor/Lesion ID Test Name
TUORRES|char|Tumor/Lesion ID Result
TUSTRESC|char|Tumor/Lesion ID Result Std. Format
TULOC|char|Location of the Tumor/Lesion
TUEVAL|char|Evaluator
VISIT|char|Visit Name
TUDTC|char|Date/Time of Tumor/Lesion Identification
TUDY|int|Study Day of Tumor/Lesion Identification
""")
TR_VARS = _v("""
STUDYID|char|Study Identifier
DOMAIN|char|Domain Abbreviation
USUBJID|char|Unique Subject Identifier
TRSEQ|int|Sequence Number
TRGRPID|char|Group ID
TRLNKID|char|Link ID
TRTESTCD|char|Tumor/Lesion Assessment Short Name
TRTEST|char|Tumor/Lesion Assessment Test Name
TRORRES|char|Result or Finding in Original Units
TRORRESU|char|Original Units
TRSTRESC|char|Character Result/Finding in Std Format
TRSTRESN|num|Numeric Result/Finding in Standard Units
TRSTRESU|char|Standard Units
TRSTAT|char|Completion Status
TRREASND|char|Reason Not Done
TREVAL|char|Evaluator
VISIT|char|Visit Name
TRDTC|char|Date/Time of Tumor/Lesion Measurement
TRDY|int|Study Day of Tumor/Lesion Measurement
""")
RS_VARS = _v("""
STUDYID|char|Study Identifier
DOMAIN|char|Domain Abbreviation
USUBJID|char|Unique Subject Identifier
RSSEQ|int|Sequence Number
RSTESTCD|char|Assessment Short Name
RSTEST|char|Assessment Name
RSCAT|char|Category for Assessment
RSORRES|char|Result or Finding in Original Units
RSSTRESC|char|Character Result/Finding in Std Format
RSEVAL|char|Evaluator
VISIT|char|Visit Name
RSDTC|char|Date/Time of Assessment
RSDY|int|Study Day of Assessment
""")
ADRS_VARS = _v("""
STUDYID|char|Study Identifier
USUBJID|char|Unique Subject Identifier
RSEVAL|char|Evaluator
ASEQ|int|Analysis Sequence Number
PARAMCD|char|Parameter Code
PARAM|char|Parameter
PARCAT1|char|Parameter Category 1
PARCAT3|char|Parameter Category 3
AVALC|char|Analysis Value (C)
AVAL|int|Analysis Value
ADT|date|Analysis Date
ADY|int|Analysis Relative Day
AVISIT|char|Analysis Visit
PDSTAT|char|irPD Confirmation Status
SRCDOM|char|Source Data
SRCSEQ|int|Source Sequence Number
""")
TABLES: dict[str, tuple[tuple[Var, ...], str]] = {
    "tu": (TU_VARS, "Tumor/Lesion Identification"),
    "tr": (TR_VARS, "Tumor/Lesion Results"),
    "rs": (RS_VARS, "Disease Response and Clin Classification"),
    "adrs": (ADRS_VARS, "Tumor Response Analysis Dataset"),
}
"""Each table's variables and its dataset label (SAS transport file label)."""

TR_TESTS = {"LDIAM": "Longest Diameter", "LPERP": "Longest Perpendicular", "SUMDIAM": "Sum of Diameter",
            "TUMSTATE": "Tumor State"}  # fmt: skip
RS_TESTS = {"TRGRESP": "Target Response", "NTRGRESP": "Non-target Response", "NEWLIND": "New Lesion Indicator",
            "OVRLRESP": "Overall Response"}  # fmt: skip
ADRS_PARAMS = {
    "OVR": "Overall Response",
    "BOR": "Best Overall Response",
    "CBOR": "Confirmed Best Overall Response",
    "RSP": "Responder (Best Overall Response CR/PR)",
}
_STATE = {
    Status.PRESENT: "PRESENT", Status.TOO_SMALL: "PRESENT", Status.ABSENT: "ABSENT",
    Status.UNEQUIVOCAL_PROGRESSION: "UNEQUIVOCAL PROGRESSION", Status.EQUIVOCAL: "EQUIVOCAL", Status.MERGED: "MERGED",
}  # fmt: skip
_NEWLIND = {"yes": "Y", "no": "N", "equivocal": "EQUIVOCAL"}
_ROLE_ORDER = {Role.TARGET: 0, Role.NONTARGET: 1, Role.NEW: 2}


_ROLE_UPPER = {r: r.value.upper() for r in Role}
_TR_RESULT = ("TRTESTCD", "TRTEST", "TRORRES", "TRORRESU", "TRSTRESC", "TRSTRESN", "TRSTRESU", "TRSTAT", "TRREASND")
"""The TR variables of one lesion result (``lesion_results``), in table order."""


# --- rows ------------------------------------------------------------------------------------------------
# A table is built as rows ``(first, seq, *rest)``: ``seq`` is the row's sequence number and the others are
# segments, the values of consecutive variables before and after it. Rows share segments (a subject's
# identifiers, an assessment's visit and dates, a lesion result that recurs), and each segment carries its
# CSV text, so a CSV line is a few joins however many variables the table has.


def _csv_slow(values: tuple[Any, ...]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([*values, ""])  # the empty sentinel: never a lone empty field
    return buf.getvalue()[:-2]  # without the sentinel's ",\n"


def _csv_text(values: tuple[Any, ...]) -> str:
    """``values`` as ``csv.writer`` (minimal quoting) writes them inside a row, without the line end: the
    shortcut handles text without ``,``, ``"``, CR or LF (never quoted), None (empty), int, float (``repr``,
    as ``csv`` writes it) and date (ISO 8601), and hands anything else to ``csv`` itself."""
    cells = []
    for x in values:
        kind = type(x)
        if kind is str:
            cells.append(x)
        elif x is None:
            cells.append("")
        elif kind is int or kind is float or kind is date:
            cells.append(str(x))
        else:
            return _csv_slow(values)
    text = ",".join(cells)
    if text.count(",") != len(values) - 1 or '"' in text or "\n" in text or "\r" in text:
        return _csv_slow(values)
    return text


class _Seg:
    """The values of consecutive variables of a row and their CSV text."""

    __slots__ = ("text", "values")

    def __init__(self, *values: Any) -> None:
        self.values = values
        self.text = _csv_text(values)


Row = tuple[Any, ...]
"""One table row ``(first, seq, *rest)``: ``seq`` an int, the others ``_Seg``."""


class _Segs(dict[tuple[Any, ...], _Seg]):
    """Segments by their values, each made once per run (values of one kind per position, so equal values
    never differ in their text)."""

    def __missing__(self, values: tuple[Any, ...]) -> _Seg:
        seg = self[values] = _Seg(*values)
        return seg


def _row_values(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [(*r[0].values, r[1], *(x for seg in r[2:] for x in seg.values)) for r in rows]


def _columns(rows: list[Row], n: int) -> list[Any]:
    """The ``n`` columns of ``rows``, each a sequence of values."""
    if not rows:
        return [[] for _ in range(n)]
    columns: list[Any] = []
    for p in range(len(rows[0])):
        if p == 1:
            columns.append([r[1] for r in rows])
        else:
            columns.extend(zip(*[r[p].values for r in rows], strict=True))
    assert len(columns) == n
    return columns


def _csv_lines(rows: list[Row]) -> Iterator[str]:
    """The CSV lines of ``rows`` (each ending with ``\\n``)."""
    width = len(rows[0]) if rows else 0
    if width == 4:
        yield from (f"{a.text},{q},{b.text},{c.text}\n" for a, q, b, c in rows)
    elif width == 5:
        yield from (f"{a.text},{q},{b.text},{c.text},{d.text}\n" for a, q, b, c, d in rows)
    else:
        yield from (",".join([r[0].text, str(r[1]), *(seg.text for seg in r[2:])]) + "\n" for r in rows)


def _dicts(rows: list[Row], variables: tuple[Var, ...], seq: str) -> list[dict[str, Any]]:
    names = [v.name for v in variables]
    return [{k: x for k, x in zip(names, r, strict=True) if k != seq} for r in _row_values(rows)]


@functools.lru_cache(maxsize=4096)
def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _subjects(run: ScoreRun) -> Iterator[tuple[SubjectScore, SubjectRecord]]:
    """Each scored (subject, reader) once, from the first criterion that scored it (TU/TR are criterion-free)."""
    seen: set[tuple[str, str]] = set()
    for crun in run.runs.values():
        for s, rec in zip(crun.scores, crun.records, strict=True):
            if (s.subject_id, s.reader) not in seen:
                seen.add((s.subject_id, s.reader))
                yield s, rec


class _Table:
    """A table's rows, added in blocks of one USUBJID; the sequence variable numbers rows 1.. within each
    USUBJID in a stable USUBJID order, so a block's numbers follow the rows of that USUBJID added before it."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, list[Row]]] = []
        self.count: dict[str, int] = {}

    def seq(self, usubjid: str) -> int:
        """Sequence number of the last row of ``usubjid`` so far (0: none)."""
        return self.count.get(usubjid, 0)

    def add(self, usubjid: str, rows: list[Row]) -> None:
        self.blocks.append((usubjid, rows))
        self.count[usubjid] = self.count.get(usubjid, 0) + len(rows)

    def rows(self) -> list[Row]:
        """All rows, sorted by USUBJID (stable: blocks of one USUBJID keep the order they were added in)."""
        return [r for _u, rows in sorted(self.blocks, key=itemgetter(0)) for r in rows]


def _frame(rows: list[Row], variables: tuple[Var, ...]) -> pd.DataFrame:
    """Rows to a typed frame: ``char`` as ``str``, ``int`` as ``Int64``, ``num`` as ``float64``, ``date`` as
    ``object`` (``datetime.date`` or None)."""
    data: dict[str, Any] = {}
    for v, col in zip(variables, _columns(rows, len(variables)), strict=True):
        if v.kind == "char":
            data[v.name] = pd.array(list(col), dtype="str")
        elif v.kind == "int":
            data[v.name] = pd.array(list(col), dtype="Int64")
        elif v.kind == "num":
            data[v.name] = np.array(col, dtype="float64")  # None: NaN
        else:
            data[v.name] = pd.Series(list(col), dtype=object)
    return pd.DataFrame(data, columns=[v.name for v in variables])


def _lesions(rec: SubjectRecord) -> list[tuple[Lesion, date, str]]:
    """Lesions with the date and visit of their first row, by first date, role, natural id."""
    first: dict[str, tuple[date, str]] = {}
    for a in rec.assessments:
        for lid in a.observations:
            first.setdefault(lid, (a.date, a.timepoint))
    out = [(rec.lesions[lid], d, tp) for lid, (d, tp) in first.items()]
    return sorted(out, key=lambda x: (x[1], _ROLE_ORDER[x[0].role], _natural(x[0].lesion_id)))


def _tu(s: SubjectScore, lesions: list[tuple[Lesion, date, str]], studyid: str, seq: int, segs: _Segs) -> list[Row]:
    head = segs[studyid, "TU", s.subject_id]
    rows: list[Row] = []
    for les, d, tp in lesions:
        seq += 1
        role = _ROLE_UPPER[les.role]
        lesion = _Seg(les.lesion_id, "TUMIDENT", "Tumor Identification", role, role, les.organ)
        rows.append((head, seq, lesion, segs[s.reader, tp, d.isoformat(), s.study_day(d)]))  # TUEVAL ... TUDY
    return rows


def tu_rows(s: SubjectScore, rec: SubjectRecord, studyid: str) -> list[dict[str, Any]]:
    """SDTMIG TU: one ``TUMIDENT`` row per lesion, at the assessment that first recorded it."""
    return _dicts(_tu(s, _lesions(rec), studyid, 0, _Segs()), TU_VARS, "TUSEQ")


def _result(testcd: str, orres: str, um: int | None = None, stat: str = "", reason: str = "") -> tuple[Any, ...]:
    """One TR result (the variables of ``_TR_RESULT``)."""
    measured = testcd != "TUMSTATE"
    return (
        testcd, TR_TESTS[testcd], orres, "mm" if measured and orres else "",
        (fmt_mm(um) if um is not None else orres) if not stat else "",
        None if um is None else um / 1000, "mm" if um is not None else "", stat, reason,
    )  # fmt: skip


def _lesion_results(les: Lesion, obs: Observation, too_small_um: int) -> list[tuple[Any, ...]]:
    measure = "LPERP" if les.nodal else "LDIAM"
    st = obs.status
    measured = les.role is not Role.NONTARGET
    if st is Status.NOT_EVALUATED:
        return [_result(measure if measured else "TUMSTATE", "", stat="NOT DONE", reason="NOT EVALUATED")]
    out = []
    if not measured or st in (Status.EQUIVOCAL, Status.MERGED):
        text = _STATE[st] + (f" INTO {obs.merged_into}" if st is Status.MERGED else "")
        out.append(("TUMSTATE", TR_TESTS["TUMSTATE"], text, "", _STATE[st], None, "", "", ""))
    um = obs.short_um if les.nodal else obs.long_um
    if st in (Status.ABSENT, Status.MERGED):
        return [*out, _result(measure, "0", 0)] if measured else out
    if st is Status.TOO_SMALL and um is None:
        return [*out, _result(measure, "TOO SMALL TO MEASURE", too_small_um)] if measured else out
    if um is not None:
        out.append(_result(measure, fmt_mm(um), um))
    return out


def lesion_results(les: Lesion, obs: Observation, too_small_um: int) -> list[dict[str, Any]]:
    """TR results of one lesion at one assessment (SDTMIG TR; values per RECIST 1.1 section 4.3.2).

    Each lesion has one measurement test, its measure (decisions.md 1): ``LDIAM`` (longest diameter) for a
    non-nodal lesion, ``LPERP`` (the short axis) for a lymph node, in mm; ``0`` when absent or merged away,
    ``TOO SMALL TO MEASURE`` with the default measure, ``NOT DONE`` when not evaluated. ``TUMSTATE`` holds
    the state of non-target lesions and the qualitative states (equivocal, merged) of the others."""
    return [dict(zip(_TR_RESULT, r, strict=True)) for r in _lesion_results(les, obs, too_small_um)]


class _Results:
    """TR result segments, each computed once per run: what ``_lesion_results`` gives depends only on the
    key below, and a trial repeats the same measures, states and sums many times."""

    def __init__(self) -> None:
        self.lesion: dict[tuple[Any, ...], list[_Seg]] = {}
        self.sums: dict[int, _Seg] = {}
        self.not_done: dict[str, _Seg] = {}
        self.target = _Seg("TARGET", "")  # TRGRPID, TRLNKID of SUMDIAM

    def of(self, les: Lesion, obs: Observation, too_small_um: int) -> list[_Seg]:
        nodal = les.nodal
        key = (nodal, les.role, obs.status, obs.short_um if nodal else obs.long_um, obs.merged_into, too_small_um)
        segs = self.lesion.get(key)
        if segs is None:
            segs = self.lesion[key] = [_Seg(*r) for r in _lesion_results(les, obs, too_small_um)]
        return segs

    def sumdiam(self, total: int) -> _Seg:
        seg = self.sums.get(total)
        if seg is None:
            seg = self.sums[total] = _Seg(*_result("SUMDIAM", fmt_mm(total), total))
        return seg

    def sumdiam_not_done(self, missing: list[str]) -> _Seg:
        reason = f"{', '.join(missing)} NOT EVALUATED"
        seg = self.not_done.get(reason)
        if seg is None:
            seg = self.not_done[reason] = _Seg(*_result("SUMDIAM", "", stat="NOT DONE", reason=reason))
        return seg


def _too_small_um(cfg: CriterionConfig) -> int:
    um = lesion_measure_um(Lesion("", Role.TARGET, "", "", False), Observation("", Status.TOO_SMALL), cfg)
    assert um is not None
    return um


def _tr(
    s: SubjectScore, rec: SubjectRecord, lesions: list[tuple[Lesion, date, str]], studyid: str, seq: int,
    too_small_um: int, results: _Results, segs: _Segs,
) -> list[Row]:  # fmt: skip
    cfg = s.config
    order = {les.lesion_id: i for i, (les, _d, _tp) in enumerate(lesions)}
    targets = s.baseline.targets
    head = segs[studyid, "TR", s.subject_id]
    rows: list[Row] = []
    for a in rec.assessments:
        where = segs[s.reader, a.timepoint, a.date.isoformat(), s.study_day(a.date)]  # TREVAL ... TRDY
        observations = a.observations
        for lid in sorted(observations, key=order.__getitem__):
            les = rec.lesions[lid]
            link = segs[_ROLE_UPPER[les.role], lid]  # TRGRPID, TRLNKID
            for res in results.of(les, observations[lid], too_small_um):
                seq += 1
                rows.append((head, seq, link, res, where))
        if targets:
            measures = {t.lesion_id: lesion_measure_um(t, observations.get(t.lesion_id), cfg) for t in targets}
            missing = [lid for lid, m in measures.items() if m is None]
            if missing:
                res = results.sumdiam_not_done(missing)
            else:
                res = results.sumdiam(sum(m for m in measures.values() if m is not None))
            seq += 1
            rows.append((head, seq, results.target, res, where))
    return rows


def tr_rows(s: SubjectScore, rec: SubjectRecord, studyid: str) -> list[dict[str, Any]]:
    """SDTMIG TR: every recorded lesion result, then ``SUMDIAM`` of the baseline targets per assessment
    (``NOT DONE`` when a target was not evaluated)."""
    rows = _tr(s, rec, _lesions(rec), studyid, 0, _too_small_um(s.config), _Results(), _Segs())
    return _dicts(rows, TR_VARS, "TRSEQ")


_RsKey = tuple[str, Any, Any, str, Response | None]


def _rs(
    s: SubjectScore, studyid: str, seq: int, ovr_seq: dict[tuple[str, str, str, str], int],
    tests: dict[_RsKey, list[tuple[str, _Seg]]], segs: _Segs,
) -> list[Row]:  # fmt: skip
    """RS rows of one subject; records the RSSEQ of each OVRLRESP row in ``ovr_seq`` (subject, reader,
    RSCAT, RSDTC). ``tests``: the tests that apply and their values, by criterion and calls."""
    cfg = s.config
    cat = CRITERION_NAMES.get(cfg.name, cfg.name)
    head = segs[studyid, "RS", s.subject_id]
    rows: list[Row] = []
    for t in s.timepoints:
        if t.is_baseline:
            continue
        key = (cfg.name, t.target, t.nontarget, t.new_lesions, t.response)
        applied = tests.get(key)
        if applied is None:
            ir = cfg.name == "irrecist"
            values = {
                "TRGRESP": category_label(t.target.value if t.target else None, ir),
                "NTRGRESP": category_label(t.nontarget.value if t.nontarget else None, ir),
                "NEWLIND": _NEWLIND.get(t.new_lesions, ""),
                "OVRLRESP": label(t.response, cfg),
            }
            # no target (or non-target) lesion at baseline: the test does not apply
            applied = tests[key] = [(k, _Seg(k, RS_TESTS[k], cat, v, v)) for k, v in values.items() if v]
        dtc = t.date.isoformat()
        where = segs[s.reader, t.timepoint, dtc, s.study_day(t.date)]  # RSEVAL ... RSDY
        for testcd, seg in applied:
            seq += 1
            rows.append((head, seq, seg, where))
            if testcd == "OVRLRESP":
                ovr_seq[(s.subject_id, s.reader, cat, dtc)] = seq
    return rows


def rs_rows(s: SubjectScore, studyid: str) -> list[dict[str, Any]]:
    """SDTMIG RS: target, non-target, new-lesion and overall response per post-baseline assessment, in the
    criterion's own terms (irRECIST terms are sponsor-defined: see the README)."""
    return _dicts(_rs(s, studyid, 0, {}, {}, _Segs()), RS_VARS, "RSSEQ")


def confirmed_score(s: SubjectScore, rec: SubjectRecord | Callable[[], SubjectRecord]) -> SubjectScore:
    """The subject scored with ``confirm_response=true`` (itself when the run already required it). ``rec``
    may be a function giving the record, called only when the subject has to be scored again."""
    if s.config.confirm_response:
        return s
    record = rec if isinstance(rec, SubjectRecord) else rec()
    return score_subject(record, dataclasses.replace(s.config, confirm_response=True))


def _adrs(
    s: SubjectScore,
    rec: SubjectRecord | Callable[[], SubjectRecord],
    studyid: str,
    seq: int,
    rs_seq: dict[date, int],
    segs: _Segs,
) -> list[Row]:
    cfg = s.config
    cat = CRITERION_NAMES.get(cfg.name, cfg.name)
    visits = {t.date: t.timepoint for t in s.timepoints}
    head = segs[studyid, s.subject_id, s.reader]
    rows: list[Row] = []

    def row(paramcd: str, avalc: str, aval: int | None, d: date | None, *extra: Any) -> None:
        nonlocal seq
        seq += 1
        param = segs[paramcd, ADRS_PARAMS[paramcd], "Tumor Response", cat, avalc, aval]  # PARAMCD ... AVAL
        when = segs[d, s.study_day(d) if d else None, visits.get(d, "") if d else ""]  # ADT, ADY, AVISIT
        rows.append((head, seq, param, when, segs[extra or ("", "", None)]))  # PDSTAT, SRCDOM, SRCSEQ

    for t in s.timepoints:
        if not t.is_baseline and t.response is not None:
            extra = (t.pd_status.upper(), "RS", rs_seq.get(t.date))  # PDSTAT, SRCDOM, SRCSEQ
            row("OVR", label(t.response, cfg), AVAL_CODES.get(t.response), t.date, *extra)
    row("BOR", label(s.bor.bor, cfg), AVAL_CODES.get(s.bor.bor), s.bor.date)
    c = confirmed_score(s, rec)
    row("CBOR", label(c.bor.bor, cfg), AVAL_CODES.get(c.bor.bor), c.bor.date)
    yes = is_responder(s)
    row("RSP", "Y" if yes else "N", int(yes), s.first_response_date if yes else None)
    return rows


def adrs_rows(s: SubjectScore, rec: SubjectRecord, studyid: str, rs_seq: dict[date, int]) -> list[dict[str, Any]]:
    """ADaM ADRS (ADaM Oncology, admiralonco conventions): ``OVR`` per assessment (linked to RS by
    SRCSEQ), ``BOR`` exactly as ``subjects.csv``, ``CBOR`` (confirmed BOR: CR/PR need confirmation,
    RECIST 1.1 section 4.6.1) and ``RSP`` (Y when BOR is CR/PR, the ORR numerator)."""
    return _dicts(_adrs(s, rec, studyid, 0, rs_seq, _Segs()), ADRS_VARS, "ASEQ")


def _cdisc_rows(run: ScoreRun, studyid: str) -> Iterator[tuple[str, list[Row]]]:
    """The rows of the run's CDISC tables ``tu``, ``tr``, ``rs`` and ``adrs``, sorted by USUBJID and
    numbered within it, each yielded as soon as it is complete (so a caller that writes and drops each table
    never holds all four). Build and use them with the garbage collector paused (``paused_gc``) and drop them
    before it resumes: they are hundreds of thousands of acyclic objects, which its passes would scan
    again and again (the whole run, too) while they are made."""
    tu, tr = _Table(), _Table()
    results = _Results()
    segs = _Segs()
    too_small: dict[int, int] = {}  # by id() of the configuration
    for s, rec in _subjects(run):
        sid = s.subject_id
        lesions = _lesions(rec)
        tu.add(sid, _tu(s, lesions, studyid, tu.seq(sid), segs))
        ts = too_small.get(id(s.config))
        if ts is None:
            ts = too_small[id(s.config)] = _too_small_um(s.config)
        tr.add(sid, _tr(s, rec, lesions, studyid, tr.seq(sid), ts, results, segs))
    yield "tu", tu.rows()
    del tu
    yield "tr", tr.rows()
    del tr
    rs = _Table()
    ovr_seq: dict[tuple[str, str, str, str], int] = {}
    tests: dict[_RsKey, list[tuple[str, _Seg]]] = {}
    for crun in run.runs.values():
        for s in crun.scores:
            rs.add(s.subject_id, _rs(s, studyid, rs.seq(s.subject_id), ovr_seq, tests, segs))
    yield "rs", rs.rows()
    del rs
    adrs = _Table()
    for crun in run.runs.values():
        for i, s in enumerate(crun.scores):
            cat = CRITERION_NAMES.get(s.config.name, s.config.name)
            where = {t.date: (s.subject_id, s.reader, cat, t.date.isoformat()) for t in s.timepoints}
            rs_seq = {d: ovr_seq[k] for d, k in where.items() if k in ovr_seq}
            record = functools.partial(crun.records.__getitem__, i)  # made only if CBOR needs a rescoring
            adrs.add(s.subject_id, _adrs(s, record, studyid, adrs.seq(s.subject_id), rs_seq, segs))
    yield "adrs", adrs.rows()


def cdisc_frames(run: ScoreRun, *, studyid: str = "") -> dict[str, pd.DataFrame]:
    """The run's CDISC tables: ``tu``, ``tr``, ``rs`` (SDTM) and ``adrs`` (ADaM), as typed DataFrames."""
    with paused_gc():
        return {name: _frame(rows, TABLES[name][0]) for name, rows in _cdisc_rows(run, studyid)}


# --- writing ---------------------------------------------------------------------------------------------

_XPT_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
_XPT_STAMP_AT = (144, 160, 464, 480)  # created / modified of the library header and of the member header


def _xpt_stamp() -> bytes:
    """Creation time written into the transport headers: ``SOURCE_DATE_EPOCH`` (reproducible-builds
    convention) when set, else the SAS date origin 01JAN60:00:00:00, so a run's files are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime(1960, 1, 1, tzinfo=UTC)
    return when.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")


def _fix_xpt_stamps(path: Path) -> None:
    data = bytearray(path.read_bytes())
    stamp = _xpt_stamp()
    for at in _XPT_STAMP_AT:
        if not _XPT_STAMP.fullmatch(bytes(data[at : at + 16])):
            raise RuntimeError(f"{path}: unexpected SAS transport header layout at byte {at}")
        data[at : at + 16] = stamp
    path.write_bytes(bytes(data))


def _cut(text: str) -> str:
    raw = text.encode("utf-8")
    return text if len(raw) <= XPT_MAX_CHAR else raw[:XPT_MAX_CHAR].decode("utf-8", errors="ignore")


def write_xpt(df: pd.DataFrame, name: str, path: Path) -> None:
    """SAS transport version 5 (``pyreadstat.write_xport``): dataset ``name`` upper-cased, labelled
    variables, character values cut to 200 bytes, ADaM dates as numeric ``DATE9.``."""
    try:
        import pyreadstat
    except ImportError:
        raise ConfigError("--xpt needs the pyreadstat package (pip install pyreadstat)") from None
    variables, file_label = TABLES[name]
    out = pd.DataFrame(index=df.index)
    for v in variables:
        col = df[v.name]
        if v.kind == "char":  # object columns: pyreadstat reads them row by row, far faster than Arrow strings
            texts = [t if len(t) <= XPT_MAX_CHAR // 4 else _cut(t) for t in col.astype(str).tolist()]
            out[v.name] = pd.Series(texts, index=df.index, dtype=object)  # <= 50 characters: <= 200 bytes
        elif v.kind in ("int", "num"):
            out[v.name] = col.astype("float64")
        else:
            out[v.name] = col
    formats = {v.name: "DATE9" for v in variables if v.kind == "date"}

    def write(p: Path) -> None:
        pyreadstat.write_xport(
            out, str(p), file_label=file_label, column_labels=[v.label for v in variables],
            table_name=name.upper(), file_format_version=5, variable_format=formats,
        )  # fmt: skip
        _fix_xpt_stamps(p)

    atomic_write(path, write)


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False, engine="pyarrow"))


def write_cdisc(frames: dict[str, pd.DataFrame], folder: Path, *, xpt: bool = False, parquet: bool = False) -> None:
    """``folder/<name>.csv`` for each CDISC table, plus ``.xpt`` and ``.parquet`` copies when asked."""
    for name, df in frames.items():
        write_csv(df, folder / f"{name}.csv")
        if xpt:
            write_xpt(df, name, folder / f"{name}.xpt")
        if parquet:
            write_parquet(df, folder / f"{name}.parquet")


def _write_rows_csv(rows: list[Row], variables: tuple[Var, ...], path: Path) -> None:
    """Rows as ``write_csv`` writes their frame (``_frame``), byte for byte, without building it: pandas
    writes through ``csv.writer`` (minimal quoting, LF line ends) an empty field for a missing value, a
    float as ``repr`` gives it (as numpy does for float64) and a date as ISO 8601, as ``_csv_text`` does."""

    def write(p: Path) -> None:
        lines = _csv_lines(rows)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(_csv_text(tuple(v.name for v in variables)) + "\n")
            while chunk := "".join(itertools.islice(lines, 8192)):
                f.write(chunk)

    atomic_write(path, write)


def write_extras(run: ScoreRun, out: Path, *, xpt: bool = False, parquet: bool = False, studyid: str = "") -> None:
    """What ``write_run`` adds to the core tables: ``out/cdisc/`` (TU, TR, RS, ADRS as CSV, with
    ``--xpt`` SAS transport v5 and with ``--parquet`` Parquet) and Parquet copies of timepoints, subjects,
    errors and (inputs read from DICOM) lines next to their CSVs."""
    folder = out / "cdisc"
    with paused_gc():
        for name, rows in _cdisc_rows(run, studyid):
            variables = TABLES[name][0]
            _write_rows_csv(rows, variables, folder / f"{name}.csv")
            if xpt or parquet:
                df = _frame(rows, variables)
                if xpt:
                    write_xpt(df, name, folder / f"{name}.xpt")
                if parquet:
                    write_parquet(df, folder / f"{name}.parquet")
            del rows  # freed before the collector resumes
    if parquet:
        for name, frame in (("timepoints", timepoints_frame), ("subjects", subjects_frame), ("errors", errors_frame)):
            write_parquet(frame(run), out / f"{name}.parquet")
        if run.lines is not None:
            write_parquet(run.lines, out / "lines.parquet")
