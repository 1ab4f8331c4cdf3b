"""GET /openapi.json (OpenAPI 3.1) and GET /docs (Swagger UI on it).

Every schema comes from the pydantic models that validate requests and shape answers
(shared/contract/schema/, shared/contract/history_documents.py, web/schemas.py): request fields,
query strings, the Idempotency-Key rule (web/requests.py) and the task id bound (web/jobs.py) are
the very constants the server checks with. What depends on configuration is built per app, from its Settings: the security
requirements (none when API_KEYS is unset) and the callback hosts a ``callback_url`` may name.

The paths are written here, one builder per group (``PATH_BUILDERS``): a new group of routes
adds a builder, its tag to ``TAGS`` and its models to ``COMPONENT_MODELS``.

/docs is Swagger UI (vendored, see scripts/vendor_assets.sh), started by static/docs.js: no CDN
and no inline script, under the same Content-Security-Policy as the dashboard. A plain HTML
rendering of the document is in its <noscript>.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, Response, current_app, jsonify, render_template
from markupsafe import Markup
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.contract.config import Settings
from shared.contract.errors import ErrorCode
from shared.contract.history_documents import HISTORY_DOCUMENTS
from shared.contract.schema import ErrorDocument, ForecastRequest, ResultDocument, Submitted, TaskStatus
from shared.contract.webhooks import callback_url_pattern
from web import history
from web import openapi_examples as examples
from web.api import service
from web.dashboard import html_page
from web.jobs import MAX_TASK_ID_LENGTH
from web.legacy import QUERY_FIELDS as LEGACY_QUERY_FIELDS
from web.requests import IDEMPOTENCY_KEY_PATTERN
from web.schemas import Health, JobList, ListQuery, Readiness, SeriesPage, SeriesQuery

bp = Blueprint("openapi", __name__, template_folder="templates")

SPEC_KEY = "sales_forecast.openapi"
REF = "#/components/schemas/{model}"
TITLE = "Sales forecast service"
VERSION = "1.0.0"

TAGS: list[dict[str, str]] = [
    {"name": "forecasts", "description": "Forecast jobs: submit one, follow it, read its result, cancel it."},
    {"name": "legacy", "description": "The original endpoint, kept for existing frontends."},
    {"name": "operations", "description": "Probes and metrics, for operators and orchestrators (no API key)."},
    {"name": "history", "description": "Published forecasts kept beyond the result TTL, and how they turned out."},
    {"name": "series", "description": "A grouped job's series: paged, filtered, sorted, or as CSV."},
]

# The documents the spec names, and in which direction each is validated.
COMPONENT_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (ForecastRequest, "validation"),
    (Submitted, "serialization"),
    (TaskStatus, "serialization"),
    (ResultDocument, "serialization"),
    (ErrorDocument, "serialization"),
    (JobList, "serialization"),
    (Health, "serialization"),
    (Readiness, "serialization"),
    (SeriesPage, "serialization"),
    *((document, "serialization") for document in HISTORY_DOCUMENTS),
]

ERROR_TEXT = {
    400: "Malformed request: not JSON, not an object, wrong content type.",
    401: "Missing or wrong API key.",
    404: "No job with this id (for a job's series: or the job ended without them, failed, cancelled, not grouped or expired).",
    409: "The job has already finished (or was cancelled).",
    413: "Body too large.",
    422: "Invalid parameters (`error.field` names the first one), or an Idempotency-Key reused with another body.",
    502: "Laravel unreachable (`upstream_unavailable`) or not answering with sales (`upstream_invalid`).",
    503: "Broker or result backend unreachable (`broker_unavailable`), or the history database (`history_unavailable`).",
}


def ref(name: str) -> dict[str, str]:
    """A JSON reference to the component schema ``name``."""
    return {"$ref": REF.format(model=name)}


def json_response(name: str, description: str, example: Any = None) -> dict[str, Any]:
    """An OpenAPI response: ``description`` and a JSON body of schema ``name``, with ``example`` when given."""
    media: dict[str, Any] = {"schema": ref(name)}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


@dataclass(frozen=True)
class SpecContext:
    """What the path builders need: the running configuration and the generated schemas."""

    settings: Settings
    schemas: dict[str, Any]

    @property
    def secured(self) -> bool:
        """True when API keys are configured: the operations then declare the API-key security schemes."""
        return bool(self.settings.api_keys)

    def operation(
        self,
        *,
        tag: str,
        operation_id: str,
        summary: str,
        description: str,
        responses: dict[str, Any],
        errors: tuple[int, ...] = (),
        parameters: list[dict[str, Any]] | None = None,
        request_body: dict[str, Any] | None = None,
        protected: bool = True,
    ) -> dict[str, Any]:
        """One operation; a protected one needs a key (and may answer 401) only when API_KEYS is set."""
        statuses = set(errors)
        if protected and self.secured:
            statuses.add(401)
        op: dict[str, Any] = {
            "tags": [tag],
            "summary": summary,
            "description": description,
            "operationId": operation_id,
        }
        if protected and self.secured:
            op["security"] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
        if parameters:
            op["parameters"] = parameters
        if request_body:
            op["requestBody"] = request_body
        op["responses"] = {
            **responses,
            **{
                str(s): json_response("ErrorDocument", ERROR_TEXT[s], examples.ERRORS[s])
                for s in sorted(statuses)
            },
        }
        return op

    def query_parameters(self, schema: dict[str, Any], names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Query parameters from a model's JSON schema: each property, its null branch dropped
        (a query string cannot send null; leaving the parameter out means the default)."""
        properties = schema["properties"]
        out = []
        for name in names or tuple(properties):
            prop = dict(properties[name])
            description = prop.pop("description", None)
            prop.pop("title", None)
            branches = prop.pop("anyOf", None)
            if branches is not None:
                non_null = [b for b in branches if b.get("type") != "null"]
                prop = {**non_null[0], **prop} if len(non_null) == 1 else {"anyOf": non_null, **prop}
            if "default" in prop and prop["default"] is None:
                del prop["default"]
            param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
            if description:
                param["description"] = description
            out.append(param)
        return out


