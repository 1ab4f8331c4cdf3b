"""The dashboard: ``/`` (submit a forecast, watch it run, see the chart and its figures), ``/jobs``
(recent jobs and their states), and ``GET /api/v1/forecasts?limit=N``, the JSON list ``/jobs`` reads.

The pages are static shells: their scripts call the public API from the browser, with the API
key the person types in (kept in the tab's sessionStorage, sent as ``X-API-Key``). The server
never puts a key into a page: ``/`` and ``/jobs`` are open, and a key in their HTML would be
handed to anyone who can load them. Every asset is served from ``/static`` (the chart is the
vendored plotly.js basic bundle, see ``scripts/vendor_assets.sh``); the Content-Security-Policy
below lets the pages load and call nothing else, and run no inline script.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Response, jsonify, render_template, request

from shared.contract.schema import GROUP_FIELD_PATTERN, MAX_GROUP_FIELDS, MEASURE_DESCRIPTIONS, MODEL_NAMES
from shared.contract.status import build_status
from web.api import service
from web.schemas import ListQuery

bp = Blueprint("dashboard", __name__, template_folder="templates")

# Scripts and connections: this origin only. Styles: plotly.js writes <style> and style=""
# attributes at run time, so inline styles are allowed (inline *scripts* are not).
# img-src data:/blob: is plotly's "download as PNG" button, which renders locally.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _page(template: str, **context: Any) -> Response:
    settings = service().settings
    html = render_template(
        template,
        auth_required=bool(settings.api_keys),
        models=MODEL_NAMES,
        # The form checks group_by with the server's own rule, so the two cannot drift apart.
        group_field_pattern=GROUP_FIELD_PATTERN,
        max_group_fields=MAX_GROUP_FIELDS,
        measures={m.value: text for m, text in MEASURE_DESCRIPTIONS.items()},
        **context,
    )
    return html_page(html)


def html_page(html: str) -> Response:
    """An HTML page of the service (dashboard, API docs) with the security headers they all carry."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
def index() -> Response:
    """The forecast page: submit a job, follow it, see its chart; a static shell whose script calls the
    API with the key typed in the browser."""
    return _page("dashboard.html", page="forecast")


@bp.get("/jobs")
def jobs() -> Response:
    """The recent jobs page; its script reads ``GET /api/v1/forecasts``."""
    return _page("jobs.html", page="jobs")


# ---- GET /api/v1/forecasts: recent jobs, newest first ------------------------------------


def _summary(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The headline of a finished job's document; the full document stays at GET /{task_id}."""
    data = result.get("data") if isinstance(result, Mapping) else None
    forecast = data.get("forecast") if isinstance(data, Mapping) else None
    if not isinstance(forecast, Mapping):
        return None
    keys = ("period", "model", "next_month_forecast", "expected_range_low", "expected_range_high",
            "confidence_level", "model_accuracy", "next_period_forecast", "frequency")
    return {key: forecast.get(key) for key in keys}


@bp.get("/api/v1/forecasts")
def list_forecasts() -> Response:
    """Recent jobs (kept for RESULT_TTL_SECONDS, at most 200), each with its state and headline."""
    limit = ListQuery.parse(request.args).limit
    svc = service()
    jobs: list[dict[str, Any]] = []
    for task_id in svc.jobs.recent(limit):
        record = svc.jobs.get(task_id)
        meta = svc.read_meta(task_id)
        if record is None and meta is None:  # expired: its id outlives it in the recent list
            continue
        doc = build_status(task_id, meta, submitted_at=record.submitted_at if record else None)
        body = doc.model_dump(mode="json", exclude={"result"})
        if body["error"] and body["error"].get("field") is None:
            body["error"].pop("field", None)
        body["params"] = record.params if record else None
        body["forecast"] = _summary(doc.result)
        jobs.append(body)
    return jsonify({"jobs": jobs, "limit": limit})
