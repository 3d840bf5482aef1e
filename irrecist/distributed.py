"""Extraction on a dask.distributed cluster: ``irrecist extract --dask ADDRESS``, ``irrecist score --dask ADDRESS``.

The study index is built here (headers only, fast); each study's annotation objects are read on the cluster,
one task per study, by the same function as ``--workers`` (:func:`irrecist.extract.read_batch`); the lesion
rows come back, and the lesion table is composed (and scored) here, so the result is the one a single process
gives. The workers need irrecist and its readers installed and must see the files under the same names
(absolute paths on a shared file system, or workers started in the same folder). dask is an optional extra:
``pip install 'irrecist[dask]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from irrecist.errors import InputError

Spec = TypeVar("Spec")
Job = TypeVar("Job")
Out = TypeVar("Out")
CONNECT_TIMEOUT = "20s"


def _client_class() -> Any:
    try:
        from distributed import Client
    except ImportError as exc:  # optional extra
        raise InputError("--dask needs dask.distributed: pip install 'irrecist[dask]'") from exc
    return Client


def map_batches(address: str, fn: Callable[[Spec, Job], Out], spec: Spec, jobs: Sequence[Job]) -> list[Out]:
    """``[fn(spec, job) for job in jobs]`` on the dask scheduler at ``address``: ``spec`` is sent once to every
    worker, one task per job (``pure=False``: files may change between runs), results in the order of ``jobs``."""
    client_class = _client_class()
    try:
        client = client_class(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the dask scheduler at {address}: {exc}") from exc
    with client:
        [shared] = client.scatter([spec], broadcast=True)
        futures = client.map(fn, [shared] * len(jobs), list(jobs), pure=False)
        return list(client.gather(futures))
