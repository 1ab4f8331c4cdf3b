"""Grouped forecasts (docs/api.md §8): fetch sale lines → panel → base forecasts → reconcile → documents.

:func:`run_grouped_forecast` is the whole job in one process (the command line, tests). The steps
it calls are the pure functions of :mod:`shared.engine.panel` and :mod:`shared.engine.hierarchy`; a job service
can run :func:`shared.engine.hierarchy.forecast_chunk` on chunks in parallel and hand the collected results
to :func:`assemble`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Protocol, Sequence
from urllib.parse import urlsplit

import numpy as np

from shared.contract import calendar, clock
from shared.contract.calendar import Frequency
from shared.contract.config import Settings
from shared.contract.metrics import model_accuracy, wape_from_sums
from shared.contract.protocol import series_csv_url, series_url
from shared.contract.schema import STAGE_PERCENT, ForecastRequest, Hierarchy, SeriesForecast, Stage
from shared.engine.anomalies import find_anomalies, known_periods
from shared.engine.effects import request_effects
from shared.engine.frequency_models import closed_columns
from shared.engine.hierarchy import Reconciled, Reconciliation, forecast_chunk, reconcile, series_inputs, series_metrics
from shared.engine.models import MODEL_VERSION, season_length_for
from shared.engine.panel import Panel, build_panel
from shared.engine.pipeline import ProgressCallback, check_history
from shared.engine.result import forecast_block, horizon_effects, result_document, series_actual
from shared.sources.deadline import Deadline
from shared.sources.laravel_client import LaravelClient
from shared.sources.lines import LineBuilder, LineColumns


class LineSource(Protocol):
    """Where sale lines come from: the Laravel API (LARAVEL_ITEMS_PATH), or a CSV file."""

    name: str

    def fetch_lines(
        self,
        start: date,
        end: date,
        status: str,
        group_fields: Sequence[str],
        on_page: Callable[[int, int | None], None] | None = None,
        deadline: Deadline | None = None,
    ) -> LineColumns: ...


class LaravelLineSource:
    """Sale lines from ``{LARAVEL_API_URL}{LARAVEL_ITEMS_PATH}`` with the sales client's paging and retries."""

    def __init__(
        self, client: LaravelClient, base_url: str, items_path: str = "/sales/items", max_series: int | None = None
    ) -> None:
        self.client = client
        self.items_path = items_path
        self.max_series = max_series
        parts = urlsplit(base_url)
        self.name = f"laravel:{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")

    @classmethod
    def from_settings(cls, settings: Settings) -> "LaravelLineSource":
        client = LaravelClient.from_settings(settings)
        return cls(client, settings.laravel_api_url, settings.laravel_items_path, settings.max_series)

    def fetch_lines(self, start, end, status, group_fields, on_page=None, deadline=None) -> LineColumns:
        builder = LineBuilder(group_fields, self.client.timezone, max_series=self.max_series)
        return self.client.fetch_pages(builder, start, end, status, on_page, path=self.items_path, deadline=deadline)


class StaticLineSource:
    """Lines read on demand by ``reader(group_fields)`` (a CSV file)."""

    def __init__(self, reader: Callable[[Sequence[str]], LineColumns], name: str) -> None:
        self.reader = reader
        self.name = name

    def fetch_lines(self, start, end, status, group_fields, on_page=None, deadline=None) -> LineColumns:
        return self.reader(group_fields)


@dataclass
class GroupedResult:
    """The §5 document for the total with ``data.hierarchy``, and every series (§8's series shape)."""

    document: dict[str, Any]
    series: list[dict[str, Any]]


# ------------------------------------------------------------------------------------ documents


def _forecast_block(
    panel: Panel, rec: Reconciled, i: int, level: float, metrics: dict[str, Any], effects: list[list[str]] | None
) -> dict[str, Any]:
    return forecast_block(
        frequency=panel.frequency,
        history=panel.history(i),
        last_period=panel.periods[-1],
        mean=rec.mean[i],
        low=rec.low[i],
        high=rec.high[i],
        level=level,
        model=rec.labels[i],
        metrics=metrics,
        effects=effects,
    )


