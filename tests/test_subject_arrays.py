"""subjects.csv and the endpoints are written from the engine's per-subject arrays (``SubjectArrays``); the
``SubjectScore`` objects of the Python API are made from the same arrays when asked for. Here the frame and the
endpoints are checked against what the objects say, through the row and count code they replaced (kept below as
the reference), on the benchmark's synthetic trial and on rare cases (failed subjects, no target, no lesion at
all, strict runs, warnings)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from typing import Any

import pandas as pd
import pytest

from benchmarks.make_trial import make_table
from irrecist.endpoints import endpoints, is_responder
from irrecist.model import SubjectInfo
from irrecist.output import SUBJECT_COLUMNS, subjects_frame
from irrecist.rules.responses import Response, label, labels
from irrecist.rules.subject import SubjectScore
from irrecist.scoring import ScoreRun, make_configs, score_frames
from irrecist.strict import strict_run
from tests.helpers import frame, series


def _bool(v: bool | None) -> str:
    return "" if v is None else ("true" if v else "false")


def subject_row(s: SubjectScore) -> tuple[Any, ...]:
    """One row of subjects.csv from the object, as ``irrecist.output`` wrote it before the arrays."""
    cfg, b = s.config, s.baseline
    confirmed = s.bor.confirmed if s.bor.bor in (Response.CR, Response.PR, Response.PD) else None
    return (
        s.subject_id, s.reader, cfg.name, _bool(b.eligible), ";".join(b.ineligible_lesions),
        _bool(b.measurable_disease), b.sum_um / 1000, label(s.bor.bor, cfg), _bool(confirmed),
        s.bor.date.isoformat() if s.bor.date else "",
        s.first_response_date.isoformat() if s.first_response_date else "",
        s.pd_date.isoformat() if s.pd_date else "", _bool(s.pd_confirmed if s.pd_date else None),
        s.duration_of_response_days, None if s.best_pct_change is None else float(s.best_pct_change),
        len(s.timepoints), " | ".join(s.qc_flags),
    )  # fmt: skip


def counts(scores: list[SubjectScore], exclude_ineligible: bool) -> dict[str, Any]:
    """The endpoint counts as the object code computed them (decisions.md 5)."""
    lab = labels(scores[0].config)
    pool = [s for s in scores if not (exclude_ineligible and s.baseline.eligible is False)]
    evaluable = [s for s in pool if s.baseline.measurable_disease]
    return {
        "in_analysis": len(pool),
        "orr": (sum(map(is_responder, evaluable)), len(evaluable)),
        "orr_all": (sum(map(is_responder, pool)), len(pool)),
        "dcr": sum(1 for s in evaluable if s.bor.bor in (Response.CR, Response.PR, Response.SD)),
        "bor": {k: v for k, v in Counter(lab[s.bor.bor] for s in pool).items() if v},
        "eligibility": [sum(1 for s in scores if s.baseline.eligible is e) for e in (True, False, None)],
        "ineligible": sorted({s.subject_id for s in scores if s.baseline.eligible is False}),
    }


def as_read(df: pd.DataFrame) -> pd.DataFrame:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False).astype(str)


def rare_table() -> pd.DataFrame:
    """Subjects the plain path does not see: a target without its measure at baseline (not scored), no target,
    no lesion at all, a 7 cm lesion (ineligible), a non-measurable target (QC), a unit jump (warning)."""
    rows = series({"T1": [30, 20, 19], "T2": [25, 15, 14]}, subject="R1", nontarget={"NT1": ["present"] * 3})
    rows += series({"T1": [None, 20]}, subject="R2")
    rows += series({}, subject="R3", nontarget={"NT1": ["present", "present", "unequivocal_progression"]})
    rows += series({"T1": [70, 40, 35]}, subject="R4")
    rows += series({"T1": [8, 8, 30]}, subject="R5")
    rows += series({"T1": [40, 4, 40]}, subject="R6")
    out = frame(rows)
    empty = pd.DataFrame([{"subject_id": "R7", "timepoint": "baseline", "date": "2024-01-01"},
                          {"subject_id": "R7", "timepoint": "wk8", "date": "2024-02-26"}])  # fmt: skip
    return pd.concat([out, empty], ignore_index=True).fillna("")


INFO = {
    "R7": SubjectInfo(data_cut_date=date(2024, 1, 10)),  # its follow-up is after the data cut
    "R1": SubjectInfo(treatment_start_date=date(2023, 12, 20), new_therapy_date=date(2024, 3, 1)),
}


def runs() -> list[tuple[str, ScoreRun]]:
    trial = as_read(make_table(150, seed=3))
    rare = as_read(rare_table())
    out = []
    for name, df in (("trial", trial), ("rare", rare)):
        for options in ({}, {"confirm_response": False, "bor_stop_at_pd": False}):
            run = score_frames([(df, f"{name}.csv", 2)], make_configs(["all"], options), INFO)
            out.append((f"{name} {options}", run))
            out.append((f"{name} {options} strict", strict_run(run)))
    return out


RUNS = runs()


@pytest.mark.parametrize("name, run", RUNS, ids=[n for n, _ in RUNS])
def test_subjects_frame_is_what_each_score_says(name: str, run: ScoreRun) -> None:
    rows = [subject_row(s) for crun in run.runs.values() for s in crun.scores]
    want = pd.DataFrame.from_records(rows, columns=SUBJECT_COLUMNS)
    got = subjects_frame(run)
    pd.testing.assert_frame_equal(got, want)
    assert len(got) > 0


@pytest.mark.parametrize("name, run", RUNS, ids=[n for n, _ in RUNS])
@pytest.mark.parametrize("exclude", [False, True])
def test_endpoints_from_arrays_count_what_the_scores_say(name: str, run: ScoreRun, exclude: bool) -> None:
    for crun in run.runs.values():
        objects = list(crun.scores)
        got = endpoints(crun.scores, exclude_ineligible=exclude, orr_at="day 56")
        assert got == endpoints(objects, exclude_ineligible=exclude, orr_at="day 56")  # the list path, same code
        want = counts(objects, exclude)
        assert got["subjects_in_analysis"] == want["in_analysis"]
        assert (got["orr"]["n"], got["orr"]["N"]) == want["orr"]
        assert (got["orr_all_subjects"]["n"], got["orr_all_subjects"]["N"]) == want["orr_all"]
        assert got["dcr"]["n"] == want["dcr"] and got["bor_counts"] == want["bor"]
        e = got["eligibility"]
        assert [e["eligible"], e["ineligible"], e["unknown"]] == want["eligibility"]
        assert e["ineligible_subjects"] == want["ineligible"]


def test_the_rare_subjects_are_there() -> None:
    """The rare table gives what its docstring says (so the comparisons above cover those paths)."""
    run = dict(RUNS)["rare {}"]
    crun = run.runs["irrecist"]
    by_id = {s.subject_id: s for s in crun.scores}
    assert ("R2", "") in crun.failed and "R2" not in by_id
    # no target: non-CR/non-PD while its non-target progression awaits confirmation (decisions.md 4)
    assert by_id["R3"].bor.bor is Response.NN and not by_id["R3"].baseline.targets
    assert by_id["R3"].qc_flags == ["no target lesion at baseline: not response-evaluable for ORR"]
    # no lesion at all and no assessment inside the BOR window, but followed up: not done (decisions.md 3)
    assert by_id["R7"].bor.bor is Response.ND and by_id["R7"].bor.date is None
    assert by_id["R4"].baseline.eligible is False and by_id["R4"].baseline.ineligible_lesions == ["T1"]
    assert any("not measurable" in f for f in by_id["R5"].qc_flags)
    assert any("unit" in f for f in by_id["R6"].qc_flags)
    strict = dict(RUNS)["rare {} strict"].runs["irrecist"]
    assert "R6" not in {s.subject_id for s in strict.scores} and ("R6", "") in strict.failed


def test_scores_subset_keeps_the_arrays() -> None:
    crun = dict(RUNS)["trial {}"].runs["irrecist"]
    part = crun.scores.subset([3, 1])
    assert [s.subject_id for s in part] == [crun.scores[3].subject_id, crun.scores[1].subject_id]
    assert part.scored is crun.scores.scored and part.kept.tolist() == crun.scores.kept[[3, 1]].tolist()
