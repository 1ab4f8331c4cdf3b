"""Grouped forecasts over the workers (CONTRACT §8): one job, its series in chunks on any worker.

The fan-out is tasks the job sends itself, coordinated in Redis (shared.stores.grouped_store), rather
than a Celery chord. A chord would need the same Redis bookkeeping for what matters here and gives
less control over it: its header's results travel through the result backend (10,000 series of
forecasts in one chord-unlock), a failing chunk fails the callback with a ChordError instead of
being retried and then ending the job with our stable code, and cancelling means revoking every
member by id. Here:

1. `forecast.sales` with ``group_by`` (worker/tasks.py) calls :func:`start`: it fetches the sale
   lines once, builds the panel, answers from the cache when an identical panel was forecast
   already, refuses more than MAX_SERIES series, stores the plan and the panel, sends
   `forecast.grouped.chunk` for chunk k of n (args ``[job_id, k, n]``, task id
   ``<job>-chunk-<k>``, so Flower shows which job and which chunk), and leaves the job in
   PROGRESS (Celery's Ignore: no result is stored for it yet).
2. Each chunk task forecasts its slice (shared.engine.hierarchy.forecast_chunk) and records it; a chunk
   that runs twice (its worker killed, the message redelivered: acks_late) counts once. A chunk
   that keeps failing ends the job FAILURE ``internal_error`` naming the chunk; a cancelled job's
   chunks stop before forecasting, and the first to see the flag marks the job REVOKED.
3. The chunk that completes the set claims the fan-in (once, by a Redis SET NX): reconcile every
   series (shared.engine.grouped.assemble), publish the series by level, cache the document, store the
   job's SUCCESS under its own id, clear its in-flight marker, and queue its completion webhook.
"""
from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

from celery import shared_task
from celery.exceptions import Ignore

from shared.contract.errors import ForecastError, InvalidRequest, UpstreamUnavailable
from shared.contract.protocol import CHUNK_TASK, FORECAST_TASK, CeleryState
from shared.contract.schema import ForecastRequest, Stage
from shared.engine.grouped import assemble, fetch_panel, fingerprint
from shared.engine.hierarchy import forecast_chunk, series_inputs
from shared.engine.panel import Panel
from shared.stores.grouped_store import GroupedStore, Plan
from worker import events, history, webhooks
from worker.context import WorkerContext, context

log = logging.getLogger(__name__)

CHUNK_RETRIES = 2  # a chunk that fails this many more times ends its job
CHUNK_RETRY_SECONDS = 2.0
PANELS_KEPT = 2  # decoded panels kept per worker process (a chunk of the same job reuses it)
_panels: OrderedDict[str, Any] = OrderedDict()


def _grouped(ctx: WorkerContext) -> GroupedStore:
    return GroupedStore(ctx.jobs.redis, ttl_seconds=ctx.settings.result_ttl_seconds)


def _panel(store: GroupedStore, job_id: str) -> Any:
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


def start(task: Any, ctx: WorkerContext, request: ForecastRequest, *, progress: Any, deadline: Any) -> dict[str, Any]:
    """Fetch, build the panel, and fan the series out; the document when the cache has it."""
    job_id = task.request.id
    settings = ctx.settings
    started = time.perf_counter()
    if ctx.line_source is None:
        raise UpstreamUnavailable("LARAVEL_API_URL is not configured on the worker")
    today = ctx.today()
    request = request.resolved(today)
    group_by = list(request.group_by or [])
    panel = fetch_panel(
        request, ctx.line_source, timezone=settings.sales_timezone, today=today, report=progress, deadline=deadline
    )
    n_series = len(panel)
    if n_series > settings.max_series:
        raise InvalidRequest(
            f"group_by {group_by} gives {n_series} series, more than MAX_SERIES ({settings.max_series}): "
            "group by fewer or coarser fields, or ask for a shorter window",
            field="group_by",
        )

    store = _grouped(ctx)
    fp = fingerprint(panel, request)
    if not request.refresh:
        cached = ctx.cache.get(f"grouped:{fp}")
        if cached is not None and store.reuse(job_id, fp):
            return _as_job_document(cached, job_id, cached=True)

    chunk_size = max(1, settings.chunk_size)
    plan = Plan(
        job_id=job_id,
        n_series=n_series,
        n_chunks=max(1, math.ceil(n_series / chunk_size)),
        chunk_size=chunk_size,
        request=request.model_dump(mode="json"),
        source=ctx.line_source.name,
        fingerprint=fp,
    )
    store.start(plan, panel.to_bytes())
    meta = {"stage": str(Stage.TRAINING), "percent": 50, "series_total": n_series, "chunks": plan.n_chunks}
    task.update_state(state=CeleryState.PROGRESS, meta=meta)
    for k in range(plan.n_chunks):
        task.app.send_task(
            CHUNK_TASK,
            args=[job_id, k, plan.n_chunks],
            task_id=f"{job_id}-chunk-{k}",
            queue=settings.forecast_queue,
        )
    log.info(
        "grouped job %s: %d lines used, %d series in %d chunks of %d (fetch and panel %.2f s)",
        job_id, int(panel.lines[0]) if len(panel) else 0, n_series, plan.n_chunks, chunk_size, time.perf_counter() - started,
    )
    raise Ignore()  # the fan-in stores the job's result under its id


