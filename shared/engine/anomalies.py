"""Anomalies in a series' history (docs/api.md §11): complete periods far outside what was expected.

A robust decomposition, so that the anomalies themselves do not bend what is expected of them:
the trend is a centred moving average over one season (a running median of five periods without a
season), the seasonal profile the median of the detrended values at each position of the season,
and a period is anomalous when its residual is more than ``THRESHOLD`` robust standard deviations
(1.4826 × the median absolute deviation) from the residuals' median. For normally distributed
noise that flags about one period in 2,000; a sale, a stock-out or a data error stands out.

The first pass takes its trend from a running median over one season instead (a window of one
season holds each position of the season once, so the season does not move it, and neither does
one spike): a day selling 8× its usual lifts a 7-day moving average by a whole day's sales for a
week, which made its neighbours look like dips. The periods that pass flags (beyond ``ROBUST_THRESHOLD``)
are replaced by what was expected of them before the moving average is taken, and up to ``CLEANING_PASSES`` more
passes re-estimate everything from the history so cleaned.

:func:`clean_history` is what a model is fitted on when anomaly cleaning is on (``make_model(...,
clean=True)`` of shared.engine.models and shared.engine.frequency_models): its one-off anomalies
pulled in to the edge of the ordinary.

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
# The first (running-median) pass takes out only what lies far outside: lower, it flagged more noise
# on the tests' seasonal series (at 4: 9 in 7,200 monthly periods; at 5 and 6: 90 and 86 in 28,000
# daily ones; at 8, as before this pass: 3 and 82).
ROBUST_THRESHOLD = 8.0
MAD_TO_SIGMA = 1.4826
MIN_PERIODS = 8
CLEANING_PASSES = 3
# Anomaly cleaning before a fit (clean_history): which models do it when asked, and whether they
# are asked by default. The baselines (linear, seasonal_naive) are never cleaned: they are what
# the others are measured against. The default follows benchmarks/anomalies.py (docs/models.md).
CLEANED_MODELS: tuple[str, ...] = ("auto", "ets", "theta", "arima")
CLEAN_BY_DEFAULT = False
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


def _trend(y: np.ndarray, season_length: int, robust: bool = False) -> np.ndarray:
    """The trend: a centred moving average over one season (2×m for an even m, so the season
    cancels exactly); without a season a running median of 5, which one outlier cannot move.
    ``robust``: a running median over one season (each position once), which no spike moves."""
    if season_length > 1 and robust:
        m = season_length
        core = np.median(np.lib.stride_tricks.sliding_window_view(y, m), axis=1)
        # A window of even length is centred half a period late: one more value before than after.
        before, after = m // 2, m - 1 - m // 2
        wide = _extend(core, max(before, after), m)
        return wide[max(before, after) - before : wide.size - (max(before, after) - after)]
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


def decompose(y: np.ndarray, season_length: int, robust: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """``(expected, held_out, inflation)``: what each period was expected to be (the trend plus the
    median of its position over every season, which one odd season cannot move), the same with the
    period's own season left out (an honest out-of-sample residual for the spread), and how much
    leaving it out inflates that residual's standard deviation. ``robust``: the trend is a running
    median over one season (see the module docstring)."""
    seasonal = season_length > 1 and y.size >= 2 * season_length
    trend = _trend(y, season_length if seasonal else 1, robust)
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


def _flag(y: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """``(flagged, expected, residual - centre, scale)`` per period of ``y`` (``scale``: the robust
    standard deviation of the residuals), or None when the series has
    no anomalies to speak of (too short, intermittent, no spread). A known holiday is flagged here
    too, so that it does not bend its neighbours' trend; the callers leave it out."""
    if y.size < max(MIN_PERIODS, 2 * season_length if season_length > 1 else 0):
        return None
    if np.count_nonzero(y == 0) > MAX_ZERO_SHARE * y.size:
        return None  # intermittent demand: its zeros and its sales are both ordinary
    flagged = np.zeros(y.size, dtype=bool)
    expected = y
    for step in range(CLEANING_PASSES + 1):
        # From the history with the periods flagged so far replaced by what was expected of them:
        # a spike then no longer lifts its neighbours' trend. The first pass has no such help, so
        # its trend is a running median (robust); the later ones the smoother moving average.
        expected, held_out, inflation = decompose(np.where(flagged, expected, y), season_length, robust=step == 0)
        spread = (y - held_out)[~flagged]
        scale = MAD_TO_SIGMA * float(np.median(np.abs(spread - np.median(spread)))) / inflation
        if not np.isfinite(scale) or scale <= 1e-9 * max(1.0, float(np.max(np.abs(y)))):
            return None  # no spread: nothing stands out from it (a flat series)
        residual = y - expected
        centre = float(np.median(residual[~flagged]))
        # The first pass only takes out what stands out by far: a borderline period it flagged
        # would stay flagged (left out of its own trend, it stands out more).
        now = np.abs(residual - centre) > (ROBUST_THRESHOLD if step == 0 else THRESHOLD) * scale
        if step > 0 and np.array_equal(now, flagged):
            break
        flagged = now
    return flagged, expected, residual - centre, scale


