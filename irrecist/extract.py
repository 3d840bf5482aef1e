"""``irrecist extract``: folders of studies and annotation files -> the lesion table, the study index, issues.

Composition (see ``issues show 3``): the study index (:mod:`irrecist.index`, headers only) -> the reader
registry (:mod:`irrecist.lesions.registry`; SEG pixel data is decoded by the SEG reader only) -> subject and
date from the study each object belongs to -> timepoint labels -> lesion identity and the user's mapping
table (:mod:`irrecist.identity`) -> one row per lesion, assessment and reader. The same measurement stored
twice (an AIM XML and its SR rendering) is kept once with both sources; different measurements of one lesion
at one assessment by one reader are all kept and reported. Every value's ``source`` names the file and the
SOP Instance UID (or AIM annotation UID, or table row). No patient name is ever read or written: subjects are
PatientIDs.

The lines the readers measured on (:class:`irrecist.lesions.base.MeasuredLine`) ride on their rows (key
``_lines``) through placing, labelling, identity and de-duplication, so each ends up with its row's final
subject, timepoint and lesion id; :meth:`Extraction.lines_frame` lays them out as ``lines.csv``
(:data:`LINE_COLUMNS`), with the path of the image each was drawn on when the study index found it. Lines
given in patient coordinates (RTSTRUCT) are mapped to the pixels of their image here, after reading (so in this
process, whatever ran the readers), from that image's header when it is among the indexed files; else dropped.
"""

from __future__ import annotations

import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from pydicom.uid import UID

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import InputError, Level, Problem
from irrecist.files import write_csv
from irrecist.identity import LesionMap, assign_lesion_ids, is_lesion_map, organ_conflicts, read_lesion_map
from irrecist.index import (
    STUDY_COLUMNS,
    FileRecord,
    StudyIndex,
    TimepointMap,
    build_index,
    is_timepoint_map,
    label_assessments,
    pool_context,
    read_image_plane,
    read_timepoint_map,
)
from irrecist.lesion_table import check_columns
from irrecist.lesions.base import AXES, PATIENT, PIXEL, PLANE_TOLERANCE_MM, ImagePlane, MeasuredLine, ReadResult
from irrecist.lesions.registry import PR_CLASSES, Registry, default_registry
from irrecist.lesions.table import read_frame
from irrecist.progress import progress

ISSUE_COLUMNS = ["level", "source", "subject_id", "lesion_id", "message"]
SAME_MM = 0.01  # two stored values closer than this are the same measurement
_AXES = ("long_axis_mm", "short_axis_mm")
Row = dict[str, Any]
LINE_COLUMNS = [
    "subject_id", "reader", "timepoint", "lesion_id", "axis", "length_mm", "sop_instance_uid", "frame",
    "x1", "y1", "x2", "y2", "image_file", "source",
]  # fmt: skip
"""Columns of ``lines.csv``: one row per measured axis; ``length_mm`` is the row's recorded size for that axis
(``long_axis_mm`` for ``long`` and ``length``, ``short_axis_mm`` for ``short``); (x1, y1) and (x2, y2) are the
line's end points in pixels, (column, row) with (0, 0) the top left corner of the top left pixel (DICOM SCOORD,
PS3.3 C.18.6.1.1)."""
LINES = "_lines"  # row key: the MeasuredLines of the row


