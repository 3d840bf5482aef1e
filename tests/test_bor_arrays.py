"""BOR and irPD confirmation on arrays (``best_overall_responses``, ``confirm_progressions``: every subject of a
cohort at once) equal the one-subject-at-a-time transcription of RECIST 1.1 4.6.1 and decisions.md 3-4 in
``tests/bor_oracle.py``, for random response sequences of many subjects under random options."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from irrecist.rules.bor import NO_DAY, BorPoints, best_overall_responses, day_of, window_mask
from irrecist.rules.config import profile
from irrecist.rules.confirmation import STATUSES, confirm_progressions
from irrecist.rules.responses import RESPONSES, Response
from tests import bor_oracle

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = date(2024, 1, 1)
CHOICES = [Response.CR, Response.PR, Response.SD, Response.NN, Response.PD, Response.NE, Response.ND]


@st.composite
def options(draw: st.DrawFn) -> Any:
    return profile(draw(st.sampled_from(["irrecist", "recist1.1"]))).replace(
        confirm_response=draw(st.booleans()),
        response_confirm_min_days=draw(st.sampled_from([0, 28, 30])),
        max_ne_between=draw(st.integers(0, 2)),
        accept_sd_between=draw(st.booleans()),
        sd_min_days=draw(st.sampled_from([0, 42, 56])),
        cr_then_pr=draw(st.sampled_from(["pr", "pd", "invalidate"])),
        missing_as_ne=draw(st.booleans()),
        bor_stop_at_pd=draw(st.booleans()),
        pd_confirm_min_days=draw(st.sampled_from([0, 28, 35])),
        pd_confirm_max_days=draw(st.sampled_from([None, 40, 84])),
    )


@st.composite
def subject(draw: st.DrawFn) -> dict[str, Any]:
    """Post-baseline assessments: days (28 and 42 apart on purpose: the option boundaries), responses, skips."""
    days = sorted(draw(st.sets(st.sampled_from(list(range(1, 200, 7)) + [28, 29, 42, 56, 70, 84]), max_size=7)))
    resp = [draw(st.sampled_from(CHOICES)) for _ in days]
    return {
        "days": days,
        "resp": resp,
        "skip": [r is Response.PD and draw(st.booleans()) for r in resp],
        "has_day": draw(st.booleans()) or not days,
        "has_target": draw(st.booleans()),
        "pd": draw(st.sampled_from([None, *days])),
        "end_before": draw(st.sampled_from([None, None, 50, 120])),
        "end_on": draw(st.sampled_from([None, None, 42, 100])),
        "confirms": {(j, k): draw(st.booleans()) for j in range(len(days)) for k in range(j + 1, len(days))},
        "none": [draw(st.integers(0, 9)) == 0 for _ in days],
    }


def _date(day: int | None) -> date | None:
    return None if day is None else START + timedelta(days=day)


def _one(days: list[int], resp: list[Response], **kw: Any) -> dict[str, Any]:
    base = {"skip": [False] * len(days), "has_day": True, "has_target": True, "pd": None, "end_before": None,
            "end_on": None, "confirms": {}, "none": [False] * len(days)}  # fmt: skip
    return {**base, "days": days, "resp": resp, **kw}


PR_NE_PR = _one([1, 15, 43], [Response.PR, Response.NE, Response.PR])  # one NE between, 42 days apart
PR_SD_PR = _one([1, 15, 43], [Response.PR, Response.SD, Response.PR])
CR_PR_CR = _one([1, 29, 57, 85], [Response.CR, Response.PR, Response.CR, Response.CR])


@SETTINGS
@given(cfg=options(), subjects=st.lists(subject(), min_size=1, max_size=40))
@example(cfg=profile("recist1.1").replace(max_ne_between=1), subjects=[PR_NE_PR])
@example(cfg=profile("recist1.1").replace(max_ne_between=0), subjects=[PR_NE_PR])
@example(cfg=profile("recist1.1").replace(accept_sd_between=True), subjects=[PR_SD_PR, PR_NE_PR])
@example(cfg=profile("irrecist").replace(cr_then_pr="pd"), subjects=[CR_PR_CR])
@example(cfg=profile("irrecist").replace(cr_then_pr="pr"), subjects=[CR_PR_CR])
@example(cfg=profile("irrecist").replace(cr_then_pr="invalidate"), subjects=[CR_PR_CR])
def test_bor_arrays_equal_the_oracle(cfg: Any, subjects: list[dict[str, Any]]) -> None:
    code = {r: i for i, r in enumerate(RESPONSES)}
    flat = [(s, i) for s in subjects for i in range(len(s["days"]))]
    points = BorPoints(
        np.concatenate(([0], np.cumsum([len(s["days"]) for s in subjects]))).astype(np.int64),
        np.array([code[s["resp"][i]] for s, i in flat], dtype=np.int64),
        np.array([s["days"][i] for s, i in flat], dtype=np.int64),
        np.array([s["has_day"] for s, _ in flat], dtype=bool),
        np.array([day_of(_date(s["days"][i])) for s, i in flat], dtype=np.int64),
        np.array([s["skip"][i] for s, i in flat], dtype=bool),
    )

    def days(key: str) -> np.ndarray:
        return np.array([NO_DAY if s[key] is None else day_of(_date(s[key])) for s in subjects], dtype=np.int64)

    inside, where = points.subset(window_mask(points, cfg, days("pd"), days("end_before"), days("end_on")))
    dates = [_date(int(points.day[p])) for p in where.tolist()]
    got = best_overall_responses(inside, cfg, np.array([s["has_target"] for s in subjects]), dates)
    for e, s in enumerate(subjects):
        pts = [bor_oracle.Point(_date(d), d if s["has_day"] else None, r, k)  # type: ignore[arg-type]
               for d, r, k in zip(s["days"], s["resp"], s["skip"], strict=True)]  # fmt: skip
        keep = bor_oracle.window(pts, cfg, _date(s["pd"]), _date(s["end_before"]), _date(s["end_on"]))
        assert where[inside.start[e] : inside.start[e + 1]].tolist() == [points.start[e] + i for i in keep]
        want = bor_oracle.best_overall_response([pts[i] for i in keep], cfg, s["has_target"])
        first = int(inside.start[e])

        def local(i: int) -> int | None:
            return None if i < 0 else i - first  # noqa: B023

        confirmed = int(got.confirmed[e])
        assert (RESPONSES[got.bor[e]], local(int(got.index[e])), None if confirmed < 0 else bool(confirmed),
                local(int(got.first_response[e])), got.flags.get(e, [])) == (
            want.bor, want.index, want.confirmed, want.first_response_index, want.flags)  # fmt: skip


@SETTINGS
@given(cfg=options(), subjects=st.lists(subject(), min_size=1, max_size=40))
def test_confirmation_arrays_equal_the_oracle(cfg: Any, subjects: list[dict[str, Any]]) -> None:
    code = {r: i for i, r in enumerate(Response)}
    start = np.concatenate(([0], np.cumsum([len(s["days"]) for s in subjects]))).astype(np.int64)
    entity = np.repeat(np.arange(len(subjects)), np.diff(start))
    responses = [None if n else r for s in subjects for r, n in zip(s["resp"], s["none"], strict=True)]

    def confirms(js: np.ndarray, ks: np.ndarray) -> np.ndarray:
        out = []
        for j, k in zip(js.tolist(), ks.tolist(), strict=True):
            e = int(entity[j])
            out.append(subjects[e]["confirms"][(j - int(start[e]), k - int(start[e]))])
        return np.array(out, dtype=bool)

    got = confirm_progressions(
        start,
        np.array([d for s in subjects for d in s["days"]], dtype=np.int64),
        np.array([-1 if r is None else code[r] for r in responses], dtype=np.int64),
        confirms,
        cfg,
    )
    for e, s in enumerate(subjects):
        a, b = int(start[e]), int(start[e + 1])
        want = bor_oracle.confirm_progression(
            s["days"],
            responses[a:b],
            lambda j, k, table=s["confirms"]: table[(j, k)],
            cfg,
        )
        pd_index, confirmed_at = int(got.pd_index[e]), int(got.confirmed_at[e])
        assert [STATUSES[x] for x in got.status[a:b].tolist()] == want.status
        assert (None if pd_index < 0 else pd_index - a, bool(got.confirmed[e])) == (want.pd_index, want.confirmed)
        assert (None if confirmed_at < 0 else confirmed_at - a) == want.confirmed_at
