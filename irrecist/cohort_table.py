"""From the lesion table straight to a ``Cohort``: the checks of ``irrecist.lesion_table`` as column operations.

spec/lesion-table.md (the columns, and "Bad input"): ``build_cohort`` gives what
``from_records(build_subjects(...).records)`` gives, with the same problems in the same order and the same
failed subjects, without one Python object per row. Each column is reduced to codes into its distinct values,
so every text check runs once per distinct value; the per-row checks, the duplicate checks, the identity
checks over (subject, reader, lesion) and the jump warning are array operations, with Python loops over the
flagged rows only. A subject with anything rare (an error, a fragment, a merge) goes whole through the
row-by-row builder (``_RowContext.build``), so its problems and its record are exactly the reference ones;
the two parts are then put back in subject order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from irrecist.cohort import (
    NEW,
    NONTARGET,
    S_EQUIVOCAL,
    S_MERGED,
    S_PRESENT,
    S_UNEQUIVOCAL,
    BoolArray,
    Cohort,
    IntArray,
    from_records,
    row_places,
)
from irrecist.cohort import ROLES as ROLE_CODES
from irrecist.cohort import STATUSES as STATUS_CODES
from irrecist.columns import LESION_COLUMNS, MERGED_PREFIX, ROLES, STATUSES, UNITS
from irrecist.errors import InputError, Level, Problem
from irrecist.lesion_table import (
    _FALSE,
    _FRAGMENT,
    _ROLE,
    _STATUS,
    _TRUE,
    JUMP_FACTOR,
    MAX_MM,
    _RowContext,
    check_columns,
)
from irrecist.model import SubjectInfo, SubjectRecord
from irrecist.rules.baseline import organ_key
from irrecist.rules.config import CriterionConfig
from irrecist.threads import column_map

ObjArray = NDArray[np.object_]
_NO_ROLE, _BAD_ROLE = -1, -2
_AXES = ("long_axis_mm", "short_axis_mm", "slice_thickness_mm")
_ONE_KEY = 2.0**62
"""Rows are sorted on one integer key while the product of the key widths stays below this, else on four."""


def build_cohort(
    df: pd.DataFrame,
    source: str,
    config: CriterionConfig,
    *,
    row_offset: int = 2,
    info: dict[str, SubjectInfo] | None = None,
) -> tuple[Cohort, list[Problem], dict[tuple[str, str], str]]:
    """Validate a lesion table (spec/lesion-table.md, "Bad input") and build its cohort, one entity per subject
    and reader: equal to ``from_records(build_subjects(...).records)``, with ``build_subjects``' problems and
    failed subjects. ``row_offset`` turns a 0-based frame index into the file's row number."""
    check_columns(list(df.columns), source)
    df = df.reset_index(drop=True)
    n = len(df)
    texts = column_map(lambda c: _text(df[c] if c in df.columns else None, n), LESION_COLUMNS)
    col = dict(zip(LESION_COLUMNS, texts, strict=True))
    chk = _check_rows(col, n)
    locs = _Locations(df, source, row_offset)
    problems = _no_subject_problems(col, locs)
    order, ent, starts = _groups(col, chk)
    _check_duplicates(col, chk, order, ent)
    flagged, les, jumps = _screen(col, chk, config, order, ent, starts)
    rare = np.zeros(len(starts) - 1, dtype=bool)  # per entity: built row by row
    rare[ent[flagged]] = True
    warnings = _jump_warnings(col, locs, order, ent, jumps, rare)
    rare_rows = order[rare[ent]]
    ctx = _row_context(col, chk, config, locs, rare_rows)
    rare_list = rare_rows.tolist()
    first_rare = np.cumsum(rare) - 1  # compact rows of entity e start at the rows of the rare entities before it
    rare_start = np.append(0, np.cumsum(np.diff(starts)[rare]))
    infos = info or {}
    records: list[SubjectRecord] = []
    record_ent: list[int] = []
    failed: dict[tuple[str, str], str] = {}
    report = rare.copy()
    report[list(warnings)] = True
    subj, reader = col["subject_id"], col["reader"]
    for e in np.flatnonzero(report).tolist():  # problems in entity order, as build_subjects reports them
        if not rare[e]:
            problems.extend(warnings[e][0])
            continue
        k = int(first_rare[e])
        rows = list(range(int(rare_start[k]), int(rare_start[k + 1])))
        sid, rd = str(subj.at(rare_list[rows[0]])), str(reader.at(rare_list[rows[0]]))
        found: list[Problem] = []
        try:
            rec = ctx.build(sid, rd, rows, found)
            _relocate(rec, rare_list)
            rec.info = infos.get(sid, SubjectInfo())
            records.append(rec)
            record_ent.append(e)
        except InputError as exc:
            failed[(sid, rd)] = str(exc)
        problems.extend(found)
    kept = ~rare
    kept[record_ent] = True
    final = np.cumsum(kept) - 1
    clean = _clean_cohort(col, chk, config, locs, order, ent, starts, les, rare, infos, warnings)
    parts = [(clean, final[~rare]), (from_records(records), final[np.asarray(record_ent, dtype=np.int64)])]
    return _interleave(parts, int(kept.sum())), problems, failed


