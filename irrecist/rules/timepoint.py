"""The one timepoint engine: sums, TMTB, nadir, target / non-target / new-lesion categories, overall
response and a checkable reason at every assessment of one subject.

RECIST 1.1 (decisions.md section 3) and irRECIST (section 4) differ only by options of
``CriterionConfig``: new measurable lesions enter the burden (``new_lesions_in_burden``) or define PD
(``new_lesions_define_pd``). Confirmation of irPD is a later pass (``confirmation.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from irrecist.model import Assessment, Lesion, Observation, Role, Status
from irrecist.rules.baseline import fmt_mm, lesion_measure_um, measurability_problem
from irrecist.rules.config import CriterionConfig, mm_to_um
from irrecist.rules.responses import NonTargetCategory, Response, TargetCategory, label, overall_response


@dataclass
class TimepointResult:
    """One assessment's numbers and calls; lengths in micrometres."""

    timepoint: str
    date: date
    is_baseline: bool
    target_sum_um: int | None = None
    new_um: int | None = None
    burden_um: int | None = None  # SOD (RECIST 1.1) or TMTB (irRECIST); partial only when it proves PD
    baseline_um: int = 0
    nadir_um: int | None = None
    nadir_label: str = ""
    target: TargetCategory | None = None
    nontarget: NonTargetCategory | None = None
    new_lesions: str = ""  # "yes", "no", "equivocal"
    response: Response | None = None
    pd_status: str = ""
    evaluable: bool = False  # burden fully evaluated: may set the nadir
    nontarget_pd: bool = False
    reasons: list[str] = field(default_factory=list)
    admitted: list[str] = field(default_factory=list)

    def pct(self, reference_um: int | None) -> Decimal | None:
        """Percent change of the burden from ``reference_um``, rounded half up to 0.1 (exact integers)."""
        if self.burden_um is None or not reference_um:
            return None
        return Decimal(pct_tenths(self.burden_um, reference_um)).scaleb(-1)


def pct_tenths(value_um: int, reference_um: int) -> int:
    """(value - reference) / reference in tenths of a percent, rounded half away from zero, exactly."""
    num = (value_um - reference_um) * 1000
    q, rem = divmod(abs(num), reference_um)
    if 2 * rem >= reference_um:
        q += 1
    return q if num >= 0 else -q


def is_pd(burden_um: int, nadir_um: int, config: CriterionConfig) -> bool:
    """RECIST 1.1 section 4.3.1: >= +20 % over the nadir and >= +5 mm; inclusive, exact."""
    return burden_um * 100 >= nadir_um * (100 + config.pd_min_increase_pct) and (
        burden_um - nadir_um >= mm_to_um(config.pd_min_increase_mm)
    )


def is_pr(burden_um: int, baseline_um: int, config: CriterionConfig) -> bool:
    """RECIST 1.1 section 4.3.1: at least 30 % below the baseline sum; inclusive, exact."""
    return burden_um * 100 <= baseline_um * (100 - config.pr_min_decrease_pct)


def _new_counts(lesion: Lesion, obs: Observation, config: CriterionConfig) -> bool:
    """A new lesion that is there: present (or progressing), and for a node SA >= 10 mm (RECIST 1.1 4.3.2,
    FAQ 'new lymph node lesions'); a node whose SA was not recorded counts."""
    if obs.status not in (Status.PRESENT, Status.TOO_SMALL, Status.UNEQUIVOCAL_PROGRESSION):
        return False
    if obs.status is Status.PRESENT and (obs.short_um if lesion.nodal else obs.long_um) == 0:
        return False  # measured 0 mm: gone
    if lesion.nodal and obs.short_um is not None:
        return obs.short_um >= mm_to_um(config.node_pathological_min_sa_mm)
    return True


