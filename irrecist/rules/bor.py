"""Best overall response (decisions.md sections 3 and 4; RECIST 1.1 section 4.4.3 and Table 3).

Works on time-point responses only, so the same code serves lesion-level scoring and reference cases given
as responses. Confirmation follows RECIST 1.1 section 4.6.1 with the gaps RECIST leaves open as options
(A-R5, A-R7, A-R8: ``max_ne_between``, ``accept_sd_between``, ``cr_then_pr``, ``sd_min_days``). Unconfirmed
irPD assessments (pseudoprogression) are passed as ``skip`` and never break a confirmation.

``best_overall_responses`` scores the post-baseline assessments of many entities at once (``BorPoints``,
grouped by entity); ``best_overall_response`` is the same for one entity's ``BorPoint`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from irrecist.cohort import EPOCH, BoolArray, IntArray, groups, offsets
from irrecist.rules.config import CriterionConfig
from irrecist.rules.responses import RESPONSES, Response

_C = {r: np.int64(i) for i, r in enumerate(RESPONSES)}
CR, PR, SD, NN, PD, NE, ND, MISSING = (
    _C[r] for r in (Response.CR, Response.PR, Response.SD, Response.NN, Response.PD, Response.NE, Response.ND,
                    Response.MISSING)
)  # fmt: skip


@dataclass(frozen=True)
class BorPoint:
    """One post-baseline assessment as BOR sees it."""

    date: date
    day: int | None  # days since the reference date; None when unknown
    response: Response
    skip: bool = False  # an unconfirmed irPD: neither a response nor a progression


@dataclass
class BorResult:
    bor: Response
    date: date | None = None
    index: int | None = None
    confirmed: bool | None = None
    first_response_index: int | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class BorPoints:
    """Post-baseline assessments of many entities, grouped by entity in date order."""

    start: IntArray  # offsets of each entity's points (entities + 1)
    response: IntArray  # index into ``RESPONSES``
    day: IntArray  # days since the entity's reference date (where ``has_day``)
    has_day: BoolArray
    ordinal: IntArray  # the date as days since 1970-01-01
    skip: BoolArray  # unconfirmed irPD

    def subset(self, keep: BoolArray) -> tuple[BorPoints, IntArray]:
        """The points where ``keep``, and their positions in these points."""
        where = np.flatnonzero(keep)
        start = offsets(groups(self.start)[where], len(self.start) - 1)
        sub = BorPoints(start, self.response[where], self.day[where], self.has_day[where], self.ordinal[where],
                        self.skip[where])  # fmt: skip
        return sub, where


@dataclass
class BorArrays:
    """BOR of every entity: codes into ``RESPONSES``; positions into the points given, -1 for none."""

    bor: IntArray
    index: IntArray
    confirmed: IntArray  # 1 confirmed, 0 not confirmed, -1 not applicable
    first_response: IntArray
    flags: dict[int, list[str]]  # per entity, in order (A-R5)


def window_mask(
    p: BorPoints,
    config: CriterionConfig,
    pd_day: IntArray,
    end_before: IntArray,
    end_on: IntArray,
) -> BoolArray:
    """Points inside the BOR window (decisions.md 3): up to the PD date (``bor_stop_at_pd``), before new
    anticancer therapy (``end_before``) and on or before the data cut (``end_on``). Per entity, as day
    ordinals; ``NO_DAY`` where there is none."""
    entity = groups(p.start)
    inside = (p.ordinal < end_before[entity]) & (p.ordinal <= end_on[entity])
    if config.bor_stop_at_pd:
        inside &= p.ordinal <= pd_day[entity]
    return np.asarray(inside)


NO_DAY = np.iinfo(np.int64).max
"""No such date (``window_mask``)."""


def window(
    points: Sequence[BorPoint],
    config: CriterionConfig,
    pd_date: date | None,
    end_before: date | None = None,
    end_on: date | None = None,
) -> list[int]:
    """``window_mask`` for one entity's points: the indices inside."""

    def day(d: date | None) -> IntArray:
        return np.array([day_of(d)], dtype=np.int64)

    mask = window_mask(_points([points]), config, day(pd_date), day(end_before), day(end_on))
    return np.flatnonzero(mask).tolist()


