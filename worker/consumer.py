"""The worker's consumer: Celery's own, retrying a lost broker every few seconds from the start.

When the broker goes away (Redis restarted, or a Sentinel failover: the sentinels name the new
master a few seconds after the old one died), Celery's consumer reconnects on kombu's default
schedule, 2, 4, 6 ... up to 30 s between attempts: a switch of 2.3 s cost the worker 6 s before
it consumed again, a switch of 7 s 12 s. Here the attempts come 1, 2, 3, 4, then every 5 s, so the
worker is back about a second after the new master is named.

Celery reconnects at most ``broker_connection_max_retries`` times before the worker gives up
(exits, for its supervisor to restart it); worker/celery_app.py raises that count so the worker
still waits about as long in all (~50 minutes) as on kombu's slower schedule.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_STEP_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 5.0
# ~50 minutes at RECONNECT_MAX_SECONDS: what 100 attempts on kombu's 2-30 s schedule added up to.
RECONNECT_MAX_RETRIES = 600
CONSUMER = "worker.consumer:Consumer"


class Consumer(CeleryConsumer):
    """Celery's consumer; only the pace of its broker reconnections differs."""

    def ensure_connected(self, conn: Any) -> Any:
        """Connect to the broker, retrying on RECONNECT_*_SECONDS' schedule instead of kombu's 2-30 s one."""
        # Celery calls conn.ensure_connection(errback, max_retries, callback=...) without the
        # intervals: give them here, for this connection only.
        conn.ensure_connection = partial(
            conn.ensure_connection,
            interval_start=RECONNECT_FIRST_SECONDS,
            interval_step=RECONNECT_STEP_SECONDS,
            interval_max=RECONNECT_MAX_SECONDS,
        )
        return super().ensure_connected(conn)
