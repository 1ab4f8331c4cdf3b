"""The forecast history, worker side: a finished job's forecast goes to the outbox, a drain task
writes it to the database (shared/history/outbox.py says how nothing is lost).

- When `forecast.sales` succeeds (Celery's task_success, sent after its result is stored), the
  job's result document is LPUSHed to the outbox: one quick Redis write (a large grouped job's
  series in parts, moved there together), which cannot fail the job (errors are logged), and the
  database is never touched.
- A drain thread in each worker's main process (:class:`Drainer`, started on worker_ready) writes
  the outbox into DATABASE_URL, oldest first, within a second of a job; while the database cannot
  be written it retries with backoff, so the history catches up once it is back. It sends no
  message: the forecast queue holds jobs only. `history.drain` drains on demand.
- After a drain that wrote something, rows older than HISTORY_RETENTION_DAYS are deleted.

The migrations are not run here (shared/history/migrate.py: once per deployment step).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from celery import Celery, shared_task
from celery.signals import task_success, worker_ready, worker_shutdown

from shared.contract import backoff
from shared.contract.config import Settings
from shared.contract.errors import HistoryUnavailable
from shared.contract.protocol import DRAIN_TASK, FORECAST_TASK
from shared.history.alerts import ALERT_STATS_KEY
from shared.history.outbox import STATS_KEY, DrainReport, HistoryOutbox
from shared.history.records import DEFAULT_MEASURE, Publication, outbox_items
from shared.history.repository import HistoryRepository, RecordOutcome
from worker import events, webhooks
from worker.context import redis_client

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # one LMOVE a second per worker node while the outbox is empty
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 60.0


@dataclass
class HistoryContext:
    settings: Settings
    outbox: HistoryOutbox
    repository: HistoryRepository


@lru_cache(maxsize=4)
def _context(app: Celery) -> HistoryContext:
    settings: Settings = app.settings
    client = redis_client(app)
    return HistoryContext(
        settings=settings,
        outbox=HistoryOutbox(client),
        repository=HistoryRepository.from_url(settings.effective_database_url),
    )


def backoff_seconds(retries: int) -> float:
    return backoff.backoff_seconds(retries, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS)


def publish(task: Any, task_id: str, document: Any) -> None:
    """Put a succeeded job's forecast in the outbox. Never raises."""
    kwargs = task.request.kwargs if isinstance(task.request.kwargs, dict) else {}
    publish_document(task.app, task_id, document, kwargs)


def publish_document(
    app: Celery, task_id: str, document: Any, kwargs: dict[str, Any], series: Any = ()
) -> None:
    """Put a finished job's forecast in the outbox (a grouped job's ``series`` with it, to be
    inserted in bulk), given the job's kwargs. Never raises."""
    try:
        status = kwargs.get("status") if isinstance(kwargs.get("status"), str) else "completed"
        measure = kwargs.get("measure") if isinstance(kwargs.get("measure"), str) else DEFAULT_MEASURE
        callback_url = kwargs.get("callback_url") if isinstance(kwargs.get("callback_url"), str) else None
        _context(app).outbox.push_parts(
            outbox_items(task_id, document, status=status, measure=measure, series=series, callback_url=callback_url)
        )
    except Exception:
        # Redis just stored this job's result, so this is rare; it is the one loss the outbox
        # cannot hold, and it is said loudly, with the job id, so it can be replayed.
        log.exception("history: job %s NOT recorded (the outbox could not be written)", task_id)


@task_success.connect(weak=False)
def _record_history(sender: Any = None, result: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) == FORECAST_TASK and isinstance(result, dict):
        publish(sender, sender.request.id, result)


def _writer(app: Celery, ctx: HistoryContext) -> Callable[[Publication], RecordOutcome]:
    """Record a publication, then count and send the alerts it raised for the first time."""

    def write(publication: Publication) -> RecordOutcome:
        outcome = ctx.repository.record(publication, drop_pct=ctx.settings.alert_drop_pct)
        if outcome.alerts:
            try:
                pipe = ctx.outbox.redis.pipeline()
                for alert in outcome.alerts:
                    pipe.hincrby(ALERT_STATS_KEY, alert.kind, 1)
                pipe.execute()
            except Exception:
                log.warning("alerts: not counted (Redis)")
            sent = webhooks.enqueue_alerts(app, outcome.alerts, publication.callback_url)
            events.alerts(app, outcome.alerts)  # live updates: GET /api/v1/events
            log.info("alerts: job %s raised %d (%s); %d webhook(s) queued", publication.task_id,
                     len(outcome.alerts), ", ".join(sorted({a.kind for a in outcome.alerts})), sent)
        return outcome

    return write


def drain_once(app: Celery) -> DrainReport:
    """One drain of the outbox into the database (each publication's alerts with it), then the retention."""
    ctx = _context(app)
    report = ctx.outbox.drain(_writer(app, ctx))
    if report.written:
        try:
            pruned = ctx.repository.prune(ctx.settings.history_retention_days)
            if pruned:
                log.info("history: %d forecast rows older than %d days deleted", pruned, ctx.settings.history_retention_days)
        except HistoryUnavailable as exc:
            log.warning("history: retention not applied (%s)", exc)
    if report.written or report.rejected:
        log.info("history: %d job(s) written, %d refused, %d waiting", report.written, report.rejected, report.remaining)
    return report


class Drainer:
    """The worker's drain loop, in a thread of the worker's main process (not a pool process, and
    not a message on the forecast queue, so it never takes a job's place): every POLL_SECONDS it
    writes what waits; while the database cannot be written it backs off, doubling to
    BACKOFF_MAX_SECONDS. Every worker node runs one; the outbox's lock lets one drain at a time."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="history-drain", daemon=True)

    def start(self) -> None:
        """Start the drain thread."""
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the drain loop to stop, and wait up to ``timeout`` seconds for its thread."""
        self.stopping.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            wait = POLL_SECONDS
            try:
                report = drain_once(self.app)
                if report.unavailable:
                    wait = backoff_seconds(failures)
                    failures += 1
                    log.warning("history: database unavailable, %d job(s) waiting; next try in %.0fs",
                                report.remaining, wait)
                else:
                    failures = 0
            except Exception:  # Redis down, or a bug: logged, and tried again, never fatal to the worker
                log.exception("history: the drain failed")
                wait = backoff_seconds(failures)
                failures += 1
            self.stopping.wait(wait)


_drainers: list[Drainer] = []


@worker_ready.connect(weak=False)
def _start_drainer(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    if app is not None and getattr(app, "settings", None) is not None:
        drainer = Drainer(app)
        drainer.start()
        _drainers.append(drainer)


@worker_shutdown.connect(weak=False)
def _stop_drainer(**_: Any) -> None:
    while _drainers:
        _drainers.pop().stop()


@shared_task(bind=True, name=DRAIN_TASK, ignore_result=True)
def drain_history(self) -> dict[str, Any]:
    """A drain on demand (`celery -A worker.main call history.drain`); workers drain by themselves."""
    report = drain_once(self.app)
    return {"written": report.written, "rejected": report.rejected, "remaining": report.remaining,
            "unavailable": report.unavailable}


def stats(app: Celery) -> dict[str, int]:
    """The outbox's counters (written, write_failures, rejected) and what waits (pending, dead)."""
    return _context(app).outbox.stats()


__all__ = ["DRAIN_TASK", "STATS_KEY", "Drainer", "drain_history", "drain_once", "publish", "publish_document", "stats"]
