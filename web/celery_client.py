"""The web tier's Celery app: it only sends `forecast.sales` by name and reads results.

Built from the wire settings both sides share (shared/contract/protocol.py), with short timeouts and few
retries for publishing and result reads, so a client waiting on an outage gets a 503 quickly
(the workers keep their own, patient settings). It declares no queues, installs no poison guard,
schedule or worker logging, and imports nothing from ``worker/``.
"""
from __future__ import annotations

from celery import Celery
from celery.backends.redis import RedisBackend, SentinelBackend

from shared.contract.config import Settings
from shared.contract.protocol import celery_conf
from shared.stores.redis_client import WEB_TIMEOUT_SECONDS

# An outage must answer 503 within a bound, not hang a request: every Redis call of the web tier
# gives up after this, with one quick retry (a pooled connection may be stale after a restart).
# The web's own Redis client (shared.stores.redis_client, Purpose.WEB) waits the same.
REDIS_TIMEOUT_SECONDS = WEB_TIMEOUT_SECONDS
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


class _SendsWithoutSubscribing:
    """A result backend that does not subscribe to a task's result channel when the task is sent.

    Celery's Redis backend subscribes, at every ``send_task``, to the new task's result channel, for
    an ``AsyncResult.get()`` that the web never calls: it reads results by key (web/jobs.py). The
    subscriptions only grow, and during a Redis failover the subscribe's failed reconnect raised
    ``RuntimeError("Retry limit exceeded ... must be restarted")`` out of ``send_task``: a submit
    answered 500 instead of 503 (tests/reliability/test_redis_failover.py)."""

    def on_task_call(self, producer: object, task_id: str) -> None:
        """Nothing: no result channel is subscribed to."""


class SenderRedisBackend(_SendsWithoutSubscribing, RedisBackend):
    """Celery's Redis result backend, for a process that sends tasks and reads results by key."""


class SenderSentinelBackend(_SendsWithoutSubscribing, SentinelBackend):
    """Celery's Sentinel result backend, for a process that sends tasks and reads results by key."""


_SENDER_BACKENDS = {
    "redis": f"{__name__}:SenderRedisBackend",
    "rediss": f"{__name__}:SenderRedisBackend",
    "sentinel": f"{__name__}:SenderSentinelBackend",
}


def create_celery_client(settings: Settings, *, bounded: bool = True) -> Celery:
    """A sender-only Celery app; ``bounded=False`` keeps Celery's own timeouts (test clients)."""
    app = Celery("sales_forecast_web", set_as_current=False)
    app.conf.update(celery_conf(settings))
    backend = str(app.conf.result_backend or "")
    scheme = backend.partition("://")[0]
    if scheme in _SENDER_BACKENDS:  # Celery's "<class>+<url>" form names the backend class to use
        app.conf.result_backend = f"{_SENDER_BACKENDS[scheme]}+{backend}"
    if bounded:
        bound_for_web(app)
    return app


def bound_for_web(celery_app: Celery) -> None:
    """Short timeouts and few retries for publishing and result reads."""
    conf = celery_app.conf
    broker_opts = dict(conf.broker_transport_options or {})
    broker_opts.setdefault("socket_timeout", REDIS_TIMEOUT_SECONDS)
    broker_opts.setdefault("socket_connect_timeout", REDIS_TIMEOUT_SECONDS)
    backend_opts = dict(conf.result_backend_transport_options or {})
    backend_opts["retry_policy"] = dict(RETRY_POLICY)
    conf.update(
        broker_transport_options=broker_opts,
        broker_connection_timeout=REDIS_TIMEOUT_SECONDS,
        broker_connection_max_retries=1,
        task_publish_retry_policy=dict(RETRY_POLICY),
        result_backend_transport_options=backend_opts,
        redis_socket_timeout=REDIS_TIMEOUT_SECONDS,
        redis_socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )

