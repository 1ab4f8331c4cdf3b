"""A grouped job's series (docs/api.md §8): ``GET /api/v1/forecasts/{id}/series`` pages them,
``GET /api/v1/forecasts/{id}/series.csv`` streams them all.

A finished grouped job's series never change (only their expiry removes them), and the worker
that published them stored each level as a hash position -> JSON with a small index (key texts,
sortable figures; shared.stores.grouped_store) and its positions in every sort order. A page in
the stored order is one HMGET of its positions, assembled from the stored bytes without
re-encoding; a sorted page first reads its positions (one LRANGE); a searched page, or a sorted
one of series published before the orders were stored, loads the level's index, once per web process. The CSV is written row by row from Redis batches,
never built whole in memory.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, request, stream_with_context

from shared.contract.errors import InvalidRequest, NotFinished, NotFound
from shared.contract.schema import INVENTORY_COLUMNS, TERMINAL, JobStatus, inventory_cell
from shared.stores.grouped_store import SORT_FIGURES, SORT_INVENTORY, GroupedStore, sort_order
from web.finished import Kept
from web.jobs import ForecastService
from web.schemas import SeriesQuery

bp = Blueprint("series", __name__, url_prefix="/api/v1/forecasts")

STORE_KEY = "sales_forecast_series"
KEPT = 64  # job ids, level counts and level indexes kept per web process (each kind)
PAGES_KEPT = 128  # answered pages kept per web process, each at most PAGE_KEPT_BYTES: <= 32 MB
PAGE_KEPT_BYTES = 256 * 1024


@dataclass
class LevelIndex:
    """One level of one finished job, for sorting and searching: key texts and figures."""

    text: list[str]  # the key values, lower-cased, for `q`
    figures: dict[str, list[float | None]]
    _orders: dict[str, list[int]] = field(default_factory=dict)

    def order(self, sort: str) -> list[int]:
        """Positions in ``sort`` order; stable, so ties keep the key order; missing figures last."""
        if sort == "key":
            return list(range(len(self.text)))
        if sort not in self._orders:
            self._orders[sort] = sort_order(self.figures[sort.lstrip("-")], descending=sort.startswith("-"))
        return self._orders[sort]


class SeriesReader:
    """The finished series of grouped jobs (shared.stores.grouped_store), with what this web process
    keeps of them, for a bounded time like finished status bodies (web.finished.Kept): which
    fingerprint a job's series are under, each level's size, the level indexes that sorting and
    searching use (each loaded by one thread while the others wait), and the pages answered.
    The series themselves are read from Redis page by page, so a first page needs no index."""

    def __init__(self, store: GroupedStore) -> None:
        self.store = store
        self._jobs: Kept[str, str] = Kept(max_entries=KEPT)
        self._counts: Kept[str, dict[int, int]] = Kept(max_entries=KEPT)
        self._indexes: Kept[tuple[str, int], LevelIndex] = Kept(max_entries=KEPT)
        self._loading: dict[tuple[str, int], threading.Lock] = {}
        self._loading_lock = threading.Lock()
        # A page of a finished job never changes: readers asking for the same one (a dashboard's
        # first page) are answered from memory.
        self.pages: Kept[str, bytes] = Kept(max_entries=PAGES_KEPT)

    def fingerprint(self, task_id: str) -> str | None:
        """The fingerprint ``task_id``'s series are stored under, or None for a job without series."""
        fingerprint = self._jobs.get(task_id)
        if fingerprint is None:
            fingerprint = self.store.fingerprint_of(task_id)
            if fingerprint is not None:
                self._jobs.put(task_id, fingerprint)
        return fingerprint

    def counts(self, fingerprint: str) -> dict[int, int]:
        """{level: number of series} of the job's hierarchy (the total is level 0); {} once expired."""
        counts = self._counts.get(fingerprint)
        if counts is None:
            counts = self.store.level_counts(fingerprint)
            if counts:
                self._counts.put(fingerprint, counts)
        return counts

    def index(self, fingerprint: str, level: int) -> LevelIndex | None:
        """Level ``level``'s index for sorting and searching, loaded once and kept; None once expired."""
        key = (fingerprint, level)
        index = self._indexes.get(key)
        if index is not None:
            return index
        with self._loading_lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one thread loads a level; the others wait for it, then find it kept
            index = self._indexes.get(key)
            if index is None:
                blob = self.store.index(fingerprint, level)
                if blob is not None:
                    # An index stored before the inventory sort existed has no "order": all missing.
                    names = (*SORT_FIGURES, *SORT_INVENTORY)
                    index = LevelIndex(blob["text"], {name: blob.get(name) or [None] * len(blob["text"]) for name in names})
                    self._indexes.put(key, index)
        with self._loading_lock:
            self._loading.pop(key, None)
        return index

    def forget(self, task_id: str, fingerprint: str) -> None:
        """The series have expired: the next request asks Redis again (and answers 404). A kept
        index stays valid: the same fingerprint, published again, is the same series."""
        self._jobs.drop(task_id)
        self._counts.drop(fingerprint)


