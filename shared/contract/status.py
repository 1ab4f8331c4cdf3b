"""Celery's stored task meta: read in one place, and mapped to the status document (docs/api.md §4).

:func:`read_meta` is the one reader of the raw meta under ``celery-task-meta-<id>`` (decoded
JSON, never unpickled, exceptions never reconstructed): the web tier, the webhooks and the poison
guard all ask it. The other functions are pure mappings of that meta.
A FAILURE stored from a ``shared.contract.errors`` exception carries
``{"exc_type", "exc_message": [code, message], "exc_module"}``; its code is kept as is.
Anything else (WorkerLostError, TimeLimitExceeded, a bug) is reported as ``internal_error`` with
a short message, never a traceback.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol

from shared.contract.errors import ErrorCode
from shared.contract.protocol import CeleryState
from shared.contract.schema import (
    GROUPED_FORECASTING_PERCENT,
    TERMINAL,
    ErrorBody,
    JobStatus,
    Progress,
    Stage,
    TaskStatus,
)

log = logging.getLogger(__name__)

__all__ = ["TERMINAL", "JobStatus", "read_meta", "decode_meta", "build_status", "celery_state",
           "job_status", "is_terminal", "failure_error", "progress_of", "parse_time", "grouped_progress"]


class ResultBackend(Protocol):
    """What :func:`read_meta` needs of a Celery result backend (duck-typed: no Celery import)."""

    def get_task_meta(self, task_id: str, cache: bool = ...) -> Mapping[str, Any]: ...


def _plain_json(obj: dict[str, Any]) -> Any:
    """kombu's JSON wraps some types as {"__type__", "__value__"}: keep just the JSON value."""
    if len(obj) == 2 and "__type__" in obj and "__value__" in obj:
        return obj["__value__"]
    return obj


def decode_meta(raw: bytes | str | None, task_id: str = "?") -> dict[str, Any] | None:
    """A stored meta blob as a dict; None when absent; a FAILURE when it is not a JSON object."""
    if raw is None:
        return None
    try:
        meta = json.loads(raw, object_hook=_plain_json)
    except (ValueError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict):
        log.warning("task %s: result meta is not a JSON object; reported as failed", task_id)
        return {"status": str(CeleryState.FAILURE), "result": None}
    return meta


def read_meta(backend: Any, task_id: str) -> dict[str, Any] | None:
    """The raw meta of ``task_id`` as the backend stores it, or None if there is none."""
    key_for = getattr(backend, "get_key_for_task", None)
    if key_for is None:  # not a key-value backend: ask it, and treat a bare PENDING as absent
        meta = backend.get_task_meta(task_id, cache=False)
        if meta.get("status") == CeleryState.PENDING and meta.get("result") is None:
            return None
        return dict(meta)
    return decode_meta(backend.get(key_for(task_id)), task_id)


# Celery states that mean the job will not run (further) but are not in READY_STATES.
_FAILED_OTHERWISE = {
    CeleryState.REJECTED: "the job's message was rejected by the worker",
    CeleryState.IGNORED: "the job was not run",
}

# Short, stable explanations for failures that are not one of ours (no traceback ever leaves).
_KNOWN_FOREIGN_FAILURES = {
    "WorkerLostError": "the worker running the job was lost",
    "TimeLimitExceeded": "the job ran out of time",
    "SoftTimeLimitExceeded": "the job ran out of time",
    "TaskRevokedError": "the job was cancelled",
    "NotRegistered": "the worker does not know this task",
}

_KNOWN_CODES = {code.value for code in ErrorCode}


def celery_state(meta: Mapping[str, Any] | None) -> str:
    """The raw Celery state in ``meta``; PENDING when there is none (not yet picked up)."""
    if not meta:
        return CeleryState.PENDING
    return str(meta.get("status") or CeleryState.PENDING)


def job_status(meta: Mapping[str, Any] | None) -> JobStatus:
    """The status-document state for a raw meta."""
    state = celery_state(meta)
    if state in (CeleryState.PENDING, CeleryState.RECEIVED):
        return JobStatus.PENDING
    if state == CeleryState.STARTED:
        return JobStatus.STARTED
    if state == CeleryState.SUCCESS:
        return JobStatus.SUCCESS
    if state == CeleryState.REVOKED:
        return JobStatus.REVOKED
    if state == CeleryState.FAILURE:
        # A job that stopped at its cancel flag fails with `cancelled`: to the client who sent
        # DELETE that is the same outcome as a revoke before it started.
        code, _ = failure_error(meta)
        return JobStatus.REVOKED if code == ErrorCode.CANCELLED else JobStatus.FAILURE
    if state in _FAILED_OTHERWISE:
        return JobStatus.FAILURE
    # PROGRESS, RETRY, and any custom state a worker reports on its way.
    return JobStatus.PROGRESS


