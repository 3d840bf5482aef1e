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

The tables are built column-wise from the engine's arrays (``irrecist.cohort.Cohort``,
``irrecist.rules.timepoint.Timepoints``, ``irrecist.rules.subject.SubjectArrays``): each criterion's scores
give their rows as index arrays into small tables of texts, the rows are put in USUBJID order, and each text
column is taken once. ``tu_rows``, ``tr_rows``, ``rs_rows`` and ``adrs_rows`` build the same rows one subject
at a time from the ``SubjectRecord`` and ``SubjectScore`` objects: the reference the tables are tested against.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from irrecist.cohort import (
    EPOCH,
    NONTARGET,
    ROLES,
    S_ABSENT,
    S_EQUIVOCAL,
    S_MERGED,
    S_NOT_EVALUATED,
    STATUSES,
    TARGET,
    BoolArray,
    Cohort,
    IntArray,
    iso_dates,
    offsets,
    ranges,
)
from irrecist.endpoints import RESPONDER_CODES, is_responder
from irrecist.errors import ConfigError
from irrecist.files import atomic_write, write_csv
from irrecist.model import Lesion, Observation, Role, Status, SubjectRecord
from irrecist.output import TEXT, category_label, code_words, errors_frame, subjects_frame, timepoints_frame
from irrecist.rules.baseline import fmt_mm, lesion_measure_um
from irrecist.rules.config import CriterionConfig
from irrecist.rules.confirmation import STATUSES as PD_STATUSES
from irrecist.rules.reasons import mm_text
from irrecist.rules.responses import RESPONSES, Response, label, response_words
from irrecist.rules.subject import (
    ScoredCohort,
    SubjectArrays,
    SubjectScore,
    score_cohort,
    score_subject,
    study_days,
)
from irrecist.rules.timepoint import Timepoints, measures
from irrecist.scoring import ScoreRun, paused_gc
from irrecist.threads import column_map

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


def _criterion_name(cfg: CriterionConfig) -> str:
    """RSCAT / PARCAT3 of a criterion."""
    return CRITERION_NAMES.get(cfg.name, cfg.name)


# --- one subject at a time: the reference ------------------------------------------------------------------
# Each table's rows of one subject from its ``SubjectRecord`` and ``SubjectScore``, as dicts without the
# sequence variable (numbered over the whole table). The run's tables are built from arrays below and tested
# equal to these.


def _named(variables: tuple[Var, ...], seq: str, values: tuple[Any, ...]) -> dict[str, Any]:
    """A row's values by variable name, the sequence variable ``seq`` left out."""
    return dict(zip([v.name for v in variables if v.name != seq], values, strict=True))


@functools.lru_cache(maxsize=4096)
def _natural(text: str) -> tuple[Any, ...]:
    """Natural order of lesion ids: digit runs compare as numbers (T2 before T10)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _lesions(rec: SubjectRecord) -> list[tuple[Lesion, date, str]]:
    """Lesions with the date and visit of their first row, by first date, role, natural id."""
    first: dict[str, tuple[date, str]] = {}
    for a in rec.assessments:
        for lid in a.observations:
            first.setdefault(lid, (a.date, a.timepoint))
    out = [(rec.lesions[lid], d, tp) for lid, (d, tp) in first.items()]
    return sorted(out, key=lambda x: (x[1], _ROLE_ORDER[x[0].role], _natural(x[0].lesion_id)))


def tu_rows(s: SubjectScore, rec: SubjectRecord, studyid: str) -> list[dict[str, Any]]:
    """SDTMIG TU: one ``TUMIDENT`` row per lesion, at the assessment that first recorded it."""
    rows = []
    for les, d, tp in _lesions(rec):
        role = _ROLE_UPPER[les.role]
        values = (studyid, "TU", s.subject_id, les.lesion_id, "TUMIDENT", "Tumor Identification", role, role,
                  les.organ, s.reader, tp, d.isoformat(), s.study_day(d))  # fmt: skip
        rows.append(_named(TU_VARS, "TUSEQ", values))
    return rows


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


def _too_small_um(cfg: CriterionConfig) -> int:
    """The measure of a lesion too small to measure and not measured (decisions.md 1: ``too_small_mm``)."""
    um = lesion_measure_um(Lesion("", Role.TARGET, "", "", False), Observation("", Status.TOO_SMALL), cfg)
    assert um is not None
    return um


def tr_rows(s: SubjectScore, rec: SubjectRecord, studyid: str) -> list[dict[str, Any]]:
    """SDTMIG TR: every recorded lesion result, then ``SUMDIAM`` of the baseline targets per assessment
    (``NOT DONE`` when a target was not evaluated)."""
    cfg = s.config
    too_small_um = _too_small_um(cfg)
    order = {les.lesion_id: i for i, (les, _d, _tp) in enumerate(_lesions(rec))}
    targets = s.baseline.targets
    rows: list[dict[str, Any]] = []
    for a in rec.assessments:
        where = (s.reader, a.timepoint, a.date.isoformat(), s.study_day(a.date))  # TREVAL ... TRDY
        observations = a.observations
        results: list[tuple[Any, ...]] = []
        for lid in sorted(observations, key=order.__getitem__):
            les = rec.lesions[lid]
            link = (_ROLE_UPPER[les.role], lid)  # TRGRPID, TRLNKID
            results.extend((*link, *res) for res in _lesion_results(les, observations[lid], too_small_um))
        if targets:
            sizes = {t.lesion_id: lesion_measure_um(t, observations.get(t.lesion_id), cfg) for t in targets}
            missing = [lid for lid, m in sizes.items() if m is None]
            if missing:
                res = _result("SUMDIAM", "", stat="NOT DONE", reason=f"{', '.join(missing)} NOT EVALUATED")
            else:
                total = sum(m for m in sizes.values() if m is not None)
                res = _result("SUMDIAM", fmt_mm(total), total)
            results.append(("TARGET", "", *res))
        rows.extend(_named(TR_VARS, "TRSEQ", (studyid, "TR", s.subject_id, *r, *where)) for r in results)
    return rows


def _rs_values(target: Any, nontarget: Any, new_lesions: str, response: Response | None, cfg: CriterionConfig
               ) -> dict[str, str]:  # fmt: skip
    """The RS tests of one assessment and their values, in the criterion's terms (empty: does not apply)."""
    ir = cfg.name == "irrecist"
    return {
        "TRGRESP": category_label(target.value if target else None, ir),
        "NTRGRESP": category_label(nontarget.value if nontarget else None, ir),
        "NEWLIND": _NEWLIND.get(new_lesions, ""),
        "OVRLRESP": label(response, cfg),
    }