def _reader() -> SeriesReader:
    return current_app.extensions[STORE_KEY]


def _no_series(task_id: str) -> NotFound | NotFinished:
    """Why a job has no series to read: not finished yet (409 not_finished, Retry-After: ask
    again), or finished without them (failed, cancelled, not grouped, expired) or unknown (404)."""
    forecasts: ForecastService = current_app.extensions["sales_forecast"]
    doc = forecasts.status(task_id)  # NotFound for an id no one submitted
    if doc.status not in TERMINAL:
        return NotFinished(f"the job has not finished: it is {doc.status}; its series are readable once it is SUCCESS")
    if doc.status != JobStatus.SUCCESS:
        return NotFound(f"the job has no series: it ended {doc.status}")
    return NotFound("the job has no series: it was not a grouped forecast, or they have expired")


def _grouped_job(task_id: str) -> tuple[str, dict[int, int]]:
    """(fingerprint, {level: series}) of a finished grouped job, else NotFound saying why.

    A job's fingerprint is named only when its series are published, just before its SUCCESS is
    stored, so a reader that finds it needs not read the status document."""
    reader = _reader()
    fingerprint = reader.fingerprint(task_id)
    counts = reader.counts(fingerprint) if fingerprint is not None else {}
    if fingerprint is None or not counts:
        raise _no_series(task_id)
    return fingerprint, counts


@bp.get("/<task_id>/series")
def list_series(task_id: str) -> Response:
    """GET /api/v1/forecasts/<id>/series: one page of a grouped job's series at one level, searched, sorted
    and cursor-paged (gzipped when the client accepts it)."""
    query = SeriesQuery.parse(request.args)
    gzipped = request.accept_encodings["gzip"] > 0
    asked = json.dumps([task_id, query.level, query.limit, query.cursor, query.q, query.sort, gzipped])
    kept = _reader().pages.get(asked)
    if kept is not None:
        return _page_response(kept, gzipped)
    fingerprint, counts = _grouped_job(task_id)
    deepest = max(counts)
    level = query.level or deepest
    if level > deepest:
        raise InvalidRequest(f"level: this job has levels 1 to {deepest}", field="level")
    offset = int(query.cursor) if query.cursor else 0  # digits, as SeriesQuery checked
    stored = None
    if query.sort != "key" and not query.q:
        # The order the worker stored when it published: one LRANGE, no index to load and sort.
        stored = _reader().store.sorted_positions(fingerprint, level, query.sort, offset, query.limit)
    if query.sort == "key" and not query.q:
        matching = counts.get(level, 0)  # the stored order: no index needed
        page = list(range(offset, min(offset + query.limit, matching)))
    elif stored is not None:
        matching = counts.get(level, 0)
        page = stored
    else:
        index = _reader().index(fingerprint, level)
        if index is None:
            _reader().forget(task_id, fingerprint)
            raise _no_series(task_id)
        order = index.order(query.sort)
        if query.q:
            needle = query.q.lower()
            order = [i for i in order if needle in index.text[i]]
        matching = len(order)
        page = order[offset : offset + query.limit]
    raw = _reader().store.series_at(fingerprint, level, page)
    if any(blob is None for blob in raw):
        _reader().forget(task_id, fingerprint)
        raise _no_series(task_id)
    more = offset + query.limit < matching
    next_cursor = str(offset + query.limit) if more else None
    body = b"".join(
        [
            b'{"series":[',
            b",".join(raw),  # type: ignore[arg-type]  # no None left
            b'],"next_cursor":',
            json.dumps(next_cursor).encode(),
            f',"level":{level},"matching":{matching}}}'.encode(),
        ]
    )
    if gzipped:
        # Pages are JSON of many alike series (~2 kB each): level 1 makes them 5-10× smaller for
        # a fraction of a millisecond, and a kept page is compressed once.
        body = gzip.compress(body, compresslevel=1, mtime=0)
    if len(body) <= PAGE_KEPT_BYTES:
        _reader().pages.put(asked, body)
    return _page_response(body, gzipped)


