"""Anomalies in a series' history (docs/api.md §11): complete periods far outside what was expected.

A robust decomposition, so that the anomalies themselves do not bend what is expected of them:
the trend is a running median over one season (or five periods without a season), the seasonal
profile the median of the detrended values at each position of the season, and a period is
anomalous when its residual is more than ``THRESHOLD`` robust standard deviations (1.4826 × the
median absolute deviation) from the residuals' median. For normally distributed noise that flags
about one period in 2,000; a sale, a stock-out or a data error stands out.

Known effects are not anomalies: periods in which a holiday or one of the shop's events falls
(docs/api.md §10) are never flagged. A series with too little history (two seasons, or 8 periods
without a season) or with no spread at all (mostly zeros: intermittent demand) has none.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from shared.contract.schema import AnomalyKind

THRESHOLD = 4.0  # robust standard deviations
MAD_TO_SIGMA = 1.4826
MIN_PERIODS = 8
CLEANING_PASSES = 3
MAX_ZERO_SHARE = 0.3  # more zero periods than this: intermittent, no anomalies


def _extend(core: np.ndarray, half: int, span: int) -> np.ndarray:
    """``core`` with ``half`` values added at each end along the line through its nearest ``span``
    values (a trend does not stop where the full windows do)."""
    if half == 0:
        return core
    span = max(2, min(span, core.size))
    x = np.arange(core.size, dtype=float)
    head = np.polyfit(x[:span], core[:span], 1) if core.size >= 2 else (0.0, core[0])
    tail = np.polyfit(x[-span:], core[-span:], 1) if core.size >= 2 else (0.0, core[-1])
    before = np.polyval(head, np.arange(-half, 0, dtype=float))
    after = np.polyval(tail, np.arange(core.size, core.size + half, dtype=float))
    return np.concatenate([before, core, after])


def _trend(y: np.ndarray, season_length: int) -> np.ndarray:
    """The trend: a centred moving average over one season (2×m for an even m, so the season
    cancels exactly); without a season a running median of 5, which one outlier cannot move."""
    if season_length > 1:
        m = season_length
        weights = np.ones(m + 1 - m % 2)
        if m % 2 == 0:
            weights[0] = weights[-1] = 0.5
        weights /= m
        core = np.convolve(y, weights, mode="valid")
        return _extend(core, weights.size // 2, m)
    window = min(5, y.size - (1 - y.size % 2))
    core = np.median(np.lib.stride_tricks.sliding_window_view(y, window), axis=1)
    return _extend(core, window // 2, window)


def decompose(y: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``(expected, held_out, inflation)``: what each period was expected to be (the trend plus the
    median of its position over every season, which one odd season cannot move), the same with the
    period's own season left out (an honest out-of-sample residual for the spread), and how much
    leaving it out inflates that residual's standard deviation."""
    seasonal = season_length > 1 and y.size >= 2 * season_length
    trend = _trend(y, season_length if seasonal else 1)
    if not seasonal:
        return trend, trend, 1.0
    m = season_length
    n_seasons = -(-y.size // m)
    grid = np.full(n_seasons * m, np.nan)
    grid[: y.size] = y - trend
    grid = grid.reshape(n_seasons, m)
    others = np.stack([np.delete(grid, k, axis=0) for k in range(n_seasons)])  # (season, others, position)
    with np.errstate(all="ignore"):
        every = np.nan_to_num(np.nanmedian(grid, axis=0))[np.arange(y.size) % m]
        held_out = np.nan_to_num(np.nanmedian(others, axis=1).reshape(-1)[: y.size])
    return trend + every, trend + held_out, float(np.sqrt(1.0 + 1.0 / max(n_seasons - 1, 1)))


def find_anomalies(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    season_length: int,
    known: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``[{"period", "value", "expected", "kind"}]`` for the anomalous periods of ``values`` (one per
    label of ``periods``), oldest first; periods in ``known`` (holidays, events) never count."""
    y = np.asarray(values, dtype=float)
    if y.size < max(MIN_PERIODS, 2 * season_length if season_length > 1 else 0) or y.size != len(periods):
        return []
    if np.count_nonzero(y == 0) > MAX_ZERO_SHARE * y.size:
        return []  # intermittent demand: its zeros and its sales are both ordinary
    flagged = np.zeros(y.size, dtype=bool)
    expected = y
    for _ in range(CLEANING_PASSES):
        # From the history with the periods flagged so far replaced by what was expected of them:
        # a spike then no longer lifts its neighbours' trend.
        expected, held_out, inflation = decompose(np.where(flagged, expected, y), season_length)
        spread = (y - held_out)[~flagged]
        scale = MAD_TO_SIGMA * float(np.median(np.abs(spread - np.median(spread)))) / inflation
        if not np.isfinite(scale) or scale <= 1e-9 * max(1.0, float(np.max(np.abs(y)))):
            return []  # no spread: nothing stands out from it (a flat series)
        residual = y - expected
        centre = float(np.median(residual[~flagged]))
        now = np.abs(residual - centre) > THRESHOLD * scale
        if np.array_equal(now, flagged):
            break
        flagged = now
    found = []
    for t in np.flatnonzero(flagged):
        if periods[t] in known:
            continue
        found.append({
            "period": periods[t],
            "value": round(float(y[t]), 2),
            "expected": round(max(float(expected[t]), 0.0), 2),
            "kind": str(AnomalyKind.SPIKE if residual[t] > centre else AnomalyKind.DIP),
        })
    return found


def known_periods(request: Any, periods: Sequence[str]) -> set[str]:
    """The labels of ``periods`` in which one of the request's holidays or events falls (weekly and
    daily jobs: the effects their models see); none for monthly jobs, whose models see none."""
    from shared.contract import calendar
    from shared.engine.effects import request_effects

    if not periods or calendar.Frequency(request.frequency) is calendar.Frequency.MONTH:
        return set()
    first = calendar.parse_label(periods[0], request.frequency)
    effects = request_effects(request.frequency, first, len(periods), request.holidays, request.events)
    if effects is None:
        return set()
    return {p for p, names in zip(periods, effects.names) if names}
