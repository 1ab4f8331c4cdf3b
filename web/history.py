"""GET /api/v1/history and GET /api/v1/track-record (docs/api.md §9): the forecast history, read back;
GET /api/v1/alerts (docs/api.md §11): the alerts kept beside it.

Thin: parse the query, ask shared.history's repository, answer. The database being unreachable is
a 503 ``history_unavailable`` within a few seconds (the engine bounds connecting and every
statement); forecasting itself never waits on it. The /api/ auth applies (web/auth.py).
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from shared.contract.calendar import Frequency
from shared.contract.config import Settings
from shared.contract.errors import InvalidRequest
from shared.contract.schema import Measure
from shared.history.alerts import AlertKind
from shared.history.models import TOTAL_KEY
from shared.history.records import series_key
from shared.history.repository import MAX_HISTORY_LIMIT, HistoryRepository, make_engine

EXTENSION_KEY = "sales_forecast_history"
MEASURES = tuple(m.value for m in Measure)
ALERT_KINDS = tuple(k.value for k in AlertKind)
DEFAULT_HISTORY_LIMIT = 100
# In characters. Percent-encoded, a character may take 12 bytes, and gunicorn refuses request
# lines over 4094 bytes (414): with both at their longest, the line still fits.
MAX_GROUP_LENGTH = 250
MAX_SOURCE_LENGTH = 64
# The web answers a client, so it waits less than the worker's drain does.
WEB_CONNECT_TIMEOUT_SECONDS = 2
WEB_STATEMENT_TIMEOUT_MS = 5000

bp = Blueprint("history", __name__, url_prefix="/api/v1")


def init_app(app: Flask, settings: Settings) -> None:
    """Attach the repository (no connection is made until a request needs one)."""
    engine = make_engine(
        settings.effective_database_url,
        connect_timeout=WEB_CONNECT_TIMEOUT_SECONDS,
        statement_timeout_ms=WEB_STATEMENT_TIMEOUT_MS,
        create_dir=False,
    )
    app.extensions[EXTENSION_KEY] = HistoryRepository(engine)


def repository() -> HistoryRepository:
    return current_app.extensions[EXTENSION_KEY]


def _group() -> str:
    """``group``: the series' group fields as a JSON object (``{"category": "Shoes"}``); absent,
    empty or ``{}``: the total."""
    raw = request.args.get("group")
    if raw is None or raw.strip() in ("", TOTAL_KEY):
        return TOTAL_KEY
    if len(raw) > MAX_GROUP_LENGTH:
        raise InvalidRequest("group is too long", field="group")
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidRequest('group must be a JSON object, e.g. {"category": "Shoes"}', field="group") from None
    if not isinstance(value, dict) or not all(
        isinstance(v, (str, int, type(None))) and not isinstance(v, bool) for v in value.values()
    ):
        raise InvalidRequest("group must be a JSON object of field names to strings, integers or null", field="group")
    return series_key(value)


def _measure() -> str:
    value = request.args.get("measure", Measure.REVENUE.value)
    if value not in MEASURES:
        raise InvalidRequest(f"measure must be one of {', '.join(MEASURES)}", field="measure")
    return value


def _source() -> str | None:
    value = request.args.get("source")
    if value is not None and (not value or len(value) > MAX_SOURCE_LENGTH):
        raise InvalidRequest(f"source must be 1 to {MAX_SOURCE_LENGTH} characters", field="source")
    return value


def _frequency() -> str:
    value = request.args.get("frequency", Frequency.MONTH.value)
    if value not in tuple(Frequency):
        raise InvalidRequest(f"frequency must be one of {', '.join(Frequency)}", field="frequency")
    return value


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_HISTORY_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HISTORY_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_HISTORY_LIMIT}", field="limit")
    return int(raw)


def _series(group: str, measure: str, frequency: str) -> dict[str, Any]:
    return {"group": json.loads(group), "measure": measure, "frequency": frequency}


def _since() -> datetime | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw) if len(raw) > 10 else datetime.fromisoformat(raw + "T00:00:00+00:00")
    except ValueError:
        raise InvalidRequest("since must be an ISO 8601 date or date-time, e.g. 2025-06-01T00:00:00Z",
                             field="since") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _kind() -> str | None:
    value = request.args.get("kind")
    if value is not None and value not in ALERT_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(ALERT_KINDS)}", field="kind")
    return value


def _cursor() -> tuple[datetime, str] | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        at, alert_id = base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("ascii").split("|", 1)
        return datetime.fromisoformat(at), alert_id
    except (ValueError, UnicodeError):
        raise InvalidRequest("cursor is not one this API gave out", field="cursor") from None


def _next_cursor(alerts: list[Any], limit: int) -> str | None:
    if len(alerts) < limit:
        return None
    last = alerts[-1]
    return base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.id}".encode("ascii")).decode("ascii").rstrip("=")


@bp.get("/alerts")
def alerts() -> Response:
    """The alerts, newest first: since a time, of a kind, of one series (``group``), a page at a time."""
    group = _group() if request.args.get("group") is not None else None
    since, kind, limit, cursor = _since(), _kind(), _limit(), _cursor()
    found = repository().alerts(since=since, kind=kind, series_key=group, before=cursor, limit=limit)
    return jsonify({"alerts": [a.to_json() for a in found], "next_cursor": _next_cursor(found, limit), "limit": limit})


@bp.get("/history")
def history() -> Response:
    group, measure, source, limit, frequency = _group(), _measure(), _source(), _limit(), _frequency()
    rows = repository().history(group, measure=measure, source=source, limit=limit, frequency=frequency)
    return jsonify({"series": _series(group, measure, frequency), "forecasts": rows, "limit": limit})


@bp.get("/track-record")
def track_record() -> Response:
    group, measure, source, frequency = _group(), _measure(), _source(), _frequency()
    record = repository().track_record(group, measure=measure, source=source, frequency=frequency)
    return jsonify({"series": _series(group, measure, frequency), **record})


# ---- the OpenAPI document's part (web/openapi.py merges these in) --------------------------

_QUERY = [
    {
        "name": "group",
        "in": "query",
        "schema": {"type": "string", "maxLength": MAX_GROUP_LENGTH},
        "description": 'The series: its group fields as a JSON object, e.g. `{"category":"Shoes"}`; absent: the total.',
    },
    {"name": "measure", "in": "query", "schema": {"type": "string", "enum": list(MEASURES)}},
    {
        "name": "frequency",
        "in": "query",
        "schema": {"type": "string", "enum": [f.value for f in Frequency], "default": "month"},
        "description": "Forecasts of this frequency only: a series' monthly and weekly records are kept apart.",
    },
    {
        "name": "source",
        "in": "query",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SOURCE_LENGTH},
        "description": "Only forecasts of this source (as the result's `meta.source` names it).",
    },
]

_NUMBER_OR_NULL = {"type": ["number", "null"]}
# A query string past gunicorn's request-line limit (4094 bytes) is refused before the app sees it.
URI_TOO_LONG = {"414": {"description": "Request line too long (gunicorn refuses more than 4094 bytes).",
                         "content": {"text/html": {}}}}


def openapi_paths(secured: list[dict[str, Any]], errors: dict[str, Any], ok: Any) -> dict[str, Any]:
    return {
        "/api/v1/history": {
            "get": {
                "summary": "Past published forecasts of one series, newest first, with their actuals once known",
                "operationId": "forecastHistory",
                "security": secured,
                "parameters": [
                    *_QUERY,
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_LIMIT}},
                ],
                "responses": {"200": ok("HistoryList", "One row per job and period forecast."), **errors, **URI_TOO_LONG},
            }
        },
        "/api/v1/alerts": {
            "get": {
                "summary": "Alerts, newest first: actuals outside their published range, outlooks falling",
                "operationId": "listAlerts",
                "security": secured,
                "parameters": [
                    {"name": "since", "in": "query", "schema": {"type": "string"},
                     "description": "Only alerts raised at or after this ISO 8601 date or date-time."},
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(ALERT_KINDS)}},
                    {**_QUERY[0], "description": "Only this series' alerts (its group fields as JSON; `{}`: the total)."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_LIMIT}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"},
                     "description": "`next_cursor` of the previous page."},
                ],
                "responses": {"200": ok("AlertList", "One page of alerts."), **errors, **URI_TOO_LONG},
            }
        },
        "/api/v1/track-record": {
            "get": {
                "summary": "Realised accuracy of the published forecasts, per periods ahead: MAPE, WAPE, coverage",
                "operationId": "trackRecord",
                "security": secured,
                "parameters": _QUERY,
                "responses": {"200": ok("TrackRecord", "Per periods ahead and level."), **errors, **URI_TOO_LONG},
            }
        },
    }


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Alert": {
        "type": "object",
        "description": "An alert (docs/api.md §11), kept once whoever sees it again.",
        "properties": {
            "id": {"type": "string", "description": "Stable: a hash of the series, kind and period."},
            "created_at": {"type": "string", "format": "date-time"},
            "series": {"type": "object", "description": "The series' group fields; `{}`: the total."},
            "kind": {"enum": list(ALERT_KINDS)},
            "period": {"type": "string", "description": "The period seen (range alerts) or the first forecast (drops)."},
            "frequency": {"enum": [f.value for f in Frequency]},
            "measure": {"enum": list(MEASURES)},
            "task_id": {"type": "string", "description": "The job that raised it."},
            "actual": {"type": "number", "description": "Range alerts: the period's actual."},
            "low": {"type": "number", "description": "Range alerts: the published interval's low bound."},
            "high": {"type": "number", "description": "Range alerts: its high bound."},
            "level": {"type": "number", "description": "The interval's level, in %."},
            "change_pct": {"type": "number", "description": "forecast_drop: the outlook against a year before, in %."},
        },
        "required": ["id", "created_at", "series", "kind", "period", "frequency", "measure", "task_id"],
    },
    "AlertList": {
        "type": "object",
        "properties": {
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
            "next_cursor": {"type": ["string", "null"], "description": "The next page's cursor; null on the last."},
            "limit": {"type": "integer"},
        },
        "required": ["alerts", "next_cursor", "limit"],
    },
    "HistorySeries": {
        "type": "object",
        "properties": {
            "group": {"type": "object"},
            "measure": {"enum": list(MEASURES)},
            "frequency": {"enum": [f.value for f in Frequency]},
        },
        "required": ["group", "measure", "frequency"],
    },
    "HistoryForecast": {
        "type": "object",
        "properties": {
            "task_id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "source": {"type": "string"},
            "origin": {"type": "string", "description": "The last complete period the forecast was made from."},
            "period": {"type": "string", "description": "The period forecast: 2025-01, 2025-W03 or 2025-01-15."},
            "months_ahead": {"type": "integer", "minimum": 1, "description": "Periods ahead of `origin` (months, weeks or days)."},
            "forecast": {"type": "number"},
            "low": {"type": "number"},
            "high": {"type": "number"},
            "level": {"type": "number"},
            "model": {"type": "string"},
            "actual": {**_NUMBER_OR_NULL, "description": "Filled in once a later job sees the period complete."},
            "error_pct": {**_NUMBER_OR_NULL, "description": "(actual - forecast) / |actual|, in %; null while unknown or when the actual is 0."},
            "inside": {"type": ["boolean", "null"], "description": "Whether the actual fell in [low, high]."},
        },
        "required": ["task_id", "created_at", "period", "forecast", "low", "high", "level", "model", "actual", "error_pct", "inside"],
    },
    "HistoryList": {
        "type": "object",
        "properties": {
            "series": {"$ref": "#/components/schemas/HistorySeries"},
            "forecasts": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryForecast"}},
            "limit": {"type": "integer"},
        },
        "required": ["series", "forecasts"],
    },
    "TrackRecordHorizon": {
        "type": "object",
        "properties": {
            "months_ahead": {"type": "integer", "minimum": 1, "description": "Periods ahead (months, weeks or days)."},
            "level": {"type": "number", "description": "The nominal coverage of these forecasts' ranges, in %."},
            "count": {"type": "integer", "description": "Distinct forecasts whose period has closed."},
            "inside": {"type": "integer"},
            "coverage": {**_NUMBER_OR_NULL, "description": "Share of actuals inside the range, in %: compare with `level`."},
            "mape": _NUMBER_OR_NULL,
            "wape": _NUMBER_OR_NULL,
        },
        "required": ["months_ahead", "level", "count", "inside", "coverage", "mape", "wape"],
    },
    "TrackRecord": {
        "type": "object",
        "properties": {
            "series": {"$ref": "#/components/schemas/HistorySeries"},
            "horizons": {"type": "array", "items": {"$ref": "#/components/schemas/TrackRecordHorizon"}},
            "pending": {"type": "integer", "description": "Forecast periods still waiting for their actual."},
        },
        "required": ["series", "horizons", "pending"],
    },
}
