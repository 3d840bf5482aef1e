"""The CDISC tables built from the engine's arrays (``cdisc_frames``, ``write_extras``) against the per-subject
reference (``tu_rows``, ``tr_rows``, ``rs_rows``, ``adrs_rows``, built from the ``SubjectRecord`` and
``SubjectScore`` objects) on random lesion tables: every status, nodes, new and merged lesions, missing rows,
several readers, ids in awkward orders, treatment start dates, both criteria and their options."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from irrecist.cdisc import (
    CRITERION_NAMES,
    TABLES,
    adrs_rows,
    cdisc_frames,
    rs_rows,
    tr_rows,
    tu_rows,
    write_extras,
)
from irrecist.inputs import load_subject_table
from irrecist.rules.config import with_options
from irrecist.scoring import ScoreRun, make_configs, score_frames
from irrecist.strict import strict_run
from tests.helpers import frame

ORGANS = ["liver", "lung", "left lung", "lymph node", 'bone, "spine"', "adrenal"]
SUBJECT_IDS = ["S10", "S9", "S1", "s2", "Ä1", "S 3", "100", "S1a", "S01"]


def random_subject(rng: random.Random, sid: str, reader: str) -> list[dict[str, Any]]:
    """One subject's rows: targets (some nodal), non-targets, new lesions later, every status, missing rows."""
    days = [0, *sorted(rng.sample(range(20, 400), rng.choice([0, 1, 2, 3, 4, 5])))]
    targets = list(dict.fromkeys(rng.choice(["T1", "T2", "T10", "T01", "t3", "T2b"]) for _ in range(rng.randint(0, 4))))
    role = {lid: "target" for lid in targets} | {f"NT{i}": "non-target" for i in range(1, rng.randint(0, 3) + 1)}
    nodal = {lid: rng.random() < 0.25 for lid in role}
    size = {lid: rng.uniform(10, 60) for lid in targets}
    introduced: set[str] = set()
    rows = []
    empty = not role  # no lesion at baseline: BOR ND once followed up
    for k, d in enumerate(days):
        base = {"subject_id": sid, "reader": reader, "date": (date(2024, 1, 1) + timedelta(days=d)).isoformat(),
                "timepoint": "baseline" if k == 0 else f"wk{d}"}  # fmt: skip
        if empty:
            rows.append(base)  # an assessment without lesion rows
        if k and rng.random() < 0.4:
            lid = f"N{k}"
            role[lid], nodal[lid] = "new", rng.random() < 0.2
        for lid in role:
            row: dict[str, Any] = {**base, "lesion_id": lid}
            if lid not in introduced:  # the first row gives the lesion's role and organ
                introduced.add(lid)
                row |= {"role": role[lid], "organ": rng.choice(ORGANS), "nodal": "true" if nodal[lid] else ""}
            elif rng.random() < 0.08:
                continue  # not recorded at this assessment
            status = "present"
            if k:
                status = rng.choice(["present"] * 6 + ["absent", "too_small", "not_evaluated", "merge"]
                                    + (["unequivocal_progression"] if role[lid] == "non-target" else [])
                                    + (["equivocal"] * 2 if role[lid] == "new" else []))  # fmt: skip
            if status == "merge":
                others = [x for x in targets if x != lid]
                status = f"merged_into:{rng.choice(others)}" if others else "absent"
            row["status"] = status
            measured = role[lid] != "non-target" or (nodal[lid] and rng.random() < 0.5)
            if (status in ("present", "equivocal", "unequivocal_progression") and measured) or (
                    status == "too_small" and rng.random() < 0.3):  # fmt: skip
                value = size[lid] = size.get(lid, rng.uniform(5, 30)) * rng.uniform(0.6, 1.4)
                jump = 10 if rng.random() < 0.03 else 1  # a cm/mm mix-up: a warning (dropped under --strict)
                text = f"{value * jump:.{rng.choice([0, 1, 2, 3])}f}"
                axes = {"short_axis_mm": text, "long_axis_mm": f"{value + 4:.1f}"} if nodal[lid] else {}
                row |= axes or {"long_axis_mm": text}
            rows.append(row)
    return rows


