"""Process settings for a command-line run.

pyarrow's default allocator (mimalloc in its wheels) keeps the memory it has freed for reuse by Arrow only;
jemalloc returns it. irrecist parses, formats and writes its large tables with Arrow, so for a long run the
choice shows in the peak: ``irrecist score`` on 20,000 subjects with the report peaks at 932 MB with mimalloc
and 764 MB with jemalloc (benchmarks/RESULTS.md). A library user's process keeps its own choice.
"""

from __future__ import annotations

import contextlib


def prefer_releasing_allocator() -> str:
    """Make jemalloc pyarrow's default memory pool when this pyarrow has it; returns the pool in use."""
    import pyarrow as pa

    with contextlib.suppress(NotImplementedError, AttributeError):  # a pyarrow without jemalloc keeps its own
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    return pa.default_memory_pool().backend_name