# ---- paths ----------------------------------------------------------------------------------


def _submitted_headers() -> dict[str, Any]:
    return {
        "Location": {"schema": {"type": "string"}, "description": "The status URL."},
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds before polling."},
    }


def forecast_paths(ctx: SpecContext) -> dict[str, Any]:
    """The job operations: list and submit (/api/v1/forecasts), status and cancel (/api/v1/forecasts/{task_id})."""
    task_id = {
        "name": "task_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_TASK_ID_LENGTH},
        "description": "The id returned by POST (or the Celery task id a Laravel producer chose).",
        "example": examples.TASK_ID,
    }
    idempotency_key = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
        "description": "1-255 visible ASCII characters. The same key with the same body returns the same task; "
        "with another body, 422.",
    }
    return {
        "/api/v1/forecasts": {
            "get": ctx.operation(
                tag="forecasts",
                operation_id="listForecasts",
                summary="Recent jobs, newest first",
                description="The jobs the dashboard's /jobs page lists: status documents without `result`, "
                "with the request `params` and the `forecast` headline. Jobs are kept for RESULT_TTL_SECONDS.",
                parameters=ctx.query_parameters(ListQuery.model_json_schema()),
                responses={"200": json_response("JobList", "Recent jobs.", examples.JOB_LIST)},
                errors=(422, 503),
            ),
            "post": ctx.operation(
                tag="forecasts",
                operation_id="submitForecast",
                summary="Submit a forecast job",
                description=(
                    "Validates the body and queues a job; poll `status_url` for its progress and result. "
                    "Every field is optional (an empty body forecasts the default window). An identical "
                    "request whose job is still running joins it unless `refresh` is true. With an "
                    "`Idempotency-Key`, the same key and body return the same task. `start_date` must not "
                    "be after `end_date` (once the defaults are filled in)."
                ),
                parameters=[idempotency_key],
                request_body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": ref("ForecastRequest"),
                            "examples": examples.REQUEST_EXAMPLES,
                        }
                    },
                },
                responses={
                    "202": {
                        **json_response("Submitted", "Queued (or joined).", examples.SUBMITTED),
                        "headers": _submitted_headers(),
                    },
                },
                errors=(400, 413, 422, 503),
            ),
        },
        "/api/v1/forecasts/{task_id}": {
            "parameters": [task_id],
            "get": ctx.operation(
                tag="forecasts",
                operation_id="getForecast",
                summary="A job's status, and its result once finished",
                description="`status` is PENDING, STARTED, PROGRESS, SUCCESS, FAILURE or REVOKED; `result` "
                "is the forecast document once SUCCESS, `error` the stable code and message once FAILURE.",
                responses={"200": json_response("TaskStatus", "The status document.", examples.STATUS_SUCCESS)},
                errors=(404, 503),
            ),
            "delete": ctx.operation(
                tag="forecasts",
                operation_id="cancelForecast",
                summary="Cancel a job that has not finished",
                description="The cancel is final once accepted: the job reads REVOKED (error `cancelled`) from "
                "this answer on, in the status document and in the result key. A running job stops at its next "
                "Laravel page, retry or back-off, or its next stage (a grouped job: its next chunk), and nothing "
                "it computes afterwards is stored, cached, written to the history or sent as a result webhook.",
                responses={"202": json_response("TaskStatus", "Cancellation requested; the status document.")},
                errors=(404, 409, 503),
            ),
        },
    }