def rs_rows(s: SubjectScore, studyid: str) -> list[dict[str, Any]]:
    """SDTMIG RS: target, non-target, new-lesion and overall response per post-baseline assessment, in the
    criterion's own terms (irRECIST terms are sponsor-defined: see the README)."""
    cfg = s.config
    cat = _criterion_name(cfg)
    rows = []
    for t in s.timepoints:
        if t.is_baseline:
            continue
        where = (s.reader, t.timepoint, t.date.isoformat(), s.study_day(t.date))  # RSEVAL ... RSDY
        for testcd, v in _rs_values(t.target, t.nontarget, t.new_lesions, t.response, cfg).items():
            if v:  # no target (or non-target) lesion at baseline: the test does not apply
                values = (studyid, "RS", s.subject_id, testcd, RS_TESTS[testcd], cat, v, v, *where)
                rows.append(_named(RS_VARS, "RSSEQ", values))
    return rows


def confirmed_score(s: SubjectScore, rec: SubjectRecord | Callable[[], SubjectRecord]) -> SubjectScore:
    """The subject scored with ``confirm_response=true`` (itself when the run already required it). ``rec``
    may be a function giving the record, called only when the subject has to be scored again."""
    if s.config.confirm_response:
        return s
    record = rec if isinstance(rec, SubjectRecord) else rec()
    return score_subject(record, dataclasses.replace(s.config, confirm_response=True))


def adrs_rows(s: SubjectScore, rec: SubjectRecord, studyid: str, rs_seq: dict[date, int]) -> list[dict[str, Any]]:
    """ADaM ADRS (ADaM Oncology, admiralonco conventions): ``OVR`` per assessment (linked to RS by
    SRCSEQ: ``rs_seq`` gives the RSSEQ of the OVRLRESP row at each date), ``BOR`` exactly as ``subjects.csv``,
    ``CBOR`` (confirmed BOR: CR/PR need confirmation, RECIST 1.1 section 4.6.1) and ``RSP`` (Y when BOR is
    CR/PR, the ORR numerator)."""
    cfg = s.config
    cat = _criterion_name(cfg)
    visits = {t.date: t.timepoint for t in s.timepoints}
    rows = []

    def row(paramcd: str, avalc: str, aval: int | None, d: date | None, *extra: Any) -> None:
        when = (d, s.study_day(d) if d else None, visits.get(d, "") if d else "")  # ADT, ADY, AVISIT
        values = (studyid, s.subject_id, s.reader, paramcd, ADRS_PARAMS[paramcd], "Tumor Response", cat, avalc,
                  aval, *when, *(extra or ("", "", None)))  # fmt: skip
        rows.append(_named(ADRS_VARS, "ASEQ", values))

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


# --- the run's tables, from arrays ---------------------------------------------------------------------------
# A block of scores gives a table's rows as index arrays into small tables of texts (``_Take``: the rows'
# subjects, assessments, lesions, kinds); ``_frame`` puts the rows of all blocks in USUBJID order, numbers
# them, and takes each text column once.

_TEXT = pa.large_string()
"""Arrow type of the text columns (what pandas' Arrow-backed ``str`` holds)."""

FloatArray = NDArray[np.float64]


def _words(values: Iterable[str]) -> pa.Array:
    return pa.array(list(values), _TEXT)


@functools.lru_cache(maxsize=64)
def _word(text: str) -> pa.Array:
    """One text as an array (the same object for the same text: ``_column`` repeats it without a take)."""
    return _words([text])


def _repeated(text: str, n: int) -> pa.Array:
    """``text`` ``n`` times, built from its buffers."""
    data = text.encode("utf-8")
    ends = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.Array.from_buffers(_TEXT, n, [None, pa.py_buffer(ends), pa.py_buffer(data * n)])


@dataclass(frozen=True)
class _Take:
    """A text column: ``values[index]``."""

    values: pa.Array
    index: IntArray


@dataclass(frozen=True)
class _Ints:
    """A whole-number column; ``missing`` marks empty cells (None: none is)."""

    values: IntArray
    missing: BoolArray | None = None


@dataclass(frozen=True)
class _Days:
    """An ADaM date column: days since ``EPOCH``; ``missing`` marks empty cells."""

    days: IntArray
    missing: BoolArray


_Column = _Take | _Ints | _Days | FloatArray


def _const(text: str, n: int) -> _Take:
    return _Take(_word(text), np.zeros(n, dtype=np.int64))


@dataclass
class _Part:
    """The rows of one table from one block, in the order they are added: each row's subject (a position in
    the block) and the columns (``char``: ``_Take``, ``int``: ``_Ints``, ``num``: float64, ``date``: ``_Days``)."""

    subject_rank: IntArray  # per subject of the block: its USUBJID's rank in the run
    row_subject: IntArray
    columns: dict[str, _Column]


def _frame(parts: list[_Part], variables: tuple[Var, ...], seq: str) -> tuple[pd.DataFrame, IntArray]:
    """A table from its parts, typed: ``char`` as ``str`` (Arrow-backed), ``int`` as ``Int64``, ``num`` as
    ``float64``, ``date`` as ``object`` (``datetime.date`` or None). Rows are sorted by USUBJID (stable: the rows
    of one USUBJID keep the order they were added in) and the sequence variable ``seq`` numbers them 1.. within
    each USUBJID (SDTMIG --SEQ, ADaM ASEQ). Also gives each row's number in the order the parts added them."""
    key = _joined([p.subject_rank[p.row_subject] for p in parts], np.int64, None)
    n = len(key)
    perm = None if n < 2 or bool(np.all(key[1:] >= key[:-1])) else np.argsort(key, kind="stable")
    ordered = key if perm is None else key[perm]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if n else np.zeros(0, dtype=np.int64)
    numbers = np.arange(1, n + 1, dtype=np.int64) - np.repeat(starts, np.diff(np.r_[starts, n]))
    added = numbers
    if perm is not None:
        added = np.empty(n, dtype=np.int64)
        added[perm] = numbers

    # the columns side by side (Arrow takes them without the GIL); one that two variables share, once
    pieces = {v.name: [p.columns[v.name] for p in parts] for v in variables if v.name != seq}

    def same(v: Var) -> Any:
        return tuple(map(id, pieces[v.name])) or v.name

    unique = {same(v): v for v in reversed(variables) if v.name != seq}
    made = dict(zip(unique, column_map(lambda v: _column(v.kind, pieces[v.name], perm), unique.values()),
                    strict=True))  # fmt: skip
    data = {v.name: pd.array(numbers, dtype="Int64") if v.name == seq else made[same(v)] for v in variables}
    return pd.DataFrame(data, columns=[v.name for v in variables]), added


