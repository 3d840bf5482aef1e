"""Response categories, their labels per criterion, and the overall time-point response.

``overall_response`` implements RECIST 1.1 (Eisenhauer 2009) Tables 1 and 2 (decisions.md section 3) and,
with the irRECIST profile's options, the irRECIST combination of decisions.md section 4.
"""

from __future__ import annotations

from enum import Enum

from irrecist.rules.config import CriterionConfig


class Response(str, Enum):
    """Overall time-point response / best overall response (criterion-neutral)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    NN = "NON-CR/NON-PD"
    PD = "PD"
    NE = "NE"
    ND = "ND"
    MISSING = "MISSING"


class TargetCategory(str, Enum):
    """Target-lesion (burden) response at one assessment (RECIST 1.1 section 4.3.1)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NONE = "NONE"  # no target lesion (and, for irRECIST, no admitted new lesion): no burden to measure


class NonTargetCategory(str, Enum):
    """Non-target response at one assessment (RECIST 1.1 section 4.3.3)."""

    CR = "CR"
    NN = "NON-CR/NON-PD"
    PD = "PD"
    NE = "NE"
    NONE = "NONE"  # no non-target lesion at baseline


RESPONSES: tuple[Response, ...] = tuple(Response)
"""Response codes of the array engine: the position in this tuple."""

RECIST_LABELS: dict[Response, str] = {r: r.value for r in Response}
IR_LABELS: dict[Response, str] = {
    Response.CR: "irCR",
    Response.PR: "irPR",
    Response.SD: "irSD",
    Response.NN: "irNN",
    Response.PD: "irPD",
    Response.NE: "irNE",
    Response.ND: "irND",
    Response.MISSING: "MISSING",
}

# BOR ranking, best first (decisions.md 3 and 4; ND and MISSING as admiralonco ranks them).
RANK: tuple[Response, ...] = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NN,
    Response.PD,
    Response.NE,
    Response.ND,
    Response.MISSING,
)


def labels(config: CriterionConfig) -> dict[Response, str]:
    """The criterion's own labels (irRECIST: irCR ... irND; RECIST 1.1: CR ... ND)."""
    return IR_LABELS if config.name == "irrecist" else RECIST_LABELS


def response_words(config: CriterionConfig) -> list[str]:
    """The criterion's label of each response code (the position in ``RESPONSES``)."""
    names = labels(config)
    return [names[r] for r in RESPONSES]


def label(response: Response | None, config: CriterionConfig) -> str:
    return "" if response is None else labels(config)[response]


def parse_response(text: str) -> Response:
    """A response from its label in any criterion's spelling (``irPR``, ``PR``, ``NON-CR/NON-PD``)."""
    s = text.strip().upper().replace(" ", "")
    if s.startswith("IR"):
        s = s[2:]
    aliases = {"NN": Response.NN, "NON-CR/NON-PD": Response.NN, "NONCR/NONPD": Response.NN}
    if s in aliases:
        return aliases[s]
    for r in Response:
        if r.value == s:
            return r
    allowed = ", ".join(r.value for r in Response)
    raise ValueError(f"unknown response {text!r}; allowed: {allowed} (optionally ir-prefixed)")


def overall_response(
    target: TargetCategory,
    nontarget: NonTargetCategory,
    new_lesion: bool,
    config: CriterionConfig,
) -> Response:
    """Overall response at one assessment.

    RECIST 1.1 Table 1 (target disease) and Table 2 (non-target disease only); an unequivocal new lesion
    is PD when ``new_lesions_define_pd``. For irRECIST (decisions.md 4) ``new_lesion`` means a new lesion
    outside the burden (non-measurable or over the caps): it only precludes irCR, and non-target
    progression is irPD only when ``nontarget_can_define_pd``.
    """
    if target is TargetCategory.PD:
        return Response.PD
    nt_pd = nontarget is NonTargetCategory.PD
    if nt_pd and config.nontarget_can_define_pd:
        return Response.PD
    if new_lesion and config.new_lesions_define_pd:
        return Response.PD
    if target is TargetCategory.NONE:
        if nontarget is NonTargetCategory.NONE:
            return Response.NN if new_lesion else Response.ND
        if nontarget is NonTargetCategory.CR:
            return Response.NN if new_lesion else Response.CR
        if nontarget is NonTargetCategory.NE:
            return Response.NE
        return Response.NN
    if target is TargetCategory.CR:
        if nontarget in (NonTargetCategory.CR, NonTargetCategory.NONE) and not new_lesion:
            return Response.CR
        return Response.PR  # Table 1: CR with non-CR/non-PD or not-evaluated non-targets is PR
    if target is TargetCategory.PR:
        return Response.PR
    if target is TargetCategory.SD:
        return Response.SD
    return Response.NE
