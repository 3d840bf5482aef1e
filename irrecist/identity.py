"""Lesion identity across objects, studies and readers, and the user's lesion mapping table.

Within one subject, rows are the same lesion when they share a Tracking Unique Identifier (DCM 112040,
PS3.16 TID 1501/1410/1411; SEG Tracking UID, PS3.3 C.8.20.4) or a name: the reader's ``lesion_id``, which
each reader takes from the Tracking Identifier (DCM 112039) first and the label (Finding, segment label, ROI
name, AIM name, caliper text) second. UIDs alone are not trusted across studies (OHIF/Cornerstone writes a new
one on every export), so names link studies. Last comes the mapping table (``label -> lesion_id, role, organ,
nodal``, optionally keyed by ``subject_id``): it renames lesions, links labels that differ between studies, and
fills role, organ and nodal where the files left them empty.

Conflicts are reported, never resolved silently: one lesion with two ids (rows linked by UID but named
differently, or a lesion whose labels map to two ids), one id with two organs, and mapping values that
disagree with what the files say (the files' value is kept).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from irrecist.columns import ROLES
from irrecist.errors import Level, Problem
from irrecist.lesions.table import read_frame

MAP_COLUMNS = ["label", "lesion_id", "role", "organ", "nodal"]
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
Row = dict[str, Any]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _key(value: Any) -> str:
    return " ".join(_text(value).casefold().split())


def parse_bool(value: Any) -> bool | None:
    """``true``/``false`` (and yes/no/1/0) as a bool; None when empty or unknown."""
    if isinstance(value, bool):
        return value
    s = _key(value)
    return True if s in _TRUE else False if s in _FALSE else None


@dataclass(frozen=True)
class MapEntry:
    label: str
    lesion_id: str
    role: str = ""
    organ: str = ""
    nodal: bool | None = None
    subject_id: str = ""
    source: str = ""


@dataclass
class LesionMap:
    """The user's lesion mapping, in file order."""

    entries: list[MapEntry] = field(default_factory=list)
    used: set[int] = field(default_factory=set)

    def lookup(self, subject: str, names: Iterable[str]) -> list[tuple[int, MapEntry]]:
        """Entries whose label equals one of ``names``: this subject's entries first, then unkeyed ones."""
        keys = {_key(n) for n in names if _text(n)}
        hits = [(i, e) for i, e in enumerate(self.entries) if _key(e.label) in keys]
        own = [(i, e) for i, e in hits if e.subject_id == subject]
        return own or [(i, e) for i, e in hits if not e.subject_id]


def is_lesion_map(columns: Iterable[str]) -> bool:
    cols = set(columns)
    return {"label", "lesion_id"} <= cols and "long_axis_mm" not in cols


def read_lesion_map(path: Path) -> tuple[LesionMap, list[Problem]]:
    """Read a mapping table (``label, lesion_id`` required; ``role, organ, nodal, subject_id`` optional)."""
    df, offset = read_frame(path)
    out, problems = LesionMap(), []
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path} row {i + offset}"
        label, lesion = _text(row.get("label")), _text(row.get("lesion_id"))
        subject = _text(row.get("subject_id"))
        warning = partial(Problem, Level.WARNING, where, subject, lesion)
        if not label or not lesion:
            problems.append(warning(message="label or lesion_id is empty: row ignored"))
            continue
        role = _key(row.get("role"))
        if role and role not in ROLES:
            problems.append(warning(message=f"role is {role!r}; allowed: {', '.join(ROLES)}: role ignored"))
            role = ""
        nodal_text = _text(row.get("nodal"))
        nodal = parse_bool(nodal_text)
        if nodal_text and nodal is None:
            problems.append(warning(message=f"nodal is {nodal_text!r}; allowed: true, false: nodal ignored"))
        out.entries.append(MapEntry(label, lesion, role, _text(row.get("organ")), nodal, subject, where))
    return out, problems


def link_name(row: Row) -> str:
    """The name that links rows: the reader's lesion id (its tracking identifier, else its label), unless the
    reader fell back to the tracking UID because the object names no lesion."""
    name = _text(row.get("lesion_id"))
    return "" if name == _text(row.get("tracking_uid")) else name


def row_names(row: Row) -> list[str]:
    """Every name a row carries, for the mapping table: its link name, tracking identifier and label."""
    uid = _text(row.get("tracking_uid"))
    names = [link_name(row), _text(row.get("tracking_id")), _text(row.get("label"))]
    return [n for n in dict.fromkeys(names) if n and n != uid]


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def assign_lesion_ids(rows: list[Row], lmap: LesionMap | None = None) -> list[Problem]:
    """Give every row its lesion id (in place); fill role/organ/nodal from the map; return the conflicts."""
    lmap = lmap or LesionMap()
    problems: list[Problem] = []
    by_subject: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_subject.setdefault(_text(row.get("subject_id")), []).append(i)
    for subject, idx in by_subject.items():
        problems.extend(_assign_subject(subject, [rows[i] for i in idx], lmap))
    for i, e in enumerate(lmap.entries):
        if i not in lmap.used:
            problems.append(
                Problem(
                    Level.INFO,
                    e.source,
                    e.subject_id,
                    e.lesion_id,
                    message=(f"mapping entry for label {e.label!r} matched no lesion"),
                )
            )
    return problems