@dataclass
class _Text:
    """One column of the table as codes into its distinct values (stripped as ``build_subjects`` strips)."""

    codes: IntArray
    values: pd.Series  # distinct stripped values, in the dtype of the table's text
    text: ObjArray  # the same values as Python objects

    def at(self, i: int) -> Any:
        return self.text[self.codes[i]]

    def per_row(self, per_value: NDArray[Any]) -> NDArray[Any]:
        return per_value[self.codes]


def _text(series: pd.Series | None, n: int) -> _Text:
    """Codes and distinct values of ``series.astype(str).str.strip()`` (a missing column is all empty)."""
    if series is None:
        return _Text(np.zeros(n, np.int64), pd.Series([""], dtype=object).astype(str), _objects([""]))
    codes, uniques = series.astype(str).factorize(use_na_sentinel=False)
    stripped = pd.Series(uniques).str.strip()
    codes2, uniques2 = stripped.factorize(use_na_sentinel=False)
    return _Text(np.asarray(codes2, np.int64)[codes], pd.Series(uniques2), _objects(list(uniques2)))


def _objects(values: list[Any]) -> ObjArray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _bool(s: pd.Series) -> BoolArray:
    return np.asarray(s.to_numpy(dtype=bool, na_value=False), dtype=bool)


def _ranks(text: ObjArray) -> IntArray:
    """Position of each distinct value in sorted order (Python string order, as ``np.lexsort`` on objects)."""
    order = sorted(range(len(text)), key=text.__getitem__)
    ranks = np.empty(len(text), np.int64)
    ranks[order] = np.arange(len(text), dtype=np.int64)
    return ranks


def _first_seen(codes: IntArray) -> BoolArray:
    """True where a code appears for the first time (codes numbered in order of first appearance)."""
    first = np.ones(len(codes), dtype=bool)
    if len(codes) > 1:
        top = np.maximum.accumulate(codes)
        first[1:] = top[1:] > top[:-1]
    return first


