"""Errors to HTTP, in one place (docs/api.md §4, §7).

Routes raise the named errors of ``shared.contract.errors``, whose code decides the status
(``shared.contract.errors.HTTP_STATUS``, the one map); broker and backend outages surface as the client
libraries' own exceptions. Nothing else in ``web/`` catches them:
the handlers registered here turn each into ``{"status": "error", "error": {...}}`` with the
matching status. Anything unexpected is logged with its traceback and answered with a 500 that
says nothing more than ``internal_error``.
"""
from __future__ import annotations

import logging
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery.exceptions import BackendError
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from shared.contract.errors import ErrorCode, ForecastError, http_status

log = logging.getLogger(__name__)

# Exceptions that mean "Redis (broker or result backend) cannot be reached right now".
# redis' ConnectionError covers refused connections, lost ones, busy-loading and auth failures.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica promoted away from under us: transient
    kombu.exceptions.OperationalError,
    BackendError,
    ConnectionError,  # builtin: raised by kombu's transport for a refused socket
    TimeoutError,  # builtin (socket.timeout)
)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The service's error body: ``{"status": "error", "error": {"code", "message"[, "field"]}}``."""
    error: dict[str, Any] = {"code": str(code), "message": message}
    if field:
        error["field"] = field
    return {"status": "error", "error": error}


def error_response(
    code: str, message: str, status: int | None = None, *, field: str | None = None
) -> Response:
    """:func:`error_body` as a JSON response; the status defaults to the code's own
    (:func:`shared.contract.errors.http_status`, 500 for an unknown code)."""
    response = jsonify(error_body(code, message, field))
    response.status_code = status if status is not None else http_status(code)
    return response


# ---- handlers -----------------------------------------------------------------------------


def _forecast_error(exc: ForecastError) -> Response:
    response = error_response(exc.code, exc.message, http_status(exc), field=exc.field)
    retry_after = getattr(exc, "retry_after_seconds", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    elif response.status_code == 503:  # an outage, MAX_EVENT_STREAMS: it passes, come back
        response.headers["Retry-After"] = "5"
    return response


def _broker_error(exc: BaseException) -> Response:
    # The exception text may carry a host and port; it goes to the log, not to the client.
    log.warning("broker/backend unreachable: %s: %s", type(exc).__name__, exc)
    response = error_response(
        ErrorCode.BROKER_UNAVAILABLE, "the job queue is unreachable; try again shortly"
    )
    response.headers["Retry-After"] = "5"
    return response


_HTTP_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.NOT_FOUND,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status) or (
        ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.INVALID_REQUEST
    )
    if status == 413:
        message = "the request body is too large"
    elif status == 404:
        message = "no such resource"
    else:
        message = exc.description or exc.name
    response = error_response(code, message, status)
    # Keep what the exception adds (e.g. the Allow header of a 405), but not its content type.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(ErrorCode.INTERNAL_ERROR, "internal error")


def register_error_handlers(app: Flask) -> None:
    """Register the handlers that turn named errors, broker/backend outages (503 with Retry-After),
    werkzeug HTTP errors and anything unexpected (500, traceback logged) into error bodies."""
    app.register_error_handler(ForecastError, _forecast_error)
    for exc_type in BROKER_ERRORS:
        app.register_error_handler(exc_type, _broker_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
