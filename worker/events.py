"""Publishing a job's live-update events (shared.stores.events) from the worker's few hooks.

The task's progress reports (worker/tasks.py ``_Progress``), its start and end (Celery's
task_prerun and task_postrun, which run after the state is stored), and a grouped job's chunks and
fan-in (worker/grouped.py) call these: each publishes what the stored state already says, so
the events and ``GET /api/v1/forecasts/{id}`` never disagree. Best effort: an event that cannot
be published (Redis away) is logged and the job goes on, and so do the hooks after it (the
completion webhook); the web tier's streams also read the job's stored state when its events
are quiet, so a stream still ends when its job does.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from celery.exceptions import SoftTimeLimitExceeded

from shared.contract.schema import TERMINAL, JobStatus
from shared.contract.status import build_status, grouped_progress, read_meta
from shared.stores.events import EventStore
from worker.context import context

log = logging.getLogger(__name__)


@contextmanager
def _best_effort(task_id: str, what: str) -> Iterator[None]:
    try:
        yield
    except SoftTimeLimitExceeded:  # the job's own time limit: it must reach the task
        raise
    except Exception as exc:  # never fail a job, nor the hooks after this one, for a live update
        log.warning("%s: its %s event was not published (%s: %s)", task_id, what, type(exc).__name__, exc)


def _store(app: Any) -> EventStore:
    ctx = context(app)
    return EventStore(ctx.jobs.redis, ttl_seconds=ctx.settings.result_ttl_seconds)


def status(app: Any, task_id: str, state: JobStatus) -> None:
    """A state change the task knows of before Celery stores it (STARTED)."""
    with _best_effort(task_id, str(state)):
        _store(app).publish_status(task_id, state)


def progress(app: Any, task_id: str, meta: Mapping[str, Any], *, first: bool = False) -> None:
    """A progress report ({stage, percent}), just stored as the task's PROGRESS state; the
    first one of a run also says the state is PROGRESS."""
    with _best_effort(task_id, "progress"):
        store = _store(app)
        if first:
            store.publish_status(task_id, JobStatus.PROGRESS)
        store.publish_progress(task_id, meta)


def stored_state(app: Any, task_id: str) -> None:
    """The job's state as stored now (after a task ran, retried, fanned out or ended)."""
    with _best_effort(task_id, "state"):
        doc = build_status(task_id, read_meta(app.backend, task_id))
        store = _store(app)
        store.publish_status(task_id, doc.status)
        if doc.status not in TERMINAL:
            store.publish_progress(task_id, doc.progress.model_dump(mode="json"))


def grouped_counts(app: Any, job_id: str, grouped: Any) -> None:
    """A grouped job's progress after one of its chunks: series done over all the workers, as
    ``grouped`` (its shared.stores.grouped_store.GroupedStore) counts them."""
    with _best_effort(job_id, "progress"):
        counted = grouped.progress(job_id)
        if counted is not None:
            _store(app).publish_progress(job_id, grouped_progress(*counted).model_dump(mode="json"))


def alerts(app: Any, raised: Any) -> None:
    """Each alert just raised (docs/api.md §11: recorded once, by the history's drain), as an
    ``alert`` event on ``GET /api/v1/events``."""
    with _best_effort("alerts", "alert"):
        store = _store(app)
        for alert in raised:
            store.publish_alert(alert.to_json())
