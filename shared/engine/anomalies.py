"""Anomalies in a series' history (docs/api.md §11): complete periods far outside what was expected.

A robust decomposition, so that the anomalies themselves do not bend what is expected of them:
the trend is a centred moving average over one season (a running median of five periods without a
season), the seasonal profile the median of the detrended values at each position of the season,
and a period is anomalous when its residual is more than ``THRESHOLD`` robust standard deviations
(1.4826 × the median absolute deviation) from the residuals' median. For normally distributed
noise that flags about one period in 2,000; a sale, a stock-out or a data error stands out.

Weeks take their position by their place in a year of 52.18 weeks, not by their index mod 52
(which slips a day a year), and a season longer than ``SHORT_TREND`` has its trend taken again over
a quarter from the series without its season (:func:`decompose`). A series whose season and noise
grow with its level is decomposed on the logarithm (:func:`_multiplicative`), what was expected
reported back in units. docs/models.md has the flags per 1,000 periods before and after.

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
from shared.engine.seasonality import WEEKS_PER_YEAR

THRESHOLD = 4.0  # robust standard deviations
# The first (running-median) pass takes out only what lies far outside: lower, it flagged more noise
# on the tests' seasonal series (at 4: 9 in 7,200 monthly periods; at 5 and 6: 90 and 86 in 28,000
# daily ones; at 8, as before this pass: 3 and 82).
ROBUST_THRESHOLD = 8.0
MAD_TO_SIGMA = 1.4826
MIN_PERIODS = 8
SHORT_TREND = 13  # periods: a longer season's trend is taken again over a quarter of weeks (decompose)
CLEANING_PASSES = 3
# Anomaly cleaning before a fit (clean_history): which models do it when asked, and whether they
# are asked by default. The baselines (linear, seasonal_naive) are never cleaned: they are what
# the others are measured against. The default follows benchmarks/anomalies.py (docs/models.md).
CLEANED_MODELS: tuple[str, ...] = ("auto", "ets", "theta", "arima")
CLEAN_BY_DEFAULT = False
MAX_ZERO_SHARE = 0.3  # more zero periods than this: intermittent, no anomalies
MAX_LOG_ZERO_SHARE = 0.02  # more zero periods than this (a shop's closed days): decomposed additively


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


def _phases(n: int, season_length: int) -> tuple[np.ndarray, float]:
    """``(phase, cycles)``: each of ``n`` periods' place in its season, from 0 up to
    ``season_length``, and how many seasons (cycles) the periods span. A season of 52 is the year
    of weeks at its true length (shared.engine.seasonality.WEEKS_PER_YEAR, 52.18), so a week's
    phase is its place in the year and Christmas week keeps its place in every year; ``t mod 52``
    slips a day a year and reaches the next week within six years. Other seasons: ``t mod m``."""
    t = np.arange(n, dtype=float)
    cycle_length = WEEKS_PER_YEAR if season_length == 52 else float(season_length)
    phase = (t - np.floor(t / cycle_length) * cycle_length) * season_length / cycle_length
    return phase, float(np.ceil(n / cycle_length))


def _leave_one_out_medians(values: np.ndarray) -> np.ndarray:
    """The median of ``values`` without each one in turn (NaN for a single value)."""
    n = values.size
    if n < 2:
        return np.full(n, np.nan)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)

    def remaining(i: int) -> np.ndarray:  # the i-th smallest of the others, per left-out value
        return np.where(i < rank, ranked[i], ranked[min(i + 1, n - 1)])

    k = (n - 1) // 2
    return remaining(k) if (n - 1) % 2 else 0.5 * (remaining(k - 1) + remaining(k))


def decompose(y: np.ndarray, season_length: int, robust: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """``(expected, held_out, inflation)``: what each period was expected to be (the trend plus the
    median of its position over every season, which one odd season cannot move), the same with the
    period's own value left out of its position's median (an honest out-of-sample residual for the
    spread), and how much leaving it out inflates that residual's standard deviation. ``robust``:
    the trend is a running median over one season (see the module docstring). Weekly positions
    follow the year's true length (:func:`_phases`)."""
    seasonal = season_length > 1 and y.size >= 2 * season_length
    trend = _trend(y, season_length if seasonal else 1, robust)
    if not seasonal:
        return trend, trend, 1.0
    every, own_left_out, cycles = _season(y - trend, season_length)
    if season_length > SHORT_TREND:
        # A trend over a whole year of weeks cannot follow a level that moves within months: what
        # was expected of a week came from the level of half a year around it, and the weeks of a
        # fast move stood out in runs. As X-11 does, the trend is taken again, over a quarter, from
        # the series without its season, and the season again from the series without that trend.
        trend = _trend(y - every, SHORT_TREND, robust)
        every, own_left_out, cycles = _season(y - trend, season_length)
    held_out = every + own_left_out
    return trend + every, trend + held_out, float(np.sqrt(1.0 + 1.0 / max(cycles - 1, 1)))


