"""``irrecist verify``: run reference cases (the format of shared/cases/README.md) through the engine.

Lesion-level cases go through the same lesion table and engine as ``irrecist score``; category cases
through the Table 1/2 combination; time-point-response cases through confirmation and BOR. A case's
``bor_parameters`` (the README's keys, or any option name of decisions.md) set the configuration.
Criteria without a profile yet (iRECIST, irRC, imRECIST) report ``unsupported``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from irrecist.errors import ConfigError, InputError
from irrecist.lesion_table import build_subjects
from irrecist.model import Lesion, Observation, Role, Status
from irrecist.rules.baseline import measurability_problem, organ_key, select_targets
from irrecist.rules.bor import BorPoint, BorResult, best_overall_response, window
from irrecist.rules.config import CriterionConfig, mm_to_um, profile, with_options
from irrecist.rules.confirmation import UNCONFIRMED, confirm_progression
from irrecist.rules.responses import (
    NonTargetCategory,
    Response,
    TargetCategory,
    label,
    overall_response,
    parse_response,
)
from irrecist.rules.subject import SubjectScore, score_subject
from irrecist.rules.timepoint import TimepointResult

CRITERIA = {"RECIST1.1": "recist1.1", "irRECIST": "irrecist"}
CASE_OPTION_NAMES = {
    "confirmation_required": "confirm_response",
    "min_confirm_days": "response_confirm_min_days",
    "min_sd_days": "sd_min_days",
    "max_ne_between": "max_ne_between",
    "accept_one_sd_between_pr_and_confirmation": "accept_sd_between",
    "missing_as_ne": "missing_as_ne",
    "restrict_to_first_pd_date": "bor_stop_at_pd",
    "min_pd_confirm_days": "pd_confirm_min_days",
}
ORIGIN = date(2000, 1, 1)
NULL_DAY_SPACING = 56
"""Cases whose source gives no timing (``day: null``) are spaced 8 weeks apart, a usual assessment
interval; such cases never depend on the spacing (their sources state no dates)."""


@dataclass
class CaseResult:
    id: str
    criterion: str
    status: str  # pass | fail | unsupported | error
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "criterion": self.criterion, "status": self.status, "detail": self.detail}


class Mismatch(Exception):
    pass


def case_config(case: dict[str, Any]) -> CriterionConfig:
    cfg = profile(CRITERIA[case["criterion"]])
    changes: dict[str, Any] = {}
    for key, value in (case.get("bor_parameters") or {}).items():
        if value is None or key == "sd_min_duration_met":
            continue  # the days of the case already encode whether the SD minimum is met
        if key == "pr_after_cr_invalidates_confirmation":
            if value:
                changes["cr_then_pr"] = "invalidate"
            continue
        changes[CASE_OPTION_NAMES.get(key, key)] = value
    return with_options(cfg, changes)


def _days(case: dict[str, Any]) -> list[int]:
    out, last = [], None
    for tp in case["timepoints"]:
        if tp.get("date"):
            d = (date.fromisoformat(tp["date"]) - ORIGIN).days
        elif tp.get("day") is not None:
            d = int(tp["day"])
        else:
            d = (last if last is not None else 0) + NULL_DAY_SPACING
        out.append(d)
        last = d
    return out


def _check(name: str, got: Any, want: Any) -> None:
    if want is None:
        return
    if got != want:
        raise Mismatch(f"{name}: expected {want!r}, got {got!r}")


def _check_list(name: str, got: list[Any], want: list[Any] | None) -> None:
    if want is None:
        return
    if len(got) != len(want):
        raise Mismatch(f"{name}: expected {len(want)} values {want!r}, got {got!r}")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is not None and g != w:
            raise Mismatch(f"{name}[{i}]: expected {w!r}, got {g!r} (all: {got!r})")


# --- lesion-level cases --------------------------------------------------------------------------


def lesion_rows(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A lesion-level case as lesion-table rows (diameter_mm is the measure: SA for nodes)."""
    rows: list[dict[str, Any]] = []
    days = _days(case)
    for tp, day in zip(case["timepoints"], days, strict=True):
        d = (ORIGIN + timedelta(days=day)).isoformat()
        base = {
            "subject_id": case["id"],
            "timepoint": tp["label"],
            "date": d,
            "slice_thickness_mm": tp.get("ct_slice_thickness_mm", ""),
        }
        groups = [
            ("target", tp.get("target") or []),
            ("non-target", tp.get("nontarget") or []),
            ("new", tp.get("new") or []),
        ]
        if tp.get("target_sum_mm") is not None and not tp.get("target"):
            groups[0] = (
                "target",
                [{"id": "T1", "organ": "unspecified", "nodal": False, "diameter_mm": tp["target_sum_mm"]}],
            )
        n = 0
        for role, lesions in groups:
            for les in lesions:
                rows.extend(_lesion_rows(base, role, les))
                n += 1
        if n == 0:
            rows.append({**base, "lesion_id": ""})
    return rows


def _lesion_rows(base: dict[str, Any], role: str, les: dict[str, Any]) -> list[dict[str, Any]]:
    nodal = bool(les.get("nodal", False))
    row = {
        **base,
        "lesion_id": les["id"],
        "role": role,
        "organ": les.get("organ", ""),
        "nodal": "true" if nodal else "false",
    }
    status = les.get("status", "present")
    if status.startswith("coalesced_into:"):
        status = "merged_into:" + status.split(":", 1)[1]
    if status in ("increased_from_last", "no_change_from_last"):
        status = "present"
    if les.get("equivocal"):
        status = "equivocal"
    if les.get("too_small_to_measure"):
        status = "too_small"
    value = les.get("diameter_mm")
    if les.get("fragments_mm"):
        axis = "short_axis_mm" if nodal else "long_axis_mm"
        return [
            {**row, "lesion_id": f"{les['id']}.{k + 1}", "status": "present", axis: v}
            for k, v in enumerate(les["fragments_mm"])
        ]
    if nodal:
        row["short_axis_mm"] = les.get("short_axis_mm", value)
        row["long_axis_mm"] = les.get("long_axis_mm")
    else:
        row["long_axis_mm"] = value
    if value is None and status == "present" and les.get("short_axis_mm") is None:
        status = "not_evaluated" if role != "non-target" else "present"
    row["status"] = status
    return [row]


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    return df.astype(object).where(df.notna(), "").astype(str)


def run_lesion_case(case: dict[str, Any], cfg: CriterionConfig) -> SubjectScore | None:
    tps = case["timepoints"]
    if any("candidate_lesions" in tp for tp in tps):
        _candidate_case(case, cfg)
        return None
    rows = lesion_rows(case)
    # fragments need their parent known: add the parent at baseline from the case's baseline row
    subjects = build_subjects(_frame(rows), case["id"], cfg)
    if subjects.failed:
        raise InputError("; ".join(f"{p.source}: {p.message}" for p in subjects.problems) or "input rejected")
    rec = subjects.records[0]
    score = score_subject(rec, cfg)
    _compare_lesion_case(case, score, cfg)
    return score


def _compare_lesion_case(case: dict[str, Any], score: SubjectScore, cfg: CriterionConfig) -> None:
    exp = case["expected"]
    tps = score.timepoints
    got = ["" if t.is_baseline else label(t.response, cfg) for t in tps]
    by_variant = exp.get("timepoint_responses_by_variant")
    if by_variant:
        if not any(_matches(got, v) for v in by_variant.values()):
            raise Mismatch(f"timepoint_responses: {got!r} matches none of the variants {by_variant!r}")
    else:
        _check_list("timepoint_responses", got, exp.get("timepoint_responses"))
    tr = ["" if t.is_baseline else (t.target.value if t.target else "") for t in tps]
    _check_list("target_responses", [_tcat(x, cfg) for x in tr], exp.get("target_responses"))
    _check_list("target_sums_mm", [_mm(t.target_sum_um) for t in tps], exp.get("target_sums_mm"))
    _check_list("tmtb_mm", [_mm(t.burden_um) for t in tps], exp.get("tmtb_mm"))
    _check_nadirs(exp.get("nadir_mm_before_tp"), tps)
    _check_bor(exp, score.bor, cfg)
    if "pd_day" in exp:
        want = exp["pd_day"]
        got_day = None if score.pd_date is None else (score.pd_date - score.timepoints[0].date).days
        if want is None and score.pd_confirmed:
            raise Mismatch(f"pd_day: expected no confirmed progression, got PD on day {got_day}")
        if want is not None:
            _check("pd_day", got_day, want)
    for key in ("irpd_confirmed", "pd_confirmed"):
        if exp.get(key) is not None:
            _check(key, bool(score.pd_confirmed), exp[key])
    if "baseline_eligible" in exp:
        _check("baseline_eligible", score.baseline.eligible, exp["baseline_eligible"])
        _check(
            "ineligible_lesions", sorted(score.baseline.ineligible_lesions), sorted(exp.get("ineligible_lesions") or [])
        )
    if exp.get("pd_timepoint_label") is not None:
        idx = next((t.timepoint for t in tps if t.date == score.pd_date), None)
        _check("pd_timepoint_label", idx, exp["pd_timepoint_label"])
    if exp.get("recist11_timepoint_responses") is not None:
        rcfg = profile("recist1.1")
        other = run_lesion_case({**case, "criterion": "RECIST1.1", "expected": {}}, rcfg)
        assert other is not None
        got_r = ["" if t.is_baseline else label(t.response, rcfg) for t in other.timepoints]
        _check_list("recist11_timepoint_responses", got_r, exp["recist11_timepoint_responses"])
    base = exp.get("baseline")
    if base:
        b = score.baseline
        if "measurable" in base:
            base_obs = score_obs(case)
            got_m = {
                lid: measurability_problem(les, base_obs[lid], cfg) is None
                for lid, les in _lesions(case, cfg).items()
                if lid in base["measurable"]
            }
            _check("baseline.measurable", got_m, base["measurable"])
        if "target_eligible" in base:
            got_t = {t.lesion_id: True for t in b.targets if t.lesion_id in base["target_eligible"]}
            _check("baseline.target_eligible", got_t, base["target_eligible"])
        if "sum_mm" in base:
            _check("baseline.sum_mm", _mm(b.sum_um), base["sum_mm"])


