"""GET /api/v1/history and GET /api/v1/track-record (docs/api.md §9): the forecast history, read back;
GET /api/v1/alerts (docs/api.md §11): the alerts kept beside it.

Thin: parse the query, ask shared.history's repository, answer. The database being unreachable is
a 503 ``history_unavailable`` within a few seconds (the engine bounds connecting and every
statement); forecasting itself never waits on it. The /api/ auth applies (web/auth.py).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from shared.contract.calendar import Frequency
from shared.contract.config import Settings
from shared.contract.errors import InvalidRequest
from shared.contract.history_documents import AlertKind
from shared.contract.schema import GROUP_FIELD_PATTERN, MAX_GROUP_FIELDS, Measure
from shared.history.engine import make_engine
from shared.history.models import TOTAL_KEY
from shared.history.reads import MAX_HISTORY_LIMIT
from shared.history.records import series_key
from shared.history.repository import HistoryRepository

EXTENSION_KEY = "sales_forecast_history"
MEASURES = tuple(m.value for m in Measure)
ALERT_KINDS = tuple(k.value for k in AlertKind)
DEFAULT_HISTORY_LIMIT = 100
# In characters. Percent-encoded, a character may take 12 bytes, and gunicorn refuses request
# lines over 4094 bytes (414): with both at their longest, the line still fits.
# `group` is a JSON object in the query string: at most MAX_GROUP_FIELDS field names (as group_by
# names them) to strings of at most MAX_GROUP_VALUE_LENGTH characters, integers or null. The same
# rule is GROUP_SCHEMA, the parameter's JSON content in /openapi.json.
MAX_GROUP_VALUE_LENGTH = 100
MAX_GROUP_INTEGER = 2**53 - 1  # what every JSON reader holds exactly
MAX_GROUP_LENGTH = 4096  # the raw text, before parsing (the request line is shorter anyway)
GROUP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_GROUP_FIELDS,
    "propertyNames": {"type": "string", "pattern": GROUP_FIELD_PATTERN},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": MAX_GROUP_VALUE_LENGTH},
            {"type": "integer", "minimum": -MAX_GROUP_INTEGER, "maximum": MAX_GROUP_INTEGER},
            {"type": "null"},
        ]
    },
}
_GROUP_FIELD_RE = re.compile(GROUP_FIELD_PATTERN)
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
    """This app's history repository (attached by :func:`init_app`)."""
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
    except (ValueError, RecursionError):
        raise InvalidRequest('group must be a JSON object, e.g. {"category": "Shoes"}', field="group") from None
    if not isinstance(value, dict) or len(value) > MAX_GROUP_FIELDS or not all(
        _GROUP_FIELD_RE.match(k) and _group_value_ok(v) for k, v in value.items()
    ):
        raise InvalidRequest(
            f"group must be a JSON object of at most {MAX_GROUP_FIELDS} field names to strings (at most "
            f"{MAX_GROUP_VALUE_LENGTH} characters), integers or null",
            field="group",
        )
    return series_key(value)


