"""``irrecist.threads.column_map``: results in input order whatever finishes first, and the outputs built with
it (a lesion table's cohort, CSV text) are the same with one thread and with several."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import irrecist.threads as threads
from irrecist.csvio import csv_bytes


def test_results_come_back_in_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "THREADS", 4)

    def slow_first(x: int) -> int:
        time.sleep(0.02 * (5 - x))  # the first item finishes last
        return x * x

    assert threads.column_map(slow_first, range(5)) == [0, 1, 4, 9, 16]


def test_csv_text_is_the_same_with_one_thread_and_with_four(monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.DataFrame({"a": [1.5, None, 2.0], "b": ["x,y", 'say "hi"', ""], "c": [1, 2, 3]})
    monkeypatch.setattr(threads, "THREADS", 1)
    one = csv_bytes(df)
    monkeypatch.setattr(threads, "THREADS", 4)
    assert csv_bytes(df) == one == df.to_csv(index=False, lineterminator="\n").encode()
