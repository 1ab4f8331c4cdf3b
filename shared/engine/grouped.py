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
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Callable, Protocol, Sequence
from urllib.parse import urlsplit

import numpy as np

from shared.contract import calendar, clock
from shared.contract.calendar import Frequency
from shared.contract.config import Settings
from shared.contract.metrics import model_accuracy, wape_from_sums
from shared.contract.protocol import inventory_csv_url, series_csv_url, series_url
from shared.contract.schema import (
    INVENTORY_COLUMNS,
    STAGE_PERCENT,
    ForecastRequest,
    Hierarchy,
    SeriesForecast,
    SeriesInventory,
    Stage,
    inventory_cell,
)
from shared.contract.series_documents import SeriesDocuments
from shared.engine import inventory as inventory_engine
from shared.engine.anomalies import find_anomalies, known_periods
from shared.engine.effects import request_effects
from shared.engine.frequency_models import closed_columns
from shared.engine.hierarchy import (
    Reconciled,
    Reconciliation,
    forecast_chunk,
    reconcile,
    series_inputs,
    series_metrics,
    share_of_parent,
)
from shared.engine.models import MODEL_VERSION, season_length_for
from shared.engine.panel import Panel, build_panel
from shared.engine.pipeline import ProgressCallback, check_history, check_inventory_history
from shared.engine.result import forecast_block, horizon_effects, result_document, series_actual
from shared.sources.deadline import Deadline
from shared.sources.laravel_client import LaravelClient
from shared.sources.lines import LineBuilder, LineColumns
from shared.sources.stock import KEY_FIELDS, Stock, fetch_stock

FINGERPRINT_ROWS = 1000  # panel rows hashed at a time by fingerprint()


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
    ) -> LineColumns:
        """The sale lines of sales from ``start`` to ``end`` with ``status``, carrying ``group_fields``;
        ``on_page(pages fetched, last page)`` follows the paging, ``deadline`` bounds the time and sees a cancel.
        The caller owns what it gets: :func:`fetch_panel` lets go of each column as the panel is built."""


class LaravelLineSource:
    """Sale lines from ``{LARAVEL_API_URL}{LARAVEL_ITEMS_PATH}`` with the sales client's paging and retries."""

    def __init__(
        self, client: LaravelClient, base_url: str, items_path: str = "/sales/items", stock_path: str = "/stock",
        max_series: int | None = None,
    ) -> None:
        self.client = client
        self.items_path = items_path
        self.stock_path = stock_path
        self.max_series = max_series
        parts = urlsplit(base_url)
        self.name = f"laravel:{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")

    @classmethod
    def from_settings(cls, settings: Settings) -> "LaravelLineSource":
        """The line source that LARAVEL_API_URL, LARAVEL_ITEMS_PATH, LARAVEL_STOCK_PATH and MAX_SERIES describe."""
        client = LaravelClient.from_settings(settings)
        return cls(client, settings.laravel_api_url, settings.laravel_items_path, settings.laravel_stock_path,
                   settings.max_series)

    def fetch_lines(self, start, end, status, group_fields, on_page=None, deadline=None) -> LineColumns:
        """Every page of sale lines in the window, parsed into columns as they arrive; more than MAX_SERIES
        distinct series stops the fetch (``payload_too_large``)."""
        builder = LineBuilder(group_fields, self.client.timezone, max_series=self.max_series)
        return self.client.fetch_pages(builder, start, end, status, on_page, path=self.items_path, deadline=deadline)

    def fetch_stock(self, today: date, deadline: Deadline | None = None) -> Stock:
        """The stock at ``{LARAVEL_API_URL}{LARAVEL_STOCK_PATH}`` (docs/api.md §12); absent on a 404."""
        return fetch_stock(self.client, self.stock_path, today=today, deadline=deadline)


class StaticLineSource:
    """Lines read on demand by ``reader(group_fields)`` (a CSV file), and optionally stock."""

    def __init__(self, reader: Callable[[Sequence[str]], LineColumns], name: str, stock: Stock | None = None) -> None:
        self.reader = reader
        self.name = name
        self.stock = stock

    def fetch_stock(self, today: date, deadline: Deadline | None = None) -> Stock:
        """The stock given at construction, or an absent one (no stock endpoint) when none was."""
        return self.stock if self.stock is not None else Stock.absent()

    def fetch_lines(self, start, end, status, group_fields, on_page=None, deadline=None) -> LineColumns:
        """The lines ``reader`` reads for ``group_fields``; the window, status and paging arguments are not used.
        Its own columns object each time (the arrays shared): the caller may let go of them."""
        lines = self.reader(group_fields)
        return replace(lines, codes=dict(lines.codes))