@dataclass
class Extraction:
    """The lesion table (strings, exactly ``LESION_COLUMNS``), the study index and every problem met."""

    lesions: pd.DataFrame
    studies: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # the rows with the readers' extra keys (UIDs, labels)
    seen_ids: set[str] = field(default_factory=set)  # every subject id met in the inputs (for pseudonymization)
    images: dict[str, str] = field(default_factory=dict)  # SOP Instance UID -> path of the indexed image file

    def issues(self) -> pd.DataFrame:
        data = [{c: p.as_row()[c] for c in ISSUE_COLUMNS} for p in self.problems]
        return pd.DataFrame(data, columns=ISSUE_COLUMNS, dtype=str)

    def lines_frame(self) -> pd.DataFrame:
        """``lines.csv``: the measured lines of the rows (:data:`LINE_COLUMNS`, all text), sorted by subject,
        date, reader, lesion and axis."""
        data: list[tuple[tuple[str, ...], dict[str, str]]] = []
        for row in self.rows:
            subject = str(row.get("subject_id") or "")
            for line in row.get(LINES) or ():
                if line.space != PIXEL:  # not mapped to its image's pixels: not drawn
                    continue
                image = self.images.get(line.sop_instance_uid, "")
                cells = {
                    "subject_id": subject,
                    "reader": _fmt(row.get("reader")),
                    "timepoint": _fmt(row.get("timepoint")),
                    "lesion_id": _fmt(row.get("lesion_id")),
                    "axis": line.axis,
                    "length_mm": _fmt(row.get("short_axis_mm" if line.axis == "short" else "long_axis_mm")),
                    "sop_instance_uid": line.sop_instance_uid,
                    "frame": "" if line.frame is None else str(line.frame),
                    "x1": _fmt(float(line.start[0])),
                    "y1": _fmt(float(line.start[1])),
                    "x2": _fmt(float(line.end[0])),
                    "y2": _fmt(float(line.end[1])),
                    "image_file": image,
                    "source": _fmt(row.get("source")),
                }
                order = str(AXES.index(line.axis)) if line.axis in AXES else line.axis
                key = (subject, _fmt(row.get("date")), cells["reader"], cells["lesion_id"], order, cells["source"])
                data.append((key, cells))
        data.sort(key=lambda item: item[0])
        return pd.DataFrame([cells for _, cells in data], columns=LINE_COLUMNS, dtype=str)


# ------------------------------------------------------------------------------------------- reading


def _read_one(registry: Registry, rec: FileRecord) -> tuple[str | None, ReadResult]:
    """(reader name, result) for one indexed file; (None, empty) when no reader wants it. Never raises."""
    try:
        with warnings.catch_warnings():  # pydicom's warnings on odd values; readers report what matters
            warnings.simplefilter("ignore")
            return _read_quietly(registry, rec)
    except Exception as exc:  # a reader that raises is a bug; the run goes on
        msg = f"reader failed: {type(exc).__name__}: {exc}"
        return "?", ReadResult(problems=[Problem(Level.ERROR, str(rec.path), rec.subject_id, message=msg)])


def _read_quietly(registry: Registry, rec: FileRecord) -> tuple[str | None, ReadResult]:
    """Dispatch one file to its reader, which reads it by path (so the TID 1500 reader owns its dataset and
    highdicom may convert it in place instead of deep-copying it, 6 ms per demo SR). ``can_read`` sees the
    header the index read (:data:`irrecist.lesions.registry.HEADER_TAGS`: enough to tell a TID 1500 report);
    a reader that must look further (the generic SR reader, into the content tree) reads the file it names."""
    obj: Any = rec.path
    if rec.kind == "dicom":
        obj = rec.header if rec.header is not None else rec.path
    reader = registry.reader_for(obj)
    if reader is None:
        return None, ReadResult()
    return reader.name, reader.read(rec.path)


ReadOut = tuple[str | None, ReadResult]
RegistrySpec = tuple[str, dict[str, tuple[float, float]], frozenset[str]]
"""What a process needs to build the run's reader registry: a token naming the run, the image spacing (only
when a reader measures in pixels: GSPS, AIM) and the SOP classes and file endings present."""

_REGISTRIES: dict[str, Registry] = {}


def registry_for(spec: RegistrySpec) -> Registry:
    """The run's reader registry in this process, built once per run (worker processes and dask workers)."""
    token, spacing, present = spec
    if token not in _REGISTRIES:
        _REGISTRIES.clear()
        _REGISTRIES[token] = default_registry(spacing, present)
    return _REGISTRIES[token]


def read_batch(spec: RegistrySpec, recs: list[FileRecord]) -> list[ReadOut]:
    """Read one batch of indexed files (one study's annotation objects) wherever it runs; never raises."""
    registry = registry_for(spec)
    return [_read_one(registry, r) for r in recs]


