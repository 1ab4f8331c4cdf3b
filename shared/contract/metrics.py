"""The accuracy figures whose formula the contract fixes (docs/api.md §5, §9), in one place.

WAPE and ``model_accuracy`` are reported by the backtests (shared.engine), the grouped levels and
the track record (shared.history, from sums its SQL computes): they all call these, so the three
cannot drift apart. Plain floats in, plain floats out (no numpy: the history tier imports this).
"""
from __future__ import annotations


def wape_from_sums(abs_error: float, abs_actual: float) -> float | None:
    """WAPE (%) = sum|actual − forecast| / sum|actual| × 100, from the two sums; None when no
    actual is non-zero (every error would be infinitely large relative to them)."""
    if abs_actual is None or abs_error is None or abs_actual <= 0:
        return None
    return 100.0 * float(abs_error) / float(abs_actual)


def model_accuracy(wape: float | None) -> float | None:
    """``model_accuracy``: 100 − WAPE (%), clipped to [0, 100]; None without a WAPE."""
    if wape is None:
        return None
    return float(min(100.0, max(0.0, 100.0 - wape)))
