"""Conformance of every registered reader to the ``Reader`` protocol (irrecist/lesions/base.py), on one real
file per reader (PROVENANCE.md; read in place) -- except 3D Slicer markups, of which no public sample exists,
so a synthetic one is written to tmp."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest

from irrecist.columns import LESION_COLUMNS
from irrecist.lesions.base import ReadResult
from irrecist.lesions.registry import default_registry, missing_readers
from tests.conftest import need_shared

AIM = "annotation-and-image-markup/AIMToolkit_v3.0.2_rv11/examples/SampleAIMAnnotationsAndImages"
REAL_SAMPLES: dict[str, str] = {
    "dicom-sr-tid1500": "highdicom/data/test_files/sr_document_with_multiple_groups.dcm",
    "dicom-sr-generic": f"{AIM}/AIMAnnotations/Baseline/0022BaselineA.dcm",
    "dicom-seg": "pydicomutils/examples/data/ct_images/dcm_segmentation/nodule_01_annotation_0.dcm",
    "dicom-rtstruct": "dicompyler-core/tests/testdata/example_data/rtss.dcm",
    "gsps": "dcm4che-typeddicom/dcm4che-typeddicom-lib/dcm4che-typeddicom-lib-std/src/test/resources/GSPS_PS.dcm",
    "aim": f"{AIM}/AIMAnnotations/Baseline/0022BaselineA.xml",
}
REGISTRY = default_registry()
NAMES = REGISTRY.names


def _slicer_sample(folder: Path) -> Path:
    """A one-line markups file (LPS, 3-4-0 mm: length 5 mm) and its sidecar."""
    line = {
        "type": "Line",
        "name": "L1",
        "coordinateSystem": "LPS",
        "controlPoints": [
            {"id": "1", "position": [0.0, 0.0, 10.0], "positionStatus": "defined"},
            {"id": "2", "position": [3.0, 4.0, 10.0], "positionStatus": "defined"},
        ],
    }
    path = folder / "lesion.mrk.json"
    path.write_text(json.dumps({"markups": [line]}), encoding="utf-8")
    side = {"subject_id": "S1", "timepoint": "baseline", "date": "2024-01-10", "lesion_id": "T1", "role": "target"}
    (folder / "lesion.sidecar.json").write_text(json.dumps(side), encoding="utf-8")
    return path


SYNTHETIC: dict[str, Callable[[Path], Path]] = {"slicer": _slicer_sample}


def _sample(name: str, tmp_path: Path) -> Path:
    if name in REAL_SAMPLES:
        return need_shared("data", "real", *REAL_SAMPLES[name].split("/"))
    assert name in SYNTHETIC, f"registered reader {name!r} has no sample file: add one to the conformance suite"
    folder = tmp_path / "sample"
    folder.mkdir()
    return SYNTHETIC[name](folder)


def test_all_known_readers_are_registered() -> None:
    assert missing_readers() == []
    assert set(NAMES) == set(REAL_SAMPLES) | set(SYNTHETIC)
    assert len(NAMES) == len(set(NAMES)), "reader names must be unique"


@pytest.mark.parametrize("name", NAMES)
def test_reads_its_sample_into_lesion_rows(name: str, tmp_path: Path) -> None:
    reader = REGISTRY.get(name)
    assert reader is not None
    path = _sample(name, tmp_path)
    assert reader.can_read(path)
    chosen = REGISTRY.reader_for(path)
    assert chosen is not None and chosen.name == name, "the registry must pick this reader for its sample"
    result = reader.read(path)
    assert isinstance(result, ReadResult)
    assert result.rows, [p.message for p in result.problems]
    uid = ""
    if path.suffix == ".dcm":
        uid = str(pydicom.dcmread(path, stop_before_pixels=True, force=True).SOPInstanceUID)
    for row in result.rows:
        assert set(LESION_COLUMNS) <= set(row), set(LESION_COLUMNS) - set(row)
        for col in ("long_axis_mm", "short_axis_mm"):
            value = row[col]
            assert value is None or (isinstance(value, float) and math.isfinite(value) and value >= 0), (col, value)
        assert row["long_axis_mm"] is not None or row["short_axis_mm"] is not None
        assert row["unit"] == "mm"
        assert isinstance(row["source"], str) and row["source"].strip()
        assert str(path) in row["source"] and uid in row["source"]


@pytest.mark.parametrize("name", NAMES)
def test_truncated_copy_gives_a_problem_not_an_exception(name: str, tmp_path: Path) -> None:
    reader = REGISTRY.get(name)
    assert reader is not None
    path = _sample(name, tmp_path)
    cut = tmp_path / "cut"
    cut.mkdir()
    target = cut / path.name
    data = path.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    for side in path.parent.glob(path.name.split(".")[0] + ".sidecar.*"):
        shutil.copy(side, cut / side.name)
    result = reader.read(target)  # must not raise
    assert isinstance(result, ReadResult)
    assert result.problems, "a truncated file must yield at least one problem line"


@pytest.mark.parametrize("name", NAMES)
def test_plain_text_file_is_not_readable(name: str, tmp_path: Path) -> None:
    reader = REGISTRY.get(name)
    assert reader is not None
    text = tmp_path / "notes.txt"
    text.write_text("radiologist's notes: lesion T1 is 12 mm\n", encoding="utf-8")
    assert not reader.can_read(text)
    assert REGISTRY.reader_for(text) is None
    if name.startswith("dicom") or name == "gsps":
        disguised = tmp_path / "notes.dcm"
        shutil.copy(text, disguised)
        assert not reader.can_read(disguised)
