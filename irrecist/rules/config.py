"""Criterion configurations: every rule number of spec/decisions.md is a named, documented field here.

One timepoint engine serves every criterion; a criterion is a *profile*, i.e. a ``CriterionConfig`` with
its own defaults (``PROFILES``). Options are overridden from Python (``config.replace(name=value)``), the
CLI (``--set name=value``) or a protocol file (TOML or JSON, ``load_protocol``).

Lengths are millimetres and percentages are percent, both held as ``Decimal`` so that thresholds compare
exactly (decisions.md section 1, "Arithmetic").
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from irrecist.errors import ConfigError

CR_THEN_PR_CHOICES = ("pr", "pd", "invalidate")


def _d(value: str) -> Decimal:
    return Decimal(value)


@dataclass(frozen=True)
class CriterionConfig:
    """All options of one criterion. Field docs name the decisions.md section they implement."""

    name: str = "irrecist"
    """Profile name: ``irrecist`` or ``recist1.1``."""

    # --- decisions.md 2: baseline -------------------------------------------------------------
    min_measurable_mm: Decimal = field(default_factory=lambda: _d("10"))
    """Non-nodal lesion measurable at baseline when LD >= this (RECIST 1.1 section 3.1.1)."""
    slice_thickness_factor: Decimal = field(default_factory=lambda: _d("2"))
    """When slices are thicker than ``slice_thickness_limit_mm``, LD must also be >= factor x thickness."""
    slice_thickness_limit_mm: Decimal = field(default_factory=lambda: _d("5"))
    """Slice thickness above which the ``slice_thickness_factor`` rule applies (RECIST 1.1 Appendix II)."""
    node_target_min_sa_mm: Decimal = field(default_factory=lambda: _d("15"))
    """A node with short axis >= this is measurable and may be a target (RECIST 1.1 section 3.1.1)."""
    node_pathological_min_sa_mm: Decimal = field(default_factory=lambda: _d("10"))
    """A node with short axis >= this is pathological; below it a node is normal (CR, new-node rules)."""
    max_targets: int = 5
    """At most this many target lesions in total (RECIST 1.1 section 4.2)."""
    max_targets_per_organ: int = 2
    """At most this many target lesions per organ; all lymph nodes are one organ (section 4.2, EORTC Q&A)."""
    paired_organs_as_one: bool = True
    """Organ names are normalised so that 'Left lung' and 'lungs' are one organ (decisions.md 2, A-R11)."""

    # --- decisions.md 2.1: the 6 cm eligibility limit ------------------------------------------
    max_baseline_ld_mm: Decimal = field(default_factory=lambda: _d("60"))
    """Protocol inclusion limit: every non-nodal baseline lesion LD <= this (60.0 passes, 60.1 fails)."""
    eligibility_includes_nodes: bool = False
    """When true, a node's long axis is checked against ``max_baseline_ld_mm`` too."""

    # --- decisions.md 3: measurement and time-point rules --------------------------------------
    too_small_mm: Decimal = field(default_factory=lambda: _d("5"))
    """Measure recorded for a lesion present but too small to measure (RECIST 1.1 section 4.3.2)."""
    pd_min_increase_pct: Decimal = field(default_factory=lambda: _d("20"))
    """PD when the sum (TMTB) is >= this percent above the nadir ... (RECIST 1.1 section 4.3.1)."""
    pd_min_increase_mm: Decimal = field(default_factory=lambda: _d("5"))
    """... and at least this many millimetres above it (RECIST 1.1 section 4.3.1)."""
    pr_min_decrease_pct: Decimal = field(default_factory=lambda: _d("30"))
    """PR when the sum (TMTB) is >= this percent below the baseline sum (RECIST 1.1 section 4.3.1)."""
    pr_persists: bool = True
    """Once target PR/CR, a later SD stays PR until a PD (A-R1, RECIST Working Group Q&A)."""
    reappearance_after_cr_is_pd: bool = True
    """A lesion that reappears after an overall CR is PD (RECIST Working Group Q&A, digest 1.6, A-R10)."""
    new_lesions_define_pd: bool = True
    """RECIST 1.1: an unequivocal new lesion is PD. irRECIST: false, new lesions enter the burden."""

    # --- decisions.md 3: best overall response -------------------------------------------------
    confirm_response: bool = True
    """CR/PR need a confirming assessment (RECIST 1.1 section 4.6.1; single-arm, response primary)."""
    response_confirm_min_days: int = 28
    """The confirming assessment is at least this many days after the response (RECIST 1.1 4.6.1)."""
    max_ne_between: int = 1
    """At most this many NE assessments between a response and its confirmation (A-R8)."""
    accept_sd_between: bool = False
    """Whether one SD between a PR and its confirmation is accepted (A-R8; admiralonco ``accept_sd``)."""
    sd_min_days: int = 42
    """SD (and NON-CR/NON-PD) counts for BOR only at an assessment >= this many days after the reference
    date (RECIST 1.1 section 4.6.3, A-R7)."""
    cr_then_pr: str = "pr"
    """CR followed by PR under confirmation (A-R5): ``pr`` treats the CR as PR (flagged); ``pd`` treats the
    PR as PD; ``invalidate`` lets a PR after a CR break confirmation (admiralonco issue #87)."""
    missing_as_ne: bool = False
    """A subject with no post-baseline assessment gets BOR NE instead of MISSING (admiralonco)."""
    bor_stop_at_pd: bool = True
    """The BOR window ends at the first PD (RECIST 1.1 section 4.4.3)."""

    # --- decisions.md 4: irRECIST ---------------------------------------------------------------
    new_lesions_in_burden: bool = False
    """irRECIST: new measurable lesions are added to the total measured tumour burden (TMTB)."""
    max_new_in_tmtb: int = 5
    """At most this many new measurable lesions are admitted to TMTB (decisions.md 4, A-IR2)."""
    max_new_in_tmtb_per_organ: int = 2
    """At most this many admitted new lesions per organ (decisions.md 4, A-IR2)."""
    nontarget_can_define_pd: bool = True
    """Unequivocal non-target progression is (ir)PD; false = measurable-only irRECIST (A-IR1)."""
    pd_requires_confirmation: bool = False
    """irRECIST: a first irPD is unconfirmed until a later assessment confirms it (decisions.md 4)."""
    pd_confirm_min_days: int = 28
    """The confirming assessment is held at least this many days after the first irPD (A-IR3)."""
    pd_confirm_max_days: int | None = None
    """Optional upper limit for the confirming assessment (unset = none; 84 is a common protocol choice)."""

    def replace(self, **changes: Any) -> CriterionConfig:
        """A copy with options changed; values are parsed and checked like ``--set``."""
        return with_options(self, changes)

    def options(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


RECIST11 = CriterionConfig(name="recist1.1")
IRRECIST = CriterionConfig(
    name="irrecist",
    new_lesions_define_pd=False,
    new_lesions_in_burden=True,
    pd_requires_confirmation=True,
    reappearance_after_cr_is_pd=False,
)
PROFILES: dict[str, CriterionConfig] = {"irrecist": IRRECIST, "recist1.1": RECIST11}
CRITERIA_ALIASES = {"irrecist": "irrecist", "recist1.1": "recist1.1", "recist": "recist1.1", "recist11": "recist1.1"}


def profile(name: str) -> CriterionConfig:
    """The default configuration of a criterion by name."""
    key = CRITERIA_ALIASES.get(name.strip().lower())
    if key is None:
        raise ConfigError(f"unknown criterion {name!r}; allowed: {', '.join(PROFILES)}")
    return PROFILES[key]


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse(name: str, kind: str, value: Any) -> Any:
    if kind == "Decimal":
        try:
            d = Decimal(str(value).strip())
        except InvalidOperation:
            raise ConfigError(f"option {name}: {value!r} is not a number") from None
        if not d.is_finite() or d < 0:
            raise ConfigError(f"option {name}: {value!r} must be a finite number >= 0")
        return d
    if kind == "int" or kind == "int | None":
        if value is None or (kind == "int | None" and str(value).strip().lower() in {"", "none", "null"}):
            if kind == "int":
                raise ConfigError(f"option {name}: a whole number >= 0 is required")
            return None
        if isinstance(value, bool):
            raise ConfigError(f"option {name}: {value!r} is not a whole number")
        try:
            i = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"option {name}: {value!r} is not a whole number") from None
        if i < 0:
            raise ConfigError(f"option {name}: {value!r} must be >= 0")
        return i
    if kind == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise ConfigError(f"option {name}: {value!r} is not a boolean (true/false)")
    s = str(value).strip()
    if name == "cr_then_pr" and s not in CR_THEN_PR_CHOICES:
        raise ConfigError(f"option cr_then_pr: {value!r}; allowed: {', '.join(CR_THEN_PR_CHOICES)}")
    if name == "name":
        raise ConfigError("option name: the criterion is chosen with --criterion, not --set")
    return s


