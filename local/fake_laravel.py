"""A real HTTP server that answers like the Laravel sales API (docs/api.md §3).

Used by the tests (every client behaviour against real sockets), by ``benchmarks/pipeline.py`` (a
million rows), and by the local runner, which serves the bundled demo history with::

    python -m local.fake_laravel --demo --port 8081

It speaks the three Laravel paginators (``length_aware`` = an API resource collection, ``simple``,
``cursor``) and ``plain`` (one ``{"data": [...]}``), filters by ``start_date``/``end_date``
(inclusive, on the date part of ``created_at``, as ``whereDate`` would with UTC storage) and
``status``, checks the Bearer token, and can be told to misbehave through :class:`Faults`.

Rows can be given as dicts (served as they are, bad ones included, so clients see them) or as
:class:`~shared.sources.transactions.TransactionColumns` (rendered per page as Laravel would: ISO-8601 ``Z``
timestamps with microseconds and ``decimal:2`` strings), which keeps a million rows cheap to hold.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import signal
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Literal, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import numpy as np

from shared.sources.transactions import TransactionColumns

Paginator = Literal["length_aware", "simple", "cursor", "plain"]
_NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH_DAY = date(1970, 1, 1).toordinal()


@dataclass
class Faults:
    """Ways to misbehave; may be changed while the server runs.

    ``rate_limit_first_n`` and ``fail_first_n`` are budgets, used up as the server answers: "the
    next n requests", counted from when they are set (the fields count down to 0).
    """

    fail_first_n: int = 0  # the next n requests get a 500 (after any rate limiting), then success
    status_code_always: int | None = None  # every request gets this status (e.g. 503)
    html_body: bool = False  # 200 with an HTML page, as a login redirect target would give
    truncated_json: bool = False  # 200 with the JSON body cut in half (consistent Content-Length)
    loop_next: bool = False  # the last page links back to the first
    delay_seconds: float = 0.0  # sleep before answering each request
    rate_limit_first_n: int = 0  # the next n requests get 429 with Retry-After
    retry_after: str = "1"  # the Retry-After header value sent with 429s
    wrong_shape: bool = False  # 200 with JSON that is not a paginator ({"data": {...}})


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake served: path, query (the last value of each name), the status it answered,
    and the raw Authorization header (None when absent), for tests to assert on."""

    path: str
    query: dict[str, str]
    status: int
    authorization: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: set[Any] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close kept-alive connections too: a stopped server must look down to its clients."""
        with self._connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are part of the tests; their broken pipes are noise.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeLaravel:
    """Serve ``source`` over HTTP until :meth:`stop`; also a context manager returning the base URL."""

    def __init__(
        self,
        source: TransactionColumns | Sequence[dict[str, Any]],
        *,
        paginator: Paginator = "length_aware",
        per_page: int = 100,
        token: str | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        sales_path: str = "/sales",
        with_query_string: bool = True,
        grand_total_as: Literal["string", "number"] = "string",
        items: Sequence[dict[str, Any]] | None = None,
        items_path: str = "/sales/items",
        stock: Sequence[dict[str, Any]] | None = None,
        stock_path: str = "/stock",
    ) -> None:
        if paginator not in ("length_aware", "simple", "cursor", "plain"):
            raise ValueError(f"unknown paginator {paginator!r}")
        self.paginator = paginator
        self.per_page = max(1, int(per_page))
        self.token = token
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self.sales_path = "/" + sales_path.strip("/")
        self.with_query_string = with_query_string
        self.grand_total_as = grand_total_as
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.request_count = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

        if isinstance(source, TransactionColumns):
            self._cols: TransactionColumns | None = source
            self._rows: list[Any] | None = None
            self._day = source.ts_ns // _NS_PER_DAY  # UTC day number of each row
            self._n = len(source)
        else:
            self._cols = None
            self._rows = list(source)
            self._n = len(self._rows)
            # As numpy string arrays, so selecting a (dates, status) window is vectorised: the
            # benchmarks serve hundreds of thousands of rows. "" stands for "no date/status".
            dates = [self._date_key(r) for r in self._rows]
            statuses = [r.get("status") if isinstance(r, dict) else None for r in self._rows]
            self._row_date = np.array([d or "" for d in dates], dtype="U10")
            self._row_status = np.array([s if isinstance(s, str) else "" for s in statuses], dtype=str)
            self._row_has_status = np.array([isinstance(s, str) for s in statuses], dtype=bool)
        self._selections: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        # Sale lines (docs/api.md §3) at their own path, with the same paginator, filters and faults.
        self.items_path = "/" + items_path.strip("/")
        self._items = (
            FakeLaravel(items, paginator=paginator, per_page=per_page, sales_path=items_path,
                        with_query_string=with_query_string)
            if items is not None else None
        )
        # Stock rows (docs/api.md §12): undated, so every page filter lets them through. None: 404.
        self.stock_path = "/" + stock_path.strip("/")
        self._stock = (
            FakeLaravel(stock, paginator=paginator, per_page=per_page, sales_path=stock_path,
                        with_query_string=with_query_string)
            if stock is not None else None
        )

    # ------------------------------------------------------------------ lifecycle
    def _bind(self) -> _Server:
        handler = type("_Handler", (_Handler,), {"fake": self})
        server = _Server((self.host, self.port), handler)
        self.port = server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        for nested in (self._items, self._stock):
            if nested is not None:
                nested.base_url = self.base_url
        return server

    def start(self) -> str:
        """Start serving in a background thread; returns the base URL (no path)."""
        self._server = self._bind()
        # A short poll interval: stop() (and so every test's teardown) waits at most this long.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-laravel", daemon=True
        )
        self._thread.start()
        return self.base_url

    def serve_forever(self, announce: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until interrupted; ``announce(url)`` once listening."""
        server = self._bind()
        if announce is not None:
            announce(self.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    def stop(self) -> None:
        """Stop serving, close kept-alive connections so clients see the server down, and join the
        thread; safe to call twice."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL plus the sales path: what a client's ``base_url + sales_path`` points at."""
        return self.base_url + self.sales_path

    # ------------------------------------------------------------------ data
    @staticmethod
    def _date_key(row: Any) -> str | None:
        if isinstance(row, dict):
            created = row.get("created_at")
            if isinstance(created, str) and len(created) >= 10:
                try:
                    return date.fromisoformat(created[:10]).isoformat()
                except ValueError:
                    return None
        return None

    def _select(self, start: str, end: str, status: str) -> np.ndarray:
        key = (start, end, status)
        with self._lock:
            hit = self._selections.get(key)
            if hit is not None:
                self._selections.move_to_end(key)
                return hit
        if self._cols is not None:
            lo = date.fromisoformat(start).toordinal() - _EPOCH_DAY
            hi = date.fromisoformat(end).toordinal() - _EPOCH_DAY
            # Columns carry no status: they are all "completed".
            ok = (self._day >= lo) & (self._day <= hi) if status in ("", "completed") else np.zeros(self._n, bool)
            sel = np.flatnonzero(ok)
        else:
            # Rows whose created_at has no readable date pass through: a real database would not
            # hold them, but the client's rejection counting needs to see them.
            dated = self._row_date != ""
            in_range = ~dated | ((self._row_date >= start) & (self._row_date <= end))
            status_ok = ~self._row_has_status | (self._row_status == status) if status else True
            sel = np.flatnonzero(in_range & status_ok).astype(np.int64)
        with self._lock:
            self._selections[key] = sel
            while len(self._selections) > 16:
                self._selections.popitem(last=False)
        return sel

    def _render_rows(self, idx: np.ndarray) -> bytes:
        if self._rows is not None:
            return json.dumps([self._rows[i] for i in idx], separators=(",", ":")).encode()
        cols = self._cols
        assert cols is not None
        ids = cols.ids[idx].tolist()
        stamps = np.datetime_as_string(cols.ts_ns[idx].view("datetime64[ns]"), unit="us").tolist()
        cents = cols.cents[idx].tolist()
        if self.grand_total_as == "string":
            totals = [f'"{"-" if c < 0 else ""}{abs(c) // 100}.{abs(c) % 100:02d}"' for c in cents]
        else:
            totals = [f'{"-" if c < 0 else ""}{abs(c) // 100}.{abs(c) % 100:02d}' for c in cents]
        body = ",".join(
            f'{{"id":{i},"created_at":"{t}Z","grand_total":{g},"status":"completed"}}'
            for i, t, g in zip(ids, stamps, totals)
        )
        return ("[" + body + "]").encode()

    # ------------------------------------------------------------------ pages
    def _url(self, query: dict[str, str], extra: dict[str, str]) -> str:
        params = dict(query) if self.with_query_string else {}
        params.pop("page", None)
        params.pop("cursor", None)
        params.update(extra)
        return f"{self.base_url}{self.sales_path}?{urlencode(params)}"

    @staticmethod
    def _encode_cursor(offset: int) -> str:
        raw = json.dumps({"offset": offset, "_pointsToNextItems": True}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_cursor(cursor: str) -> int | None:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            offset = json.loads(raw)["offset"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        return offset if isinstance(offset, int) and offset >= 0 else None

    def page_body(self, query: dict[str, str]) -> tuple[int, bytes]:
        """(status, JSON body) for a sales request with ``query``; validation as Laravel's would."""
        errors: dict[str, list[str]] = {}
        for name in ("start_date", "end_date"):
            try:
                date.fromisoformat(query.get(name, ""))
            except ValueError:
                errors[name] = [f"The {name.replace('_', ' ')} field must be a valid date."]
        if errors:
            return 422, json.dumps({"message": "The given data was invalid.", "errors": errors}).encode()
        sel = self._select(query["start_date"], query["end_date"], query.get("status", ""))
        total = int(sel.shape[0])
        per = self.per_page
        loop = self.faults.loop_next

        if self.paginator == "plain":
            return 200, b'{"data":' + self._render_rows(sel) + b"}"

        if self.paginator == "cursor":
            offset = 0
            if "cursor" in query:
                decoded = self._decode_cursor(query["cursor"])
                if decoded is None:
                    return 422, b'{"message":"Invalid cursor."}'
                offset = decoded
            end = min(offset + per, total)
            has_more = end < total
            next_cursor = self._encode_cursor(end) if has_more else (self._encode_cursor(0) if loop else None)
            prev_cursor = self._encode_cursor(max(offset - per, 0)) if offset > 0 else None
            head = {
                "path": f"{self.base_url}{self.sales_path}",
                "per_page": per,
                "next_cursor": next_cursor,
                "next_page_url": self._url(query, {"cursor": next_cursor}) if next_cursor else None,
                "prev_cursor": prev_cursor,
                "prev_page_url": self._url(query, {"cursor": prev_cursor}) if prev_cursor else None,
            }
            return 200, self._wrap(sel[offset:end], head)

        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        last_page = max(1, -(-total // per))
        offset = (page - 1) * per
        chunk = sel[offset : offset + per]
        if page < last_page:
            next_url: str | None = self._url(query, {"page": str(page + 1)})
        else:
            next_url = self._url(query, {"page": "1"}) if loop else None
        prev_url = self._url(query, {"page": str(page - 1)}) if page > 1 else None
        first = offset + 1 if chunk.size else None
        to = offset + int(chunk.size) if chunk.size else None
        if self.paginator == "simple":
            head = {
                "current_page": page,
                "first_page_url": self._url(query, {"page": "1"}),
                "from": first,
                "next_page_url": next_url,
                "path": f"{self.base_url}{self.sales_path}",
                "per_page": per,
                "prev_page_url": prev_url,
                "to": to,
            }
            return 200, self._wrap(chunk, head)
        head = {
            "links": {
                "first": self._url(query, {"page": "1"}),
                "last": self._url(query, {"page": str(last_page)}),
                "prev": prev_url,
                "next": next_url,
            },
            "meta": {
                "current_page": page,
                "from": first,
                "last_page": last_page,
                "path": f"{self.base_url}{self.sales_path}",
                "per_page": per,
                "to": to,
                "total": total,
            },
        }
        return 200, self._wrap(chunk, head)

    def _wrap(self, idx: np.ndarray, head: dict[str, Any]) -> bytes:
        # Rows first, as Laravel does; the rest is small and goes through json.dumps.
        rest = json.dumps(head, separators=(",", ":"))
        return b'{"data":' + self._render_rows(idx) + b"," + rest[1:].encode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLaravel
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for all pages
    server_version = "FakeLaravel/1.0"
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK would
    # add ~40 ms to every page.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        auth = self.headers.get("Authorization")
        with fake._lock:
            fake.request_count += 1
        status, body, ctype, extra = self._answer(parts.path, query, auth)
        fake.requests.append(RequestRecord(parts.path, query, status, auth))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _answer(
        self, path: str, query: dict[str, str], auth: str | None
    ) -> tuple[int, bytes, str, dict[str, str]]:
        fake, faults = self.fake, self.fake.faults
        js = "application/json"
        if faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        if faults.status_code_always is not None:
            return faults.status_code_always, b'{"message":"Service Unavailable"}', js, {}
        with fake._lock:
            limited = faults.rate_limit_first_n > 0
            failing = not limited and faults.fail_first_n > 0
            if limited:
                faults.rate_limit_first_n -= 1
            elif failing:
                faults.fail_first_n -= 1
        if limited:
            return 429, b'{"message":"Too Many Attempts."}', js, {"Retry-After": faults.retry_after}
        if failing:
            return 500, b'{"message":"Server Error"}', js, {}
        dataset = fake
        if fake._items is not None and path.rstrip("/") == fake.items_path:
            dataset = fake._items
        elif fake._stock is not None and path.rstrip("/") == fake.stock_path:
            dataset = fake._stock
        elif path.rstrip("/") != fake.sales_path:
            return 404, b'{"message":"Not Found"}', js, {}
        if fake.token is not None and auth != f"Bearer {fake.token}":
            return 401, b'{"message":"Unauthenticated."}', js, {}
        if faults.html_body:
            html = b"<!DOCTYPE html><html><head><title>Login</title></head><body>Please log in</body></html>"
            return 200, html, "text/html; charset=UTF-8", {}
        if faults.wrong_shape:
            return 200, b'{"data":{"sales":[]},"message":"ok"}', js, {}
        status, body = dataset.page_body(query)
        if faults.truncated_json and status == 200:
            body = body[: max(1, len(body) // 2)]
        return status, body, js, {}


def main(argv: list[str] | None = None) -> int:
    """``python -m local.fake_laravel --demo``: serve the demo sales and sale lines until SIGTERM or
    Ctrl-C (the local runner's demo source); anything but ``--demo`` is a usage error."""
    parser = argparse.ArgumentParser(description="Serve sales like the Laravel API does.")
    parser.add_argument("--demo", action="store_true", help="serve the bundled demo sales history")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--path", default="/sales", help="the sales path (LARAVEL_SALES_PATH)")
    parser.add_argument("--items-path", default="/sales/items", help="the sale lines path (LARAVEL_ITEMS_PATH)")
    parser.add_argument("--token", default=None, help="require this Bearer token")
    parser.add_argument("--paginator", default="length_aware", choices=["length_aware", "simple", "cursor", "plain"])
    parser.add_argument("--per-page", type=int, default=500)
    parser.add_argument("--timezone", default="UTC", help="zone of the demo's naive timestamps (SALES_TIMEZONE)")
    parser.add_argument("--today", default=None, help="YYYY-MM-DD the demo history ends on (default: today)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.demo:
        parser.error("only --demo is supported from the command line")

    from local.demo import demo_lines, demo_rows

    today = date.fromisoformat(args.today) if args.today else datetime.now(ZoneInfo(args.timezone)).date()
    rows = demo_rows(today, seed=args.seed, timezone=args.timezone)
    fake = FakeLaravel(
        rows, paginator=args.paginator, per_page=args.per_page, token=args.token,
        host=args.host, port=args.port, sales_path=args.path,
        items=demo_lines(today, seed=args.seed, timezone=args.timezone, rows=rows), items_path=args.items_path,
    )
    # SIGTERM from the runner ends serve_forever like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fake.serve_forever(
        lambda url: print(
            f"fake Laravel: serving {len(rows)} DEMO sales rows (through {today}) at {url}", flush=True
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
