"""The reason of every assessment, built for all assessments at once (the engine's ``reason`` column).

A reason reads: the numbers (the burden against the baseline and the nadir, or the baseline line), each rule
that applied (new lesions, missing members, PR persistence, non-target findings, reappearance after CR), the
call (``target PR, non-target NON-CR/NON-PD, new lesions no: irPR``), then what the later passes add
(irPD confirmation, RECIST back-dating), joined with ``"; "``. The numbers and the call are formatted on
arrays with ``pyarrow.compute``, exactly as ``fmt_mm`` and one-decimal percentages would format each value
(tested); the rules that applied are few and kept per assessment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irrecist.cohort import IntArray


def _by_distinct(values: IntArray, fmt: Callable[[IntArray], pa.Array]) -> pa.Array:
    """``fmt(values)``, formatting each distinct value once (burdens, nadirs and percentages repeat a lot)."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return fmt(distinct).take(pa.array(inverse.reshape(-1)))


def mm_text(um: IntArray) -> pa.Array:
    """``fmt_mm`` of every (non-negative) value: whole millimetres, a point, then the micrometres without
    trailing zeros (at least one digit): 12000 -> "12.0", 12340 -> "12.34", 5 -> "0.005"."""
    return _by_distinct(um, _mm_text)


def _mm_text(um: IntArray) -> pa.Array:
    whole = pc.cast(pa.array(um // 1000), pa.string())
    part = um % 1000
    digits = pc.utf8_rtrim(pc.utf8_lpad(pc.cast(pa.array(part), pa.string()), 3, "0"), "0")
    digits = pc.if_else(pa.array(part == 0), "0", digits)
    return pc.binary_join_element_wise(whole, digits, ".")


def tenths_text(tenths: IntArray) -> pa.Array:
    """``f"{t / 10:+.1f}"`` of every value given in tenths: 229 -> "+22.9", -5 -> "-0.5", 0 -> "+0.0"."""
    return _by_distinct(tenths, _tenths_text)


def _tenths_text(tenths: IntArray) -> pa.Array:
    sign = pa.array(np.where(tenths >= 0, "+", "-"))
    size = np.abs(tenths)
    whole = pc.cast(pa.array(size // 10), pa.string())
    digit = pc.cast(pa.array(size % 10), pa.string())
    return pc.binary_join_element_wise(sign, pc.binary_join_element_wise(whole, digit, "."), "")


def pct_tenths_array(value: IntArray, reference: IntArray) -> IntArray:
    """``pct_tenths`` elementwise (the reference must be > 0 where the result is used; 1 is put elsewhere)."""
    ref = np.where(reference > 0, reference, 1)
    num = (value - ref) * 1000
    q, rem = np.divmod(np.abs(num), ref)
    q = q + (2 * rem >= ref)
    return np.where(num >= 0, q, -q)


def words(values: list[str], codes: IntArray) -> pa.Array:
    """``values[code]`` for every code, ``""`` for -1 (a baseline has no category or response)."""
    return pa.array(values + [""], pa.string()).take(pa.array(np.where(codes < 0, len(values), codes)))


def concat(*parts: pa.Array | str) -> pa.Array:
    """Strings joined piece by piece (a null piece makes the result null)."""
    return pc.binary_join_element_wise(*parts, "")


Texts = list[tuple[pa.Array, IntArray]]
"""Parts of a reason for some assessments: texts, and each assessment's position in them (-1 for none)."""


@dataclass
class Reasons:
    """The reason of each assessment in parts (indexed like ``Cohort.a_*``). The numbers and the call are kept
    as the texts of the assessments that have one, with each assessment's position in them, so that every
    text is copied once, when the column is written."""

    lead: Texts  # the baseline line, or the numbers (at most one per assessment)
    rules: dict[int, list[str]]  # the rules that applied, in order (only assessments with any)
    call: Texts  # the call (follow-ups only)
    later: dict[int, list[str]] = field(default_factory=dict)  # confirmation and back-dating, in order

    def add(self, a: int, text: str) -> None:
        """Append a later pass's reason to assessment ``a``."""
        self.later.setdefault(a, []).append(text)

    @cached_property
    def _texts(self) -> tuple[list[tuple[list[str], IntArray]], list[tuple[list[str], IntArray]]]:
        return [(t.to_pylist(), at) for t, at in self.lead], [(t.to_pylist(), at) for t, at in self.call]

    def of(self, a: int) -> list[str]:
        """Assessment ``a``'s reasons, in order."""
        leads, calls = self._texts
        out = [texts[at[a]] for texts, at in leads if at[a] >= 0]
        out.extend(self.rules.get(a, ()))
        out.extend(texts[at[a]] for texts, at in calls if at[a] >= 0)
        out.extend(self.later.get(a, ()))
        return out

    def text(self, index: IntArray) -> pa.Array:
        """The reasons of the assessments ``index``, each joined with ``"; "``."""
        lead = [texts_at(t, at[index]) for t, at in self.lead]
        call = [texts_at(t, at[index]) for t, at in self.call]
        parts = [*lead, _sparse(self.rules, index), *call, _sparse(self.later, index)]
        return join_present(parts, "; ")


def join_present(parts: list[pa.Array], sep: str) -> pa.Array:
    """Each row's non-null parts joined with ``sep`` (empty where every part is null). pyarrow's
    ``binary_join_element_wise(..., null_handling="skip")`` leaves such rows out of its result altogether
    (pyarrow 26; reported as narwhals-dev/narwhals#3965), so they are given an empty part first."""
    none = np.ones(len(parts[0]), dtype=bool)
    for part in parts:
        if part.null_count == 0:
            return pc.binary_join_element_wise(*parts, sep, null_handling="skip")
        none &= part.is_null().to_numpy(zero_copy_only=False)
    if none.any():
        parts = [*parts, pc.if_else(pa.array(none), pa.scalar("", pa.string()), pa.scalar(None, pa.string()))]
    return pc.binary_join_element_wise(*parts, sep, null_handling="skip")


def texts_at(texts: pa.Array, at: IntArray) -> pa.Array:
    """``texts[at]``, null where ``at`` is -1."""
    return texts.take(pa.array(np.maximum(at, 0), mask=at < 0))


def _sparse(parts: dict[int, list[str]], index: IntArray) -> pa.Array:
    """``"; "``-joined parts of the assessments ``index`` (null where an assessment has none)."""
    if not parts:
        return pa.nulls(len(index), pa.string())
    keys = np.fromiter(parts, dtype=np.int64, count=len(parts))
    position = np.full(max(int(index.max(initial=-1)), int(keys.max())) + 1, -1, dtype=np.int64)
    position[index] = np.arange(len(index), dtype=np.int64)
    values: list[str | None] = [None] * len(index)
    for a, i in zip(keys.tolist(), position[keys].tolist(), strict=True):
        if i >= 0:
            values[i] = "; ".join(parts[a])
    return pa.array(values, pa.string())
