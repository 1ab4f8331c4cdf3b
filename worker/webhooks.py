"""Completion webhooks: the `forecast.webhook` task, which POSTs a finished job's status document.

When a `forecast.sales` job submitted with ``callback_url`` reaches its final state (SUCCESS,
FAILURE, or REVOKED when cancelled), :func:`enqueue_completion` (called from worker/tasks.py once
the state is stored) queues ``forecast.webhook`` with the job's id. That task:

- reads the job's stored result meta and builds the same document GET /api/v1/forecasts/<id>
  answers, so the body is what a poll would have returned;
- takes the URL from the job's own stored kwargs (never from its message), re-checks it against
  CALLBACK_ALLOWED_HOSTS, and POSTs without following redirects;
- signs each attempt per Standard Webhooks (shared/contract/webhooks.py), ``webhook-id`` = the task id;
- retries a failed delivery (connection error, timeout, 5xx, 4xx other than 410) with exponential
  backoff, at most ``WEBHOOK_MAX_RETRIES`` times; a 3xx or 410 is final.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import redis
import requests
from celery import shared_task

from shared.contract import backoff
from shared.contract.config import Settings
from shared.contract.errors import DeliveryFailed, InvalidRequest
from shared.contract.protocol import ALERT_WEBHOOK_TASK, FINAL_STATES, WEBHOOK_TASK
from shared.contract.status import build_status, read_meta
from shared.contract.webhooks import check_callback_url, signature_headers, signing_key
from shared.stores.jobs import JobStore
from shared.stores.webhook_stats import DeliveryOutcome, WebhookStats
from worker.context import redis_client

log = logging.getLogger(__name__)

# 2, 4, 8 ... 512, 600 s: about 27 minutes in all, under the broker's visibility timeout (an ETA
# longer than that would be redelivered while it waits).
WEBHOOK_MAX_RETRIES = 10
WEBHOOK_BACKOFF_BASE_SECONDS = 2.0
WEBHOOK_BACKOFF_MAX_SECONDS = 600.0
WEBHOOK_TIMEOUT_SECONDS = 10.0
USER_AGENT = "sales-forecast-webhooks/1"


def backoff_seconds(retries: int) -> float:
    """Seconds before webhook retry ``retries + 1``: doubling from WEBHOOK_BACKOFF_BASE_SECONDS, at most
    WEBHOOK_BACKOFF_MAX_SECONDS."""
    return backoff.backoff_seconds(retries, base=WEBHOOK_BACKOFF_BASE_SECONDS, cap=WEBHOOK_BACKOFF_MAX_SECONDS)


def _jobs(app: Any) -> JobStore:
    return JobStore(redis_client(app), ttl_seconds=app.settings.result_ttl_seconds)


def _stats(app: Any) -> WebhookStats:
    return WebhookStats(redis_client(app))


def _count(stats: WebhookStats, outcome: DeliveryOutcome) -> None:
    # A count lost to a Redis hiccup must not turn a delivered webhook into a retried one.
    try:
        stats.count(outcome)
    except redis.RedisError:
        log.warning("webhook delivery count (%s) not recorded: Redis unreachable", outcome)


def status_document(task_id: str, meta: dict[str, Any], submitted_at: float | None) -> dict[str, Any]:
    """The body: GET /api/v1/forecasts/<id>'s document for this meta (the same mapping)."""
    return build_status(task_id, meta, submitted_at=submitted_at).to_json_dict()


def enqueue_completion(task: Any, task_id: str, kwargs: dict[str, Any]) -> None:
    """Queue the completion webhook of a finished job, if it asked for one and may have it.

    Called after the job's state is stored; never raises (a webhook must not fail the job).
    """
    callback_url = kwargs.get("callback_url") if isinstance(kwargs, dict) else None
    if not callback_url:
        return
    try:
        # The task checked the URL against CALLBACK_ALLOWED_HOSTS where the request entered;
        # the delivery checks it again, right before the POST.
        settings: Settings = task.app.settings
        meta = read_meta(task.app.backend, task_id)
        if not meta or meta.get("status") not in FINAL_STATES:
            return  # retrying, or not stored: the attempt that ends the job sends it
        task.app.send_task(WEBHOOK_TASK, kwargs={"task_id": task_id}, queue=settings.forecast_queue)
    except InvalidRequest as exc:
        log.warning("job %s: no webhook to %r (%s)", task_id, callback_url, exc)
    except Exception:
        log.exception("job %s: could not queue its completion webhook", task_id)


def _deliver(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        timeout=WEBHOOK_TIMEOUT_SECONDS,
        allow_redirects=False,  # a redirect could lead anywhere: the allowlist names the host
    )


