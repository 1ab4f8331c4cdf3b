"""GET /openapi.json (OpenAPI 3.1, schemas generated from the pydantic models) and GET /docs.

The schemas come from the same models that validate requests and results, so the spec cannot
drift from the code; the paths are written here. /docs renders the spec as plain HTML on the
server: no JavaScript and no CDN (the service runs where there may be no internet).
"""
from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic.json_schema import models_json_schema

from shared.errors import ErrorCode
from shared.schema import ErrorDocument, ForecastRequest, ResultDocument, Submitted, TaskStatus
from web import history

bp = Blueprint("openapi", __name__)

REF = "#/components/schemas/{model}"
TITLE = "Sales forecast service"
VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request: not JSON, not an object, wrong content type.",
        401: "Missing or wrong API key (when API_KEYS is set).",
        404: "No job with this id.",
        409: "The job has already finished (or was cancelled).",
        413: "Body too large.",
        422: "Invalid parameters (`error.field` names the first one), or an Idempotency-Key reused with another body.",
        502: "Laravel unreachable (`upstream_unavailable`) or not answering with sales (`upstream_invalid`).",
        503: "Broker or result backend unreachable (`broker_unavailable`), or the history database (`history_unavailable`).",
    }
    return {str(s): _json("ErrorDocument", text[s]) for s in statuses}


TASK_ID = {
    "name": "task_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 255},
    "description": "The id returned by POST (or the Celery task id a Laravel producer chose).",
}

SUBMITTED_HEADERS = {
    "Location": {"schema": {"type": "string"}, "description": "The status URL."},
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds before polling."},
}


def _paths() -> dict[str, Any]:
    secured = [{"bearerAuth": []}, {"apiKeyHeader": []}]
    legacy_params = [
        {"name": "start_date", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "end_date", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "horizon", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 24}},
        {"name": "level", "in": "query", "schema": {"type": "number", "minimum": 50, "maximum": 99.9}},
        {
            "name": "model",
            "in": "query",
            "schema": {"type": "string", "enum": ["auto", "linear", "seasonal_naive", "ets", "theta", "arima"]},
        },
    ]
    return {
        "/api/v1/forecasts": {
            "get": {
                "summary": "Recent jobs, newest first (what the dashboard's /jobs page lists)",
                "operationId": "listForecasts",
                "security": secured,
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
                ],
                "responses": {
                    "200": _json("JobList", "Recent jobs: status documents without `result`, with `params` and a `forecast` headline."),
                    **_errors(401, 422, 503),
                },
            },
            "post": {
                "summary": "Submit a forecast job",
                "description": (
                    "Validates the body and queues a job. An identical request (same resolved "
                    "parameters) whose job is still running joins it unless `refresh` is true. "
                    "With an `Idempotency-Key`, the same key and body return the same task."
                ),
                "operationId": "submitForecast",
                "security": secured,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                    }
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("ForecastRequest")}},
                },
                "responses": {
                    "202": {**_json("Submitted", "Queued (or joined)."), "headers": SUBMITTED_HEADERS},
                    **_errors(400, 401, 413, 422, 503),
                },
            }
        },
        "/api/v1/forecasts/{task_id}": {
            "parameters": [TASK_ID],
            "get": {
                "summary": "A job's status, and its result once finished",
                "operationId": "getForecast",
                "security": secured,
                "responses": {"200": _json("TaskStatus", "The status document."), **_errors(401, 404, 503)},
            },
            "delete": {
                "summary": "Cancel a job that has not finished",
                "operationId": "cancelForecast",
                "security": secured,
                "responses": {
                    "202": _json("TaskStatus", "Cancellation requested; the status document."),
                    **_errors(401, 404, 409, 503),
                },
            },
        },
        "/api/sales-forecast": {
            "get": {
                "summary": "The original endpoint: run the default forecast and wait for it",
                "operationId": "legacySalesForecast",
                "security": secured,
                "parameters": legacy_params,
                "responses": {
                    "200": _json("ResultDocument", "The forecast, in the original shape."),
                    "202": {
                        **_json("Submitted", "Still running when the wait bound passed."),
                        "headers": SUBMITTED_HEADERS,
                    },
                    **_errors(400, 401, 422, 502, 503),
                },
            }
        },
        **history.openapi_paths(secured, _errors(401, 422, 503), _json),
        "/healthz": {
            "get": {
                "summary": "The process is up",
                "operationId": "healthz",
                "responses": {"200": _json("Health", '`{"status": "ok"}`')},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Redis answers and a worker consumes the forecast queue",
                "operationId": "readyz",
                "responses": {
                    "200": _json("Readiness", '`{"status": "ready"}`'),
                    "503": _json("Readiness", '`{"status": "unavailable", "missing": ["redis" | "worker"]}`'),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}},
            }
        },
    }


