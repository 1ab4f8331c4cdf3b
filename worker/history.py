"""The forecast history, worker side: a finished job's forecast goes to the outbox, a drain task
writes it to the database (shared/history/outbox.py says how nothing is lost).

- When `forecast.sales` succeeds (Celery's task_success, sent after its result is stored), the
  job's result document is LPUSHed to the outbox and `history.drain` is queued. Both are quick
  Redis writes; neither can fail the job (errors are logged) and the database is never touched.
- `history.drain` writes the outbox into DATABASE_URL, oldest first. While the database cannot be
  written it retries with backoff (one retry chain at a time, whichever drain saw the failure
  first); every later job's drain tries again too, so the history catches up once it is back.
- After a drain that wrote something, rows older than HISTORY_RETENTION_DAYS are deleted.

The migrations are not run here (shared/history/migrate.py: once per deployment step).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from celery import Celery, shared_task
from celery.signals import task_success

from shared.config import Settings
from shared.errors import HistoryUnavailable
from shared.history.outbox import PREFIX, STATS_KEY, HistoryOutbox
from shared.history.records import DEFAULT_MEASURE, outbox_item
from shared.history.repository import HistoryRepository
from shared.protocol import DRAIN_TASK, FORECAST_TASK

log = logging.getLogger(__name__)

RETRY_KEY = f"{PREFIX}:retry-scheduled"
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0


@dataclass
class HistoryContext:
    settings: Settings
    outbox: HistoryOutbox
    repository: HistoryRepository


@lru_cache(maxsize=4)
def _context(app: Celery) -> HistoryContext:
    settings: Settings = app.settings
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    return HistoryContext(
        settings=settings,
        outbox=HistoryOutbox(client),
        repository=HistoryRepository.from_url(settings.effective_database_url),
    )


def backoff_seconds(retries: int) -> float:
    return min(BACKOFF_BASE_SECONDS * (2**retries), BACKOFF_MAX_SECONDS)


def publish(task: Any, task_id: str, document: Any) -> None:
    """Put a succeeded job's forecast in the outbox and queue a drain. Never raises."""
    try:
        kwargs = task.request.kwargs if isinstance(task.request.kwargs, dict) else {}
        status = kwargs.get("status") if isinstance(kwargs.get("status"), str) else "completed"
        measure = kwargs.get("measure") if isinstance(kwargs.get("measure"), str) else DEFAULT_MEASURE
        ctx = _context(task.app)
        ctx.outbox.push(outbox_item(task_id, document, status=status, measure=measure))
    except Exception:
        # Redis just stored this job's result, so this is rare; it is the one loss the outbox
        # cannot hold, and it is said loudly, with the job id, so it can be replayed.
        log.exception("history: job %s NOT recorded (the outbox could not be written)", task_id)
        return
    try:
        task.app.send_task(DRAIN_TASK, queue=ctx.settings.forecast_queue)
    except Exception:  # the item is in the outbox: the next job's drain writes it
        log.warning("history: could not queue a drain after job %s; the next one will write it", task_id)


@task_success.connect(weak=False)
def _record_history(sender: Any = None, result: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) == FORECAST_TASK and isinstance(result, dict):
        publish(sender, sender.request.id, result)


@shared_task(bind=True, name=DRAIN_TASK, ignore_result=True, max_retries=None, acks_late=True)
def drain_history(self) -> dict[str, Any]:
    ctx = _context(self.app)
    client = ctx.outbox.redis
    retrying = self.request.retries > 0
    report = ctx.outbox.drain(ctx.repository.record)
    if report.written:
        try:
            pruned = ctx.repository.prune(ctx.settings.history_retention_days)
            if pruned:
                log.info("history: %d forecast rows older than %d days deleted", pruned, ctx.settings.history_retention_days)
        except HistoryUnavailable as exc:
            log.warning("history: retention not applied (%s)", exc)
    if report.written or report.rejected:
        log.info("history: %d job(s) written, %d refused, %d waiting", report.written, report.rejected, report.remaining)
    if report.unavailable:
        countdown = backoff_seconds(self.request.retries)
        # One retry chain at a time: the drains of later jobs try once and leave it to the chain.
        if retrying or client.set(RETRY_KEY, self.request.id or "1", nx=True, ex=int(countdown) + 60):
            client.set(RETRY_KEY, self.request.id or "1", ex=int(countdown) + 60)  # the chain goes on
            log.warning("history: database unavailable, %d job(s) waiting; retry in %.0fs", report.remaining, countdown)
            raise self.retry(countdown=countdown)
    elif retrying:
        client.delete(RETRY_KEY)  # the chain's work is done
    return {"written": report.written, "rejected": report.rejected, "remaining": report.remaining}


def stats(app: Celery) -> dict[str, int]:
    """The outbox's counters (written, write_failures, rejected) and what waits (pending, dead)."""
    return _context(app).outbox.stats()


__all__ = ["DRAIN_TASK", "STATS_KEY", "drain_history", "publish", "stats"]