def random_table(seed: int, n: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A lesion table of ``n`` subjects (some read twice) and a subject table with some treatment starts."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    ids = [f"{rng.choice(SUBJECT_IDS)}-{i}" if rng.random() < 0.5 else rng.choice(SUBJECT_IDS) + str(i)
           for i in range(n)]  # fmt: skip
    for sid in ids:
        readers = rng.choice([[""], ["R1"], ["R1", "R2"], ['R,"3"']])
        for reader in readers:
            rows.extend(random_subject(rng, sid, reader))
    rng.shuffle(rows)
    subjects = [{"subject_id": sid, "treatment_start_date": f"2024-01-{rng.randint(1, 28):02d}"}
                for sid in ids if rng.random() < 0.5]  # fmt: skip
    return frame(rows), frame(subjects or [{"subject_id": "none", "treatment_start_date": ""}])


def score(seed: int, criteria: str, options: dict[str, Any], paired_differ: bool = False,
          strict: bool = False) -> ScoreRun:  # fmt: skip
    lesions, subjects = random_table(seed)
    configs = make_configs([criteria], options)
    if paired_differ:  # two cohorts: the criteria read organs differently
        configs[0] = with_options(configs[0], {"paired_organs_as_one": not configs[0].paired_organs_as_one})
    info, _problems = load_subject_table(subjects)
    run = score_frames([(lesions, "random.csv", 2)], configs, info)
    return strict_run(run) if strict else run


def _typed(rows: list[dict[str, Any]], name: str, seq: str) -> pd.DataFrame:
    """Reference rows to a table: sorted by USUBJID (stable), numbered within it, typed as ``cdisc_frames``."""
    variables = TABLES[name][0]
    ordered = sorted(rows, key=lambda r: r["USUBJID"])
    count: dict[str, int] = {}
    for r in ordered:
        count[r["USUBJID"]] = r[seq] = count.get(r["USUBJID"], 0) + 1
    data: dict[str, Any] = {}
    for v in variables:
        col = [r[v.name] for r in ordered]
        if v.kind == "char":
            data[v.name] = pd.array(col, dtype="str")
        elif v.kind == "int":
            data[v.name] = pd.array(col, dtype="Int64")
        elif v.kind == "num":
            data[v.name] = np.array(col, dtype="float64")
        else:
            data[v.name] = pd.Series(col, dtype=object)
    return pd.DataFrame(data, columns=[v.name for v in variables])


def reference_frames(run: ScoreRun, studyid: str) -> dict[str, pd.DataFrame]:
    """The tables from the per-subject helpers, numbered and linked as the run's tables are."""
    tu: list[dict[str, Any]] = []
    tr: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for crun in run.runs.values():
        for s, rec in zip(crun.scores, crun.records, strict=True):
            if (s.subject_id, s.reader) not in seen:  # TU and TR: each subject and reader once
                seen.add((s.subject_id, s.reader))
                tu += tu_rows(s, rec, studyid)
                tr += tr_rows(s, rec, studyid)
    rs = [r for crun in run.runs.values() for s in crun.scores for r in rs_rows(s, studyid)]
    out = {"tu": _typed(tu, "tu", "TUSEQ"), "tr": _typed(tr, "tr", "TRSEQ"), "rs": _typed(rs, "rs", "RSSEQ")}
    ovr = out["rs"][out["rs"].RSTESTCD == "OVRLRESP"]
    seq = {(r.USUBJID, r.RSEVAL, r.RSCAT, r.RSDTC): int(r.RSSEQ) for r in ovr.itertuples()}
    adrs = []
    for crun in run.runs.values():
        cat = CRITERION_NAMES.get(crun.config.name, crun.config.name)
        for s, rec in zip(crun.scores, crun.records, strict=True):
            keys = {t.date: (s.subject_id, s.reader, cat, t.date.isoformat()) for t in s.timepoints}
            adrs += adrs_rows(s, rec, studyid, {d: seq[k] for d, k in keys.items() if k in seq})
    out["adrs"] = _typed(adrs, "adrs", "ASEQ")
    return out