def best_overall_response(
    points: Sequence[BorPoint],
    config: CriterionConfig,
    *,
    has_target_disease: bool = True,
) -> BorResult:
    """``best_overall_responses`` for one entity's points, already restricted to the window."""
    pts = list(points)
    got = best_overall_responses(_points([pts]), config, np.array([has_target_disease]), [p.date for p in pts])

    def at(i: int) -> int | None:
        return None if i < 0 else i

    i = int(got.index[0])
    return BorResult(
        RESPONSES[got.bor[0]],
        pts[i].date if i >= 0 else None,
        at(i),
        None if got.confirmed[0] < 0 else bool(got.confirmed[0]),
        at(int(got.first_response[0])),
        got.flags.get(0, []),
    )


def _points(groups: Sequence[Sequence[BorPoint]]) -> BorPoints:
    flat = [p for g in groups for p in g]
    return BorPoints(
        np.concatenate(([0], np.cumsum([len(g) for g in groups]))).astype(np.int64),
        np.array([_C[p.response] for p in flat], dtype=np.int64),
        np.array([0 if p.day is None else p.day for p in flat], dtype=np.int64),
        np.array([p.day is not None for p in flat], dtype=bool),
        np.array([day_of(p.date) for p in flat], dtype=np.int64),
        np.array([p.skip for p in flat], dtype=bool),
    )


def first_where(mask: BoolArray, start: IntArray) -> IntArray:
    """Per group (``start`` offsets): the first position where ``mask`` holds, else -1."""
    n = len(start) - 1
    out = np.full(n, -1, dtype=np.int64)
    hit = np.flatnonzero(mask)
    if len(hit):
        groups = np.searchsorted(start, hit, side="right") - 1
        first = np.ones(len(hit), dtype=bool)
        first[1:] = groups[1:] != groups[:-1]
        out[groups[first]] = hit[first]
    return out


def best_overall_responses(
    p: BorPoints, config: CriterionConfig, has_target_disease: BoolArray, dates: Sequence[date]
) -> BorArrays:
    """BOR of every entity over its points, already restricted to the window (``window_mask``); ranking
    CR > PR > SD > NON-CR/NON-PD > PD > NE (decisions.md 3), ND when every assessment is ND, MISSING when
    there is none (NE with ``missing_as_ne``). ``dates``: every point's date, for the A-R5 flags."""
    n_e = len(p.start) - 1
    counts = np.diff(p.start)
    resp = p.response.copy()
    live = ~p.skip
    out = BorArrays(
        np.full(n_e, NE if config.missing_as_ne else MISSING, dtype=np.int64),
        np.full(n_e, -1, dtype=np.int64),
        np.full(n_e, -1, dtype=np.int64),
        np.full(n_e, -1, dtype=np.int64),
        {},
    )
    decided = counts == 0

    def settle(found: IntArray, code: np.int64, confirmed: int = -1, first: IntArray | None = None) -> None:
        take = ~decided & (found >= 0)
        out.bor[take], out.index[take], out.confirmed[take] = code, found[take], confirmed
        if first is not None:
            out.first_response[take] = first[take]
        decided[take] = True

    entity = groups(p.start)
    first_live = first_where(live, p.start)
    n_live = np.bincount(entity[live], minlength=n_e)
    all_nd = (n_live > 0) & (np.bincount(entity[live & (resp == ND)], minlength=n_e) == n_live)
    settle(np.where(all_nd, first_live, -1), ND)
    if config.confirm_response:
        out.flags = _apply_cr_then_pr(p, resp, config, dates)
        cut = first_where(live & (resp == PD), p.start)
        live &= (cut[entity] < 0) | (np.arange(len(resp)) <= cut[entity])
        confirmed = _confirmed(p, resp, live & ((resp == CR) | (resp == PR)), config)
        first = first_where(live & confirmed, p.start)
        settle(first_where(live & (resp == CR) & confirmed, p.start), CR, 1, first)
        settle(first_where(live & (resp == PR) & confirmed, p.start), PR, 1, first)
    else:
        first = first_where(live & ((resp == CR) | (resp == PR)), p.start)
        settle(first_where(live & (resp == CR), p.start), CR, 0, first)
        settle(first_where(live & (resp == PR), p.start), PR, 0, first)
    # SD (NON-CR/NON-PD without target disease) only from sd_min_days on (RECIST 1.1 4.6.3, A-R7)
    sd_level = live & np.isin(resp, (CR, PR, SD, NN)) & (~p.has_day | (p.day >= config.sd_min_days))
    as_sd = has_target_disease[entity] & (resp != NN)
    settle(first_where(sd_level & as_sd, p.start), SD)
    settle(first_where(sd_level & ~as_sd, p.start), NN)
    settle(first_where(live & (resp == PD), p.start), PD)
    settle(np.where(counts > 0, p.start[:-1], -1), NE)
    return out


