"""fetch -> aggregate -> train -> backtest -> predict: one forecast, as a plain function.

The Celery task and the command line are thin adapters over :func:`run_forecast`. It reports its
stage through a callback, reuses signed fitted models while the monthly series is unchanged, and
reuses a cached forecast for the same series and parameters.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from datetime import timezone as dt_timezone
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

import numpy as np

from shared.contract import clock
from shared.contract.config import Settings
from shared.contract.errors import InsufficientHistory
from shared.contract.schema import STAGE_PERCENT, ForecastRequest, ResultDocument, Stage, month_label
from shared.engine import inventory as inventory_engine
from shared.engine.aggregate import MonthlySeries, aggregate_monthly, from_first_sale
from shared.engine.backtest import BacktestReport, model_accuracy, rolling_origin_backtest
from shared.engine.model_store import ModelStore
from shared.engine.models import MODEL_VERSION, make_model
from shared.sources.deadline import Deadline
from shared.sources.laravel_client import LaravelClient
from shared.sources.transactions import TransactionColumns

log = logging.getLogger(__name__)

MIN_COMPLETE_MONTHS = 3
BACKTEST_ORIGINS = 12  # one-step-ahead forecasts over the last year: enough to estimate WAPE


ProgressCallback = Callable[[Stage, int], None]


class SalesSource(Protocol):
    """Where transactions come from: the Laravel API, or a CSV file for the command line."""

    name: str

    def fetch(
        self,
        start: date,
        end: date,
        status: str,
        on_page: Callable[[int, int | None], None] | None,
        deadline: Deadline | None = None,
    ) -> TransactionColumns: ...


class LaravelSource:
    """The Laravel REST API (docs/api.md §3)."""

    def __init__(self, client: LaravelClient, base_url: str) -> None:
        self.client = client
        # Only scheme and host: the URL may carry credentials and must not reach documents or logs.
        parts = urlsplit(base_url)
        self.name = f"laravel:{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")

    @classmethod
    def from_settings(cls, settings: Settings) -> "LaravelSource":
        """The source LARAVEL_API_URL and its companions describe (the URL must be set)."""
        client = LaravelClient.from_settings(settings)
        return cls(client, settings.laravel_api_url)

    def fetch(self, start, end, status, on_page=None, deadline=None) -> TransactionColumns:
        return self.client.fetch_sales(start, end, status=status, on_page=on_page, deadline=deadline)


class StaticSource:
    """Transactions already in memory (a CSV file)."""

    def __init__(self, columns: TransactionColumns, name: str) -> None:
        self.columns = columns
        self.name = name

    def fetch(self, start, end, status, on_page=None, deadline=None) -> TransactionColumns:
        return self.columns


class ResultCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...


@dataclass
class FittedBundle:
    """What is persisted per (series, model): the fitted model and its backtests by level."""

    model: Any
    backtests: dict[float, BacktestReport]


def series_key(series: MonthlySeries, model: str) -> str:
    """Identifies a fitted model: the monthly series (to the cent) and the model's name."""
    cents = np.round(series.totals * 100).astype(np.int64)
    blob = json.dumps(
        {"periods": series.periods, "cents": cents.tolist(), "model": model, "version": MODEL_VERSION},
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def data_fingerprint(series: MonthlySeries, request: ForecastRequest) -> str:
    """A hash of the monthly series and the parameters: the result cache's key."""
    # The dates only choose which months are fetched, and the series already says which those
    # are: leaving them out lets a request on the 2nd reuse the refresh computed on the 1st.
    params = {k: v for k, v in request.cache_params().items() if k not in ("start_date", "end_date")}
    blob = json.dumps(
        {"series": series_key(series, request.model), "params": params},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def pct_change(new: float, old: float) -> float | None:
    if old == 0:
        return None
    return round((new - old) / abs(old) * 100.0, 2)


def next_periods(last_period: str, h: int) -> list[str]:
    year, month = int(last_period[:4]), int(last_period[5:7])
    out = []
    for step in range(1, h + 1):
        index = year * 12 + month - 1 + step
        out.append(f"{index // 12:04d}-{index % 12 + 1:02d}")
    return out


def check_history(series: MonthlySeries, request: ForecastRequest) -> None:
    """Raise :class:`InsufficientHistory` unless ``series`` has MIN_COMPLETE_MONTHS complete months
    from its first sale on, whatever window was asked for (docs/api.md §5)."""
    if len(series.periods) >= MIN_COMPLETE_MONTHS:
        return
    window = f"between {request.start_date} and {request.end_date}"
    if not series.periods:
        raise InsufficientHistory(
            f"no complete month with a sale {window}; at least {MIN_COMPLETE_MONTHS} complete months "
            "from the first sale on are needed"
        )
    raise InsufficientHistory(
        f"{len(series.periods)} complete month(s) of sales from the first sale ({series.periods[0]}) "
        f"to {series.periods[-1]}, {window}; at least {MIN_COMPLETE_MONTHS} are needed"
    )


def _fit_bundle(
    series: MonthlySeries,
    request: ForecastRequest,
    store: ModelStore | None,
    progress: ProgressCallback,
) -> FittedBundle:
    """The stored fit for this series when there is one (not on refresh), else a new one, stored."""
    key = series_key(series, request.model)
    bundle = store.load(key, MODEL_VERSION) if store and not request.refresh else None
    changed = False
    if not isinstance(bundle, FittedBundle):
        progress(Stage.TRAINING, STAGE_PERCENT[Stage.TRAINING])
        bundle = FittedBundle(model=make_model(request.model).fit(series.totals), backtests={})
        changed = True
    level = float(request.level)
    if level not in bundle.backtests:
        progress(Stage.BACKTESTING, STAGE_PERCENT[Stage.BACKTESTING])
        bundle.backtests[level] = rolling_origin_backtest(
            series.totals, request.model, level=level, max_origins=BACKTEST_ORIGINS
        )
        changed = True
    if store and changed:
        try:
            store.save(key, MODEL_VERSION, bundle)
        except OSError as exc:  # a read-only or full disk costs a re-fit next time, not the job
            log.warning("could not store fitted model: %s", exc)
    return bundle


def _forecast_block(series: MonthlySeries, request: ForecastRequest, bundle: FittedBundle) -> dict[str, Any]:
    level = float(request.level)
    prediction = bundle.model.predict(request.horizon, level=level)
    mean = np.maximum(np.asarray(prediction.mean, dtype=float), 0.0)
    low = np.maximum(np.asarray(prediction.low, dtype=float), 0.0)
    high = np.maximum(np.asarray(prediction.high, dtype=float), mean)
    low = np.minimum(low, mean)
    periods = next_periods(series.periods[-1], request.horizon)
    report = bundle.backtests[level]
    accuracy = model_accuracy(report)
    last = float(series.totals[-1])
    previous = float(series.totals[-2])
    return {
        "next_month_forecast": round(float(mean[0]), 2),
        "confidence_level": level,
        "expected_range_low": round(float(low[0]), 2),
        "expected_range_high": round(float(high[0]), 2),
        "growth_rate": pct_change(last, previous),
        "model_accuracy": None if accuracy is None else round(accuracy, 2),
        "period": periods[0],
        "model": getattr(bundle.model, "description_", request.model),
        "forecast_growth_rate": pct_change(float(mean[0]), last),
        "horizon": [
            {"period": p, "forecast": round(float(m), 2), "low": round(float(lo), 2), "high": round(float(hi), 2)}
            for p, m, lo, hi in zip(periods, mean, low, high)
        ],
        "metrics": report.to_dict(),
    }


def _inventory_block(series: MonthlySeries, request: ForecastRequest, bundle: FittedBundle) -> dict[str, Any]:
    """The total's §12 figures (in the job's measure), with the achieved service level measured at
    up to BACKTEST_ORIGINS past origins. The total is not a product: no stock figures."""
    settings = request.inventory
    assert settings is not None

    def fit(y: np.ndarray) -> Any:
        return make_model(request.model).fit(y)

    block = inventory_engine.series_inventory(
        "model", series.totals, settings, fit, whole=False, fitted=bundle.model, origins=BACKTEST_ORIGINS
    )
    block.pop("covered")
    return {**block, "lead_time": settings.lead_time, "review_period": settings.review_period}


def check_inventory_history(n: int, request: ForecastRequest) -> None:
    """InsufficientHistory when ``n`` periods of history cannot support the request's inventory."""
    if request.inventory is None:
        return
    problem = inventory_engine.check_supported(n, request.inventory.periods)
    if problem:
        raise InsufficientHistory(f"inventory: {problem}")


def run_forecast(
    request: ForecastRequest,
    source: SalesSource,
    *,
    timezone: str = "UTC",
    today: date | None = None,
    task_id: str | None = None,
    model_store: ModelStore | None = None,
    cache: ResultCache | None = None,
    progress: ProgressCallback | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Run one forecast and return the result document of docs/api.md §5 as JSON-safe data.

    ``deadline`` bounds the time spent fetching (LARAVEL_DEADLINE_SECONDS); none: no bound.
    """
    report_progress: ProgressCallback = progress or (lambda stage, percent: None)
    today = today or clock.today(timezone)
    request = request.resolved(today)

    report_progress(Stage.FETCHING, STAGE_PERCENT[Stage.FETCHING])

    def on_page(done: int, last: int | None) -> None:
        span = STAGE_PERCENT[Stage.AGGREGATING] - STAGE_PERCENT[Stage.FETCHING]
        fraction = done / last if last else 1 - 1 / (1 + done / 10)  # unknown total: creep towards the end
        report_progress(Stage.FETCHING, STAGE_PERCENT[Stage.FETCHING] + int(span * min(fraction, 1.0)))

    columns = source.fetch(request.start_date, request.end_date, request.status, on_page, deadline)

    report_progress(Stage.AGGREGATING, STAGE_PERCENT[Stage.AGGREGATING])
    series = from_first_sale(
        aggregate_monthly(
            columns, timezone=timezone, today=today, start_date=request.start_date, end_date=request.end_date
        )
    )
    check_history(series, request)
    check_inventory_history(len(series.periods), request)

    fingerprint = data_fingerprint(series, request)
    forecast = cache.get(fingerprint) if cache is not None and not request.refresh else None
    cached = forecast is not None
    inventory = None
    if forecast is None:
        bundle = _fit_bundle(series, request, model_store, report_progress)
        report_progress(Stage.PREDICTING, STAGE_PERCENT[Stage.PREDICTING])
        forecast = _forecast_block(series, request, bundle)
        if request.inventory is not None:
            inventory = _inventory_block(series, request, bundle)
        if cache is not None:
            cache.set(fingerprint, forecast if inventory is None else {**forecast, "inventory": inventory})
    elif "inventory" in forecast:  # cached with its inventory (the fingerprint covers the request's)
        forecast = dict(forecast)
        inventory = forecast.pop("inventory")

    document = {
        "status": "success",
        "data": {
            "actual_sales": [
                {"month": month_label(p), "period": p, "total_sales": round(float(t), 2), "transaction_count": int(c)}
                for p, t, c in zip(series.periods, series.totals, series.counts)
            ],
            "forecast": forecast,
            "data_quality": series.data_quality,
            **({"inventory": inventory} if inventory is not None else {}),
            "meta": {
                "task_id": task_id,
                "data_fingerprint": fingerprint,
                "model_version": MODEL_VERSION,
                "generated_at": datetime.now(dt_timezone.utc).isoformat(),
                "cached": cached,
                "source": source.name,
            },
        },
    }
    # Validate against the published schema: a document that breaks the contract fails here, loudly.
    return ResultDocument.model_validate(document).to_json_dict()
