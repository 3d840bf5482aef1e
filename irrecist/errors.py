"""Exceptions and the run's problem report.

One small tree with built-in bases (spec/style.md): every error irrecist raises on purpose is an
``IrrecistError``; bad input is an ``InputError`` (also a ``ValueError``). Problems that do not stop a
run are collected as ``Problem`` records in a ``ProblemLog`` and written to the run's error report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum


class IrrecistError(Exception):
    """Base of every error raised by irrecist on purpose."""


class InputError(IrrecistError, ValueError):
    """Input that cannot be used as it is; the message says where, what was found and what is allowed."""


class ConfigError(IrrecistError, ValueError):
    """An unknown option or a value outside what the option allows."""


class Level(str, Enum):
    """Severity of a reported problem."""

    ERROR = "error"  # the subject (or file) concerned could not be scored (or read)
    WARNING = "warning"  # scored or read, but something needs a human look
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Problem:
    """One located line of the run's error report (columns of ``errors.csv``)."""

    level: Level
    source: str = ""
    subject_id: str = ""
    lesion_id: str = ""
    timepoint: str = ""
    message: str = ""

    def as_row(self) -> dict[str, str]:
        return {
            "level": self.level.value,
            "source": self.source,
            "subject_id": self.subject_id,
            "lesion_id": self.lesion_id,
            "timepoint": self.timepoint,
            "message": self.message,
        }


@dataclass
class ProblemLog:
    """Collects problems; never prints (the CLI decides what to show)."""

    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        level: Level,
        message: str,
        *,
        source: str = "",
        subject_id: str = "",
        lesion_id: str = "",
        timepoint: str = "",
    ) -> None:
        self.problems.append(Problem(level, source, subject_id, lesion_id, timepoint, message))

    def error(self, message: str, **where: str) -> None:
        self.add(Level.ERROR, message, **where)

    def warning(self, message: str, **where: str) -> None:
        self.add(Level.WARNING, message, **where)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def count(self, level: Level) -> int:
        return sum(1 for p in self.problems if p.level is level)


ERROR_COLUMNS = ["level", "source", "subject_id", "lesion_id", "timepoint", "message"]
