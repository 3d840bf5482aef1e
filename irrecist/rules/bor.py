"""Best overall response (decisions.md sections 3 and 4; RECIST 1.1 section 4.4.3 and Table 3).

Works on time-point responses only, so the same function serves lesion-level scoring and reference cases
given as responses. Confirmation follows RECIST 1.1 section 4.6.1 with the gaps RECIST leaves open as
options (A-R5, A-R7, A-R8: ``max_ne_between``, ``accept_sd_between``, ``cr_then_pr``, ``sd_min_days``).
Unconfirmed irPD assessments (pseudoprogression) are passed as ``skip`` and never break a confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from irrecist.rules.config import CriterionConfig
from irrecist.rules.responses import Response

_SD_LEVEL = (Response.CR, Response.PR, Response.SD, Response.NN)


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


def window(
    points: Sequence[BorPoint],
    config: CriterionConfig,
    pd_date: date | None,
    end_before: date | None = None,
    end_on: date | None = None,
) -> list[int]:
    """Indices inside the BOR window: up to the PD date (``bor_stop_at_pd``), before new anticancer therapy
    (``end_before``) and on or before the data cut (``end_on``) (decisions.md 3)."""
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


def _gap(a: BorPoint, b: BorPoint) -> int:
    if a.day is not None and b.day is not None:
        return b.day - a.day
    return (b.date - a.date).days


def _confirmed(pts: list[BorPoint], resp: list[Response], i: int, config: CriterionConfig) -> int | None:
    """Index of the assessment confirming the CR/PR at ``i`` (RECIST 1.1 4.6.1), or None."""
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
            return None  # a PR after a CR breaks confirmation (admiralonco issue #87)
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


def _sd_met(p: BorPoint, config: CriterionConfig) -> bool:
    return p.day is None or p.day >= config.sd_min_days


def best_overall_response(
    points: Sequence[BorPoint],
    config: CriterionConfig,
    *,
    has_target_disease: bool = True,
) -> BorResult:
    """BOR over points already restricted to the window (see ``window``); ranking CR > PR > SD >
    NON-CR/NON-PD > PD > NE (decisions.md 3), ND when every assessment is ND, MISSING when there is none
    (NE with ``missing_as_ne``)."""
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
        first_resp = None
        for want in (Response.CR, Response.PR):
            for i in live:
                if resp[i] is want and _confirmed(pts, resp, i, config) is not None:
                    first_resp = _first_confirmed(pts, resp, live, config)
                    return BorResult(want, pts[i].date, i, True, first_resp, flags)
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
            if r not in _SD_LEVEL or not _sd_met(pts[i], config):
                continue
            as_level = Response.NN if r is Response.NN else sd_level
            if as_level is level:
                return BorResult(level, pts[i].date, i, None, None, flags)
    for i in live:
        if resp[i] is Response.PD:
            return BorResult(Response.PD, pts[i].date, i, None, None, flags)
    return BorResult(Response.NE, pts[0].date, 0, None, None, flags)


def _first_confirmed(pts: list[BorPoint], resp: list[Response], live: list[int], config: CriterionConfig) -> int | None:
    for i in live:
        if resp[i] in (Response.CR, Response.PR) and _confirmed(pts, resp, i, config) is not None:
            return i
    return None


def _apply_cr_then_pr(pts: list[BorPoint], resp: list[Response], config: CriterionConfig, flags: list[str]) -> None:
    """A-R5, RECIST 1.1 Table 3 footnote (a): a CR followed by a PR. ``pr``: the CR was residual disease
    and counts as PR; ``pd``: the PR is progression from the CR. ``invalidate`` is handled in
    ``_confirmed``."""
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
        elif r in (Response.PD,):
            break
