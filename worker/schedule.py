"""Beat's schedule: `forecast.refresh` (worker/refresh.py) at the start of each new period.

Months on FORECAST_REFRESH_CRON (02:00 on the 1st); when FORECAST_REFRESH_FREQUENCIES names them,
weeks at 02:00 each Monday and days at 02:00 each day, in SALES_TIMEZONE.

Plain schedule data for ``worker.celery_app``: it imports no task.
"""
from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from shared.contract.config import Settings
from shared.contract.protocol import REFRESH_TASK

REFRESH_ENTRY = "forecast-refresh"  # the monthly one; weekly and daily: "forecast-refresh-week", ...
# When a new week or day has begun (a month's is FORECAST_REFRESH_CRON).
PERIOD_CRON = {"week": "0 2 * * 1", "day": "0 2 * * *"}
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
    entries: dict[str, dict[str, Any]] = {}
    for frequency in settings.forecast_refresh_frequencies:
        monthly = frequency == "month"
        entries[REFRESH_ENTRY if monthly else f"{REFRESH_ENTRY}-{frequency}"] = {
            "task": REFRESH_TASK,
            "schedule": schedule if monthly else parse_cron(PERIOD_CRON[frequency]),
            "options": {"queue": settings.forecast_queue, "expires": REFRESH_EXPIRES_SECONDS},
            **({} if monthly else {"kwargs": {"frequency": frequency}}),
        }
    return entries
