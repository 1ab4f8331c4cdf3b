"""Every named error of the service, with its stable machine code (docs/api.md §7), in one module.

Every failure the service reports carries one of these codes, and :data:`HTTP_STATUS` is the one
map from code to HTTP status: the web tier answers with it (web/errors.py), the worker stores the
code in FAILURE results that a non-Python reader can parse (``exc_message[0]``). The few errors
that never reach a client (a refused queue message, a failed webhook attempt, a bad model file,
a webhook that does not verify) are here too, so there is one place to look.
"""
from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The stable machine codes of CONTRACT §7 (plus three the contract leaves open): what clients and
    stored FAILURE results carry, so values must never change."""

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
    # Beyond the contract's first list, for answers it left open (docs/api.md §7 lists them all):
    ALREADY_FINISHED = "already_finished"  # 409: DELETE of a job that has already finished
    HISTORY_UNAVAILABLE = "history_unavailable"
    NOT_FINISHED = "not_finished"  # 409 + Retry-After: a finished job's part (its series) asked for too early
    TOO_MANY_STREAMS = "too_many_streams"  # 503: MAX_EVENT_STREAMS live-update streams are open


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
        """The error as a response body: ``code`` and ``message``, plus ``field`` when the error names
        the offending request field."""
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


class LaravelDeadlinePassed(UpstreamUnavailable):
    """LARAVEL_DEADLINE_SECONDS passed with Laravel still not answering: no further attempt or re-run."""


class JobTimeLimit(ForecastError):
    """The job ran past TASK_SOFT_TIME_LIMIT_SECONDS and was stopped (a server-side fault)."""

    code = ErrorCode.INTERNAL_ERROR


class WorkerLost(ForecastError):
    """A grouped chunk's worker process was killed (the kernel's OOM killer) twice: the job ends."""

    code = ErrorCode.INTERNAL_ERROR


class UpstreamInvalid(ForecastError):
    """Laravel answered, but not with sales data (HTML, truncated JSON, wrong shape, looping pages)."""

    code = ErrorCode.UPSTREAM_INVALID


class UpstreamNotFound(UpstreamInvalid):
    """Laravel answered 404: the endpoint is not there (optional ones, like stock, read it as absent)."""


class BrokerUnavailable(ForecastError):
    """Redis (broker or result backend) cannot be reached."""

    code = ErrorCode.BROKER_UNAVAILABLE


class Cancelled(ForecastError):
    """The job was cancelled before it finished."""

    code = ErrorCode.CANCELLED


class MalformedBody(InvalidRequest):
    """The body is not a JSON object at all (wrong content type, bad JSON, not an object): 400,
    where a JSON object with a wrong field is 422. Both are `invalid_request` to clients."""


class AlreadyFinished(ForecastError):
    """A DELETE for a job that has already finished."""

    code = ErrorCode.ALREADY_FINISHED


class NotFinished(ForecastError):
    """What only a finished job has (a grouped job's series) was asked for before it finished."""

    code = ErrorCode.NOT_FINISHED
    retry_after_seconds = 1  # the web answers with this Retry-After: poll again, as for the status


class Unauthorized(ForecastError):
    """Missing or wrong API key."""

    code = ErrorCode.UNAUTHORIZED


class NotFound(ForecastError):
    """No one submitted this task id (or it has expired)."""

    code = ErrorCode.NOT_FOUND


class PayloadTooLarge(ForecastError):
    """The request body is larger than MAX_BODY_BYTES."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class TooManySeries(PayloadTooLarge):
    """A grouped job would have more series than MAX_SERIES: refused while its lines are fetched,
    as soon as they name more groups, or when its panel is built; never halfway through the
    forecasts (docs/api.md §8 and docs/scaling.md give the limit's memory cost)."""


class HistoryUnavailable(ForecastError):
    """The forecast history's database cannot be reached, or timed out (§9); try again later."""

    code = ErrorCode.HISTORY_UNAVAILABLE


class TooManyStreams(ForecastError):
    """This web process holds MAX_EVENT_STREAMS live-update streams already; poll instead."""

    code = ErrorCode.TOO_MANY_STREAMS


# The one map from a named error to its HTTP status: the most specific class in an error's MRO
# decides (so MalformedBody is 400 where any other InvalidRequest is 422).
HTTP_STATUS: dict[type[ForecastError], int] = {
    ForecastError: 500,  # internal_error
    InvalidRequest: 422,
    MalformedBody: 400,
    Unauthorized: 401,
    NotFound: 404,
    PayloadTooLarge: 413,
    InsufficientHistory: 422,
    UpstreamUnavailable: 502,
    UpstreamInvalid: 502,
    BrokerUnavailable: 503,
    Cancelled: 409,
    AlreadyFinished: 409,
    NotFinished: 409,
    HistoryUnavailable: 503,
    TooManyStreams: 503,
}
# The status of a code when all that is known is the code (a failed job's stored result).
_STATUS_BY_CODE: dict[str, int] = {
    str(cls.code): status for cls, status in HTTP_STATUS.items() if cls is not MalformedBody
}


def http_status(error: "ForecastError | str") -> int:
    """The HTTP status of a named error, or of an error code (an unknown code: 500)."""
    if isinstance(error, ForecastError):
        for cls in type(error).__mro__:
            if cls in HTTP_STATUS:
                return HTTP_STATUS[cls]
        return 500
    return _STATUS_BY_CODE.get(str(error), 500)


# ---- errors that never reach a client ------------------------------------------------------


class HistoryRejected(Exception):
    """The history database refused one publication's rows (kept aside, not retried; not reported to clients)."""


class ModelFileRejected(Exception):
    """A stored model file failed its signature check; it is never loaded (not reported to clients)."""


class WebhookVerificationError(Exception):
    """A webhook's headers or signature do not verify (receiver side)."""


class DeliveryFailed(Exception):
    """One webhook delivery attempt failed in a way a later attempt may not (retried with backoff)."""


class RefusalReason(StrEnum):
    """Why the poison guard refused a queue message: the `reason` of a dead-letter entry."""

    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    MALFORMED_ENVELOPE = "malformed_envelope"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    MISSING_DELIVERY_TAG = "missing_delivery_tag"
    MISSING_DELIVERY_INFO = "missing_delivery_info"
    MISSING_TASK_ID = "missing_task_id"
    MALFORMED_HEADERS = "malformed_headers"
    MALFORMED_BODY = "malformed_body"
    UNKNOWN_TASK = "unknown_task"
    ARGUMENTS_MISMATCH = "arguments_mismatch"


class Refused(Exception):
    """A queue message failed the poison guard's checks; it is dead-lettered, never delivered."""

    def __init__(
        self, reason: RefusalReason, detail: str, *, task_id: str | None = None, task: str | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.task_id = task_id
        self.task = task
