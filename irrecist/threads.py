"""Column work spread over the machine's cores with threads.

Arrow compute kernels and numpy's large-array operations release the GIL, so independent columns (factorizing
a table's columns, formatting a CSV's fields) run side by side on threads; the results come back in order, so
the output does not depend on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Out = TypeVar("Out")

THREADS = max(1, min(4, os.cpu_count() or 1))
"""Threads for column work (at most 4: the columns are few and a thread more than the cores only waits)."""


def column_map(fn: Callable[[Item], Out], items: Iterable[Item]) -> list[Out]:
    """``[fn(x) for x in items]``, spread over ``THREADS`` threads; in order."""
    todo = list(items)
    if THREADS == 1 or len(todo) < 2:
        return [fn(x) for x in todo]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(fn, todo))


def side_by_side(*makers: Callable[[], Any]) -> list[Any]:
    """``[make() for make in makers]``, spread over threads like ``column_map``; in order."""
    return column_map(lambda make: make(), makers)
