"""``irrecist.csvio.csv_bytes`` against pandas: the same bytes as ``df.to_csv(index=False, lineterminator="\\n")``
for random frames, each quoting rule, the fallback paths and the real result tables of a scoring run."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.make_trial import make_table
from irrecist.cdisc import cdisc_frames
from irrecist.csvio import _floats, _Unhandled, csv_bytes, csv_pieces
from irrecist.output import subjects_frame, timepoints_frame
from irrecist.scoring import make_configs, score_paths


def pandas_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def assert_native(df: pd.DataFrame) -> None:
    """Built natively (no fallback) and byte-identical to pandas, in pieces of any number of rows (a large frame
    in three pieces, a small one also row by row)."""
    for rows in (None, 1, 2, 7) if len(df) <= 100 else (None, len(df) // 3 + 1):
        assert b"".join(csv_pieces(df, rows)) == pandas_bytes(df)
    assert csv_bytes(df) == pandas_bytes(df)


def assert_fallback(df: pd.DataFrame) -> None:
    """Left to pandas, still pandas' bytes."""
    with pytest.raises(_Unhandled):
        list(csv_pieces(df))
    assert csv_bytes(df) == pandas_bytes(df)


# --- random frames --------------------------------------------------------------------------------------

SPECIAL = [",", '"', "\n", "\r", "\r\n", " ", "\t", "\x00", "é", "∑", "😀", '""', ",,", "a,b", ' "x" ']
texts = st.one_of(
    st.lists(st.characters(codec="utf-8") | st.sampled_from(SPECIAL), max_size=6).map("".join),
    st.sampled_from(["", " ", "  padded  ", "NaN", "None", "True", "1.0", "-0.0"]),
)
SPECIAL_FLOATS = [
    math.nan, math.inf, -math.inf, 0.0, -0.0, 1e16, 1e15, 999999999999999.9, 1e-05, 1e-4, 0.0001234,
    0.30000000000000004, 5e-324, 1.7976931348623157e308, 1e12, 999999999999.999, -0.5, 0.05, 12.345,
]  # fmt: skip
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SPECIAL_FLOATS),
    st.integers(-(10**7), 10**7).map(lambda k: k / 10),
    st.integers(-(10**9), 10**9).map(lambda k: k / 1000),
    st.tuples(st.floats(-1e17, 1e17), st.integers(0, 6)).map(lambda t: round(t[0], t[1])),
)
missing = st.sampled_from([None, math.nan, pd.NA, pd.NaT])
cells = st.one_of(
    texts, missing, st.integers(-(2**70), 2**70), st.booleans(), floats,
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
)  # fmt: skip
names = st.one_of(texts, st.sampled_from(["a", "target_sum_mm", "a,b", 'say "hi"', "two\nlines", "cr\r", ""]))

ODD_CELLS = [np.float64(1.5), np.int64(3), b"by", Decimal("1.10"), datetime(2024, 1, 1, 5)]
Column = tuple[Callable[[int], st.SearchStrategy[Any]], bool]  # values of n rows, built natively


def _col(elements: st.SearchStrategy[Any], make: Callable[[list[Any]], Any]) -> Callable[[int], Any]:
    return lambda n: st.lists(elements, min_size=n, max_size=n).map(make)


COLUMNS: list[Column] = [
    (_col(floats, lambda v: np.array(v, dtype=np.float64)), True),
    (_col(st.integers(-(2**63), 2**63 - 1), lambda v: np.array(v, dtype=np.int64)), True),
    (_col(st.integers(0, 2**64 - 1), lambda v: np.array(v, dtype=np.uint64)), True),
    (_col(st.integers(-128, 127), lambda v: np.array(v, dtype=np.int8)), True),
    (_col(st.booleans(), lambda v: np.array(v, dtype=bool)), True),
    (_col(st.one_of(texts, missing), lambda v: pd.Series(v, dtype=object)), True),
    (_col(st.one_of(texts, st.none()), lambda v: pd.Series(v, dtype="str")), True),
    (_col(st.one_of(texts, st.none()), lambda v: pd.Series(v, dtype=pd.StringDtype("python"))), True),
    (_col(st.one_of(texts, st.none()), lambda v: pd.Series(v, dtype=pd.StringDtype("pyarrow"))), True),
    (_col(st.one_of(st.integers(-(2**63), 2**63 - 1), st.none()), lambda v: pd.Series(v, dtype="Int64")), True),
    (_col(st.one_of(st.booleans(), st.none()), lambda v: pd.Series(v, dtype="boolean")), True),
    (_col(st.one_of(st.dates(), st.none()), lambda v: pd.Series(v, dtype=object)), True),
    (_col(cells, lambda v: pd.Series(v, dtype=object)), True),
    # not built natively: pandas writes them
    (_col(st.floats(width=32), lambda v: np.array(v, dtype=np.float32)), False),
    (_col(st.one_of(floats, st.none()), lambda v: pd.Series(v, dtype="Float64")), False),
    (_col(st.datetimes(min_value=datetime(1900, 1, 1)), lambda v: np.array(v, dtype="datetime64[ns]")), False),
    (_col(st.sampled_from(["x", "y,z", None]), lambda v: pd.Series(v, dtype="category")), False),
    (_col(st.sampled_from(ODD_CELLS), lambda v: pd.Series(v, dtype=object)), False),
]  # fmt: skip


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, bool]:
    n = draw(st.integers(0, 50))
    kinds = draw(st.lists(st.sampled_from(COLUMNS), max_size=5))
    labels = draw(st.lists(names, min_size=len(kinds), max_size=len(kinds)))
    data = {i: draw(make(n)) for i, (make, _native) in enumerate(kinds)}
    df = pd.DataFrame(data, index=range(n))
    df.columns = pd.Index(labels, dtype=object) if labels else pd.RangeIndex(0)
    native = bool(kinds) and (n == 0 or all(ok for _make, ok in kinds))
    return df, native


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(frames())
def test_random_frames_give_pandas_bytes(case: tuple[pd.DataFrame, bool]) -> None:
    df, native = case
    want = pandas_bytes(df)
    assert csv_bytes(df) == want
    if native:
        for rows in (None, 1, 3):
            assert b"".join(csv_pieces(df, rows)) == want


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(floats, min_size=1, max_size=40))
def test_floats_as_numpy_writes_them(values: list[float]) -> None:
    v = np.array(values, dtype=np.float64)
    want = v.astype(str)
    want[np.isnan(v)] = ""
    assert _floats(v).to_pylist() == want.tolist()


