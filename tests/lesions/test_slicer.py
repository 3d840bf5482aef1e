"""3D Slicer line markups with sidecar (synthetic: no public .mrk.json with lines exists, see PROVENANCE)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from irrecist.columns import LESION_COLUMNS
from irrecist.errors import Level
from irrecist.lesions.slicer import SlicerReader

SCHEMA = "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#"


def _line(
    p0: list[float], p1: list[float], system: str = "LPS", name: str = "L", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "Line",
        "name": name,
        "coordinateSystem": system,
        "coordinateUnits": "mm",
        "controlPoints": [
            {"id": "1", "label": f"{name}-1", "position": p0, "positionStatus": "defined"},
            {"id": "2", "label": f"{name}-2", "position": p1, "positionStatus": "defined"},
        ],
        **extra,
    }


def _write(folder: Path, stem: str, markups: list[Any], sidecar: dict[str, Any] | None = None) -> Path:
    path = folder / f"{stem}.mrk.json"
    path.write_text(json.dumps({"@schema": SCHEMA, "markups": markups}), encoding="utf-8")
    if sidecar is not None:
        (folder / f"{stem}.sidecar.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return path


SIDE = {
    "subject_id": "003",
    "timepoint": "week 8",
    "date": "2024-03-01",
    "reader": "R1",
    "lesion_id": "T1",
    "role": "target",
    "organ": "liver",
    "nodal": False,
}


def _errors(result: Any) -> list[str]:
    return [p.message for p in result.problems if p.level is Level.ERROR]


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_known_length_in_lps_and_ras(tmp_path: Path, system: str) -> None:
    # (10, -20, 5) -> (13, -16, 17): a 3-4-12 triangle, 13 mm in either system
    path = _write(tmp_path, "t1", [_line([10, -20, 5], [13, -16, 17], system)], SIDE)
    reader = SlicerReader()
    assert reader.can_read(path)
    result = reader.read(path)
    assert result.problems == []
    (row,) = result.rows
    assert set(LESION_COLUMNS) <= set(row)
    assert row["long_axis_mm"] == pytest.approx(13.0)
    assert row["short_axis_mm"] is None
    assert (row["subject_id"], row["timepoint"], row["date"], row["lesion_id"]) == (
        "003",
        "week 8",
        "2024-03-01",
        "T1",
    )
    assert (row["role"], row["organ"], row["nodal"], row["reader"]) == ("target", "liver", False, "R1")
    assert row["unit"] == "mm" and row["status"] == "present"
    assert row["source"] == f"{path}#markups[0]"


def test_micrometre_units(tmp_path: Path) -> None:
    path = _write(tmp_path, "um", [_line([0, 0, 0], [3000, 4000, 0], "RAS", coordinateUnits="um")], SIDE)
    assert SlicerReader().read(path).rows[0]["long_axis_mm"] == pytest.approx(5.0)


def test_stored_length_disagreement_is_reported(tmp_path: Path) -> None:
    mk = _line([0, 0, 0], [0, 0, 20], measurements=[{"name": "length", "value": 25.0, "units": "mm"}])
    result = SlicerReader().read(_write(tmp_path, "m", [mk], SIDE))
    assert result.rows[0]["long_axis_mm"] == pytest.approx(20.0)
    assert any(p.level is Level.WARNING and "25.00 mm" in p.message for p in result.problems)


def test_several_lines_and_a_bidimensional_node(tmp_path: Path) -> None:
    side = {
        "subject_id": "003",
        "timepoint": "baseline",
        "date": "20240110",
        "organ": "lung",
        "lesions": [
            {"markup": "L1", "lesion_id": "T1", "role": "target"},
            {
                "markup": 1,
                "lesion_id": "N1",
                "organ": "lymph node",
                "nodal": True,
                "axis": "long",
                "role": "target",
            },
            {"markup": "N1-short", "lesion_id": "N1", "axis": "short"},
        ],
    }
    lines = [
        _line([0, 0, 0], [30, 0, 0], name="L1"),
        _line([0, 0, 0], [0, 22, 0], name="N1-long"),
        {"type": "Fiducial", "controlPoints": [{"position": [1, 2, 3]}]},
        _line([0, 0, 0], [16, 0, 0], name="N1-short"),
    ]
    result = SlicerReader().read(_write(tmp_path, "bl", lines, side))
    rows = {r["lesion_id"]: r for r in result.rows}
    assert set(rows) == {"T1", "N1"}
    assert rows["T1"]["long_axis_mm"] == pytest.approx(30.0) and rows["T1"]["organ"] == "lung"
    assert rows["N1"]["long_axis_mm"] == pytest.approx(22.0) and rows["N1"]["short_axis_mm"] == pytest.approx(
        16.0
    )
    assert rows["N1"]["nodal"] is True and rows["N1"]["organ"] == "lymph node"
    assert rows["N1"]["date"] == "2024-01-10"
    assert _errors(result) == []
    assert any(p.level is Level.INFO and "Fiducial" in p.message for p in result.problems)


def test_csv_sidecar(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "fu", [_line([0, 0, 0], [0, 12, 0], name="A"), _line([0, 0, 0], [7, 0, 0], name="B")]
    )
    (tmp_path / "fu.sidecar.csv").write_text(
        "subject_id,timepoint,date,reader,markup,lesion_id,role,organ,nodal\n"
        "003,week 8,2024-03-01,R2,A,T1,,,\n"
        "003,week 8,2024-03-01,R2,B,N1,target,lymph node,yes\n",
        encoding="utf-8",
    )
    result = SlicerReader().read(path)
    rows = {r["lesion_id"]: r for r in result.rows}
    assert rows["T1"]["long_axis_mm"] == pytest.approx(12.0) and rows["T1"]["role"] is None
    assert rows["N1"]["nodal"] is True and rows["N1"]["reader"] == "R2"
    assert result.problems == []


def test_missing_sidecar_keeps_the_measure_and_reports(tmp_path: Path) -> None:
    result = SlicerReader().read(_write(tmp_path, "lonely", [_line([0, 0, 0], [0, 0, 9])]))
    assert result.rows[0]["long_axis_mm"] == pytest.approx(9.0)
    assert result.rows[0]["subject_id"] is None
    assert any("no sidecar" in m for m in _errors(result))


def test_sidecar_outside_the_input_folder_is_refused(tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (outside / "evil.json").write_text(json.dumps(SIDE), encoding="utf-8")
    path = _write(inside, "t1", [_line([0, 0, 0], [0, 0, 9])])
    os.symlink(outside / "evil.json", inside / "t1.sidecar.json")
    result = SlicerReader().read(path)
    assert any("outside the input folder" in m for m in _errors(result))
    assert result.rows[0]["subject_id"] is None
    # with the parent as the declared input folder, the same sidecar is accepted
    assert SlicerReader(input_folder=tmp_path).read(path).rows[0]["subject_id"] == "003"


def test_bad_sidecar_values_are_reported(tmp_path: Path) -> None:
    side = {**SIDE, "date": "01/03/2024", "nodal": "maybe", "colour": "red"}
    del side["timepoint"]
    result = SlicerReader().read(_write(tmp_path, "t", [_line([0, 0, 0], [0, 0, 9])], side))
    errors = " | ".join(_errors(result))
    assert "not an ISO date" in errors and "nodal" in errors and "timepoint is missing" in errors
    assert any("colour" in p.message for p in result.problems if p.level is Level.WARNING)
    assert result.rows[0]["date"] is None


def test_ambiguous_lesion_for_several_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "two", [_line([0, 0, 0], [0, 0, 9]), _line([0, 0, 0], [0, 0, 4])], SIDE)
    result = SlicerReader().read(path)
    assert len(result.rows) == 2 and all(r["lesion_id"] is None for r in result.rows)
    assert sum("names no lesion_id" in m for m in _errors(result)) == 2


def test_malformed_files_give_problems_not_exceptions(tmp_path: Path) -> None:
    reader = SlicerReader()
    broken = tmp_path / "broken.mrk.json"
    broken.write_text('{"markups": [', encoding="utf-8")
    assert any("not a readable JSON" in m for m in _errors(reader.read(broken)))
    wrong = tmp_path / "wrong.mrk.json"
    wrong.write_text('{"markups": 3}', encoding="utf-8")
    assert _errors(reader.read(wrong))
    one_point = _line([0, 0, 0], [1, 1, 1])
    one_point["controlPoints"][1]["positionStatus"] = "undefined"
    bad_pos = _line([0, 0, 0], [1, "x", 1])  # type: ignore[list-item]
    weird = _line([0, 0, 0], [1, 1, 1], system="XYZ")
    result = reader.read(_write(tmp_path, "odd", [one_point, bad_pos, weird, "junk"], SIDE))
    errors = " | ".join(_errors(result))
    assert "1 defined control points" in errors and "not three numbers" in errors
    assert "coordinateSystem" in errors and "not a JSON object" in errors
    assert result.rows == []
    assert not reader.can_read(tmp_path / "missing.mrk.json")
    assert not reader.can_read(tmp_path / "notes.json")
    assert _errors(reader.read(tmp_path / "missing.mrk.json"))
