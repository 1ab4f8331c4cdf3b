"""Laravel outages in tasks: one function decides whether a job runs again or ends.

`forecast.sales` and `forecast.refresh` both fetch from Laravel, and both settle an outage in
:func:`retry_or_end`: run again later (UPSTREAM_TASK_RETRIES times, after
UPSTREAM_RETRY_DELAY_SECONDS, doubling) while LARAVEL_DEADLINE_SECONDS leaves time for it,
otherwise end FAILURE upstream_unavailable.

The deadline counts from the job's first start and survives its re-runs: a re-run's message
carries that start in a header of its own (``SINCE_HEADER``), not in the kwargs, which are the
public request (docs/api.md §6). A message without it (a first run, or one Laravel sent) starts now.
"""
from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import Retry

from shared.contract.backoff import backoff_seconds
from shared.contract.config import Settings
from shared.contract.errors import LaravelDeadlinePassed, UpstreamUnavailable
from shared.sources.deadline import Deadline, parse_since

log = logging.getLogger(__name__)

SINCE_HEADER = "sf_laravel_since"


def job_deadline(task: Any, settings: Settings) -> Deadline:
    """This run's deadline for Laravel: LARAVEL_DEADLINE_SECONDS after the job's first start."""
    request = task.request
    carried = (getattr(request, "headers", None) or {}).get(SINCE_HEADER, getattr(request, SINCE_HEADER, None))
    return Deadline.starting(settings.laravel_deadline_seconds, parse_since(carried))


def retry_or_end(task: Any, exc: UpstreamUnavailable, deadline: Deadline, settings: Settings) -> Retry:
    """The :class:`Retry` to raise to run ``task`` again later, its first start carried along; or,
    when no re-run is left or the deadline leaves no time for one, raises the job's final error."""
    if isinstance(exc, LaravelDeadlinePassed):
        raise exc
    retries = task.request.retries
    if retries >= settings.upstream_task_retries:
        raise exc
    countdown = backoff_seconds(retries, base=settings.upstream_retry_delay_seconds)
    if not deadline.allows(countdown):
        raise deadline.too_close(exc.message, countdown) from None
    log.warning(
        "%s: upstream unavailable (%s); retry %d in %.0fs (%.0fs left of LARAVEL_DEADLINE_SECONDS)",
        task.name, exc, retries + 1, countdown, deadline.remaining(),
    )
    headers = {**(getattr(task.request, "headers", None) or {}), SINCE_HEADER: deadline.started}
    return task.retry(exc=exc, countdown=countdown, headers=headers, throw=False)
