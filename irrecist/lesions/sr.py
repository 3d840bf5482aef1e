"""DICOM SR readers: TID 1500 Measurement Reports (DICOM PS3.16 TID 1500/1501/1410/1411/1502) and other SRs.

``TID1500Reader``: each measurement group gives at most one lesion-table row (``sr_generic.group_rows``).
highdicom parses and checks the document first (``from_dataset`` into its ``MeasurementReport``), and the
image, planar and volumetric ROI groups are read from its typed content items; where it refuses a real
file (e.g. a NUM without Measured Value Sequence, PS3.3 C.18.1, as Cornerstone writes), a tolerant,
depth-bounded pydicom walk takes over and reports what it skipped.

``GenericSRReader``: SRs that are not TID 1500 but carry NUM lengths (mm, cm) drawn as two-point SCOORD
lines, such as the AIM toolkit's "AIM SR Report" renderings (PS3.3 A.35.3; private ``99NCIAIM`` concepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from functools import lru_cache, partial
from typing import Any

import highdicom as hd
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from irrecist.dicomio import dcmread
from irrecist.errors import Level

from .base import ReadResult
from .sr_generic import (
    DEVICE_OBSERVER_NAME,
    DEVICE_OBSERVER_UID,
    FINDING,
    FINDING_SITE,
    OBSERVER_TYPE,
    PERSON_OBSERVER_NAME,
    TIME_POINT_CONCEPTS,
    TRACKING_ID,
    TRACKING_UID,
    SRGroup,
    SRHeader,
    children,
    concept_name,
    concept_value,
    describe,
    find_text,
    first_line,
    group_lines,
    group_rows,
    guarded_read,
    header_of,
    is_measurement_report,
    is_sr,
    iter_content,
    load_dataset,
    matches,
    num_of,
    observer_of,
    scoord_of,
    size_kind,
    text_of,
    timepoint_of,
    unit_kind,
)

__all__ = ["GenericSRReader", "TID1500Reader", "read_generic_sr", "read_measurement_report"]

HIGHDICOM_CLASSES: dict[str, Any] = {
    uid.EnhancedSRStorage: hd.sr.EnhancedSR,
    uid.ComprehensiveSRStorage: hd.sr.ComprehensiveSR,
    uid.Comprehensive3DSRStorage: hd.sr.Comprehensive3DSR,
}
"""The highdicom class that parses a TID 1500 document of each SR storage class (``from_dataset``)."""
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
CONTEXT_CONCEPTS: dict[str, tuple[Code, ...]] = {
    "tracking": (TRACKING_ID, TRACKING_UID),  # TID 1501
    "time point": TIME_POINT_CONCEPTS,  # TID 1502
    "observer": (OBSERVER_TYPE, PERSON_OBSERVER_NAME, DEVICE_OBSERVER_NAME, DEVICE_OBSERVER_UID),  # TID 1002-1004
}
"""The concept names that ``find_text`` (tracking), ``timepoint_of`` and ``observer_of`` look for among a
container's items, by lookup; no concept is in two lookups."""


@lru_cache(maxsize=4096)
def _lookup_of(value: str, scheme: str, version: str | None) -> str | None:
    """The :data:`CONTEXT_CONCEPTS` lookup that asks for a concept name, or None; by pydicom's ``Code`` equality
    (which looks only at value, scheme and version, and takes an SRT code as its SCT twin), remembered per code."""
    code = Code(value, scheme, "", version)
    return next((what for what, concepts in CONTEXT_CONCEPTS.items() if matches(code, *concepts)), None)


def context_items(items: Sequence[Dataset], names: Sequence[Code | None] | None = None) -> dict[str, list[Dataset]]:
    """For each lookup of :data:`CONTEXT_CONCEPTS`, the items (in order) whose concept name (``names``, else read
    here) it asks for. ``find_text``, ``timepoint_of`` and ``observer_of`` only take items of those names (and
    the children of an Observer Type item), so each answers the same on its few items as on all ``items``,
    without reading every item's concept name again for each concept it looks for."""
    if names is None:
        names = [concept_name(item) for item in items]
    found: dict[str, list[Dataset]] = {what: [] for what in CONTEXT_CONCEPTS}
    for item, name in zip(items, names, strict=True):
        if name is not None and (what := _lookup_of(name.value, name.scheme_designator, name.scheme_version)):
            found[what].append(item)
    return found


