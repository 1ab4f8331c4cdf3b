"""The web tier's app factory: ``gunicorn 'web.app:create_app()'``.

Configuration is read once, here. The web tier sends `forecast.sales` by name (its own sender-only
Celery app, web/celery_client.py) and imports nothing from ``worker/`` nor the modelling stack
(its image leaves pandas and statsforecast out).
"""
from __future__ import annotations

import logging
import time

from celery import Celery
from flask import Flask, Response, g, request
from flask_cors import CORS

from shared.contract.config import Settings
from shared.stores.grouped_store import GroupedStore
from shared.stores.redis_client import Purpose, connect
from web import api, dashboard, events, health, history, legacy, openapi, series
from web.auth import init_auth
from web.celery_client import create_celery_client
from web.errors import register_error_handlers
from web.logging_setup import init_logging
from web.metrics import WebMetrics
from web.turns import TakeTurns

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, celery_app: Celery | None = None) -> Flask:
    """Build the web app. A ``celery_app`` passed in is used as it is configured."""
    settings = settings or Settings.from_env()
    if celery_app is None:
        celery_app = create_celery_client(settings)
    client = connect(settings, purpose=Purpose.WEB)
    metrics = WebMetrics(multiproc_dir=settings.prometheus_multiproc_dir)
    metrics.read_workers_figures_from(client)

    app = Flask(__name__)
    init_logging(app, settings)  # first, so start-up warnings are JSON lines too
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False  # documents keep the order the worker gave them
    app.extensions[api.EXTENSION_KEY] = api.ForecastService(settings, celery_app, client, metrics)
    app.extensions[series.STORE_KEY] = series.SeriesReader(
        GroupedStore(client, ttl_seconds=settings.result_ttl_seconds)
    )
    history.init_app(app, settings)  # the forecast history's database (§9), read by web/history.py
    app.extensions[health.READINESS_KEY] = health.ReadinessProbe(
        client,
        celery_app,
        settings.forecast_queue,
        broker_is_redis=settings.celery_broker_url == settings.service_redis_url,
        history=app.extensions[history.EXTENSION_KEY],
    )

    _init_request_metrics(app, metrics)  # first: it must time what auth rejects, too
    register_error_handlers(app)
    init_auth(app, settings.api_keys, token_endpoints={events.TOKEN_ENDPOINT})
    # Any origin may call /api/*: access is controlled by API keys sent in headers, never by
    # cookies, so there are no credentials for a foreign page to ride on.
    CORS(
        app,
        resources={r"/api/*": {"origins": "*"}},
        allow_headers=["Authorization", "X-API-Key", "Idempotency-Key", "Content-Type", "Last-Event-ID"],
        expose_headers=["Location", "Retry-After"],
        methods=["GET", "POST", "DELETE", "OPTIONS"],
        max_age=600,
        send_wildcard=True,
    )
    events.init_app(app, settings)  # live updates (Server-Sent Events), web/events.py
    for blueprint in (api.bp, series.bp, legacy.bp, health.bp, openapi.bp, dashboard.bp, history.bp):
        app.register_blueprint(blueprint)
    app.wsgi_app = TakeTurns(app.wsgi_app)  # type: ignore[method-assign]  # outermost: before any work

    log.info(
        "web app: redis=%s queue=%s timezone=%s auth=%s",
        settings.redis_description,
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

