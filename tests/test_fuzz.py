"""Fuzzing (issue 7): whatever the input, irrecist returns results or raises its own errors (``irrecist.errors``),
never another exception.

* the lesion-table reader and the engine, by hypothesis: tables of valid and invalid cells (missing columns,
  junk numbers, impossible dates, unknown roles ...), and raw bytes read as CSV, TSV and Parquet;
* ``irrecist.extract.extract_paths`` on mutated copies of real DICOM files of every kind from
  ../shared/data/real (truncations, flipped bytes, altered length fields, inserted and deleted blocks, and
  elements changed through pydicom: deleted, emptied, junk or out-of-range values), in a temporary folder.

CI runs :data:`EXAMPLES` examples per test (fixed seed, so every CI run tries the same inputs); set
``IRRECIST_FUZZ_EXAMPLES=N`` to try N random ones per test instead. Counts tried are recorded in
tests/FUZZING.md.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import struct
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from irrecist.columns import LESION_COLUMNS, STATUSES, SUBJECT_COLUMNS
from irrecist.errors import IrrecistError, Level
from irrecist.extract import extract_paths
from irrecist.inputs import collect_tables
from irrecist.output import errors_frame, subjects_frame, summary, timepoints_frame
from irrecist.rules.config import profile
from irrecist.scoring import ScoreRun, score_frames
from tests.conftest import need_shared
from tests.helpers import AIM_SAMPLES

ON_DEMAND = os.environ.get("IRRECIST_FUZZ_EXAMPLES")
EXAMPLES = {"tables": 300, "bytes": 150, "dicom": 300, "subjects": 150, "slicer": 100, "aim": 90}
"""Examples per test in CI (about 15 s together on the 2-core development machine)."""
CONFIGS = [profile("irrecist"), profile("recist1.1")]


def fuzz_settings(kind: str, per: int = 1) -> settings:
    """``EXAMPLES[kind]`` examples (shared by ``per`` parametrized cases) with a fixed seed, or
    ``IRRECIST_FUZZ_EXAMPLES`` random ones per case."""
    if ON_DEMAND:
        return settings(max_examples=int(ON_DEMAND), deadline=None, suppress_health_check=list(HealthCheck))
    return settings(
        max_examples=max(1, EXAMPLES[kind] // per),
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def junk(max_size: int = 8) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size)


NUMBERS = st.one_of(
    st.sampled_from(["", "0", "-4", "12.5", "4O", "nan", "inf", "-inf", "1e400", "1e300", "1e15", "99999999999", ".5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**20), 10**20).map(str),
    junk(),
)
CELLS: dict[str, st.SearchStrategy[str]] = {
    "subject_id": st.sampled_from(["001", "002", "", " 003 ", "S-1"]),
    "timepoint": st.one_of(st.sampled_from(["baseline", "week 8", "week 16", "", "Baseline", "w8"]), junk(4)),
    "date": st.one_of(
        st.sampled_from(
            [
                "2024-01-01",
                "2024-02-26",
                "2024-04-22",
                "2023-12-01",
                "2024-02-30",
                "",
                "2024/01/01",
                "0001-01-01",
                "9999-12-31",
                "2024-1-5",
                "20240101",
            ]
        ),  # fmt: skip
        st.dates().map(str),
        junk(10),
    ),
    "lesion_id": st.one_of(st.sampled_from(["T1", "T2", "NT1", "N1", "T1.1", "T1.2", "T1.x", "", ".", "T1."]), junk(3)),
    "role": st.one_of(st.sampled_from(["target", "non-target", "new", "", "Target", "other"]), junk(3)),
    "organ": st.one_of(st.sampled_from(["liver", "lung", "lymph node", "", "Liver", "kidney", "Lymph Node"]), junk(6)),
    "nodal": st.sampled_from(["true", "false", "", "yes", "maybe", "1", "0", "TRUE"]),
    "long_axis_mm": NUMBERS,
    "short_axis_mm": NUMBERS,
    "status": st.one_of(
        st.sampled_from(
            [*STATUSES, "", "gone", "merged_into:T1", "merged_into:T9", "merged_into:", "MERGED_INTO:T2", "Present"]
        ),
        junk(5),
    ),
    "unit": st.sampled_from(["", "mm", "cm", "CM", "inch"]),
    "slice_thickness_mm": NUMBERS,
    "reader": st.sampled_from(["", "", "A", "B"]),
    "source": junk(5),
}


@st.composite
def lesion_tables(draw: st.DrawFn) -> pd.DataFrame:
    """1-14 rows; every column present or (rarely) absent, plus sometimes an unknown column."""
    columns = [c for c in LESION_COLUMNS if draw(st.integers(0, 19)) > 0]
    if draw(st.booleans()):
        columns.append(draw(st.sampled_from(["extra", "comment", "__src", ""])))
    n = draw(st.integers(1, 14))
    rows = [{c: draw(CELLS.get(c, junk())) for c in columns} for _ in range(n)]
    return pd.DataFrame(rows, columns=columns, dtype=str)


def exercise(run: ScoreRun) -> None:
    """Everything a scoring run's outputs are built from."""
    timepoints_frame(run)
    subjects_frame(run)
    errors_frame(run)
    summary(run)