def study_batches(recs: Sequence[FileRecord]) -> list[list[int]]:
    """Indices of ``recs`` grouped by study (non-DICOM files: by folder), largest batch (bytes) first so that
    parallel workers finish together."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(recs):
        groups.setdefault(r.study_uid or f"folder {r.path.parent}", []).append(i)

    def size(i: int) -> int:
        try:
            return recs[i].path.stat().st_size
        except OSError:
            return 0

    return sorted(groups.values(), key=lambda batch: -sum(size(i) for i in batch))


def _read_all(
    spec: RegistrySpec, registry: Registry, recs: list[FileRecord], workers: int, dask: str | None = None
) -> list[ReadOut]:
    """Read every task: in this process, in ``workers`` processes, or on the dask cluster at ``dask``; one
    task per study, results in the order of ``recs`` whatever ran them."""
    batches = study_batches(recs)
    if dask is None and (workers <= 1 or len(batches) < 2):
        return [_read_one(registry, r) for r in progress(recs, desc="reading", unit="object")]
    jobs = [[recs[i] for i in batch] for batch in batches]
    if dask is not None:
        from irrecist.distributed import map_batches

        done = map_batches(dask, read_batch, spec, jobs)
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=pool_context()) as pool:
            done = list(progress(pool.map(read_batch, [spec] * len(jobs), jobs), len(jobs), "reading", unit="study"))
    out: list[ReadOut | None] = [None] * len(recs)
    for batch, results in zip(batches, done, strict=True):
        for i, result in zip(batch, results, strict=True):
            out[i] = result
    return [r for r in out if r is not None]


@dataclass
class _Tables:
    rows: list[Row] = field(default_factory=list)
    lesion_map: LesionMap = field(default_factory=LesionMap)
    timepoints: TimepointMap = field(default_factory=TimepointMap)
    problems: list[Problem] = field(default_factory=list)


def _read_tables(found: list[Path], named: list[Path]) -> _Tables:
    """Lesion tables (rows appended), lesion mappings and timepoint mappings, told apart by their header."""
    out = _Tables()
    for path, explicit in [(p, False) for p in found] + [(p, True) for p in named]:
        try:
            df, offset = read_frame(path)
            cols = list(df.columns)
            if {"subject_id", "timepoint", "date", "lesion_id"} <= set(cols):
                check_columns(cols, str(path))
                for i, rec in enumerate(df.to_dict("records")):
                    row: Row = {c: str(rec.get(c, "") or "").strip() or None for c in LESION_COLUMNS}
                    row["source"] = row["source"] or f"{path} row {i + offset}"
                    row["_kind"] = "table"
                    out.rows.append(row)
            elif is_lesion_map(cols):
                lmap, probs = read_lesion_map(path)
                out.lesion_map.entries.extend(lmap.entries)
                out.problems.extend(probs)
            elif is_timepoint_map(cols):
                tmap, probs = read_timepoint_map(path)
                out.timepoints.by_study.update(tmap.by_study)
                out.timepoints.by_visit.update(tmap.by_visit)
                out.problems.extend(probs)
            else:
                level = Level.ERROR if explicit else Level.WARNING
                out.problems.append(
                    Problem(
                        level,
                        str(path),
                        message=(
                            "table is neither a lesion table (subject_id, timepoint, date, lesion_id, ...), a lesion "
                            "mapping (label, lesion_id, role, organ, nodal) nor a timepoint mapping (subject_id, date, "
                            "timepoint or study_uid, timepoint): not read"
                        ),
                    )
                )
        except InputError as exc:
            out.problems.append(Problem(Level.ERROR, str(path), message=str(exc)))
    return out


# ------------------------------------------------------------------------------------------- composing


def _place(rows: list[Row], index: StudyIndex) -> list[Problem]:
    """Subject and date of each object from its study (via study UID or referenced image)."""
    problems: list[Problem] = []
    told: set[tuple[str, str]] = set()
    for row in rows:
        study = row.get("study_uid") or index.sop_study.get(str(row.get("referenced_sop_instance_uid") or ""))
        if not study:
            continue
        row["study_uid"] = study
        file = str(row.get("source") or "").split("#", 1)[0]
        subject, day = index.study_subject.get(study), index.study_date.get(study)
        if subject and subject != (row.get("subject_id") or ""):
            if row.get("_kind") != "dicom" and (file, "subject") not in told:  # DICOM: reported per study
                told.add((file, "subject"))
                problems.append(
                    Problem(
                        Level.WARNING,
                        file,
                        subject,
                        message=(
                            f"the annotation names subject {row.get('subject_id')!r} but study {study} belongs to "
                            f"PatientID {subject!r} (its images): {subject!r} is used"
                        ),
                    )
                )
            row["subject_id"] = subject
        if day and day != (row.get("date") or ""):
            if (file, "date") not in told:
                told.add((file, "date"))
                found = f"the object states date {row['date']!r}" if row.get("date") else "the object has no date"
                level = Level.WARNING if row.get("date") else Level.INFO
                problems.append(
                    Problem(level, file, subject or "", message=(f"{found}; date {day} taken from study {study}"))
                )
            row["date"] = day
    return problems


def _timepoints(rows: list[Row], tmap: TimepointMap) -> list[Problem]:
    given: dict[tuple[str, str], Counter[str]] = {}
    studies: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        visit = (str(row.get("subject_id") or ""), str(row.get("date") or ""))
        if row.get("timepoint"):
            given.setdefault(visit, Counter())[str(row["timepoint"])] += 1
        if row.get("study_uid"):
            studies.setdefault(visit, set()).add(str(row["study_uid"]))
    visits = [(str(r.get("subject_id") or ""), str(r.get("date") or "")) for r in rows]
    labels, problems = label_assessments(visits, given, studies, tmap)
    for row, visit in zip(rows, visits, strict=True):
        row["timepoint"] = labels.get(visit) or row.get("timepoint")
    return problems


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or a == "" or b == "":
        return (a is None or a == "") and (b is None or b == "")
    try:
        return abs(float(a) - float(b)) <= SAME_MM
    except (TypeError, ValueError):
        return str(a) == str(b)


_FILL = ("role", "organ", "nodal", "slice_thickness_mm", "status")


def _fold_annotations(rows: list[Row]) -> list[Row]:
    """A table row that carries no measurement (only role, organ, nodal ...) annotates the measured rows of
    the same subject, date and lesion (any reader when its own reader is empty): its values fill their empty
    fields and it is not kept as a row of its own. Without a measured counterpart it stays a row."""
    def key(r: Row) -> tuple[str, str, str]:
        return (str(r.get("subject_id") or ""), str(r.get("date") or ""), str(r.get("lesion_id") or ""))

    def measured(r: Row) -> bool:
        return any(r.get(c) not in (None, "") for c in _AXES)

    targets: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        if r.get("lesion_id") and measured(r):
            targets.setdefault(key(r), []).append(r)
    out: list[Row] = []
    for r in rows:
        if r.get("_kind") == "table" and r.get("lesion_id") and not measured(r) and not r.get("status"):
            hits = [t for t in targets.get(key(r), []) if not r.get("reader") or t.get("reader") == r.get("reader")]
            if hits:
                for t in hits:
                    for col in _FILL:
                        if t.get(col) in (None, "", False) and r.get(col) not in (None, ""):
                            t[col] = r[col]
                    t["source"] = "; ".join(x for x in (str(t.get("source") or ""), str(r.get("source") or "")) if x)
                continue
        out.append(r)
    return out


def _deduplicate(rows: list[Row]) -> tuple[list[Row], list[Problem]]:
    """One row per subject, date, reader, lesion and value: the same measurement stored in several objects is
    kept once (sources joined); different measurements of one lesion are all kept and reported."""
    rows = _fold_annotations(rows)
    groups: dict[tuple[str, ...], list[Row]] = {}
    out: list[Row] = []
    for row in rows:
        if not row.get("lesion_id"):
            out.append(row)
            continue
        key = tuple(str(row.get(k) or "") for k in ("subject_id", "date", "reader", "lesion_id"))
        groups.setdefault(key, []).append(row)
    problems: list[Problem] = []
    for (subject, day, reader, lesion), members in groups.items():
        members.sort(key=lambda r: str(r.get("source") or ""))
        who = f"lesion {lesion} of subject {subject} on {day or '(no date)'} by reader {reader or '(none)'}"
        same: list[list[Row]] = []
        for m in members:
            home = next((g for g in same if all(_same(m.get(c), g[0].get(c)) for c in _AXES)), None)
            if home is None:
                same.append([m])
            else:
                home.append(m)
        for group in same:
            kept = dict(group[0])
            for m in group[1:]:
                for col, value in m.items():
                    if kept.get(col) in (None, "") and value not in (None, ""):
                        kept[col] = value
            sources = list(dict.fromkeys(str(r.get("source") or "") for r in group))
            kept["source"] = "; ".join(sources)
            out.append(kept)
            if len(group) > 1:
                problems.append(
                    Problem(
                        Level.INFO,
                        sources[0],
                        subject,
                        lesion,
                        message=(
                            f"{who}: the same measurement is stored in {len(group)} objects "
                            f"({kept['source']}); kept once"
                        ),
                    )
                )
        if len(same) > 1:
            values = ", ".join(
                f"{_fmt(g[0].get('long_axis_mm')) or '-'}/{_fmt(g[0].get('short_axis_mm')) or '-'} "
                f"mm ({g[0].get('source')})"
                for g in same
            )
            problems.append(
                Problem(
                    Level.WARNING,
                    str(same[0][0].get("source") or ""),
                    subject,
                    lesion,
                    message=(
                        f"{who}: {len(same)} different measurements (long/short {values}); all kept: keep one "
                        "(or split the lesion as T1.1, T1.2) in lesions.csv"
                    ),
                )
            )
    return out, problems


def _fmt(value: Any) -> str:
    """Lesion-table text: numbers to 4 decimals without trailing zeros, booleans true/false, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        text = f"{float(value):.4f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value).strip()