def _level_accuracy(panel: Panel, rows: np.ndarray, rec: Reconciled, all_metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled WAPE over the level's holdout points, and the mean of the series' MASE and coverage."""
    T = panel.values.shape[1]
    abs_err = abs_act = 0.0
    for i in rows:
        bt = rec.backtests[int(i)]
        if bt:
            f = np.asarray(bt["forecast"])
            a = panel.values[int(i), T - f.size :]
            abs_err += float(np.abs(a - f).sum())
            abs_act += float(np.abs(a).sum())
    mases = [m["mase"] for m in (all_metrics[int(i)] for i in rows) if m["mase"] is not None]
    cover = [m["interval_coverage"] for m in (all_metrics[int(i)] for i in rows) if m["interval_coverage"] is not None]
    wape = wape_from_sums(abs_err, abs_act)
    accuracy = model_accuracy(wape)
    return {
        "wape": None if wape is None else round(wape, 2),
        "model_accuracy": None if accuracy is None else round(accuracy, 2),
        "mase": round(float(np.mean(mases)), 4) if mases else None,
        "interval_coverage": round(float(np.mean(cover)), 2) if cover else None,
        "backtested_series": int(sum(1 for i in rows if rec.backtests[int(i)])),
    }


def _coherent(panel: Panel, rec: Reconciled) -> bool:
    cents = np.rint(rec.mean * 100).astype(np.int64)
    sums = np.zeros_like(cents)
    rows = np.flatnonzero(panel.parent >= 0)
    np.add.at(sums, panel.parent[rows], cents[rows])
    parents = np.unique(panel.parent[rows])
    return bool(np.array_equal(sums[parents], cents[parents])) and bool(np.all(rec.mean >= 0))


def fingerprint(panel: Panel, request: ForecastRequest) -> str:
    """A hash of the panel (every series, to the cent) and the parameters."""
    h = hashlib.sha256()
    params = {k: v for k, v in request.cache_params().items() if k not in ("start_date", "end_date")}
    h.update(json.dumps({"params": params, "periods": panel.periods, "version": MODEL_VERSION}, sort_keys=True).encode())
    h.update(json.dumps(panel.keys, sort_keys=True).encode())
    h.update((panel.cents if panel.cents is not None else np.rint(panel.values * 1000).astype(np.int64)).tobytes())
    return h.hexdigest()[:40]


def assemble(
    panel: Panel,
    request: ForecastRequest,
    results: Sequence[dict[str, Any]],
    *,
    reconciliation: Reconciliation | str = Reconciliation.AUTO,
    task_id: str | None = None,
    source_name: str = "",
) -> GroupedResult:
    """Reconcile the collected base forecasts and build the documents (the fan-in step)."""
    rec = reconcile(panel, results, reconciliation)
    level = float(request.level)
    effects = horizon_effects(request, panel.periods[-1], request.horizon)
    season = season_length_for(panel.frequency)
    all_metrics = [series_metrics(panel, i, rec.backtests[i], season) for i in range(len(panel))]
    known = known_periods(request, panel.periods)
    series: list[dict[str, Any]] = []
    for i in range(len(panel)):
        s = int(panel.start[i])
        y = panel.values[i, s:]
        series.append(
            {
                "key": panel.keys[i],
                "level": int(panel.level[i]),
                "actual": series_actual(panel.frequency, panel.periods[s:], y),
                "forecast": _forecast_block(panel, rec, i, level, all_metrics[i], effects),
                "anomalies": find_anomalies(y, panel.periods[s:], season, known),
                "data_quality": {
                    "lines_used": int(panel.lines[i]),
                    "first_period": panel.periods[s] if s < len(panel.periods) else None,
                    "months": int(y.size),
                    "months_zero": int(np.count_nonzero(y == 0)),
                },
            }
        )

    levels = []
    for k in range(1, panel.n_levels):
        rows = panel.level_indices(k)
        levels.append({"fields": list(panel.group_by[:k]), "series": int(rows.size), **_level_accuracy(panel, rows, rec, all_metrics)})
    hierarchy = {
        "group_by": list(panel.group_by),
        "measure": panel.measure.value,
        "levels": levels,
        "series": len(panel),
        "reconciliation": rec.method,
        "coherent": _coherent(panel, rec),
        "series_url": series_url(task_id) if task_id else None,
        "csv_url": series_csv_url(task_id) if task_id else None,
    }

    s0 = int(panel.start[0])
    dq = dict(panel.data_quality)
    dq.pop("series", None)
    dq["leading_empty_months"] = panel.periods[:s0]
    dq["months_zero_filled"] = [p for p, c in zip(panel.periods[s0:], panel.total_orders[s0:]) if c == 0]
    document = result_document(
        panel.frequency, panel.periods[s0:], panel.values[0, s0:], panel.total_orders[s0:], series[0]["forecast"], dq,
        task_id=task_id, fingerprint=fingerprint(panel, request), cached=False, source=source_name,
        anomalies=series[0]["anomalies"],
    )
    document["data"]["hierarchy"] = Hierarchy.model_validate(hierarchy).model_dump(mode="json")
    series = [SeriesForecast.model_validate(s).model_dump(mode="json") for s in series]
    return GroupedResult(document=document, series=series)


def chunk_options(panel: Panel, request: ForecastRequest) -> dict[str, Any]:
    """The keyword arguments of :func:`shared.engine.hierarchy.forecast_chunk` for this job: the
    model, and for weekly and daily panels the frequency, the known effects over the panel's
    periods and the horizon (every series takes its rows from them), and which holidays and
    events close the shop, decided once on the total (a single product cannot tell)."""
    options: dict[str, Any] = {
        "horizon": request.horizon, "level": float(request.level), "model": request.model,
        "season_length": season_length_for(panel.frequency),
    }
    if panel.frequency is Frequency.MONTH:
        return options
    T = len(panel.periods)
    effects = None
    closed = None
    if T:
        first = calendar.parse_label(panel.periods[0], panel.frequency)
        effects = request_effects(panel.frequency, first, T + request.horizon, request.holidays, request.events)
    if effects is not None and len(panel) and panel.frequency is Frequency.DAY:
        s0 = int(panel.start[0])
        closed = closed_columns(panel.values[0, s0:], effects.X[s0:T], effects.closable)
    return {**options, "frequency": str(panel.frequency), "effects": effects, "closed": closed}


def fetch_panel(
    request: ForecastRequest,
    source: LineSource,
    *,
    timezone: str,
    today: date,
    report: ProgressCallback,
    deadline: Deadline | None = None,
) -> Panel:
    """Fetch the (resolved) request's sale lines once and build its panel, reporting the fetch
    page by page; InsufficientHistory when the total has too few complete periods from its first
    sale (3; 28 days)."""
    request = request.require_resolved()
    group_by = list(request.group_by or [])
    report(Stage.FETCHING, STAGE_PERCENT[Stage.FETCHING])

    def on_page(done: int, last: int | None) -> None:
        span = STAGE_PERCENT[Stage.AGGREGATING] - STAGE_PERCENT[Stage.FETCHING]
        fraction = done / last if last else 1 - 1 / (1 + done / 10)
        report(Stage.FETCHING, STAGE_PERCENT[Stage.FETCHING] + int(span * min(fraction, 1.0)))

    lines = source.fetch_lines(request.start_date, request.end_date, request.status, group_by, on_page, deadline=deadline)

    report(Stage.AGGREGATING, STAGE_PERCENT[Stage.AGGREGATING])
    panel = build_panel(
        lines, group_by, request.measure, timezone=timezone, today=today,
        start_date=request.start_date, end_date=request.end_date, frequency=request.frequency,
    )
    first = int(panel.start[0]) if len(panel) else len(panel.periods)
    check_history(panel.periods[first:], request, "sale lines")

    return panel


def run_grouped_forecast(
    request: ForecastRequest,
    source: LineSource,
    *,
    timezone: str = "UTC",
    today: date | None = None,
    task_id: str | None = None,
    progress: ProgressCallback | None = None,
    reconciliation: Reconciliation | str = Reconciliation.AUTO,
    chunk_size: int = Settings.chunk_size,
) -> GroupedResult:
    """The whole grouped job in this process: fetch, panel, forecast every series, reconcile."""
    report: ProgressCallback = progress or (lambda stage, percent: None)
    today = today or clock.today(timezone)
    panel = fetch_panel(request, source, timezone=timezone, today=today, report=report)

    items = series_inputs(panel)
    options = chunk_options(panel, request)
    results: list[dict[str, Any]] = []
    span = STAGE_PERCENT[Stage.PREDICTING] - STAGE_PERCENT[Stage.TRAINING]
    for lo in range(0, len(items), chunk_size):
        report(Stage.TRAINING, STAGE_PERCENT[Stage.TRAINING] + int(span * lo / max(len(items), 1)))
        results.extend(forecast_chunk(items[lo : lo + chunk_size], **options))
    report(Stage.PREDICTING, STAGE_PERCENT[Stage.PREDICTING])
    return assemble(panel, request, results, reconciliation=reconciliation, task_id=task_id, source_name=source.name)


# ------------------------------------------------------------------------------------ CSV


def series_csv(series: Sequence[dict[str, Any]], group_by: Sequence[str]) -> str:
    """One line per series and horizon period: level, the key fields, period, forecast, low, high.

    A key field the series' level does not have is empty; a null key is the text ``null``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["level", *group_by, "period", "forecast", "low", "high"])
    for s in series:
        key = s["key"]
        cells = [("null" if key[f] is None else key[f]) if f in key else "" for f in group_by]
        for point in s["forecast"]["horizon"]:
            writer.writerow([s["level"], *cells, point["period"], f"{point['forecast']:.2f}", f"{point['low']:.2f}", f"{point['high']:.2f}"])
    return out.getvalue()
