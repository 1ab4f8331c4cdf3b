"""HTTP client for the Laravel sales API (docs/api.md §3).

``GET {base}{sales_path}?start_date=..&end_date=..&status=..&page=N`` with ``Accept: application/json``
and the Bearer token when one is configured. Every paginator Laravel ships is understood:

* length-aware (API resources): ``{"data", "links": {"next"}, "meta": {"current_page", "last_page"}}``;
* simple: ``next_page_url`` at top level; cursor: ``next_cursor`` / ``next_page_url``;
* one plain ``{"data": [...]}``, or a bare JSON list.

Pages are parsed into a :class:`~shared.sources.transactions.ColumnBuilder` as they arrive and then dropped,
so memory stays flat however many rows there are.

Following ``next`` links: only the link's *query string* (page, cursor...) is used, applied to the
configured base URL and path, with our filters added back when the link lacks them. This keeps
pagination working behind proxies where Laravel's ``APP_URL`` names an internal host or plain http,
keeps apps that forgot ``withQueryString()`` from silently dropping the date filter, and guarantees
the token is never sent anywhere but the configured origin.

Failures: connection errors, timeouts, 429 and 5xx are retried (exponential backoff, full jitter,
``Retry-After`` honoured up to ``backoff_max``) and then raise :class:`UpstreamUnavailable`.
A :class:`~shared.sources.deadline.Deadline` bounds the whole fetch: no request waits past it, no back-off
sleeps into it (a jittered one is shortened; a ``Retry-After`` past it ends the fetch), and once
it has passed the fetch raises :class:`LaravelDeadlinePassed` (an ``upstream_unavailable`` that
says so). A deadline that carries a cancel check stops the fetch at the next page, attempt or
back-off of a job that was cancelled (:class:`Cancelled`).
Answers that are not sales data (401/403/404 and other 4xx, HTML, broken or mis-shaped JSON,
a pagination loop, more than ``max_pages`` pages) raise :class:`UpstreamInvalid` at once: retrying
would not change them. Messages name the host and what happened, never the token.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from shared.contract.backoff import backoff_seconds
from shared.contract.config import Settings, redact_url
from shared.contract.errors import UpstreamInvalid, UpstreamNotFound, UpstreamUnavailable
from shared.sources.deadline import Deadline
from shared.sources.transactions import ColumnBuilder, TransactionColumns

log = logging.getLogger(__name__)

OnPage = Callable[[int, "int | None"], None]
T = TypeVar("T", covariant=True)


class PageSink(Protocol[T]):
    """What pages are fed to: sales columns, or sale lines (shared.sources.lines)."""

    def add_rows(self, rows: list[Any]) -> None:
        """Take one page's ``data`` rows as decoded from JSON; the page may then be dropped."""

    def finish(self) -> T:
        """What all the pages made, once the last page is in (called once per fetch)."""

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
_FILTER_KEYS = ("start_date", "end_date", "status")
_SNIPPET = 160  # characters of an error body worth quoting in a message


def _snippet(body: bytes) -> str:
    text = body[: _SNIPPET * 2].decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")