@fuzz_settings("tables")
@given(df=lesion_tables())
def test_table_reader_and_engine_return_results_or_irrecist_errors(df: pd.DataFrame) -> None:
    try:
        run = score_frames([(df, "fuzz.csv", 2)], CONFIGS)
    except IrrecistError:
        return
    exercise(run)
    scored = {s.subject_id for crun in run.runs.values() for s in crun.scores}
    failed = {sid for crun in run.runs.values() for sid, _ in crun.failed}
    named = {p.subject_id for p in run.problems if p.level is Level.ERROR}
    table_subjects = {s.strip() for s in df["subject_id"]} - {""} if "subject_id" in df.columns else set()
    # nothing dropped without a line in the report: every subject is scored, or failed with an error line
    assert table_subjects <= scored | failed, (table_subjects, scored, failed)
    assert failed <= named, (failed, named)


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


@fuzz_settings("bytes")
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.lists(st.text(alphabet=",;\t\"'\n\r\\ abcT1-0.9x\x00é", max_size=30), max_size=8).map(
            lambda lines: "\n".join(lines).encode("utf-8")
        ),
        lesion_tables().map(lambda df: df.to_csv(index=False).encode("utf-8")),
        lesion_tables().map(_parquet),
    ),
    suffix=st.sampled_from([".csv", ".tsv", ".parquet"]),
)
def test_table_files_of_any_bytes_return_results_or_irrecist_errors(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"lesions{suffix}"
        path.write_bytes(data)
        try:
            got = collect_tables([path])
            run = score_frames(got.frames, CONFIGS, got.info)
        except IrrecistError:
            return
        exercise(run)


DATES = CELLS["date"]


@st.composite
def subject_tables(draw: st.DrawFn) -> pd.DataFrame:
    """0-6 rows of the optional subject table (spec/lesion-table.md); columns sometimes missing or extra,
    subjects sometimes repeated or unknown to the lesion table."""
    columns = [c for c in SUBJECT_COLUMNS if draw(st.integers(0, 9)) > 0]
    if draw(st.booleans()):
        columns.append(draw(st.sampled_from(["extra", "", "Subject_ID"])))
    cells = {"subject_id": CELLS["subject_id"], "tumor_type": st.sampled_from(["solid", "lymphoma", "", "x"])}
    rows = [{c: draw(cells.get(c, DATES)) for c in columns} for _ in range(draw(st.integers(0, 6)))]
    return pd.DataFrame(rows, columns=columns, dtype=str)


@fuzz_settings("subjects")
@given(subjects=subject_tables(), as_file=st.booleans())
def test_subject_tables_give_results_or_located_errors(subjects: pd.DataFrame, as_file: bool) -> None:
    """Any subject table beside a good lesion table: the lesion table's subjects are all scored, or named by
    an error line; a bad subject-table row is an error naming that file, never an exception."""
    lesions = pd.DataFrame(
        [
            {"subject_id": sid, "timepoint": tp, "date": d, "lesion_id": "T1", "role": "target", "organ": "liver",
             "nodal": "false", "long_axis_mm": mm, "status": "present"}
            for sid in ("001", "002")
            for tp, d, mm in (("baseline", "2024-01-01", "40"), ("week 8", "2024-02-26", "25"))
        ]
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "lesions.csv"
        lesions.to_csv(table, index=False)
        where: Path | pd.DataFrame = subjects
        if as_file:
            where = Path(tmp) / "subjects.csv"
            subjects.to_csv(where, index=False)
        try:
            got = collect_tables([table], where)
        except IrrecistError:
            return
        run = score_frames(got.frames, CONFIGS, got.info)
        run.problems[:0] = got.problems
    exercise(run)
    scored = {s.subject_id for crun in run.runs.values() for s in crun.scores}
    named = {p.subject_id for p in run.problems if p.level is Level.ERROR}
    assert {"001", "002"} <= scored | named, (scored, named)


# ------------------------------------------------------------------------------------------- DICOM mutations

CORPUS = [
    "annotation-and-image-markup/AIMToolkit_v3.0.2_rv11/examples/SampleAIMAnnotationsAndImages/AIMAnnotations/"
    "Baseline/0022BaselineA.dcm",
    "dcmjs/examples/data/structured_report.dcm",
    "highdicom/data/test_files/sr_document_with_multiple_groups.dcm",
    "pydicom/test_files/test-SR.dcm",
    "highdicom/data/test_files/seg_image_ct_binary.dcm",
    "highdicom/data/test_files/seg_image_ct_true_fractional.dcm",
    "dcmjs/examples/data/QIICR_Test3/tumor_User1_Manual_Trial1.dcm",
    "rt-utils/tests/mock_data/rt.dcm",
    "dcm4che-typeddicom/dcm4che-typeddicom-lib/dcm4che-typeddicom-lib-std/src/test/resources/GSPS.dcm",
    "highdicom/data/test_files/ct_image.dcm",
]
"""Real files of every kind the readers take (SR of three writers, SEG binary and fractional, RTSTRUCT, GSPS,
and a CT image), each small enough to mutate many times."""
_VR16 = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL",
         b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}  # fmt: skip
_VR32 = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}