def legacy_paths(ctx: SpecContext) -> dict[str, Any]:
    """The original GET /api/sales-forecast operation."""
    return {
        "/api/sales-forecast": {
            "get": ctx.operation(
                tag="legacy",
                operation_id="legacySalesForecast",
                summary="The original endpoint: run the default forecast and wait for it",
                description="Submits a forecast (joining an identical one in flight), waits for it up to a "
                "bound and answers in the original shape; 202 with the task id if it is still running. "
                "The query parameters are validated as the POST body's fields; others are ignored.",
                parameters=ctx.query_parameters(ctx.schemas["ForecastRequest"], LEGACY_QUERY_FIELDS),
                responses={
                    "200": json_response("ResultDocument", "The forecast, in the original shape.", examples.RESULT),
                    "202": {
                        **json_response("Submitted", "Still running when the wait bound passed.", examples.SUBMITTED),
                        "headers": _submitted_headers(),
                    },
                    # Its whole request is the query string: past gunicorn's request-line limit, 414.
                    **history.URI_TOO_LONG,
                },
                errors=(400, 422, 502, 503),
            )
        },
    }


def probe_paths(ctx: SpecContext) -> dict[str, Any]:
    """The operations endpoints: /healthz, /readyz and /metrics."""
    return {
        "/healthz": {
            "get": ctx.operation(
                tag="operations",
                operation_id="healthz",
                summary="The process is up",
                description="Liveness: answers as long as the web process runs.",
                responses={"200": json_response("Health", "Up.", {"status": "ok"})},
                protected=False,
            )
        },
        "/readyz": {
            "get": ctx.operation(
                tag="operations",
                operation_id="readyz",
                summary="Redis answers and a worker consumes the forecast queue",
                description="Readiness: 503 names what is missing (`redis`, `worker`). 200 `degraded` "
                "names what is down while jobs still run (`database`: the forecast history, which "
                "catches up once it is back).",
                responses={
                    "200": json_response("Readiness", "Ready, or degraded.", {"status": "ready"}),
                    "503": json_response(
                        "Readiness", "Not ready.", {"status": "unavailable", "missing": ["worker"]}
                    ),
                },
                protected=False,
            )
        },
        "/metrics": {
            "get": ctx.operation(
                tag="operations",
                operation_id="metrics",
                summary="Prometheus metrics",
                description="Requests, jobs submitted and finished, by outcome, in the Prometheus text format.",
                responses={"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}},
                protected=False,
            )
        },
    }


def history_paths(ctx: SpecContext) -> dict[str, Any]:
    """GET /api/v1/history and /api/v1/track-record (web/history.py, docs/api.md §9)."""
    secured = [{"bearerAuth": []}, {"apiKeyHeader": []}] if ctx.secured else []
    statuses = (401, 422, 503) if ctx.secured else (422, 503)
    errors = {str(s): json_response("ErrorDocument", ERROR_TEXT[s], examples.ERRORS[s]) for s in statuses}
    paths = history.openapi_paths(secured, errors, json_response)
    for item in paths.values():
        for op in item.values():
            op["tags"] = ["history"]
            op.setdefault("description", op["summary"])
            if not ctx.secured:
                op.pop("security", None)
    return paths


def series_paths(ctx: SpecContext) -> dict[str, Any]:
    """A grouped job's series (web/series.py, docs/api.md §8)."""
    task_id = {
        "name": "task_id", "in": "path", "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_TASK_ID_LENGTH},
    }
    not_finished = {
        "409": {
            **json_response(
                "ErrorDocument",
                "`not_finished`: the job has not finished yet (PENDING, STARTED or PROGRESS); its series are "
                "readable once it is SUCCESS. Ask again after `Retry-After` seconds.",
                examples.NOT_FINISHED,
            ),
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds before asking again."}},
        }
    }
    return {
        "/api/v1/forecasts/{task_id}/series": {
            "parameters": [task_id],
            "get": ctx.operation(
                tag="series",
                operation_id="listSeries",
                summary="A grouped job's series, a page at a time",
                description=(
                    "Every series of one level of a finished grouped job (`group_by`): its key, its "
                    "monthly actuals, its reconciled forecast block (as §5's) and data quality. Pages by "
                    "`next_cursor`; `q` searches the key values; `sort` orders by forecast, growth or accuracy."
                ),
                parameters=ctx.query_parameters(SeriesQuery.model_json_schema()),
                responses={
                    "200": json_response("SeriesPage", "One page of series."), **not_finished, **history.URI_TOO_LONG,
                },
                errors=(404, 422, 503),
            ),
        },
        "/api/v1/forecasts/{task_id}/series.csv": {
            "parameters": [task_id],
            "get": ctx.operation(
                tag="series",
                operation_id="seriesCsv",
                summary="Every series of a grouped job as CSV",
                description="One line per series and horizon period: level, the key fields, period, forecast, low, high.",
                responses={
                    "200": {"description": "CSV, streamed", "content": {"text/csv": {"schema": {"type": "string"}}}},
                    **not_finished,
                    **history.URI_TOO_LONG,
                },
                errors=(404, 503),
            ),
        },
    }


PATH_BUILDERS: list[Callable[[SpecContext], dict[str, Any]]] = [
    forecast_paths, series_paths, legacy_paths, probe_paths, history_paths,
]


# ---- the document ---------------------------------------------------------------------------


def component_schemas(settings: Settings) -> dict[str, Any]:
    """The component schemas from the documents' pydantic models, with what configuration decides filled
    in: the error codes' enum, the allowed callback hosts, the history's schemas."""
    _, defs = models_json_schema(COMPONENT_MODELS, ref_template=REF)
    schemas = copy.deepcopy(defs.get("$defs", {}))
    # The stable codes, for clients that switch on them.
    schemas["ErrorBody"]["properties"]["code"]["enum"] = [c.value for c in ErrorCode]
    # Which callback hosts are allowed is configuration (CALLBACK_ALLOWED_HOSTS).
    callback = schemas["ForecastRequest"]["properties"]["callback_url"]
    pattern = callback_url_pattern(settings.effective_callback_hosts)
    strings = [b for b in callback.get("anyOf", []) if b.get("type") == "string"]
    if pattern is None:
        callback["anyOf"] = [{"type": "null"}]
        callback["description"] += " Callbacks are disabled on this server (no CALLBACK_ALLOWED_HOSTS)."
    else:
        for branch in strings:
            branch["pattern"] = pattern
        hosts = ", ".join(settings.effective_callback_hosts)
        callback["description"] += f" An http(s) URL on an allowed host ({hosts})."
    return schemas


def build_spec(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for an app running with ``settings``."""
    schemas = component_schemas(settings)
    ctx = SpecContext(settings, schemas)
    paths: dict[str, Any] = {}
    for builder in PATH_BUILDERS:
        paths.update(builder(ctx))
    auth = (
        "Every /api/ route needs `Authorization: Bearer <key>` or `X-API-Key: <key>`."
        if ctx.secured
        else "This server runs without API keys (API_KEYS is unset): no route needs one."
    )
    components: dict[str, Any] = {"schemas": schemas}
    if ctx.secured:
        components["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key as a Bearer token."},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Sales forecasts (monthly, weekly or daily) as background jobs: POST a request, poll its status URL, read "
                'the result. Errors are `{"status": "error", "error": {"code", "message", "field"?}}` '
                f"with a stable `code`. {auth}"
            ),
        },
        "tags": TAGS,
        "paths": paths,
        "components": components,
    }


def app_spec() -> dict[str, Any]:
    """This app's document, built once from its own Settings."""
    spec = current_app.extensions.get(SPEC_KEY)
    if spec is None:
        spec = current_app.extensions[SPEC_KEY] = build_spec(service().settings)
    return spec


# ---- the plain HTML rendering, for <noscript> ----------------------------------------------------


def render_plain(spec: dict[str, Any]) -> Markup:
    """The document as static HTML (templates/openapi_plain.html): routes, parameters, responses, schemas."""
    ops = []
    for path, item in spec["paths"].items():
        for method in ("get", "post", "delete"):
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            ops.append({
                "method": method, "path": path, "auth": bool(op.get("security")),
                "summary": op.get("summary", ""), "description": op.get("description"),
                "params": [
                    # a parameter with JSON content (history's `group`) shows that content's schema
                    {**p, "schema": p.get("schema") or p.get("content", {}).get("application/json", {}).get("schema", {})}
                    for p in item.get("parameters", []) + op.get("parameters", [])
                ],
                "body": body["schema"] if body else None, "responses": op.get("responses", {}),
            })
    schemas = sorted(spec["components"]["schemas"].items())
    return Markup(render_template("openapi_plain.html", ops=ops, schemas=schemas))


# ---- routes -----------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """GET /openapi.json: the OpenAPI 3.1 document of this service as configured."""
    return jsonify(app_spec())


@bp.get("/docs")
def docs() -> Response:
    """GET /docs: the API document as an HTML page."""
    spec = app_spec()
    page = render_template(
        "docs.html",
        info=spec["info"],
        auth_required=bool(service().settings.api_keys),
        plain=render_plain(spec),
    )
    return html_page(page)