def _matches(got: list[str], want: list[str | None]) -> bool:
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want, strict=True))


def _tcat(value: str, cfg: CriterionConfig) -> str:
    if value in ("", "NONE"):
        return ""
    return ("ir" + value) if cfg.name == "irrecist" else value


def _mm(um: int | None) -> float | int | None:
    if um is None:
        return None
    return um // 1000 if um % 1000 == 0 else um / 1000


def _check_nadirs(want: Any, tps: Sequence[TimepointResult]) -> None:
    """``nadir_mm_before_tp``: the nadir each assessment is compared with, as a list lined up with the time
    points (baseline ``null``) or as a mapping from time-point label to millimetres."""
    if want is None:
        return
    got = [None if t.is_baseline else _mm(t.nadir_um) for t in tps]
    if isinstance(want, dict):
        by_label = {t.timepoint: g for t, g in zip(tps, got, strict=True)}
        unknown = sorted(set(want) - set(by_label))
        if unknown:
            raise Mismatch(f"nadir_mm_before_tp: no time point labelled {', '.join(map(repr, unknown))}")
        for lbl, w in want.items():
            _check(f"nadir_mm_before_tp[{lbl!r}]", by_label[lbl], w)
    else:
        _check_list("nadir_mm_before_tp", got, list(want))


def _check_bor(exp: dict[str, Any], bor: BorResult, cfg: CriterionConfig) -> None:
    """BOR, its confirmation and its date against a case's expected block."""
    got = label(bor.bor, cfg)
    allowed = exp.get("best_overall_response_allowed")
    conditional = [v for k, v in exp.items() if k.startswith("best_overall_response_if_") and v]
    if not allowed and conditional and exp.get("best_overall_response") is None:
        allowed = conditional  # the source gives only conditional answers: any of them passes (cases README)
    if allowed:
        if got not in allowed:
            raise Mismatch(f"best_overall_response: expected one of {allowed!r}, got {got!r}")
    else:
        _check("best_overall_response", got, exp.get("best_overall_response"))
    if exp.get("confirmed") is not None:
        _check("confirmed", bool(bor.confirmed), exp["confirmed"])
    if "bor_date" in exp:
        _check_nullable("bor_date", None if bor.date is None else bor.date.isoformat(), exp["bor_date"])


def _check_nullable(name: str, got: Any, want: Any) -> None:
    if got != want:
        raise Mismatch(f"{name}: expected {want!r}, got {got!r}")


def score_obs(case: dict[str, Any]) -> dict[str, Observation]:
    tp = case["timepoints"][0]
    out = {}
    for les in (tp.get("target") or []) + (tp.get("nontarget") or []) + (tp.get("candidate_lesions") or []):
        out[les["id"]] = _obs(les, tp)
    return out


def _obs(les: dict[str, Any], tp: dict[str, Any]) -> Observation:
    nodal = bool(les.get("nodal"))
    v = les.get("diameter_mm")
    la = les.get("long_axis_mm", None if nodal else v)
    sa = les.get("short_axis_mm", v if nodal else None)
    sl = tp.get("ct_slice_thickness_mm")
    return Observation(
        les["id"],
        Status.PRESENT,
        None if la is None else mm_to_um(_dec(la)),
        None if sa is None else mm_to_um(_dec(sa)),
        None if sl is None else mm_to_um(_dec(sl)),
    )