def test_floats_on_a_million_values() -> None:
    """Random bit patterns and numbers of 0-6 decimals across every magnitude, against ``astype(str)``."""
    rng = np.random.default_rng(11)
    parts = [rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64)]
    for d in range(7):
        parts.append(np.round(10.0 ** rng.uniform(-5, 17, 100_000) * rng.choice([-1.0, 1.0], 100_000), d))
    parts.append(np.nextafter(rng.integers(-(10**6), 10**6, 100_000) / 10, np.inf))
    v = np.concatenate(parts)
    want = v.astype(str).astype(object)
    want[np.isnan(v)] = ""
    got = np.asarray(_floats(v).to_pylist(), dtype=object)
    assert (got == want).all(), v[got != want][:5]


# --- quoting rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("two\nlines", '"two\nlines"'),
        ("cr\ronly", "cr\ronly"),  # csv.writer does not quote a lone CR with lineterminator "\n"
        ("crlf\r\n", '"crlf\r\n"'),
        ("  spaces  ", "  spaces  "),
        ("tab\there", "tab\there"),
        ("", ""),
        ("é∑😀", "é∑😀"),
    ],
)
def test_each_quoting_rule(value: str, field: str) -> None:
    for dtype in (object, "str"):
        df = pd.DataFrame({"x": pd.Series([value], dtype=dtype), "y": [1]})
        assert_native(df)
        assert csv_bytes(df) == f"x,y\n{field},1\n".encode()


def test_a_lone_empty_field_is_quoted() -> None:
    df = pd.DataFrame({"": pd.Series(["", None, "a", math.nan], dtype=object)})
    assert_native(df)
    assert csv_bytes(df) == b'""\n""\n""\na\n""\n'
    assert_native(pd.DataFrame({"x": [math.nan, 1.5]}))
    assert_native(pd.DataFrame({"x": pd.Series([None, 2], dtype="Int64")}))


def test_header_labels_are_quoted_like_values() -> None:
    df = pd.DataFrame([[1, 2, 3, 4, 5]], columns=["a,b", 'q"', "n\nl", "c\r", " s "])
    assert_native(df)
    assert csv_bytes(df).split(b"1,2")[0] == b'"a,b","q""","n\nl",c\r, s \n'


def test_values_of_each_native_kind() -> None:
    df = pd.DataFrame(
        {
            "f": [1.0, -0.0, math.nan, math.inf, 1e16, 1e-05, 0.30000000000000004],
            "i": np.array([0, -1, 2**62, 5, 6, 7, 8], dtype=np.int64),
            "b": [True, False, True, False, True, False, True],
            "o": pd.Series(["x", None, math.nan, 3, 2.5, True, date(2024, 1, 2)], dtype=object),
            "s": pd.Series(["x", None, "", "y", "z", "w", "v"], dtype="str"),
            "I": pd.Series([1, None, 3, 4, 5, 6, 7], dtype="Int64"),
            "B": pd.Series([True, None, False, True, True, True, True], dtype="boolean"),
            "d": pd.Series([date(2024, 1, 2), None, date(1, 1, 1), None, None, None, None], dtype=object),
        }
    )
    assert_native(df)
    lines = csv_bytes(df).decode().split("\n")
    assert lines[1] == "1.0,0,True,x,x,1,True,2024-01-02"
    assert lines[2] == "-0.0,-1,False,,,,,"
    assert lines[4] == "inf,5,False,3,y,4,True,"
    assert lines[5] == "1e+16,6,True,2.5,z,5,True,"