def _joined(arrays: list[np.ndarray], dtype: Any, perm: IntArray | None) -> np.ndarray:
    """The arrays one after the other, in the order ``perm`` (None: as they are)."""
    out = arrays[0] if len(arrays) == 1 else np.concatenate([np.zeros(0, dtype=dtype), *arrays])
    return out if perm is None else out[perm]


def _column(kind: str, parts: list[Any], perm: IntArray | None) -> Any:
    """One column of ``_frame`` from the parts' pieces, rows in the order ``perm`` (None: as added)."""
    if kind == "char":
        values = parts[0].values if parts else _words([])
        if any(p.values is not values for p in parts):  # different tables of texts: one after the other
            sizes = np.cumsum([0] + [len(p.values) for p in parts[:-1]])
            values = pa.concat_arrays([p.values for p in parts])
            index = _joined([p.index + size for p, size in zip(parts, sizes, strict=True)], np.int64, perm)
        elif len(values) == 1:  # one text for every row
            return pd.array(_repeated(values[0].as_py(), sum(len(p.index) for p in parts)), dtype=TEXT)
        else:
            index = _joined([p.index for p in parts], np.int64, perm)
        return pd.array(values.take(pa.array(index)), dtype=TEXT)
    if kind == "num":
        return _joined(parts, np.float64, perm)
    if kind == "int":
        empty = [np.zeros(len(p.values), dtype=bool) if p.missing is None else p.missing for p in parts]
        return pd.arrays.IntegerArray(_joined([p.values for p in parts], np.int64, perm), _joined(empty, bool, perm))
    days, undated = _joined([p.days for p in parts], np.int64, perm), _joined([p.missing for p in parts], bool, perm)
    codes, distinct = pd.factorize(days[~undated])  # each date made once
    out = np.full(len(days), None, dtype=object)
    out[~undated] = np.array([EPOCH + timedelta(days=int(d)) for d in distinct], dtype=object)[codes]
    return pd.Series(out, dtype=object)


@dataclass
class _Block:
    """The scores of one criterion (``Scores``): its engine pass (``ScoredCohort``: configuration, cohort,
    ``Timepoints``, per-entity arrays) and the entities scored, in the order of the scores."""

    scored: ScoredCohort
    entity: IntArray
    subject_rank: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Each subject id's rank among the run's (``_rank``)."""

    @property
    def config(self) -> CriterionConfig:
        return self.scored.config

    @property
    def cohort(self) -> Cohort:
        return self.scored.cohort

    @property
    def tps(self) -> Timepoints:
        return self.scored.timepoints

    @cached_property
    def subject_ids(self) -> list[str]:
        ids = self.cohort.subject_id
        return [ids[e] for e in self.entity.tolist()]

    @cached_property
    def readers(self) -> list[str]:
        readers = self.cohort.reader
        return [readers[e] for e in self.entity.tolist()]

    @cached_property
    def subject_text(self) -> pa.Array:
        return _words(self.subject_ids)

    @cached_property
    def reader_text(self) -> pa.Array:
        return _words(self.readers)

    @cached_property
    def reference_day(self) -> IntArray:
        """Each subject's reference date (decisions.md 3), days since ``EPOCH``: the study days count from it."""
        return self.scored.subjects.reference_day[self.entity]

    def subset(self, keep: list[int]) -> _Block:
        """The block's scores at positions ``keep``."""
        at = np.asarray(keep, dtype=np.int64)
        return _Block(self.scored, self.entity[at], self.subject_rank[at])


def _blocks(run: ScoreRun) -> list[_Block]:
    """Each criterion's scores, as a block."""
    return [_Block(crun.scores.scored, crun.scores.kept) for crun in run.runs.values() if len(crun.scores)]


def _rank(blocks: list[_Block]) -> None:
    """Set each block's ``subject_rank``: the tables are sorted by USUBJID (Python's string order)."""
    ids = sorted({x for b in blocks for x in b.subject_ids})
    rank = {x: i for i, x in enumerate(ids)}
    for b in blocks:
        b.subject_rank = np.asarray([rank[x] for x in b.subject_ids], dtype=np.int64)


def _first_blocks(blocks: list[_Block]) -> list[_Block]:
    """Each (subject, reader) once, from the first block that scored it: TU and TR hold what was recorded, the
    same under every criterion."""
    seen: set[tuple[str, str]] = set()
    out = []
    for b in blocks:
        keys = list(zip(b.subject_ids, b.readers, strict=True))
        keep = [i for i, key in enumerate(keys) if key not in seen] if seen else list(range(len(keys)))
        seen.update(keys)
        if len(keep) == len(keys):
            out.append(b)
        elif keep:
            out.append(b.subset(keep))
    return out