def find_anomalies(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    season_length: int,
    known: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``[{"period", "value", "expected", "kind"}]`` for the anomalous periods of ``values`` (one per
    label of ``periods``), oldest first; periods in ``known`` (holidays, events) never count."""
    y = np.asarray(values, dtype=float)
    if y.size != len(periods):
        return []
    found = _flag(y, season_length)
    if found is None:
        return []
    flagged, expected, deviation, _ = found
    return [
        {
            "period": periods[t],
            "value": round(float(y[t]), 2),
            "expected": round(max(float(expected[t]), 0.0), 2),
            "kind": str(AnomalyKind.SPIKE if deviation[t] > 0 else AnomalyKind.DIP),
        }
        for t in np.flatnonzero(flagged)
        if periods[t] not in known
    ]


def clean_history(
    values: Sequence[float] | np.ndarray, season_length: int, known: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """``(cleaned, count)``: ``values`` with each one-off anomalous period (as :func:`find_anomalies`
    finds them, neither neighbour flagged too; ``known``, a mask per period, never) pulled in to the
    edge of the ordinary, ``THRESHOLD`` robust standard deviations from what was expected of it
    (never below 0), and how many were. Uses nothing but ``values``: a backtest that cleans the
    history before each origin sees no period after it.

    Only one-offs: two or more anomalous periods in a row are a change of level or of season more
    often than two accidents, and cleaning them threw real changes away. Pulled in, not replaced by
    what was expected: the period still says that it was high (or low), only not by how much,
    which keeps more of the residuals' spread for the intervals. M3 monthly (docs/models.md):
    every flagged period replaced +3.3 % sMAPE, one-offs replaced +0.3 %, one-offs pulled in -0.1 %."""
    y = np.asarray(values, dtype=float)
    found = _flag(y, season_length)
    if found is None:
        return y, 0
    flagged, _, deviation, scale = found
    neighbour = np.zeros_like(flagged)
    neighbour[1:] |= flagged[:-1]
    neighbour[:-1] |= flagged[1:]
    flagged = flagged & ~neighbour
    if known is not None:
        flagged = flagged & ~np.asarray(known, dtype=bool)
    if not flagged.any():
        return y, 0
    bound = y - deviation + np.sign(deviation) * THRESHOLD * scale
    return np.where(flagged, np.maximum(bound, 0.0), y), int(flagged.sum())


def cleaned_label(description: str, count: int) -> str:
    """A model's ``description_`` (its ``forecast.model``) saying that ``count`` anomalies of the
    history were replaced before it was fitted; unchanged when none were."""
    if not count:
        return description
    return f"{description}, {count} {'anomaly' if count == 1 else 'anomalies'} cleaned"


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