def _groups_from_highdicom(ds: Dataset, limits: list[str], skipped: list[str], *, owned: bool) -> list[SRGroup]:
    """highdicom parses and checks the whole document into typed content items (``from_dataset``; its
    ``MeasurementReport`` for template 1500); the image, planar and volumetric measurement groups are then
    read from those items by the same walk as the fallback. ``MeasurementReport.get_*_measurement_groups``
    would give the same groups but re-search and deep-copy the tree on every call (45 ms against 13 ms per
    demo SR). ``owned``: ``ds`` was read here, so highdicom may convert it in place instead of copying it."""
    cls = HIGHDICOM_CLASSES.get(str(ds.SOPClassUID))
    if cls is None:
        raise ValueError(f"highdicom reads no SR of SOP class {ds.SOPClassUID}")
    # highdicom converts the content items in place even with copy=True (its root item shares the original's
    # Content Sequence), so a caller's dataset is copied here and never handed over
    doc = cls.from_dataset(ds if owned else deepcopy(ds), copy=False)
    if not isinstance(doc.content, hd.sr.MeasurementReport):
        raise ValueError("the content is not a TID 1500 Measurement Report")
    return _groups_from_tree(doc, limits, skipped)


def _groups_from_tree(ds: Dataset, limits: list[str], skipped: list[str]) -> list[SRGroup]:
    """Tolerant TID 1500 walk with pydicom: every Measurement Group container, whatever else is broken."""
    groups: list[SRGroup] = []
    for item, _depth, _ancestors in iter_content(ds, limits):
        if item.get("ValueType") != "CONTAINER" or not matches(concept_name(item), MEASUREMENT_GROUP):
            continue
        kids = children(item)
        names = [concept_name(kid) for kid in kids]
        context = context_items(kids, names)
        tracking = context["tracking"]
        group = SRGroup(len(groups) + 1, find_text(tracking, TRACKING_ID), find_text(tracking, TRACKING_UID))
        label = f"measurement group {group.number} ({group.tracking_id or 'no identifier'})"
        for kid, name in zip(kids, names, strict=True):
            vt = kid.get("ValueType")
            if name is None:
                skipped.append(f"{label}: a {vt or 'typeless'} item without a concept name")
            elif vt == "NUM":
                if (num := num_of(kid)) is None:
                    skipped.append(f"{label}: NUM {describe(name)} without a measured value")
                    continue
                group.nums.append(num)
                group.sites.extend(c for k in children(kid)
                                   if matches(concept_name(k), FINDING_SITE) and (c := concept_value(k)) is not None)
            elif vt == "SCOORD" and group.region is None:
                group.region = scoord_of(kid)  # TID 1410 Image Region: the ROI the group's NUMs measure
            elif vt == "CODE" and (value := concept_value(kid)) is not None:
                if name == FINDING:
                    group.finding = value.meaning or value.value
                elif name == FINDING_SITE:
                    group.sites.append(value)
                group.value_codes.append(value)
        group.timepoint, group.observer = timepoint_of(context["time point"]), observer_of(context["observer"])
        groups.append(group)
    return groups


def read_measurement_report(ds: Dataset, path: str, *, owned: bool = False) -> ReadResult:
    """Rows and problems for one TID 1500 document already read with pydicom (``owned``: read by this
    module from ``path``, so it may be changed in place)."""
    result = ReadResult()
    header = header_of(ds, path, result.problems)
    limits: list[str] = []
    for _ in iter_content(ds, limits):  # pre-scan: highdicom recurses without bound
        pass
    skipped: list[str] = []
    groups: list[SRGroup] | None = None
    if limits:
        result.problems.append(header.problem(Level.WARNING, f"{path}: content tree too deep or cyclic for "
                                              "highdicom; read with the tolerant pydicom walk"))
    else:
        try:
            groups = _groups_from_highdicom(ds, limits, skipped, owned=owned)
        except Exception as exc:  # highdicom refuses some real files: fall back, and say so
            result.problems.append(header.problem(Level.WARNING, f"{path}: highdicom refused the document "
                                                  f"({type(exc).__name__}: {first_line(exc)}); read with the "
                                                  "tolerant pydicom walk"))
    if groups is None:
        skipped.clear()
        if owned:  # highdicom may have converted part of it in place: walk the file as written
            ds = load_dataset(path)[0] or ds
        groups = _groups_from_tree(ds, limits, skipped)
    for text in dict.fromkeys(limits + skipped):
        result.problems.append(header.problem(Level.WARNING, f"{path}: skipped {text}"))
    context = context_items(children(ds))
    doc_timepoint, doc_observer = timepoint_of(context["time point"]), observer_of(context["observer"])
    for group in groups:
        _add_rows(result, group, group_rows(group, header, doc_timepoint, doc_observer, result.problems))
    _warn_without_timepoint(result, header, path)
    return result