class _CohortArrays:
    """What the tables read of one cohort, derived once: its texts as Arrow arrays, the lesions in TU order,
    the observations in TR order, the baseline targets."""

    def __init__(self, c: Cohort) -> None:
        self.c = c

    @cached_property
    def l_id(self) -> pa.Array:
        """Each lesion's id, then an empty text (the TRLNKID of SUMDIAM)."""
        return _words([*self.c.l_id, ""])

    @cached_property
    def l_organ(self) -> pa.Array:
        return _words(self.c.l_organ)

    @cached_property
    def a_label(self) -> pa.Array:
        """Each assessment's visit label, then an empty text (no visit)."""
        return pa.concat_arrays([self.c.a_label_text.cast(_TEXT), _words([""])])

    @cached_property
    def a_dtc(self) -> pa.Array:
        """Each assessment's date, ISO 8601."""
        return iso_dates(self.c.a_day).cast(_TEXT)

    @cached_property
    def first_o(self) -> IntArray:
        """Each lesion's first observation (-1: none)."""
        c = self.c
        n_o = len(c.o_lesion)
        first = np.full(len(c.l_id), n_o, dtype=np.int64)
        np.minimum.at(first, c.o_lesion, np.arange(n_o, dtype=np.int64))
        return np.where(first == n_o, -1, first)

    def _natural_rank(self, lesions: IntArray) -> IntArray:
        """The ids of ``lesions`` ranked in ``_natural`` order (equal keys, equal ranks)."""
        ids = self.l_id.take(pa.array(lesions)).dictionary_encode()
        keys = [_natural(x) for x in ids.dictionary.to_pylist()]
        rank = np.zeros(len(keys), dtype=np.int64)
        previous: tuple[Any, ...] | None = None
        r = -1
        for i in sorted(range(len(keys)), key=keys.__getitem__):
            if keys[i] != previous:
                r, previous = r + 1, keys[i]
            rank[i] = r
        return rank[ids.indices.to_numpy(zero_copy_only=False)]

    @cached_property
    def tu_order(self) -> IntArray:
        """The observed lesions in TU order (``_lesions``): by entity, then the date of their first observation,
        role (target, non-target, new), natural id and first appearance."""
        c = self.c
        seen = np.flatnonzero(self.first_o >= 0)
        first = self.first_o[seen]
        role = np.asarray([_ROLE_ORDER[r] for r in ROLES], dtype=np.int64)[c.l_role[seen]]
        day = c.a_day[c.o_assessment[first]]
        return seen[np.lexsort((first, self._natural_rank(seen), role, day, c.l_entity[seen]))]

    @cached_property
    def tu_start(self) -> IntArray:
        """Offsets of each entity's lesions in ``tu_order``."""
        return offsets(self.c.l_entity[self.tu_order], self.c.n_entities)

    @cached_property
    def tr_order(self) -> IntArray:
        """The observations in TR order: by assessment, then their lesion's place in ``tu_order``."""
        c = self.c
        rank = np.zeros(len(c.l_id), dtype=np.int64)
        rank[self.tu_order] = np.arange(len(self.tu_order), dtype=np.int64)
        key = c.o_assessment * (len(c.l_id) + 1) + rank[c.o_lesion]
        if len(key) < 2 or bool(np.all(key[1:] > key[:-1])):
            return np.arange(len(key), dtype=np.int64)
        return np.argsort(key, kind="stable")

    @cached_property
    def targets(self) -> IntArray:
        """The baseline targets (target lesions observed at their entity's first assessment) in baseline order,
        entity after entity: every entity's ``Baseline.targets``."""
        c = self.c
        return c.o_lesion[c.o_at_baseline & (c.l_role[c.o_lesion] == TARGET)]

    @cached_property
    def target_start(self) -> IntArray:
        """Offsets of each entity's baseline targets in ``targets``."""
        return offsets(self.c.l_entity[self.targets], self.c.n_entities)

    @cached_property
    def is_target(self) -> BoolArray:
        """Per lesion: a baseline target."""
        out = np.zeros(len(self.c.l_id), dtype=bool)
        out[self.targets] = True
        return out


# --- TR: the rows of each observation and assessment ---------------------------------------------------------


@dataclass(frozen=True)
class _TrKind:
    """A kind of TR row (``_result``): its test and, per result variable, a fixed text or None for the row's
    own text (``_OwnTexts``: its measure in mm, its ``MERGED INTO`` text, the targets its SUMDIAM misses)."""

    test: str
    orres: str | None
    unit: str  # TRORRESU and TRSTRESU
    stresc: str | None
    stat: str
    reason: str | None
    measured: bool  # TRSTRESN is the row's measure in mm

    @property
    def test_name(self) -> str:
        return TR_TESTS[self.test]


_MEASURES = ("LDIAM", "LPERP")
"""The measure test of a lesion, by ``l_nodal``: LD, or SA for a node (decisions.md 1)."""
_TR_KINDS: tuple[_TrKind, ...] = (
    # TUMSTATE of non-targets and of equivocal or merged lesions, by status code
    *(_TrKind("TUMSTATE", None if s is Status.MERGED else _STATE.get(s, ""), "", _STATE.get(s, ""), "", "", False)
      for s in STATUSES),
    # not evaluated: the measure, or TUMSTATE for a non-target
    *(_TrKind(t, "", "", "", "NOT DONE", "NOT EVALUATED", False) for t in (*_MEASURES, "TUMSTATE")),
    *(_TrKind(t, "0", "mm", None, "", "", True) for t in _MEASURES),  # absent or merged away: 0
    *(_TrKind(t, "TOO SMALL TO MEASURE", "mm", None, "", "", True) for t in _MEASURES),  # the default measure
    *(_TrKind(t, None, "mm", None, "", "", True) for t in _MEASURES),  # measured
    _TrKind("SUMDIAM", None, "mm", None, "", "", True),
    _TrKind("SUMDIAM", "", "", "", "NOT DONE", None, False),  # a baseline target not evaluated
)  # fmt: skip
_K_STATE = 0
_K_NOT_DONE = _K_STATE + len(STATUSES)
_K_ZERO = _K_NOT_DONE + len(_MEASURES) + 1
_K_TOO_SMALL = _K_ZERO + len(_MEASURES)
_K_VALUE = _K_TOO_SMALL + len(_MEASURES)
_K_SUM = _K_VALUE + len(_MEASURES)
_K_SUM_NOT_DONE = _K_SUM + 1
_S_TOO_SMALL = STATUSES.index(Status.TOO_SMALL)
_TR_KIND_FIELDS = {"TRTESTCD": "test", "TRTEST": "test_name", "TRORRES": "orres", "TRORRESU": "unit",
                   "TRSTRESC": "stresc", "TRSTRESU": "unit", "TRSTAT": "stat", "TRREASND": "reason"}  # fmt: skip
"""The TR text variables a row's kind gives, and the ``_TrKind`` field of each."""


def _kind_texts(name: str) -> tuple[pa.Array, BoolArray]:
    """Per ``_TR_KINDS`` its fixed text of field ``name``, and which kinds use the row's own text instead."""
    values = [getattr(k, name) for k in _TR_KINDS]
    return _words(v or "" for v in values), np.asarray([v is None for v in values], dtype=bool)


_KIND_TEXTS = {name: _kind_texts(name) for name in set(_TR_KIND_FIELDS.values())}
_KIND_MEASURED = np.asarray([k.measured for k in _TR_KINDS], dtype=bool)
_ROLE_TEXT = _words(_ROLE_UPPER[r] for r in ROLES)


@dataclass
class _Observations:
    """A block's observations in TR order and their rows (``_lesion_results`` on arrays): a TUMSTATE row
    (``state``: non-targets, equivocal and merged lesions), then ``other`` (a measure or not-done row; -1 for
    none), as ``_TR_KINDS``."""

    o: IntArray  # positions in the cohort
    at: IntArray  # each observation's assessment, a position in the block's assessments
    lesion: IntArray
    state: IntArray
    other: IntArray
    value_um: IntArray  # the measure of a measure row

    @classmethod
    def of(cls, c: Cohort, o: IntArray, at: IntArray, too_small_um: int) -> _Observations:
        lesion, status = c.o_lesion[o], c.o_status[o]
        raw = np.where(c.l_nodal[lesion], c.o_short[o], c.o_long[o])
        measure = c.l_nodal[lesion].astype(np.int64)
        measured = c.l_role[lesion] != NONTARGET  # a non-target has a measure row only when measured
        not_done = status == S_NOT_EVALUATED
        merged = status == S_MERGED
        gone = (status == S_ABSENT) | merged
        state = ~not_done & (~measured | (status == S_EQUIVOCAL) | merged)
        value = np.where(gone, measured, (raw >= 0) | ((status == _S_TOO_SMALL) & measured))
        other = np.select(
            [not_done, ~value, gone, raw < 0],
            [_K_NOT_DONE + np.where(measured, measure, len(_MEASURES)), -1, _K_ZERO + measure,
             _K_TOO_SMALL + measure],
            _K_VALUE + measure,
        )  # fmt: skip
        value_um = np.where(gone, 0, np.where(raw >= 0, raw, too_small_um))
        return cls(o, at, lesion, np.where(state, _K_STATE + status, -1), other, value_um)


@dataclass
class _Sums:
    """SUMDIAM at a block's assessments ``at`` (positions in the block's assessments) of subjects with baseline
    targets (RECIST 1.1 4.3.1: the sum of the targets' measures, decisions.md 1 and 3): ``total_um``, or
    ``not_done`` when a target was not evaluated (or not recorded)."""

    at: IntArray
    total_um: IntArray
    not_done: BoolArray
    measured: BoolArray  # per observation: a baseline target with its measure


@dataclass
class _TrLayout:
    """Where a block's TR rows go: per assessment its observations' rows (a TUMSTATE row first), then its
    SUMDIAM."""

    n: int
    observation: IntArray  # per observation row: its observation
    is_state: BoolArray  # per observation row: the TUMSTATE row
    slot: IntArray  # per observation row: its row
    sum_slot: IntArray  # per SUMDIAM: its row

    @classmethod
    def of(cls, ob: _Observations, sums: _Sums, n_a: int) -> _TrLayout:
        has_state = ob.state >= 0
        k = has_state.astype(np.int64) + (ob.other >= 0)  # rows per observation
        observation = np.repeat(np.arange(len(k), dtype=np.int64), k)
        is_state = np.zeros(len(observation), dtype=bool)
        is_state[(np.cumsum(k) - k)[has_state]] = True
        at = ob.at[observation]
        o_rows = np.bincount(at, minlength=n_a)
        rows_a = o_rows.copy()
        rows_a[sums.at] += 1
        first = np.cumsum(rows_a) - rows_a
        slot = first[at] + np.arange(len(at), dtype=np.int64) - (np.cumsum(o_rows) - o_rows)[at]
        return cls(int(rows_a.sum()), observation, is_state, slot, (first + o_rows)[sums.at])

    def rows(self, state: Any, other: Any, of_sum: Any) -> np.ndarray:
        """A column from its values per observation (or one for all): at its TUMSTATE row (``state``) and at its
        other row (``other``), and per SUMDIAM (``of_sum``)."""

        def at(x: Any) -> Any:
            return x[self.observation] if np.ndim(x) else x

        per_row = np.where(self.is_state, at(state), at(other))
        out = np.empty(self.n, dtype=np.result_type(per_row, np.asarray(of_sum)))
        out[self.slot] = per_row
        out[self.sum_slot] = of_sum
        return out


@dataclass
class _OwnTexts:
    """The texts of a block's TR rows whose kind has none fixed: the mm texts of the measures (``fmt_mm``), the
    ``MERGED INTO`` texts, the SUMDIAM not-done reasons (``texts``; ``um``: the measure of each, 0 for the
    others); each observation's (at its TUMSTATE row, at its other row) and each SUMDIAM's position in them."""

    texts: pa.Array
    um: IntArray
    of_state: IntArray
    of_other: IntArray
    of_sum: IntArray

    @classmethod
    def of(cls, c: Cohort, ob: _Observations, sums: _Sums, missing: pa.Array) -> _OwnTexts:
        n_o = len(ob.o)
        codes, distinct = pd.factorize(np.concatenate([ob.value_um, sums.total_um]))  # each measure once
        merged = ob.state == _K_STATE + S_MERGED
        merged_texts = [f"{_STATE[Status.MERGED]} INTO {c.o_merged_into[o]}" for o in ob.o[merged].tolist()]
        texts = pa.concat_arrays([mm_text(np.asarray(distinct, dtype=np.int64)).cast(_TEXT), _words(merged_texts),
                                  missing])  # fmt: skip
        um = np.concatenate([distinct, np.zeros(len(merged_texts) + len(missing), dtype=np.int64)])
        first_merged, first_missing = len(distinct), len(distinct) + len(merged_texts)
        return cls(
            texts, um, np.where(merged, first_merged + np.cumsum(merged) - 1, 0), codes[:n_o],
            np.where(sums.not_done, first_missing + np.cumsum(sums.not_done) - 1, codes[n_o:]),
        )  # fmt: skip