def lesion_frame(rows: list[Row]) -> pd.DataFrame:
    """Rows as the lesion table: exactly ``LESION_COLUMNS``, all text, sorted by subject, date, reader, id."""
    data = [{c: _fmt(r.get(c)) for c in LESION_COLUMNS} for r in rows]
    df = pd.DataFrame(data, columns=LESION_COLUMNS, dtype=str)
    return df.sort_values(["subject_id", "date", "reader", "lesion_id", "source"], kind="stable").reset_index(drop=True)


def extract_paths(
    paths: Sequence[Path],
    annotations: Sequence[Path] = (),
    mapping: Path | None = None,
    workers: int = 1,
    dask: str | None = None,
) -> Extraction:
    """Index ``paths``, read every annotation object, merge annotation tables and ``mapping`` (a lesion or a
    timepoint mapping), and compose the lesion table, the study index and the problem list. The objects are
    read one study per task in ``workers`` processes, or on the dask.distributed scheduler at ``dask``
    (:mod:`irrecist.distributed`); the result is the same."""
    index = build_index([Path(p) for p in paths], workers)
    problems = list(index.problems)
    present = (
        {f.sop_class for f in index.files}
        | {".xml" for f in index.files if f.kind == "aim"}
        | {".mrk.json" for f in index.files if f.kind == "slicer"}
    )
    # GSPS and AIM measure in pixels: only they need every image's spacing (sent to each worker)
    spacing = index.image_spacing() if present & (PR_CLASSES | {".xml"}) else {}
    spec: RegistrySpec = (uuid.uuid4().hex, spacing, frozenset(present))
    registry = registry_for(spec)
    problems.extend(
        Problem(Level.WARNING, m, message="reader not available (module missing or broken): its objects are not read")
        for m in registry.missing
    )
    tasks = [
        f
        for f in index.files
        if f.kind in ("aim", "slicer") or (f.kind == "dicom" and (registry.wants(f.sop_class) or not f.is_image))
    ]
    rows: list[Row] = []
    read = list(zip(tasks, _read_all(spec, registry, tasks, workers, dask), strict=True))
    images = {f.sop_uid: str(f.path) for f in index.files if f.is_image and f.sop_uid}
    scans: dict[tuple[str, str], list[str]] = {}  # (subject, date) -> its images: where Slicer lines may lie
    for f in index.files:
        if f.is_image and f.sop_uid:
            scans.setdefault((f.subject_id, f.date), []).append(f.sop_uid)
    _lines_to_pixels([result for _, (_, result) in read], images, scans)
    for rec, (name, result) in read:
        if name is None and not rec.is_image:
            what = UID(rec.sop_class).name if rec.sop_class else rec.kind
            level = Level.WARNING if rec.is_annotation_object else Level.INFO
            problems.append(
                Problem(
                    level,
                    f"{rec.path}#{rec.sop_uid}" if rec.sop_uid else str(rec.path),
                    rec.subject_id,
                    message=f"{what} ({rec.modality or 'no modality'}): no lesion "
                    "reader understands its content; indexed only",
                )
            )
        for row in result.rows:
            row["_kind"] = rec.kind
        _attach_lines(result)
        rows.extend(result.rows)
    seen = {f.subject_id for f in index.files if f.subject_id} | {str(r.get("subject_id") or "") for r in rows}
    placed = _place(rows, index)
    for rec, (_name, result) in read:  # the readers' problems name the subject the study resolved to
        subject = index.study_subject.get(rec.study_uid) or next(
            (str(r.get("subject_id") or "") for r in result.rows if r.get("subject_id")), ""
        )
        problems.extend(
            replace(p, subject_id=subject) if subject and p.subject_id != subject else p for p in result.problems
        )
    problems.extend(placed)
    names = {f.path.name for f in index.files if f.kind == "slicer"}
    for f in index.files:
        stem = f.path.name.rsplit(".sidecar.", 1)[0]
        if f.kind == "sidecar" and f"{stem}.mrk.json" not in names:
            problems.append(Problem(Level.WARNING, str(f.path), message=f"sidecar without {stem}.mrk.json: not read"))
    named = [Path(p) for p in annotations] + ([Path(mapping)] if mapping is not None else [])
    tables = _read_tables([f.path for f in index.files if f.kind == "table"], named)
    problems.extend(tables.problems)
    problems.extend(assign_lesion_ids(rows, tables.lesion_map))
    rows.extend(tables.rows)
    problems.extend(_timepoints(rows, tables.timepoints))
    rows, dup = _deduplicate(rows)
    problems.extend(dup)
    problems.extend(organ_conflicts(rows))
    seen |= {str(r.get("subject_id") or "") for r in rows}
    problems = list(dict.fromkeys(problems))
    return Extraction(lesion_frame(rows), index.studies(), problems, rows, seen - {""}, images)