def _season(detrended: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``(seasonal, own_left_out, cycles)`` of a detrended series: each period's seasonal value (the
    median of the detrended values at its position, at its own phase between the two nearest
    positions), how much leaving the period itself out of its position's median changes that, and
    how many seasons there are."""
    phase, cycles = _phases(detrended.size, season_length)
    position = np.rint(phase).astype(int) % season_length
    profile = np.zeros(season_length)
    own_left_out = np.zeros(detrended.size)
    for p in range(season_length):
        at = position == p
        if at.any():
            profile[p] = np.median(detrended[at])
            own_left_out[at] = np.nan_to_num(_leave_one_out_medians(detrended[at]), nan=profile[p]) - profile[p]
    # Whole phases (months, days) take their position's median as it is.
    low = np.floor(phase).astype(int)
    between = phase - low
    seasonal = (1.0 - between) * profile[low % season_length] + between * profile[(low + 1) % season_length]
    return seasonal, own_left_out, cycles


def _flag(y: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool] | None:
    """``(flagged, expected, residual - centre, scale, logged)`` per period of ``y`` (``expected`` in
    the units of ``y``; the residual and ``scale``, the robust standard deviation of the residuals,
    on the scale decomposed: the logarithm when ``logged``), or None when the series has no
    anomalies to speak of (too short, intermittent, no spread). A known holiday is flagged here
    too, so that it does not bend its neighbours' trend; the callers leave it out.

    A series whose spread grows with its level (:func:`_multiplicative`) is decomposed on the
    logarithm (its zeros at half its smallest sale): a Saturday that sells twice a Monday's still
    does when the shop has grown, and its noise grows with it. Any other series additively."""
    if y.size < max(MIN_PERIODS, 2 * season_length if season_length > 1 else 0):
        return None
    if np.count_nonzero(y == 0) > MAX_ZERO_SHARE * y.size:
        return None  # intermittent demand: its zeros and its sales are both ordinary
    logged = _multiplicative(y, season_length)
    found = _flag_on(_log(y) if logged else y, season_length)
    if found is None:
        return None
    flagged, expected, deviation, scale = found
    return flagged, np.exp(expected) if logged else expected, deviation, scale, logged


def _log(y: np.ndarray) -> np.ndarray:
    """The logarithm of a series with its zeros (a closed day, a day without a sale) at half its
    smallest sale: on the log scale a zero is a dip, not minus infinity."""
    return np.log(np.maximum(y, 0.5 * float(np.min(y[y > 0]))))


def _multiplicative(y: np.ndarray, season_length: int) -> bool:
    """Whether ``y`` is better described multiplicatively, on the log scale: by the likelihood of
    its out-of-sample residuals on each scale (Laplace, as Box-Cox compares transformations: the
    log scale's mean absolute residual times the geometric mean of ``y``, the Jacobian that puts it
    into units, against the mean absolute residual in units). A weekday pattern or noise that grows
    with the level is multiplicative; a season and noise that keep their size stay additive (on the
    logarithm the low periods of such a series look noisier than they are)."""
    if np.count_nonzero(y <= 0) > MAX_LOG_ZERO_SHARE * y.size:
        return False  # low counts: on the log scale an 8x day among ones and twos stood out no more than noise
    z = _log(y)
    _, additive, _ = decompose(y, season_length, robust=True)
    _, logged, _ = decompose(z, season_length, robust=True)
    return float(np.mean(np.abs(z - logged))) * float(np.exp(np.mean(z))) < float(np.mean(np.abs(y - additive)))


def _flag_on(y: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """:func:`_flag` on the scale decomposed: ``(flagged, expected, residual - centre, scale)``."""
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
    flagged, expected, deviation, _, _ = found
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
    flagged, _, deviation, scale, logged = found
    neighbour = np.zeros_like(flagged)
    neighbour[1:] |= flagged[:-1]
    neighbour[:-1] |= flagged[1:]
    flagged = flagged & ~neighbour
    if known is not None:
        flagged = flagged & ~np.asarray(known, dtype=bool)
    if not flagged.any():
        return y, 0
    # On the scale decomposed: for a series decomposed on the logarithm, THRESHOLD robust SDs of it.
    z = _log(y) if logged else y
    bound = z - deviation + np.sign(deviation) * THRESHOLD * scale
    if logged:
        bound = np.exp(bound)
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
