"""Scheduled refresh: beat runs `forecast.refresh` on FORECAST_REFRESH_CRON (02:00 on the 1st).

The refresh recomputes the default forecast (the request with no fields, refresh=True) through the
same pipeline and caches as `forecast.sales`, so that the first request of the new month finds
the new month's forecast already in the cache, and the fitted model already in the model store.

The schedule part (:func:`parse_cron`, :func:`beat_schedule`) is imported by
``worker.celery_app``, which the web tier imports too: it needs nothing but Celery. The task's
body imports the worker's pipeline context when it runs, in the worker.
"""
from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from celery.schedules import crontab

from shared.config import Settings
from shared.deadline import Deadline
from shared.errors import ForecastError, UpstreamUnavailable
from worker.upstream import job_deadline, retry_or_end

log = logging.getLogger(__name__)

REFRESH_TASK = "forecast.refresh"
REFRESH_ENTRY = "forecast-refresh"
# FORECAST_REFRESH_CRON set to one of these turns the scheduled refresh off.
CRON_OFF = frozenset({"off", "none", "disabled", "-"})
# A refresh still queued this long after it was due is dropped: the next one is a month away,
# and a stale run after a long outage would only compete with the requests it meant to serve.
REFRESH_EXPIRES_SECONDS = 6 * 3600


def parse_cron(expression: str) -> crontab | None:
    """A five-field cron expression (minute hour day-of-month month day-of-week) as a crontab.

    ``None`` for "off". Raises ``ValueError`` naming FORECAST_REFRESH_CRON for anything else
    that is not five valid fields, so a typo stops beat at start-up instead of never firing.
    """
    text = " ".join(expression.split())
    if text.lower() in CRON_OFF:
        return None
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(
            f"FORECAST_REFRESH_CRON={expression!r}: expected 5 fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 2 1 * *'"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except (ValueError, TypeError) as exc:  # celery's parser raises ValueError with the bad part
        raise ValueError(f"FORECAST_REFRESH_CRON={expression!r}: {exc}") from None


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The ``beat_schedule`` for these settings: the monthly refresh, unless it is off.

    The crontab is read in the app's time zone (SALES_TIMEZONE): 02:00 is the business's 02:00.
    """
    schedule = parse_cron(settings.forecast_refresh_cron)
    if schedule is None:
        return {}
    return {
        REFRESH_ENTRY: {
            "task": REFRESH_TASK,
            "schedule": schedule,
            "options": {"queue": settings.forecast_queue, "expires": REFRESH_EXPIRES_SECONDS},
        }
    }


def refresh_default_forecast(
    app: Any, *, today: date | None = None, task_id: str | None = None, deadline: Deadline | None = None
) -> dict[str, Any]:
    """Recompute the default forecast, bypassing (and so replacing) the cached one.

    Returns the result document, as `forecast.sales` would for ``{"refresh": true}``.
    ``deadline`` bounds the time on Laravel (default: LARAVEL_DEADLINE_SECONDS from now).
    """
    # Imported here: the pipeline needs the modelling stack, which the web tier (importing this
    # module for the schedule) does not have.
    from shared.schema import ForecastRequest
    from worker.tasks import _context, forecast_for

    ctx = _context(app)
    today = today or datetime.now(ZoneInfo(ctx.settings.sales_timezone)).date()
    request = ForecastRequest.parse({"refresh": True}).resolved(today)
    deadline = deadline or Deadline.starting(ctx.settings.laravel_deadline_seconds)
    return forecast_for(ctx, request, task_id=task_id, deadline=deadline, today=today)


@shared_task(bind=True, name=REFRESH_TASK, throws=(ForecastError,), max_retries=None)
def forecast_refresh(self: Any) -> dict[str, Any]:
    """Beat's monthly job: refresh the default forecast; retried like `forecast.sales` on outages."""
    settings: Settings = self.app.settings
    deadline = job_deadline(self, settings)
    try:
        document = refresh_default_forecast(self.app, task_id=self.request.id, deadline=deadline)
    except UpstreamUnavailable as exc:
        raise retry_or_end(self, exc, deadline, settings) from None
    forecast = document["data"]["forecast"]
    meta = document["data"]["meta"]
    log.info(
        "refreshed the default forecast for %s (model %s, fingerprint %s)",
        forecast["period"], forecast["model"], meta["data_fingerprint"],
    )
    # A summary, not the document: the cache holds the forecast, and Flower shows this.
    return {
        "period": forecast["period"],
        "model": forecast["model"],
        "next_month_forecast": forecast["next_month_forecast"],
        "data_fingerprint": meta["data_fingerprint"],
        "generated_at": meta["generated_at"],
    }
