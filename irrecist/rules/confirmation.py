"""Confirmation of immune-related progression (decisions.md section 4, "Confirmation of irPD").

A first irPD opens an *episode*. The next assessment held at least ``pd_confirm_min_days`` after it (and
within ``pd_confirm_max_days`` when set) decides: it confirms the episode when it again meets irPD against
the episode's nadir (or shows non-target unequivocal progression when that may define PD); otherwise the
episode is *unconfirmed* (pseudoprogression) and scoring goes on. Assessments closer than the minimum are
scored but do not count; NE assessments neither confirm nor refute (iRECIST Table 3 example 8). An episode
with no deciding assessment is *pending*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from irrecist.cohort import BoolArray, IntArray
from irrecist.rules.config import CriterionConfig
from irrecist.rules.responses import RESPONSES, Response

PENDING = "pending"
UNCONFIRMED = "unconfirmed"
CONFIRMED = "confirmed"
STATUSES: tuple[str, ...] = ("", PENDING, UNCONFIRMED, CONFIRMED)
"""``pd_status`` codes: the position in this tuple."""
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
_PENDING, _UNCONFIRMED, _CONFIRMED = STATUS_CODE[PENDING], STATUS_CODE[UNCONFIRMED], STATUS_CODE[CONFIRMED]
_PD, _NE = RESPONSES.index(Response.PD), RESPONSES.index(Response.NE)


@dataclass(frozen=True)
class PdEpisodes:
    """Per-assessment ``pd_status`` and the confirmed (or pending) episode that dates progression."""

    status: list[str]
    pd_index: int | None  # first irPD of the confirmed episode, else of a pending one
    confirmed: bool
    confirmed_at: int | None  # the assessment that confirmed it


@dataclass
class PdArrays:
    """``PdEpisodes`` of many entities: ``status`` per point (codes into ``STATUSES``), the rest per entity
    as positions into the points (-1 for none)."""

    status: IntArray
    pd_index: IntArray
    confirmed: BoolArray
    confirmed_at: IntArray


def confirm_progressions(
    start: IntArray,
    days: IntArray,
    responses: IntArray,
    confirms: Callable[[IntArray, IntArray], BoolArray],
    config: CriterionConfig,
) -> PdArrays:
    """Every entity's assessments (grouped by ``start`` offsets, date order; ``responses`` as codes into
    ``Response``, -1 for none) walked one position at a time, all entities at once. ``confirms(j, k)``: does
    point k confirm the episode opened at point j (irPD against j's nadir, or non-target progression when it
    may define PD)? Called with arrays of positions."""
    n_e = len(start) - 1
    counts = np.diff(start)
    open_j = np.full(n_e, -1, dtype=np.int64)
    done = np.zeros(n_e, dtype=bool)
    episode = np.full(len(responses), -1, dtype=np.int64)  # the episode (its first irPD) a point belongs to
    outcome = np.zeros(len(responses), dtype=np.int64)  # per episode, at its first irPD
    out = PdArrays(np.zeros(len(responses), dtype=np.int64), np.full(n_e, -1, dtype=np.int64),
                   np.zeros(n_e, dtype=bool), np.full(n_e, -1, dtype=np.int64))  # fmt: skip
    for k in range(int(counts.max(initial=0))):
        ents = np.flatnonzero((counts > k) & ~done)
        i = start[ents] + k
        r = responses[i]
        j = open_j[ents]
        is_open = (r >= 0) & (j >= 0) & (r != _NE)  # NE neither confirms nor refutes (iRECIST Table 3 ex. 8)
        gap = days[i] - days[np.maximum(j, 0)]
        early = is_open & (gap < config.pd_confirm_min_days)  # scored, but does not count for confirmation
        episode[i[early & (r == _PD)]] = j[early & (r == _PD)]
        decide = np.flatnonzero(is_open & ~early)
        if config.pd_confirm_max_days is not None:
            in_time = gap[decide] <= config.pd_confirm_max_days
        else:
            in_time = np.ones(len(decide), dtype=bool)
        yes = np.zeros(len(decide), dtype=bool)
        yes[in_time] = confirms(j[decide[in_time]], i[decide[in_time]])
        hit, miss = decide[yes], decide[~yes]
        episode[i[hit]] = j[hit]
        outcome[j[hit]] = _CONFIRMED
        e_hit = ents[hit]
        out.pd_index[e_hit], out.confirmed[e_hit], out.confirmed_at[e_hit] = j[hit], True, i[hit]
        done[e_hit] = True
        outcome[j[miss]] = _UNCONFIRMED  # pseudoprogression: scoring goes on
        open_j[ents[miss]] = -1
        opens = (r == _PD) & (open_j[ents] < 0)  # a confirmed episode's entity is done, its episode stays open
        open_j[ents[opens]] = i[opens]
        episode[i[opens]] = i[opens]
    pending = (open_j >= 0) & ~done
    outcome[open_j[pending]] = _PENDING
    out.pd_index[pending] = open_j[pending]
    member = episode >= 0
    out.status[member] = outcome[episode[member]]
    return out


def confirm_progression(
    days: Sequence[int],
    responses: Sequence[Response | None],
    confirms: Callable[[int, int], bool],
    config: CriterionConfig,
) -> PdEpisodes:
    """``confirm_progressions`` for one entity; ``confirms(j, k)`` takes positions in its sequence."""

    def confirms_all(js: IntArray, ks: IntArray) -> BoolArray:
        return np.array([confirms(j, k) for j, k in zip(js.tolist(), ks.tolist(), strict=True)], dtype=bool)

    got = confirm_progressions(
        np.array([0, len(responses)], dtype=np.int64),
        np.asarray(days, dtype=np.int64),
        np.array([-1 if r is None else RESPONSES.index(r) for r in responses], dtype=np.int64),
        confirms_all,
        config,
    )
    pd_index = int(got.pd_index[0])
    return PdEpisodes(
        [STATUSES[s] for s in got.status.tolist()],
        None if pd_index < 0 else pd_index,
        bool(got.confirmed[0]),
        None if got.confirmed_at[0] < 0 else int(got.confirmed_at[0]),
    )
