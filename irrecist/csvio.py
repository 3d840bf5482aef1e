"""Fast CSV text of a DataFrame, byte-identical to ``df.to_csv(index=False, lineterminator="\\n")``.

pandas hands every cell to Python's ``csv.writer`` (minimal quoting); here each column becomes an Arrow
string array of finished fields (formatted, quoted) and the rows are joined in C++ by
``pyarrow.compute.binary_join_element_wise``.

Handled natively (anything else falls back to pandas itself, so the bytes are always pandas'):

- column labels: a flat index of ``str`` labels, at least one column (the header goes through ``csv``);
- ``float64``: NaN empty; values formatted as numpy's ``astype(str)`` (what pandas uses, Python's ``repr``):
  Arrow's shortest round-trip digits where they are written without exponent (``.0`` added to integers) in
  ``1e-4 <= |x| < 1e15`` and for zeros, numpy for the rest (exponents, inf, huge and tiny values);
- every numpy integer dtype and the nullable ``Int*`` / ``UInt*`` (missing: empty), ``bool`` and nullable
  ``boolean`` (``True`` / ``False``);
- ``str`` / ``string`` dtypes (any storage; missing: empty);
- ``object`` columns of ``str`` and missing values (None, NaN, ``pd.NA``) through Arrow; other ``object``
  columns cell by cell when every cell is exactly a ``str``, ``int``, ``bool``, ``float``, ``datetime.date``,
  None, ``pd.NA`` or ``pd.NaT`` (as ``csv`` writes them: ``str``, ``repr`` for floats, empty when missing).

Falls back for other dtypes (datetimes, categoricals, ``float32``, nullable floats, Arrow-backed numeric
dtypes...), other cell types in ``object`` columns (numpy scalars, bytes, ``datetime``...), non-``str`` or
MultiIndex column labels, frames without columns, and text that is not valid Unicode.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from irrecist.threads import column_map

__all__ = ["NOT_NATIVE", "csv_bytes", "csv_pieces", "pandas_csv"]

_TEXT = pa.large_string()


def _csv_line(fields: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


# What ``csv.writer`` quotes in this Python, found by asking it (the rules moved between versions): the
# characters that force quotes, and whether a row of one empty field is written ``""``.
_QUOTE_CHARS = "".join(c for c in ',"\n\r\t\x0b\x0c\x00 ' if _csv_line([f"a{c}b", "x"]).startswith('"'))
_QUOTE_CODES = [ord(c) for c in _QUOTE_CHARS]  # all ASCII
_LONE_EMPTY = _csv_line([""]) == '""\n'
_MIDDLE_EMPTY_PLAIN = _csv_line(["", "x"]) == ",x\n"

_INT_DTYPES = (
    pd.Int8Dtype, pd.Int16Dtype, pd.Int32Dtype, pd.Int64Dtype,
    pd.UInt8Dtype, pd.UInt16Dtype, pd.UInt32Dtype, pd.UInt64Dtype,
)  # fmt: skip


_EMPTY = pa.scalar("", _TEXT)
_DOT_ZERO = pa.scalar(".0", _TEXT)
_FRACTIONS = pa.array(
    [f"{sign}.{i:0{d}d}" for sign in ("", "-0") for d in (1, 2, 3) for i in range(10**d)] + [""], _TEXT
)  # ".0" ... ".999", then "-0.0" ... "-0.999", then ""
_FRACTION_AT = np.array([0, 0, 10, 110], dtype=np.int64)  # where the fractions of d decimals start
_FRACTION_SIGNED = 1110  # from there, with "-0" before
_FRACTION_NONE = 2220  # ""


_TEXT_KINDS = {str, type(None), float, type(pd.NA)}
_DATE_KINDS = {date, type(None)}


class _Unhandled(Exception):
    """A column or frame the native writer does not reproduce exactly: use pandas."""


def _text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``arr`` as one large_string array without nulls (null: empty)."""
    if arr.type != _TEXT:
        arr = arr.cast(_TEXT)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr.fill_null("") if arr.null_count else arr


