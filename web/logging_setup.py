"""JSON log lines for the web tier, each carrying the request id, and the task id where known.

``create_app`` calls :func:`init_logging` once. It

- sends the root logger's records (the app's own lines) to stderr as JSON lines;
- gives gunicorn's error and access loggers the same formatter: gunicorn configures them before
  it loads the app, and they do not propagate, so the app can only reformat them. An access line
  becomes ``{"message": "GET /api/v1/forecasts/<id> 200", "http": {...}, "request_id", "task_id"}``;
- wraps the WSGI app so that every request has an id: the client's ``X-Request-ID`` when it is a
  sane token, else a new one, echoed in the response's ``X-Request-ID`` header;
- binds the task id for routes that take one (``<task_id>`` in the URL rule); a route that
  creates a task binds it with ``shared.contract.logs.bind(task_id=...)``, so the access line has it too.

Query strings are logged with secret-looking values masked (``?api_key=***``); the
``Authorization`` and ``X-API-Key`` headers are never logged.
"""
from __future__ import annotations

import logging
import re
import uuid
from typing import Any, Callable, Iterable

from flask import Flask, request

from shared.contract.logs import ContextFilter, JsonFormatter, bind, configure_json_logging, secrets_of, unbind

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it is a short token: it goes into every line of the request.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")


class WebJsonFormatter(JsonFormatter):
    """The web tier's JSON formatter: gunicorn's access lines become a short message plus a structured
    ``http`` object (method, path, masked query, status, bytes, duration, client), instead of the
    Apache-style line with the raw query string."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """For a gunicorn access record, the replacement ``message``, the ``http`` fields (``-`` and
        empty values dropped; duration in ms from gunicorn's microseconds) and, if the context was
        already left, the echoed request id; nothing for any other record."""
        atoms = record.args
        if record.name != "gunicorn.access" or not isinstance(atoms, dict):
            return {}
        # gunicorn logs access lines with its atoms as the args: structure them rather than
        # print its Apache-style line (which also carries the raw query string).
        query = atoms.get("q") or ""
        path = atoms.get("U") or ""
        http = {
            "method": atoms.get("m"),
            "path": path,
            "query": query or None,
            "status": _int(atoms.get("s")),
            "bytes": _int(atoms.get("B")),
            "duration_ms": round(_int(atoms.get("D")) / 1000, 3) if _int(atoms.get("D")) is not None else None,
            "remote_addr": atoms.get("h"),
            "user_agent": atoms.get("a"),
        }
        out: dict[str, Any] = {
            "message": f"{atoms.get('m')} {path}{'?' + query if query else ''} {atoms.get('s')}",
            "http": {k: v for k, v in http.items() if v not in (None, "", "-")},
        }
        # the id this middleware put on the response, should the context have been left
        echoed = atoms.get("{x-request-id}o")
        if echoed and echoed != "-" and not getattr(record, "request_id", None):
            out["request_id"] = echoed
        return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class RequestIdMiddleware:
    """Binds a request id (and clears the task id) for the whole of each WSGI request.

    The ids stay bound until the response is closed, which gunicorn does after it writes the
    access line: so that line carries them too.
    """

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Run the app with the request id bound (the client's ``X-Request-ID`` if a sane token, else a
        new hex id) and added to the response headers unless the app set one; the ids are unbound
        when the response is closed, so gunicorn's access line still carries them."""
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if _CLIENT_REQUEST_ID.match(offered) else uuid.uuid4().hex
        environ["sales_forecast.request_id"] = request_id
        tokens = bind(request_id=request_id, task_id=None)

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if not any(name.lower() == REQUEST_ID_HEADER.lower() for name, _ in headers):
                headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            unbind(tokens)
            raise
        return _ClosingIterable(body, lambda: _safe_unbind(tokens))


def _safe_unbind(tokens: dict) -> None:
    try:
        unbind(tokens)
    except ValueError:  # closed from another context than the one that bound: just clear
        bind(request_id=None, task_id=None)


class _ClosingIterable:
    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self.body = body
        self.on_close = on_close

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.on_close()


def _bind_route_task_id() -> None:
    task_id = (request.view_args or {}).get("task_id")
    if task_id:
        bind(task_id=str(task_id))


def init_logging(app: Flask, settings: Any = None, level: int | str = logging.INFO) -> None:
    """JSON lines for the app and gunicorn; request and task ids on every line (idempotent)."""
    secrets = secrets_of(settings) if settings is not None else ()
    configure_json_logging(level, formatter=WebJsonFormatter(secrets))
    for name in _GUNICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(WebJsonFormatter(secrets))
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())
    # Flask gives app.logger a plain handler when it finds none: with ours on the root logger,
    # that would print each of the app's lines twice, once not as JSON.
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)
    if not isinstance(app.wsgi_app, RequestIdMiddleware):
        app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
        app.before_request(_bind_route_task_id)
