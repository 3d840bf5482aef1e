"""``--strict``: every warning becomes an error.

For ``score``: each warning of the run's error report is written as an error (its message starts with
``strict:``), and a subject named by a warning is not scored under any criterion: its rows leave the result
tables, it counts as not scored in the summary, and an error line says why. For ``extract``: each warning is
written as an error in issues.csv and the lesion table is kept whole (it is for review). Either way the exit
code is 1 when a warning was met.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from irrecist.errors import Level, Problem
from irrecist.scoring import ScoreRun

PREFIX = "strict: "


def strict_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Every warning as an error (message prefixed ``strict:``); other levels unchanged."""
    return [
        replace(p, level=Level.ERROR, message=PREFIX + p.message) if p.level is Level.WARNING else p for p in problems
    ]


def strict_run(run: ScoreRun) -> ScoreRun:
    """The run with its warnings turned into errors and the subjects they name taken out of the scores."""
    warned: dict[str, Problem] = {}
    count: Counter[str] = Counter()
    for p in run.problems:
        if p.level is Level.WARNING and p.subject_id:
            warned.setdefault(p.subject_id, p)
            count[p.subject_id] += 1
    out = replace(run, runs={}, problems=strict_problems(run.problems))
    for name, crun in run.runs.items():
        scores = crun.scores
        cohort = scores.scored.cohort  # subject ids from the cohort's columns: no SubjectScore is made
        entities = scores.kept.tolist()
        dropped = [i for i, e in enumerate(entities) if cohort.subject_id[e] in warned]
        failed: dict[tuple[str, str], str] = {}
        for i in dropped:
            sid, reader = cohort.subject_id[entities[i]], cohort.reader[entities[i]]
            first = warned[sid]
            reason = f"{count[sid]} warning(s) under --strict, the first: {first.message}"
            failed[(sid, reader)] = reason
            out.problems.append(
                Problem(
                    Level.ERROR,
                    first.source,
                    sid,
                    message=f"{name}: subject not scored: {reason}" + (f" (reader {reader})" if reader else ""),
                )
            )
        out.runs[name] = crun.without(dropped, failed)
    return out
