"""Grouped forecasts over the workers (docs/api.md §8): one job, its series in chunks on any worker.

The fan-out is tasks the job sends itself, coordinated in Redis (shared.stores.grouped_store), rather
than a Celery chord. A chord would need the same Redis bookkeeping for what matters here and gives
less control over it: its header's results travel through the result backend (10,000 series of
forecasts in one chord-unlock), a failing chunk fails the callback with a ChordError instead of
being retried and then ending the job with our stable code, and cancelling means revoking every
member by id. Here:

The steps themselves are :mod:`shared.engine.grouped_job`'s; these tasks carry them:

1. `forecast.sales` with ``group_by`` (worker/tasks.py) calls :func:`start`: the job is planned
   (:func:`~shared.engine.grouped_job.plan_job`), answered from the cache or fanned out as one
   `forecast.grouped.chunk` message per chunk (args ``[job_id, k, n]``, task id
   ``<job>-chunk-<k>``, so Flower shows which job and which chunk), and left in PROGRESS
   (Celery's Ignore: no result is stored for it yet).
2. Each chunk task runs its slice (:func:`~shared.engine.grouped_job.run_chunk`). A chunk that
   keeps failing ends the job FAILURE ``internal_error`` naming the chunk; a cancelled job's
   chunks stop before forecasting, and the first to see the flag marks the job REVOKED.
3. The chunk that claimed the fan-in reconciles and publishes
   (:func:`~shared.engine.grouped_job.fan_in`), then stores the job's SUCCESS under its own id,
   clears its in-flight marker, records the history and queues the completion webhook.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from celery import shared_task
from celery.exceptions import Ignore

from shared.contract.backoff import backoff_seconds
from shared.contract.errors import ForecastError, UpstreamUnavailable, WorkerLost
from shared.contract.protocol import CHUNK_TASK, FORECAST_TASK, CeleryState
from shared.contract.schema import STAGE_PERCENT, ForecastRequest, Stage
from shared.engine import grouped_job
from shared.stores.grouped_store import GroupedStore, Plan
from worker import events, history, webhooks
from worker.context import WorkerContext, context

log = logging.getLogger(__name__)

CHUNK_RETRIES = 2  # a chunk that fails this many more times ends its job
KILLED_RETRIES = 1  # a chunk whose process is killed this many more times ends its job
CHUNK_RETRY_SECONDS = 2.0


def _grouped(ctx: WorkerContext) -> GroupedStore:
    return GroupedStore(ctx.jobs.redis, ttl_seconds=ctx.settings.result_ttl_seconds)


def start(task: Any, ctx: WorkerContext, request: ForecastRequest, *, progress: Any, deadline: Any) -> dict[str, Any]:
    """Plan the job and fan its chunks out (raises Ignore); the document when the cache has it."""
    job_id = task.request.id
    if ctx.line_source is None:
        raise UpstreamUnavailable("LARAVEL_API_URL is not configured on the worker")
    today = ctx.today()
    planned = grouped_job.plan_job(
        job_id, request, source=ctx.line_source, settings=ctx.settings, store=_grouped(ctx),
        cache=ctx.cache, today=today, progress=progress, deadline=deadline,
    )
    if planned.document is not None:
        return planned.document
    plan = planned.plan
    meta = {"stage": str(Stage.TRAINING), "percent": STAGE_PERCENT[Stage.TRAINING],
            "series_total": plan.n_series, "chunks": plan.n_chunks}
    task.update_state(state=CeleryState.PROGRESS, meta=meta)
    for k in range(plan.n_chunks):
        task.app.send_task(
            CHUNK_TASK,
            args=[job_id, k, plan.n_chunks],
            task_id=f"{job_id}-chunk-{k}",
            queue=ctx.settings.forecast_queue,
        )
    raise Ignore()  # the fan-in stores the job's result under its id


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
    grouped = grouped_job.fan_in(store, ctx.cache, plan, cancelled=lambda: ctx.jobs.is_cancelled(plan.job_id))
    if grouped is None:  # cancelled while reconciling: nothing published or cached
        log.info("grouped job %s: cancelled before its fan-in published; nothing published", plan.job_id)
        _end(task, plan, CeleryState.REVOKED, None)
        grouped_job.forget(store, plan.job_id)
        return
    _end(task, plan, CeleryState.SUCCESS, grouped.document)
    history.publish_document(task.app, plan.job_id, grouped.document, plan.request, grouped.series)
    grouped_job.forget(store, plan.job_id)


@shared_task(bind=True, name=CHUNK_TASK, max_retries=CHUNK_RETRIES, ignore_result=True)
def forecast_grouped_chunk(self: Any, job_id: str, k: int, n: int) -> str:
    """Chunk k of n of grouped job ``job_id``: its series' base forecasts, then the fan-in if last."""
    ctx = context(self.app)
    store = _grouped(ctx)
    plan = store.plan(job_id)
    if plan is None:
        log.warning("chunk %d/%d of %s: the job's plan is gone (finished or expired); nothing to do", k + 1, n, job_id)
        return "gone"
    if ctx.jobs.is_cancelled(job_id):  # checked again before the fan-in publishes anything
        if store.claim_finalize(job_id, k):  # the first chunk to see the flag ends the job
            _end(self, plan, CeleryState.REVOKED, None)
            grouped_job.forget(store, job_id)
        return "cancelled"
    # A run that died without a word (its process killed: out of memory, in the chunk or in the
    # fan-in it claimed) left its start counted; task_reject_on_worker_lost redelivers it at once.
    # One such death is retried (the fan-in too: the chunk may claim it again), a second ends the
    # job with a stable code instead of killing worker after worker.
    starts = store.begin_chunk(job_id, k)
    if starts > KILLED_RETRIES + 1:
        store.end_chunk(job_id, k)
        log.error("chunk %d/%d of %s: its worker process died %d times; the job ends", k + 1, n, job_id, starts - 1)
        if store.claim_finalize(job_id, k):
            error = WorkerLost(f"chunk {k + 1} of {n}: its worker process was killed {starts - 1} times "
                               f"(out of memory?); the job ends, no partial result is kept")
            _end(self, plan, CeleryState.FAILURE, error)
            grouped_job.forget(store, job_id)
        return "failed"
    try:
        last = grouped_job.run_chunk(store, plan, k)
        events.grouped_counts(self.app, job_id, store)  # live updates
        if last:
            try:
                _fan_in(self, ctx, store, plan)
            except Exception:
                store.release_finalize(job_id)
                raise
        return f"chunk {k + 1} of {n}"
    except Exception as exc:
        if self.request.retries < CHUNK_RETRIES:
            log.warning("chunk %d/%d of %s failed (%s); retrying", k + 1, n, job_id, exc)
            raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, base=CHUNK_RETRY_SECONDS))
        log.exception("chunk %d/%d of %s failed %d times; the job ends", k + 1, n, job_id, CHUNK_RETRIES + 1)
        if store.claim_finalize(job_id, k):
            error = ForecastError(f"chunk {k + 1} of {n} failed {CHUNK_RETRIES + 1} times ({type(exc).__name__})")
            _end(self, plan, CeleryState.FAILURE, error)
            grouped_job.forget(store, job_id)
        return "failed"
    finally:
        try:
            store.end_chunk(job_id, k)
        except Exception:  # Redis gone: the start stays counted, as if killed; the record expires
            log.warning("chunk %d/%d of %s: could not record its end", k + 1, n, job_id)
