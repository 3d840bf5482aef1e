"""From the lesion table (a DataFrame with the columns of spec/lesion-table.md) to subject records.

Validation follows the "Bad input" section of spec/lesion-table.md: every problem is located (file, row,
subject, lesion, timepoint), says what was found and what is allowed; a problem that makes a subject
unscorable stops that subject only, and nothing is dropped without a line in the report.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from irrecist.columns import LESION_COLUMNS, MERGED_PREFIX, REQUIRED_LESION_COLUMNS, ROLES, STATUSES, UNITS
from irrecist.errors import InputError, Level, Problem
from irrecist.model import Assessment, Lesion, Observation, Role, Status, SubjectInfo, SubjectRecord
from irrecist.rules.baseline import organ_key
from irrecist.rules.config import CriterionConfig

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_FRAGMENT = re.compile(r"^(.+)\.(\d+)$")
_ROLE: dict[str, Role] = {r.value: r for r in Role}
_STATUS: dict[str, Status] = {"": Status.PRESENT, **{s.value: s for s in Status if s is not Status.MERGED}}
MAX_MM = 10_000
"""Largest length accepted (10 m: no lesion, axis or slice is longer); larger values are input errors (and would
not fit the whole micrometres of ``irrecist.model``)."""
JUMP_FACTOR = 8
"""A target whose measure changes by this factor or more between two assessments gets a warning (likely a
cm/mm mix-up); the value is kept as recorded."""


Report = Callable[..., None]
"""``report(row_index, message[, lesion_id])``: record a located problem."""


@dataclass
class Subjects:
    """Subject records ready to score, plus every problem met and the subjects that could not be built."""

    records: list[SubjectRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # (subject, reader) -> first error


def check_columns(columns: list[str], source: str) -> None:
    """The whole file is rejected when a required column is missing, with the list expected."""
    missing = [c for c in REQUIRED_LESION_COLUMNS if c not in columns]
    if missing:
        raise InputError(
            f"{source}: missing required column(s) {', '.join(missing)}; a lesion table has the columns "
            f"{', '.join(LESION_COLUMNS)} (required: {', '.join(REQUIRED_LESION_COLUMNS)})"
        )


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col].where(df[col] != "", None), errors="coerce").to_numpy(dtype=float)


def build_subjects(
    df: pd.DataFrame,
    source: str,
    config: CriterionConfig,
    *,
    row_offset: int = 2,
    info: dict[str, SubjectInfo] | None = None,
) -> Subjects:
    """Validate a lesion table and group it into subject records (one per subject and reader).

    ``row_offset`` turns a 0-based frame index into the file's row number (2 for a CSV with a header).
    """
    check_columns(list(df.columns), source)
    out = Subjects()
    df = df.reset_index(drop=True)
    for col in LESION_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    text = {c: df[c].astype(str).str.strip() for c in LESION_COLUMNS}
    tdf = pd.DataFrame(text)
    errors: dict[int, list[str]] = defaultdict(list)

    def flag(mask: np.ndarray | pd.Series, msg_fn: Callable[[int], str]) -> None:
        for i in np.flatnonzero(np.asarray(mask)):
            errors[int(i)].append(msg_fn(int(i)))

    subj = tdf["subject_id"].to_numpy()
    dates = pd.to_datetime(tdf["date"], format="%Y-%m-%d", errors="coerce")
    flag(dates.isna().to_numpy(), lambda i: f"date is {tdf['date'][i]!r}; it must be an ISO date YYYY-MM-DD")
    flag((tdf["timepoint"] == "").to_numpy(), lambda i: "timepoint is empty; a visit label is required")
    role_ok = tdf["role"].isin(("",) + ROLES)
    flag(~role_ok.to_numpy(), lambda i: f"role is {tdf['role'][i]!r}; allowed: {', '.join(ROLES)}")
    status = tdf["status"].str.lower()
    st_ok = status.isin(("",) + STATUSES) | status.str.startswith(MERGED_PREFIX)
    flag(
        ~st_ok.to_numpy(),
        lambda i: f"status is {tdf['status'][i]!r}; allowed: {', '.join(STATUSES)}, {MERGED_PREFIX}<lesion_id>",
    )
    unit = tdf["unit"].str.lower()
    flag(~unit.isin(("",) + UNITS).to_numpy(), lambda i: f"unit is {tdf['unit'][i]!r}; allowed: mm, cm")
    nodal_s = tdf["nodal"].str.lower()
    flag(~nodal_s.isin(_TRUE | _FALSE).to_numpy(), lambda i: f"nodal is {tdf['nodal'][i]!r}; allowed: true, false")
    nodal = nodal_s.isin(_TRUE).to_numpy()
    factor = np.where(unit.to_numpy() == "cm", 10000.0, 1000.0)
    um: dict[str, np.ndarray] = {}
    for col in ("long_axis_mm", "short_axis_mm", "slice_thickness_mm"):
        vals = _numeric(tdf, col)
        given = (tdf[col] != "").to_numpy()
        bad = given & ~np.isfinite(vals)
        flag(bad, lambda i, c=col: f"{c} is {tdf[c][i]!r}; it must be a number >= 0")  # type: ignore[misc]
        neg = given & np.isfinite(vals) & (vals < 0)
        flag(neg, lambda i, c=col: f"{c} is {tdf[c][i]}; it must be a number >= 0")  # type: ignore[misc]
        with np.errstate(over="ignore", invalid="ignore"):
            huge = given & np.isfinite(vals) & (vals * factor > MAX_MM * 1000)
        msg = f"it must be a number >= 0 and at most {MAX_MM} mm"
        flag(huge, lambda i, c=col, m=msg: f"{c} is {tdf[c][i]} {unit[i] or 'mm'}; {m}")  # type: ignore[misc]
        ok = np.isfinite(vals) & (vals >= 0) & ~huge
        scaled = np.where(ok, np.rint(np.where(ok, vals, 0.0) * factor), -1)
        um[col] = scaled.astype(np.int64)

    no_subject = subj == ""
    for i in np.flatnonzero(no_subject):
        out.problems.append(
            Problem(
                Level.ERROR,
                f"{source} row {i + row_offset}"
                if "__src" not in df.columns or "__row" not in df.columns
                else f"{df['__src'][i]} row {df['__row'][i]}",
                "",
                tdf["lesion_id"][i],
                tdf["timepoint"][i],
                "subject_id is empty; every row needs a subject: row dropped",
            )
        )
    readers = tdf["reader"].to_numpy()
    _flag_duplicates(tdf, dates, errors)
    order = np.lexsort((tdf["lesion_id"].to_numpy(), dates.to_numpy(), readers, subj)).tolist()
    subj_l, readers_l, skip = subj.tolist(), readers.tolist(), no_subject.tolist()
    groups: dict[tuple[str, str], list[int]] = {}
    for i in order:
        if not skip[i]:
            key = (subj_l[i], readers_l[i])
            g = groups.get(key)
            if g is None:
                groups[key] = [i]
            else:
                g.append(i)
    cols = {c: tdf[c].tolist() for c in ("timepoint", "lesion_id", "role", "organ", "source")}
    pydates = [None if d is pd.NaT else d for d in dates.dt.date.tolist()]
    locs = None
    if "__src" in df.columns and "__row" in df.columns:
        locs = [f"{a} row {b}" for a, b in zip(df["__src"], df["__row"], strict=True)]
    raw = tdf["status"].to_numpy()
    status_arr = np.where(status.str.startswith(MERGED_PREFIX).to_numpy(), raw, status.to_numpy()).tolist()
    um_lists = {k: v.tolist() for k, v in um.items()}
    ctx = _RowContext(source, row_offset, cols, pydates, status_arr, nodal.tolist(), um_lists, errors, config, locs)
    infos = info or {}
    for (sid, reader), rows in groups.items():
        problems: list[Problem] = []
        try:
            rec = ctx.build(sid, reader, rows, problems)
            rec.info = infos.get(sid, SubjectInfo())
            out.records.append(rec)
        except InputError as exc:
            out.failed[(sid, reader)] = str(exc)
        out.problems.extend(problems)
    return out


def _flag_duplicates(tdf: pd.DataFrame, dates: pd.Series, errors: dict[int, list[str]]) -> None:
    """Vectorised identity checks: one date per visit label, one label per date, one row per lesion and
    assessment (spec/lesion-table.md)."""
    key = pd.DataFrame({"s": tdf["subject_id"], "r": tdf["reader"], "t": tdf["timepoint"], "d": dates,
                        "l": tdf["lesion_id"]})  # fmt: skip
    per_label = key.groupby(["s", "r", "t"], sort=False)["d"].transform("nunique")
    for i in np.flatnonzero((per_label > 1).to_numpy()):
        same = key[(key["s"] == key["s"][i]) & (key["r"] == key["r"][i]) & (key["t"] == key["t"][i])]["d"]
        days = " and ".join(sorted({str(d.date()) for d in same if not pd.isna(d)}))
        errors[int(i)].append(f"timepoint {key['t'][i]!r} is used on {days}; a visit label must be unique per date")
    per_date = key.groupby(["s", "r", "d"], sort=False)["t"].transform("nunique")
    for i in np.flatnonzero((per_date > 1).to_numpy()):
        same = key[(key["s"] == key["s"][i]) & (key["r"] == key["r"][i]) & (key["d"] == key["d"][i])]["t"]
        labels = " and ".join(repr(x) for x in sorted(set(same)))
        errors[int(i)].append(f"date {key['d'][i].date()} carries two timepoint labels ({labels}); one label per date")
    dup = key.duplicated(["s", "r", "d", "l"], keep="first") & (key["l"] != "")
    for i in np.flatnonzero(dup.to_numpy()):
        errors[int(i)].append(f"lesion {key['l'][i]} appears twice at {key['t'][i]}; one row per lesion and assessment")


@dataclass
class _RowContext:
    source: str
    row_offset: int
    cols: dict[str, list[str]]
    dates: Sequence[date | None]
    status: list[str]
    nodal: list[bool]
    um: dict[str, list[int]]
    errors: dict[int, list[str]]
    config: CriterionConfig
    locations: list[str] | None = None
    _organ_keys: dict[tuple[str, bool], str] = field(default_factory=dict)

    def where(self, i: int) -> str:
        if self.locations is not None:
            return self.locations[i]
        return f"{self.source} row {i + self.row_offset}"

    def build(self, sid: str, reader: str, rows: list[int], problems: list[Problem]) -> SubjectRecord:
        """One subject's rows to a record; raises InputError (after logging every problem) when unscorable."""
        c = self.cols
        fatal: list[str] = []

        def err(i: int, msg: str, lesion: str | None = None) -> None:
            lid = c["lesion_id"][i] if lesion is None else lesion
            problems.append(Problem(Level.ERROR, self.where(i), sid, lid, c["timepoint"][i], msg))
            fatal.append(msg)

        def warn(i: int, msg: str, lesion: str | None = None) -> None:
            lid = c["lesion_id"][i] if lesion is None else lesion
            problems.append(Problem(Level.WARNING, self.where(i), sid, lid, c["timepoint"][i], msg))

        for i in rows:
            for msg in self.errors.get(i, ()):
                err(i, msg)
        if fatal:
            raise InputError(fatal[0])
        # visits: labels and dates are checked for uniqueness up front (``_flag_duplicates``)
        label_dates: dict[str, date] = {}
        tps_all, dates_all = c["timepoint"], self.dates
        for i in rows:
            d = dates_all[i]
            assert d is not None
            label_dates.setdefault(tps_all[i], d)
        first_date = min(label_dates.values())
        for tp, d in label_dates.items():
            if tp.strip().lower() == "baseline" and d != first_date:
                first = next(i for i in rows if self.dates[i] == first_date)
                err(
                    first,
                    f"assessment {c['timepoint'][first]!r} on {first_date} is before the baseline "
                    f"({d}); a follow-up cannot precede baseline",
                )
        lesions: dict[str, Lesion] = {}
        assessments: dict[date, Assessment] = {}
        ids, roles, organs, tps = c["lesion_id"], c["role"], c["organ"], c["timepoint"]
        dates, statuses = self.dates, self.status
        long_l, short_l, slice_l = self.um["long_axis_mm"], self.um["short_axis_mm"], self.um["slice_thickness_mm"]
        subject_ids = {ids[i] for i in rows}
        whole: set[tuple[date, str]] = set()  # (assessment, lesion) recorded as a whole lesion
        a: Assessment | None = None
        for i in rows:
            d = dates[i]
            assert d is not None
            if a is None or a.date != d:
                a = assessments.get(d)
                if a is None:
                    a = assessments[d] = Assessment(tps[i], d, source=self.where(i))
            lid = ids[i]
            if lid == "":
                continue
            parent = self._fragment_parent(lid, subject_ids) if "." in lid else None
            key_id = parent or lid
            role_txt, organ_txt = roles[i], organs[i]
            les = lesions.get(key_id)
            if les is None:
                les = self._new_lesion(i, lid, parent, role_txt, organ_txt, d != first_date, err)
                if les is None:
                    continue
                lesions[lid] = les
            elif (role_txt or organ_txt) and parent is None:
                self._check_identity(i, lid, les, role_txt, organ_txt, err)
            st_txt = statuses[i]
            status = _STATUS.get(st_txt)
            merged = None
            if status is None:
                merged, status = st_txt[len(MERGED_PREFIX) :].strip(), Status.MERGED
            lu, su, tu = long_l[i], short_l[i], slice_l[i]
            obs = Observation(lid, status, lu if lu >= 0 else None, su if su >= 0 else None,
                              tu if tu >= 0 else None, merged, "", i)  # fmt: skip
            if not self._valid(obs, les, err):
                continue
            if parent is not None:
                if (d, parent) in whole:
                    err(i, f"lesion {parent} recorded both whole and as fragments ({lid}) at {a.timepoint}; "
                           "record either the whole lesion or its fragments")  # fmt: skip
                else:
                    self._add_fragment(a, parent, obs, i, err)
            elif key_id in a.observations:
                err(i, f"lesion {lid} recorded both whole and as fragments at {a.timepoint}")
            else:
                a.observations[key_id] = obs
                whole.add((d, key_id))
        if fatal:
            raise InputError(fatal[0])
        ordered = [assessments[d] for d in sorted(assessments)]
        self._check_merges(ordered, lesions, err)
        if fatal:
            raise InputError(fatal[0])
        rec = SubjectRecord(sid, reader, lesions, ordered)
        self._jumps(rec, warn)
        return rec

    @staticmethod
    def _fragment_parent(lid: str, ids: set[str]) -> str | None:
        if "." not in lid:
            return None
        m = _FRAGMENT.match(lid)
        if m is None:
            return None
        parent = m.group(1)
        return parent if parent in ids else None

    def _new_lesion(
        self, i: int, lid: str, parent: str | None, role_txt: str, organ_txt: str, after_baseline: bool, err: Report
    ) -> Lesion | None:
        """A lesion's identity from its first row (role and organ are inherited by later rows)."""
        if parent is not None:
            err(i, f"fragment {lid} appears before its parent lesion {parent} has a role")
            return None
        if role_txt == "":
            err(i, f"lesion {lid} first appears without a role; allowed: {', '.join(ROLES)}")
            return None
        nodal = bool(self.nodal[i])
        key = (organ_txt, nodal)
        okey = self._organ_keys.get(key)
        if okey is None:
            okey = self._organ_keys[key] = organ_key(organ_txt, nodal, self.config)
        les = Lesion(lid, _ROLE[role_txt], organ_txt, okey, nodal)
        if after_baseline and les.role is not Role.NEW:
            err(i, f"lesion {lid} first appears after baseline with role {role_txt!r}; lesions first seen at "
                   "follow-up must have role 'new'")  # fmt: skip
        return les

    def _check_identity(self, i: int, lid: str, les: Lesion, role_txt: str, organ_txt: str, err: Report) -> None:
        """One lesion has one role and one organ (spec/lesion-table.md, bad input)."""
        if role_txt and role_txt != les.role.value:
            err(i, f"lesion {lid} has role {role_txt!r} here but {les.role.value!r} at first appearance; one "
                   "lesion has one role")  # fmt: skip
        if organ_txt and organ_txt != les.organ and organ_key(organ_txt, les.nodal, self.config) != les.organ_key:
            err(i, f"lesion {lid} has organ {organ_txt!r} here but {les.organ!r} at first appearance; one lesion "
                   "has one organ")  # fmt: skip

    @staticmethod
    def _valid(obs: Observation, les: Lesion, err: Report) -> bool:
        """Status allowed for the role; a present target or new lesion carries its measure."""
        status, lid, i = obs.status, obs.lesion_id, obs.row
        if status is Status.PRESENT:
            if les.role is Role.NONTARGET or (obs.short_um if les.nodal else obs.long_um) is not None:
                return True
            axis = "short_axis_mm" if les.nodal else "long_axis_mm"
            kind = "nodal " if les.nodal else ""
            err(i, f"{kind}{les.role.value} lesion {lid} is present but has no {axis}; a present "
                   f"{les.role.value} lesion needs its measure (or status too_small / not_evaluated)")  # fmt: skip
            return False
        if status is Status.UNEQUIVOCAL_PROGRESSION and les.role is not Role.NONTARGET:
            err(i, f"status unequivocal_progression on {les.role.value} lesion {lid}; allowed only for non-target "
                   "lesions")  # fmt: skip
            return False
        if status is Status.EQUIVOCAL and les.role is not Role.NEW:
            err(i, f"status equivocal on {les.role.value} lesion {lid}; allowed only for new lesions")
            return False
        return True

    @staticmethod
    def _add_fragment(a: Assessment, parent: str, obs: Observation, i: int, err: Report) -> None:
        """RECIST 1.1 section 4.3.2 (decisions.md 3): a split lesion's fragments add into the parent, which is
        located at its first fragment's row. A fragment cannot be merged into another lesion."""
        if obs.status is Status.MERGED:
            err(i, f"fragment {obs.lesion_id} has status merged_into:{obs.merged_into}; a fragment cannot be merged "
                   f"into another lesion (record the merge on {parent} itself)")  # fmt: skip
            return
        cur = a.observations.get(parent)
        if cur is None:
            a.observations[parent] = Observation(
                parent, obs.status, obs.long_um, obs.short_um, obs.slice_um, None, obs.source, i
            )
            return

        def add(x: int | None, y: int | None) -> int | None:
            if x is None and y is None:
                return None
            return (x or 0) + (y or 0)

        present = {Status.PRESENT, Status.TOO_SMALL, Status.ABSENT}
        if cur.status not in present or obs.status not in present:
            err(i, f"fragments of {parent} mix statuses {cur.status.value} and {obs.status.value}")
            return
        status = Status.PRESENT if Status.PRESENT in (cur.status, obs.status) else cur.status
        cur.long_um = add(cur.long_um, obs.long_um)
        cur.short_um = add(cur.short_um, obs.short_um)
        cur.status = status

    def _check_merges(self, assessments: list[Assessment], lesions: dict[str, Lesion], err: Report) -> None:
        """``merged_into:<id>`` must name a lesion of the same subject (decisions.md 3)."""
        for a in assessments:
            for lid, obs in a.observations.items():
                if obs.merged_into is not None and obs.merged_into not in lesions:
                    row = obs.row
                    err(row, f"lesion {lid} is merged into {obs.merged_into!r}, which is not a lesion of this subject")

    def _jumps(self, rec: SubjectRecord, warn: Report) -> None:
        """Warn on a target measure that jumps by ``JUMP_FACTOR`` or more (likely cm/mm); keep the value."""
        last: dict[str, tuple[int, str]] = {}
        for a in rec.assessments:
            for lid, obs in a.observations.items():
                les = rec.lesions[lid]
                if les.role is Role.NONTARGET:
                    continue
                v = obs.short_um if les.nodal else obs.long_um
                if v is None or v == 0:
                    continue
                if lid in last:
                    prev, prev_tp = last[lid]
                    if v >= prev * JUMP_FACTOR or v * JUMP_FACTOR <= prev:
                        msg = (
                            f"{lid} changes from {prev / 1000:g} mm at {prev_tp} to {v / 1000:g} mm at "
                            f"{a.timepoint} (x{v / prev:.1f}); check the unit (cm/mm mix-up?): kept as recorded"
                        )
                        row = obs.row
                        warn(row, msg, lid)
                        rec.warnings.append((lid, a.timepoint, msg))
                last[lid] = (v, a.timepoint)
