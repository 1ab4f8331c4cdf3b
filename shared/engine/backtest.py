"""Rolling-origin backtests and the accuracy metrics the result document reports (docs/api.md §5).

The metric helpers are plain functions over arrays so that `benchmarks/accuracy.py` computes the
M3 figures with exactly the code that produces a job's `forecast.metrics`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from shared.contract import metrics as contract_metrics
from shared.contract.schema import Metrics
from shared.engine.models import make_model

__all__ = [
    "NO_BACKTEST",
    "BacktestReport",
    "interval_coverage",
    "mae",
    "mape",
    "mase",
    "mase_scale",
    "model_accuracy",
    "rolling_origin_backtest",
    "smape",
    "wape",
]


def _pair(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(forecast, dtype=float).ravel()
    if a.shape != f.shape:
        raise ValueError(f"actual and forecast differ in length: {a.size} != {f.size}")
    return a, f


def _finite_or_none(value: float | None) -> float | None:
    # The result document is JSON: NaN and inf are not valid there, "no figure" is null.
    return float(value) if value is not None and math.isfinite(value) else None


def mae(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    """Mean absolute error; None for no points."""
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f))) if a.size else None


def mape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    """Mean absolute percentage error (%), over the points whose actual is not 0.

    A month without sales has no defined percentage error; skipping it (rather than returning inf)
    keeps the figure meaningful, and None says that no month qualified.
    """
    a, f = _pair(actual, forecast)
    keep = a != 0
    if not keep.any():
        return None
    return float(np.mean(100.0 * np.abs(a[keep] - f[keep]) / np.abs(a[keep])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    """Symmetric MAPE (%) as defined by the M3 competition: mean of 200|y-f| / (|y|+|f|).

    A point where actual and forecast are both 0 is a perfect forecast and counts as 0 (the M3
    formula is 0/0 there).
    """
    a, f = _pair(actual, forecast)
    if not a.size:
        return None
    den = np.abs(a) + np.abs(f)
    err = np.divide(200.0 * np.abs(a - f), den, out=np.zeros_like(den), where=den > 0)
    return float(np.mean(err))


def mase_scale(insample: np.ndarray, season_length: int = 12) -> float | None:
    """In-sample mean absolute seasonal-naive error, the MASE denominator.

    Uses lag `season_length` when the history holds more than one season, lag 1 otherwise (a short
    series has no seasonal-naive forecast). None when the scale is 0 or undefined (e.g. a constant
    series), since every error would then be infinitely large relative to it.
    """
    x = np.asarray(insample, dtype=float).ravel()
    m = season_length if season_length > 1 and x.size > season_length else 1
    if x.size <= m:
        return None
    scale = float(np.mean(np.abs(x[m:] - x[:-m])))
    return scale if scale > 0 and math.isfinite(scale) else None


def mase(
    actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, season_length: int = 12
) -> float | None:
    """Mean absolute scaled error: MAE over the in-sample seasonal-naive MAE (see `mase_scale`)."""
    scale = mase_scale(insample, season_length)
    err = mae(actual, forecast)
    if scale is None or err is None:
        return None
    return err / scale


def wape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    """Weighted absolute percentage error (%): sum|y-f| / sum|y|; None when every actual is 0."""
    a, f = _pair(actual, forecast)
    return contract_metrics.wape_from_sums(float(np.sum(np.abs(a - f))), float(np.sum(np.abs(a))))


def interval_coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float | None:
    """Share (%) of actuals inside [low, high], bounds included."""
    a, lo = _pair(actual, low)
    _, hi = _pair(actual, high)
    if not a.size:
        return None
    return 100.0 * float(np.mean((a >= lo) & (a <= hi)))


# One report for the backtest and the result's ``metrics`` block: the schema's model.
BacktestReport = Metrics


NO_BACKTEST = BacktestReport(
    mae=None, mape=None, smape=None, mase=None, wape=None, backtest_origins=0, interval_coverage=None
)


def rolling_origin_backtest(
    y: np.ndarray,
    model: str,
    level: float = 90.0,
    max_origins: int = 12,
    min_train: int = 3,
    season_length: int = 12,
    frequency: str = "month",
    X: np.ndarray | None = None,
    effects: Any = None,
    closed: np.ndarray | None = None,
) -> BacktestReport:
    """Refit `model` at each of the last `max_origins` points and forecast that point one step ahead.

    Origin t trains on y[:t] (at least `min_train` points) and forecasts y[t]. Forecasts and interval
    lows are clipped at 0 before scoring, because that is what the service shows (sales are never
    negative), so the figures describe the numbers a user actually sees. MASE is scaled by the
    seasonal-naive error of the history before the first origin.

    Weekly and daily series (``frequency`` "week" or "day"): the models of
    :func:`shared.engine.frequency_models.make_model`, with the regressor rows ``X`` (one per point of y)
    and the ``effects`` (or ``closed``) they were built with; MASE is then scaled by the lag of
    :func:`shared.engine.seasonality.mase_lag` (52 weeks, 7 days) and ``season_length`` is not used.
    """
    if frequency != "month":
        return _calendar_backtest(y, model, level, max_origins, min_train, frequency, X, effects, closed)
    series, first = _origins(y, max_origins, min_train)
    return _walk_forward(
        series,
        first,
        lambda t: make_model(model, season_length=season_length).fit(series[:t]).predict(1, level=level),
        season_length,
    )


def _origins(y: np.ndarray, max_origins: int, min_train: int) -> tuple[np.ndarray, int]:
    """``y`` as a finite float vector, and the first origin: at most ``max_origins`` back, after at
    least ``min_train`` points (``ValueError`` on bad arguments or a non-finite ``y``)."""
    if max_origins < 1 or min_train < 3:
        raise ValueError("max_origins must be >= 1 and min_train >= 3")
    series = np.asarray(y, dtype=float).ravel()
    if not np.all(np.isfinite(series)):
        raise ValueError("y must be finite")
    return series, max(min_train, series.size - max_origins)


def _walk_forward(
    series: np.ndarray, first: int, forecast_at: Callable[[int], Any], season_lag: int
) -> BacktestReport:
    """Score one-step forecasts of every point from ``first`` on: ``forecast_at(t)`` is the
    prediction of ``series[t]`` made from ``series[:t]``. Forecasts and lows are clipped at 0 (what
    the service shows); MASE is scaled by the ``season_lag`` naive error before ``first``."""
    if series.size <= first:
        return NO_BACKTEST
    means, lows, highs = [], [], []
    for t in range(first, series.size):
        pred = forecast_at(t)
        means.append(pred.mean[0])
        lows.append(pred.low[0])
        highs.append(pred.high[0])
    actual = series[first:]
    forecast = np.maximum(np.asarray(means), 0.0)
    low = np.maximum(np.asarray(lows), 0.0)
    high = np.asarray(highs)
    return BacktestReport(
        mae=_finite_or_none(mae(actual, forecast)),
        mape=_finite_or_none(mape(actual, forecast)),
        smape=_finite_or_none(smape(actual, forecast)),
        mase=_finite_or_none(mase(actual, forecast, series[:first], season_lag)),
        wape=_finite_or_none(wape(actual, forecast)),
        backtest_origins=int(actual.size),
        interval_coverage=_finite_or_none(interval_coverage(actual, low, high)),
    )


def _calendar_backtest(
    y: np.ndarray,
    model: str,
    level: float,
    max_origins: int,
    min_train: int,
    frequency: str,
    X: np.ndarray | None,
    effects: Any,
    closed: np.ndarray | None,
) -> BacktestReport:
    from shared.engine.frequency_models import make_model as make_calendar_model
    from shared.engine.seasonality import mase_lag

    series, first = _origins(y, max_origins, min_train)
    if X is not None and np.asarray(X).shape[0] != series.size:
        raise ValueError("X must have one row per point of y")

    def forecast_at(t: int) -> Any:
        fitted = make_calendar_model(model, frequency, effects=effects, closed=closed)
        if X is None:
            return fitted.fit(series[:t]).predict(1, level=level)
        return fitted.fit(series[:t], X[:t]).predict(1, level=level, X_future=X[t : t + 1])

    return _walk_forward(series, first, forecast_at, mase_lag(frequency))


def model_accuracy(report: BacktestReport) -> float | None:
    """`model_accuracy` of the result document: 100 - WAPE (%), clipped to [0, 100]
    (shared.contract.metrics, the one formula)."""
    return contract_metrics.model_accuracy(report.wape)