class TimepointEngine:
    """Walks one subject's assessments in date order (decisions.md 3 and 4)."""

    def __init__(
        self,
        config: CriterionConfig,
        lesions: dict[str, Lesion],
        targets: list[Lesion],
        nontargets: list[Lesion],
        baseline_sum_um: int,
    ) -> None:
        self.config = config
        self.lesions = lesions
        self.targets = targets
        self.nontargets = nontargets
        self.baseline_um = baseline_sum_um
        self.burden_word = "TMTB" if config.new_lesions_in_burden else "SOD"
        self.admitted: list[Lesion] = []
        self.first_seen: dict[str, date] = {}
        self.nadir_um = baseline_sum_um
        self.nadir_label = "baseline"
        self.response_since_pd = False  # a target PR/CR since the last PD (PR persists, A-R1)
        self.last_overall: Response | None = None

    def baseline(self, a: Assessment) -> TimepointResult:
        r = TimepointResult(a.timepoint, a.date, True, baseline_um=self.baseline_um)
        r.target_sum_um = self.baseline_um
        r.new_um = 0
        r.burden_um = self.baseline_um
        r.evaluable = True
        r.new_lesions = "no"
        r.reasons.append(
            f"baseline {self.burden_word} {fmt_mm(self.baseline_um)} mm from {len(self.targets)} target(s)"
        )
        return r

    def assess(self, a: Assessment) -> TimepointResult:
        cfg = self.config
        r = TimepointResult(a.timepoint, a.date, False, baseline_um=self.baseline_um)
        new_present, equivocal = self._new_lesions(a, r)
        # burden: targets plus admitted new lesions (irRECIST)
        members = self.targets + self.admitted
        total = 0
        tsum = 0
        missing: list[str] = []
        all_cr = True
        normal_um = mm_to_um(cfg.node_pathological_min_sa_mm)
        for les in members:
            m = lesion_measure_um(les, a.observations.get(les.lesion_id), cfg)
            if m is None:
                missing.append(les.lesion_id)
                all_cr = False
                continue
            total += m
            if les.role is Role.TARGET:
                tsum += m
            if (les.nodal and m >= normal_um) or (not les.nodal and m > 0):
                all_cr = False
        r.nadir_um, r.nadir_label = self.nadir_um, self.nadir_label
        if not members:
            r.target = TargetCategory.NONE
        elif missing:
            if is_pd(total, self.nadir_um, cfg):
                r.target = TargetCategory.PD
                r.burden_um, r.target_sum_um = total, tsum
                r.reasons.append(
                    f"{', '.join(missing)} not evaluated, but the evaluated lesions alone already prove PD "
                    "(RECIST 1.1 4.4.2)"
                )
            else:
                r.target = TargetCategory.NE
                r.reasons.append(f"{', '.join(missing)} not evaluated: {self.burden_word} not evaluable")
        else:
            r.burden_um, r.target_sum_um, r.evaluable = total, tsum, True
            r.target = self._target_category(total, all_cr, r)
        if r.burden_um is not None:
            r.new_um = r.burden_um - (r.target_sum_um or 0)
        r.nontarget = self._nontarget(a, r)
        r.nontarget_pd = r.nontarget is NonTargetCategory.PD
        admitted_present = any(
            (lesion_measure_um(les, a.observations.get(les.lesion_id), cfg) or 0) > 0 for les in self.admitted
        )
        r.new_lesions = "yes" if new_present or admitted_present else ("equivocal" if equivocal else "no")
        resp = overall_response(r.target, r.nontarget, new_present, cfg)
        reappeared = r.target in (TargetCategory.PR, TargetCategory.SD) or r.nontarget is NonTargetCategory.NN
        if (
            cfg.reappearance_after_cr_is_pd
            and self.last_overall is Response.CR
            and reappeared
            and resp is not Response.PD
        ):
            resp = Response.PD
            r.reasons.append("disease reappears after an overall CR: PD (RECIST Working Group Q&A, A-R10)")
        r.response = resp
        self._describe(r)
        # state for the next assessment
        if r.evaluable and r.burden_um is not None and r.burden_um < self.nadir_um:
            self.nadir_um, self.nadir_label = r.burden_um, a.timepoint
        if resp is Response.PD:
            self.response_since_pd = False
        elif r.target in (TargetCategory.PR, TargetCategory.CR):
            self.response_since_pd = True
        if resp is not Response.NE:
            self.last_overall = resp
        return r

    def _target_category(self, total: int, all_cr: bool, r: TimepointResult) -> TargetCategory:
        cfg = self.config
        if is_pd(total, self.nadir_um, cfg):
            return TargetCategory.PD
        if all_cr:
            return TargetCategory.CR
        if is_pr(total, self.baseline_um, cfg):
            return TargetCategory.PR
        if cfg.pr_persists and self.response_since_pd:
            r.reasons.append("PR persists: no PD since the last PR/CR (decisions.md 3, A-R1)")
            return TargetCategory.PR
        return TargetCategory.SD

    def _nontarget(self, a: Assessment, r: TimepointResult) -> NonTargetCategory:
        """RECIST 1.1 section 4.3.3: CR when all absent and nodes < 10 mm; PD on unequivocal progression."""
        if not self.nontargets:
            return NonTargetCategory.NONE
        normal_um = mm_to_um(self.config.node_pathological_min_sa_mm)
        pd, ne, present = [], [], False
        for les in self.nontargets:
            obs = a.observations.get(les.lesion_id)
            if obs is None or obs.status is Status.NOT_EVALUATED:
                ne.append(les.lesion_id)
            elif obs.status is Status.UNEQUIVOCAL_PROGRESSION:
                pd.append(les.lesion_id)
            elif (
                obs.status in (Status.ABSENT, Status.MERGED)
                or les.nodal
                and obs.short_um is not None
                and obs.short_um < normal_um
            ):
                continue
            else:
                present = True
        if pd:
            r.reasons.append(f"unequivocal progression of non-target {', '.join(pd)}")
            return NonTargetCategory.PD
        if ne:
            r.reasons.append(f"non-target {', '.join(ne)} not evaluated")
            return NonTargetCategory.NE
        return NonTargetCategory.NN if present else NonTargetCategory.CR

    def _new_lesions(self, a: Assessment, r: TimepointResult) -> tuple[bool, bool]:
        """New lesions at this assessment. RECIST 1.1: any unequivocal one counts (section 4.3.2).
        irRECIST (decisions.md 4): measurable ones are admitted to TMTB in order of first appearance
        (ties: larger first) within the caps; the others only preclude irCR while present."""
        cfg = self.config
        present: list[str] = []
        equivocal: list[str] = []
        candidates: list[tuple[date, int, str]] = []
        admitted_ids = {les.lesion_id for les in self.admitted}
        for lid, obs in a.observations.items():
            les = self.lesions[lid]
            if les.role is not Role.NEW:
                continue
            if obs.status is Status.EQUIVOCAL:
                equivocal.append(lid)
                continue
            if not _new_counts(les, obs, cfg):
                continue
            self.first_seen.setdefault(lid, a.date)
            if lid in admitted_ids:
                continue
            if cfg.new_lesions_in_burden and measurability_problem(les, obs, cfg) is None:
                m = lesion_measure_um(les, obs, cfg) or 0
                candidates.append((self.first_seen[lid], -m, lid))
            else:
                present.append(lid)
        if candidates:
            per_organ = Counter(les.organ_key for les in self.admitted)
            for _first, _neg, lid in sorted(candidates):
                les = self.lesions[lid]
                if (
                    len(self.admitted) < cfg.max_new_in_tmtb
                    and per_organ[les.organ_key] < cfg.max_new_in_tmtb_per_organ
                ):
                    self.admitted.append(les)
                    per_organ[les.organ_key] += 1
                    r.admitted.append(lid)
                else:
                    present.append(lid)
        if r.admitted:
            r.reasons.append(f"new measurable lesion(s) {', '.join(r.admitted)} added to TMTB")
        if present:
            if cfg.new_lesions_define_pd:
                r.reasons.append(f"new lesion(s) {', '.join(sorted(present))}: PD (RECIST 1.1 4.3.2)")
            else:
                r.reasons.append(f"new lesion(s) {', '.join(sorted(present))} outside TMTB: no irCR while present")
        if equivocal:
            r.reasons.append(f"equivocal new lesion(s) {', '.join(sorted(equivocal))}: not PD unless confirmed")
        # irRECIST: admitted lesions still present preclude nothing extra (they are in the burden)
        return bool(present), bool(equivocal)

    def _describe(self, r: TimepointResult) -> None:
        """A reason a radiologist can check: the numbers, the comparison, the call."""
        cfg = self.config
        word = self.burden_word
        if r.burden_um is not None and r.target is not TargetCategory.NONE:
            text = f"{word} {fmt_mm(r.burden_um)} mm"
            if self.baseline_um:
                pb = pct_tenths(r.burden_um, self.baseline_um)
                text += f": {pb / 10:+.1f} % from baseline {fmt_mm(self.baseline_um)} mm"
            if r.nadir_um is not None:
                d = r.burden_um - r.nadir_um
                pn_text = f"{pct_tenths(r.burden_um, r.nadir_um) / 10:+.1f} % and " if r.nadir_um else ""
                sign = "+" if d >= 0 else "-"
                text += (
                    f"; {pn_text}{sign}{fmt_mm(abs(d))} mm vs the nadir {fmt_mm(r.nadir_um)} mm ({r.nadir_label})"
                )
            r.reasons.insert(0, text)
        target = r.target.value if r.target else ""
        nontarget = r.nontarget.value if r.nontarget else ""
        r.reasons.append(
            f"target {target}, non-target {nontarget}, new lesions {r.new_lesions}: {label(r.response, cfg)}"
        )