def _group_value_ok(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_GROUP_VALUE_LENGTH
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= MAX_GROUP_INTEGER
    return value is None


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


# ``since``: a date, or a date and time with an optional zone (UTC without one). Every string the
# pattern allows is read (a day past its month's end is the day after: 2025-02-30 is 2025-03-02).
SINCE_PATTERN = (
    r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
# ``cursor``: the last alert of the page before, as ``<microseconds since the epoch>-<its id>``.
CURSOR_PATTERN = r"^[0-9]{1,16}-[0-9A-Za-z]{1,32}$"


def _since() -> datetime | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    if not re.fullmatch(SINCE_PATTERN, raw):
        raise InvalidRequest("since must be an ISO 8601 date or date-time, e.g. 2025-06-01T00:00:00Z", field="since")
    day, rest = raw[:10], raw[10:]
    year, month, dom = (int(part) for part in day.split("-"))
    moment = datetime(year, month, 1, tzinfo=timezone.utc) + timedelta(days=dom - 1)
    if rest:
        parsed = datetime.fromisoformat("2000-01-01" + rest.replace(" ", "T", 1).replace("Z", "+00:00"))
        moment = moment.replace(hour=parsed.hour, minute=parsed.minute, second=parsed.second,
                                microsecond=parsed.microsecond)
        if parsed.tzinfo is not None:
            moment = moment.replace(tzinfo=parsed.tzinfo)
    return moment


def _kind() -> str | None:
    value = request.args.get("kind")
    if value is not None and value not in ALERT_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(ALERT_KINDS)}", field="kind")
    return value


def _cursor() -> tuple[datetime, str] | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    if not re.fullmatch(CURSOR_PATTERN, raw):
        raise InvalidRequest("cursor must be a next_cursor this API gave out", field="cursor")
    micros, alert_id = raw.split("-", 1)
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(micros)), alert_id


def _next_cursor(alerts: list[Any], limit: int) -> str | None:
    if len(alerts) < limit:
        return None
    last = alerts[-1]
    micros = (last.created_at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    return f"{micros}-{last.id}"


@bp.get("/alerts")
def alerts() -> Response:
    """The alerts, newest first: since a time, of a kind, of one series (``group``), a page at a time."""
    group = _group() if request.args.get("group") is not None else None
    since, kind, limit, cursor = _since(), _kind(), _limit(), _cursor()
    found = repository().alerts(since=since, kind=kind, series_key=group, before=cursor, limit=limit)
    return jsonify({"alerts": [a.to_json() for a in found], "next_cursor": _next_cursor(found, limit), "limit": limit})


@bp.get("/history")
def history() -> Response:
    """One series' past published forecasts, newest first, with their actuals once known."""
    group, measure, source, limit, frequency = _group(), _measure(), _source(), _limit(), _frequency()
    rows = repository().history(group, measure=measure, source=source, limit=limit, frequency=frequency)
    return jsonify({"series": _series(group, measure, frequency), "forecasts": rows, "limit": limit})


@bp.get("/track-record")
def track_record() -> Response:
    """One series' realised accuracy per periods ahead and level, and the periods still pending."""
    group, measure, source, frequency = _group(), _measure(), _source(), _frequency()
    record = repository().track_record(group, measure=measure, source=source, frequency=frequency)
    return jsonify({"series": _series(group, measure, frequency), **record})


# ---- the OpenAPI document's part (web/openapi.py merges these in) --------------------------

_QUERY = [
    {
        "name": "group",
        "in": "query",
        # JSON content, not a string: generated clients and fuzzers send the object the server reads.
        "content": {"application/json": {"schema": GROUP_SCHEMA}},
        "description": 'The series: its group fields as a JSON object, e.g. `{"category":"Shoes"}` (URL-encoded); '
        "absent or `{}`: the total.",
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

# A query string past gunicorn's request-line limit (4094 bytes) is refused before the app sees it.
URI_TOO_LONG = {"414": {"description": "Request line too long (gunicorn refuses more than 4094 bytes).",
                         "content": {"text/html": {}}}}


def openapi_paths(secured: list[dict[str, Any]], errors: dict[str, Any], ok: Any) -> dict[str, Any]:
    """These routes' part of /openapi.json: ``secured`` their security, ``errors`` their error answers,
    ``ok(name, description)`` a 200 answer naming a component (shared/contract/history_documents.py)."""
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
                    {"name": "since", "in": "query", "schema": {"type": "string", "pattern": SINCE_PATTERN},
                     "description": "Only alerts raised at or after this ISO 8601 date or date-time."},
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(ALERT_KINDS)}},
                    {**_QUERY[0], "description": "Only this series' alerts (its group fields as JSON; `{}`: the total)."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_LIMIT}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": CURSOR_PATTERN},
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
