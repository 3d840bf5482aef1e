"""irrecist: tumour-response calls (irRECIST, RECIST 1.1) from radiologists' lesion measurements.

``irrecist.score(...)`` is the Python API (``irrecist.api``); it is imported on first use, so that
``import irrecist`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Landmark", "ScoreResult", "__version__", "score"]

if TYPE_CHECKING:
    from irrecist.api import ScoreResult, score
    from irrecist.endpoints import Landmark


def __getattr__(name: str) -> Any:
    """PEP 562 lazy attributes: ``score`` and ``ScoreResult`` load ``irrecist.api`` (pandas) when first used."""
    if name in ("score", "ScoreResult"):
        from irrecist import api

        return getattr(api, name)
    if name == "Landmark":
        from irrecist.endpoints import Landmark

        return Landmark
    raise AttributeError(f"module 'irrecist' has no attribute {name!r}")
