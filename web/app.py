"""The web tier's app factory: ``gunicorn 'web.app:create_app()'``.

Configuration is read once, here. The web tier sends `forecast.sales` by name and never imports
the worker's task code or the modelling stack (its image leaves pandas and statsforecast out).
"""
from __future__ import annotations

import logging
import os
import time

import redis
from celery import Celery
from flask import Flask, Response, g, request
from flask_cors import CORS
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from shared.config import Settings, redact_url
from web import api, dashboard, health, history, legacy, openapi
from web.auth import init_auth
from web.errors import register_error_handlers
from web.logging_setup import init_logging
from web.metrics import WebMetrics
from worker.celery_app import create_celery

log = logging.getLogger(__name__)

# An outage must answer 503 within a bound, not hang a request: every Redis call of the web tier
# gives up after this, with one quick retry (a pooled connection may be stale after a restart).
REDIS_TIMEOUT_SECONDS = 2.0
_WEB_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
        health_check_interval=30,
    )


def bound_celery_for_web(celery_app: Celery) -> None:
    """Short timeouts and few retries for publishing and result reads: the web only sends and
    reads, and a client waiting on an outage should get a 503 quickly (workers keep theirs)."""
    conf = celery_app.conf
    broker_opts = dict(conf.broker_transport_options or {})
    broker_opts.setdefault("socket_timeout", REDIS_TIMEOUT_SECONDS)
    broker_opts.setdefault("socket_connect_timeout", REDIS_TIMEOUT_SECONDS)
    backend_opts = dict(conf.result_backend_transport_options or {})
    backend_opts["retry_policy"] = dict(_WEB_RETRY_POLICY)
    conf.update(
        broker_transport_options=broker_opts,
        broker_connection_timeout=REDIS_TIMEOUT_SECONDS,
        broker_connection_max_retries=1,
        task_publish_retry_policy=dict(_WEB_RETRY_POLICY),
        result_backend_transport_options=backend_opts,
        redis_socket_timeout=REDIS_TIMEOUT_SECONDS,
        redis_socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


def create_app(settings: Settings | None = None, celery_app: Celery | None = None) -> Flask:
    """Build the web app. A ``celery_app`` passed in is used as it is configured."""
    settings = settings or Settings.from_env()
    if celery_app is None:
        celery_app = create_celery(settings, include_tasks=False)
        bound_celery_for_web(celery_app)
    client = redis_client(settings.redis_url)
    metrics = WebMetrics(multiproc_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None)

    app = Flask(__name__)
    init_logging(app, settings)  # first, so start-up warnings are JSON lines too
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False  # documents keep the order the worker gave them
    app.extensions[api.EXTENSION_KEY] = api.ForecastService(settings, celery_app, client, metrics)
    app.extensions[health.READINESS_KEY] = health.ReadinessProbe(
        client,
        celery_app,
        settings.forecast_queue,
        broker_is_redis=settings.celery_broker_url == settings.redis_url,
    )

    _init_request_metrics(app, metrics)  # first: it must time what auth rejects, too
    register_error_handlers(app)
    init_auth(app, settings.api_keys)
    # Any origin may call /api/*: access is controlled by API keys sent in headers, never by
    # cookies, so there are no credentials for a foreign page to ride on.
    CORS(
        app,
        resources={r"/api/*": {"origins": "*"}},
        allow_headers=["Authorization", "X-API-Key", "Idempotency-Key", "Content-Type"],
        expose_headers=["Location", "Retry-After"],
        methods=["GET", "POST", "DELETE", "OPTIONS"],
        max_age=600,
        send_wildcard=True,
    )
    history.init_app(app, settings)  # the forecast history's database (§9), read by web/history.py
    for blueprint in (api.bp, legacy.bp, health.bp, openapi.bp, dashboard.bp, history.bp):
        app.register_blueprint(blueprint)

    log.info(
        "web app: redis=%s queue=%s timezone=%s auth=%s",
        redact_url(settings.redis_url),
        settings.forecast_queue,
        settings.sales_timezone,
        "api keys" if settings.api_keys else "none",
    )
    return app


def _init_request_metrics(app: Flask, metrics: WebMetrics) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.sf_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        started = g.get("sf_started", time.perf_counter())
        metrics.observe_request(request.method, rule, response.status_code, started)
        return response