def _assign_subject(subject: str, rows: list[Row], lmap: LesionMap) -> list[Problem]:
    problems: list[Problem] = []
    uf = _Union(len(rows))
    owner: dict[tuple[str, str], int] = {}
    mapped: list[list[tuple[int, MapEntry]]] = []
    for i, row in enumerate(rows):
        names = row_names(row)
        hits = lmap.lookup(subject, names)
        mapped.append(hits)
        keys = [("uid", _text(row.get("tracking_uid"))), ("name", _key(link_name(row)))]
        keys += [("map", _key(e.lesion_id)) for _, e in hits]
        for k in keys:
            if k[1]:
                uf.join(i, owner.setdefault(k, i))
    clusters: dict[int, list[int]] = {}
    for i in range(len(rows)):
        clusters.setdefault(uf.find(i), []).append(i)
    for members in clusters.values():
        hits = sorted({h for i in members for h in mapped[i]}, key=lambda h: h[0])
        where = "; ".join(dict.fromkeys(_text(rows[i].get("source")) for i in members))
        entry = hits[0][1] if hits else None
        for n, _ in hits:
            lmap.used.add(n)
        ids = list(dict.fromkeys(e.lesion_id for _, e in hits))
        if len(ids) > 1:
            problems.append(
                Problem(
                    Level.WARNING,
                    where,
                    subject,
                    ids[0],
                    message=(
                        f"one lesion, two ids: its labels map to {ids}; {ids[0]!r} (first in the mapping table) is used"
                    ),
                )
            )
        lesion_id = entry.lesion_id if entry is not None else _chosen_name(rows, members, subject, where, problems)
        for i in members:
            row = rows[i]
            row["lesion_id"] = lesion_id or _text(row.get("lesion_id")) or None
            if entry is not None:
                _fill(row, entry, subject, problems)
    return problems


def _chosen_name(rows: list[Row], members: list[int], subject: str, where: str, problems: list[Problem]) -> str:
    """The most common reader id of a cluster (ties: the earliest row); a conflict line when they differ."""
    ids = [(_text(rows[i].get("date")) or "9999", i, _text(rows[i].get("lesion_id"))) for i in members]
    counts = Counter(_key(x[2]) for x in ids if x[2])
    if not counts:
        return ""
    best = max(counts.values())
    chosen = next(x[2] for x in sorted(ids) if x[2] and counts[_key(x[2])] == best)
    if len(counts) > 1:
        names = sorted({x[2] for x in ids if x[2]})
        problems.append(
            Problem(
                Level.WARNING,
                where,
                subject,
                chosen,
                message=(
                    f"one lesion, two ids: rows linked by tracking UID or identifier are named {names}; {chosen!r} is "
                    "used (give a mapping table to choose)"
                ),
            )
        )
    return chosen


def _fill(row: Row, entry: MapEntry, subject: str, problems: list[Problem]) -> None:
    """Role, organ and nodal from the mapping where the files left them empty; disagreements reported."""
    lesion = _text(row.get("lesion_id"))
    for col, value in (("role", entry.role), ("organ", entry.organ), ("nodal", entry.nodal)):
        if value is None or value == "":
            continue
        have = row.get(col)
        # nodal false is also the table's default, so a reader's false does not contradict the mapping's true
        empty = have is None or _text(have) == "" or (col == "nodal" and parse_bool(have) is False)
        if empty:
            row[col] = value
        elif (parse_bool(have) if col == "nodal" else _key(have)) != (value if col == "nodal" else _key(value)):
            problems.append(
                Problem(
                    Level.WARNING,
                    _text(row.get("source")),
                    subject,
                    lesion,
                    message=(
                        f"{col} is {have!r} in the file but {value!r} in the mapping table ({entry.source}); "
                        "the file's value is kept"
                    ),
                )
            )


def organ_conflicts(rows: Iterable[Row]) -> list[Problem]:
    """One lesion id with two organs (per subject; case and spacing ignored)."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        lesion, organ = _text(row.get("lesion_id")), _text(row.get("organ"))
        if lesion and organ:
            seen.setdefault((_text(row.get("subject_id")), lesion), {}).setdefault(
                _key(organ), _text(row.get("source"))
            )
    out = []
    for (subject, lesion), organs in seen.items():
        if len(organs) > 1:
            listing = "; ".join(f"{o!r} ({s})" for o, s in organs.items())
            out.append(
                Problem(
                    Level.WARNING,
                    next(iter(organs.values())),
                    subject,
                    lesion,
                    message=(
                        f"one id, two organs: lesion {lesion} is in {listing}; correct the organ or the lesion id"
                    ),
                )
            )
    return out