def _dec(v: Any) -> Decimal:
    return Decimal(str(v))


def _lesions(case: dict[str, Any], cfg: CriterionConfig) -> dict[str, Lesion]:
    tp = case["timepoints"][0]
    out = {}
    for role, key in (("target", "target"), ("non-target", "nontarget"), ("target", "candidate_lesions")):
        for les in tp.get(key) or []:
            nodal = bool(les.get("nodal"))
            out[les["id"]] = Lesion(
                les["id"], Role(role), les.get("organ", ""), organ_key(les.get("organ", ""), nodal, cfg), nodal
            )
    return out


def _candidate_case(case: dict[str, Any], cfg: CriterionConfig) -> None:
    lesions = _lesions(case, cfg)
    obs = score_obs(case)
    sel = select_targets([(lesions[i], obs[i]) for i in lesions], cfg)
    base = case["expected"].get("baseline") or {}
    if "measurable" in base:
        _check("baseline.measurable", {k: sel.measurable[k] for k in base["measurable"]}, base["measurable"])
    if "pathological_nonmeasurable" in base:
        _check(
            "baseline.pathological_nonmeasurable",
            sorted(sel.pathological_nonmeasurable),
            sorted(base["pathological_nonmeasurable"]),
        )
    if "normal_not_recorded" in base:
        _check("baseline.normal_not_recorded", sorted(sel.normal), sorted(base["normal_not_recorded"]))
    if "max_target_count" in base:
        _check("baseline.max_target_count (targets chosen)", len(sel.targets), base["max_target_count"])
    if "min_nontarget_count" in base and len(sel.nontargets) < base["min_nontarget_count"]:
        raise Mismatch(
            f"baseline.min_nontarget_count: expected >= {base['min_nontarget_count']}, got {len(sel.nontargets)}"
        )
    if "max_targets_per_organ" in base:
        from collections import Counter

        per = Counter(lesions[t].organ_key for t in sel.targets)
        if max(per.values(), default=0) > base["max_targets_per_organ"]:
            raise Mismatch(
                f"baseline.max_targets_per_organ: expected <= {base['max_targets_per_organ']}, got {dict(per)}"
            )
    if "max_nodal_targets" in base:
        nodal = sum(1 for t in sel.targets if lesions[t].nodal)
        if nodal > base["max_nodal_targets"]:
            raise Mismatch(f"baseline.max_nodal_targets: expected <= {base['max_nodal_targets']}, got {nodal}")


# --- category cases (RECIST 1.1 Tables 1 and 2) ---------------------------------------------------

_T = {
    "CR": [TargetCategory.CR],
    "PR": [TargetCategory.PR],
    "SD": [TargetCategory.SD],
    "PD": [TargetCategory.PD],
    "NE": [TargetCategory.NE],
    "NOT_EVALUATED": [TargetCategory.NE],
    "NOT_ALL_EVALUATED": [TargetCategory.NE],
    "NO_TARGET_DISEASE": [TargetCategory.NONE],
    "ANY": [TargetCategory.CR, TargetCategory.PR, TargetCategory.SD, TargetCategory.PD, TargetCategory.NE],
}
_NT = {
    "CR": [NonTargetCategory.CR],
    "NON-CR/NON-PD": [NonTargetCategory.NN],
    "PD": [NonTargetCategory.PD],
    "UNEQUIVOCAL_PD": [NonTargetCategory.PD],
    "NE": [NonTargetCategory.NE],
    "NOT_EVALUATED": [NonTargetCategory.NE],
    "NOT_ALL_EVALUATED": [NonTargetCategory.NE],
    "ANY": list(NonTargetCategory),
}


def _strip_ir(v: str) -> str:
    return v[2:] if v.startswith("ir") and v[2:].isupper() else v


def run_category_case(case: dict[str, Any], cfg: CriterionConfig) -> None:
    for tp, want in zip(case["timepoints"], case["expected"]["timepoint_responses"], strict=True):
        if "target_response" not in tp:
            continue
        targets = _T[_strip_ir(str(tp["target_response"]))]
        nts = [tp.get("nontarget_response", "ANY")] + list(tp.get("nontarget_response_alternatives") or [])
        nt_cats = [c for v in nts for c in _NT[_strip_ir(str(v))]]
        news = [True, False] if tp.get("new_lesions") == "ANY" else [bool(tp.get("new_lesions"))]
        results = {
            label(overall_response(t, nt, n, cfg), cfg) for t, nt, n in itertools.product(targets, nt_cats, news)
        }
        if want is not None and results != {want}:
            raise Mismatch(f"{tp['label']}: expected {want!r} for every listed input, got {sorted(results)!r}")


