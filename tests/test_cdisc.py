"""CDISC tables (SDTM TU/TR/RS, ADaM ADRS): every written file read back (CSV, SAS transport, Parquet) and
checked against values computed by hand for a small lesion table."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest

import irrecist
from irrecist.cdisc import TABLES, XPT_MAX_CHAR, _csv_text, lesion_results, write_extras
from irrecist.model import Lesion, Observation, Role, Status
from irrecist_cli.main import main
from tests.helpers import frame

NAMES = ("tu", "tr", "rs", "adrs")
A01 = "A01"  # reader R1, treatment start 2024-01-05 (4 days after the baseline scan)
B02 = "B02"  # no reader, no subject-table row: reference date = baseline scan
C03 = "C03"  # one PR never confirmed


def _row(sid: str, tp: str, d: str, lid: str, **kw: Any) -> dict[str, Any]:
    return {"subject_id": sid, "timepoint": tp, "date": d, "lesion_id": lid, **kw}


def lesion_rows() -> list[dict[str, Any]]:
    visits = [("baseline", "2024-01-01"), ("wk8", "2024-03-01"), ("wk16", "2024-04-26"), ("wk24", "2024-06-21")]
    t1 = [{"long_axis_mm": "32.5"}, {"long_axis_mm": "20"}, {"status": "too_small"}, {"status": "not_evaluated"}]
    t2 = [
        {"long_axis_mm": "25.1", "short_axis_mm": "18.4"},
        {"long_axis_mm": "20.0", "short_axis_mm": "12.3"},
        {"short_axis_mm": "8"},
        {"short_axis_mm": "9.0"},
    ]
    nt1 = ["present", "present", "absent", "absent"]
    rows = []
    ids = {"T1": ("target", "Liver"), "T2": ("target", "Mediastinal lymph node"), "NT1": ("non-target", "Lung")}
    for k, (tp, d) in enumerate(visits):
        values = {"T1": t1[k], "T2": {"nodal": "true", **t2[k]}, "NT1": {"status": nt1[k]}}
        for lid, (role, organ) in ids.items():
            first = {"role": role, "organ": organ} if k == 0 else {}  # later rows inherit role and organ
            rows.append(_row(A01, tp, d, lid, reader="R1", **first, **values[lid]))
    rows.append(_row(B02, "baseline", "2024-02-01", "T1", role="target", organ="Lung", long_axis_mm="40"))
    rows.append(_row(B02, "wk8", "2024-03-28", "T1", long_axis_mm="44"))
    rows.append(_row(B02, "wk8", "2024-03-28", "N1", role="new", organ="Liver", long_axis_mm="15"))
    rows.append(_row(C03, "baseline", "2024-01-01", "T1", role="target", organ="Kidney", long_axis_mm="50"))
    rows.append(_row(C03, "wk8", "2024-02-26", "T1", long_axis_mm="30"))
    return rows


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cdisc")
    frame(lesion_rows()).to_csv(base / "lesions.csv", index=False)
    (base / "subjects.csv").write_text("subject_id,treatment_start_date\nA01,2024-01-05\n")
    out = base / "out"
    args = ["score", str(base / "lesions.csv"), "--subjects", str(base / "subjects.csv"), "--out", str(out)]
    assert main([*args, "--criterion", "all", "--xpt", "--parquet"]) == 0
    return out


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def tables(outdir: Path) -> dict[str, pd.DataFrame]:
    return {name: read_csv(outdir / "cdisc" / f"{name}.csv") for name in NAMES}


def test_every_table_is_written_in_three_formats(outdir: Path) -> None:
    for name in NAMES:
        for ext in ("csv", "xpt", "parquet"):
            assert (outdir / "cdisc" / f"{name}.{ext}").stat().st_size > 0
    for name in ("timepoints", "subjects", "errors"):
        assert (outdir / f"{name}.parquet").is_file()
    assert not list(outdir.rglob(".*.tmp"))  # no temporary file left behind


def test_tu_identifies_each_lesion_once_at_first_sight(tables: dict[str, pd.DataFrame]) -> None:
    tu = tables["tu"]
    got = tu[["USUBJID", "TUSEQ", "TULNKID", "TUTESTCD", "TUORRES", "TULOC", "TUEVAL", "VISIT", "TUDTC", "TUDY"]]
    assert got.values.tolist() == [
        ["A01", "1", "T1", "TUMIDENT", "TARGET", "Liver", "R1", "baseline", "2024-01-01", "-4"],
        ["A01", "2", "T2", "TUMIDENT", "TARGET", "Mediastinal lymph node", "R1", "baseline", "2024-01-01", "-4"],
        ["A01", "3", "NT1", "TUMIDENT", "NON-TARGET", "Lung", "R1", "baseline", "2024-01-01", "-4"],
        ["B02", "1", "T1", "TUMIDENT", "TARGET", "Lung", "", "baseline", "2024-02-01", "1"],
        ["B02", "2", "N1", "TUMIDENT", "NEW", "Liver", "", "wk8", "2024-03-28", "57"],
        ["C03", "1", "T1", "TUMIDENT", "TARGET", "Kidney", "", "baseline", "2024-01-01", "1"],
    ]
    assert set(tu.DOMAIN) == {"TU"} and set(tu.STUDYID) == {""}


def _tr(tables: dict[str, pd.DataFrame], sid: str, lid: str, test: str, col: str = "TRSTRESN") -> list[str]:
    tr = tables["tr"]
    return tr[(tr["USUBJID"] == sid) & (tr["TRLNKID"] == lid) & (tr["TRTESTCD"] == test)][col].tolist()


def test_tr_measurements_in_mm(tables: dict[str, pd.DataFrame]) -> None:
    assert _tr(tables, A01, "T1", "LDIAM", "TRORRES") == ["32.5", "20.0", "TOO SMALL TO MEASURE", ""]
    assert _tr(tables, A01, "T1", "LDIAM") == ["32.5", "20.0", "5.0", ""]  # too small: the default 5 mm
    assert _tr(tables, A01, "T1", "LDIAM", "TRSTAT") == ["", "", "", "NOT DONE"]
    # nodal target: its measure is the short axis, LPERP; its recorded long axis is not a TR result
    assert _tr(tables, A01, "T2", "LPERP") == ["18.4", "12.3", "8.0", "9.0"]
    assert _tr(tables, A01, "T2", "LDIAM") == []
    assert _tr(tables, A01, "T2", "LPERP", "TRORRESU") == ["mm"] * 4
    assert _tr(tables, A01, "NT1", "TUMSTATE", "TRORRES") == ["PRESENT", "PRESENT", "ABSENT", "ABSENT"]
    assert _tr(tables, B02, "N1", "LDIAM") == ["15.0"]


def test_sumdiam_is_the_hand_sum_of_the_target_measures(tables: dict[str, pd.DataFrame]) -> None:
    # 32.5 + 18.4 = 50.9; 20.0 + 12.3 = 32.3; 5 (too small) + 8.0 = 13.0; T1 not evaluated: not done
    assert _tr(tables, A01, "", "SUMDIAM") == ["50.9", "32.3", "13.0", ""]
    assert _tr(tables, A01, "", "SUMDIAM", "TRSTAT") == ["", "", "", "NOT DONE"]
    assert _tr(tables, A01, "", "SUMDIAM", "TRREASND")[3] == "T1 NOT EVALUATED"
    assert _tr(tables, B02, "", "SUMDIAM") == ["40.0", "44.0"]  # new lesion N1 is not in SUMDIAM
    tr = tables["tr"]
    done = tr[(tr.TRTESTCD == "SUMDIAM") & (tr.TRSTAT == "")]
    assert len(done) == 3 + 2 + 2
    for row in done.itertuples():  # SUMDIAM = the sum of the target lesions' measure rows at that assessment
        g = tr[(tr.USUBJID == row.USUBJID) & (tr.TRDTC == row.TRDTC) & (tr.TRGRPID == "TARGET")]
        measure = g[g.TRTESTCD.isin(["LDIAM", "LPERP"])]
        assert float(row.TRSTRESN) == round(sum(float(v) for v in measure.TRSTRESN), 3), (row.USUBJID, row.TRDTC)


def test_study_days_have_no_day_0_and_dates_are_iso(tables: dict[str, pd.DataFrame]) -> None:
    tr = tables["tr"]
    a01 = tr[tr.USUBJID == A01].drop_duplicates("TRDTC")
    # treatment start 2024-01-05: baseline 4 days before is day -4, 2024-03-01 is day 57
    assert a01[["TRDTC", "TRDY"]].values.tolist() == [
        ["2024-01-01", "-4"], ["2024-03-01", "57"], ["2024-04-26", "113"], ["2024-06-21", "169"],
    ]  # fmt: skip
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    for name, dtc, dy in (("tu", "TUDTC", "TUDY"), ("tr", "TRDTC", "TRDY"), ("rs", "RSDTC", "RSDY")):
        assert all(iso.match(v) for v in tables[name][dtc]), name
        assert "0" not in set(tables[name][dy]), name
    adrs = tables["adrs"]
    assert all(iso.match(v) for v in adrs.ADT if v)
    assert "0" not in set(adrs.ADY)


def _rs(tables: dict[str, pd.DataFrame], sid: str, cat: str) -> list[list[str]]:
    rs = tables["rs"]
    return rs[(rs["USUBJID"] == sid) & (rs["RSCAT"] == cat)][["VISIT", "RSTESTCD", "RSORRES"]].values.tolist()


def test_rs_responses_per_criterion(tables: dict[str, pd.DataFrame]) -> None:
    # A01: 50.9 -> 32.3 (-36.5 %: PR) -> 13.0 (PR; T1 5 mm is not 0) -> T1 not evaluated (NE)
    assert _rs(tables, A01, "irRECIST") == [
        ["wk8", "TRGRESP", "irPR"], ["wk8", "NTRGRESP", "NON-CR/NON-PD"], ["wk8", "NEWLIND", "N"],
        ["wk8", "OVRLRESP", "irPR"],
        ["wk16", "TRGRESP", "irPR"], ["wk16", "NTRGRESP", "irCR"], ["wk16", "NEWLIND", "N"],
        ["wk16", "OVRLRESP", "irPR"],
        ["wk24", "TRGRESP", "irNE"], ["wk24", "NTRGRESP", "irCR"], ["wk24", "NEWLIND", "N"],
        ["wk24", "OVRLRESP", "irNE"],
    ]  # fmt: skip
    assert [r[2] for r in _rs(tables, A01, "RECIST 1.1")] == [
        "PR", "NON-CR/NON-PD", "N", "PR", "PR", "CR", "N", "PR", "NE", "CR", "N", "NE",
    ]  # fmt: skip
    # B02: new measurable lesion N1 (15 mm) enters TMTB: 59 vs 40 = +47.5 %: irPD; RECIST 1.1: new lesion = PD
    assert _rs(tables, B02, "irRECIST") == [["wk8", "TRGRESP", "irPD"], ["wk8", "NEWLIND", "Y"],
                                           ["wk8", "OVRLRESP", "irPD"]]  # fmt: skip
    assert _rs(tables, B02, "RECIST 1.1") == [["wk8", "TRGRESP", "SD"], ["wk8", "NEWLIND", "Y"],
                                             ["wk8", "OVRLRESP", "PD"]]  # fmt: skip
    rs = tables["rs"]
    assert set(rs[rs.USUBJID == A01].RSEVAL) == {"R1"} and set(rs.DOMAIN) == {"RS"}
    assert rs.groupby("USUBJID").RSSEQ.apply(lambda s: s.astype(int).tolist() == list(range(1, len(s) + 1))).all()


def test_adrs_bor_is_subjects_csv(outdir: Path, tables: dict[str, pd.DataFrame]) -> None:
    subj = read_csv(outdir / "subjects.csv")
    adrs = tables["adrs"]
    names = {"irrecist": "irRECIST", "recist1.1": "RECIST 1.1"}
    bor = adrs[adrs.PARAMCD == "BOR"]
    got = {(r.USUBJID, r.RSEVAL, r.PARCAT3): (r.AVALC, r.ADT) for r in bor.itertuples()}
    want = {(r.subject_id, r.reader, names[r.criterion]): (r.bor, r.bor_date) for r in subj.itertuples()}
    assert got == want and len(bor) == len(subj) == 6
    assert got[(A01, "R1", "irRECIST")] == ("irPR", "2024-03-01")
    assert got[(B02, "", "irRECIST")] == ("irPD", "2024-03-28")  # pending irPD counts as irPD
    assert got[(C03, "", "RECIST 1.1")] == ("SD", "2024-02-26")  # PR never confirmed: SD (day 57 >= 42)


def test_adrs_parameters_and_codes(tables: dict[str, pd.DataFrame]) -> None:
    adrs = tables["adrs"]
    a01 = adrs[(adrs.USUBJID == A01) & (adrs.PARCAT3 == "irRECIST")]
    cols = ["PARAMCD", "AVALC", "AVAL", "ADT", "ADY", "AVISIT", "SRCDOM", "SRCSEQ"]
    assert a01[cols].values.tolist() == [
        ["OVR", "irPR", "2", "2024-03-01", "57", "wk8", "RS", "4"],
        ["OVR", "irPR", "2", "2024-04-26", "113", "wk16", "RS", "8"],
        ["OVR", "irNE", "6", "2024-06-21", "169", "wk24", "RS", "12"],
        ["BOR", "irPR", "2", "2024-03-01", "57", "wk8", "", ""],
        ["CBOR", "irPR", "2", "2024-03-01", "57", "wk8", "", ""],
        ["RSP", "Y", "1", "2024-03-01", "57", "wk8", "", ""],
    ]
    rs = tables["rs"]
    ovr = rs[(rs.USUBJID == A01) & (rs.RSSEQ.isin(["4", "8", "12"]))]
    assert set(ovr.RSTESTCD) == {"OVRLRESP"}  # SRCSEQ points at the RS overall response rows
    b02 = adrs[(adrs.USUBJID == B02) & (adrs.PARCAT3 == "irRECIST")]
    assert b02[["PARAMCD", "AVALC", "AVAL", "PDSTAT"]].values.tolist() == [
        ["OVR", "irPD", "5", "PENDING"], ["BOR", "irPD", "5", ""], ["CBOR", "irPD", "5", ""], ["RSP", "N", "0", ""],
    ]  # fmt: skip
    assert adrs.ASEQ.astype(int).min() == 1


def test_cbor_when_confirmation_is_off(tmp_path: Path) -> None:
    """BOR follows the protocol (here unconfirmed responses count); CBOR always requires confirmation."""
    frame(lesion_rows()).to_csv(tmp_path / "l.csv", index=False)
    out = tmp_path / "o"
    assert main(["score", str(tmp_path / "l.csv"), "--out", str(out), "--set", "confirm_response=false"]) == 0
    adrs = read_csv(out / "cdisc" / "adrs.csv")
    c03 = adrs[adrs.USUBJID == C03].set_index("PARAMCD")
    assert (c03.AVALC["BOR"], c03.AVALC["CBOR"], c03.AVALC["RSP"]) == ("irPR", "irSD", "Y")
    subj = read_csv(out / "subjects.csv")
    assert subj[subj.subject_id == C03].bor.iloc[0] == "irPR"


def _xpt(path: Path) -> tuple[pd.DataFrame, Any]:
    return pyreadstat.read_xport(str(path))


@pytest.mark.parametrize("name", NAMES)
def test_xpt_and_parquet_hold_the_csv_values(outdir: Path, tables: dict[str, pd.DataFrame], name: str) -> None:
    csv = tables[name]
    variables, file_label = TABLES[name]
    xpt, meta = _xpt(outdir / "cdisc" / f"{name}.xpt")
    assert meta.table_name == name.upper() and meta.file_label == file_label
    assert list(xpt.columns) == list(csv.columns) == [v.name for v in variables]
    assert meta.column_names_to_labels == {v.name: v.label for v in variables}
    pq = pd.read_parquet(outdir / "cdisc" / f"{name}.parquet")
    assert list(pq.columns) == list(csv.columns) and len(pq) == len(xpt) == len(csv)
    for v in variables:
        want = csv[v.name].tolist()
        for got in (xpt[v.name].tolist(), pq[v.name].tolist()):
            if v.kind == "char":
                assert [str(x) for x in got] == want, v.name
            elif v.kind == "date":
                assert ["" if pd.isna(x) else x.isoformat() for x in got] == want, v.name
            else:
                assert [None if pd.isna(x) else pytest.approx(float(x)) for x in got] == [
                    None if w == "" else float(w) for w in want
                ], v.name
    if name == "adrs":
        assert meta.original_variable_types["ADT"] == "DATE9"


def test_xpt_v5_limits() -> None:
    for name, (variables, file_label) in TABLES.items():
        assert len(name) <= 8 and len(file_label) <= 40
        for v in variables:
            assert re.fullmatch(r"[A-Z][A-Z0-9]{0,7}", v.name), v.name
            assert 0 < len(v.label) <= 40, v.name
            assert v.kind in ("char", "int", "num", "date")


def test_parquet_copies_of_the_core_tables(outdir: Path) -> None:
    for name in ("timepoints", "subjects", "errors"):
        csv = read_csv(outdir / f"{name}.csv")
        pq = pd.read_parquet(outdir / f"{name}.parquet")
        assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv)
    tp = pd.read_parquet(outdir / "timepoints.parquet")
    a01 = tp[(tp.subject_id == A01) & (tp.criterion == "irrecist")]
    assert a01.target_sum_mm.iloc[:3].tolist() == [50.9, 32.3, 13.0] and pd.isna(a01.target_sum_mm.iloc[3])
    assert a01.study_day.tolist() == [-4, 57, 113, 169]


def test_outputs_are_byte_identical(tmp_path: Path, outdir: Path) -> None:
    out = tmp_path / "again"
    base = outdir.parent
    args = ["score", str(base / "lesions.csv"), "--subjects", str(base / "subjects.csv"), "--out", str(out)]
    assert main([*args, "--criterion", "all", "--xpt", "--parquet"]) == 0
    core = ["timepoints.csv", "subjects.csv", "summary.json", "errors.csv"]
    core += ["timepoints.parquet", "subjects.parquet", "errors.parquet"]
    files = [Path(f) for f in core] + [Path("cdisc") / f"{n}.{e}" for n in NAMES for e in ("csv", "xpt", "parquet")]
    for f in files:
        assert (outdir / f).read_bytes() == (out / f).read_bytes(), f
    # the transport headers carry a fixed time, not the clock's
    head = (outdir / "cdisc" / "tu.xpt").read_bytes()[:560]
    assert head.count(b"01JAN60:00:00:00") == 4


def test_source_date_epoch_sets_the_xpt_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    frame(lesion_rows()).to_csv(tmp_path / "l.csv", index=False)
    assert main(["score", str(tmp_path / "l.csv"), "--out", str(tmp_path / "o"), "--xpt"]) == 0
    head = (tmp_path / "o" / "cdisc" / "rs.xpt").read_bytes()[:560]
    assert head.count(b"14NOV23:22:13:20") == 4


def test_long_text_is_cut_in_xpt_only(tmp_path: Path) -> None:
    rows = lesion_rows()
    organ = "x" * 150 + "é" * 60  # 270 bytes in UTF-8
    rows[2]["organ"] = organ  # NT1 of A01
    frame(rows).to_csv(tmp_path / "l.csv", index=False)
    out = tmp_path / "o"
    assert main(["score", str(tmp_path / "l.csv"), "--out", str(out), "--xpt"]) == 0
    assert organ in read_csv(out / "cdisc" / "tu.csv").TULOC.tolist()
    xpt, _ = _xpt(out / "cdisc" / "tu.xpt")
    cut = [v for v in xpt.TULOC if v.startswith("xxx")][0]
    assert len(cut.encode("utf-8")) == XPT_MAX_CHAR and cut == organ[:175]


def _les(role: Role, nodal: bool = False) -> Lesion:
    return Lesion("L1", role, "liver", "liver", nodal)


@pytest.mark.parametrize(
    ("lesion", "obs", "want"),
    [
        pytest.param(_les(Role.TARGET), Observation("L1", Status.ABSENT), [("LDIAM", "0", 0.0, "")], id="absent"),
        pytest.param(
            _les(Role.TARGET, nodal=True), Observation("L1", Status.ABSENT), [("LPERP", "0", 0.0, "")], id="node-absent"
        ),
        pytest.param(
            _les(Role.TARGET),
            Observation("L1", Status.MERGED, merged_into="T1"),
            [("TUMSTATE", "MERGED INTO T1", None, ""), ("LDIAM", "0", 0.0, "")],
            id="merged",
        ),
        pytest.param(
            _les(Role.NEW),
            Observation("L1", Status.EQUIVOCAL, long_um=7250),
            [("TUMSTATE", "EQUIVOCAL", None, ""), ("LDIAM", "7.25", 7.25, "")],
            id="equivocal-new",
        ),
        pytest.param(
            _les(Role.TARGET),
            Observation("L1", Status.TOO_SMALL, long_um=3000),
            [("LDIAM", "3.0", 3.0, "")],
            id="too-small-but-measured",
        ),
        pytest.param(
            _les(Role.NONTARGET),
            Observation("L1", Status.UNEQUIVOCAL_PROGRESSION),
            [("TUMSTATE", "UNEQUIVOCAL PROGRESSION", None, "")],
            id="nt-progression",
        ),
        pytest.param(
            _les(Role.TARGET, nodal=True),
            Observation("L1", Status.PRESENT, long_um=25100, short_um=18400),
            [("LPERP", "18.4", 18.4, "")],
            id="node-measured-by-short-axis",
        ),
        pytest.param(
            _les(Role.TARGET),
            Observation("L1", Status.PRESENT, long_um=32500, short_um=20000),
            [("LDIAM", "32.5", 32.5, "")],
            id="non-node-measured-by-long-axis",
        ),
        pytest.param(
            _les(Role.NONTARGET, nodal=True),
            Observation("L1", Status.PRESENT, short_um=11000),
            [("TUMSTATE", "PRESENT", None, ""), ("LPERP", "11.0", 11.0, "")],
            id="nt-node-measured",
        ),
        pytest.param(
            _les(Role.NONTARGET),
            Observation("L1", Status.NOT_EVALUATED),
            [("TUMSTATE", "", None, "NOT DONE")],
            id="nt-ne",
        ),
    ],
)
def test_lesion_results(lesion: Lesion, obs: Observation, want: list[tuple[str, str, float | None, str]]) -> None:
    got = [(r["TRTESTCD"], r["TRORRES"], r["TRSTRESN"], r["TRSTAT"]) for r in lesion_results(lesion, obs, 5000)]
    assert got == want


@pytest.mark.parametrize(
    "values",
    [
        ("", "TR", "S1", "", "x"),
        ("a,b", 'say "hi"', "two\nlines", "cr\rhere", "crlf\r\n", " lead", "trail ", "é ü"),
        (None, 0, -4, 12.5, 0.001, 1e16, 32.0, date(2024, 1, 5), None),
        (True, 1.5, "x"),
        ("",),
        (None,),
        ('"',),
    ],
)
def test_csv_text_is_what_the_csv_module_writes(values: tuple[Any, ...]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([*values, "end"])
    assert _csv_text(values) + ",end\n" == buf.getvalue()


def test_csv_files_are_the_frames_as_pandas_writes_them(tmp_path: Path) -> None:
    """The CSV files are written from the rows without building frames: the same bytes as pandas' CSV of
    the frames, awkward text (separators, quotes, line breaks, non-ASCII) and decimals included."""
    rows = lesion_rows()
    rows[0] |= {"organ": 'Liver, "left" lobe', "long_axis_mm": "32.512"}
    rows[2] |= {"organ": "Lung\r\nupper"}
    for r in rows:
        if r["subject_id"] == B02:
            r["reader"] = 'R,"2"'
        if r["subject_id"] == C03 and r["timepoint"] == "wk8":
            r["timepoint"] = "week, 8"
    res = irrecist.score(frame(rows), "all", confirm_response=False, studyid='ST,"1"')
    out = tmp_path / "o"
    write_extras(res.run, out, studyid='ST,"1"')
    for name in NAMES:
        want = res.cdisc[name].to_csv(index=False, lineterminator="\n").encode("utf-8")
        assert (out / "cdisc" / f"{name}.csv").read_bytes() == want, name
    assert '"Liver, ""left"" lobe"' in (out / "cdisc" / "tu.csv").read_text(encoding="utf-8")
