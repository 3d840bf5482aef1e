"""The reference the array BOR and irPD confirmation are held to: a direct, one-subject-at-a-time transcription
of RECIST 1.1 section 4.6.1 / Table 3 and decisions.md sections 3 and 4 (the engine's own scalar code until the
array engine replaced it; it passed every reference case). Used only by ``tests/test_bor_arrays.py``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from irrecist.rules.bor import BorResult
from irrecist.rules.config import CriterionConfig
from irrecist.rules.responses import Response

_SD_LEVEL = (Response.CR, Response.PR, Response.SD, Response.NN)


@dataclass(frozen=True)
class Point:
    date: date
    day: int | None
    response: Response
    skip: bool = False


def window(points: Sequence[Point], config: CriterionConfig, pd_date: date | None,
           end_before: date | None = None, end_on: date | None = None) -> list[int]:  # fmt: skip
    out = []
    for i, p in enumerate(points):
        if end_before is not None and p.date >= end_before:
            continue
        if end_on is not None and p.date > end_on:
            continue
        if config.bor_stop_at_pd and pd_date is not None and p.date > pd_date:
            continue
        out.append(i)
    return out


def _gap(a: Point, b: Point) -> int:
    if a.day is not None and b.day is not None:
        return b.day - a.day
    return (b.date - a.date).days


def _confirmed(pts: list[Point], resp: list[Response], i: int, config: CriterionConfig) -> int | None:
    want_cr = resp[i] is Response.CR
    confirming = (Response.CR,) if want_cr else (Response.CR, Response.PR)
    between_ok = {Response.CR, Response.NE} if want_cr else {Response.CR, Response.PR, Response.NE}
    ne = sd = 0
    seen_cr = want_cr
    for j in range(i + 1, len(pts)):
        if pts[j].skip:
            continue
        r = resp[j]
        if config.cr_then_pr == "invalidate" and r is Response.PR and seen_cr:
            return None
        if r in confirming and _gap(pts[i], pts[j]) >= config.response_confirm_min_days:
            return j
        if r is Response.CR:
            seen_cr = True
        if r is Response.NE:
            ne += 1
            if ne > config.max_ne_between:
                return None
        elif r is Response.SD and not want_cr and config.accept_sd_between:
            sd += 1
            if sd > 1:
                return None
        elif r not in between_ok:
            return None
    return None


def best_overall_response(
    points: Sequence[Point], config: CriterionConfig, has_target_disease: bool = True
) -> BorResult:
    pts = list(points)
    if not pts:
        return BorResult(Response.NE if config.missing_as_ne else Response.MISSING)
    resp = [p.response for p in pts]
    flags: list[str] = []
    live = [i for i, p in enumerate(pts) if not p.skip]
    if live and all(resp[i] is Response.ND for i in live):
        return BorResult(Response.ND, pts[live[0]].date, live[0])
    if config.confirm_response:
        _apply_cr_then_pr(pts, resp, config, flags)
        cut = next((i for i in live if resp[i] is Response.PD), None)
        if cut is not None:
            live = [i for i in live if i <= cut]
        for want in (Response.CR, Response.PR):
            for i in live:
                if resp[i] is want and _confirmed(pts, resp, i, config) is not None:
                    first = next(j for j in live if resp[j] in (Response.CR, Response.PR)
                                 and _confirmed(pts, resp, j, config) is not None)  # fmt: skip
                    return BorResult(want, pts[i].date, i, True, first, flags)
    else:
        for want in (Response.CR, Response.PR):
            for i in live:
                if resp[i] is want:
                    first = next(j for j in live if resp[j] in (Response.CR, Response.PR))
                    return BorResult(want, pts[i].date, i, False, first, flags)
    sd_level = Response.SD if has_target_disease else Response.NN
    for level in (Response.SD, Response.NN):
        for i in live:
            r = resp[i]
            if r not in _SD_LEVEL or not (pts[i].day is None or pts[i].day >= config.sd_min_days):
                continue
            if (Response.NN if r is Response.NN else sd_level) is level:
                return BorResult(level, pts[i].date, i, None, None, flags)
    for i in live:
        if resp[i] is Response.PD:
            return BorResult(Response.PD, pts[i].date, i, None, None, flags)
    return BorResult(Response.NE, pts[0].date, 0, None, None, flags)


def _apply_cr_then_pr(pts: list[Point], resp: list[Response], config: CriterionConfig, flags: list[str]) -> None:
    if config.cr_then_pr == "invalidate":
        return
    last_cr: int | None = None
    for j, r in enumerate(resp):
        if pts[j].skip:
            continue
        if r is Response.CR:
            last_cr = j
        elif r is Response.PR and last_cr is not None:
            if config.cr_then_pr == "pr":
                for i in range(last_cr + 1):
                    if resp[i] is Response.CR:
                        resp[i] = Response.PR
                flags.append(f"CR at {pts[last_cr].date} followed by PR at {pts[j].date}: CR counted as PR (A-R5)")
            else:
                resp[j] = Response.PD
                flags.append(f"PR at {pts[j].date} after CR counted as PD (A-R5, cr_then_pr=pd)")
            last_cr = None
        elif r is Response.PD:
            break


@dataclass(frozen=True)
class Episodes:
    status: list[str]
    pd_index: int | None
    confirmed: bool
    confirmed_at: int | None


def confirm_progression(days: Sequence[int], responses: Sequence[Response | None],
                        confirms: Callable[[int, int], bool], config: CriterionConfig) -> Episodes:  # fmt: skip
    n = len(responses)
    status = [""] * n
    open_j: int | None = None
    members: list[int] = []
    for k in range(n):
        resp = responses[k]
        if resp is None:
            continue
        if open_j is not None:
            gap = days[k] - days[open_j]
            if resp is Response.NE:
                continue
            if gap < config.pd_confirm_min_days:
                if resp is Response.PD:
                    members.append(k)
                continue
            too_late = config.pd_confirm_max_days is not None and gap > config.pd_confirm_max_days
            if not too_late and confirms(open_j, k):
                for m in members + [k]:
                    status[m] = "confirmed"
                return Episodes(status, open_j, True, k)
            for m in members:
                status[m] = "unconfirmed"
            open_j, members = None, []
        if resp is Response.PD:
            open_j, members = k, [k]
    if open_j is not None:
        for m in members:
            status[m] = "pending"
    return Episodes(status, open_j, False, None)