def is_terminal(meta: Mapping[str, Any] | None) -> bool:
    """True when the stored meta is a final state (SUCCESS, FAILURE or REVOKED): nothing changes it any more."""
    return job_status(meta) in TERMINAL


def failure_error(meta: Mapping[str, Any] | None) -> tuple[str, str]:
    """(code, message) of a FAILURE meta, never exposing a traceback."""
    result = (meta or {}).get("result")
    if isinstance(result, Mapping):
        args = result.get("exc_message")
        if (
            isinstance(args, (list, tuple))
            and len(args) >= 2
            and args[0] in _KNOWN_CODES
            and isinstance(args[1], str)
        ):
            return str(args[0]), args[1][:1000]
        exc_type = result.get("exc_type")
        if isinstance(exc_type, str) and exc_type in _KNOWN_FOREIGN_FAILURES:
            code = ErrorCode.CANCELLED if exc_type == "TaskRevokedError" else ErrorCode.INTERNAL_ERROR
            return str(code), _KNOWN_FOREIGN_FAILURES[exc_type]
    return str(ErrorCode.INTERNAL_ERROR), "the job failed unexpectedly"


def progress_of(meta: Mapping[str, Any] | None) -> Progress:
    """The stage and percent a status document shows for a stored meta: fixed ones for queued, started,
    retrying and final jobs, else what the running job last reported (stage cut to 64 characters,
    percent clamped to 0-100)."""
    state = celery_state(meta)
    status = job_status(meta)
    if status == JobStatus.PENDING:
        return Progress(stage=Stage.QUEUED, percent=0)
    if status == JobStatus.STARTED:
        return Progress(stage=Stage.STARTED, percent=0)
    if status == JobStatus.SUCCESS:
        return Progress(stage=Stage.DONE, percent=100)
    if status == JobStatus.REVOKED:
        return Progress(stage=Stage.CANCELLED, percent=100)
    if status == JobStatus.FAILURE:
        return Progress(stage=Stage.FAILED, percent=100)
    if state == CeleryState.RETRY:
        return Progress(stage=Stage.RETRYING, percent=0)
    result = (meta or {}).get("result")
    stage = state.lower()
    percent = 0
    if isinstance(result, Mapping):
        if isinstance(result.get("stage"), str) and result["stage"]:
            stage = result["stage"][:64]
        raw = result.get("percent")
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw == raw:
            percent = int(min(max(raw, 0), 100))
    return Progress(stage=stage, percent=percent)


def grouped_progress(done: int, total: int) -> Progress:
    """A grouped job's progress between its fan-out and its fan-in, from the series done so far
    (counted in Redis over all the workers): what the status document and the live events say."""
    low, high = GROUPED_FORECASTING_PERCENT
    percent = low + ((high - low) * done // total if total else high - low)
    return Progress(stage=Stage.TRAINING, percent=percent, series_done=done, series_total=total)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as Celery or JobStore writes it (naive means UTC), or epoch seconds."""
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def build_status(
    task_id: str,
    meta: Mapping[str, Any] | None,
    *,
    submitted_at: float | datetime | None = None,
) -> TaskStatus:
    """The status document for ``task_id`` from its raw meta (None: not picked up yet)."""
    status = job_status(meta)
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None
    finished_at: datetime | None = None
    if status in TERMINAL:
        finished_at = parse_time((meta or {}).get("date_done"))
    if status == JobStatus.SUCCESS:
        raw = (meta or {}).get("result")
        if isinstance(raw, dict):
            result = raw
        else:  # a worker returned something that is not a document: a bug, not the client's
            status = JobStatus.FAILURE
            error = ErrorBody(code=ErrorCode.INTERNAL_ERROR, message="the job returned no document")
    elif status == JobStatus.FAILURE:
        state = celery_state(meta)
        if state in _FAILED_OTHERWISE:
            error = ErrorBody(code=ErrorCode.INTERNAL_ERROR, message=_FAILED_OTHERWISE[state])
        else:
            code, message = failure_error(meta)
            error = ErrorBody(code=code, message=message)
    elif status == JobStatus.REVOKED:
        error = ErrorBody(code=ErrorCode.CANCELLED, message="the job was cancelled")
    progress = Progress(stage=Stage.FAILED, percent=100) if status == JobStatus.FAILURE else progress_of(meta)
    return TaskStatus(
        task_id=task_id,
        status=status,
        progress=progress,
        submitted_at=parse_time(submitted_at),
        finished_at=finished_at,
        result=result,
        error=error,
    )
