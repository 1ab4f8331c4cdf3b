"""The result document, its forecast block and actuals, built in one place (docs/api.md §5, §8, §10).

The single-series pipeline and every series of a grouped job describe their forecast with
:func:`forecast_block`, and their history with :func:`actual_sales`: the same rounding, clipping,
growth rates, accuracy, labels and known effects for both, typed by the schema's own models.
"""
from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, Sequence

import numpy as np

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.contract.metrics import model_accuracy
from shared.contract.schema import (
    ActualSale,
    Forecast,
    ForecastComponent,
    ForecastRequest,
    HorizonPoint,
    Metrics,
    ResultDocument,
    SeriesPoint,
)
from shared.engine.effects import request_effects
from shared.engine.models import COMPONENT_NAMES, MODEL_VERSION


def r2(value: float) -> float:
    """``value`` as a plain float rounded to 2 decimals: how the result documents write figures."""
    return round(float(value), 2)


def pct_change(new: float, old: float) -> float | None:
    """The change from ``old`` to ``new`` in % of ``old``, 2 decimals; None when ``old`` is 0."""
    if old == 0:
        return None
    return round((new - old) / abs(old) * 100.0, 2)


def clip_interval(mean: Any, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sales are never negative: the mean and low at least 0, low <= mean <= high."""
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    low = np.minimum(np.maximum(np.asarray(low, dtype=float), 0.0), mean)
    high = np.maximum(np.asarray(high, dtype=float), mean)
    return mean, low, high


def horizon_effects(request: ForecastRequest, last_period: str, horizon: int) -> list[list[str]] | None:
    """The names of the holidays and events in each horizon period; None when the job has neither
    (horizon entries then carry no ``events``, as monthly results always did)."""
    first = calendar.parse_label(last_period, request.frequency) + 1
    effects = request_effects(request.frequency, first, horizon, request.holidays, request.events)
    return None if effects is None else effects.names


def forecast_block(
    *,
    frequency: Frequency | str,
    history: np.ndarray,
    last_period: str,
    mean: Any,
    low: Any,
    high: Any,
    level: float,
    model: str,
    metrics: Metrics | dict[str, Any],
    effects: Sequence[Sequence[str]] | None = None,
    components: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The forecast block of one series: ``history`` its complete periods from its first sale on
    (``last_period`` the label of the last one), ``mean``/``low``/``high`` per horizon period;
    ``components`` the model's additive parts of ``mean`` (:func:`published_components`), or None."""
    f = Frequency(frequency)
    mean, low, high = clip_interval(mean, low, high)
    first = calendar.parse_label(last_period, f) + 1
    indices = range(first, first + mean.size)
    metrics = metrics if isinstance(metrics, Metrics) else Metrics.model_validate(metrics)
    y = np.asarray(history, dtype=float)
    last = float(y[-1]) if y.size else 0.0
    previous = float(y[-2]) if y.size >= 2 else 0.0
    block = Forecast(
        next_month_forecast=r2(mean[0]) if f is Frequency.MONTH else None,
        confidence_level=float(level),
        expected_range_low=r2(low[0]),
        expected_range_high=r2(high[0]),
        growth_rate=pct_change(last, previous) if y.size >= 2 else None,
        model_accuracy=_round(model_accuracy(metrics.wape)),
        period=calendar.label(first, f),
        model=model,
        forecast_growth_rate=pct_change(float(mean[0]), last) if y.size else None,
        horizon=[
            HorizonPoint(
                period=calendar.label(i, f),
                start=calendar.period_start(i, f) if f is Frequency.WEEK else None,
                forecast=r2(m),
                low=r2(lo),
                high=r2(hi),
                events=list(effects[k]) if effects is not None else None,
            )
            for k, (i, m, lo, hi) in enumerate(zip(indices, mean, low, high))
        ],
        metrics=metrics,
        next_period_forecast=r2(mean[0]),
        frequency=f,
        components=published_components([calendar.label(i, f) for i in indices], mean, components),
    )
    return block.model_dump(mode="json")


def published_components(
    periods: Sequence[str], forecast: np.ndarray, parts: dict[str, Any] | None
) -> list[ForecastComponent] | None:
    """A forecast block's ``components``: per period, each part rounded to the cent and the trend
    the rest, so that they add up to the published (rounded, clipped at 0) forecast to the cent.
    The trend so also carries what clipping a negative forecast to 0 took away. None stays None."""
    if parts is None:
        return None
    forecast = np.asarray(forecast, dtype=float)
    names = [n for n in COMPONENT_NAMES if n != "trend" and n in parts]
    cents = {n: np.rint(np.asarray(parts[n], dtype=float) * 100).astype(np.int64) for n in names}
    total = np.rint(forecast * 100).astype(np.int64)
    trend = total - sum((cents[n] for n in names), np.zeros_like(total))
    return [
        ForecastComponent(period=p, trend=int(trend[k]) / 100, **{n: int(cents[n][k]) / 100 for n in names})
        for k, p in enumerate(periods)
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def series_actual(frequency: Frequency | str, periods: Sequence[str], values: Sequence[float]) -> list[dict[str, Any]]:
    """A grouped series' ``actual``: ``{"period", "value"}`` per complete period (weekly: ``start`` too)."""
    f = Frequency(frequency)
    weekly = f is Frequency.WEEK
    return [
        SeriesPoint(
            period=p, start=calendar.period_start(calendar.parse_label(p, f), f) if weekly else None, value=r2(v)
        ).model_dump(mode="json")
        for p, v in zip(periods, values)
    ]


def actual_sales(
    frequency: Frequency | str, periods: Sequence[str], values: Sequence[float], counts: Sequence[int]
) -> list[dict[str, Any]]:
    """``actual_sales``: complete periods, oldest first (weekly entries carry their Monday)."""
    f = Frequency(frequency)
    out = []
    for p, v, c in zip(periods, values, counts):
        i = calendar.parse_label(p, f)
        out.append(
            ActualSale(
                month=calendar.short_label(i, f),
                period=p,
                start=calendar.period_start(i, f) if f is Frequency.WEEK else None,
                total_sales=r2(v),
                transaction_count=int(c),
            ).model_dump(mode="json")
        )
    return out


def result_document(
    frequency: Frequency | str,
    periods: Sequence[str],
    values: Sequence[float],
    counts: Sequence[int],
    forecast: dict[str, Any],
    data_quality: dict[str, Any],
    *,
    task_id: str | None,
    fingerprint: str,
    cached: bool,
    source: str,
    anomalies: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The result document of a series (docs/api.md §5), validated against the published schema:
    a document that breaks the contract fails here, loudly."""
    document = {
        "status": "success",
        "data": {
            "actual_sales": actual_sales(frequency, periods, values, counts),
            "forecast": forecast,
            "anomalies": list(anomalies),
            "data_quality": data_quality,
            "meta": {
                "task_id": task_id,
                "data_fingerprint": fingerprint,
                "model_version": MODEL_VERSION,
                "generated_at": datetime.now(dt_timezone.utc).isoformat(),
                "cached": cached,
                "source": source,
            },
        },
    }
    return ResultDocument.model_validate(document).to_json_dict()
