"""The demo trial's ground truth: eight subjects, their lesions' true diameters and the expected calls.

Every lesion is an ellipsoid: ``long``/``short`` are its true in-plane diameters (mm) on the slice through
its centre; its cranio-caudal semi-axis is 0.4 x the short axis. Responses, pd status and BOR below were
worked out by hand from ``../shared/spec/decisions.md`` section 4 (irRECIST defaults) and are re-derived
by ``demo_score.py`` when the generator runs; a disagreement stops the generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

LABELS: tuple[str, ...] = ("baseline", "week 8", "week 16", "week 24", "week 32")

Size = tuple[float, float] | None
"""(long axis, short axis) in mm; ``None`` = not seen (before a new lesion appears, or absent after)."""


@dataclass(frozen=True)
class LesionSpec:
    """One lesion: identity, where its ellipsoid sits, and its true diameters per assessment."""

    lesion_id: str
    role: str  # target / non-target / new
    organ: str
    nodal: bool
    x_mm: float  # in-plane centre, patient LPS, relative to the image centre
    y_mm: float
    slice_index: int  # the centre lies exactly on this slice
    angle_deg: float  # in-plane direction of the long axis
    sizes: tuple[Size, ...]

    @property
    def first(self) -> int:
        """Index of the first assessment at which the lesion is seen."""
        return next(i for i, s in enumerate(self.sizes) if s is not None)

    def status(self, i: int) -> str:
        """``present``, ``absent`` (gone after being seen) or ``""`` (not yet appeared)."""
        if self.sizes[i] is not None:
            return "present"
        return "absent" if i > self.first else ""


@dataclass(frozen=True)
class SubjectSpec:
    """One subject: header facts, scan geometry, the story and the hand-derived expectations."""

    subject_id: str
    patient_name: str
    sex: str
    birth_date: str
    story: str
    fmt: str  # sr / seg / rtstruct / csv: where the measurements are recorded
    baseline_date: date
    days: tuple[int, ...]  # days from baseline of each assessment
    pixel_spacing_mm: float
    n_slices: int
    slice_thickness_mm: float
    lesions: tuple[LesionSpec, ...]
    responses: tuple[str, ...]  # "" for baseline
    pd_status: tuple[str, ...]
    bor: str
    bor_confirmed: bool | None
    eligible: bool

    @property
    def n_timepoints(self) -> int:
        return len(self.days)

    def label(self, i: int) -> str:
        return LABELS[i]

    def date(self, i: int) -> date:
        return self.baseline_date + timedelta(days=self.days[i])


def _l(lid: str, role: str, organ: str, pos: tuple[float, float, int, float], *sizes: Size,
       nodal: bool = False) -> LesionSpec:
    return LesionSpec(lid, role, organ, nodal, pos[0], pos[1], pos[2], pos[3], tuple(sizes))


SUBJECTS: tuple[SubjectSpec, ...] = (
    SubjectSpec(
        "DEMO-001", "Demo^Alpha", "F", "19580314",
        "Confirmed irPR. Two targets (liver, lung) shrink by 37 % at week 8 and keep shrinking; the week 16 "
        "scan, 56 days later, confirms the response. Measurements in a TID 1500 SR.",
        "sr", date(2023, 1, 9), (0, 56, 112, 168), 1.5, 24, 5.0,
        (
            _l("T1", "target", "liver", (-12, 6, 6, 20), (40, 28), (26, 18), (22, 15), (20, 14)),
            _l("T2", "target", "lung", (15, -10, 14, -30), (25, 18), (15, 11), (13, 10), (12, 9)),
            _l("NT1", "non-target", "adrenal gland", (10, 15, 19, 45), (14, 10), (14, 10), (13, 10), (13, 9)),
        ),
        ("", "irPR", "irPR", "irPR"), ("", "", "", ""), "irPR", True, True,
    ),
    SubjectSpec(
        "DEMO-002", "Demo^Bravo", "M", "19610702",
        "irSD. Liver and kidney targets change by less than 10 % throughout. Measurements in SEG (one "
        "segment per lesion); roles, organs in annotations.csv.",
        "seg", date(2023, 1, 16), (0, 56, 112, 168), 1.5, 28, 4.0,
        (
            _l("T1", "target", "liver", (-10, 5, 7, 10), (30, 22), (27.75, 19.75), (28, 20.75), (29, 21)),
            _l("T2", "target", "kidney", (12, 8, 16, -20), (24, 18), (22.5, 16), (23, 16.5), (23, 16.5)),
            _l("NT1", "non-target", "lung", (-15, -15, 22, 30),
               (12.25, 9), (12.25, 9), (12.25, 9), (12.25, 9)),
        ),
        ("", "irSD", "irSD", "irSD"), ("", "", "", ""), "irSD", None, True,
    ),
    SubjectSpec(
        "DEMO-003", "Demo^Charlie", "F", "19670923",
        "Pseudoprogression. The burden grows 36 % at week 8 (irPD), but week 16 is below the nadir "
        "again, so that irPD is not confirmed; week 24 and week 32 show a confirmed irPR. "
        "Measurements in RTSTRUCT (one ROI per lesion); roles, organs in annotations.csv.",
        "rtstruct", date(2023, 1, 23), (0, 56, 112, 168, 224), 1.5, 32, 3.0,
        (
            _l("T1", "target", "lung", (-8, -6, 8, 35), (30, 20), (40, 27), (28, 19), (18, 12), (15, 10)),
            _l("T2", "target", "liver", (10, 10, 19, -15), (20, 15), (28, 20), (16, 12), (12, 9), (11, 8)),
            _l("NT1", "non-target", "pleura", (-20, 20, 27, 0), (15, 8), (16, 8), (15, 8), (14, 7), (14, 7)),
        ),
        ("", "irPD", "irSD", "irPR", "irPR"), ("", "unconfirmed", "", "", ""), "irPR", True, True,
    ),
    SubjectSpec(
        "DEMO-004", "Demo^Delta", "M", "19550111",
        "Confirmed irPD driven by new measurable lesions. The targets stay stable, but two new measurable "
        "lesions (liver 24 mm, lung 16 mm) enter the burden at week 8 (+82 % over the nadir); week 16 "
        "confirms it against the same nadir. Measurements in a TID 1500 SR; the new lesions' role in "
        "annotations.csv.",
        "sr", date(2023, 2, 6), (0, 56, 112), 1.5, 24, 5.0,
        (
            _l("T1", "target", "liver", (-10, 8, 5, 15), (30, 21), (31, 22), (32, 22)),
            _l("T2", "target", "lung", (14, -12, 10, -40), (20, 14), (20, 14), (21, 15)),
            _l("NT1", "non-target", "bone", (0, 25, 20, 90), (16, 12), (16, 12), (17, 12)),
            _l("N1", "new", "liver", (10, 10, 15, 30), None, (24, 17), (30, 21)),
            _l("N2", "new", "lung", (-18, -14, 15, -10), None, (16, 12), (22, 16)),
        ),
        ("", "irPD", "irPD"), ("", "confirmed", "confirmed"), "irPD", True, True,
    ),
    SubjectSpec(
        "DEMO-005", "Demo^Echo", "F", "19700405",
        "Non-target disease only: a bone lesion and a pathological mediastinal node (short axis 12 mm, "
        "too small to be a target). No target lesion, so every follow-up is irNN. Measurements in a "
        "TID 1500 SR; the node's nodal flag in annotations.csv.",
        "sr", date(2023, 2, 13), (0, 56, 112, 168), 1.5, 24, 5.0,
        (
            _l("NT1", "non-target", "bone", (-10, 20, 8, 0), (18, 14), (18, 14), (18, 14), (18, 14)),
            _l("NT2", "non-target", "lymph node", (8, -5, 15, 70), (18, 12), (17, 12), (18, 13), (17, 12),
               nodal=True),
        ),
        ("", "irNN", "irNN", "irNN"), ("", "", "", ""), "irNN", None, True,
    ),
    SubjectSpec(
        "DEMO-006", "Demo^Foxtrot", "M", "19630819",
        "A nodal target measured by its short axis. The node's short axis falls from 21.75 to 12.5 mm while "
        "its long axis barely changes (34 to 32.5 mm): with short axes the burden falls 43 % (irPR, "
        "confirmed); long axes would give only -21 % (irSD). Measurements in SEG; roles, nodal flag in "
        "annotations.csv.",
        "seg", date(2023, 2, 20), (0, 56, 112, 168), 1.5, 30, 4.0,
        (
            _l("T1", "target", "lymph node", (-5, -8, 9, 25),
               (34, 21.75), (32.5, 12.5), (31.25, 11), (31.25, 11),
               nodal=True),
            _l("T2", "target", "liver", (10, 12, 20, -20),
               (25.5, 19.25), (14.25, 9.5), (12, 8.75), (12, 8.75)),
            _l("NT1", "non-target", "lung", (-20, 18, 25, 0), (12, 8.75), (12, 8.75), (12, 8.75), (12, 8.75)),
        ),
        ("", "irPR", "irPR", "irPR"), ("", "", "", ""), "irPR", True, True,
    ),
    SubjectSpec(
        "DEMO-007", "Demo^Golf", "M", "19591227",
        "Ineligible: the liver target measures 72 mm at baseline, over the 6 cm limit. Scored anyway: "
        "irSD throughout. Measurements in RTSTRUCT; roles, organs in annotations.csv.",
        "rtstruct", date(2023, 3, 6), (0, 56, 112, 168), 2.0, 24, 5.0,
        (
            _l("T1", "target", "liver", (-10, 5, 8, 20), (72, 50), (66, 46), (64, 44), (65, 45)),
            _l("T2", "target", "lung", (15, -20, 17, -30), (30, 22), (28, 20), (27, 19), (27, 19)),
            _l("NT1", "non-target", "peritoneum", (-25, 30, 21, 0), (14, 10), (14, 10), (14, 10), (14, 10)),
        ),
        ("", "irSD", "irSD", "irSD"), ("", "", "", ""), "irSD", None, False,
    ),
    SubjectSpec(
        "DEMO-008", "Demo^Hotel", "F", "19660530",
        "Confirmed irCR. Both targets halve by week 8 (irPR), every lesion has disappeared at week 16 "
        "(irCR) and week 24 confirms it. The CT series carry no measurement objects: the radiologist's "
        "measurements are rows of annotations.csv.",
        "csv", date(2023, 3, 13), (0, 56, 112, 168), 1.5, 20, 5.0,
        (
            _l("T1", "target", "lung", (-12, -10, 5, 30), (22, 16), (11, 8), None, None),
            _l("T2", "target", "liver", (12, 10, 11, -15), (18, 13), (9, 6), None, None),
            _l("NT1", "non-target", "lung", (15, -20, 16, 0), (9, 7), (9, 7), None, None),
        ),
        ("", "irPR", "irCR", "irCR"), ("", "", "", ""), "irCR", True, True,
    ),
)


TITLES: dict[str, str] = {
    "DEMO-001": "confirmed irPR",
    "DEMO-002": "irSD",
    "DEMO-003": "pseudoprogression, then confirmed irPR",
    "DEMO-004": "confirmed irPD driven by new measurable lesions",
    "DEMO-005": "non-target disease only (irNN)",
    "DEMO-006": "nodal target measured by its short axis, confirmed irPR",
    "DEMO-007": "72 mm target at baseline: ineligible; irSD",
    "DEMO-008": "confirmed irCR",
}


def subject(subject_id: str) -> SubjectSpec:
    """The subject with this id (KeyError naming the known ids otherwise)."""
    for s in SUBJECTS:
        if s.subject_id == subject_id:
            return s
    raise KeyError(f"unknown subject {subject_id!r}; known: {', '.join(s.subject_id for s in SUBJECTS)}")
