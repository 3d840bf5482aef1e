"""Composition: lesion tables in, scored subjects and endpoints out, for each criterion asked for.

The one place that joins readers (``irrecist.lesions``) and rules (``irrecist.rules``); the CLI and the
Python API both call it. One bad subject never stops the others: its error goes to the run's problems.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from irrecist.cohort import Cohort, MadeOnDemand
from irrecist.cohort_table import build_cohort
from irrecist.errors import InputError, Level, Problem
from irrecist.inputs import Collected, collect_tables, require_tables
from irrecist.model import SubjectInfo, SubjectRecord
from irrecist.progress import progress
from irrecist.pseudonym import Pseudonymizer, pseudonymize_collected
from irrecist.rules.config import CriterionConfig, profile, protocol_options, with_options
from irrecist.rules.subject import Scores, score_cohort


@dataclass
class CriterionRun:
    """The scores of one criterion."""

    config: CriterionConfig
    scores: Scores
    """The scored subjects (``SubjectScore`` objects made when asked for; ``scores.scored`` holds the arrays)."""
    failed: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def records(self) -> Sequence[SubjectRecord]:
        """The subjects as read (lesions, observations), in the order of ``scores``, made when asked for."""
        return MadeOnDemand(self.scores.scored.cohort.record, self.scores.kept)

    def without(self, drop: Sequence[int], failed: Mapping[tuple[str, str], str]) -> CriterionRun:
        """This run without the scores at positions ``drop``, which join ``failed`` (``--strict``)."""
        gone = set(drop)
        keep = [i for i in range(len(self.scores)) if i not in gone]
        return CriterionRun(self.config, self.scores.subset(keep), {**self.failed, **failed})


@dataclass
class ScoreRun:
    runs: dict[str, CriterionRun] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    lines: pd.DataFrame | None = None  # lines.csv (measured lines for key images) when inputs were extracted

    @property
    def complete(self) -> bool:
        """Every subject was scored under every criterion and no row was dropped."""
        if any(run.failed for run in self.runs.values()):
            return False
        return not any(p.level is Level.ERROR for p in self.problems)


def make_configs(
    criteria: Sequence[str], options: Mapping[str, Any] | None = None, protocol: Mapping[str, Any] | None = None
) -> list[CriterionConfig]:
    """Configurations for the criteria asked for: profile defaults, then the protocol file, then options
    (``--set`` / keyword arguments), later ones winning."""
    names = ["irrecist", "recist1.1"] if list(criteria) == ["all"] else list(criteria)
    out = []
    for name in names:
        cfg = profile(name)
        if protocol:
            cfg = with_options(cfg, protocol_options(dict(protocol), cfg.name))
        if options:
            cfg = with_options(cfg, dict(options))
        out.append(cfg)
    return out


def score_cohort_run(cohort: Cohort, failed: Mapping[tuple[str, str], str], config: CriterionConfig) -> CriterionRun:
    """Score a cohort under one criterion; ``failed`` are the subjects the table check already refused."""
    scored = score_cohort(cohort, config)
    run = CriterionRun(config, scored.scores(), dict(failed))
    for e, problem in enumerate(scored.subjects.problem):
        if problem is not None:
            run.failed[(cohort.subject_id[e], cohort.reader[e])] = problem
    return run


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building and scoring: the records are acyclic, and its
    generation-2 passes over hundreds of thousands of live objects cost about a quarter of the run. On the way
    out, what was made meanwhile (the scores, kept until the run ends) goes straight to the oldest generation
    (``gc.freeze`` then ``gc.unfreeze``, which moves objects without looking at them): otherwise the next
    young-generation passes walk every one of them twice before they get there. Nothing is left out of
    collection: the oldest generation's passes see them as before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def score_frames(
    frames: Iterable[tuple[pd.DataFrame, str, int]],
    configs: Sequence[CriterionConfig],
    info: Mapping[str, SubjectInfo] | None = None,
) -> ScoreRun:
    """Score lesion tables (frame, source name, row offset) under each configuration."""
    with paused_gc():
        return _score_frames(frames, configs, info)


def _score_frames(
    frames: Iterable[tuple[pd.DataFrame, str, int]],
    configs: Sequence[CriterionConfig],
    info: Mapping[str, SubjectInfo] | None,
) -> ScoreRun:
    run = ScoreRun()
    frames = list(frames)
    if not frames:
        raise InputError("nothing to score: no lesion table was given")
    if len(frames) == 1:
        df, source, offset = frames[0]
    else:
        parts = []
        for df_i, source_i, offset_i in frames:
            part = df_i.copy()
            part["__src"] = source_i
            part["__row"] = range(offset_i, offset_i + len(part))
            parts.append(part)
        df = pd.concat(parts, ignore_index=True, sort=False).fillna("")
        source, offset = ", ".join(s for _, s, _ in frames), 2
    built: dict[bool, tuple[Cohort, list[Problem], dict[tuple[str, str], str]]] = {}
    names = ", ".join(cfg.name for cfg in configs)
    for cfg in progress(configs, desc=f"scoring ({names})", unit="criterion"):
        key = cfg.paired_organs_as_one
        if key not in built:
            built[key] = build_cohort(df, source, cfg, row_offset=offset, info=dict(info or {}))
            if not run.problems:
                run.problems.extend(built[key][1])
        cohort, _problems, refused = built[key]
        run.runs[cfg.name] = score_cohort_run(cohort, refused, cfg)
    for name, crun in run.runs.items():
        for (sid, reader), msg in crun.failed.items():
            if (sid, reader) in built[crun.config.paired_organs_as_one][2]:
                continue  # already reported, located, by the table check
            run.problems.append(
                Problem(
                    Level.ERROR,
                    source,
                    sid,
                    "",
                    "",
                    f"{name}: subject not scored: {msg}" + (f" (reader {reader})" if reader else ""),
                )
            )
    return run


def score_paths(
    paths: Sequence[Path],
    configs: Sequence[CriterionConfig],
    subjects_table: Path | pd.DataFrame | None = None,
    annotations: Sequence[Path] = (),
    workers: int = 1,
    *,
    pseudonym: Pseudonymizer | None = None,
    strict: bool = False,
    dask: str | None = None,
) -> ScoreRun:
    """Collect lesion tables from files and folders (``irrecist.inputs.collect_tables``: tables as they are,
    DICOM and annotations through the readers) and score them; the collection's problems come first.

    ``pseudonym`` replaces subject ids in the collected inputs, before anything is built from them
    (``irrecist.pseudonym``); ``strict`` turns warnings into errors and leaves out the subjects they name
    (``irrecist.strict``). ``workers`` processes, or the dask.distributed scheduler at ``dask``, read the DICOM
    objects (``irrecist.distributed``); scoring stays here."""
    collected = collect_tables(paths, subjects_table, annotations, workers, dask)
    return score_collected(collected, configs, pseudonym=pseudonym, strict=strict)


def score_collected(
    collected: Collected,
    configs: Sequence[CriterionConfig],
    *,
    pseudonym: Pseudonymizer | None = None,
    strict: bool = False,
) -> ScoreRun:
    """Score collected inputs (``score_paths``; the Python API's DataFrames): pseudonymize them first when
    asked, score, put the collection's problems first, and apply ``strict``."""
    if pseudonym is not None:
        collected = pseudonymize_collected(collected, pseudonym)
    require_tables(collected)
    run = score_frames(collected.frames, configs, collected.info)
    run.problems[:0] = collected.problems
    run.lines = collected.lines
    if strict:
        from irrecist.strict import strict_run  # imports this module

        run = strict_run(run)
    return run