_RS_CODES = {"TRGRESP": "target", "NTRGRESP": "nontarget", "NEWLIND": "new_lesions", "OVRLRESP": "response"}
"""The ``Timepoints`` codes each RS test reports (``_rs_words``)."""


def _rs_words(cfg: CriterionConfig) -> dict[str, list[str]]:
    """Each RS test's value for each engine code (``_rs_values``; empty: the test does not apply)."""
    code = code_words(cfg)
    return {
        "TRGRESP": code.target,
        "NTRGRESP": code.nontarget,
        "NEWLIND": [_NEWLIND.get(w, "") for w in code.new_lesions],
        "OVRLRESP": code.response,
    }


_ADRS_CODES = list(ADRS_PARAMS)
_SUBJECT_PARAMS = ("BOR", "CBOR", "RSP")
"""The ADRS parameters of a subject (``_SubjectParams``), in table order after its OVR rows."""
_AVAL = np.asarray([AVAL_CODES.get(r, 0) for r in RESPONSES], dtype=np.int64)
_NO_AVAL = np.asarray([r not in AVAL_CODES for r in RESPONSES], dtype=bool)
"""AVAL of each response code, and the codes without one (ND)."""


@dataclass
class _SubjectParams:
    """Per subject parameter (``_SUBJECT_PARAMS``) and subject of a block: BOR (as subjects.csv), CBOR (the
    confirmed BOR, from ``confirmed``) and RSP (Y when BOR is CR/PR, the ORR numerator; dated at the first
    response). ``avalc`` indexes the labels of ``RESPONSES`` then Y and N; ``a`` is the assessment that dates
    it (ADT, ADY, AVISIT; -1: none)."""

    avalc: list[IntArray]
    aval: list[IntArray]
    no_aval: list[BoolArray]
    a: list[IntArray]

    @classmethod
    def of(cls, b: _Block, confirmed: SubjectArrays) -> _SubjectParams:
        s, e = b.scored.subjects, b.entity
        bor, cbor = s.bor[e], confirmed.bor[e]
        yes = np.isin(bor, RESPONDER_CODES)
        return cls(
            [bor, cbor, np.where(yes, len(RESPONSES), len(RESPONSES) + 1)],
            [_AVAL[bor], _AVAL[cbor], yes.astype(np.int64)],
            [_NO_AVAL[bor], _NO_AVAL[cbor], np.zeros(len(e), dtype=bool)],
            [s.bor_a[e], confirmed.bor_a[e], np.where(yes, s.first_response_a[e], -1)],
        )


