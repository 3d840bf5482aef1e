"""Guarded DICOM reading: no element is read past the end of its file, and files are opened read-only.

pydicom reads an element's value with ``file.read(length)``, and a buffered read allocates the declared
length before reading: a corrupt or hostile 4 GB length field in a 1 kB file allocates 4 GB. :func:`dcmread`
hands pydicom a file whose large reads never ask for more than what remains in the file, and refuses the file
(``InputError``) when an element declares more bytes than the file holds. Every reader reads DICOM through it.
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import FileDataset

from irrecist.errors import InputError

SMALL_READ = 1 << 16
"""Reads up to this size are passed as they are (they cannot allocate much); larger ones are bounded."""


class BoundedFile(io.BufferedReader):
    """A read-only file whose reads larger than :data:`SMALL_READ` stop at the end of the file.

    ``short`` records the first such read that asked for more than remained: (offset, asked, available).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(io.FileIO(os.fspath(path), "r"))
        self.size = os.fstat(self.fileno()).st_size
        self.short: tuple[int, int, int] | None = None

    def bound(self, size: int) -> int:
        """``size`` capped at the bytes left; records the first cut."""
        left = max(0, self.size - self.tell())
        if size > left:
            if self.short is None:
                self.short = (self.tell(), size, left)
            return left
        return size

    def read(self, size: int | None = -1, /) -> bytes:
        if size is not None and size > SMALL_READ:
            size = self.bound(size)
        return super().read(size)


def length_problem(fh: BoundedFile) -> str:
    """Why the file was refused (empty when no element declared more than the file holds)."""
    if fh.short is None:
        return ""
    offset, asked, left = fh.short
    return (
        f"an element at byte {offset} declares {asked} bytes but the file ({fh.size} bytes) has only {left} left "
        "(corrupt length field or truncated file)"
    )


def dcmread(src: str | os.PathLike[str] | BinaryIO, **kwargs: Any) -> FileDataset:
    """``pydicom.dcmread(src, **kwargs)`` through a :class:`BoundedFile`; ``InputError`` on an element that
    declares more bytes than its file has. A path is opened read-only here (the dataset's ``filename`` is the
    path, as with pydicom); an open file is read where it is, and checked when it is a :class:`BoundedFile`."""
    if not isinstance(src, str | os.PathLike):
        ds = pydicom.dcmread(src, **kwargs)
        why = length_problem(src) if isinstance(src, BoundedFile) else ""
        name = getattr(src, "name", "<file>")
    else:
        with BoundedFile(src) as fh:
            ds = pydicom.dcmread(fh, **kwargs)
            why, name = length_problem(fh), os.fspath(src)
    if why:
        raise InputError(f"{name}: {why}: not read")
    return ds
