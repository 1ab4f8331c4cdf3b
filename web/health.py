"""GET /healthz (process up), /readyz (Redis answers and a worker consumes the queue), /metrics.

/readyz is 503 only for what jobs need: Redis (the broker, the results, the job records) and a
worker. The forecast history's database is not one of them (jobs succeed without it and the
history catches up from the outbox, worker/history.py): when only it is down, /readyz answers 200
``degraded`` naming ``database``, so a load balancer keeps the web in service.
"""
from __future__ import annotations

import threading
import time

import redis
from celery import Celery
from flask import Blueprint, Response, current_app, jsonify

from shared.history.repository import HistoryRepository
from web.errors import BROKER_ERRORS
from web.schemas import Health, Readiness

bp = Blueprint("health", __name__)

READINESS_KEY = "sales_forecast.readiness"
INSPECT_TIMEOUT_SECONDS = 1.0
# Asking the workers costs a broadcast and a full INSPECT_TIMEOUT wait: probes hit a cached answer.
# A "no worker" answer is kept only briefly: a worker that has just started (a deploy, a restart,
# every test stack) is seen within about a second, not after the rest of a long cache.
WORKER_CHECK_CACHE_SECONDS = 5.0
NO_WORKER_CACHE_SECONDS = 1.0
# The database is asked at most this often (a probe every second would be a query a second).
DATABASE_CHECK_CACHE_SECONDS = 2.0


class ReadinessProbe:
    """What /readyz asks: Redis, a worker consuming the forecast queue and the history database; the
    worker's and the database's answers are kept a few seconds, so probes stay cheap."""

    def __init__(
        self,
        client: redis.Redis,
        celery_app: Celery,
        queue: str,
        *,
        broker_is_redis: bool,
        history: HistoryRepository | None = None,
    ) -> None:
        self.redis = client
        self.celery = celery_app
        self.queue = queue
        self.broker_is_redis = broker_is_redis
        self.history = history
        self._lock = threading.Lock()
        # The run id of the Redis server last answered: another one (a failover, a restart) means
        # the workers' connections went with the old one, whatever this process's cache says.
        self._redis_run_id: str | None = None
        self._worker_ok = False
        self._checked_at = float("-inf")
        self._db_lock = threading.Lock()
        self._db_ok = True
        self._db_checked_at = float("-inf")

    def redis_ok(self) -> bool:
        """True when Redis answers (INFO server, or PING where INFO is not allowed). When the server
        answering is not the one that answered last (a Sentinel failover, a restart), the cached
        worker answer is dropped: the client's retry can hide the switch from this process, and
        the workers may still be reconnecting."""
        try:
            try:
                run_id = self.redis.info("server").get("run_id")
            except redis.exceptions.ResponseError:  # INFO renamed or denied: a PING, and no run id
                self.redis.ping()
                run_id = None
        except BROKER_ERRORS:
            return False
        if run_id != self._redis_run_id:
            self._redis_run_id = run_id
            self.forget_workers()
        return True

    def worker_ok(self) -> bool:
        """True when some worker consumes the forecast queue (asked through Celery's control, answer kept a while)."""
        with self._lock:
            now = time.monotonic()
            kept = WORKER_CHECK_CACHE_SECONDS if self._worker_ok else NO_WORKER_CACHE_SECONDS
            if now - self._checked_at < kept:
                return self._worker_ok
            try:
                replies = self.celery.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS).active_queues()
            except BROKER_ERRORS:
                replies = None
            self._worker_ok = any(
                isinstance(queue, dict) and queue.get("name") == self.queue
                for queues in (replies or {}).values()
                for queue in (queues or [])
            )
            self._checked_at = time.monotonic()
            return self._worker_ok

    def forget_workers(self) -> None:
        """Ask the workers afresh next time: after Redis was away (a restart, a failover) they
        may still be reconnecting, and a cached "yes" from before would be a false 200."""
        with self._lock:
            self._checked_at = float("-inf")

    def database_ok(self) -> bool:
        """True when the history database answers, or none is configured; asked at most every
        DATABASE_CHECK_CACHE_SECONDS."""
        if self.history is None:
            return True
        with self._db_lock:
            if time.monotonic() - self._db_checked_at >= DATABASE_CHECK_CACHE_SECONDS:
                self._db_ok = self.history.ping()
                self._db_checked_at = time.monotonic()
            return self._db_ok

    def missing(self) -> list[str]:
        """What the service cannot take or run jobs without right now (``redis``, ``worker``); empty when ready."""
        missing: list[str] = []
        if not self.redis_ok():
            missing.append("redis")
            self.forget_workers()
            if self.broker_is_redis:
                # The workers are asked through that same Redis: nothing more can be known.
                return missing
        if not self.worker_ok():
            missing.append("worker")
        return missing

    def degraded(self) -> list[str]:
        """What is down while jobs still run: ``database`` (the history catches up once it is back)."""
        return [] if self.database_ok() else ["database"]


@bp.get("/healthz")
def healthz() -> Response:
    """GET /healthz: liveness, 200 while the process runs."""
    return jsonify(Health().model_dump(mode="json"))


@bp.get("/readyz")
def readyz() -> Response:
    """GET /readyz: 200 ready, or degraded naming what is down; 503 naming what is missing."""
    probe: ReadinessProbe = current_app.extensions[READINESS_KEY]
    missing = probe.missing()
    if missing:
        response = jsonify(Readiness(status="unavailable", missing=missing).to_json_dict())
        response.status_code = 503
        return response
    degraded = probe.degraded()
    if degraded:
        return jsonify(Readiness(status="degraded", degraded=degraded).to_json_dict())
    return jsonify(Readiness(status="ready").to_json_dict())


@bp.get("/metrics")
def metrics() -> Response:
    """GET /metrics: the Prometheus exposition of the web's figures and the workers' counters."""
    body, content_type = current_app.extensions["sales_forecast"].metrics.exposition()
    return Response(body, mimetype=None, content_type=content_type)
