"""The one interface every reader implements (spec/style.md: readers in a registry, nibabel style).

A reader says whether it can read an object and reads it into lesion-table rows plus located problems.
Rows use the column names of ``irrecist.columns.LESION_COLUMNS``; a reader fills what its format carries
and leaves the rest empty (``None``). Readers never score and never raise on a bad file: they report it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from irrecist.errors import Problem


@dataclass
class ReadResult:
    """What a reader returns: lesion-table rows and the problems met while reading."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: ReadResult) -> None:
        self.rows.extend(other.rows)
        self.problems.extend(other.problems)


class Reader(Protocol):
    """A lesion reader for one kind of object (a DICOM SOP class, an XML dialect, a table)."""

    name: str

    def can_read(self, obj: Any) -> bool:
        """True when this reader understands ``obj`` (a path or an already-parsed header)."""
        ...

    def read(self, obj: Any) -> ReadResult:
        """Read ``obj`` into lesion-table rows; report problems instead of raising."""
        ...