def _hand_written_schemas(schemas: dict[str, Any]) -> dict[str, Any]:
    """Documents that no pydantic model describes: the dashboard's job list and the probes."""
    out: dict[str, Any] = {
        "Health": {
            "type": "object",
            "properties": {"status": {"const": "ok"}},
            "required": ["status"],
        },
        "Readiness": {
            "type": "object",
            "properties": {
                "status": {"enum": ["ready", "unavailable"]},
                "missing": {"type": "array", "items": {"enum": ["redis", "worker"]}},
            },
            "required": ["status"],
        },
    }
    status = schemas.get("TaskStatus")
    if status is not None:  # GET /api/v1/forecasts: status documents without `result`, plus two fields
        properties = {k: v for k, v in status.get("properties", {}).items() if k != "result"}
        properties["params"] = {
            "anyOf": [{"type": "object"}, {"type": "null"}],
            "description": "The job's resolved request parameters (null for a job queued straight into Redis).",
        }
        properties["forecast"] = {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "period": {"type": ["string", "null"]},
                        "model": {"type": ["string", "null"]},
                        "next_month_forecast": {"type": ["number", "null"]},
                        "expected_range_low": {"type": ["number", "null"]},
                        "expected_range_high": {"type": ["number", "null"]},
                        "confidence_level": {"type": ["number", "null"]},
                        "model_accuracy": {"type": ["number", "null"]},
                    },
                },
                {"type": "null"},
            ],
            "description": "The forecast's headline once the job succeeded, else null.",
        }
        out["JobSummary"] = {
            "type": "object",
            "properties": properties,
            "required": [k for k in status.get("required", []) if k != "result"] + ["params", "forecast"],
        }
        out["JobList"] = {
            "type": "object",
            "properties": {
                "jobs": {"type": "array", "items": _ref("JobSummary")},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            "required": ["jobs", "limit"],
        }
    return out


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    _, defs = models_json_schema(
        [
            (ForecastRequest, "validation"),
            (Submitted, "serialization"),
            (TaskStatus, "serialization"),
            (ResultDocument, "serialization"),
            (ErrorDocument, "serialization"),
        ],
        ref_template=REF,
    )
    schemas = defs.get("$defs", {})
    # The stable codes, for clients that switch on them.
    if "ErrorBody" in schemas:
        schemas["ErrorBody"]["properties"]["code"]["enum"] = [c.value for c in ErrorCode]
    schemas.update(_hand_written_schemas(schemas))
    schemas.update(history.OPENAPI_SCHEMAS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Monthly sales forecasts as background jobs. Errors are "
                '`{"status": "error", "error": {"code", "message", "field"?}}`. '
                "When API_KEYS is set, every /api/ route needs `Authorization: Bearer <key>` "
                "or `X-API-Key: <key>`."
            ),
        },
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


# ---- /docs: the spec as plain HTML --------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
.get{color:#0a6}.post{color:#06c}.delete{color:#c33}
code,pre{font-family:ui-monospace,monospace;background:#f5f5f5;border-radius:3px}
pre{padding:.5rem;overflow:auto;font-size:13px}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{_e(v)}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {_type_of(schema['additionalProperties'])}"
    fmt = f" ({_e(schema['format'])})" if "format" in schema else ""
    return f"{_e(kind)}{fmt}"


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    for key in ("minimum", "maximum", "maxLength", "pattern", "const"):
        if key in schema:
            parts.append(f"{key}: <code>{_e(schema[key])}</code>")
    if "default" in schema:
        parts.append(f"default: <code>{_e(json.dumps(schema['default']))}</code>")
    return "; ".join(parts)


def _schema_table(name: str, schema: dict[str, Any]) -> str:
    rows = []
    required = set(schema.get("required", []))
    for prop, sub in schema.get("properties", {}).items():
        rows.append(
            f"<tr><td><code>{_e(prop)}</code>{'*' if prop in required else ''}</td>"
            f"<td>{_type_of(sub)}</td><td>{_constraints(sub)}</td><td>{_e(sub.get('description', ''))}</td></tr>"
        )
    desc = f"<p>{_e(schema['description'])}</p>" if schema.get("description") else ""
    return (
        f'<h3 id="schema-{_e(name)}">{_e(name)}</h3>{desc}'
        "<table><tr><th>field</th><th>type</th><th>constraints</th><th>description</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_docs(spec: dict[str, Any]) -> str:
    ops = []
    for path, item in spec["paths"].items():
        shared_params = item.get("parameters", [])
        for method in ("get", "post", "delete"):
            op = item.get(method)
            if not op:
                continue
            params = shared_params + op.get("parameters", [])
            param_html = ""
            if params:
                param_html = "<table><tr><th>parameter</th><th>in</th><th>type</th></tr>" + "".join(
                    f"<tr><td><code>{_e(p['name'])}</code>{'*' if p.get('required') else ''}</td>"
                    f"<td>{_e(p['in'])}</td><td>{_type_of(p.get('schema', {}))}</td></tr>"
                    for p in params
                ) + "</table>"
            body_html = ""
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                body_html = f"<p>Body (JSON, optional): {_type_of(body['schema'])}</p>"
            responses = "".join(
                f"<li><b>{_e(code)}</b> {_e(resp.get('description', ''))}"
                + (
                    f" &mdash; {_type_of(resp['content']['application/json']['schema'])}"
                    if "application/json" in resp.get("content", {})
                    else ""
                )
                + "</li>"
                for code, resp in op.get("responses", {}).items()
            )
            auth = " &#128274;" if op.get("security") else ""
            ops.append(
                f'<div class="op"><span class="m {method}">{method.upper()}</span> '
                f"<code>{_e(path)}</code>{auth} &mdash; {_e(op.get('summary', ''))}"
                + (f"<p>{_e(op['description'])}</p>" if op.get("description") else "")
                + param_html
                + body_html
                + f"<ul>{responses}</ul></div>"
            )
    schemas = "".join(_schema_table(n, s) for n, s in sorted(spec["components"]["schemas"].items()))
    info = spec["info"]
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        f"<title>{_e(info['title'])} API</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(info['title'])} <small>{_e(info['version'])}</small></h1>"
        f"<p>{_e(info['description'])}</p>"
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). '
        "&#128274; marks routes that need an API key when API_KEYS is set.</p>"
        f"<h2>Routes</h2>{''.join(ops)}<h2>Schemas</h2>{schemas}</body></html>"
    )


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build_spec())


@bp.get("/docs")
def docs() -> Response:
    return Response(render_docs(build_spec()), mimetype="text/html")