def _apply_cr_then_pr(
    p: BorPoints, resp: IntArray, config: CriterionConfig, dates: Sequence[date]
) -> dict[int, list[str]]:
    """A-R5, RECIST 1.1 Table 3 footnote (a): a CR followed by a PR. ``pr``: the CR was residual disease and
    counts as PR; ``pd``: the PR is progression from the CR. ``invalidate`` is handled in ``_confirmed``.
    Changes ``resp`` in place; returns the flags per entity (only entities with a CR and a PR are walked)."""
    flags: dict[int, list[str]] = {}
    if config.cr_then_pr == "invalidate":
        return flags
    entity = groups(p.start)
    live = ~p.skip
    n_e = len(p.start) - 1
    both = (np.bincount(entity[live & (resp == CR)], minlength=n_e) > 0) & (
        np.bincount(entity[live & (resp == PR)], minlength=n_e) > 0
    )
    for e in np.flatnonzero(both).tolist():
        last_cr: int | None = None
        for j in range(int(p.start[e]), int(p.start[e + 1])):
            if p.skip[j]:
                continue
            r = resp[j]
            if r == CR:
                last_cr = j
            elif r == PR and last_cr is not None:
                if config.cr_then_pr == "pr":
                    earlier = np.arange(int(p.start[e]), last_cr + 1)
                    resp[earlier[resp[earlier] == CR]] = PR
                    text = f"CR at {dates[last_cr]} followed by PR at {dates[j]}: CR counted as PR (A-R5)"
                else:
                    resp[j] = PD
                    text = f"PR at {dates[j]} after CR counted as PD (A-R5, cr_then_pr=pd)"
                flags.setdefault(e, []).append(text)
                last_cr = None
            elif r == PD:
                break
    return flags


def _confirmed(p: BorPoints, resp: IntArray, candidate: BoolArray, config: CriterionConfig) -> BoolArray:
    """Which candidate CR/PR points are confirmed (RECIST 1.1 4.6.1): a later CR (for a CR) or CR/PR (for a
    PR) >= ``response_confirm_min_days`` after it, with at most ``max_ne_between`` NE and, when
    ``accept_sd_between``, one SD (PR only) between; anything else between breaks it. Unconfirmed irPD
    (``skip``) is passed over. Every candidate walks forward one point per step, all at once."""
    out = np.zeros(len(resp), dtype=bool)
    cand = np.flatnonzero(candidate)
    if not len(cand):
        return out
    end = p.start[np.searchsorted(p.start, cand, side="right")]
    want_cr = resp[cand] == CR
    seen_cr = want_cr.copy()
    ne = np.zeros(len(cand), dtype=np.int64)
    sd = np.zeros(len(cand), dtype=np.int64)
    j = cand + 1
    active = j < end
    invalidate = config.cr_then_pr == "invalidate"
    while active.any():
        idx = np.flatnonzero(active)
        jj, ii = j[idx], cand[idx]
        r = resp[jj]
        proc = ~p.skip[jj]
        broken = proc & invalidate & (r == PR) & seen_cr[idx]  # a PR after a CR (admiralonco issue #87)
        both_days = p.has_day[jj] & p.has_day[ii]
        gap = np.where(both_days, p.day[jj] - p.day[ii], p.ordinal[jj] - p.ordinal[ii])
        confirming = np.where(want_cr[idx], r == CR, (r == CR) | (r == PR))
        ok = proc & ~broken & confirming & (gap >= config.response_confirm_min_days)
        rest = proc & ~broken & ~ok
        seen_cr[idx[rest & (r == CR)]] = True
        is_ne = rest & (r == NE)
        ne[idx[is_ne]] += 1
        is_sd = rest & ~is_ne & (r == SD) & ~want_cr[idx] & config.accept_sd_between
        sd[idx[is_sd]] += 1
        between_ok = (r == CR) | (r == NE) | (~want_cr[idx] & (r == PR))
        broken |= (is_ne & (ne[idx] > config.max_ne_between)) | (is_sd & (sd[idx] > 1))
        broken |= rest & ~is_ne & ~is_sd & ~between_ok
        out[ii[ok]] = True
        j[idx] += 1
        active[idx] = ~ok & ~broken & (j[idx] < end[idx])
    return out


def day_of(d: date | None) -> int:
    """``d`` as days since 1970-01-01 (``NO_DAY`` for none), the ordinals of ``BorPoints``."""
    return NO_DAY if d is None else (d - EPOCH).days
