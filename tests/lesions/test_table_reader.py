"""The lesion-table reader's fast path (pyarrow's CSV parser) gives exactly the frame pandas' parser gives, and
hands every file it cannot read the same way to pandas (spec/lesion-table.md: every cell is text)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irrecist.errors import InputError
from irrecist.lesions.table import _read_text_arrow, read_frame

CELL = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t1.-é')), max_size=6)


def _pandas(path: Path, sep: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, sep=sep, encoding="utf-8-sig")


def _csv_text(rows: list[list[str]], sep: str) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in f'{sep}"\n\r') else cell

    return "".join(sep.join(quote(c) for c in row) + "\n" for row in rows)


@given(
    header=st.lists(st.text(alphabet="abcxyz_", min_size=1, max_size=4), min_size=1, max_size=4, unique=True),
    body=st.lists(st.lists(CELL, min_size=0, max_size=5), max_size=8),
    sep=st.sampled_from([",", "\t"]),
    bom=st.booleans(),
    crlf=st.booleans(),
    raw=st.booleans(),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fast_reader_equals_pandas_or_steps_aside(
    tmp_path: Path, header: list[str], body: list[list[str]], sep: str, bom: bool, crlf: bool, raw: bool
) -> None:
    """Random tables (quotes, separators, newlines and carriage returns inside cells, ragged rows, blank lines,
    a byte-order mark, CRLF, unquoted raw text): when the fast path reads a file, its frame equals pandas'."""
    rows = [header] + [r[: len(header)] if not raw else r for r in body]
    text = _csv_text(rows, sep) if not raw else "".join(sep.join(r) + "\n" for r in rows)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path / ("t.tsv" if sep == "\t" else "t.csv")
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    fast = _read_text_arrow(path, sep)
    try:
        want = _pandas(path, sep)
    except (ValueError, UnicodeDecodeError):
        assert fast is None  # pandas refuses it: the fast path must not have read it
        return
    if fast is not None:
        pd.testing.assert_frame_equal(fast, want)


def test_a_ragged_file_is_left_to_pandas(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("subject_id,timepoint\nS1,baseline,extra\n", encoding="utf-8")
    assert _read_text_arrow(path, ",") is None
    pd.testing.assert_frame_equal(read_frame(path)[0], _pandas(path, ","))


def test_a_carriage_return_inside_a_line_is_left_to_pandas(tmp_path: Path) -> None:
    """pandas ends a line at a lone CR, pyarrow reads it as a cell (found by the property test above)."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"_,a\n\r,\n")
    assert _read_text_arrow(path, ",") is None
    pd.testing.assert_frame_equal(read_frame(path)[0], _pandas(path, ","))
    path.write_bytes(b"_,a\r\nx,y\r\n")  # CRLF line ends are read by the fast path
    fast = _read_text_arrow(path, ",")
    assert fast is not None and fast.values.tolist() == [["x", "y"]]


def test_an_unterminated_quote_is_left_to_pandas_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('subject_id,timepoint\nS1,"baseline\n', encoding="utf-8")
    assert _read_text_arrow(path, ",") is None
    with pytest.raises(InputError, match=r"t\.csv: cannot be read as a csv table"):
        read_frame(path)


def test_duplicate_header_names_are_left_to_pandas(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,a\n1,2\n", encoding="utf-8")
    assert _read_text_arrow(path, ",") is None
    df, offset = read_frame(path)
    assert list(df.columns) == ["a", "a.1"] and offset == 2


def test_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('subject_id,long_axis_mm,nodal\n007,"12,5",\nNA,1e3,TRUE\n', encoding="utf-8")
    df, _ = read_frame(path)
    assert df.to_dict("list") == {"subject_id": ["007", "NA"], "long_axis_mm": ["12,5", "1e3"], "nodal": ["", "TRUE"]}


def test_quoted_cells_are_read_by_the_fast_path(tmp_path: Path) -> None:
    """Commas, doubled quotes and line breaks inside quoted cells, a BOM and CRLF: the fast path reads it."""
    path = tmp_path / "t.csv"
    text = 'subject_id,organ,status\r\n001,"lymph node, left","a ""b"""\r\n002,"two\nlines",\r\n\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    fast = _read_text_arrow(path, ",")
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _pandas(path, ","))
    assert fast["organ"].tolist() == ["lymph node, left", "two\nlines"] and fast["status"].tolist() == ['a "b"', ""]
