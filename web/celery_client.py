"""The web tier's Celery app: it only sends `forecast.sales` by name and reads results.

Built from the wire settings both sides share (shared/contract/protocol.py), with short timeouts and few
retries for publishing and result reads, so a client waiting on an outage gets a 503 quickly
(the workers keep their own, patient settings). It declares no queues, installs no poison guard,
schedule or worker logging, and imports nothing from ``worker/``.
"""
from __future__ import annotations

from celery import Celery

from shared.contract.config import Settings
from shared.contract.protocol import celery_conf
from shared.stores.redis_client import WEB_TIMEOUT_SECONDS

# An outage must answer 503 within a bound, not hang a request: every Redis call of the web tier
# gives up after this, with one quick retry (a pooled connection may be stale after a restart).
# The web's own Redis client (shared.stores.redis_client, Purpose.WEB) waits the same.
REDIS_TIMEOUT_SECONDS = WEB_TIMEOUT_SECONDS
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def create_celery_client(settings: Settings, *, bounded: bool = True) -> Celery:
    """A sender-only Celery app; ``bounded=False`` keeps Celery's own timeouts (test clients)."""
    app = Celery("sales_forecast_web", set_as_current=False)
    app.conf.update(celery_conf(settings))
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

