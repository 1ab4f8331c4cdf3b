"""GET /api/v1/history and GET /api/v1/track-record (docs/api.md §9): the forecast history, read back.

Thin: parse the query, ask shared.history's repository, answer. The database being unreachable is
a 503 ``history_unavailable`` within a few seconds (the engine bounds connecting and every
statement); forecasting itself never waits on it. The /api/ auth applies (web/auth.py).
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from shared.contract.calendar import Frequency
from shared.contract.config import Settings
from shared.contract.errors import InvalidRequest
from shared.contract.schema import Measure
from shared.history.models import TOTAL_KEY
from shared.history.records import series_key
from shared.history.repository import MAX_HISTORY_LIMIT, HistoryRepository, make_engine

EXTENSION_KEY = "sales_forecast_history"
MEASURES = tuple(m.value for m in Measure)
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
