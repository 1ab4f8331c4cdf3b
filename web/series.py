"""A grouped job's series (CONTRACT §8): ``GET /api/v1/forecasts/{id}/series`` pages them,
``GET /api/v1/forecasts/{id}/series.csv`` streams them all.

A finished grouped job's series never change (only their expiry removes them), and a reader pages
through one level many times: so each web process loads a level once from Redis
(shared.grouped_store, in batches) and keeps it, parsed for filtering and sorting and as the
stored JSON bytes for the answer, which is assembled from those bytes without re-encoding. The
CSV is written row by row from Redis batches, never built whole in memory.
"""
from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, request, stream_with_context

from shared.errors import InvalidRequest, NotFound
from shared.grouped_store import GroupedStore
from shared.schema import JobStatus
from web.jobs import ForecastService
from web.schemas import SeriesQuery

bp = Blueprint("series", __name__, url_prefix="/api/v1/forecasts")

STORE_KEY = "sales_forecast_series"
LEVELS_KEPT = 8  # (job data, level) entries kept per web process


def _figure(doc: dict[str, Any], name: str) -> float | None:
    forecast = doc.get("forecast") or {}
    value = {
        "forecast": forecast.get("next_month_forecast"),
        "growth": forecast.get("forecast_growth_rate"),
        "accuracy": forecast.get("model_accuracy"),
    }[name]
    return float(value) if isinstance(value, (int, float)) else None


@dataclass
class LevelIndex:
    """One level of one finished job: the stored bytes and what filtering and sorting need."""

    raw: list[bytes]
    text: list[str]  # the key values, lower-cased, for `q`
    figures: dict[str, list[float | None]]
    _orders: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, blobs: Iterator[bytes]) -> "LevelIndex":
        raw, text = [], []
        figures: dict[str, list[float | None]] = {"forecast": [], "growth": [], "accuracy": []}
        for blob in blobs:
            doc = json.loads(blob)
            raw.append(blob)
            text.append(" ".join("null" if v is None else str(v) for v in doc.get("key", {}).values()).lower())
            for name in figures:
                figures[name].append(_figure(doc, name))
        return cls(raw, text, figures)

    def order(self, sort: str) -> list[int]:
        if sort == "key":
            return list(range(len(self.raw)))
        if sort not in self._orders:
            name = sort.lstrip("-")
            values = self.figures[name]
            present = [i for i, v in enumerate(values) if v is not None]
            present.sort(key=lambda i: values[i], reverse=sort.startswith("-"))  # stable: key order on ties
            self._orders[sort] = present + [i for i, v in enumerate(values) if v is None]
        return self._orders[sort]


class SeriesReader:
    """The finished series of grouped jobs, per level, as this web process has loaded them."""

    def __init__(self, store: GroupedStore) -> None:
        self.store = store
        self._levels: OrderedDict[tuple[str, int], LevelIndex] = OrderedDict()
        self._lock = threading.Lock()

    def level(self, fingerprint: str, level: int) -> LevelIndex:
        key = (fingerprint, level)
        with self._lock:
            found = self._levels.get(key)
            if found is not None:
                self._levels.move_to_end(key)
                return found
        index = LevelIndex.load(self.store.iter_level(fingerprint, level))
        with self._lock:
            self._levels[key] = index
            while len(self._levels) > LEVELS_KEPT:
                self._levels.popitem(last=False)
        return index


def _reader() -> SeriesReader:
    return current_app.extensions[STORE_KEY]


def _grouped_job(task_id: str) -> tuple[str, dict[str, Any]]:
    """(fingerprint, hierarchy) of a finished grouped job, else NotFound saying why."""
    forecasts: ForecastService = current_app.extensions["sales_forecast"]
    doc = forecasts.status(task_id)  # NotFound for an id no one submitted
    if doc.status != JobStatus.SUCCESS:
        raise NotFound(f"the job has no series yet: it is {doc.status}")
    hierarchy = ((doc.result or {}).get("data") or {}).get("hierarchy")
    fingerprint = _reader().store.fingerprint_of(task_id)
    if not isinstance(hierarchy, dict) or fingerprint is None:
        raise NotFound("the job has no series: it was not a grouped forecast, or they have expired")
    return fingerprint, hierarchy


def _cursor_scope(task_id: str, query: SeriesQuery, level: int) -> str:
    blob = json.dumps([task_id, level, query.q or "", query.sort])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _encode_cursor(offset: int, scope: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "s": scope}).encode()).decode()


def _decode_cursor(cursor: str, scope: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        offset, cursor_scope = int(data["o"]), str(data["s"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidRequest("cursor: not a cursor this endpoint gave", field="cursor") from None
    if cursor_scope != scope or offset < 0:
        raise InvalidRequest("cursor: it belongs to another query (same level, q and sort)", field="cursor")
    return offset


@bp.get("/<task_id>/series")
def list_series(task_id: str) -> Response:
    query = SeriesQuery.parse(request.args)
    fingerprint, hierarchy = _grouped_job(task_id)
    deepest = len(hierarchy.get("group_by") or [])
    level = query.level or deepest
    if level > deepest:
        raise InvalidRequest(f"level: this job has levels 1 to {deepest}", field="level")
    index = _reader().level(fingerprint, level)
    order = index.order(query.sort)
    if query.q:
        needle = query.q.lower()
        order = [i for i in order if needle in index.text[i]]
    scope = _cursor_scope(task_id, query, level)
    offset = _decode_cursor(query.cursor, scope) if query.cursor else 0
    page = order[offset : offset + query.limit]
    more = offset + query.limit < len(order)
    next_cursor = _encode_cursor(offset + query.limit, scope) if more else None
    body = b"".join(
        [
            b'{"series":[',
            b",".join(index.raw[i] for i in page),
            b'],"next_cursor":',
            json.dumps(next_cursor).encode(),
            f',"level":{level},"matching":{len(order)}}}'.encode(),
        ]
    )
    return Response(body, mimetype="application/json")


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


@bp.get("/<task_id>/series.csv")
def series_csv(task_id: str) -> Response:
    fingerprint, hierarchy = _grouped_job(task_id)
    group_by: list[str] = list(hierarchy.get("group_by") or [])
    store = _reader().store
    levels = store.levels(fingerprint)

    def rows() -> Iterator[str]:
        yield _csv_line(["level", *group_by, "period", "forecast", "low", "high"])
        for level in levels:
            for blob in store.iter_level(fingerprint, level):
                doc = json.loads(blob)
                key = doc.get("key") or {}
                cells = [("null" if key[f] is None else key[f]) if f in key else "" for f in group_by]
                for point in (doc.get("forecast") or {}).get("horizon") or []:
                    yield _csv_line(
                        [doc.get("level"), *cells, point["period"],
                         f"{point['forecast']:.2f}", f"{point['low']:.2f}", f"{point['high']:.2f}"]
                    )

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="forecast-{task_id[:36]}-series.csv"'
    return response