def test_empty_frames() -> None:
    assert_native(pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype="datetime64[ns]")}))
    assert_fallback(pd.DataFrame())
    assert_fallback(pd.DataFrame(index=range(3)))


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"t": pd.to_datetime(pd.Series(["2024-01-01", None]))}),
        pd.DataFrame({"t": pd.to_timedelta(["1D", None])}),
        pd.DataFrame({"c": pd.Series(["a", None, "b,c"], dtype="category")}),
        pd.DataFrame({"f": np.array([0.1, 1e20], dtype=np.float32)}),
        pd.DataFrame({"f": pd.Series([0.1, None], dtype="Float64")}),
        pd.DataFrame({"f": pd.Series([0.1, None], dtype="double[pyarrow]")}),
        pd.DataFrame({"p": pd.period_range("2024-01", periods=2, freq="M")}),
        pd.DataFrame({"o": pd.Series([np.float64(1.5), np.int64(2)], dtype=object)}),
        pd.DataFrame({"o": pd.Series([b"bytes", "text"], dtype=object)}),
        pd.DataFrame({"o": pd.Series([datetime(2024, 1, 1, 5), date(2024, 1, 1)], dtype=object)}),
        pd.DataFrame({"o": pd.Series([Decimal("1.10"), None], dtype=object)}),
        pd.DataFrame({"o": pd.Series([(1, 2), "x"], dtype=object)}),
        pd.DataFrame([[1, 2]], columns=[0, 1]),
        pd.DataFrame([[1, 2]], columns=["a", None]),
        pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])),
    ],
)
def test_fallbacks_give_pandas_bytes(df: pd.DataFrame) -> None:
    assert_fallback(df)


def test_invalid_unicode_raises_as_pandas_does() -> None:
    df = pd.DataFrame({"x": pd.Series(["ok", "\ud800"], dtype=object)})
    with pytest.raises(UnicodeEncodeError):
        pandas_bytes(df)
    with pytest.raises(UnicodeEncodeError):
        csv_bytes(df)


def test_quoted_fields_among_empty_ones() -> None:
    values = ["", "a,b", "", "", 'q"', "", "plain", "", "n\nl", ""]
    assert_native(pd.DataFrame({"x": pd.Series(values, dtype="str"), "y": range(10)}))
    assert_native(pd.DataFrame({"x": pd.Series(values[:-1] + ["last,"], dtype=object), "y": range(10)}))


def test_frames_of_one_block() -> None:
    rng = np.random.default_rng(3)
    for block in (np.round(rng.normal(size=(30, 4)) * 100, 1), rng.normal(size=(30, 4)), rng.integers(-9, 9, (30, 4))):
        df = pd.DataFrame(block, columns=list("abcd"))
        assert_native(df)
        assert_native(df.iloc[::3, 1:])


def test_duplicate_labels_and_a_sliced_frame() -> None:
    df = pd.DataFrame([[1.5, "a,b", 3], [2.5, None, 4], [3.5, "c", 5]], columns=["x", "x", "y"])
    assert_native(df)
    assert_native(df.iloc[1:])
    big = pd.DataFrame({"s": pd.Series(["q,uote", "x"] * 50, dtype="str"), "f": np.arange(100) / 10})
    assert_native(big.iloc[37:91])


# --- the real result tables -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    path = tmp_path_factory.mktemp("csvio") / "trial.csv"
    make_table(300).to_csv(path, index=False)
    run = score_paths([Path(path)], make_configs(["irrecist", "recist1.1"]))
    return {"timepoints": timepoints_frame(run), "subjects": subjects_frame(run), **cdisc_frames(run, studyid="S,1")}


@pytest.mark.parametrize("name", ["timepoints", "subjects", "tu", "tr", "rs", "adrs"])
def test_result_tables_are_built_natively_with_pandas_bytes(run_frames: dict[str, pd.DataFrame], name: str) -> None:
    df = run_frames[name]
    assert len(df) > 0
    assert_native(df)


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"a": ["x", 'say "hi", then go'], "b": [1.5, None]}),
        pd.DataFrame({"only": ["", "x", ""]}),  # a lone empty field is written ""
        pd.DataFrame({"a": pd.Series([], dtype=float)}),  # the header alone
    ],
)
def test_write_csv_writes_pandas_bytes_in_pieces(tmp_path: Path, df: pd.DataFrame) -> None:
    from irrecist.files import write_csv

    write_csv(df, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == pandas_bytes(df) == csv_bytes(df)


def test_write_csv_starts_again_with_pandas_when_a_later_block_is_not_native(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are formatted a block at a time; when a later block holds a cell csvio does not write (here bytes in
    an object column), the blocks already written are dropped and pandas writes the whole table."""
    import irrecist.csvio as csvio
    from irrecist.files import write_csv

    monkeypatch.setattr(csvio, "ROWS_PER_PIECE", 2)
    df = pd.DataFrame({"a": pd.Series(["x", "y", "z", b"raw"], dtype=object), "b": [1, 2, 3, 4]})
    pieces = csvio.csv_pieces(df)
    assert next(pieces) == b"a,b" and bytes(next(pieces)) == b"\nx,1\ny,2"  # the first block is native
    with pytest.raises(_Unhandled):
        next(pieces)
    write_csv(df, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == pandas_bytes(df) == csv_bytes(df)
