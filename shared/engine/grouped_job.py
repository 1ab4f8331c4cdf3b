"""A grouped job spread over the workers (docs/api.md §8): plan, chunks, fan-in.

The steps of one grouped job, each a plain function over the stores, so the Celery tasks
(worker/grouped.py) only carry them: they send the chunk messages, report state and store the
job's result. Redis is the only meeting point (:mod:`shared.stores.grouped_store`):

1. :func:`plan_job`: fetch the sale lines once (the source refuses a job whose lines name more
   than MAX_SERIES groups while it fetches them), build the panel, refuse more than MAX_SERIES
   series (``payload_too_large``), answer from the cache when an identical panel was forecast already, else store the
   plan and the panel. The caller then sends one chunk message per chunk.
2. :func:`run_chunk`: forecast chunk k's slice and record it; a chunk that runs twice (its worker
   killed, the message redelivered: acks_late) counts once. True when the set is complete and this
   caller claimed the fan-in (once, by a Redis SET NX).
3. :func:`fan_in`: reconcile every series, publish them by level and cache the document.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from shared.contract.config import Settings
from shared.contract.errors import TooManySeries
from shared.contract.protocol import inventory_csv_url, series_csv_url, series_url
from shared.contract.schema import ForecastRequest
from shared.engine.grouped import (
    GroupedResult,
    LineSource,
    assemble,
    chunk_options,
    fetch_panel,
    fingerprint,
    stock_for,
)
from shared.engine.hierarchy import forecast_chunk, series_inputs
from shared.engine.panel import Panel
from shared.engine.pipeline import ProgressCallback
from shared.sources.deadline import Deadline
from shared.sources.stock import Stock
from shared.stores.grouped_store import GroupedStore, Plan
from shared.stores.jobs import RedisResultCache

log = logging.getLogger(__name__)

PANELS_KEPT = 2  # decoded panels kept per worker process (a chunk of the same job reuses it)
_panels: OrderedDict[str, Panel] = OrderedDict()


def cache_key(fp: str) -> str:
    """The result cache's key for a grouped document of data fingerprint ``fp``."""
    return f"grouped:{fp}"


@dataclass(frozen=True)
class Planned:
    """What :func:`plan_job` decided: a cached document to answer with, or a stored plan to fan out."""

    plan: Plan | None = None
    document: dict[str, Any] | None = None


def plan_job(
    job_id: str,
    request: ForecastRequest,
    *,
    source: LineSource,
    settings: Settings,
    store: GroupedStore,
    cache: RedisResultCache,
    today: Any,
    progress: ProgressCallback | None,
    deadline: Deadline | None,
) -> Planned:
    """Fetch and plan grouped job ``job_id`` (``request`` already resolved)."""
    started = time.perf_counter()
    report: ProgressCallback = progress or (lambda stage, percent: None)
    panel = fetch_panel(request, source, timezone=settings.sales_timezone, today=today, report=report, deadline=deadline)
    n_series = len(panel)
    if n_series > settings.max_series:
        raise TooManySeries(
            f"group_by {list(request.group_by or [])} gives {n_series:,} series, more than MAX_SERIES "
            f"({settings.max_series:,}): group by fewer or coarser fields, or ask for a shorter window"
        )
    stock = stock_for(request, source, today, deadline)
    fp = fingerprint(panel, request)
    if stock is not None:  # the same sales with other stock are other suggested orders
        fp = hashlib.sha256(f"{fp}:{stock.digest()}".encode()).hexdigest()[:40]
    if not request.refresh:
        cached = cache.get(cache_key(fp))
        if cached is not None and store.reuse(job_id, fp):
            return Planned(document=job_document(cached, job_id, cached=True))
    chunk_size = max(1, settings.chunk_size)
    plan = Plan(
        job_id=job_id,
        n_series=n_series,
        n_chunks=max(1, math.ceil(n_series / chunk_size)),
        chunk_size=chunk_size,
        request=request.model_dump(mode="json"),
        source=source.name,
        fingerprint=fp,
    )
    store.start(plan, panel.to_bytes())
    if stock is not None:
        store.put_stock(job_id, stock.to_json())
    log.info(
        "grouped job %s: %d lines used, %d series in %d chunks of %d (fetch and panel %.2f s)",
        job_id, int(panel.lines[0]) if len(panel) else 0, n_series, plan.n_chunks, chunk_size, time.perf_counter() - started,
    )
    return Planned(plan=plan)


def job_document(document: dict[str, Any], job_id: str, *, cached: bool) -> dict[str, Any]:
    """A grouped document as job ``job_id``'s result: its id, whether cached, its series URLs."""
    document = {**document, "data": {**document["data"]}}
    document["data"]["meta"] = {**document["data"]["meta"], "task_id": job_id, "cached": cached}
    hierarchy = dict(document["data"].get("hierarchy") or {})
    hierarchy["series_url"] = series_url(job_id)
    hierarchy["csv_url"] = series_csv_url(job_id)
    if hierarchy.get("inventory"):
        hierarchy["inventory"] = {**hierarchy["inventory"], "csv_url": inventory_csv_url(job_id)}
    document["data"]["hierarchy"] = hierarchy
    return document


def _panel(store: GroupedStore, job_id: str) -> Panel:
    if job_id in _panels:
        _panels.move_to_end(job_id)
        return _panels[job_id]
    blob = store.panel_bytes(job_id)
    if blob is None:
        raise KeyError("the job's panel has expired")
    panel = Panel.from_bytes(blob)
    _panels[job_id] = panel
    while len(_panels) > PANELS_KEPT:
        _panels.popitem(last=False)
    return panel


def run_chunk(store: GroupedStore, plan: Plan, k: int) -> bool:
    """Forecast chunk ``k`` of ``plan`` (once); True when this call claimed the job's fan-in."""
    if store.chunk_done(plan.job_id, k):
        done = store.finish_count(plan.job_id)
    else:
        request = ForecastRequest.parse(plan.request)
        lo, hi = plan.chunk_bounds(k)
        panel = _panel(store, plan.job_id)
        results = forecast_chunk(series_inputs(panel, range(lo, hi)), **chunk_options(panel, request))
        done = store.finish_chunk(plan.job_id, k, results)
    return done >= plan.n_chunks and store.claim_finalize(plan.job_id, k)


def fan_in(
    store: GroupedStore, cache: RedisResultCache, plan: Plan, cancelled: Callable[[], bool] | None = None
) -> GroupedResult | None:
    """Reconcile every series of ``plan``, publish them by level, cache the document; None, with
    nothing published or cached, when ``cancelled()`` says the job was cancelled meanwhile."""
    started = time.perf_counter()
    request = ForecastRequest.parse(plan.request)
    results = store.chunk_results(plan)
    kept = store.stock(plan.job_id)
    stock = Stock.from_json(kept) if kept is not None else None
    grouped = assemble(
        _panel(store, plan.job_id), request, results, task_id=plan.job_id, source_name=plan.source, stock=stock
    )
    reconciled = time.perf_counter()
    if cancelled is not None and cancelled():
        return None
    store.publish(plan.job_id, plan.fingerprint, grouped.series)
    cache.set(cache_key(plan.fingerprint), grouped.document)
    log.info(
        "grouped job %s: %d series reconciled in %.2f s and written in %.2f s",
        plan.job_id, plan.n_series, reconciled - started, time.perf_counter() - reconciled,
    )
    return grouped


def forget(store: GroupedStore, job_id: str) -> None:
    """Drop a finished job's work records and this process's decoded panel."""
    store.clear_work(job_id)
    _panels.pop(job_id, None)