@dataclass
class GroupedResult:
    """The §5 document for the total with ``data.hierarchy``, and every series (§8's series shape;
    :func:`assemble` gives them packed, :class:`SeriesDocuments`)."""

    document: dict[str, Any]
    series: Sequence[dict[str, Any]]


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
        components=rec.components[i] if rec.components else None,
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
    # The same bytes as the whole array's, a block of rows at a time: a daily panel's int64 copy
    # would otherwise be made whole, several times over (values × 1000, rint, astype, tobytes).
    for lo in range(0, len(panel), FINGERPRINT_ROWS):
        rows = slice(lo, lo + FINGERPRINT_ROWS)
        block = panel.cents[rows] if panel.cents is not None else np.rint(panel.values[rows] * 1000).astype(np.int64)
        h.update(block.tobytes())
    return h.hexdigest()[:40]


def assemble(
    panel: Panel,
    request: ForecastRequest,
    results: Sequence[dict[str, Any]],
    *,
    reconciliation: Reconciliation | str = Reconciliation.AUTO,
    task_id: str | None = None,
    source_name: str = "",
    stock: Stock | None = None,
) -> GroupedResult:
    """Reconcile the collected base forecasts and build the documents (the fan-in step)."""
    rec = reconcile(panel, results, reconciliation)
    level = float(request.level)
    effects = horizon_effects(request, panel.periods[-1], request.horizon)
    season = season_length_for(panel.frequency)
    all_metrics = [series_metrics(panel, i, rec.backtests[i], season) for i in range(len(panel))]
    inventories, calibration = _inventories(panel, results, stock) if request.inventory is not None else (None, [])
    known = known_periods(request, panel.periods)
    # Each series is validated and packed as soon as it is built (SeriesDocuments): the fan-in's
    # memory then grows by a series' compressed JSON, not by its dicts (docs/scaling.md §2).
    series = SeriesDocuments()
    first: dict[str, Any] = {}  # the total's, as built: the job's document reuses its parts
    for i in range(len(panel)):
        s = int(panel.start[i])
        y = panel.values[i, s:]
        built = (
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
                **({"inventory": _public(inventories[i])} if inventories and inventories[i] else {}),
            }
        )
        if i == 0:
            first = built
        series.append(SeriesForecast.model_validate(built).model_dump(mode="json"))

    levels = []
    for k in range(1, panel.n_levels):
        rows = panel.level_indices(k)
        levels.append({"fields": list(panel.group_by[:k]), "series": int(rows.size), **_level_accuracy(panel, rows, rec, all_metrics)})
        if inventories is not None:
            levels[-1].update(_level_service(inventories, rows), **calibration[k])
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
    if inventories is not None:
        hierarchy["inventory"] = {
            **request.inventory.model_dump(mode="json"),  # type: ignore[union-attr]
            **_level_service(inventories, np.arange(len(panel))),
            "csv_url": inventory_csv_url(task_id) if task_id else None,
        }

    s0 = int(panel.start[0])
    dq = dict(panel.data_quality)
    dq.pop("series", None)
    dq["leading_empty_months"] = panel.periods[:s0]
    dq["months_zero_filled"] = [p for p, c in zip(panel.periods[s0:], panel.total_orders[s0:]) if c == 0]
    if inventories is not None:
        dq["stock"] = _stock_quality(panel, stock, inventories)
    document = result_document(
        panel.frequency, panel.periods[s0:], panel.values[0, s0:], panel.total_orders[s0:], first["forecast"], dq,
        task_id=task_id, fingerprint=fingerprint(panel, request), cached=False, source=source_name,
        anomalies=first["anomalies"],
    )
    if inventories is not None and inventories[0]:  # the total's own figures, with the request's settings
        total = {**_public(inventories[0]), **calibration[0], **request.inventory.model_dump(mode="json")}  # type: ignore[union-attr]
        document["data"]["inventory"] = SeriesInventory.model_validate(total).model_dump(mode="json")
    document["data"]["hierarchy"] = Hierarchy.model_validate(hierarchy).model_dump(mode="json")
    return GroupedResult(document=document, series=series)


# ------------------------------------------------------------------------------------ inventory


def _inventories(
    panel: Panel, results: Sequence[dict[str, Any]], stock: Stock | None
) -> tuple[list[dict[str, Any] | None], list[dict[str, Any]]]:
    """Every series' §12 figures, and each level's calibration (0 = the total). A series with
    levels of its own gets them calibrated with its level (:func:`inventory_engine.calibrate_level`);
    the others, their parent's times their share (parents come first in a panel). Then, for
    product series Laravel's stock lists, the stock and the suggested order."""
    by_index = {int(r["index"]): r.get("inventory") for r in results}
    own: list[dict[str, Any] | None] = [by_index.get(i) for i in range(len(panel))]
    calibration = []
    for k in range(panel.n_levels):
        rows = panel.level_indices(k)
        published, summary = inventory_engine.calibrate_level([own[int(i)] for i in rows], whole=True)
        for i, block in zip(rows, published):
            own[int(i)] = block
        calibration.append(summary)
    out: list[dict[str, Any] | None] = []
    for i in range(len(panel)):
        figures = own[i]
        if figures is None and i > 0:
            parent = out[int(panel.parent[i])]
            figures = inventory_engine.scaled_inventory(parent, share_of_parent(panel, i), whole=True) if parent else None
        if figures is not None and stock is not None and stock.served:
            found = stock.find(panel.keys[i])
            if found is not None and found[1] is not None:
                row = found[1]
                figures = {
                    **figures,
                    "on_hand": row.on_hand,
                    "on_order": row.on_order,
                    "suggested_order": inventory_engine.suggested_order(
                        figures["order_up_to"], row.on_hand, row.on_order, row.min_order, row.pack_size
                    ),
                }
        out.append(figures)
    return out, calibration


