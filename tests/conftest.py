"""Shared fixtures: where ../shared is (reference cases, real DICOM files).

Tests that need ../shared skip when it is absent, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path | None:
    env = os.environ.get("IRRECIST_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def need_shared(*parts: str) -> Path:
    """Path inside ../shared; skips the test when it is missing (fails under CI=true)."""
    base = _shared_dir()
    path = base.joinpath(*parts) if base else None
    if path is None or not path.exists():
        msg = f"shared data not found: {'/'.join(parts)} (set IRRECIST_SHARED or put ../shared beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared() -> Path:
    return need_shared()


@pytest.fixture
def real_data() -> Path:
    return need_shared("data", "real")


@pytest.fixture
def cases_dir() -> Path:
    return need_shared("cases")