def _changes(*keys: IntArray) -> BoolArray:
    """True where any of the (sorted) keys differs from the row before, and on the first row."""
    n = len(keys[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for k in keys:
            new[1:] |= k[1:] != k[:-1]
    return new


@dataclass
class _Checked:
    """The row checks of ``build_subjects`` (spec/lesion-table.md, "Bad input") and the values they give."""

    date_rank: IntArray  # per row: rank of the date among the table's dates (invalid dates rank last)
    date_of_rank: ObjArray  # the date of each rank
    dates_u: ObjArray  # date (or None) of each distinct date text
    role_code: IntArray  # per row: index into cohort.ROLES, _NO_ROLE or _BAD_ROLE
    status_code: IntArray  # per row: index into cohort.STATUSES (-1: not a status)
    status_u: ObjArray  # status as the row builder reads it, per distinct status text
    nodal_u: BoolArray  # per distinct nodal text
    um: dict[str, IntArray]  # per row: micrometres, -1 when not recorded (or invalid)
    errors: dict[int, list[str]]  # row -> messages, in the order build_subjects finds them
    any_error: BoolArray  # per row

    def flag(self, mask: BoolArray, msg_fn: Callable[[int], str]) -> None:
        """Record ``msg_fn(row)`` for every row where ``mask`` is set (rows in table order)."""
        idx = np.flatnonzero(mask)
        if len(idx):
            self.any_error[idx] = True
            for i in idx.tolist():
                self.errors.setdefault(i, []).append(msg_fn(i))


def _check_rows(col: dict[str, _Text], n: int) -> _Checked:
    """The per-row checks of ``build_subjects``, each on the distinct values of its column."""
    d, tp, role, st, unit, nod = (col[c] for c in ("date", "timepoint", "role", "status", "unit", "nodal"))
    parsed = pd.to_datetime(d.values, format="%Y-%m-%d", errors="coerce")
    nat_u = _bool(parsed.isna())
    dates_u = _objects([None if x is pd.NaT else x for x in parsed.dt.date.tolist()])
    days, inverse = np.unique(parsed.to_numpy()[~nat_u], return_inverse=True)
    rank_u = np.full(len(nat_u), len(days), np.int64)
    rank_u[~nat_u] = np.asarray(inverse, np.int64).reshape(-1)
    date_of_rank = np.empty(len(days), dtype=object)
    date_of_rank[rank_u[~nat_u]] = dates_u[~nat_u]
    low = st.values.str.lower()
    merged_u = _bool(low.str.startswith(MERGED_PREFIX))
    st_ok_u = _bool(low.isin(("",) + STATUSES)) | merged_u
    status_u = np.where(merged_u, _objects(st.values.tolist()), _objects(low.tolist()))
    role_code_u = np.array([_role_code(r) for r in role.text.tolist()], dtype=np.int64)
    status_code_u = np.array([_status_code(s, ok) for s, ok in zip(status_u.tolist(), st_ok_u.tolist(), strict=True)],
                             dtype=np.int64)  # fmt: skip
    nod_low = nod.values.str.lower()
    chk = _Checked(
        d.per_row(rank_u),
        date_of_rank,
        dates_u,
        role.per_row(role_code_u),
        st.per_row(status_code_u),
        _objects(status_u.tolist()),
        _bool(nod_low.isin(_TRUE)),
        {},
        {},
        np.zeros(n, dtype=bool),
    )
    flag = chk.flag
    flag(d.per_row(nat_u), lambda i: f"date is {d.at(i)!r}; it must be an ISO date YYYY-MM-DD")
    flag(tp.per_row(_bool(tp.values == "")), lambda i: "timepoint is empty; a visit label is required")
    flag(role.per_row(~_bool(role.values.isin(("",) + ROLES))),
         lambda i: f"role is {role.at(i)!r}; allowed: {', '.join(ROLES)}")  # fmt: skip
    flag(st.per_row(~st_ok_u),
         lambda i: f"status is {st.at(i)!r}; allowed: {', '.join(STATUSES)}, {MERGED_PREFIX}<lesion_id>")  # fmt: skip
    unit_low = unit.values.str.lower()
    unit_text = _objects(unit_low.tolist())
    flag(unit.per_row(~_bool(unit_low.isin(("",) + UNITS))), lambda i: f"unit is {unit.at(i)!r}; allowed: mm, cm")
    flag(nod.per_row(~_bool(nod_low.isin(_TRUE | _FALSE))), lambda i: f"nodal is {nod.at(i)!r}; allowed: true, false")
    factor = np.where(unit.per_row(_bool(unit_low == "cm")), 10000.0, 1000.0)
    for name in _AXES:
        c = col[name]
        vals = c.per_row(pd.to_numeric(c.values.where(c.values != "", None), errors="coerce").to_numpy(dtype=float))
        given = c.per_row(_bool(c.values != ""))
        finite = np.isfinite(vals)
        bad, negative, too_big = _axis_messages(name, c, unit, unit_text)
        flag(given & ~finite, bad)
        flag(given & finite & (vals < 0), negative)
        with np.errstate(over="ignore", invalid="ignore"):
            huge = given & finite & (vals * factor > MAX_MM * 1000)
        flag(huge, too_big)
        ok = finite & (vals >= 0) & ~huge
        chk.um[name] = np.where(ok, np.rint(np.where(ok, vals, 0.0) * factor), -1).astype(np.int64)
    return chk


def _axis_messages(
    name: str, c: _Text, unit: _Text, unit_text: ObjArray
) -> tuple[Callable[[int], str], Callable[[int], str], Callable[[int], str]]:
    """The messages of ``build_subjects`` for a length that is not a number, negative, or too large."""
    limit = f"it must be a number >= 0 and at most {MAX_MM} mm"
    return (
        lambda i: f"{name} is {c.at(i)!r}; it must be a number >= 0",
        lambda i: f"{name} is {c.at(i)}; it must be a number >= 0",
        lambda i: f"{name} is {c.at(i)} {unit_text[unit.codes[i]] or 'mm'}; {limit}",
    )


def _role_code(text: str) -> int:
    if text == "":
        return _NO_ROLE
    role = _ROLE.get(text)
    return _BAD_ROLE if role is None else ROLE_CODES.index(role)


def _status_code(text: str, ok: bool) -> int:
    if not ok:
        return -1
    status = _STATUS.get(text)
    return S_MERGED if status is None else STATUS_CODES.index(status)


def _check_duplicates(col: dict[str, _Text], chk: _Checked, order: IntArray, ent: IntArray) -> None:
    """``_flag_duplicates`` on the sorted rows: one date per visit label, one label per date, one row per lesion
    and assessment (spec/lesion-table.md). Rows without a subject are left out: they are never built."""
    tp, lid, d = col["timepoint"], col["lesion_id"], col["date"]
    n, m = len(chk.any_error), len(order)
    if not m:
        return
    d_o, t_o = chk.date_rank[order], tp.codes[order]
    valid = d_o < len(chk.date_of_rank)
    label = np.asarray(pd.factorize(ent * len(tp.text) + t_o)[0], np.int64)  # (subject, reader, timepoint)
    lo = np.full(int(label.max()) + 1, len(chk.date_of_rank), np.int64)
    hi = np.full(len(lo), -1, np.int64)
    np.minimum.at(lo, label[valid], d_o[valid])
    np.maximum.at(hi, label[valid], d_o[valid])
    bad = hi[label] > lo[label]
    group = np.full(n, -1, np.int64)
    group[order] = label
    days: dict[int, set[str]] = {}
    for k in np.flatnonzero(bad).tolist():
        day = chk.dates_u[d.codes[order[k]]]
        days.setdefault(int(label[k]), set()).update(() if day is None else (str(day),))
    chk.flag(_scatter(bad, order, n), lambda i: f"timepoint {tp.at(i)!r} is used on "
             f"{' and '.join(sorted(days[int(group[i])]))}; a visit label must be unique per date")  # fmt: skip
    visit = _changes(ent, d_o)  # (subject, reader, date), in date order
    starts = np.flatnonzero(visit)
    run = np.cumsum(visit) - 1
    two = (np.minimum.reduceat(t_o, starts) != np.maximum.reduceat(t_o, starts))[run] & valid
    group[order] = run
    labels: dict[int, set[str]] = {}
    for k in np.flatnonzero(two).tolist():
        labels.setdefault(int(run[k]), set()).add(tp.at(int(order[k])))

    def two_labels(i: int) -> str:
        both = " and ".join(repr(x) for x in sorted(labels[int(group[i])]))
        return f"date {chk.dates_u[d.codes[i]]} carries two timepoint labels ({both}); one label per date"

    chk.flag(_scatter(two, order, n), two_labels)
    dup = ~_changes(ent, d_o, lid.codes[order]) & lid.per_row(lid.text != "")[order]
    twice = "one row per lesion and assessment"
    chk.flag(_scatter(dup, order, n), lambda i: f"lesion {lid.at(i)} appears twice at {tp.at(i)}; {twice}")


def _scatter(mask: BoolArray, order: IntArray, n: int) -> BoolArray:
    """A mask over the sorted rows as a mask over the table's rows."""
    out = np.zeros(n, dtype=bool)
    out[order[mask]] = True
    return out


class _Locations:
    """``_RowContext.where`` for many rows at once: the file and row of each table row."""

    def __init__(self, df: pd.DataFrame, source: str, row_offset: int) -> None:
        self.df, self.source, self.row_offset = df, source, row_offset
        self.merged = "__src" in df.columns and "__row" in df.columns

    def of(self, rows: IntArray) -> list[str]:
        if self.merged:
            src, row = self.df["__src"].take(rows), self.df["__row"].take(rows)
            return [f"{a} row {b}" for a, b in zip(src, row, strict=True)]
        return [f"{self.source} row {i + self.row_offset}" for i in rows.tolist()]

    def later(self, rows: IntArray) -> Sequence[str]:
        """``of(rows)``, written out when read (one table: ``row_places``)."""
        return self.of(rows) if self.merged else row_places(self.source, rows + self.row_offset)


def _no_subject_problems(col: dict[str, _Text], locs: _Locations) -> list[Problem]:
    """Rows without a subject, reported and dropped (first in the report, as ``build_subjects`` does)."""
    s = col["subject_id"]
    rows = np.flatnonzero(s.per_row(s.text == ""))
    if not len(rows):
        return []
    lid, tp, df = col["lesion_id"], col["timepoint"], locs.df
    out = []
    for i in rows.tolist():
        where = f"{df['__src'][i]} row {df['__row'][i]}" if locs.merged else f"{locs.source} row {i + locs.row_offset}"
        out.append(Problem(Level.ERROR, where, "", lid.at(i), tp.at(i),
                           "subject_id is empty; every row needs a subject: row dropped"))  # fmt: skip
    return out


def _groups(col: dict[str, _Text], chk: _Checked) -> tuple[IntArray, IntArray, IntArray]:
    """Rows with a subject in ``build_subjects``' order (subject, reader, date, lesion; stable), the entity of
    each, and the start of each entity (with the end appended)."""
    s, r, lid = col["subject_id"], col["reader"], col["lesion_id"]
    sel = np.flatnonzero(s.per_row(s.text != ""))
    keys = [s.per_row(_ranks(s.text))[sel], r.per_row(_ranks(r.text))[sel], chk.date_rank[sel],
            lid.per_row(_ranks(lid.text))[sel]]  # fmt: skip
    widths = [len(s.text), len(r.text), len(chk.date_of_rank) + 1, len(lid.text)]
    if float(np.prod(np.asarray(widths, dtype=float))) < _ONE_KEY:
        key = keys[0]
        for k, w in zip(keys[1:], widths[1:], strict=True):
            key = key * w + k
        order = sel[np.argsort(key, kind="stable")]
    else:
        order = sel[np.lexsort(keys[::-1])]
    new = _changes(s.codes[order], r.codes[order])
    ent = np.cumsum(new) - 1
    return order, ent, np.append(np.flatnonzero(new), len(order)).astype(np.int64)


@dataclass
class _Lesions:
    """Lesions of all entities over the sorted rows: ``rows`` are the sorted positions with a lesion id,
    ``code`` the lesion of each (numbered in order of first appearance), ``first`` the position of each
    lesion's first row."""

    rows: IntArray
    code: IntArray
    first: IntArray


@dataclass
class _Jumps:
    """Measures that change by ``JUMP_FACTOR`` or more: sorted positions of the row and of the lesion's row
    before, and the two values (micrometres); in sorted order."""

    row: IntArray
    before: IntArray
    value: IntArray
    value_before: IntArray


def _screen(
    col: dict[str, _Text], chk: _Checked, config: CriterionConfig, order: IntArray, ent: IntArray, starts: IntArray
) -> tuple[BoolArray, _Lesions, _Jumps]:
    """The checks of ``_RowContext.build`` on the sorted rows: where a subject needs the row-by-row builder
    (an error, a fragment, a merge), the lesions, and the jumps to warn about."""
    m = len(order)
    flagged = chk.any_error[order]
    d_o = chk.date_rank[order]
    first_d = d_o[starts[:-1]][ent] if m else d_o
    tp = col["timepoint"]
    is_base = np.array([t.strip().lower() == "baseline" for t in tp.text.tolist()], dtype=bool)
    flagged |= is_base[tp.codes[order]] & (d_o != first_d)
    lid = col["lesion_id"]
    l_o = lid.codes[order]
    width = len(lid.text)
    parent_u = _parents(lid.text)
    cand = np.flatnonzero(parent_u[l_o] >= 0)
    if len(cand):
        hit = np.isin(ent[cand] * width + parent_u[l_o[cand]], ent * width + l_o)
        flagged[cand[hit]] = True
    hl = np.flatnonzero(lid.per_row(lid.text != "")[order])
    code = np.asarray(pd.factorize(ent[hl] * width + l_o[hl])[0], np.int64)  # in order of first appearance
    is_first = _first_seen(code)
    first = hl[is_first]
    f = first[code]  # per lesion row: its lesion's first row
    role = chk.role_code[order]
    r_h, f_role = role[hl], role[f]
    flagged[hl] |= is_first & ((r_h == _NO_ROLE) | ((d_o[hl] != first_d[hl]) & (r_h != NEW)))
    flagged[hl] |= ~is_first & (r_h != _NO_ROLE) & (r_h != f_role)
    nod = col["nodal"]
    f_nodal = chk.nodal_u[nod.codes[order][f]]
    org = col["organ"]
    o_o = org.codes[order]
    cand = np.flatnonzero(~is_first & org.per_row(org.text != "")[order][hl] & (o_o[hl] != o_o[f]))
    if len(cand):
        keys: dict[tuple[str, bool], str] = {}

        def okey(text: str, nodal: bool) -> str:
            k = keys.get((text, nodal))
            if k is None:
                k = keys[(text, nodal)] = organ_key(text, nodal, config)
            return k

        here, there, nodal = o_o[hl[cand]].tolist(), o_o[f[cand]].tolist(), f_nodal[cand].tolist()
        differ = [okey(org.text[a], b) != okey(org.text[c], b) for a, c, b in zip(here, there, nodal, strict=True)]
        flagged[hl[cand[np.asarray(differ, dtype=bool)]]] = True
    st = chk.status_code[order][hl]
    long_h, short_h = chk.um["long_axis_mm"][order][hl], chk.um["short_axis_mm"][order][hl]
    value = np.where(f_nodal, short_h, long_h)
    flagged[hl] |= (
        (st == S_MERGED)
        | ((st == S_PRESENT) & (f_role != NONTARGET) & (value < 0))
        | ((st == S_UNEQUIVOCAL) & (f_role != NONTARGET))
        | ((st == S_EQUIVOCAL) & (f_role != NEW))
    )
    measured = np.flatnonzero((f_role != NONTARGET) & (value > 0))
    by_lesion = measured[np.argsort(code[measured], kind="stable")]
    v, c = value[by_lesion], code[by_lesion]
    jump = np.flatnonzero((c[1:] == c[:-1]) & ((v[1:] >= v[:-1] * JUMP_FACTOR) | (v[1:] * JUMP_FACTOR <= v[:-1])))
    cur, prev = by_lesion[jump + 1], by_lesion[jump]
    at = np.argsort(cur, kind="stable")
    cur, prev = cur[at], prev[at]
    jumps = _Jumps(hl[cur], hl[prev], value[cur], value[prev])
    return flagged, _Lesions(hl, code, first), jumps


def _parents(ids: ObjArray) -> IntArray:
    """For each distinct lesion id that names a fragment (``T4.1``), the code of the id it names, else -1."""
    index = {v: k for k, v in enumerate(ids.tolist())}
    out = np.full(len(ids), -1, np.int64)
    for k, v in enumerate(ids.tolist()):
        if "." in v:
            m = _FRAGMENT.match(v)
            if m is not None:
                out[k] = index.get(m.group(1), -1)
    return out


Warnings = dict[int, tuple[list[Problem], list[tuple[str, str, str]]]]


def _jump_warnings(col: dict[str, _Text], locs: _Locations, order: IntArray, ent: IntArray, jumps: _Jumps,
                   rare_ent: BoolArray) -> Warnings:  # fmt: skip
    """``_RowContext._jumps`` for the subjects built here: per entity, the warnings (problems, and the record's
    QC findings) on a target or new lesion whose measure changes by ``JUMP_FACTOR`` or more."""
    out: Warnings = {}
    keep = np.flatnonzero(~rare_ent[ent[jumps.row]])
    if not len(keep):
        return out
    cur, before = jumps.row[keep], jumps.before[keep]
    s, lid, tp = col["subject_id"], col["lesion_id"], col["timepoint"]
    rows, rows_before = order[cur], order[before]
    found = zip(ent[cur].tolist(), rows.tolist(), rows_before.tolist(), jumps.value[keep].tolist(),
                jumps.value_before[keep].tolist(), locs.of(rows), strict=True)  # fmt: skip
    for e, i, j, v, p, where in found:
        name, at = lid.at(i), tp.at(i)
        msg = (
            f"{name} changes from {p / 1000:g} mm at {tp.at(j)} to {v / 1000:g} mm at "
            f"{at} (x{v / p:.1f}); check the unit (cm/mm mix-up?): kept as recorded"
        )
        problems, qc = out.setdefault(e, ([], []))
        problems.append(Problem(Level.WARNING, where, s.at(i), name, at, msg))
        qc.append((name, at, msg))
    return out


def _row_context(
    col: dict[str, _Text], chk: _Checked, config: CriterionConfig, locs: _Locations, rows: IntArray
) -> _RowContext:
    """The row-by-row builder's context over ``rows`` only (the rows of the subjects it builds), renumbered
    ``0 .. len(rows) - 1``; ``_relocate`` gives the built observations their table rows back."""
    at = rows

    def text(name: str) -> list[str]:
        c = col[name]
        return c.text[c.codes[at]].tolist()

    cols = {name: text(name) for name in ("timepoint", "lesion_id", "role", "organ", "source")}
    d, st, nod = col["date"], col["status"], col["nodal"]
    errors = {k: chk.errors[i] for k, i in enumerate(rows.tolist()) if i in chk.errors}
    where = locs.of(rows)
    return _RowContext(
        locs.source,
        locs.row_offset,
        cols,
        chk.dates_u[d.codes[at]].tolist(),
        chk.status_u[st.codes[at]].tolist(),
        chk.nodal_u[nod.codes[at]].tolist(),
        {name: chk.um[name][at].tolist() for name in _AXES},
        errors,
        config,
        where,
    )


def _relocate(rec: SubjectRecord, rows: list[int]) -> None:
    """Observations built over renumbered rows (``_row_context``) get their table rows back."""
    for a in rec.assessments:
        for obs in a.observations.values():
            obs.row = rows[obs.row]


def _clean_cohort(
    col: dict[str, _Text],
    chk: _Checked,
    config: CriterionConfig,
    locs: _Locations,
    order: IntArray,
    ent: IntArray,
    starts: IntArray,
    les: _Lesions,
    rare_ent: BoolArray,
    infos: dict[str, SubjectInfo],
    warnings: Warnings,
) -> Cohort:
    """The subjects without anything rare, as ``from_records`` would give them (entities numbered among
    themselves): assessments by date, lesions by first appearance, observations in row order."""
    keep_e = np.flatnonzero(~rare_ent)
    local = np.cumsum(~rare_ent) - 1
    sel = np.flatnonzero(~rare_ent[ent])
    rows, e_sel, d_sel = order[sel], ent[sel], chk.date_rank[order[sel]]
    new_a = _changes(e_sel, d_sel)
    a_rows = rows[new_a]
    a_id = np.cumsum(new_a) - 1
    tp, lid, org, s, r = col["timepoint"], col["lesion_id"], col["organ"], col["subject_id"], col["reader"]
    keep_rows = ~rare_ent[ent[les.rows]]
    first = les.first[~rare_ent[ent[les.first]]]
    renumber = np.cumsum(~rare_ent[ent[les.first]]) - 1
    f_rows = order[first]
    f_nodal = chk.nodal_u[col["nodal"].codes[f_rows]]
    pair = org.codes[f_rows] * 2 + f_nodal  # organ_key once per (organ, nodal)
    pairs, at = np.unique(pair, return_inverse=True)
    keys = _objects([organ_key(org.text[p // 2], bool(p % 2), config) for p in pairs.tolist()])
    o_pos = les.rows[keep_rows]  # sorted positions of the observations
    o_rows = order[o_pos]
    position = np.full(len(order), -1, np.int64)
    position[sel] = a_id
    e_rows = order[starts[:-1][keep_e]]
    n_obs = len(o_rows)
    merged_into: list[str | None] = [None] * n_obs
    no_info = SubjectInfo()
    return Cohort(
        s.text[s.codes[e_rows]].tolist(),
        r.text[r.codes[e_rows]].tolist(),
        [infos.get(sid, no_info) for sid in s.text[s.codes[e_rows]].tolist()],
        [warnings[e][1] if e in warnings else [] for e in keep_e.tolist()],
        local[e_sel[new_a]].astype(np.int64),
        chk.date_of_rank[d_sel[new_a]].tolist(),
        tp.text[tp.codes[a_rows]].tolist(),
        locs.later(a_rows),
        local[ent[first]].astype(np.int64),
        lid.text[lid.codes[f_rows]].tolist(),
        chk.role_code[f_rows].astype(np.int64),
        f_nodal.astype(bool),
        org.text[org.codes[f_rows]].tolist(),
        keys[np.asarray(at, np.int64).reshape(-1)].tolist(),
        position[o_pos],
        renumber[les.code[keep_rows]].astype(np.int64),
        chk.status_code[o_rows].astype(np.int64),
        chk.um["long_axis_mm"][o_rows],
        chk.um["short_axis_mm"][o_rows],
        chk.um["slice_thickness_mm"][o_rows],
        merged_into,
        o_rows.astype(np.int64),
        [""] * n_obs,
    )


def _take(values: list[Any], perm: IntArray) -> list[Any]:
    return _objects(values)[perm].tolist()


def _interleave(parts: list[tuple[Cohort, IntArray]], n: int) -> Cohort:
    """Cohorts whose entities go to the given final positions (together ``0 .. n-1``), as one cohort."""
    parts = [(c, pos) for c, pos in parts if c.n_entities]
    if len(parts) == 1 and np.array_equal(parts[0][1], np.arange(n)):
        return parts[0][0]
    if not parts:
        return from_records([])

    def cat(get: Callable[[Cohort], Any]) -> Any:
        values = [get(c) for c, _ in parts]
        if isinstance(values[0], list):
            return [v for part in values for v in part]
        return np.concatenate(values)

    def entities(get: Callable[[Cohort], list[Any]]) -> list[Any]:
        out: list[Any] = [None] * n
        for c, pos in parts:
            for p, v in zip(pos.tolist(), get(c), strict=True):
                out[p] = v
        return out

    a_at = np.concatenate([pos[c.a_entity] for c, pos in parts])
    l_at = np.concatenate([pos[c.l_entity] for c, pos in parts])
    a_perm, l_perm = np.argsort(a_at, kind="stable"), np.argsort(l_at, kind="stable")
    a_new, l_new = np.empty_like(a_perm), np.empty_like(l_perm)
    a_new[a_perm] = np.arange(len(a_perm))
    l_new[l_perm] = np.arange(len(l_perm))
    a_off = np.cumsum([0] + [len(c.a_date) for c, _ in parts])
    l_off = np.cumsum([0] + [len(c.l_id) for c, _ in parts])
    o_a = a_new[np.concatenate([c.o_assessment + a_off[k] for k, (c, _) in enumerate(parts)])]
    o_l = l_new[np.concatenate([c.o_lesion + l_off[k] for k, (c, _) in enumerate(parts)])]
    o_perm = np.argsort(o_a, kind="stable")
    return Cohort(
        entities(lambda c: c.subject_id),
        entities(lambda c: c.reader),
        entities(lambda c: c.info),
        entities(lambda c: c.warnings),
        a_at[a_perm],
        _take(cat(lambda c: c.a_date), a_perm),
        _take(cat(lambda c: c.a_label), a_perm),
        _take(cat(lambda c: list(c.a_source)), a_perm),
        l_at[l_perm],
        _take(cat(lambda c: c.l_id), l_perm),
        cat(lambda c: c.l_role)[l_perm],
        cat(lambda c: c.l_nodal)[l_perm],
        _take(cat(lambda c: c.l_organ), l_perm),
        _take(cat(lambda c: c.l_organ_key), l_perm),
        o_a[o_perm],
        o_l[o_perm],
        cat(lambda c: c.o_status)[o_perm],
        cat(lambda c: c.o_long)[o_perm],
        cat(lambda c: c.o_short)[o_perm],
        cat(lambda c: c.o_slice)[o_perm],
        _take(cat(lambda c: c.o_merged_into), o_perm),
        cat(lambda c: c.o_row)[o_perm],
        _take(cat(lambda c: c.o_source), o_perm),
    )
