"""Named errors with stable machine codes (CONTRACT §7).

Every failure the service reports carries one of these codes. The edges map them in one place:
the web tier to HTTP statuses, the worker to FAILURE results that a non-Python reader can parse.
"""
from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INSUFFICIENT_HISTORY = "insufficient_history"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_INVALID = "upstream_invalid"
    BROKER_UNAVAILABLE = "broker_unavailable"
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"
    HISTORY_UNAVAILABLE = "history_unavailable"


class ForecastError(Exception):
    """Base of every error the service reports with a stable code."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        # args = (code, message): Celery stores a FAILURE's exception args as `exc_message`, so a
        # non-Python reader of the result key finds the stable code at exc_message[0].
        super().__init__(str(self.code), message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # pickling/copying must not feed (code, message) back into __init__
        return (self.__class__, (self.message,), {"field": self.field})

    def to_dict(self) -> dict[str, str]:
        out = {"code": str(self.code), "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class InvalidRequest(ForecastError):
    """The request's parameters are wrong (bad date, horizon out of range, unknown model...)."""

    code = ErrorCode.INVALID_REQUEST


class InsufficientHistory(ForecastError):
    """Fewer complete months of sales than any model needs (3)."""

    code = ErrorCode.INSUFFICIENT_HISTORY


class UpstreamUnavailable(ForecastError):
    """Laravel could not be reached, answered 5xx or timed out, after bounded retries."""

    code = ErrorCode.UPSTREAM_UNAVAILABLE


class UpstreamInvalid(ForecastError):
    """Laravel answered, but not with sales data (HTML, truncated JSON, wrong shape, looping pages)."""

    code = ErrorCode.UPSTREAM_INVALID


class BrokerUnavailable(ForecastError):
    """Redis (broker or result backend) cannot be reached."""

    code = ErrorCode.BROKER_UNAVAILABLE


class Cancelled(ForecastError):
    """The job was cancelled before it finished."""

    code = ErrorCode.CANCELLED


class HistoryUnavailable(ForecastError):
    """The forecast history's database cannot be reached, or timed out (§9); try again later."""

    code = ErrorCode.HISTORY_UNAVAILABLE


class HistoryRejected(Exception):
    """The history database refused one publication's rows (kept aside, not retried; not reported to clients)."""


class ModelFileRejected(Exception):
    """A stored model file failed its signature check; it is never loaded (not reported to clients)."""