# --- time-point-response cases (confirmation and BOR) ---------------------------------------------


def run_response_case(case: dict[str, Any], cfg: CriterionConfig) -> None:
    tps = case["timepoints"]
    days = _days(case)
    ref_day = 0
    for tp, d in zip(tps, days, strict=True):
        if tp["label"] == "reference_date" or ("overall_response" not in tp and tp["label"] == "baseline"):
            ref_day = d
    pts, resp, labels_ = [], [], []
    for tp, d in zip(tps, days, strict=True):
        if "overall_response" not in tp:
            continue
        r = parse_response(str(tp["overall_response"]))
        resp.append(r)
        labels_.append(tp["label"])
        pts.append(
            BorPoint(
                ORIGIN + timedelta(days=d), None if tp.get("day") is None and not tp.get("date") else d - ref_day, r
            )
        )
    pd_date = None
    if cfg.pd_requires_confirmation:
        rel = [p.day if p.day is not None else (p.date - ORIGIN).days for p in pts]
        ep = confirm_progression(rel, resp, lambda j, k: resp[k] is Response.PD, cfg)
        pts = [BorPoint(p.date, p.day, p.response, st == UNCONFIRMED) for p, st in zip(pts, ep.status, strict=True)]
        if ep.pd_index is not None:
            pd_date = pts[ep.pd_index].date
    elif case.get("pd_date_input"):
        pd_date = date.fromisoformat(case["pd_date_input"])
    elif case.get("pd_day_input") is not None:  # the same external first-PD date, as a day from the reference
        pd_date = ORIGIN + timedelta(days=ref_day + int(case["pd_day_input"]))
    else:
        pd_date = next((p.date for p in pts if p.response is Response.PD), None)
    inside = window(pts, cfg, pd_date)
    bor = best_overall_response([pts[i] for i in inside], cfg)
    exp = case["expected"]
    _check_bor(exp, bor, cfg)
    if exp.get("bor_day") is not None and bor.index is not None:
        _check("bor_day", pts[inside[bor.index]].day, exp["bor_day"])
    if exp.get("pd_day") is not None:
        _check("pd_day", None if pd_date is None else (pd_date - ORIGIN).days - ref_day, exp["pd_day"])


# --- driver -----------------------------------------------------------------------------------------


def _infer_level(case: dict[str, Any]) -> str | None:
    """A case without ``input_level``: judged by what its time points carry (cases README, "input_level")."""
    tps = [tp for tp in case.get("timepoints") or [] if isinstance(tp, dict)]
    if any(k in tp for tp in tps for k in ("target", "nontarget", "new", "candidate_lesions")):
        return "lesion"
    if any("target_response" in tp or "nontarget_response" in tp for tp in tps):
        return "category"
    if any("overall_response" in tp for tp in tps):
        return "timepoint_response"
    return None


def run_case(case: dict[str, Any]) -> CaseResult:
    cid, crit = str(case.get("id", "?")), str(case.get("criterion", "?"))
    if crit not in CRITERIA:
        return CaseResult(cid, crit, "unsupported", f"no {crit} profile yet (supported: {', '.join(CRITERIA)})")
    level = case.get("input_level") or _infer_level(case)
    try:
        cfg = case_config(case)
        if level == "lesion":
            run_lesion_case(case, cfg)
        elif level == "category":
            run_category_case(case, cfg)
        elif level == "timepoint_response":
            run_response_case(case, cfg)
        else:
            return CaseResult(cid, crit, "unsupported", f"input_level {level!r} is not machine-checkable")
    except Mismatch as exc:
        return CaseResult(cid, crit, "fail", str(exc))
    except (InputError, ConfigError, KeyError, ValueError, TypeError) as exc:
        return CaseResult(cid, crit, "error", f"{type(exc).__name__}: {exc}")
    return CaseResult(cid, crit, "pass")


def run_cases(folder: Path) -> list[CaseResult]:
    """Every ``*.json`` case under ``folder`` (recursively), in path order."""
    out = []
    for path in sorted(folder.rglob("*.json")):
        try:
            case = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out.append(CaseResult(path.stem, "?", "error", f"{path}: not a readable JSON case ({exc})"))
            continue
        if not isinstance(case, dict) or "timepoints" not in case:
            out.append(CaseResult(path.stem, "?", "error", f"{path}: not a case (no timepoints)"))
            continue
        out.append(run_case(case))
    return out