class _Tables:
    """The run's CDISC tables from the engine's arrays, one at a time: ``tu``, ``tr``, ``rs``, then ``adrs``
    (which links to the RS rows by their RSSEQ)."""

    def __init__(self, run: ScoreRun, studyid: str) -> None:
        self.studyid = studyid
        self.blocks = _blocks(run)
        _rank(self.blocks)
        self._arrays: dict[int, _CohortArrays] = {}
        self._ovr_seq: list[IntArray] = []  # per block: the RSSEQ of each assessment's OVRLRESP row (-1: none)

    @cached_property
    def first_blocks(self) -> list[_Block]:
        return _first_blocks(self.blocks)

    def arrays(self, c: Cohort) -> _CohortArrays:
        got = self._arrays.get(id(c))
        if got is None or got.c is not c:
            got = self._arrays[id(c)] = _CohortArrays(c)
        return got

    def tu(self) -> pd.DataFrame:
        return _frame([self._tu(b) for b in self.first_blocks], TU_VARS, "TUSEQ")[0]

    def tr(self) -> pd.DataFrame:
        return _frame([self._tr(b) for b in self.first_blocks], TR_VARS, "TRSEQ")[0]

    def rs(self) -> pd.DataFrame:
        made = [self._rs(b) for b in self.blocks]
        df, seq = _frame([part for part, _f, _row in made], RS_VARS, "RSSEQ")
        self._ovr_seq, first_row = [], 0
        for b, (part, f, row) in zip(self.blocks, made, strict=True):
            at = np.full(len(b.cohort.a_day), -1, dtype=np.int64)
            if len(f):
                at[f] = np.where(row >= 0, seq[first_row + np.maximum(row, 0)], -1)
            self._ovr_seq.append(at)
            first_row += len(part.row_subject)
        return df

    def adrs(self) -> pd.DataFrame:
        """ADRS, after ``rs``."""
        parts = [self._adrs(b, at) for b, at in zip(self.blocks, self._ovr_seq, strict=True)]
        return _frame(parts, ADRS_VARS, "ASEQ")[0]

    def _head(self, b: _Block, domain: str, subject: IntArray) -> dict[str, _Column]:
        """STUDYID, DOMAIN and USUBJID of rows of the block's subjects ``subject``."""
        n = len(subject)
        return {"STUDYID": _const(self.studyid, n), "DOMAIN": _const(domain, n),
                "USUBJID": _Take(b.subject_text, subject)}  # fmt: skip

    def _where(self, b: _Block, prefix: str, subject: IntArray, a: IntArray) -> dict[str, _Column]:
        """--EVAL, VISIT, --DTC and --DY of rows of the block's subjects ``subject`` at assessments ``a``."""
        c, x = b.cohort, self.arrays(b.cohort)
        return {
            f"{prefix}EVAL": _Take(b.reader_text, subject), "VISIT": _Take(x.a_label, a),
            f"{prefix}DTC": _Take(x.a_dtc, a), f"{prefix}DY": _Ints(study_days(c.a_day[a], b.reference_day[subject])),
        }  # fmt: skip

    def _tu(self, b: _Block) -> _Part:
        """SDTMIG TU (``tu_rows``): one ``TUMIDENT`` row per lesion, at the assessment that first recorded it."""
        c, x = b.cohort, self.arrays(b.cohort)
        pos, subject = ranges(x.tu_start[b.entity], x.tu_start[b.entity + 1])
        lesion = x.tu_order[pos]
        n = len(lesion)
        role = _Take(_ROLE_TEXT, c.l_role[lesion])
        columns: dict[str, _Column] = {
            **self._head(b, "TU", subject), "TULNKID": _Take(x.l_id, lesion), "TUTESTCD": _const("TUMIDENT", n),
            "TUTEST": _const("Tumor Identification", n), "TUORRES": role, "TUSTRESC": role,
            "TULOC": _Take(x.l_organ, lesion), **self._where(b, "TU", subject, c.o_assessment[x.first_o[lesion]]),
        }  # fmt: skip
        return _Part(b.subject_rank, subject, columns)

    def _tr(self, b: _Block) -> _Part:
        """SDTMIG TR (``tr_rows``): per assessment every recorded lesion result, lesions in TU order
        (``lesion_results``: ``_Observations``), then SUMDIAM of the baseline targets when there are any
        (``_Sums``). Each row is of a kind of ``_TR_KINDS``, which gives its texts or leaves them to the row
        (``_OwnTexts``)."""
        c, x = b.cohort, self.arrays(b.cohort)
        a, a_subject = ranges(c.a_start[b.entity], c.a_start[b.entity + 1])
        o = x.tr_order[ranges(c.o_start[a], c.o_start[a + 1])[0]]
        at_o = np.repeat(np.arange(len(a), dtype=np.int64), c.o_start[a + 1] - c.o_start[a])
        ob = _Observations.of(c, o, at_o, _too_small_um(b.config))
        sums = self._sums(b, a, ob)
        layout = _TrLayout.of(ob, sums, len(a))
        own = _OwnTexts.of(c, ob, sums, self._missing_targets(b, a, sums.at[sums.not_done], ob, sums))
        kind = layout.rows(ob.state, ob.other, np.where(sums.not_done, _K_SUM_NOT_DONE, _K_SUM))  # _TR_KINDS
        text = layout.rows(own.of_state, own.of_other, own.of_sum)
        at, lesion = layout.rows(ob.at, ob.at, sums.at), layout.rows(ob.lesion, ob.lesion, len(c.l_id))
        texts: dict[str, _Column] = {}
        for field_name in _TR_KIND_FIELDS.values():
            fixed, is_own = _KIND_TEXTS[field_name]
            if is_own.any():
                texts[field_name] = _Take(pa.concat_arrays([fixed, own.texts]),
                                          np.where(is_own[kind], len(fixed) + text, kind))  # fmt: skip
            else:
                texts[field_name] = _Take(fixed, kind)
        subject = a_subject[at]
        columns: dict[str, _Column] = {
            **self._head(b, "TR", subject),
            "TRGRPID": _Take(_ROLE_TEXT, np.append(c.l_role, TARGET)[lesion]), "TRLNKID": _Take(x.l_id, lesion),
            **{name: texts[field_name] for name, field_name in _TR_KIND_FIELDS.items()},
            "TRSTRESN": np.where(_KIND_MEASURED[kind], own.um[text] / 1000, np.nan),
            **self._where(b, "TR", subject, a[at]),
        }  # fmt: skip
        return _Part(b.subject_rank, subject, columns)

    def _sums(self, b: _Block, a: IntArray, ob: _Observations) -> _Sums:
        """SUMDIAM at the block's assessments ``a`` (``_Sums``), of ``measures`` (``lesion_measure_um``)."""
        c, x = b.cohort, self.arrays(b.cohort)
        m = measures(c, b.config)[ob.o]
        measured = x.is_target[ob.lesion] & (m >= 0)
        total = np.rint(np.bincount(ob.at[measured], weights=m[measured], minlength=len(a))).astype(np.int64)
        targets = np.diff(x.target_start)[c.a_entity[a]]
        at = np.flatnonzero(targets > 0)
        missing = targets - np.bincount(ob.at[measured], minlength=len(a))
        return _Sums(at, total[at], missing[at] > 0, measured)

    def _missing_targets(self, b: _Block, a: IntArray, at: IntArray, ob: _Observations, sums: _Sums) -> pa.Array:
        """TRREASND of SUMDIAM at the block's assessments ``a[at]``: the baseline targets without a measure
        there, in baseline order, as ``"T1, T3 NOT EVALUATED"``."""
        c, x = b.cohort, self.arrays(b.cohort)
        e = c.a_entity[a[at]]
        pos, owner = ranges(x.target_start[e], x.target_start[e + 1])
        lesion = x.targets[pos]
        wanted = np.zeros(len(a), dtype=bool)
        wanted[at] = True
        measured = sums.measured & wanted[ob.at]
        width = len(c.l_id) + 1
        there = np.isin(at[owner] * width + lesion, ob.at[measured] * width + ob.lesion[measured])
        counts = np.bincount(owner[~there], minlength=len(at))
        ids = x.l_id.take(pa.array(lesion[~there]))
        lists = pa.LargeListArray.from_arrays(pa.array(np.r_[0, np.cumsum(counts)].astype(np.int64)), ids)
        joined = pc.binary_join(lists, pa.scalar(", ", _TEXT))
        return pc.binary_join_element_wise(joined, pa.scalar(" NOT EVALUATED", _TEXT), pa.scalar("", _TEXT))

    def _rs(self, b: _Block) -> tuple[_Part, IntArray, IntArray]:
        """SDTMIG RS (``rs_rows``): per post-baseline assessment the tests TRGRESP, NTRGRESP, NEWLIND and
        OVRLRESP that apply (empty values are left out: no target or non-target lesion at baseline), in the
        criterion's terms. Also gives these assessments and the row of each one's OVRLRESP (-1: none)."""
        c, cfg = b.cohort, b.config
        f, subject = ranges(c.a_start[b.entity] + 1, c.a_start[b.entity + 1])
        words = _rs_words(cfg)
        n_tests = len(words)
        start = np.cumsum([0] + [len(w) for w in words.values()])
        values = [v for w in words.values() for v in w] + [""]
        codes = np.stack([getattr(b.tps, _RS_CODES[t])[f] for t in words], axis=1).reshape(-1, n_tests)
        index = np.where(codes >= 0, codes + start[:-1], len(values) - 1).reshape(-1)
        applies = np.asarray([v != "" for v in values], dtype=bool)[index]
        flat = np.flatnonzero(applies)
        row_f, test = flat // n_tests, flat % n_tests
        last = n_tests - 1  # OVRLRESP
        ovr_row = np.where(applies[last::n_tests], np.cumsum(applies)[last::n_tests] - 1, -1)
        value = _Take(_words(values), index[flat])
        columns: dict[str, _Column] = {
            **self._head(b, "RS", subject[row_f]), "RSTESTCD": _Take(_words(RS_TESTS), test),
            "RSTEST": _Take(_words(RS_TESTS.values()), test), "RSCAT": _const(_criterion_name(cfg), len(flat)),
            "RSORRES": value, "RSSTRESC": value, **self._where(b, "RS", subject[row_f], f[row_f]),
        }  # fmt: skip
        return _Part(b.subject_rank, subject[row_f], columns), f, ovr_row

    def _adrs(self, b: _Block, ovr_seq: IntArray) -> _Part:
        """ADaM ADRS (``adrs_rows``): per subject an ``OVR`` row per post-baseline assessment with a response
        (SRCSEQ: the RSSEQ of its RS OVRLRESP row, ``ovr_seq`` by assessment), then ``BOR``, ``CBOR`` and ``RSP``
        (``_SubjectParams``). AVAL: ``AVAL_CODES``; ADT, ADY and AVISIT: the assessment that dates the value."""
        c, cfg, x = b.cohort, b.config, self.arrays(b.cohort)
        f, f_subject = ranges(c.a_start[b.entity] + 1, c.a_start[b.entity + 1])
        called = b.tps.response[f] >= 0
        f, f_subject = f[called], f_subject[called]
        per_subject = _SubjectParams.of(b, self._confirmed(b))
        n_ovr = np.bincount(f_subject, minlength=len(b.entity))
        per = n_ovr + len(_SUBJECT_PARAMS)
        first = np.cumsum(per) - per
        ovr_slot = first[f_subject] + np.arange(len(f), dtype=np.int64) - (np.cumsum(n_ovr) - n_ovr)[f_subject]
        subject = np.repeat(np.arange(len(b.entity), dtype=np.int64), per)

        def rows(ovr: Any, params: list[Any]) -> np.ndarray:
            """A column from its values at the OVR rows and per subject parameter (BOR, CBOR, RSP)."""
            out = np.empty(len(subject), dtype=np.result_type(np.asarray(ovr), *(np.asarray(p) for p in params)))
            out[ovr_slot] = ovr
            for i, value in enumerate(params):
                out[first + n_ovr + i] = value
            return out

        response = b.tps.response[f]
        a = rows(f, per_subject.a)
        undated = a < 0
        param = rows(_ADRS_CODES.index("OVR"), [_ADRS_CODES.index(p) for p in _SUBJECT_PARAMS])
        is_ovr = param == _ADRS_CODES.index("OVR")
        source = np.where(is_ovr, ovr_seq[np.maximum(a, 0)] if len(ovr_seq) else -1, -1)
        pd_words, pd_code = [p.upper() for p in PD_STATUSES], b.tps.pd_status
        day = c.a_day[np.maximum(a, 0)] if len(c.a_day) else np.zeros(len(a), dtype=np.int64)
        n = len(subject)
        columns: dict[str, _Column] = {
            "STUDYID": _const(self.studyid, n), "USUBJID": _Take(b.subject_text, subject),
            "RSEVAL": _Take(b.reader_text, subject), "PARAMCD": _Take(_words(ADRS_PARAMS), param),
            "PARAM": _Take(_words(ADRS_PARAMS.values()), param), "PARCAT1": _const("Tumor Response", n),
            "PARCAT3": _const(_criterion_name(cfg), n),
            "AVALC": _Take(_words([*response_words(cfg), "Y", "N"]), rows(response, per_subject.avalc)),
            "AVAL": _Ints(rows(_AVAL[response], per_subject.aval), rows(_NO_AVAL[response], per_subject.no_aval)),
            "ADT": _Days(day, undated), "ADY": _Ints(study_days(day, b.reference_day[subject]), undated),
            "AVISIT": _Take(x.a_label, np.where(undated, len(c.a_day), a)),
            "PDSTAT": _Take(_words([*pd_words, ""]), rows(pd_code[f], [len(pd_words)] * len(_SUBJECT_PARAMS))),
            "SRCDOM": _Take(_words(["", "RS"]), is_ovr.astype(np.int64)),
            "SRCSEQ": _Ints(np.maximum(source, 0), source < 0),
        }  # fmt: skip
        return _Part(b.subject_rank, subject, columns)

    def _confirmed(self, b: _Block) -> SubjectArrays:
        """The per-entity results with confirmation of CR/PR required, for CBOR (RECIST 1.1 section 4.6.1): the
        block's own when its criterion requires it, else its cohort's scored again with ``confirm_response=true``."""
        if b.config.confirm_response:
            return b.scored.subjects
        return score_cohort(b.cohort, dataclasses.replace(b.config, confirm_response=True)).subjects


