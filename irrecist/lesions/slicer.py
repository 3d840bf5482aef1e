"""3D Slicer line markups (``.mrk.json``) with a sidecar naming subject, visit and lesion.

Markups JSON (Slicer ``markups-schema-v1.0.x.json``): ``markups[]`` each with ``type`` (only ``Line`` is
read), ``name``, ``coordinateSystem`` (``LPS`` default, or ``RAS``: x and y negated to get LPS),
``coordinateUnits`` (``mm`` default, ``um``), ``controlPoints[].position`` (3 numbers) with ``positionStatus``
(``defined`` default) and optional ``measurements[]`` (``length``). The length is the distance of the two
defined control points in patient space (mm); a stored ``length`` measurement that differs by more than
1 mm is reported.

A markups file carries no patient, study or lesion identity, so it needs a **sidecar** beside it, inside the
input folder (a sidecar that resolves outside that folder, e.g. through a symlink, is refused):

``<name>.sidecar.json`` for ``<name>.mrk.json``::

    {"subject_id": "003", "timepoint": "week 8", "date": "2024-03-01", "reader": "R1",
     "lesion_id": "T1", "role": "target", "organ": "liver", "nodal": false}

A file holding several lines names them in ``lesions`` (``markup`` = the markup's ``name`` or its 0-based
index in ``markups[]``); a lesion key given at the top level is the default for every entry::

    {"subject_id": "003", "timepoint": "baseline", "date": "2024-01-10",
     "lesions": [{"markup": "L1", "lesion_id": "T1", "organ": "lung", "role": "target"},
                 {"markup": 1, "lesion_id": "N1", "organ": "lymph node", "nodal": true, "axis": "short"}]}

``axis`` is ``long`` (default) or ``short``: two lines with the same ``lesion_id``, one per axis, make one
row (a bidimensional node). ``<name>.sidecar.csv`` is the same as a table: columns ``subject_id, timepoint,
date, reader, markup, lesion_id, role, organ, nodal, axis``, one row per line (``markup`` may be empty when
the file holds one line); ``subject_id``, ``timepoint``, ``date`` and ``reader`` must agree across rows.

Each line is also returned as a :class:`~irrecist.lesions.base.MeasuredLine` in patient coordinates (LPS, mm)
naming no image; the extraction draws it on the image of that subject and scan date whose plane holds it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from irrecist.columns import ROLES
from irrecist.errors import Level, Problem
from irrecist.lesions.base import PATIENT, MeasuredLine, Point3, ReadResult
from irrecist.lesions.gsps import empty_row

DISAGREEMENT_MM = 1.0
MAX_BYTES = 20_000_000
COMMON_KEYS = ("subject_id", "timepoint", "date", "reader")
LESION_KEYS = ("lesion_id", "role", "organ", "nodal", "axis")
_UNITS = {"mm": 1.0, "um": 0.001}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}
Sink = Callable[[Level, str], None]


def _is_markups(obj: Any) -> bool:
    return isinstance(obj, str | Path) and str(obj).lower().endswith(".mrk.json")


def _stem(path: Path) -> str:
    return path.name[: -len(".mrk.json")]


def _unit_factor(units: Any) -> float | None:
    code = units[0] if isinstance(units, list) and units else units
    return _UNITS.get(str(code).strip()) if code is not None else 1.0


class SlicerReader:
    """Reads 3D Slicer line markups plus their sidecar into lesion-table rows."""

    name = "slicer"

    def __init__(self, input_folder: str | Path | None = None) -> None:
        """``input_folder``: sidecars must resolve inside it (default: the markups file's own folder)."""
        self.input_folder = Path(input_folder) if input_folder is not None else None

    def can_read(self, obj: Any) -> bool:
        return _is_markups(obj) and Path(obj).is_file()

    def read(self, obj: Any) -> ReadResult:
        result = ReadResult()
        path = Path(str(obj))
        if not _is_markups(obj):
            result.problems.append(
                Problem(Level.ERROR, source=str(obj), message="not a .mrk.json markups file")
            )
            return result
        try:
            self._read(path, result)
        except Exception as exc:  # malformed content: report, never raise
            result.problems.append(
                Problem(
                    Level.ERROR,
                    source=str(path),
                    message=f"malformed markups file: {type(exc).__name__}: {exc}",
                )
            )
        return result

    # -- internals -------------------------------------------------------------------------------------

    def _read(self, path: Path, result: ReadResult) -> None:
        ctx = {"subject_id": "", "timepoint": ""}

        def problem(level: Level, message: str, source: str = str(path), lesion: str = "") -> None:
            result.problems.append(Problem(level, source=source, lesion_id=lesion, message=message, **ctx))

        try:
            if path.stat().st_size > MAX_BYTES:
                problem(Level.ERROR, f"file is over {MAX_BYTES} bytes; not read")
                return
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem(Level.ERROR, f"not a readable JSON file: {exc}")
            return
        markups = doc.get("markups") if isinstance(doc, dict) else None
        if not isinstance(markups, list):
            problem(Level.ERROR, "no 'markups' list: not a 3D Slicer markups file")
            return
        lines: list[tuple[int, dict[str, Any], tuple[float, Point3, Point3]]] = []
        for i, mk in enumerate(markups):
            where = f"{path}#markups[{i}]"
            if not isinstance(mk, dict):
                problem(Level.ERROR, "markup is not a JSON object", where)
                continue
            if mk.get("type") != "Line":
                problem(Level.INFO, f"markup of type {mk.get('type')!r} is not a line: not read", where)
                continue
            measured = self._line_points(mk, partial(problem, source=where))
            if measured is not None:
                lines.append((i, mk, measured))
        if not lines:
            problem(Level.WARNING, "no line markup with two defined control points: nothing read")
            return
        common, entries = self._sidecar(path, lambda lv, msg: problem(lv, msg))
        ctx.update(subject_id=common.get("subject_id") or "", timepoint=common.get("timepoint") or "")
        rows: dict[str, dict[str, Any]] = {}
        for i, mk, (length, start, end) in lines:
            where = f"{path}#markups[{i}]"
            name = str(mk.get("name") or "")
            entry = self._entry_for(i, name, entries, len(lines))
            lesion = _clean(entry.get("lesion_id"))
            if entries is not None and lesion is None:
                hint = (
                    f" (the file holds {len(lines)} lines: name each in 'lesions')" if len(lines) > 1 else ""
                )
                problem(Level.ERROR, f"the sidecar names no lesion_id for this line{hint}", where)
            axis = str(entry.get("axis") or "long").strip().lower()
            if axis not in ("long", "short"):
                problem(Level.ERROR, f"axis is {axis!r}; it must be 'long' or 'short'", where, lesion or "")
                continue
            column = "long_axis_mm" if axis == "long" else "short_axis_mm"
            key = lesion if lesion is not None else where
            row = rows.get(key)
            if row is None:
                row = empty_row()
                row.update(
                    subject_id=common.get("subject_id"),
                    timepoint=common.get("timepoint"),
                    date=common.get("date"),
                    reader=common.get("reader"),
                    lesion_id=lesion,
                    role=_clean(entry.get("role")),
                    organ=_clean(entry.get("organ")),
                    nodal=_nodal(entry.get("nodal"), partial(problem, source=where)),
                    status="present",
                    unit="mm",
                    source=where,
                    label=name or None,
                )
                if row["role"] is not None and row["role"] not in ROLES:
                    problem(Level.WARNING, f"role {row['role']!r} is not one of {', '.join(ROLES)}", where)
                rows[key] = row
            elif row[column] is not None:
                problem(
                    Level.ERROR,
                    f"lesion {lesion} has two {axis}-axis lines; the first is kept",
                    where,
                    lesion or "",
                )
                continue
            else:
                row["source"] = f"{row['source']},{where.rsplit('#', 1)[1]}"
            row[column] = length
            # patient-space line on no named image: the extraction finds the slice it lies on
            result.lines.append(MeasuredLine(list(rows).index(key), axis, "", None, start, end, PATIENT))
        result.rows.extend(rows.values())

    @staticmethod
    def _line_points(mk: dict[str, Any], problem: Sink) -> tuple[float, Point3, Point3] | None:
        """Distance of the two defined control points in mm, and the points (LPS, mm; RAS has x and y
        negated)."""
        system = str(mk.get("coordinateSystem") or "LPS").upper()
        if system not in ("LPS", "RAS"):
            problem(Level.ERROR, f"coordinateSystem {system!r}; only LPS or RAS are known")
            return None
        factor = _unit_factor(mk.get("coordinateUnits", "mm"))
        if factor is None:
            problem(Level.ERROR, f"coordinateUnits {mk.get('coordinateUnits')!r}; only mm or um are known")
            return None
        points: list[tuple[float, float, float]] = []
        for cp in mk.get("controlPoints") or []:
            if not isinstance(cp, dict) or (cp.get("positionStatus") or "defined") != "defined":
                continue
            pos = cp.get("position")
            if not (isinstance(pos, list) and len(pos) == 3 and all(_finite(v) for v in pos)):
                problem(Level.ERROR, f"control point position {pos!r} is not three numbers")
                return None
            x, y, z = (float(v) * factor for v in pos)
            points.append((-x, -y, z) if system == "RAS" else (x, y, z))
        if len(points) != 2:
            problem(Level.ERROR, f"line has {len(points)} defined control points; a length needs exactly 2")
            return None
        length = math.dist(points[0], points[1])
        for m in mk.get("measurements") or []:
            if not (isinstance(m, dict) and m.get("name") == "length" and _finite(m.get("value"))):
                continue
            mf = _unit_factor(m.get("units", "mm"))
            stored = float(m["value"]) * mf if mf is not None else None
            if stored is not None and abs(stored - length) > DISAGREEMENT_MM:
                problem(
                    Level.WARNING,
                    f"stored length measurement {stored:.2f} mm differs from the control points' distance "
                    f"{length:.2f} mm; the distance is used",
                )
        return length, points[0], points[1]

    def _sidecar(self, path: Path, problem: Sink) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
        """Common keys and per-line entries from the sidecar (``None`` entries: no usable sidecar)."""
        folder = (self.input_folder or path.parent).resolve()
        found = [
            p
            for p in (path.with_name(_stem(path) + ext) for ext in (".sidecar.json", ".sidecar.csv"))
            if p.exists() or p.is_symlink()
        ]
        if not found:
            problem(
                Level.ERROR,
                f"no sidecar {_stem(path)}.sidecar.json or .sidecar.csv "
                "naming subject, timepoint, date and lesion",
            )
            return {}, None
        if len(found) > 1:
            problem(Level.WARNING, f"both {found[0].name} and {found[1].name} exist; {found[0].name} is used")
        side = found[0]
        real = side.resolve()
        if not real.is_relative_to(folder) or not real.is_file():
            problem(
                Level.ERROR,
                f"sidecar {side.name} resolves to {real}, outside the input folder {folder}: refused",
            )
            return {}, None
        try:
            if side.suffix == ".json":
                doc = json.loads(real.read_text(encoding="utf-8"))
                if not isinstance(doc, dict):
                    raise ValueError("the sidecar JSON must be an object")
                lesions = doc.get("lesions", [])
                if not isinstance(lesions, list) or not all(isinstance(e, dict) for e in lesions):
                    raise ValueError("'lesions' must be a list of objects")
                defaults = {k: doc[k] for k in LESION_KEYS if k in doc}
                entries = [{**defaults, **e} for e in lesions] or [defaults]
                raw_common: list[dict[str, Any]] = [doc]
                known = set(COMMON_KEYS) | set(LESION_KEYS) | {"lesions"}
                unknown = set(doc) - known
                unknown |= {k for e in lesions for k in e} - set(LESION_KEYS) - {"markup"}
            else:
                with real.open(encoding="utf-8-sig", newline="") as fh:
                    table = list(csv.DictReader(fh))
                if not table:
                    raise ValueError("the sidecar CSV has no rows")
                entries = [{k: v for k, v in r.items() if k in LESION_KEYS or k == "markup"} for r in table]
                raw_common = table
                unknown = {k for r in table for k in r} - set(COMMON_KEYS) - set(LESION_KEYS) - {"markup"}
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
            problem(Level.ERROR, f"sidecar {side.name} is not readable: {exc}")
            return {}, None
        if unknown:
            problem(Level.WARNING, f"sidecar {side.name}: unknown keys {sorted(map(str, unknown))} ignored")
        common: dict[str, Any] = {}
        for key in COMMON_KEYS:
            values = {_clean(r.get(key)) for r in raw_common}
            if len(values) > 1:
                problem(
                    Level.ERROR,
                    f"sidecar {side.name}: {key} differs between rows ({sorted(map(str, values))})",
                )
            value = next(iter(values))
            if value is None and key != "reader":
                problem(Level.ERROR, f"sidecar {side.name}: {key} is missing")
            common[key] = value
        if common.get("date") is not None:
            common["date"] = _iso_date(
                common["date"], lambda msg: problem(Level.ERROR, f"sidecar {side.name}: {msg}")
            )
        return common, entries

    @staticmethod
    def _entry_for(
        index: int, name: str, entries: list[dict[str, Any]] | None, n_lines: int
    ) -> dict[str, Any]:
        """The sidecar entry of one line: by markup name, by index, or the only entry for a one-line file."""
        if not entries:
            return {}
        for e in entries:
            m = _clean(e.get("markup"))
            if m is not None and (m == name or m == str(index)):
                return e
        unnamed = [e for e in entries if _clean(e.get("markup")) is None]
        if n_lines == 1 and len(unnamed) == 1:
            return unnamed[0]
        return {}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    s = str(value).strip()
    return s or None


def _nodal(value: Any, problem: Sink) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False if s else None
    problem(Level.ERROR, f"nodal is {value!r}; it must be true or false")
    return None


def _iso_date(value: str, complain: Callable[[str], None]) -> str | None:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``) to ISO; anything else is reported and left empty."""
    s = value.strip()
    if len(s) == 8 and s.isdigit():
        s = f"{s[:4]}-{s[4:6]}-{s[6:]}"
    try:
        if len(s) == 10:
            return dt.date.fromisoformat(s).isoformat()
    except ValueError:
        pass
    complain(f"date {value!r} is not an ISO date (YYYY-MM-DD)")
    return None
