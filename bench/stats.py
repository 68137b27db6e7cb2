"""Percentiles for the benchmarks (nearest-rank, so a p95 is always a measured value)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of durations given in seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(values_s, 50) * 1000, 1),
        "p95_ms": round(percentile(values_s, 95) * 1000, 1),
        "max_ms": round(max(values_s) * 1000, 1),
    }