def cdisc_tables(run: ScoreRun, studyid: str = "") -> Iterator[tuple[str, pd.DataFrame]]:
    """The run's CDISC tables ``tu``, ``tr``, ``rs`` and ``adrs``, each made when the one before is done with
    (a caller that writes and drops each never holds all four)."""
    tables = _Tables(run, studyid)
    yield "tu", tables.tu()
    yield "tr", tables.tr()
    yield "rs", tables.rs()
    yield "adrs", tables.adrs()


def cdisc_frames(run: ScoreRun, *, studyid: str = "") -> dict[str, pd.DataFrame]:
    """The run's CDISC tables: ``tu``, ``tr``, ``rs`` (SDTM) and ``adrs`` (ADaM), as typed DataFrames."""
    with paused_gc():
        return dict(cdisc_tables(run, studyid))


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


def write_extras(run: ScoreRun, out: Path, *, xpt: bool = False, parquet: bool = False, studyid: str = "") -> None:
    """What ``write_run`` adds to the core tables: ``out/cdisc/`` (TU, TR, RS, ADRS as CSV, with
    ``--xpt`` SAS transport v5 and with ``--parquet`` Parquet) and Parquet copies of timepoints, subjects,
    errors and (inputs read from DICOM) lines next to their CSVs."""
    with paused_gc():
        for name, df in cdisc_tables(run, studyid):
            write_cdisc({name: df}, out / "cdisc", xpt=xpt, parquet=parquet)
            del df  # freed before the next table is made
    if parquet:
        for name, frame in (("timepoints", timepoints_frame), ("subjects", subjects_frame), ("errors", errors_frame)):
            write_parquet(frame(run), out / f"{name}.parquet")
        if run.lines is not None:
            write_parquet(run.lines, out / "lines.parquet")
