"""fetch -> aggregate -> train -> backtest -> predict: one forecast, as a plain function.

The Celery task and the command line are thin adapters over :func:`run_forecast`. It reports its
stage through a callback, reuses signed fitted models while the monthly series is unchanged, and
reuses a cached forecast for the same series and parameters. It is handed a request resolved where
it entered the service (:meth:`ForecastRequest.resolved`: the web tier, the task, the command line).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

import numpy as np

from shared.contract import calendar, clock
from shared.contract.calendar import Frequency
from shared.contract.config import Settings
from shared.contract.errors import InsufficientHistory
from shared.contract.schema import STAGE_PERCENT, ForecastRequest, SeriesInventory, Stage
from shared.engine import inventory as inventory_engine
from shared.engine.aggregate import PeriodSeries, aggregate, from_first_sale
from shared.engine.anomalies import find_anomalies, known_periods
from shared.engine.backtest import BacktestReport, rolling_origin_backtest
from shared.engine.effects import Effects, request_effects
from shared.engine.frequency_models import make_model as model_for  # every frequency's models: the seam
from shared.engine.model_store import ModelStore
from shared.engine.models import MODEL_VERSION, season_length_for
from shared.engine.result import forecast_block, horizon_effects, pct_change, result_document  # noqa: F401 (pct_change: re-exported)
from shared.sources.deadline import Deadline
from shared.sources.laravel_client import LaravelClient
from shared.sources.transactions import TransactionColumns

log = logging.getLogger(__name__)

MIN_COMPLETE_MONTHS = calendar.SPECS[Frequency.MONTH].min_history
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
    ) -> TransactionColumns:
        """The transactions from ``start`` to ``end`` with ``status``, as columns; ``on_page(pages fetched, last page)``
        follows the paging, ``deadline`` bounds the time and sees a cancel."""


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
        """Every page of the Laravel sales API over the window, through the client's retries and the job's deadline."""
        return self.client.fetch_sales(start, end, status=status, on_page=on_page, deadline=deadline)


class StaticSource:
    """Transactions already in memory (a CSV file)."""

    def __init__(self, columns: TransactionColumns, name: str) -> None:
        self.columns = columns
        self.name = name

    def fetch(self, start, end, status, on_page=None, deadline=None) -> TransactionColumns:
        """The transactions given at construction; the window, status and paging arguments are not used."""
        return self.columns


class ResultCache(Protocol):
    """Where finished result documents are kept by request key, so an identical request is answered
    without forecasting again (Redis in workers)."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The document kept under ``key``, or None."""

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Keep ``value`` under ``key`` for later identical requests."""


@dataclass
class FittedBundle:
    """What is persisted per (series, model): the fitted model and its backtests by level."""

    model: Any
    backtests: dict[float, BacktestReport]


def series_key(series: PeriodSeries, request: ForecastRequest) -> str:
    """Identifies a fitted model: the series (its periods, to the cent) and the model's name; for
    weekly and daily ones also what their regressors are made of (holidays, events, the horizon
    their columns were laid out over)."""
    cents = np.round(series.totals * 100).astype(np.int64)
    # The period labels already tell the frequencies apart.
    effects = (
        {"horizon": request.horizon, **{k: v for k, v in request.cache_params().items() if k in ("holidays", "events")}}
        if series.frequency is not Frequency.MONTH
        else {}
    )
    blob = json.dumps(
        {"periods": series.periods, "cents": cents.tolist(), "model": request.model, "version": MODEL_VERSION, **effects},
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def data_fingerprint(series: PeriodSeries, request: ForecastRequest) -> str:
    """A hash of the monthly series and the parameters: the result cache's key."""
    # The dates only choose which months are fetched, and the series already says which those
    # are: leaving them out lets a request on the 2nd reuse the refresh computed on the 1st.
    params = {k: v for k, v in request.cache_params().items() if k not in ("start_date", "end_date")}
    blob = json.dumps(
        {"series": series_key(series, request), "params": params},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def check_history(periods: list[str], request: ForecastRequest, what: str = "sales") -> None:
    """Raise :class:`InsufficientHistory` unless there are the frequency's minimum of complete
    periods (3; 28 days) from the first sale on, whatever window was asked for (docs/api.md §5, §10)."""
    spec = calendar.spec(request.frequency)
    need, noun = spec.min_history, spec.noun
    if len(periods) >= need:
        return
    window = f"between {request.start_date} and {request.end_date}"
    if not periods:
        raise InsufficientHistory(
            f"no complete {noun} with a sale {window}; at least {need} complete {noun}s "
            "from the first sale on are needed"
        )
    raise InsufficientHistory(
        f"{len(periods)} complete {noun}(s) of {what} from the first sale ({periods[0]}) "
        f"to {periods[-1]}, {window}; at least {need} are needed"
    )


def _fit_bundle(
    series: PeriodSeries,
    request: ForecastRequest,
    store: ModelStore | None,
    progress: ProgressCallback,
) -> FittedBundle:
    """The stored fit for this series when there is one (not on refresh), else a new one, stored."""
    key = series_key(series, request)
    bundle = store.load(key, MODEL_VERSION) if store and not request.refresh else None
    changed = False
    effects = _effects(series, request)
    X = None if effects is None else effects.X[: len(series)]
    if not isinstance(bundle, FittedBundle):
        progress(Stage.TRAINING, STAGE_PERCENT[Stage.TRAINING])
        model = model_for(request.model, series.frequency, effects=effects, season_length=season_length_for(series.frequency))
        fitted = model.fit(series.totals) if X is None else model.fit(series.totals, X)
        bundle = FittedBundle(model=fitted, backtests={})
        changed = True
    level = float(request.level)
    if level not in bundle.backtests:
        progress(Stage.BACKTESTING, STAGE_PERCENT[Stage.BACKTESTING])
        bundle.backtests[level] = rolling_origin_backtest(
            series.totals, request.model, level=level, max_origins=BACKTEST_ORIGINS,
            season_length=season_length_for(series.frequency),
            **({} if series.frequency is Frequency.MONTH else {"frequency": str(series.frequency), "X": X, "effects": effects}),
        )
        changed = True
    if store and changed:
        try:
            store.save(key, MODEL_VERSION, bundle)
        except OSError as exc:  # a read-only or full disk costs a re-fit next time, not the job
            log.warning("could not store fitted model: %s", exc)
    return bundle


def _effects(series: PeriodSeries, request: ForecastRequest) -> Effects | None:
    """A weekly or daily series' known effects over its history and the horizon (monthly models
    take none: their holidays only name the horizon's entries)."""
    if series.frequency is Frequency.MONTH or not series.periods:
        return None
    first = calendar.parse_label(series.periods[0], series.frequency)
    return request_effects(series.frequency, first, len(series) + request.horizon, request.holidays, request.events)


def _forecast_block(series: PeriodSeries, request: ForecastRequest, bundle: FittedBundle) -> dict[str, Any]:
    level = float(request.level)
    effects = _effects(series, request)
    if effects is None:
        prediction = bundle.model.predict(request.horizon, level=level)
    else:
        prediction = bundle.model.predict(request.horizon, level=level, X_future=effects.X[len(series) :])
    return forecast_block(
        frequency=series.frequency,
        history=series.totals,
        last_period=series.periods[-1],
        mean=prediction.mean,
        low=prediction.low,
        high=prediction.high,
        level=level,
        model=getattr(bundle.model, "description_", request.model),
        metrics=bundle.backtests[level].to_dict(),
        effects=horizon_effects(request, series.periods[-1], request.horizon),
        components=prediction.components,
    )


def _inventory_block(series: PeriodSeries, request: ForecastRequest, bundle: FittedBundle) -> dict[str, Any]:
    """The total's §12 figures (in the job's measure), calibrated on its own earlier backtest origins
    and judged at up to 12 later ones (:func:`inventory_engine.calibrate_level`). The total is not a
    product: no stock figures. Weekly and daily models are refitted at each origin with the
    known-effect rows of its periods."""
    settings = request.inventory
    assert settings is not None
    effects = _effects(series, request)
    season = season_length_for(series.frequency)

    def unfitted() -> Any:
        return model_for(request.model, series.frequency, effects=effects, season_length=season)

    if effects is None:
        fit = lambda history: unfitted().fit(history)  # noqa: E731
        fitted = bundle.model
    else:
        fit = inventory_engine.regressor_fit(unfitted, effects.X)
        fitted = inventory_engine.WithRegressors(bundle.model, effects.X[len(series) :])
    raw = inventory_engine.series_inventory("model", series.totals, settings, fit, fitted=fitted, level_size=1)
    (block,), calibration = inventory_engine.calibrate_level([raw], whole=False)
    assert block is not None
    block.pop("covered")
    return {**block, **calibration, "lead_time": settings.lead_time, "review_period": settings.review_period}


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
    request = request.require_resolved()

    report_progress(Stage.FETCHING, STAGE_PERCENT[Stage.FETCHING])

    def on_page(done: int, last: int | None) -> None:
        span = STAGE_PERCENT[Stage.AGGREGATING] - STAGE_PERCENT[Stage.FETCHING]
        fraction = done / last if last else 1 - 1 / (1 + done / 10)  # unknown total: creep towards the end
        report_progress(Stage.FETCHING, STAGE_PERCENT[Stage.FETCHING] + int(span * min(fraction, 1.0)))

    columns = source.fetch(request.start_date, request.end_date, request.status, on_page, deadline)

    report_progress(Stage.AGGREGATING, STAGE_PERCENT[Stage.AGGREGATING])
    series = from_first_sale(
        aggregate(
            columns, frequency=request.frequency, timezone=timezone, today=today,
            start_date=request.start_date, end_date=request.end_date,
        )
    )
    check_history(series.periods, request)
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

    document = result_document(
        series.frequency, series.periods, series.totals, series.counts, forecast, series.data_quality,
        task_id=task_id, fingerprint=fingerprint, cached=cached, source=source.name,
        anomalies=find_anomalies(
            series.totals, series.periods, calendar.spec(series.frequency).season_length,
            known_periods(request, series.periods),
        ),
    )
    if inventory is not None:
        document["data"]["inventory"] = SeriesInventory.model_validate(inventory).model_dump(mode="json")
    return document