def length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every explicit-VR length field and item length found in ``data``."""
    out = []
    for i in range(0, len(data) - 12):
        vr = data[i + 4 : i + 6]
        if vr in _VR16:
            out.append((i + 6, 2))
        elif vr in _VR32 and data[i + 6 : i + 8] == b"\0\0":
            out.append((i + 8, 4))
        elif data[i : i + 4] in (b"\xfe\xff\x00\xe0",):
            out.append((i + 4, 4))
    return out


LENGTHS = st.sampled_from([0, 1, 2, 3, 7, 0xFF, 0xFFFF, 0xFFFE, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF, 4 << 30])


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[str, int, int, bytes]]:
    """1-3 edits (kind, position as a fraction of 2**16, a number, bytes). Byte edits favour the
    body of the file (past the first 40 %); ``element`` edits change one element's value (any depth) through
    pydicom, so that many mutants get past the header checks to the readers."""
    edits = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        kind = draw(
            st.sampled_from(["truncate", "flip", "flip", "length", "length", "splice", "delete"] + ["element"] * 5)
        )
        where = draw(st.one_of(st.integers(26_000, 1 << 16), st.integers(0, 1 << 16)))
        edits.append((kind, where, draw(LENGTHS), draw(st.binary(min_size=1, max_size=3))))
    return edits


TEXT_VALUES = ["", "junk", "-1", "1e400", "NaN", "20240230", "0\\0\\0", "A" * 70, "1.2.3", "0", "99999999999999999999"]
NUMBER_VALUES = [0, 1, -1, 65535, 2**31 - 1, -(2**31)]


def _elements(ds: Dataset) -> list[tuple[Dataset, int]]:
    """(parent, tag) of every element of ``ds``, sequence items included, in file order."""
    out: list[tuple[Dataset, int]] = []
    stack = [ds]
    while stack:
        current = stack.pop()
        for elem in current:
            out.append((current, elem.tag))
            if elem.VR == "SQ" and elem.value:
                stack.extend(reversed(list(elem.value)))
    return out


def element_edit(data: bytes, where: int, number: int, blob: bytes) -> bytes:
    """One element changed through pydicom: deleted, emptied, or given an out-of-range or junk value (sequences
    emptied or their items repeated); unchanged bytes when pydicom cannot read or write it."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        targets = _elements(ds)
        if not targets:
            return data
        parent, tag = targets[where * (len(targets) - 1) >> 16]
        elem = parent[tag]
        action = number % 5
        if action == 0 or tag == 0x7FE00010 and action == 1:
            del parent[tag]
        elif elem.VR == "SQ":
            elem.value = [] if action in (1, 2) else list(elem.value) * 3
        elif action == 1:
            elem.value = None
        elif elem.VR in ("US", "SS", "UL", "SL", "FL", "FD", "OB", "OW", "OF", "OD", "UN", "AT"):
            values = [
                v
                for v in NUMBER_VALUES
                if not (elem.VR in ("US", "UL") and v < 0) and not (elem.VR == "US" and v > 65535)
            ]
            elem.value = (
                blob * (1 + number % 7) if elem.VR in ("OB", "OW", "OF", "OD", "UN") else values[number % len(values)]
            )
        else:
            elem.value = TEXT_VALUES[(number + blob[0]) % len(TEXT_VALUES)]
        out = io.BytesIO()
        ds.save_as(out)
        return out.getvalue()
    except Exception:  # a mutant pydicom cannot write is no test input
        return data