def with_options(config: CriterionConfig, changes: dict[str, Any]) -> CriterionConfig:
    """Apply option changes by name, parsing strings; unknown names raise ``ConfigError``."""
    kinds = {f.name: str(f.type) for f in fields(config)}
    parsed: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in kinds:
            raise ConfigError(f"unknown option {name!r}; see `irrecist options` for the list")
        parsed[name] = _parse(name, kinds[name], value)
    return dataclasses.replace(config, **parsed)


def parse_set_args(items: list[str]) -> dict[str, str]:
    """``["a=1", "b=true"]`` -> ``{"a": "1", "b": "true"}`` (CLI ``--set``)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def load_protocol(path: Path) -> dict[str, Any]:
    """Read a protocol file (TOML or JSON): a flat table of options, optionally with one sub-table per
    criterion (``[irrecist]``, ``["recist1.1"]``) whose options apply to that criterion only."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"protocol file {path}: cannot read it ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"protocol file {path}: not valid TOML/JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"protocol file {path}: expected a table of options")
    return data


def protocol_options(data: dict[str, Any], criterion: str) -> dict[str, Any]:
    """The options of a protocol file that apply to ``criterion`` (flat ones, then its own table)."""
    out = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for key, value in data.items():
        if isinstance(value, dict):
            if CRITERIA_ALIASES.get(key.lower()) is None:
                raise ConfigError(f"protocol: unknown criterion table [{key}]; allowed: {', '.join(PROFILES)}")
            if CRITERIA_ALIASES[key.lower()] == criterion:
                out.update(value)
    return out


@lru_cache(maxsize=256)
def mm_to_um(value: Decimal) -> int:
    """Millimetres (Decimal) to whole micrometres, the engine's exact length unit (cached: the engine asks
    for the same few thresholds at every assessment)."""
    return int((value * 1000).to_integral_value())


def option_docs() -> dict[str, str]:
    """Each option's documentation: the docstring under its field in this module's source."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(CriterionConfig))
    cls = tree.body[0]
    assert isinstance(cls, ast.ClassDef)
    docs: dict[str, str] = {}
    body = cls.body
    for node, nxt in zip(body, body[1:], strict=False):
        is_field = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        is_doc = isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)
        if is_field and is_doc:
            assert isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            assert isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
            docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs
