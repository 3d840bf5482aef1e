"""Reader for annotation tables: the lesion table (CSV or Parquet) and the optional subject table.

Every cell is read as text (nothing is guessed by the CSV parser); validation happens in
``irrecist.lesion_table``. Files are opened read-only.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pandas as pd

from irrecist.columns import SUBJECT_COLUMNS
from irrecist.errors import InputError
from irrecist.model import SubjectInfo

TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv")


def read_frame(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a table as strings. Returns the frame and the offset from frame index to the file's row number
    (2 for text files with a header line, 1 for Parquet)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            df = df.astype(object).where(df.notna(), "").astype(str)
            return df, 1
        sep = "\t" if suffix == ".tsv" else ","
        fast = _read_text_arrow(path, sep)
        if fast is not None:
            return fast, 2
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, sep=sep, encoding="utf-8-sig")
        return df, 2
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a {suffix.lstrip('.') or 'table'} table ({exc})") from None


_QUOTED = {
    sep: re.compile(rb'(?:^|(?<=[' + sep.encode() + rb'\n]))"(?:[^"]|"")*"(?=[' + sep.encode() + rb'\r\n]|$)')
    for sep in (",", "\t")
}
"""A quoted cell as both parsers read it: opening quote at the start of a cell, doubled quotes inside, closing
quote at the end of the cell."""


_BLANKISH = re.compile(rb"(?m)^[ \t\f\v]+\r?$")
_BLANK_STARTS = (b" ", b"\t", b"\f", b"\v")
_BLANK_START = re.compile(rb"\n[ \t\f\v]")
"""What a line of spaces or tabs starts with: a cheap search first, the full expression only when found."""


def _read_text_arrow(path: Path, sep: str) -> pd.DataFrame | None:
    """The table read by pyarrow's multithreaded CSV parser, every cell as text: the frame pandas' parser gives
    (tested), three times faster. None when pyarrow refuses the file (ragged rows, bad UTF-8, ...), the header
    has duplicate or empty names, a quote stands outside a well-formed quoted cell, a carriage return does not
    end a line, or a line holds only spaces or tabs: pandas then reads it (and says what is wrong)."""
    import pyarrow as pa
    import pyarrow.csv as pv

    try:
        data = path.read_bytes()
        quoted = b'"' in data
        if quoted and b'"' in _QUOTED[sep].sub(b"", data):
            return None  # a quote outside a well-formed quoted cell: the two parsers differ there
        if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
            return None  # a carriage return that does not end a line: the two parsers split lines differently
        starts_blank = data[:1] in _BLANK_STARTS or _BLANK_START.search(data) is not None
        if starts_blank and _BLANKISH.search(data):
            return None  # a line of spaces or tabs only: pandas skips it as blank, pyarrow reads a cell
        end = data.find(b"\n")
        first = data[: end if end >= 0 else len(data)].removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        names = next(csv.reader([first], delimiter=sep), [])
        names = [n.removesuffix("\r") if i == len(names) - 1 else n for i, n in enumerate(names)]
        if not names or len(set(names)) != len(names) or any(n == "" for n in names):
            return None
        table = pv.read_csv(
            pa.BufferReader(data),
            # a line end inside a value needs quotes: without any, the parser can split the file at line ends
            parse_options=pv.ParseOptions(delimiter=sep, newlines_in_values=quoted),
            convert_options=pv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )  # fmt: skip
    except (pa.ArrowInvalid, UnicodeDecodeError, csv.Error, OSError):
        return None
    if table.column_names != names:
        return None
    return table.to_pandas()


def _date(text: str, where: str, col: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: {col} is {text!r}; it must be an ISO date YYYY-MM-DD") from None


def read_subject_table(path: Path) -> tuple[dict[str, SubjectInfo], list[str]]:
    """The optional subject table (spec/lesion-table.md). Returns infos and located error messages for
    rows that could not be used (those subjects are scored without reference dates)."""
    df, offset = read_frame(path)
    return subject_infos(df, str(path), offset)


def subject_infos(df: pd.DataFrame, source: str, offset: int) -> tuple[dict[str, SubjectInfo], list[str]]:
    """The subject table as a frame of text cells (``read_frame``); ``offset`` turns a 0-based frame index
    into the row number of ``source`` in messages."""
    if "subject_id" not in df.columns:
        raise InputError(
            f"{source}: missing required column subject_id; a subject table has the columns "
            f"{', '.join(SUBJECT_COLUMNS)}"
        )
    infos: dict[str, SubjectInfo] = {}
    problems: list[str] = []
    for i, row in enumerate(df.to_dict("records")):
        where = f"{source} row {i + offset}"
        sid = str(row.get("subject_id", "")).strip()
        if not sid:
            problems.append(f"{where}: subject_id is empty; row ignored")
            continue
        try:
            info = SubjectInfo(
                treatment_start_date=_date(str(row.get("treatment_start_date", "")), where, "treatment_start_date"),
                last_treatment_date=_date(str(row.get("last_treatment_date", "")), where, "last_treatment_date"),
                new_therapy_date=_date(str(row.get("new_therapy_date", "")), where, "new_therapy_date"),
                data_cut_date=_date(str(row.get("data_cut_date", "")), where, "data_cut_date"),
                tumor_type=str(row.get("tumor_type", "")).strip(),
            )
        except InputError as exc:
            problems.append(f"{exc} (subject {sid}: scored without its subject-table dates)")
            continue
        if sid in infos:
            problems.append(f"{where}: subject {sid} appears twice in the subject table; the first row is used")
            continue
        infos[sid] = info
    return infos, problems
