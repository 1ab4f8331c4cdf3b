"""What the web tier and the workers must agree on about Celery, as plain data.

Both sides build their own Celery app (``web.celery_client`` sends and reads; ``worker.celery_app``
consumes): this module holds the task names, the states the tasks report, and the part of the
Celery configuration that decides what is on the wire (JSON only, the result backend's keys and
their lifetime, where jobs are routed). It imports nothing from Celery, so ``shared/`` stays pure;
the values are Celery's own setting names and state names.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from shared.contract.config import Settings

# Task names: the contract's (docs/api.md §6) and the worker's internal ones. The web tier sends
# by name and never imports the tasks' code.
FORECAST_TASK = "forecast.sales"
REFRESH_TASK = "forecast.refresh"
WEBHOOK_TASK = "forecast.webhook"
ALERT_WEBHOOK_TASK = "forecast.alert_webhook"  # one alert to one URL (worker/webhooks.py)
DRAIN_TASK = "history.drain"  # writes the history outbox into DATABASE_URL (worker/history.py)
CHUNK_TASK = "forecast.grouped.chunk"  # one chunk of a grouped job's series (worker/grouped.py)

# Celery's standard result key (docs/api.md §6): a Laravel app reads a job's outcome from it.
RESULT_KEY_PREFIX = "celery-task-meta-"


class CeleryState(StrEnum):
    """The task states as Celery stores them under ``celery-task-meta-<id>``.

    Celery's built-in states, plus PROGRESS, which the forecast task reports between stages.
    """

    PENDING = "PENDING"
    RECEIVED = "RECEIVED"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    RETRY = "RETRY"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"
    REJECTED = "REJECTED"
    IGNORED = "IGNORED"


# The states after which a job changes no more, as Celery stores them.
FINAL_STATES = frozenset({CeleryState.SUCCESS, CeleryState.FAILURE, CeleryState.REVOKED})


def result_key(task_id: str) -> str:
    """The Redis key under which Celery's result backend stores a task's meta
    (``celery-task-meta-<id>``), which a Laravel app reads directly (CONTRACT §6)."""
    return f"{RESULT_KEY_PREFIX}{task_id}"


# How long one question to a sentinel may take: a sentinel that does not answer is skipped for
# the next one, so a dead sentinel costs a client this much, not a hang.
SENTINEL_SOCKET_TIMEOUT_SECONDS = 1.0


def sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    """The options of a connection to a sentinel (not to the master it names)."""
    options: dict[str, Any] = {
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT_SECONDS,
    }
    if settings.redis_sentinel_password:
        options["password"] = settings.redis_sentinel_password
    return options


def sentinel_transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's Sentinel transport and Celery's Sentinel result backend read the master's name
    and the sentinels' own connection options from their transport options."""
    if not settings.redis_sentinels:
        return {}
    return {"master_name": settings.redis_sentinel_master, "sentinel_kwargs": sentinel_kwargs(settings)}


def status_url(task_id: str) -> str:
    """Where a job's status document is read (docs/api.md §4)."""
    return f"/api/v1/forecasts/{task_id}"


def series_url(task_id: str) -> str:
    """Where a grouped job's series are paged (docs/api.md §8)."""
    return f"{status_url(task_id)}/series"


def series_csv_url(task_id: str) -> str:
    """Where a grouped job's series are downloaded as CSV (docs/api.md §8)."""
    return f"{status_url(task_id)}/series.csv"


def celery_conf(settings: Settings) -> dict[str, Any]:
    """The Celery settings every app of the service uses, sender or consumer.

    Queue declarations, the poison guard, the beat schedule and logging are the worker's own
    (``worker.celery_app``); the web tier adds only its short timeouts (``web.celery_client``).
    """
    queue = settings.forecast_queue
    return {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        # JSON only, in and out: a pickle on the queue is refused, never deserialised.
        "accept_content": ["json"],
        "task_serializer": "json",
        "result_serializer": "json",
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_track_started": True,
        "task_send_sent_event": True,
        "result_extended": True,  # the stored meta carries the job's kwargs (webhooks read them)
        "result_expires": settings.result_ttl_seconds,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout_seconds,
            **sentinel_transport_options(settings),
        },
        "result_backend_transport_options": {
            "visibility_timeout": settings.visibility_timeout_seconds,
            **sentinel_transport_options(settings),
        },
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
        "task_routes": {
            name: {"queue": queue, "routing_key": queue}
            for name in (FORECAST_TASK, REFRESH_TASK, WEBHOOK_TASK, CHUNK_TASK)
        },
        "timezone": settings.sales_timezone,
        "enable_utc": True,
    }