def _lines_to_pixels(
    results: list[ReadResult], images: dict[str, str], scans: dict[tuple[str, str], list[str]]
) -> None:
    """Map the lines readers gave in patient coordinates to the pixels of the image each names (RTSTRUCT) or,
    when it names none (Slicer markups), of the image of the same subject and scan date whose plane holds it
    (:func:`_on_slice`), from that image's header (PS3.3 C.7.6.2.1.1; read here, once per image, only for such
    lines). A line whose image is not among the indexed files, has no usable plane (or a frame: multi-frame
    planes are not read), or does not lie on its plane is dropped: no line, no problem."""
    planes: dict[str, ImagePlane | None] = {}

    def plane_of(uid: str) -> ImagePlane | None:
        if uid not in planes:
            planes[uid] = read_image_plane(images[uid])
        return planes[uid]

    for result in results:
        for k, line in enumerate(result.lines):
            if line.space == PATIENT and not line.sop_instance_uid and 0 <= line.row < len(result.rows):
                row = result.rows[line.row]
                uids = scans.get((str(row.get("subject_id") or ""), str(row.get("date") or "")), [])
                result.lines[k] = replace(line, sop_instance_uid=_on_slice(line, uids, plane_of))
    wanted = {
        line.sop_instance_uid
        for result in results
        for line in result.lines
        if line.space == PATIENT and line.frame is None and line.sop_instance_uid in images
    }
    if not wanted:
        return
    for uid in sorted(wanted):
        plane_of(uid)
    for result in results:
        if any(line.space != PIXEL for line in result.lines):
            kept: list[MeasuredLine] = []
            for line in result.lines:
                plane = planes.get(line.sop_instance_uid) if line.frame is None else None
                drawn = line if line.space == PIXEL else line.to_pixels(plane) if plane is not None else None
                if drawn is not None:
                    kept.append(drawn)
            result.lines = kept