@shared_task(bind=True, name=WEBHOOK_TASK, max_retries=WEBHOOK_MAX_RETRIES, ignore_result=True)
def deliver_webhook(self, task_id: str) -> None:
    """The ``forecast.webhook`` task: POST ``task_id``'s final status document, signed, to its callback URL;
    a failed delivery is retried with back-off (see the module docstring)."""
    app = self.app
    settings: Settings = app.settings
    meta = read_meta(app.backend, task_id)
    if not meta or meta.get("status") not in FINAL_STATES:
        log.warning("webhook for %s: the job has no final state stored (expired?); not sent", task_id)
        return
    job_kwargs = meta.get("kwargs") if isinstance(meta.get("kwargs"), dict) else {}
    url = job_kwargs.get("callback_url")
    if not isinstance(url, str) or not url:
        log.warning("webhook for %s: the job did not ask for one; not sent", task_id)
        return
    try:
        check_callback_url(url, settings.effective_callback_hosts)
    except InvalidRequest as exc:
        log.warning("webhook for %s: not sent to %r (%s)", task_id, url, exc)
        return

    record = _jobs(app).get(task_id)
    document = status_document(task_id, meta, record.submitted_at if record else None)
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = signature_headers(signing_key(settings.effective_webhook_secret), task_id, body)
    attempt = self.request.retries + 1
    stats = _stats(app)
    try:
        response = _deliver(url, body, headers)
        code = response.status_code
        if 200 <= code < 300:
            log.info("webhook for %s delivered to %s (HTTP %d, attempt %d)", task_id, url, code, attempt)
            _count(stats, DeliveryOutcome.DELIVERED)
            return
        if 300 <= code < 400 or code == 410:
            log.error("webhook for %s: %s answered HTTP %d; redirects and 410 are final", task_id, url, code)
            _count(stats, DeliveryOutcome.REFUSED)
            return
        raise DeliveryFailed(f"HTTP {code}")
    except (requests.RequestException, DeliveryFailed) as exc:
        if self.request.retries >= self.max_retries:
            log.error("webhook for %s: giving up after %d attempts (%s)", task_id, attempt, exc)
            _count(stats, DeliveryOutcome.FAILED)
            return
        _count(stats, DeliveryOutcome.RETRIED)
        countdown = backoff_seconds(self.request.retries)
        log.warning("webhook for %s to %s failed (%s); retry %d in %.0fs", task_id, url, exc, attempt, countdown)
        raise self.retry(countdown=countdown, exc=exc)


# ---- alerts (docs/api.md §11) ------------------------------------------------------------------
ALERT_EVENT = "forecast.alert"


def enqueue_alerts(app: Any, alerts: Any, callback_url: str | None) -> int:
    """Queue a ``forecast.alert`` webhook for each alert to the job's ``callback_url`` (when its host
    is allowed) and to ALERT_WEBHOOK_URL (when set); the number queued. Never raises: an alert is
    stored whatever happens to its webhook."""
    settings: Settings = app.settings
    urls = []
    if callback_url:
        try:
            urls.append(check_callback_url(callback_url, settings.effective_callback_hosts))
        except InvalidRequest as exc:
            log.warning("alerts: not sent to %r (%s)", callback_url, exc)
    if settings.alert_webhook_url:
        urls.append(settings.alert_webhook_url)
    sent = 0
    for alert in alerts:
        for url in urls:
            try:
                app.send_task(ALERT_WEBHOOK_TASK, kwargs={"alert": alert.to_json(), "url": url},
                              queue=settings.forecast_queue)
                sent += 1
            except Exception:
                log.exception("alert %s: could not queue its webhook to %s", alert.id, url)
    return sent


def alert_body(alert: dict[str, Any], timestamp: int) -> bytes:
    """The ``forecast.alert`` payload, in Standard Webhooks' shape: type, timestamp, data."""
    from datetime import datetime, timezone

    document = {"type": ALERT_EVENT, "timestamp": datetime.fromtimestamp(timestamp, timezone.utc).isoformat(),
                "data": alert}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@shared_task(bind=True, name=ALERT_WEBHOOK_TASK, max_retries=WEBHOOK_MAX_RETRIES, ignore_result=True)
def deliver_alert(self, alert: dict[str, Any], url: str) -> None:
    """POST one alert to ``url``, signed (``webhook-id`` = the alert's id, so a receiver that sees a
    retry can tell), retried with back-off like the completion webhooks."""
    import time

    settings: Settings = self.app.settings
    if not isinstance(alert, dict) or not isinstance(alert.get("id"), str) or not isinstance(url, str):
        log.warning("alert webhook: malformed arguments; not sent")
        return
    timestamp = int(time.time())
    body = alert_body(alert, timestamp)
    headers = signature_headers(signing_key(settings.effective_webhook_secret), alert["id"], body, timestamp=timestamp)
    attempt = self.request.retries + 1
    try:
        response = _deliver(url, body, headers)
        code = response.status_code
        if 200 <= code < 300:
            log.info("alert %s delivered to %s (HTTP %d, attempt %d)", alert["id"], url, code, attempt)
            return
        if 300 <= code < 400 or code == 410:
            log.error("alert %s: %s answered HTTP %d; redirects and 410 are final", alert["id"], url, code)
            return
        raise DeliveryFailed(f"HTTP {code}")
    except (requests.RequestException, DeliveryFailed) as exc:
        if self.request.retries >= self.max_retries:
            log.error("alert %s: giving up on %s after %d attempts (%s)", alert["id"], url, attempt, exc)
            return
        countdown = backoff_seconds(self.request.retries)
        log.warning("alert %s to %s failed (%s); retry %d in %.0fs", alert["id"], url, exc, attempt, countdown)
        raise self.retry(countdown=countdown, exc=exc)
