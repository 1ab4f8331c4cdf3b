"""GET /healthz (process up), /readyz (Redis answers and a worker consumes the queue), /metrics."""
from __future__ import annotations

import threading
import time

import redis
from celery import Celery
from flask import Blueprint, Response, current_app, jsonify

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


class ReadinessProbe:
    def __init__(self, client: redis.Redis, celery_app: Celery, queue: str, *, broker_is_redis: bool) -> None:
        self.redis = client
        self.celery = celery_app
        self.queue = queue
        self.broker_is_redis = broker_is_redis
        self._lock = threading.Lock()
        self._worker_ok = False
        self._checked_at = float("-inf")

    def redis_ok(self) -> bool:
        try:
            return bool(self.redis.ping())
        except BROKER_ERRORS:
            return False

    def worker_ok(self) -> bool:
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

    def missing(self) -> list[str]:
        missing: list[str] = []
        if not self.redis_ok():
            missing.append("redis")
            if self.broker_is_redis:
                # The workers are asked through that same Redis: nothing more can be known.
                return missing
        if not self.worker_ok():
            missing.append("worker")
        return missing


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(Health().model_dump(mode="json"))


@bp.get("/readyz")
def readyz() -> Response:
    probe: ReadinessProbe = current_app.extensions[READINESS_KEY]
    missing = probe.missing()
    if missing:
        response = jsonify(Readiness(status="unavailable", missing=missing).to_json_dict())
        response.status_code = 503
        return response
    return jsonify(Readiness(status="ready").to_json_dict())


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = current_app.extensions["sales_forecast"].metrics.exposition()
    return Response(body, mimetype=None, content_type=content_type)
