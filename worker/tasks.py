"""The `forecast.sales` task: a thin adapter over shared.engine.pipeline.run_forecast.

It parses the kwargs (from the web tier, or a message that Laravel put straight into Redis) with
the same schema as the HTTP API, reports its stage through the task state, maps named errors to
FAILURE results with a stable code (exc_message[0]), and retries upstream outages with backoff
within LARAVEL_DEADLINE_SECONDS (worker/upstream.py). A job past TASK_SOFT_TIME_LIMIT_SECONDS ends
FAILURE internal_error, saying so; the worker process goes on to the next job.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import shared_task
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun

from shared.contract.errors import Cancelled, ForecastError, UpstreamUnavailable
from shared.contract.protocol import FORECAST_TASK, CeleryState
from shared.contract.schema import ForecastRequest, JobStatus, Stage
from shared.stores.jobs import JobStore
from worker import events, grouped, webhooks  # history: records each succeeded job (task_success), its drain task
from worker.context import context, forecast_for, time_limit_error
from worker.upstream import job_deadline, retry_or_end

log = logging.getLogger(__name__)

PROGRESS_STATE = CeleryState.PROGRESS
REDIS_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
PROGRESS_STEP = 5  # percent: finer updates only cost Redis writes and Flower events
PROGRESS_MIN_INTERVAL = 0.25  # seconds between two progress reports (see _Progress)


class _Progress:
    """Reports (stage, percent) through the task state, and stops a cancelled job between steps.

    Each report costs Redis writes and a Flower event; a typical job takes a fraction of a
    second, and its pollers ask about once a second. So after the first report, reports come
    at most every PROGRESS_MIN_INTERVAL: a slow job still shows each stage as it moves, a fast
    one does not pay for stages nobody could have seen.
    """

    def __init__(self, task: Any, jobs: JobStore) -> None:
        self.task = task
        self.jobs = jobs
        self.last: tuple[str, int] | None = None
        self.last_sent = 0.0

    def __call__(self, stage: Stage, percent: int) -> None:
        # Every step looks at the cancel flag (one EXISTS), throttled or not: a cancelled job
        # must not go on to the next stage, nor report progress over its REVOKED state.
        if self.jobs.is_cancelled(self.task.request.id):
            raise Cancelled("the job was cancelled")
        if self.last and stage == self.last[0] and percent < self.last[1] + PROGRESS_STEP:
            return
        now = time.monotonic()
        if self.last and now - self.last_sent < PROGRESS_MIN_INTERVAL:
            return
        first = self.last is None
        self.last, self.last_sent = (stage, percent), now
        meta = {"stage": str(stage), "percent": int(percent)}
        self.task.update_state(state=PROGRESS_STATE, meta=meta)
        self.task.send_event("task-progress", result=meta)  # so Flower shows the stage live
        events.progress(self.task.app, self.task.request.id, meta, first=first)  # live updates


@shared_task(bind=True, name=FORECAST_TASK, throws=(ForecastError,), max_retries=None)
def forecast_sales(self, **kwargs: Any) -> dict[str, Any]:
    """The ``forecast.sales`` job: parse and resolve the request, forecast it (a grouped one fans out over the
    workers) and return the result document. Failures end with their error code; a Laravel outage is retried."""
    ctx = context(self.app)
    task_id = self.request.id
    # Wrong kwargs, or a callback host outside CALLBACK_ALLOWED_HOSTS: FAILURE invalid_request,
    # before any request is made, no retry.
    request = ForecastRequest.parse(kwargs, callback_hosts=ctx.settings.effective_callback_hosts)
    # Resolved where it enters (a message from Laravel may leave the defaults out; one from the
    # web tier arrives resolved and stays as it is, so its in-flight key is the one it joined on).
    request = request.resolved(ctx.today(), ctx.settings.holiday_country)
    # A cancel (DELETE) stops the fetch at its next page, attempt or back-off (the deadline asks).
    deadline = job_deadline(self, ctx.settings).cancellable(lambda: ctx.jobs.is_cancelled(task_id))
    finished = True  # False while a retry keeps the job in flight
    try:
        if request.grouped:  # docs/api.md §8: fanned out over the workers (worker/grouped.py)
            document = grouped.start(self, ctx, request, progress=_Progress(self, ctx.jobs), deadline=deadline)
        else:
            document = forecast_for(
                ctx, request, task_id=task_id, deadline=deadline, progress=_Progress(self, ctx.jobs)
            )
        # Cancelled while predicting: the document is dropped, the REVOKED the web stored stays.
        deadline.check_cancelled()
        return document
    except Ignore:
        finished = False  # a grouped job fanned out: its last chunk ends it
        raise
    except Cancelled:
        _end_cancelled(self, task_id)
    except UpstreamUnavailable as exc:
        if ctx.jobs.is_cancelled(task_id):  # no re-run, and no FAILURE over the REVOKED
            _end_cancelled(self, task_id)
        retry = retry_or_end(self, exc, deadline, ctx.settings)  # raises when the job ends here
        finished = False
        raise retry from None
    except ForecastError:
        if ctx.jobs.is_cancelled(task_id):
            _end_cancelled(self, task_id)
        raise
    except SoftTimeLimitExceeded:
        log.error("forecast %s: stopped at the soft time limit", task_id)
        raise time_limit_error(ctx.settings) from None
    except REDIS_UNREACHABLE as exc:
        # Redis (broker, result backend, job store) went away mid-job: neither the client's doing
        # nor a bug, so no FAILURE. The message goes back on the queue and runs again once Redis
        # is back (acks_late: until then it is still in Redis, unacknowledged).
        log.warning("forecast %s: Redis unreachable (%s); the job is put back on the queue", task_id, exc)
        finished = False  # the in-flight marker is in Redis too; the re-run clears it
        raise Reject(exc, requeue=True) from None
    except Exception as exc:  # a bug, not the client's doing: logged whole, reported with a stable code
        log.exception("forecast %s failed unexpectedly", task_id)
        raise ForecastError(f"internal error while forecasting ({type(exc).__name__})") from None
    finally:
        if finished:
            # the web tier sends resolved parameters, so this is the key it joined requests on
            try:
                ctx.jobs.clear_inflight(request.params_key(), task_id)
            except REDIS_UNREACHABLE:  # the marker expires by itself; the job's outcome stands
                log.warning("forecast %s: could not clear its in-flight marker", task_id)


@task_prerun.connect(weak=False)
def _started_event(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
    if getattr(sender, "name", None) == FORECAST_TASK and task_id:
        events.status(sender.app, task_id, JobStatus.STARTED)


def _end_cancelled(task: Any, task_id: str) -> None:
    """End a cancelled job: REVOKED (again: the web stored it when it accepted the cancel), and
    no result stored over it, nothing published, no history row (Ignore: no task_success)."""
    log.info("forecast %s: cancelled; stopped, its work dropped", task_id)
    task.backend.mark_as_revoked(task_id, reason="cancelled", request=task.request)
    raise Ignore()


@task_postrun.connect(weak=False)
def _completion_webhook(sender: Any = None, task_id: str | None = None, kwargs: Any = None, **_: Any) -> None:
    # Completion webhooks (worker/webhooks.py): task_postrun runs after the job's state is
    # stored; a finished job with a callback_url gets that state POSTed to it, signed. The live
    # updates (worker/events.py) publish that state too: an end, a retry or a fan-out.
    if getattr(sender, "name", None) == FORECAST_TASK and task_id:
        events.stored_state(sender.app, task_id)
        webhooks.enqueue_completion(sender, task_id, kwargs or {})
