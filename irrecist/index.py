"""Study index: every file under the input paths, DICOM headers only, grouped by patient, study and date.

DICOM files are read with ``stop_before_pixels`` and only the attributes of
:data:`irrecist.lesions.registry.HEADER_TAGS` (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study, C.7.3.1 General
Series, C.12.1 SOP Common, C.7.6.2 Image Plane); the patient's name is never read. A DICOMDIR (PS3.10 7.2,
PS3.3 F.5) is optional: given by name, its referenced files are indexed; met in a folder, the folder is walked
anyway and missing referenced files are reported. Non-DICOM files are recognised by name and content (AIM XML,
Slicer ``.mrk.json`` and sidecars, tables); anything else, empty or unreadable files become problem lines and
never stop the run.

One study has one subject and one date: the images' PatientID and StudyDate win over those of annotation
objects (the AIM toolkit's SRs carry another PatientID and no date), and every disagreement is reported.

Timepoint labels, per assessment (subject, date), in this order: the TID 1502 time point context (PS3.16
TID 1502) or any label a reader or table gave; else the mapping table (``subject_id,date,timepoint`` or
``study_uid,timepoint``); else from the date: the subject's earliest assessment date is ``baseline`` and a later
one is ``day N`` with N the number of days since that date (so ``day 56`` is 56 days after baseline; this is
not the CDISC study day, which has no day 0).
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from irrecist.errors import InputError, Level, Problem
from irrecist.lesions.registry import ANNOTATION_CLASSES, read_header
from irrecist.lesions.table import TABLE_SUFFIXES, read_frame

STUDY_COLUMNS = ["subject_id", "study_uid", "date", "modality", "series_uid", "sop_class", "file_count"]
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
Spacing = tuple[float, float]
Assessment = tuple[str, str]  # (subject_id, ISO date)


@dataclass
class FileRecord:
    """One file met in the walk: what it is and, for DICOM, the header attributes the index keeps."""

    path: Path
    kind: str  # dicom, dicomdir, aim, slicer, sidecar, table
    sop_class: str = ""
    sop_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    subject_id: str = ""
    date: str = ""
    modality: str = ""
    spacing: Spacing | None = None
    is_image: bool = False
    header: Dataset | None = None

    @property
    def is_annotation_object(self) -> bool:
        return self.sop_class in ANNOTATION_CLASSES


@dataclass
class StudyIndex:
    """The files found, the problems met, and each study's resolved subject and date."""

    files: list[FileRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    study_subject: dict[str, str] = field(default_factory=dict)
    study_date: dict[str, str] = field(default_factory=dict)
    sop_study: dict[str, str] = field(default_factory=dict)

    def dicom(self) -> list[FileRecord]:
        return [f for f in self.files if f.kind == "dicom"]

    def image_spacing(self) -> dict[str, Spacing]:
        """SOP Instance UID -> PixelSpacing (row, column) of every indexed image (for GSPS and AIM)."""
        return {f.sop_uid: f.spacing for f in self.dicom() if f.sop_uid and f.spacing is not None}

    def studies(self) -> pd.DataFrame:
        """One row per series: subject, study UID, date, modality, series UID, SOP class name, file count."""
        counts: Counter[tuple[str, ...]] = Counter()
        for f in self.dicom():
            subject = self.study_subject.get(f.study_uid, f.subject_id)
            day = self.study_date.get(f.study_uid, f.date)
            sop = UID(f.sop_class).name if f.sop_class else ""
            counts[(subject, f.study_uid, day, f.modality, f.series_uid, sop)] += 1
        rows = [dict(zip(STUDY_COLUMNS, (*key, str(n)), strict=True)) for key, n in sorted(counts.items())]
        return pd.DataFrame(rows, columns=STUDY_COLUMNS, dtype=str)


# ------------------------------------------------------------------------------------------- the walk


def iso_date(value: object) -> str:
    """DICOM DA (``YYYYMMDD``) or ISO date as ``YYYY-MM-DD``; empty when missing or malformed."""
    text = str(value or "").strip().replace("-", "").replace(".", "")[:8]
    try:
        return Date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat() if len(text) == 8 else ""
    except ValueError:
        return ""


def _dicomdir_files(path: Path) -> tuple[list[Path], list[Problem]]:
    """Files referenced by a DICOMDIR (Referenced File ID, PS3.3 F.3.2.2); missing ones are reported."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
    except Exception as exc:
        return [], [Problem(Level.ERROR, str(path), message=f"DICOMDIR cannot be read: {exc}")]
    files: list[Path] = []
    missing: list[Path] = []
    for rec in ds.get("DirectoryRecordSequence", []) or []:
        ref = rec.get("ReferencedFileID")
        if not ref:
            continue
        parts = [ref] if isinstance(ref, str) else list(ref)
        target = path.parent.joinpath(*[str(p) for p in parts])
        if not target.is_file():  # file systems may not keep the upper case of ISO 9660 names
            alt = path.parent.joinpath(*[str(p).lower() for p in parts])
            target = alt if alt.is_file() else target
        (files if target.is_file() else missing).append(target)
    problems = [
        Problem(Level.INFO, str(path), message=f"DICOMDIR lists {len(files) + len(missing)} files; all are indexed")
    ]
    if missing:
        shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        problems.append(Problem(Level.WARNING, str(path), message=f"{len(missing)} files listed are missing: {shown}"))
    return files, problems


def walk(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Every file under ``paths`` (folders recursively, sorted), each once; a DICOMDIR given by name adds
    the files it lists."""
    seen: dict[Path, None] = {}
    problems: list[Problem] = []
    for p in map(Path, paths):
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if q.is_file():
                    seen.setdefault(q, None)
        elif p.is_file():
            seen.setdefault(p, None)
            if p.name.upper() == "DICOMDIR":
                listed, probs = _dicomdir_files(p)
                problems.extend(probs)
                for q in listed:
                    seen.setdefault(q, None)
        else:
            problems.append(Problem(Level.ERROR, str(p), message="path not found: nothing read from it"))
    for p in list(seen):
        if p.name.upper() == "DICOMDIR" and p not in map(Path, paths):
            problems.extend(x for x in _dicomdir_files(p)[1] if x.level is not Level.INFO)
    return list(seen), problems


def _looks_like_aim(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(8192)
    return b"radiology.AIM" in head or b"<ImageAnnotation" in head


def _truncation(ds: Dataset, fh: BinaryIO) -> str:
    """Why the file is shorter than its elements say (empty when complete). pydicom reads truncated files
    silently; after a header read the file position is past the end (an element cut short) or at the pixel
    data element (PS3.5 7.1), whose defined length must fit in the file."""
    pos = fh.tell()
    size = fh.seek(0, os.SEEK_END)
    if pos > size:
        return f"{size} bytes, but its elements need at least {pos}"
    fh.seek(pos)
    head = fh.read(12)
    ts = str(getattr(ds, "file_meta", {}).get("TransferSyntaxUID", "") or "")
    little = ts != "1.2.840.10008.1.2.2"
    if len(head) < 8 or head[:2] != (b"\xe0\x7f" if little else b"\x7f\xe0"):
        return ""
    implicit = ts in ("", "1.2.840.10008.1.2")
    fmt = "<" if little else ">"
    if implicit:
        length, header = struct.unpack(fmt + "I", head[4:8])[0], 8
    elif head[4:6] in (b"OB", b"OW", b"OF", b"OD", b"UN") and len(head) == 12:
        length, header = struct.unpack(fmt + "I", head[8:12])[0], 12
    else:
        length, header = struct.unpack(fmt + "H", head[6:8])[0], 8
    if length != 0xFFFFFFFF and pos + header + length > size:
        return f"pixel data needs {length} bytes but only {size - pos - header} remain"
    return ""


def classify(path: Path) -> tuple[FileRecord | None, list[Problem]]:
    """What one file is (header only for DICOM); a problem line instead of a record when it cannot be used."""
    src = str(path)
    name = path.name.lower()
    try:
        if path.stat().st_size == 0:
            return None, [Problem(Level.WARNING, src, message="empty file: not read")]
        if name.endswith(".mrk.json"):
            return FileRecord(path, "slicer"), []
        if name.endswith((".sidecar.json", ".sidecar.csv")):
            return FileRecord(path, "sidecar"), []
        if name.endswith(".xml"):
            if _looks_like_aim(path):
                return FileRecord(path, "aim"), []
            return None, [Problem(Level.WARNING, src, message="XML file that is not AIM: not read")]
        if name.endswith(TABLE_SUFFIXES):
            return FileRecord(path, "table"), []
        with path.open("rb") as fh:
            ds = read_header(fh)
            truncated = _truncation(ds, fh)
        if truncated:
            return None, [
                Problem(
                    Level.ERROR,
                    src,
                    str(ds.get("PatientID", "") or ""),
                    message=(f"truncated DICOM file: {truncated}; not read"),
                )
            ]
    except InvalidDicomError:
        msg = "not DICOM and not a known annotation format (AIM .xml, .mrk.json, CSV/Parquet table): not read"
        return None, [Problem(Level.WARNING, src, message=msg)]
    except Exception as exc:
        return None, [Problem(Level.ERROR, src, message=f"unreadable file (truncated or corrupt?): {exc}")]
    sop_class = str(ds.get("SOPClassUID", "") or "") or str(
        getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", "") or ""
    )
    if sop_class == DICOMDIR_CLASS or path.name.upper() == "DICOMDIR":
        return FileRecord(path, "dicomdir", sop_class=DICOMDIR_CLASS), []
    sop_uid = str(ds.get("SOPInstanceUID", "") or "")
    if not sop_class or not sop_uid:
        missing = " and ".join(n for n, v in (("SOPClassUID", sop_class), ("SOPInstanceUID", sop_uid)) if not v)
        return None, [Problem(Level.ERROR, src, message=f"DICOM header without {missing} (truncated?): not read")]
    spacing = None
    ps = ds.get("PixelSpacing")
    try:
        if ps is not None and len(ps) == 2:
            spacing = (float(ps[0]), float(ps[1]))
    except (TypeError, ValueError):
        spacing = None
    rec = FileRecord(
        path,
        "dicom",
        sop_class=sop_class,
        sop_uid=sop_uid,
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        subject_id=str(ds.get("PatientID", "") or "").strip(),
        # an annotation's Series Date is when it was made, not the scan: only images fall back to it
        date=iso_date(ds.get("StudyDate"))
        or ("" if sop_class in ANNOTATION_CLASSES else iso_date(ds.get("SeriesDate"))),
        modality=str(ds.get("Modality", "") or ""),
        spacing=spacing,
        is_image="Rows" in ds and sop_class not in ANNOTATION_CLASSES,
        header=ds if sop_class in ANNOTATION_CLASSES else None,  # kept for the readers' dispatch only
    )
    problems = []
    if not rec.study_uid:
        problems.append(Problem(Level.WARNING, f"{src}#{sop_uid}", rec.subject_id, message="no StudyInstanceUID"))
    return rec, problems


def build_index(paths: Sequence[Path], workers: int = 1) -> StudyIndex:
    """Walk ``paths``, classify every file (headers only) and resolve each study's subject and date."""
    files, problems = walk(paths)
    index = StudyIndex(problems=problems)
    if workers > 1 and len(files) > 64:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(classify, files, chunksize=max(16, len(files) // (4 * workers))))
    else:
        results = [classify(f) for f in files]
    for rec, probs in results:
        index.problems.extend(probs)
        if rec is not None:
            index.files.append(rec)
    _resolve_studies(index)
    return index


def _resolve_studies(index: StudyIndex) -> None:
    """One subject and one date per study: the images' values first, then the most common; report the rest."""
    by_study: dict[str, list[FileRecord]] = {}
    for f in index.dicom():
        if f.sop_uid:
            index.sop_study[f.sop_uid] = f.study_uid
        if f.study_uid:
            by_study.setdefault(f.study_uid, []).append(f)
    for study, recs in by_study.items():
        for attr, table, what in (
            ("subject_id", index.study_subject, "PatientID"),
            ("date", index.study_date, "StudyDate"),
        ):
            images = Counter(getattr(r, attr) for r in recs if r.is_image and getattr(r, attr))
            anyone = Counter(getattr(r, attr) for r in recs if getattr(r, attr))
            chosen = (images or anyone).most_common(1)
            if not chosen:
                continue
            value = chosen[0][0]
            table[study] = value
            others: dict[str, list[FileRecord]] = {}
            for r in recs:
                if getattr(r, attr) and getattr(r, attr) != value:
                    others.setdefault(getattr(r, attr), []).append(r)
            if others:
                found = "; ".join(
                    f"{v!r} in {len(rs)} {rs[0].modality or 'DICOM'} file(s) (e.g. {rs[0].path.name})"
                    for v, rs in others.items()
                )
                origin = "its images" if images else "most of its files"
                index.problems.append(
                    Problem(
                        Level.WARNING,
                        f"study {study}",
                        value if attr == "subject_id" else "",
                        message=f"{what} differs within study {study}: {found}; {value!r} from {origin} is used for "
                        "every object of the study",
                    )
                )


# ------------------------------------------------------------------------------------------- timepoints


@dataclass
class TimepointMap:
    """User mapping to visit labels: by study UID, or by subject and date."""

    by_study: dict[str, str] = field(default_factory=dict)
    by_visit: dict[Assessment, str] = field(default_factory=dict)


def is_timepoint_map(columns: Iterable[str]) -> bool:
    cols = set(columns)
    return "timepoint" in cols and ("study_uid" in cols or {"subject_id", "date"} <= cols) and "lesion_id" not in cols


def read_timepoint_map(path: Path) -> tuple[TimepointMap, list[Problem]]:
    """``subject_id,date,timepoint`` and/or ``study_uid,timepoint`` rows; bad rows are reported."""
    df, offset = read_frame(path)
    if not is_timepoint_map(df.columns):
        raise InputError(f"{path}: a timepoint mapping needs columns subject_id,date,timepoint or study_uid,timepoint")
    out, problems = TimepointMap(), []
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path} row {i + offset}"
        label = str(row.get("timepoint", "")).strip()
        study = str(row.get("study_uid", "") or "").strip()
        subject = str(row.get("subject_id", "") or "").strip()
        day = iso_date(row.get("date", ""))
        if not label:
            problems.append(Problem(Level.WARNING, where, subject, message="timepoint is empty: row ignored"))
        elif study:
            out.by_study[study] = label
        elif subject and day:
            out.by_visit[(subject, day)] = label
        else:
            problems.append(
                Problem(
                    Level.WARNING,
                    where,
                    subject,
                    message=(
                        f"needs study_uid, or subject_id and an ISO date (date is {row.get('date', '')!r}): row ignored"
                    ),
                )
            )
    return out, problems


def label_assessments(
    visits: Iterable[Assessment],
    given: Mapping[Assessment, Counter[str]],
    studies: Mapping[Assessment, set[str]],
    tmap: TimepointMap | None = None,
) -> tuple[dict[Assessment, str], list[Problem]]:
    """A visit label for every (subject, date): given label (TID 1502, sidecar, table), else the mapping
    table, else ``baseline`` / ``day N`` from the subject's earliest date."""
    tmap = tmap or TimepointMap()
    visits = sorted(set(visits))
    first: dict[str, str] = {}
    for subject, day in visits:
        if day and (subject not in first or day < first[subject]):
            first[subject] = day
    labels: dict[Assessment, str] = {}
    problems: list[Problem] = []
    for subject, day in visits:
        where = f"subject {subject} date {day or '(none)'}"
        counts = given.get((subject, day), Counter())
        mapped = tmap.by_visit.get((subject, day)) or next(
            (tmap.by_study[s] for s in sorted(studies.get((subject, day), set())) if s in tmap.by_study), None
        )
        if counts:
            label = counts.most_common(1)[0][0]
            if len(counts) > 1:
                problems.append(
                    Problem(
                        Level.WARNING,
                        where,
                        subject,
                        timepoint=label,
                        message=(
                            f"one assessment carries several timepoint labels {sorted(counts)}; "
                            f"{label!r} is used for all"
                        ),
                    )
                )
            if mapped and mapped != label:
                problems.append(
                    Problem(
                        Level.INFO,
                        where,
                        subject,
                        timepoint=label,
                        message=(
                            f"the mapping table says {mapped!r}; the label recorded in the files ({label!r}) is used"
                        ),
                    )
                )
        elif mapped:
            label = mapped
        elif day:
            d0 = Date.fromisoformat(first[subject])
            n = (Date.fromisoformat(day) - d0).days
            label = "baseline" if n == 0 else f"day {n}"
        else:
            label = ""
            problems.append(
                Problem(
                    Level.ERROR,
                    where,
                    subject,
                    message=(
                        "no date and no timepoint label: the assessment cannot be placed; give a timepoint mapping"
                    ),
                )
            )
        labels[(subject, day)] = label
    seen: dict[tuple[str, str], str] = {}
    for (subject, day), label in labels.items():
        if label and (subject, label) in seen and seen[(subject, label)] != day:
            problems.append(
                Problem(
                    Level.WARNING,
                    f"subject {subject}",
                    subject,
                    timepoint=label,
                    message=(
                        f"timepoint {label!r} labels two dates ({seen[(subject, label)]} and {day}); labels must be "
                        "unique per subject and date"
                    ),
                )
            )
        seen.setdefault((subject, label), day)
    return labels, problems