def _raw(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (``len(arr) + 1``) and the UTF-8 bytes of a large_string array, as numpy views."""
    _validity, offsets, data = arr.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if data is None or ends[-1] == ends[0]:
        return ends, np.zeros(0, dtype=np.uint8)
    return ends, np.frombuffer(data, dtype=np.uint8)[ends[0] : ends[-1]]


def _quoted(arr: pa.Array) -> pa.Array:
    """Minimal quoting: fields holding a delimiter, quote or line-end character in quotes, inner quotes doubled
    (looked for in the UTF-8 bytes: every such character is ASCII, so no byte of another character matches)."""
    ends, data = _raw(arr)
    hits = np.zeros(len(data), dtype=bool)
    for code in _QUOTE_CODES:
        hits |= data == code
    if not hits.any():
        return arr
    need = np.zeros(len(arr), dtype=bool)
    filled = ends[1:] > ends[:-1]  # empty fields hold no byte (and reduceat wants increasing starts)
    need[filled] = np.bitwise_or.reduceat(hits, ends[:-1][filled] - ends[0])
    inner = pc.replace_substring(arr, '"', '""') if (data == ord('"')).any() else arr
    quote = pa.scalar('"', _TEXT)
    return pc.if_else(need, pc.binary_join_element_wise(quote, inner, quote, _EMPTY), arr)


def _general_floats(values: np.ndarray) -> pa.Array:
    """float64 without NaN as numpy's ``astype(str)``: Arrow's shortest round-trip digits where Arrow writes
    them without exponent and Python would too (``1e-4 <= |x| < 1e15``, zeros; ``.0`` added to integers),
    numpy for the rest (exponents, inf)."""
    mag = np.abs(values)
    slow = ~(((mag >= 1e-4) & (mag < 1e15)) | (values == 0))
    text = pc.cast(pa.array(values), _TEXT)
    slow |= pc.match_substring(text, "e").to_numpy(zero_copy_only=False)  # many digits: Arrow's exponent
    no_dot = pc.invert(pc.match_substring(text, "."))
    if pc.any(no_dot).as_py():
        text = pc.if_else(no_dot, pc.binary_join_element_wise(text, _DOT_ZERO, _EMPTY), text)
    if slow.any():
        text = pc.replace_with_mask(text, pa.array(slow), pa.array(values[slow].astype(str), type=_TEXT))
    return text


def _floats(values: np.ndarray) -> pa.Array:
    """float64 as numpy's ``astype(str)``, NaN empty. Values of at most 3 decimals (``|x| < 1e12``) are written
    from integers: ``x`` is the double nearest to ``k / 10**d`` for the smallest such ``d``, so ``k / 10**d``
    with ``d`` decimals is its shortest round-trip text (the one repr writes, ``.0`` for integers); the rest
    go through ``_general_floats``."""
    nan = np.isnan(values)
    decimals = np.zeros(len(values), dtype=np.int64)
    scaled = np.zeros(len(values), dtype=np.int64)
    todo = ~nan & (np.abs(values) < 1e12)
    for d in (1, 2, 3):
        if not todo.any():
            break
        with np.errstate(over="ignore", invalid="ignore"):  # inf, huge: not ``todo``
            k = np.round(values * 10.0**d)
        hit = todo & (k / 10.0**d == values)
        decimals[hit] = d
        scaled[hit] = k[hit]
        todo &= ~hit
    short = decimals > 0
    rest = ~short & ~nan
    negative = np.signbit(values)
    whole, frac = np.divmod(np.abs(scaled), 10**decimals)
    # The integer part and the fraction's text: ``.5`` (``_FRACTIONS``), ``-0.5`` when the integer part is
    # -0 (lost on an integer), empty for NaN (and for the rest, replaced below).
    minus_zero = negative & (whole == 0)
    ints = pc.cast(pa.array(np.where(negative, -whole, whole), mask=~short | minus_zero), _TEXT)
    at = np.where(short, _FRACTION_AT[decimals] + frac + np.where(minus_zero, _FRACTION_SIGNED, 0), _FRACTION_NONE)
    # the fractions are never null, so no row is all null (``reasons.join_present``)
    text = pc.binary_join_element_wise(ints, _FRACTIONS.take(pa.array(at)), _EMPTY, null_handling="skip")
    if rest.any():
        text = pc.replace_with_mask(text, pa.array(rest), _general_floats(values[rest]))
    return _text(text)


def _cell(x: Any) -> str:
    """One ``object`` cell as pandas + ``csv`` write it (before quoting)."""
    kind = type(x)
    if kind is str:
        return x
    if x is None or x is pd.NA or x is pd.NaT:
        return ""
    if kind is float:
        return "" if x != x else repr(x)
    if kind is int or kind is bool or kind is date:
        return str(x)
    raise _Unhandled(kind.__name__)


def _objects(values: np.ndarray) -> pa.Array:
    """An ``object`` column: Arrow converts text (with None / NaN / ``pd.NA``) and dates (with None), exact types
    only (a ``datetime`` is a ``date`` to Arrow); anything else goes cell by cell."""
    kinds = set(map(type, values))
    if kinds <= _TEXT_KINDS:
        try:  # a float other than NaN is refused
            return _quoted(_text(pa.array(values, type=_TEXT, from_pandas=True)))
        except (pa.ArrowException, TypeError, ValueError):
            pass
    elif kinds <= _DATE_KINDS:
        return _text(pc.cast(pa.array(values, type=pa.date32()), _TEXT))
    return _quoted(pa.array([_cell(x) for x in values], type=_TEXT))


def _column(ser: pd.Series) -> pa.Array:
    """One column's fields, formatted and quoted."""
    dtype = ser.dtype
    if isinstance(dtype, np.dtype):
        values = ser.to_numpy()
        if dtype.kind == "f" and dtype.itemsize == 8:
            return _floats(values)
        if dtype.kind in "iu":
            return _text(pc.cast(pa.array(values), _TEXT))
        if dtype.kind == "b":
            return _text(pc.if_else(pa.array(values), pa.scalar("True", _TEXT), pa.scalar("False", _TEXT)))
        if dtype.kind == "O":
            return _objects(values)
    elif isinstance(dtype, pd.StringDtype):
        return _quoted(_text(pa.array(ser.array)))
    elif isinstance(dtype, _INT_DTYPES):
        return _text(pa.array(ser.array))
    elif isinstance(dtype, pd.BooleanDtype):
        flags = pa.array(ser.array)
        return _text(pc.if_else(flags, pa.scalar("True", _TEXT), pa.scalar("False", _TEXT)))
    raise _Unhandled(str(dtype))


ROWS_PER_PIECE = 1 << 17
"""Rows formatted at a time by ``csv_pieces``: a large table's text is never held whole (memory), and a block's
columns still fill the threads."""

NOT_NATIVE = (_Unhandled, UnicodeEncodeError, pa.ArrowException)
"""What ``csv_pieces`` raises for a frame it does not write natively: write ``pandas_csv`` instead."""


def _header(df: pd.DataFrame) -> bytes:
    labels = df.columns
    if labels.nlevels != 1 or len(labels) == 0 or any(type(c) is not str for c in labels):
        raise _Unhandled("column labels")
    if not (_LONE_EMPTY and _MIDDLE_EMPTY_PLAIN):
        raise _Unhandled("csv quoting of empty fields")
    return _csv_line(list(labels)).encode("utf-8")


def _rows(df: pd.DataFrame) -> memoryview:
    """The CSV lines of ``df``'s rows (at least one), each starting with its newline."""
    columns = column_map(_column, [df.iloc[:, i] for i in range(df.shape[1])])
    if len(columns) == 1:  # a row of one empty field is written as ""
        only = columns[0]
        columns[0] = pc.if_else(pc.equal(pc.binary_length(only), 0), pa.scalar('""', _TEXT), only)
    # every row after the header's line end, and its own line end before the next row: the newline joins the
    # first column (usually short), not the last (often the longest text of the table)
    columns[0] = pc.binary_join_element_wise(pa.scalar("\n", _TEXT), columns[0], _EMPTY)
    rows = pc.binary_join_element_wise(*columns, pa.scalar(",", _TEXT)) if len(columns) > 1 else columns[0]
    _validity, offsets, data = rows.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)
    start, stop = int(ends[rows.offset]), int(ends[rows.offset + len(rows)])
    return memoryview(data)[start:stop]


def csv_pieces(df: pd.DataFrame, rows_per_piece: int | None = None) -> Iterator[bytes | memoryview]:
    """``csv_bytes(df)`` in pieces, built ``rows_per_piece`` (default ``ROWS_PER_PIECE``) rows at a time as they
    are asked for; raises one of ``NOT_NATIVE`` (possibly after some pieces) where pandas has to write the
    frame."""
    rows_per_piece = rows_per_piece or ROWS_PER_PIECE
    header = _header(df)
    if len(df) == 0:
        yield header
        return
    yield header[:-1]
    for start in range(0, len(df), rows_per_piece):
        yield _rows(df.iloc[start : start + rows_per_piece])
    yield b"\n"


def pandas_csv(df: pd.DataFrame) -> bytes:
    """What pandas writes: ``df.to_csv(index=False, lineterminator="\\n")`` as UTF-8."""
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The bytes of df.to_csv(index=False, lineterminator="\\n"), built column-wise (UTF-8); see the module
    docstring for what is built natively and what is left to pandas."""
    try:
        return b"".join(csv_pieces(df))
    except NOT_NATIVE:
        return pandas_csv(df)