def _add_rows(result: ReadResult, group: SRGroup, rows: list[dict[str, Any]]) -> None:
    """Append a group's rows and the lines their sizes were measured on."""
    for row in rows:
        result.lines.extend(group_lines(group, row, len(result.rows)))
        result.rows.append(row)


def _warn_without_timepoint(result: ReadResult, header: SRHeader, path: str) -> None:
    """Rows were read but no TID 1502 time point context labels them (the study index labels them later)."""
    if result.rows and not any(row["timepoint"] for row in result.rows):
        result.problems.append(header.problem(Level.WARNING, f"{path}: no TID 1502 Time Point Context: "
                                              "timepoint left empty"))


def _accept_tid1500(ds: Dataset) -> str:
    if not is_sr(ds):
        return f"SOP Class {ds.get('SOPClassUID', '')} is not a DICOM SR storage class"
    if not is_measurement_report(ds):
        return "not a TID 1500 Measurement Report (no template 1500, root concept is not DCM 126000)"
    return ""


def read_header(obj: Any) -> Dataset | None:
    """The few header attributes ``can_read`` needs, or None for anything unreadable."""
    if isinstance(obj, Dataset):
        return obj
    try:
        tags = ["SOPClassUID", "ContentTemplateSequence", "ConceptNameCodeSequence", "ValueType"]
        return dcmread(obj, stop_before_pixels=True, specific_tags=tags)
    except Exception:
        return None


class TID1500Reader:
    """Reader for DICOM SR Measurement Reports (DICOM PS3.16 TID 1500), written by any tool."""

    name = "dicom-sr-tid1500"

    def can_read(self, obj: Any) -> bool:
        header = read_header(obj)
        return header is not None and is_sr(header) and is_measurement_report(header)

    def read(self, obj: Any) -> ReadResult:
        owned = not isinstance(obj, Dataset)  # read from a path here: highdicom may convert it in place
        return guarded_read(obj, _accept_tid1500, partial(read_measurement_report, owned=owned))


# ------------------------------------------------------------------ other SR: NUM lengths drawn as lines

_LABELS = {"length": "length", "long axis": "long_axis", "short axis": "short_axis", "diameter": "diameter"}
MEASUREMENT_METHOD = Code("370129005", "SCT", "Measurement Method")


def _is_line(item: Dataset) -> bool:
    """A two-point POLYLINE SCOORD (PS3.3 C.18.6): a caliper drawn on an image."""
    data = item.get("GraphicData") or []
    return item.get("ValueType") == "SCOORD" and item.get("GraphicType") == "POLYLINE" and len(data) == 4


def _is_length_num(item: Dataset) -> bool:
    """A NUM in mm/cm, or one named as a size whatever its unit (so pixel sizes get reported)."""
    if item.get("ValueType") != "NUM" or (num := num_of(item)) is None:
        return False
    return num.kind is not None or unit_kind(num.unit, num.unit_meaning) == "length"


def _annotation_of(ancestors: tuple[Dataset, ...]) -> Dataset:
    """The outermost container under the root holding a Tracking Identifier/UID, else the nearest container."""
    containers = [a for a in ancestors[1:] if a.get("ValueType") == "CONTAINER"]
    for container in containers:
        if any(matches(concept_name(k), TRACKING_ID, TRACKING_UID) for k in children(container)):
            return container
    return containers[-1] if containers else ancestors[0]


