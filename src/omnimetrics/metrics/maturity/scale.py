"""The maturity scale: 0-100 scores, the four levels, and the weight of each dimension."""

from __future__ import annotations

import math

LEVELS: dict[int, str] = {1: "siloed", 2: "multichannel", 3: "cross-channel", 4: "omnichannel"}
"""Maturity levels, from channels run apart to channels run as one."""
LEVEL_CUTOFFS: tuple[float, float, float] = (25.0, 50.0, 75.0)
"""A score below 25 is level 1, below 50 level 2, below 75 level 3, else level 4."""

DIMENSION_WEIGHTS: dict[str, float] = {
    "identity": 2.0,
    "offline": 2.0,
    "measurement": 1.5,
    "organisation": 1.5,
    "data": 1.0,
    "customer voice": 1.0,
    "privacy": 1.0,
}
"""Weights of the dimensions in the overall score (joining data counts most)."""


def indicator_score(value: float, poor: float, good: float) -> float:
    """100 x (value - poor) / (good - poor), clipped to 0..100 (NaN stays NaN).

    Works both ways: for freshness `good` (1 day) is below `poor` (30 days).

    >>> indicator_score(0.25, poor=0.0, good=0.5), indicator_score(15.5, poor=30, good=1)
    (50.0, 50.0)
    """
    if math.isnan(value):
        return math.nan
    return 100.0 * min(1.0, max(0.0, (value - poor) / (good - poor)))


def level_of(score: float) -> int | None:
    """The maturity level (1-4) of a 0-100 score; None for an unknown score.

    >>> [LEVELS[level_of(s)] for s in (10, 25, 60, 75)]
    ['siloed', 'multichannel', 'cross-channel', 'omnichannel']
    """
    if math.isnan(score):
        return None
    return 1 + sum(score >= cut for cut in LEVEL_CUTOFFS)


def level_name(level: int | None) -> str | None:
    """The name of a level; None for an unknown one."""
    return LEVELS.get(level) if level else None


def weighted_mean(scores: list[float], weights: list[float]) -> float:
    """The weighted mean of the known scores (NaN when none is known)."""
    known = [(s, w) for s, w in zip(scores, weights, strict=True) if not math.isnan(s)]
    if not known:
        return math.nan
    return sum(s * w for s, w in known) / sum(w for _, w in known)
