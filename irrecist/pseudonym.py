"""Keyed pseudonyms for subject ids (``--pseudonymize SECRET``).

A subject id becomes the first :data:`LENGTH` hex digits of HMAC-SHA256 with the secret (UTF-8) as key and the
id (UTF-8, exactly as read) as message. The same id and secret always give the same pseudonym, so every output
of ``score`` and ``extract`` (all tables, the error report, the summary, runs made on other days) agrees;
without the secret an id can be neither recovered nor confirmed. Empty ids stay empty.

It is applied once, where the inputs enter the pipeline: to the lesion tables (``subject_id``, and the id where
it appears in ``source`` text, e.g. a folder named after the patient), the subject table, and the problems
met while reading (their ``subject_id``, and any id met in the inputs where it stands as a whole word in
``source`` or ``message``). Everything written afterwards is built from these, so no output needs its own step.
File paths are otherwise kept as given: an id glued to other characters in a file name (``0022Baseline.dcm``)
is not found, so name files without identifiers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from irrecist.errors import ConfigError, Problem
from irrecist.inputs import Collected

if TYPE_CHECKING:
    from irrecist.extract import Extraction

LENGTH = 16
"""Hex digits kept (64 bits): collisions are negligible for any trial size (about 1 in 10^10 for 20 000 ids)."""
_TOKEN = re.compile(r"[\w.\-]+")
PATH_COLUMNS = ("source", "image_file")
"""Columns holding file names, in which subject ids standing as whole words are replaced."""
_PLAIN = re.compile(r"[\w.\-]+\Z")


@dataclass(frozen=True)
class Pseudonymizer:
    """Maps subject ids to keyed hashes; ``text`` replaces ids standing as whole words in free text."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Pseudonymizer:
        """The secret as given, or ``env:NAME`` to read it from the environment variable NAME (keeps it out of
        the shell history and the process list)."""
        if secret.startswith("env:"):
            name = secret[4:]
            value = os.environ.get(name, "")
            if not value:
                raise ConfigError(f"--pseudonymize env:{name}: the environment variable {name} is not set or empty")
            secret = value
        if not secret:
            raise ConfigError("--pseudonymize needs a non-empty secret")
        return cls(secret.encode("utf-8"))

    def __call__(self, subject_id: str) -> str:
        if not subject_id:
            return subject_id
        return hmac.new(self.key, subject_id.encode("utf-8"), hashlib.sha256).hexdigest()[:LENGTH]

    def replacer(self, ids: Iterable[str]) -> Callable[[str], str]:
        """A function replacing each of ``ids`` where it stands as a whole word (not inside a longer name, a
        UID or a date, and not as the number in ``row N``)."""
        known = {i for i in ids if i}
        plain = {i for i in known if _PLAIN.match(i)}
        odd = sorted(known - plain, key=len, reverse=True)
        odd_rx = re.compile("|".join(re.escape(i) for i in odd)) if odd else None

        def token(m: re.Match[str]) -> str:
            word = m.group(0)
            core = word.strip(".-")
            if core not in plain or m.string[max(0, m.start() - 4) : m.start()] == "row ":
                return word
            start = word.index(core)
            return word[:start] + self(core) + word[start + len(core) :]

        def sub(text: str) -> str:
            if not text:
                return text
            if odd_rx is not None:
                text = odd_rx.sub(lambda m: self(m.group(0)), text)
            return _TOKEN.sub(token, text) if plain else text

        return sub

    def frame(self, df: pd.DataFrame, sub: Callable[[str], str]) -> pd.DataFrame:
        """A copy with ``subject_id`` pseudonymized and ``sub`` (a :meth:`replacer`) applied to the file names
        (``source``; ``image_file`` of ``lines.csv``)."""
        out = df.copy()
        if "subject_id" in out.columns:
            out["subject_id"] = [self(str(v).strip()) for v in out["subject_id"]]
        for column in PATH_COLUMNS:
            if column in out.columns:
                out[column] = [sub(str(v)) for v in out[column]]
        return out

    def problems(self, problems: Iterable[Problem], sub: Callable[[str], str]) -> list[Problem]:
        """Problems with ``subject_id`` pseudonymized and ``sub`` applied to ``source`` and ``message``."""
        return [
            replace(p, subject_id=self(p.subject_id), source=sub(p.source), message=sub(p.message)) for p in problems
        ]


def frame_ids(df: pd.DataFrame) -> set[str]:
    """The subject ids of a table (empty set when it has no ``subject_id`` column)."""
    return {str(v) for v in df["subject_id"]} if "subject_id" in df.columns else set()


def pseudonymize_collected(got: Collected, p: Pseudonymizer) -> Collected:
    """The scoring inputs (lesion tables, their source names, subject table, problems, measured lines) with ids
    replaced."""
    ids = set(got.info) | got.seen_ids | {q.subject_id for q in got.problems}
    for df in [df for df, _, _ in got.frames] + ([got.lines] if got.lines is not None else []):
        ids |= {i.strip() for i in frame_ids(df)}
    sub = p.replacer(ids)
    return Collected(
        frames=[(p.frame(df, sub), sub(source), offset) for df, source, offset in got.frames],
        info={p(k): v for k, v in got.info.items()},
        problems=p.problems(got.problems, sub),
        lines=None if got.lines is None else p.frame(got.lines, sub),
    )


def pseudonymize_extraction(ex: Extraction, p: Pseudonymizer) -> Extraction:
    """An extraction (lesion table, study index, issues, rows) with ids replaced, sorted as before."""
    ids = frame_ids(ex.lesions) | frame_ids(ex.studies) | ex.seen_ids | {q.subject_id for q in ex.problems}
    sub = p.replacer(ids)
    keys = [c for c in ("subject_id", "date", "reader", "lesion_id", "source") if c in ex.lesions.columns]
    lesions = p.frame(ex.lesions, sub).sort_values(keys, kind="stable").reset_index(drop=True)
    studies = p.frame(ex.studies, sub)
    studies = studies.sort_values(list(studies.columns), kind="stable").reset_index(drop=True)
    rows = [
        {**r, "subject_id": p(str(r.get("subject_id") or "")), "source": sub(str(r.get("source") or ""))}
        for r in ex.rows
    ]
    problems = p.problems(ex.problems, sub)
    images = {uid: sub(path) for uid, path in ex.images.items()}  # lines.csv's image_file
    return replace(ex, lesions=lesions, studies=studies, problems=problems, rows=rows, seen_ids=set(), images=images)