def _page_response(body: bytes, gzipped: bool) -> Response:
    response = Response(body, mimetype="application/json")
    response.vary.add("Accept-Encoding")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return response


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


# The CSV is written out every this many series (~1,500 lines at h = 3, ~14,000 at h = 28).
CSV_FLUSH_SERIES = 500


def _gzip_stream(texts: Iterator[str]) -> Iterator[bytes]:
    """``texts`` as one gzip stream, compressed as they come (level 1: the CSV's figures compress
    ~5x at a fraction of the cost of level 6); only the compressor's window is held."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    for text in texts:
        chunk = packer.compress(text.encode())
        if chunk:
            yield chunk
    yield packer.flush()


@bp.get("/<task_id>/series.csv")
def series_csv(task_id: str) -> Response:
    """GET /api/v1/forecasts/<id>/series.csv: every series of a grouped job as CSV (the forecast, or
    ``view=inventory``), streamed and gzipped in bounded memory."""
    fingerprint, counts = _grouped_job(task_id)
    store = _reader().store
    deepest = store.series_at(fingerprint, max(counts), [0])[0]
    if deepest is None:
        raise _no_series(task_id)
    group_by: list[str] = list(json.loads(deepest).get("key") or {})  # the deepest key has every field

    if request.args.get("view") == "inventory":
        return _inventory_csv(task_id, fingerprint, counts, group_by)
    if request.args.get("view") not in (None, "forecast"):
        raise InvalidRequest("view: forecast (default) or inventory", field="view")

    def rows() -> Iterator[str]:
        # One text per stored batch of series (a few hundred kB at most), not one per line: the
        # server writes a handful of chunks per batch, and the web process holds one batch.
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["level", *group_by, "period", "forecast", "low", "high"])
        written = 0
        for level, count in sorted(counts.items()):
            for blob in store.iter_level(fingerprint, level, count):
                doc = json.loads(blob)
                key = doc.get("key") or {}
                cells = [("null" if key[f] is None else key[f]) if f in key else "" for f in group_by]
                for point in (doc.get("forecast") or {}).get("horizon") or []:
                    writer.writerow(
                        [doc.get("level"), *cells, point["period"],
                         f"{point['forecast']:.2f}", f"{point['low']:.2f}", f"{point['high']:.2f}"]
                    )
                written += 1
                if written % CSV_FLUSH_SERIES == 0:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    gzipped = request.accept_encodings["gzip"] > 0
    body: Iterator[str] | Iterator[bytes] = _gzip_stream(rows()) if gzipped else rows()
    response = Response(stream_with_context(body), mimetype="text/csv")
    response.vary.add("Accept-Encoding")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Disposition"] = f'attachment; filename="forecast-{task_id[:36]}-series.csv"'
    return response


def _inventory_csv(task_id: str, fingerprint: str, counts: dict[int, int], group_by: list[str]) -> Response:
    """``series.csv?view=inventory`` (docs/api.md §12): one line per series of the deepest level (the
    products), with its key fields and inventory columns, ready for a purchase-order import. Empty
    cells for figures the job does not have (no stock for that product)."""
    store = _reader().store
    deepest = max(counts)

    def rows() -> Iterator[str]:
        yield _csv_line([*group_by, *INVENTORY_COLUMNS])
        for blob in store.iter_level(fingerprint, deepest, counts[deepest]):
            doc = json.loads(blob)
            inventory = doc.get("inventory")
            if inventory is None:
                raise _no_inventory()
            key = doc.get("key") or {}
            cells = ["null" if key.get(f) is None else key[f] for f in group_by]
            yield _csv_line([*cells, *(inventory_cell(inventory.get(c)) for c in INVENTORY_COLUMNS)])

    first = store.series_at(fingerprint, deepest, [0])[0]
    if first is None or json.loads(first).get("inventory") is None:
        raise _no_inventory()
    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="inventory-{task_id[:36]}.csv"'
    return response


def _no_inventory() -> NotFound:
    return NotFound("the job has no inventory: submit it with an inventory field (docs/api.md §12)")