def _public(inventory: dict[str, Any]) -> dict[str, Any]:
    """A series' inventory as published: its backtest's outcomes stay behind."""
    return {k: v for k, v in inventory.items() if k != "covered"}


def _level_service(inventories: Sequence[dict[str, Any] | None], rows: np.ndarray) -> dict[str, Any]:
    """The achieved service level pooled over the series ``rows`` (each series' origins)."""
    return inventory_engine.pooled([(inventories[int(i)] or {}).get("covered") or [] for i in rows])


def _stock_quality(panel: Panel, stock: Stock | None, inventories: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """``data_quality.stock``: what the stock endpoint gave, and how many product series it listed."""
    keyed = [i for i in range(len(panel)) if any(f in panel.keys[i] for f in KEY_FIELDS)]
    field = next((f for f in KEY_FIELDS if f in panel.group_by), None)
    if stock is None or field is None:
        return {"served": None, "key": None, "series_listed": 0, "series_unlisted": len(keyed),
                "note": "no product_id or sku among group_by: stock is not read"}
    listed = sum(1 for i in keyed if inventories[i] is not None and inventories[i].get("on_hand") is not None)
    quality = {**stock.quality(), "key": field, "series_listed": listed, "series_unlisted": len(keyed) - listed}
    if not stock.served:
        quality["note"] = "Laravel has no stock endpoint (404): on_hand, on_order and suggested_order are null"
    elif len(keyed) - listed:
        quality["note"] = "series the stock does not list have null on_hand, on_order and suggested_order"
    return quality


def stock_for(request: ForecastRequest, source: Any, today: date, deadline: Deadline | None = None) -> Stock | None:
    """The stock a grouped job with inventory needs: read when a group_by field is product_id or sku
    and the source can serve stock; None otherwise."""
    if request.inventory is None or not any(f in (request.group_by or []) for f in KEY_FIELDS):
        return None
    fetch = getattr(source, "fetch_stock", None)
    return fetch(today, deadline) if fetch is not None else None
def chunk_options(panel: Panel, request: ForecastRequest) -> dict[str, Any]:
    """The keyword arguments of :func:`shared.engine.hierarchy.forecast_chunk` for this job: the
    model, and for weekly and daily panels the frequency, the known effects over the panel's
    periods and the horizon (every series takes its rows from them), and which holidays and
    events close the shop, decided once on the total (a single product cannot tell)."""
    options: dict[str, Any] = {
        "horizon": request.horizon, "level": float(request.level), "model": request.model,
        "season_length": season_length_for(panel.frequency),
        "inventory": request.inventory,
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
        consume=True,  # the lines go column by column as the panel is built
    )
    first = int(panel.start[0]) if len(panel) else len(panel.periods)
    check_history(panel.periods[first:], request, "sale lines")
    check_inventory_history(len(panel.periods) - first, request)

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
    deadline: Deadline | None = None,
) -> GroupedResult:
    """The whole grouped job in this process: fetch (within ``deadline``, if any), panel, forecast
    every series, reconcile."""
    report: ProgressCallback = progress or (lambda stage, percent: None)
    today = today or clock.today(timezone)
    panel = fetch_panel(request, source, timezone=timezone, today=today, report=report, deadline=deadline)
    stock = stock_for(request, source, today)

    items = series_inputs(panel)
    options = chunk_options(panel, request)
    results: list[dict[str, Any]] = []
    span = STAGE_PERCENT[Stage.PREDICTING] - STAGE_PERCENT[Stage.TRAINING]
    for lo in range(0, len(items), chunk_size):
        report(Stage.TRAINING, STAGE_PERCENT[Stage.TRAINING] + int(span * lo / max(len(items), 1)))
        results.extend(forecast_chunk(items[lo : lo + chunk_size], **options))
    report(Stage.PREDICTING, STAGE_PERCENT[Stage.PREDICTING])
    return assemble(
        panel, request, results, reconciliation=reconciliation, task_id=task_id, source_name=source.name, stock=stock
    )


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


def inventory_csv(series: Sequence[dict[str, Any]], group_by: Sequence[str]) -> str:
    """One line per series of the deepest level (the products): the key fields and the inventory
    columns of docs/api.md §12, empty where a figure is null (a product the stock does not list)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*group_by, *INVENTORY_COLUMNS])
    deepest = max((s["level"] for s in series), default=0)
    for s in series:
        if s["level"] != deepest or not s.get("inventory"):
            continue
        key = s["key"]
        writer.writerow([*("null" if key.get(f) is None else key[f] for f in group_by),
                         *(inventory_cell(s["inventory"].get(c)) for c in INVENTORY_COLUMNS)])
    return out.getvalue()