def mutate(data: bytes, fields: list[tuple[int, int]], edits: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply the edits: cut the file, flip bits, set a length field, insert a repeated block, delete bytes, change
    an element."""
    out = bytearray(data)
    for kind, where, number, blob in edits:
        pos = where * max(len(out) - 1, 0) >> 16
        if kind == "truncate":
            del out[pos:]
        elif kind == "flip" and out:
            for k, b in enumerate(blob):
                out[(pos + k * 131) % len(out)] ^= b or 0xFF
        elif kind == "length" and fields:
            offset, size = fields[where * (len(fields) - 1) >> 16]
            if offset + size <= len(out):
                out[offset : offset + size] = struct.pack("<H" if size == 2 else "<I", number % (1 << (8 * size)))
        elif kind == "splice":
            out[pos:pos] = blob * (1 + number % 64)
        elif kind == "delete":
            del out[pos : pos + 1 + number % 512]
        elif kind == "element":
            out = bytearray(element_edit(bytes(out), where, number, blob))
    return bytes(out)


def test_mutations_change_the_files() -> None:
    """The mutation operators do what they say (so the fuzz test below is not fuzzing unchanged files)."""
    data = need_shared("data", "real", *CORPUS[0].split("/")).read_bytes()
    fields = length_fields(data)
    assert len(fields) > 20
    assert len(mutate(data, fields, [("truncate", 1 << 15, 0, b"x")])) == (len(data) - 1) // 2
    offset, size = fields[-1]
    changed = mutate(data, fields, [("length", 1 << 16, 0xFFFFFFFF, b"x")])
    assert changed[offset : offset + size] == b"\xff" * size and len(changed) == len(data)
    assert mutate(data, fields, [("flip", 100, 0, b"\x01")]) != data
    before = pydicom.dcmread(io.BytesIO(data))
    for number in range(5):  # delete, empty, junk value ...: each changes the dataset
        after = pydicom.dcmread(io.BytesIO(mutate(data, fields, [("element", 30_000, number, b"x")])))
        assert after != before, number


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", CORPUS, ids=[Path(n).name for n in CORPUS])
def test_mutated_real_dicom_files_give_issue_lines_not_exceptions(name: str) -> None:
    data = need_shared("data", "real", *name.split("/")).read_bytes()
    fields = length_fields(data)
    outcomes: list[str] = []

    @fuzz_settings("dicom", per=len(CORPUS))
    @given(edits=mutations())
    def check(edits: list[tuple[str, int, int, bytes]]) -> None:
        broken = mutate(data, fields, edits)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(name).name
            path.write_bytes(broken)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ex = extract_paths([path])
                except IrrecistError:
                    outcomes.append("raised")
                    return
        # every problem is located (its source names the file, or the study it belongs to)
        assert all(p.source for p in ex.problems), [p.as_row() for p in ex.problems]
        assert all(isinstance(v, str) for v in ex.lesions.to_numpy().ravel())
        outcomes.append("rows" if len(ex.lesions) else "issues")

    check()
    assert len(outcomes) >= (1 if ON_DEMAND else EXAMPLES["dicom"] // len(CORPUS) // 2), outcomes


# ------------------------------------------------------------------------------------------- Slicer and AIM

DEMO_CT = Path(__file__).resolve().parent.parent / "test_images" / "DEMO-001" / "2023-01-09_baseline" / "ct"
JUNK_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True, allow_infinity=True), junk(6),
    st.lists(st.integers(-3, 3), max_size=2),
)  # fmt: skip
COORDS = st.one_of(st.floats(-200, 200), st.sampled_from([0.0, -103.25, 1e308, float("nan")]), JUNK_VALUES)


ON_SLICE = st.tuples(st.floats(-47.25, 47.25), st.floats(-47.25, 47.25)).map(lambda p: [p[0], p[1], -5.0])
"""A point on the plane of DEMO_CT/010.dcm (z = -5 mm, 64 x 64 pixels of 1.5 mm from -47.25 mm)."""


def mostly(good: st.SearchStrategy[object], bad: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """``good`` four times in five, else ``bad``: each field valid often enough that whole documents are."""
    return st.integers(0, 4).flatmap(lambda k: good if k else bad)


@st.composite
def markup_docs(draw: st.DrawFn) -> tuple[object, object]:
    """A markups document and its sidecar, mostly well-formed (often a line on the CT slice beside it), with
    junk anywhere."""
    markups = []
    for _ in range(draw(st.integers(0, 3))):
        n_points = draw(mostly(st.just(2), st.integers(0, 3)))
        points = [
            {"position": draw(mostly(ON_SLICE, st.lists(COORDS, max_size=4))),
             "positionStatus": draw(mostly(st.just("defined"), st.sampled_from(["undefined", "", None])))}
            for _ in range(n_points)
        ]  # fmt: skip
        mk: dict[str, object] = {
            "type": draw(mostly(st.just("Line"), st.sampled_from(["Point", "Curve", None, 3]))),
            "name": draw(st.sampled_from(["L1", "L2", "", None, 7])),
            "coordinateSystem": draw(mostly(st.just("LPS"), st.sampled_from(["RAS", "lps", "XYZ", None, 1]))),
            "coordinateUnits": draw(mostly(st.just("mm"), st.sampled_from(["um", ["mm"], "inch", None, {}]))),
            "controlPoints": draw(mostly(st.just(points), JUNK_VALUES)),
        }
        if draw(st.booleans()):
            unit = draw(st.sampled_from(["mm", "cm"]))
            mk["measurements"] = [{"name": "length", "value": draw(COORDS), "units": unit}]
        markups.append(draw(mostly(st.just(mk), JUNK_VALUES)))
    doc = draw(mostly(st.just({"markups": markups}), JUNK_VALUES))
    sidecar: dict[str, object] = {
        "subject_id": draw(mostly(st.just("DEMO-001"), st.sampled_from(["", None, 5]))),
        "timepoint": draw(mostly(st.just("baseline"), st.sampled_from(["", None]))),
        "date": draw(mostly(st.just("2023-01-09"), st.sampled_from(["2023-02-30", "", None, 20230109]))),
        "lesion_id": draw(mostly(st.just("T1"), st.sampled_from(["", None, 1]))),
        "role": draw(st.sampled_from(["target", "nontarget", None])),
        "nodal": draw(st.sampled_from([False, "yes", "maybe", None])),
    }
    if draw(st.integers(0, 3)) == 0:
        sidecar["lesions"] = draw(st.lists(st.fixed_dictionaries({
            "markup": st.sampled_from(["L1", "L2", 0, 1, 9, None]), "lesion_id": st.sampled_from(["T1", "T2", ""]),
            "axis": st.sampled_from(["long", "short", "diagonal", None])}), max_size=3) | JUNK_VALUES)  # fmt: skip
    return doc, draw(mostly(st.just(sidecar), JUNK_VALUES))


def test_slicer_markups_give_rows_lines_or_issue_lines() -> None:
    """Any markups file and sidecar beside a CT slice of the sidecar's subject and date: rows, lines or located
    problems, never an exception; every line drawn has finite points."""
    outcomes: list[str] = []

    @fuzz_settings("slicer")
    @given(docs=markup_docs())
    def check(docs: tuple[object, object]) -> None:
        doc, sidecar = docs
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            shutil.copy(DEMO_CT / "010.dcm", folder / "010.dcm")
            (folder / "m.mrk.json").write_text(json.dumps(doc), encoding="utf-8")
            (folder / "m.sidecar.json").write_text(json.dumps(sidecar), encoding="utf-8")
            try:
                ex = extract_paths([folder])
            except IrrecistError:
                outcomes.append("raised")
                return
            lines = ex.lines_frame()
        assert all(p.source for p in ex.problems), [p.as_row() for p in ex.problems]
        assert all(isinstance(v, str) for v in ex.lesions.to_numpy().ravel())
        for line in lines.itertuples():
            assert all(math.isfinite(float(v)) for v in (line.x1, line.y1, line.x2, line.y2))
        outcomes.append("lines" if len(lines) else "rows" if len(ex.lesions) else "issues")

    check()
    # the generator reaches every path: documents refused, rows read, and lines drawn on the slice
    assert {"issues", "rows", "lines"} <= set(outcomes) or ON_DEMAND, outcomes


AIM_CORPUS = ["AIMAnnotations/Baseline/0022BaselineA.xml", "AIMAnnotations/FollowUp/0024FollowupA.xml"]
XML_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["truncate", "drop-element", "junk-attribute", "duplicate", "flip"]),
        st.integers(0, 1 << 16),
        st.sampled_from(["", "NaN", "-1", "1e400", "x" * 300, "&amp;", "<", "0", "2024-02-30", "\u00e9"]),
    ),
    min_size=1,
    max_size=3,
)


def xml_edit(text: str, edits: list[tuple[str, int, str]]) -> str:
    """Text-level mutations of an XML document: cut, an element or attribute value replaced, a block copied."""
    for kind, where, junk_text in edits:
        pos = where * len(text) >> 16
        if kind == "truncate":
            text = text[:pos]
        elif kind == "drop-element":
            tags = [m.start() for m in re.finditer(r"<[A-Za-z]", text)]
            if tags:
                start = tags[where % len(tags)]
                end = text.find(">", start)
                text = text[:start] + text[end + 1 :] if end > 0 else text[:start]
        elif kind == "junk-attribute":
            values = list(re.finditer(r'="[^"]*"', text))
            if values:
                m = values[where % len(values)]
                text = text[: m.start()] + '="' + junk_text + '"' + text[m.end() :]
        elif kind == "duplicate":
            text = text[:pos] + text[pos : pos + 200] + text[pos:]
        else:
            text = text[:pos] + junk_text + text[pos + 1 :]
    return text


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", AIM_CORPUS)
def test_mutated_aim_xml_gives_rows_or_issue_lines(name: str) -> None:
    text = need_shared(*AIM_SAMPLES, *name.split("/")).read_text(encoding="utf-8")
    outcomes: list[str] = []

    @fuzz_settings("aim", per=len(AIM_CORPUS))
    @given(edits=XML_EDITS)
    def check(edits: list[tuple[str, int, str]]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(name).name
            path.write_text(xml_edit(text, edits), encoding="utf-8")
            try:
                ex = extract_paths([path])
            except IrrecistError:
                outcomes.append("raised")
                return
            ex.lines_frame()
        assert all(p.source for p in ex.problems), [p.as_row() for p in ex.problems]
        outcomes.append("rows" if len(ex.lesions) else "issues")

    check()
    assert "rows" in outcomes or ON_DEMAND, outcomes  # some mutants still read: the files were really parsed
