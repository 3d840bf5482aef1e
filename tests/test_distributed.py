"""Extraction and scoring with the DICOM objects read on a dask.distributed cluster (issue 6): the same lesion
table, study index, issues and scored outputs as one process, on the demo trial (test_images/, 8 subjects).

Skipped only when dask.distributed is not installed (``pip install 'irrecist[dask]'``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from irrecist.extract import Extraction, extract_paths, write_extraction  # noqa: E402
from irrecist_cli.main import main  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "test_images"


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    """A local cluster of two worker processes, started and stopped here."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        yield str(cluster.scheduler_address)


@pytest.fixture(scope="module")
def local() -> Extraction:
    return extract_paths([DEMO])


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.name: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))}


def test_extraction_on_the_cluster_equals_one_process(address: str, local: Extraction) -> None:
    remote = extract_paths([DEMO], dask=address)
    assert len(local.lesions) > 50
    pd.testing.assert_frame_equal(remote.lesions, local.lesions)
    pd.testing.assert_frame_equal(remote.studies, local.studies)
    pd.testing.assert_frame_equal(remote.issues(), local.issues())
    assert remote.rows == local.rows


def test_cli_extract_and_score_with_dask_equal_one_process(address: str, local: Extraction, tmp_path: Path) -> None:
    write_extraction(local, tmp_path / "extract-one")
    assert main(["extract", str(DEMO), "--out", str(tmp_path / "extract-dask"), "--dask", address]) == 0
    assert main(["score", str(DEMO), "--out", str(tmp_path / "score-one")]) == 0
    assert main(["score", str(DEMO), "--out", str(tmp_path / "score-dask"), "--dask", address]) == 0
    for command in ("extract", "score"):
        want, got = _tables(tmp_path / f"{command}-one"), _tables(tmp_path / f"{command}-dask")
        assert sorted(got) == sorted(want) and want, command
        for name, df in want.items():
            pd.testing.assert_frame_equal(got[name], df, obj=f"{command} {name}")
    summary = "summary.json"
    assert (tmp_path / "score-dask" / summary).read_text() == (tmp_path / "score-one" / summary).read_text()
