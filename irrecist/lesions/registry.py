"""The one registry of lesion readers (spec/style.md: readers in a registry, nibabel style).

Readers are tried in order; the first whose ``can_read(obj)`` is true reads the object. Each entry carries a
cheap guard (the DICOM SOP classes, PS3.4 B.5, or the file-name endings it may read) so that an image
header is never offered to, say, the SR readers, which would load the whole file to decide.

Reader modules are imported defensively: a module that does not exist (or fails to import) is simply not
registered, and :func:`missing_readers` says which ones are absent.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from irrecist.dicomio import dcmread
from irrecist.lesions.base import Reader

Spacing = tuple[float, float]

SR_CLASSES: frozenset[str] = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
        "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
        "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
        "1.2.840.10008.5.1.4.1.1.88.35",  # Extensible SR
    }
)
SEG_CLASSES: frozenset[str] = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"})
RTSTRUCT_CLASSES: frozenset[str] = frozenset({"1.2.840.10008.5.1.4.1.1.481.3"})
PR_CLASSES: frozenset[str] = frozenset(f"1.2.840.10008.5.1.4.1.1.11.{n}" for n in range(1, 6))
ANNOTATION_CLASSES: frozenset[str] = SR_CLASSES | SEG_CLASSES | RTSTRUCT_CLASSES | PR_CLASSES

HEADER_TAGS: list[str] = [
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "PatientID",
    "StudyDate",
    "SeriesDate",
    "Modality",
    "PixelSpacing",
    "Rows",
    "Columns",
    "ContentTemplateSequence",
    "ConceptNameCodeSequence",
    "ValueType",
]
"""What the index and the readers' ``can_read`` need from a header; never the patient's name."""


def read_header(src: Path | BinaryIO) -> Dataset:
    """Header only (no pixel data, only :data:`HEADER_TAGS`); files without preamble are read with force.

    ``src`` is a path or a seekable binary file (left where pydicom stopped reading). Raises whatever pydicom
    raises; :class:`InvalidDicomError` when the file is not DICOM at all.
    """
    start = 0 if isinstance(src, Path | str) else src.tell()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return dcmread(src, stop_before_pixels=True, specific_tags=HEADER_TAGS)
        except InvalidDicomError:
            if not isinstance(src, Path | str):
                src.seek(start)
            ds = dcmread(src, stop_before_pixels=True, specific_tags=HEADER_TAGS, force=True)
            uid = str(ds.get("SOPClassUID", "") or "")
            if not uid or not all(part.isdigit() for part in uid.split(".")):
                raise InvalidDicomError("no DICOM preamble and no SOP Class UID") from None
            return ds


@dataclass
class Entry:
    """A registered reader and the guard that decides which objects are offered to it."""

    reader: Reader
    sop_classes: frozenset[str] | None = None  # DICOM objects it may read (None: none)
    suffixes: tuple[str, ...] = ()  # non-DICOM file-name endings it may read, lower case

    def may_read(self, obj: Any) -> bool:
        if isinstance(obj, Dataset):
            return self.sop_classes is not None and str(obj.get("SOPClassUID", "") or "") in self.sop_classes
        if isinstance(obj, str | Path):
            return str(obj).lower().endswith(self.suffixes) if self.suffixes else False
        return False


@dataclass
class Registry:
    """Ordered readers; :meth:`reader_for` returns the first that can read an object."""

    entries: list[Entry] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ``module.Class`` of readers that failed to import

    def __iter__(self) -> Iterator[Reader]:
        return (e.reader for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def names(self) -> list[str]:
        return [e.reader.name for e in self.entries]

    def get(self, name: str) -> Reader | None:
        return next((e.reader for e in self.entries if e.reader.name == name), None)

    def wants(self, sop_class: str) -> bool:
        """Whether any reader may read DICOM objects of this SOP class (images: no)."""
        return any(e.sop_classes is not None and sop_class in e.sop_classes for e in self.entries)

    def reader_for(self, obj: Any) -> Reader | None:
        """The first reader whose guard and ``can_read`` accept ``obj`` (a path or a pydicom header)."""
        if isinstance(obj, str | Path):
            path = Path(obj)
            by_name = [e for e in self.entries if e.suffixes and e.may_read(path)]
            if by_name:
                return next((e.reader for e in by_name if _can(e.reader, path)), None)
            try:
                obj = read_header(path)
            except Exception:
                return None
        candidates = [e for e in self.entries if e.may_read(obj)]
        return next((e.reader for e in candidates if _can(e.reader, obj)), None)


def _can(reader: Reader, obj: Any) -> bool:
    try:
        return bool(reader.can_read(obj))
    except Exception:  # a reader that fails to decide cannot read it
        return False


# (module, class, guard, takes image spacing)
_KNOWN: list[tuple[str, str, frozenset[str] | None, tuple[str, ...], bool]] = [
    ("irrecist.lesions.sr", "TID1500Reader", SR_CLASSES, (), False),
    ("irrecist.lesions.sr", "GenericSRReader", SR_CLASSES, (), False),
    ("irrecist.lesions.seg", "SegReader", SEG_CLASSES, (), False),
    ("irrecist.lesions.rtstruct", "RtStructReader", RTSTRUCT_CLASSES, (), False),
    ("irrecist.lesions.gsps", "GspsReader", PR_CLASSES, (), True),
    ("irrecist.lesions.aim", "AimReader", None, (".xml",), True),
    ("irrecist.lesions.slicer", "SlicerReader", None, (".mrk.json",), False),
]


def missing_readers() -> list[str]:
    """``module.Class`` of the known readers that could not be imported."""
    out = []
    for module, cls, *_ in _KNOWN:
        try:
            getattr(importlib.import_module(module), cls)
        except Exception:
            out.append(f"{module}.{cls}")
    return out


def default_registry(
    image_spacing: Mapping[str, Spacing] | None = None, present: Collection[str] | None = None
) -> Registry:
    """Every available reader: SR (TID 1500, then other SR), SEG, RTSTRUCT, GSPS, AIM, Slicer markups.

    ``image_spacing`` (SOP Instance UID -> PixelSpacing (row, column) of the images found, as built by
    ``gsps.image_spacing_from_files`` or the study index) goes to the readers that measure in pixels.
    ``present`` (SOP Class UIDs and lower-case file-name endings met) skips importing readers with nothing to
    read (highdicom and scipy take most of a small run's time); None registers every reader.
    """
    reg = Registry()
    spacing = dict(image_spacing or {})
    for module, cls, classes, suffixes, wants_spacing in _KNOWN:
        if present is not None and not (set(classes or ()) & set(present) or set(suffixes) & set(present)):
            continue
        try:
            factory = getattr(importlib.import_module(module), cls)
        except Exception:  # not written yet, or broken: not registered, and listed
            reg.missing.append(f"{module}.{cls}")
            continue
        reader = factory(image_spacing=spacing) if wants_spacing else factory()
        reg.entries.append(Entry(reader, classes, suffixes))
    return reg