def _group_of(number: int, unit: Dataset, nums: list[Dataset], limits: list[str]) -> tuple[SRGroup, bool]:
    """An SRGroup for one annotation container, and whether a two-point line was drawn in it."""
    kids = children(unit)
    group = SRGroup(number, find_text(kids, TRACKING_ID), find_text(kids, TRACKING_UID))
    items = [item for item, _d, _a in iter_content(unit, limits)]
    lines = [item for item in items if _is_line(item)]
    has_line = bool(lines)
    if len(lines) == 1:  # the one line drawn in the annotation measures its length
        group.region = scoord_of(lines[0])
    method = next((_LABELS.get(t.lower()) for i in items if matches(concept_name(i), MEASUREMENT_METHOD)
                   and (t := text_of(i))), None)
    for item in items:
        name, value = concept_name(item), concept_value(item)
        if value is None or name is None:
            continue
        if name == FINDING:
            group.finding = value.meaning or value.value
        elif name == FINDING_SITE or "anatomic" in name.meaning.lower():
            group.sites.append(value)
        group.value_codes.append(value)
    for item in nums:
        labels = [_LABELS.get((text_of(k) or "").lower()) for k in children(item) if k.get("ValueType") == "TEXT"]
        kind = size_kind(concept_name(item)) or next((k for k in labels if k), None) or method or "length"
        if (num := num_of(item, kind)) is not None:
            group.nums.append(num)
    group.timepoint, group.observer = timepoint_of(items), observer_of(items)
    return group, has_line


def read_generic_sr(ds: Dataset, path: str) -> ReadResult:
    """Rows and problems for an SR that is not TID 1500 but holds NUM lengths drawn as lines (e.g. AIM SR)."""
    result = ReadResult()
    header = header_of(ds, path, result.problems)
    limits: list[str] = []
    units: dict[int, tuple[Dataset, list[Dataset]]] = {}
    for item, _depth, ancestors in iter_content(ds, limits):
        if _is_length_num(item):
            unit = _annotation_of(ancestors)
            units.setdefault(id(unit), (unit, []))[1].append(item)
    doc_items = children(ds)
    doc_timepoint, doc_observer = timepoint_of(doc_items), observer_of(doc_items)
    for number, (unit, nums) in enumerate(units.values(), 1):
        group, has_line = _group_of(number, unit, nums, limits)
        if has_line:
            _add_rows(result, group, group_rows(group, header, doc_timepoint, doc_observer, result.problems))
            continue
        found = "; ".join(f"{n.meaning} {n.value:g} {n.unit}" for n in group.nums)
        result.problems.append(header.problem(Level.WARNING, f"{path}: annotation {number} "
                                              f"({describe(concept_name(unit))}): {found} without a two-point "
                                              "line (SCOORD POLYLINE) drawn with it: not read as a lesion size"))
    for text in dict.fromkeys(limits):
        result.problems.append(header.problem(Level.WARNING, f"{path}: skipped {text}"))
    if not units:
        result.problems.append(header.problem(Level.WARNING, f"{path}: no NUM length in mm or cm: no rows"))
    _warn_without_timepoint(result, header, path)
    return result


def _accept_generic(ds: Dataset) -> str:
    if not is_sr(ds):
        return f"SOP Class {ds.get('SOPClassUID', '')} is not a DICOM SR storage class"
    if is_measurement_report(ds):
        return "a TID 1500 Measurement Report: read it with the TID 1500 reader"
    return ""


class GenericSRReader:
    """Reader for non-TID 1500 SR documents whose NUM lengths (mm/cm) come with a two-point SCOORD line,
    such as the AIM toolkit's "AIM SR Report" rendering (DICOM PS3.3 A.35.3, C.17.3)."""

    name = "dicom-sr-generic"

    def can_read(self, obj: Any) -> bool:
        ds, _why = load_dataset(obj)
        if ds is None or _accept_generic(ds):
            return False
        limits: list[str] = []
        items = [item for item, _d, _a in iter_content(ds, limits)]
        return any(_is_line(i) for i in items) and any(_is_length_num(i) for i in items)

    def read(self, obj: Any) -> ReadResult:
        return guarded_read(obj, _accept_generic, read_generic_sr)