CASES = [
    pytest.param(1, "all", {}, False, False, id="all"),
    pytest.param(2, "all", {"confirm_response": False}, False, False, id="all-unconfirmed"),
    pytest.param(3, "irrecist", {"pd_requires_confirmation": False, "too_small_mm": "3"}, False, False,
                 id="irrecist-options"),
    pytest.param(4, "recist1.1", {}, False, False, id="recist"),
    pytest.param(5, "all", {"confirm_response": False}, True, False, id="two-cohorts"),
    pytest.param(6, "all", {}, False, True, id="strict"),  # subjects with warnings left out
    pytest.param(7, "all", {"paired_organs_as_one": False}, True, False, id="two-cohorts-2"),
]  # fmt: skip


@pytest.mark.parametrize(("seed", "criteria", "options", "paired_differ", "strict"), CASES)
def test_tables_are_the_per_subject_reference(
    seed: int, criteria: str, options: dict[str, Any], paired_differ: bool, strict: bool
) -> None:
    run = score(seed, criteria, options, paired_differ, strict)
    assert sum(len(crun.scores) for crun in run.runs.values()) > 20
    assert not strict or any(crun.failed for crun in run.runs.values())
    got = cdisc_frames(run, studyid='S,"1"')
    want = reference_frames(run, 'S,"1"')
    for name, df in want.items():
        assert list(got[name].dtypes) == list(df.dtypes), name
        pd.testing.assert_frame_equal(got[name], df, check_exact=True, obj=name)


def test_random_tables_cover_every_kind_of_row() -> None:
    """The random tables hold what the comparison is about."""
    runs = [cdisc_frames(score(seed, "all", {})) for seed in (1, 2, 3)]
    tr, rs, adrs = (pd.concat([frames[name] for frames in runs]) for name in ("tr", "rs", "adrs"))
    orres = set(tr.TRORRES)
    assert {"0", "TOO SMALL TO MEASURE", "PRESENT", "ABSENT", "EQUIVOCAL", "UNEQUIVOCAL PROGRESSION"} <= orres
    assert any(v.startswith("MERGED INTO ") for v in orres)
    assert set(tr.TRTESTCD) == {"LDIAM", "LPERP", "SUMDIAM", "TUMSTATE"}
    assert any(v.endswith(" NOT EVALUATED") and v != "NOT EVALUATED" for v in tr.TRREASND)
    assert set(tr.TRSTAT) == {"", "NOT DONE"}
    assert (tr.TRDY < 0).any() and set(tr.TREVAL) >= {"", "R1", "R2"}
    assert set(rs.RSTESTCD) == {"TRGRESP", "NTRGRESP", "NEWLIND", "OVRLRESP"} and "EQUIVOCAL" in set(rs.RSORRES)
    assert adrs.AVAL.isna().any() and adrs.ADT.isna().any()  # ND has no AVAL; a non-responder's RSP no date


def test_written_files_are_pandas_csv_of_the_frames(tmp_path: Path) -> None:
    run = score(2, "all", {"confirm_response": False}, True)
    write_extras(run, tmp_path, studyid="X")
    for name, df in cdisc_frames(run, studyid="X").items():
        want = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
        assert (tmp_path / "cdisc" / f"{name}.csv").read_bytes() == want, name


def test_a_run_without_scores_gives_empty_typed_tables() -> None:
    run = score(1, "all", {})
    for crun in run.runs.values():
        crun.scores = crun.scores.subset([])
    for name, df in cdisc_frames(run).items():
        want = reference_frames(run, "")[name]
        assert len(df) == 0 and list(df.columns) == [v.name for v in TABLES[name][0]]
        assert list(df.dtypes) == list(want.dtypes), name