def _on_slice(line: MeasuredLine, uids: list[str], plane_of: Callable[[str], ImagePlane | None]) -> str:
    """The image among ``uids`` whose plane lies nearest both end points of a patient-space line, when within
    :data:`irrecist.lesions.base.PLANE_TOLERANCE_MM`; "" when none does."""
    best, best_off = "", PLANE_TOLERANCE_MM
    for uid in uids:
        plane = plane_of(uid)
        if plane is None or len(line.start) != 3 or len(line.end) != 3:
            continue
        off = max(plane.pixel(p)[1] for p in (line.start, line.end))  # type: ignore[arg-type]
        if off <= best_off:
            best, best_off = uid, off
    return best


def _attach_lines(result: ReadResult) -> None:
    """Put each measured line on its row (key ``_lines``), so it follows the row through identity resolution
    and de-duplication; lines that name no row of the result are dropped."""
    for line in result.lines:
        if 0 <= line.row < len(result.rows):
            lines: list[MeasuredLine] = result.rows[line.row].setdefault(LINES, [])
            lines.append(line)


# ------------------------------------------------------------------------------------------- writing


def write_extraction(ex: Extraction, out_dir: Path) -> dict[str, Path]:
    """Write ``lesions.csv``, ``studies.csv``, ``issues.csv`` and ``lines.csv`` (the measured lines, for key
    images; header only when no reader gave geometry) into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in (
        ("lesions", ex.lesions),
        ("studies", ex.studies.reindex(columns=STUDY_COLUMNS)),
        ("issues", ex.issues()),
        ("lines", ex.lines_frame()),
    ):
        path = out_dir / f"{name}.csv"
        write_csv(df, path)
        written[name] = path
    return written

