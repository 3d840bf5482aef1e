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

from irrecist.rules.config import CriterionConfig
from irrecist.rules.responses import Response

PENDING = "pending"
UNCONFIRMED = "unconfirmed"
CONFIRMED = "confirmed"


@dataclass(frozen=True)
class PdEpisodes:
    """Per-assessment ``pd_status`` and the confirmed (or pending) episode that dates progression."""

    status: list[str]
    pd_index: int | None  # first irPD of the confirmed episode, else of a pending one
    confirmed: bool
    confirmed_at: int | None  # the assessment that confirmed it


def confirm_progression(
    days: Sequence[int],
    responses: Sequence[Response | None],
    confirms: Callable[[int, int], bool],
    config: CriterionConfig,
) -> PdEpisodes:
    """Walk assessments in date order. ``confirms(j, k)``: does assessment k confirm the episode opened at j
    (irPD against j's nadir, or non-target progression when it may define PD)?"""
    n = len(responses)
    status = [""] * n
    open_j: int | None = None
    members: list[int] = []
    pd_index: int | None = None
    confirmed_at: int | None = None

    def close(outcome: str) -> None:
        for m in members:
            status[m] = outcome

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
                members.append(k)
                close(CONFIRMED)
                pd_index, confirmed_at = open_j, k
                return PdEpisodes(status, pd_index, True, confirmed_at)
            close(UNCONFIRMED)
            open_j, members = None, []
        if resp is Response.PD:
            open_j, members = k, [k]
    if open_j is not None:
        close(PENDING)
        pd_index = open_j
    return PdEpisodes(status, pd_index, False, None)