class LaravelClient:
    """Fetches completed sales for a date range; see the module docstring for the rules."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        sales_path: str = "/sales",
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_pages: int = 100_000,
        timezone: str = "UTC",
        session: requests.Session | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        self.base_url = base_url.rstrip("/")
        self.sales_path = "/" + sales_path.lstrip("/") if sales_path else ""
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_pages = max_pages
        self.timezone = timezone
        self._token = token or None
        self._own_session = session is None
        self._session = session or requests.Session()
        self._endpoint = self.base_url + self.sales_path
        # What error messages may show: no password, no query.
        parts = urlsplit(redact_url(self._endpoint))
        self._where = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"LaravelClient({self._where!r}, token={'set' if self._token else 'none'})"

    def close(self) -> None:
        """Close the connection pool, unless the session was passed in (its owner closes it)."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> "LaravelClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public
    @classmethod
    def from_settings(cls, settings: Settings) -> "LaravelClient":
        """The client LARAVEL_API_URL and its companions describe (the URL must be set)."""
        if not settings.laravel_api_url:
            raise UpstreamUnavailable("LARAVEL_API_URL is not configured")
        return cls(
            settings.laravel_api_url,
            token=settings.laravel_api_token,
            sales_path=settings.laravel_sales_path,
            timeout=settings.laravel_timeout_seconds,
            timezone=settings.sales_timezone,
        )

    def fetch_sales(
        self,
        start_date: date,
        end_date: date,
        status: str = "completed",
        on_page: OnPage | None = None,
        deadline: Deadline | None = None,
    ) -> TransactionColumns:
        """All rows for ``[start_date, end_date]`` with ``status``, parsed into columns.

        With a ``deadline``, all pages, retries and back-offs together end by it.
        """
        return self.fetch_pages(ColumnBuilder(self.timezone), start_date, end_date, status, on_page, deadline=deadline)

    def fetch_pages(
        self,
        builder: PageSink[T],
        start_date: date,
        end_date: date,
        status: str = "completed",
        on_page: OnPage | None = None,
        *,
        path: str | None = None,
        deadline: Deadline | None = None,
    ) -> T:
        """Every page for the filters, fed to ``builder.add_rows``; returns ``builder.finish()``.

        ``path`` (default: the sales path) names another endpoint with the same paginators, such
        as the sale lines of docs/api.md §3. With a ``deadline``, all pages, retries and back-offs
        together end by it.
        """
        endpoint = self._endpoint if path is None else self.base_url + "/" + path.lstrip("/")
        filters = {
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat(),
            "status": status,
        }
        params: list[tuple[str, str]] = [*filters.items(), ("page", "1")]
        seen: set[tuple[tuple[str, str], ...]] = set()
        pages = 0
        while True:
            key = tuple(sorted(params))
            if key in seen:
                raise UpstreamInvalid(
                    f"Laravel sales API at {self._where} sent a pagination loop: "
                    f"page {pages + 1} links back to an already fetched page ({urlencode(params)})"
                )
            if pages >= self.max_pages:
                raise UpstreamInvalid(
                    f"Laravel sales API at {self._where} returned more than {self.max_pages} pages; "
                    "narrow the date range or raise the page size on the Laravel side"
                )
            seen.add(key)
            payload = self._get_json(params, endpoint, deadline)
            rows, next_query, last_page = self._read_page(payload, pages + 1)
            builder.add_rows(rows)
            del rows, payload  # the page is in the builder now; keep memory flat
            pages += 1
            if on_page is not None:
                on_page(pages, last_page)
            if next_query is None:
                break
            params = self._next_params(next_query, filters)
        cols = builder.finish()
        log.info("fetched %d rows in %d page(s) from %s", cols.rows_fetched, pages, self._where)
        return cols

    # ------------------------------------------------------------------ pagination
    def _read_page(self, payload: Any, page_no: int) -> tuple[list[Any], str | None, int | None]:
        """(rows, query string of the next page or None, last page number if known)."""
        if isinstance(payload, list):
            return payload, None, None
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            shape = type(payload).__name__ if not isinstance(payload, dict) else (
                "object with keys " + ", ".join(sorted(map(str, payload))[:8])
            )
            raise UpstreamInvalid(
                f"Laravel sales API at {self._where} answered page {page_no} with JSON that is not "
                f"sales data (expected an object with a \"data\" list, got {shape})"
            )
        rows = payload["data"]
        last_page: int | None = None
        meta = payload.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("last_page"), int):
            last_page = meta["last_page"]
        elif isinstance(payload.get("last_page"), int):
            last_page = payload["last_page"]

        links = payload.get("links")
        if isinstance(links, dict) and "next" in links:  # length-aware paginator
            return rows, self._query_of(links["next"], page_no), last_page
        if "next_page_url" in payload:  # simple and cursor paginators
            return rows, self._query_of(payload["next_page_url"], page_no), last_page
        if "next_cursor" in payload:  # a cursor paginator without URLs
            cursor = payload["next_cursor"]
            if cursor is None:
                return rows, None, last_page
            if not isinstance(cursor, str):
                raise UpstreamInvalid(f"Laravel sales API at {self._where}: next_cursor is not a string")
            return rows, urlencode({"cursor": cursor}), last_page
        return rows, None, last_page  # a plain {"data": [...]}

    def _query_of(self, link: Any, page_no: int) -> str | None:
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise UpstreamInvalid(
                f"Laravel sales API at {self._where}: page {page_no}'s next link is not a URL"
            )
        query = urlsplit(link).query
        if not query:
            raise UpstreamInvalid(
                f"Laravel sales API at {self._where}: page {page_no}'s next link has no page or "
                "cursor parameter"
            )
        return query

    @staticmethod
    def _next_params(query: str, filters: dict[str, str]) -> list[tuple[str, str]]:
        params = parse_qsl(query, keep_blank_values=True)
        present = {k for k, _ in params}
        # Laravel only repeats the filters when the app calls withQueryString(); never lose them.
        return [*((k, v) for k, v in filters.items() if k not in present), *params]

    # ------------------------------------------------------------------ HTTP
    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _get_json(
        self, params: list[tuple[str, str]], endpoint: str | None = None, deadline: Deadline | None = None
    ) -> Any:
        """One page as parsed JSON, with the retry policy (and the deadline, if any) applied."""
        attempts = self.max_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            retry_after: float | None = None
            timeout = self.timeout
            if deadline is not None:
                deadline.check_cancelled()  # a cancelled job asks for no more pages
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise deadline.passed(
                        f"Laravel sales API at {self._where} unavailable: {last_problem or 'no answer yet'}"
                    )
                timeout = min(timeout, remaining)
            try:
                resp = self._session.get(
                    endpoint or self._endpoint, params=params, headers=self._headers(), timeout=timeout
                )
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as exc:
                # A misconfigured LARAVEL_API_URL: waiting will not fix it.
                raise UpstreamUnavailable(
                    f"Laravel sales API URL {self._where!r} is not usable ({type(exc).__name__}): "
                    "check LARAVEL_API_URL"
                ) from None
            except requests.Timeout:
                last_problem = f"no answer within {timeout:.3g}s"
            except requests.ConnectionError as exc:
                last_problem = f"connection failed ({type(exc).__name__})"
            except requests.RequestException as exc:  # e.g. a body cut off mid-transfer
                last_problem = f"transfer failed ({type(exc).__name__})"
            else:
                status = resp.status_code
                if status < 300:
                    return self._decode(resp)
                body = resp.content
                if status in _RETRY_STATUSES:
                    last_problem = f"HTTP {status}"
                    if status == 429:
                        retry_after = self._retry_after(resp.headers.get("Retry-After"))
                else:
                    raise self._client_error(status, body, endpoint)
            if attempt + 1 < attempts:
                delay = self._backoff(attempt, retry_after)
                if deadline is not None and not deadline.allows(delay):
                    if retry_after is not None:  # Laravel said when: trying sooner would be refused
                        raise deadline.too_close(
                            f"Laravel sales API at {self._where} unavailable: {last_problem}", delay
                        )
                    # a jittered back-off only spreads the load: shorten it, leaving the last
                    # attempt half of what is left
                    delay = deadline.remaining() / 2
                log.warning(
                    "Laravel sales API at %s: %s; retry %d/%d in %.2fs",
                    self._where, last_problem, attempt + 1, self.max_retries, delay,
                )
                if deadline is not None:
                    deadline.sleep(delay)  # a cancel ends the back-off
                else:
                    time.sleep(delay)
        raise UpstreamUnavailable(
            f"Laravel sales API at {self._where} unavailable: {last_problem} "
            f"(after {attempts} attempt{'s' if attempts != 1 else ''})"
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        # Full jitter: many workers retrying the same Laravel must not hit it in lockstep.
        return backoff_seconds(attempt, base=self.backoff_base, cap=self.backoff_max, jitter=True)

    @staticmethod
    def _retry_after(value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:  # the HTTP-date form
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None

    def _client_error(self, status: int, body: bytes, endpoint: str | None = None) -> UpstreamInvalid:
        if status in (401, 403):
            hint = "check LARAVEL_API_TOKEN" if self._token else "LARAVEL_API_TOKEN is not set"
            return UpstreamInvalid(
                f"Laravel sales API at {self._where} refused access (HTTP {status}): {hint}"
            )
        if status == 404:
            return UpstreamNotFound(
                f"Laravel sales API at {self._where} not found (HTTP 404): check LARAVEL_API_URL "
                f"and {'LARAVEL_SALES_PATH' if endpoint in (None, self._endpoint) else 'LARAVEL_ITEMS_PATH'}"
            )
        return UpstreamInvalid(
            f"Laravel sales API at {self._where} rejected the request (HTTP {status}): {_snippet(body)}"
        )

    def _decode(self, resp: requests.Response) -> Any:
        body = resp.content
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            pass
        head = body[:200].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html", b"<")):
            what = "an HTML page (a login or error page? check LARAVEL_API_URL and the token)"
        elif not body.strip():
            what = "an empty body"
        else:
            what = f"broken JSON ({len(body)} bytes, truncated or malformed)"
        raise UpstreamInvalid(f"Laravel sales API at {self._where} answered with {what}")
