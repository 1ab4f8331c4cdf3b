"""`forecast.refresh`: the scheduled refresh of the default forecast (beat sends it; worker/schedule.py).

The refresh recomputes the default forecast of a frequency (the request with only ``frequency``,
refresh=True) through the same pipeline and caches as `forecast.sales`, so that the first request
of the new month (week, day) finds its forecast already in the cache, and the fitted model already
in the model store.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task

from shared.contract.config import Settings
from shared.contract.errors import ForecastError, UpstreamUnavailable
from shared.contract.protocol import REFRESH_TASK
from shared.contract.schema import ForecastRequest
from shared.sources.deadline import Deadline
from worker.context import context, forecast_for
from worker.upstream import job_deadline, retry_or_end

log = logging.getLogger(__name__)


def refresh_default_forecast(
    app: Any,
    *,
    today: date | None = None,
    task_id: str | None = None,
    deadline: Deadline | None = None,
    frequency: str = "month",
) -> dict[str, Any]:
    """Recompute the default forecast, bypassing (and so replacing) the cached one.

    Returns the result document, as `forecast.sales` would for ``{"refresh": true, "frequency": ...}``.
    ``deadline`` bounds the time on Laravel (default: LARAVEL_DEADLINE_SECONDS from now).
    """
    ctx = context(app)
    today = today or ctx.today()
    request = ForecastRequest.parse({"refresh": True, "frequency": frequency}).resolved(today, ctx.settings.holiday_country)
    deadline = deadline or Deadline.starting(ctx.settings.laravel_deadline_seconds)
    return forecast_for(ctx, request, task_id=task_id, deadline=deadline, today=today)


@shared_task(bind=True, name=REFRESH_TASK, throws=(ForecastError,), max_retries=None)
def forecast_refresh(self: Any, frequency: str = "month") -> dict[str, Any]:
    """Beat's job: refresh the frequency's default forecast; retried like `forecast.sales` on outages."""
    settings: Settings = self.app.settings
    deadline = job_deadline(self, settings)
    try:
        document = refresh_default_forecast(self.app, task_id=self.request.id, deadline=deadline, frequency=frequency)
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
        "frequency": forecast["frequency"],
        "next_period_forecast": forecast["next_period_forecast"],
        **({"next_month_forecast": forecast["next_month_forecast"]} if "next_month_forecast" in forecast else {}),
        "data_fingerprint": meta["data_fingerprint"],
        "generated_at": meta["generated_at"],
    }
