"""Writing result files safely: through a temporary name in the same folder, renamed over the target when
complete, so an interrupted run never leaves a half-written file that looks finished; the file gets the
permissions of a normally created file. Used by ``score`` (``irrecist.output``) and ``extract``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from irrecist.csvio import NOT_NATIVE, csv_pieces, pandas_csv


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``. The file gets the
    permissions of a normally created file (``mkstemp`` would leave it readable by its owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """``df.to_csv(path, index=False, lineterminator="\\n")``, byte for byte, built column-wise
    (``irrecist.csvio``), written atomically."""

    def write(p: Path) -> None:
        with p.open("wb") as f:
            try:
                for piece in csv_pieces(df):  # block by block: the whole text is never held
                    f.write(piece)
            except NOT_NATIVE:  # a cell csvio does not write as pandas would: pandas writes it all
                f.seek(0)
                f.truncate()
                f.write(pandas_csv(df))

    atomic_write(path, write)