def _as_job_document(document: dict[str, Any], job_id: str, *, cached: bool) -> dict[str, Any]:
    document = {**document, "data": {**document["data"]}}
    document["data"]["meta"] = {**document["data"]["meta"], "task_id": job_id, "cached": cached}
    hierarchy = dict(document["data"].get("hierarchy") or {})
    hierarchy["series_url"] = f"/api/v1/forecasts/{job_id}/series"
    hierarchy["csv_url"] = f"/api/v1/forecasts/{job_id}/series.csv"
    document["data"]["hierarchy"] = hierarchy
    return document


def _job_request(plan: Plan) -> SimpleNamespace:
    """What Celery's backend reads of a task request to store an extended result for the job."""
    return SimpleNamespace(
        task=FORECAST_TASK, args=[], kwargs=plan.request, hostname=None, retries=0,
        delivery_info={"routing_key": None}, children=[], group=None, parent_id=None, stamps=None,
    )


def _end(task: Any, plan: Plan, state: str, result: Any) -> None:
    """Store the job's final state under its own id, clear its marker, queue its webhook."""
    ctx = context(task.app)
    task.app.backend.store_result(plan.job_id, result, state, request=_job_request(plan))
    events.stored_state(task.app, plan.job_id)  # live updates: the job's end
    try:
        ctx.jobs.clear_inflight(ForecastRequest.parse(plan.request).params_key(), plan.job_id)
    except Exception:
        log.warning("grouped job %s: could not clear its in-flight marker", plan.job_id)
    webhooks.enqueue_completion(task, plan.job_id, plan.request)


def _fan_in(task: Any, ctx: WorkerContext, store: GroupedStore, plan: Plan) -> None:
    started = time.perf_counter()
    request = ForecastRequest.parse(plan.request)
    panel = _panel(store, plan.job_id)
    results = store.chunk_results(plan)
    grouped = assemble(panel, request, results, task_id=plan.job_id, source_name=plan.source)
    reconciled = time.perf_counter()
    store.publish(plan.job_id, plan.fingerprint, grouped.series)
    ctx.cache.set(f"grouped:{plan.fingerprint}", grouped.document)
    _end(task, plan, CeleryState.SUCCESS, grouped.document)
    history.publish_document(task.app, plan.job_id, grouped.document, plan.request, grouped.series)
    store.clear_work(plan.job_id)
    _panels.pop(plan.job_id, None)
    log.info(
        "grouped job %s: %d series reconciled in %.2f s and written in %.2f s",
        plan.job_id, plan.n_series, reconciled - started, time.perf_counter() - reconciled,
    )


@shared_task(bind=True, name=CHUNK_TASK, max_retries=CHUNK_RETRIES, ignore_result=True)
def forecast_grouped_chunk(self: Any, job_id: str, k: int, n: int) -> str:
    """Chunk k of n of grouped job ``job_id``: its series' base forecasts, then the fan-in if last."""
    ctx = context(self.app)
    store = _grouped(ctx)
    plan = store.plan(job_id)
    if plan is None:
        log.warning("chunk %d/%d of %s: the job's plan is gone (finished or expired); nothing to do", k + 1, n, job_id)
        return "gone"
    if ctx.jobs.is_cancelled(job_id):
        if store.claim_finalize(job_id):  # the first chunk to see the flag ends the job
            _end(self, plan, CeleryState.REVOKED, None)
            store.clear_work(job_id)
        return "cancelled"
    try:
        if store.chunk_done(job_id, k):
            done = store.finish_count(job_id)
        else:
            request = ForecastRequest.parse(plan.request)
            lo, hi = plan.chunk_bounds(k)
            items = series_inputs(_panel(store, job_id), range(lo, hi))
            results = forecast_chunk(items, horizon=request.horizon, level=float(request.level), model=request.model)
            done = store.finish_chunk(job_id, k, results)
            events.grouped_counts(self.app, job_id, store.progress(job_id))  # live updates
        if done >= plan.n_chunks and store.claim_finalize(job_id):
            try:
                _fan_in(self, ctx, store, plan)
            except Exception:
                store.release_finalize(job_id)
                raise
        return f"chunk {k + 1} of {n}"
    except Exception as exc:
        if self.request.retries < CHUNK_RETRIES:
            log.warning("chunk %d/%d of %s failed (%s); retrying", k + 1, n, job_id, exc)
            raise self.retry(exc=exc, countdown=CHUNK_RETRY_SECONDS * (2 ** self.request.retries))
        log.exception("chunk %d/%d of %s failed %d times; the job ends", k + 1, n, job_id, CHUNK_RETRIES + 1)
        if store.claim_finalize(job_id):
            error = ForecastError(f"chunk {k + 1} of {n} failed {CHUNK_RETRIES + 1} times ({type(exc).__name__})")
            _end(self, plan, CeleryState.FAILURE, error)
            store.clear_work(job_id)
        return "failed"
