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
import os
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

ON_DEMAND = os.environ.get("IRRECIST_FUZZ_EXAMPLES")
EXAMPLES = {"tables": 300, "bytes": 150, "dicom": 300, "subjects": 150}
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
