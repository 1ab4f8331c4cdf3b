"""POST/GET/DELETE /api/v1/forecasts (CONTRACT §4), and the job service the routes adapt.

The routes are thin: parse, call :class:`ForecastService`, shape the answer. Errors are raised as
named types and mapped to HTTP in ``web.errors``; broker outages propagate as the client
libraries' exceptions and become 503 there.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import redis
from celery import Celery
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from shared import clock
from shared.config import Settings
from shared.errors import BrokerUnavailable, ErrorCode, InvalidRequest
from shared.jobs import JobStore, body_hash
from shared.logs import bind
from shared.schema import ForecastRequest, Submitted, TaskStatus
from shared.status import TERMINAL, JobStatus, build_status, celery_state, failure_error, is_terminal, job_status
from shared.webhooks import check_callback_url
from web.errors import BROKER_ERRORS, AlreadyFinished, MalformedBody, NotFound
from web.finished import FinishedBodies
from web.metrics import WebMetrics
from worker.celery_app import FORECAST_TASK  # the task's name only: its code is never imported

log = logging.getLogger(__name__)

EXTENSION_KEY = "sales_forecast"
MAX_TASK_ID_LENGTH = 255
IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as HTTP tokens go
# Control characters (other than none at all) and lone surrogates have no business in any field:
# they would travel on to Laravel in URLs and to webhook targets.
_BAD_CHARS_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
POLL_INTERVAL_SECONDS = 0.1

bp = Blueprint("forecasts", __name__, url_prefix="/api/v1/forecasts")


@dataclass
class Submission:
    task_id: str
    outcome: str  # created | joined | replayed


class ForecastService:
    """Submitting, reading and cancelling jobs: JobStore records + Celery messages and metas."""

    def __init__(
        self,
        settings: Settings,
        celery_app: Celery,
        client: redis.Redis,
        metrics: WebMetrics,
    ) -> None:
        self.settings = settings
        self.celery = celery_app
        self.redis = client
        self.jobs = JobStore(client, ttl_seconds=settings.result_ttl_seconds)
        self.metrics = metrics
        self.tz = ZoneInfo(settings.sales_timezone)
        self.finished = FinishedBodies(ttl_seconds=settings.result_ttl_seconds)

    # -- reading Celery's result meta -------------------------------------------------------
    def today(self) -> date:
        return clock.today(self.settings.sales_timezone)

    def read_meta(self, task_id: str) -> dict[str, Any] | None:
        """The raw meta under ``celery-task-meta-<id>``, decoded as JSON, or None if absent."""
        backend = self.celery.backend
        key_for = getattr(backend, "get_key_for_task", None)
        if key_for is None:  # not a key-value backend: ask it, and treat a bare PENDING as absent
            meta = backend.get_task_meta(task_id, cache=False)
            if meta.get("status") == "PENDING" and meta.get("result") is None:
                return None
            return dict(meta)
        raw = backend.get(key_for(task_id))
        if raw is None:
            return None
        try:
            meta = json.loads(raw, object_hook=_plain_json)
        except (ValueError, UnicodeDecodeError):
            meta = None
        if not isinstance(meta, dict):
            log.warning("task %s: result meta is not a JSON object; reported as failed", task_id)
            return {"status": "FAILURE", "result": None}
        return meta

    # -- submitting -------------------------------------------------------------------------
    def submit(
        self,
        req: ForecastRequest,
        *,
        idempotency_key: str | None = None,
        body_digest: str | None = None,
    ) -> Submission:
        # A callback outside CALLBACK_ALLOWED_HOSTS is the client's mistake: 422 now, not a failed job.
        check_callback_url(req.callback_url, self.settings.effective_callback_hosts)
        req = req.resolved(self.today())
        kwargs = req.model_dump(mode="json")
        params_key = req.params_key()
        new_id = str(uuid.uuid4())

        if idempotency_key is not None:
            held = self.jobs.claim_idempotency(idempotency_key, body_digest or "", new_id)
            if held is not None:
                digest, held_id = held
                if digest != body_digest:
                    raise InvalidRequest(
                        "this Idempotency-Key was already used with another body",
                        field="Idempotency-Key",
                    )
                if self._never_queued(held_id):
                    # The first attempt answered 503 (broker down) and the client retries with
                    # its key, as it should: queue the job it was promised, under the same id.
                    self.celery.backend.forget(held_id)
                    self.jobs.record(held_id, kwargs)
                    self._dispatch(held_id, kwargs, params_key)
                    self.metrics.jobs_submitted.labels("created").inc()
                    return Submission(held_id, "created")
                self.metrics.jobs_submitted.labels("replayed").inc()
                return Submission(held_id, "replayed")
            # The key now names new_id, so this request cannot join another job: it gets its own,
            # which later identical requests (without a key) join.
            self.jobs.claim_inflight(params_key, new_id, kwargs, replace=True)
        elif req.refresh:
            self.jobs.claim_inflight(params_key, new_id, kwargs, replace=True)
        else:
            existing = self.jobs.claim_inflight(params_key, new_id, kwargs)
            if existing is not None:
                if self._joinable(existing):
                    self.metrics.jobs_submitted.labels("joined").inc()
                    return Submission(existing, "joined")
                self.jobs.claim_inflight(params_key, new_id, kwargs, replace=True)

        self._dispatch(new_id, kwargs, params_key)
        self.metrics.jobs_submitted.labels("created").inc()
        return Submission(new_id, "created")

    def _joinable(self, task_id: str) -> bool:
        """An in-flight job that identical requests may join: known, unfinished, not cancelled."""
        if self.jobs.is_cancelled(task_id):
            return False
        meta = self.read_meta(task_id)
        if meta is not None:
            return not is_terminal(meta)
        # Queued, not started: the claim recorded it with the marker (a record gone means a
        # stale marker, which is taken over).
        return self.jobs.get(task_id) is not None

    def _never_queued(self, task_id: str) -> bool:
        meta = self.read_meta(task_id)
        return job_status(meta) == JobStatus.FAILURE and failure_error(meta)[0] == ErrorCode.BROKER_UNAVAILABLE

    def _dispatch(self, task_id: str, kwargs: dict[str, Any], params_key: str) -> None:
        # The job is recorded before this (with its in-flight marker): a worker may finish
        # before send_task returns, and the id must be known by then.
        try:
            self.celery.send_task(
                FORECAST_TASK,
                kwargs=kwargs,
                task_id=task_id,
                queue=self.settings.forecast_queue,
            )
        except BROKER_ERRORS:
            self._mark_undispatched(task_id, params_key)
            raise

    def _mark_undispatched(self, task_id: str, params_key: str) -> None:
        """The message never left: say so in the task's result, so no one waits on it forever."""
        try:
            self.redis.ping()  # only when Redis answers: else this would just wait on it again
            self.jobs.clear_inflight(params_key, task_id)
            self.celery.backend.store_result(
                task_id, BrokerUnavailable("the job could not be queued"), "FAILURE"
            )
        except Exception:  # noqa: BLE001 - best effort on the way to a 503
            log.warning("task %s: could not mark the undispatched job as failed", task_id)

    # -- reading and cancelling -------------------------------------------------------------
    def _known(self, task_id: str) -> tuple[Any, dict[str, Any] | None]:
        if not task_id or len(task_id) > MAX_TASK_ID_LENGTH:
            raise NotFound("no job with this id")
        record = self.jobs.get(task_id)
        meta = self.read_meta(task_id)
        if record is None and meta is None:
            raise NotFound("no job with this id")
        return record, meta

    def status(self, task_id: str) -> TaskStatus:
        record, meta = self._known(task_id)
        return self._document(task_id, meta, record.submitted_at if record else None)

    def _document(self, task_id: str, meta: Mapping[str, Any] | None, submitted_at: float | None) -> TaskStatus:
        doc = build_status(task_id, meta, submitted_at=submitted_at)
        if doc.status in TERMINAL:
            self._count_finished(doc)
        return doc

    def _count_finished(self, doc: TaskStatus) -> None:
        # Once per job across all web processes: the first to see it terminal counts it.
        marker = f"{self.jobs.prefix}:web:finished:{doc.task_id}"
        if self.redis.set(marker, "1", nx=True, ex=self.settings.result_ttl_seconds):
            code = doc.error.code if doc.error else ""
            self.metrics.jobs_finished.labels(doc.status, code).inc()

    def cancel(self, task_id: str) -> TaskStatus:
        record, meta = self._known(task_id)
        if is_terminal(meta):
            raise AlreadyFinished("the job has already finished")
        # The worker checks this flag between stages; revoke() stops a message not yet started
        # on workers that are up now (no terminate: a half-written result helps no one).
        self.jobs.request_cancel(task_id)
        self.celery.control.revoke(task_id)
        if celery_state(meta) == "PENDING":
            # Not started: it is cancelled now, whether or not a worker ever sees the message.
            self.celery.backend.store_result(task_id, None, "REVOKED")
        if record is not None:
            try:
                params_key = ForecastRequest.parse(record.params).params_key()
            except InvalidRequest:
                params_key = None
            if params_key:
                self.jobs.clear_inflight(params_key, task_id)
        return self.status(task_id)

    def wait(self, task_id: str, timeout: float) -> TaskStatus | None:
        """The job's status once terminal, polling every ~100 ms; None if ``timeout`` passes first."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            meta = self.read_meta(task_id)
            if is_terminal(meta):
                record = self.jobs.get(task_id)
                return self._document(task_id, meta, record.submitted_at if record else None)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(POLL_INTERVAL_SECONDS, remaining))


def _plain_json(obj: dict[str, Any]) -> Any:
    """kombu's JSON wraps some types as {"__type__", "__value__"}: keep just the JSON value."""
    if len(obj) == 2 and "__type__" in obj and "__value__" in obj:
        return obj["__value__"]
    return obj


def service() -> ForecastService:
    return current_app.extensions[EXTENSION_KEY]


# ---- request parsing ----------------------------------------------------------------------


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("non-finite number")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json_body() -> Any:
    """The request body as parsed JSON; an empty body means "all defaults" ({})."""
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH applies: 413 past it
    if not raw.strip():
        return {}
    if not request.is_json:
        raise MalformedBody("the body must be JSON (Content-Type: application/json)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the body is not valid UTF-8") from None
    try:
        return json.loads(text, parse_float=_finite_float, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise MalformedBody("the body is not valid JSON") from None


def parse_request(data: Any) -> ForecastRequest:
    """Validate like the worker does, plus: no control characters in any string field."""
    if not isinstance(data, dict):  # an empty body was read as {}; JSON null is not an object
        raise MalformedBody("the body must be a JSON object")
    req = ForecastRequest.parse(data)
    for name, value in req.model_dump().items():
        if isinstance(value, str) and _BAD_CHARS_RE.search(value):
            raise InvalidRequest(f"{name}: control characters are not allowed", field=name)
    return req


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1-255 visible ASCII characters", field="Idempotency-Key"
        )
    return key


def status_url(task_id: str) -> str:
    return url_for("forecasts.get_forecast", task_id=task_id)


def submitted_response(task_id: str) -> Response:
    url = status_url(task_id)
    response = jsonify(Submitted(task_id=task_id, status_url=url).model_dump(mode="json"))
    response.status_code = 202
    response.headers["Location"] = url
    response.headers["Retry-After"] = "1"
    return response


def status_response(doc: TaskStatus, status: int = 200) -> Response:
    body = doc.model_dump(mode="json")
    if body["error"] and body["error"].get("field") is None:
        body["error"].pop("field", None)  # errors carry `field` only when there is one
    response = jsonify(body)
    response.status_code = status
    if doc.status not in TERMINAL:
        response.headers["Retry-After"] = "1"
    return response


# ---- routes -------------------------------------------------------------------------------


@bp.post("")
def submit_forecast() -> Response:
    data = read_json_body()
    req = parse_request(data)
    key = idempotency_key()
    submission = service().submit(
        req, idempotency_key=key, body_digest=body_hash(data) if key is not None else None
    )
    bind(task_id=submission.task_id)  # the access line names the task (reset after the request)
    return submitted_response(submission.task_id)


@bp.get("/<task_id>")
def get_forecast(task_id: str) -> Response:
    forecasts = service()
    body = forecasts.finished.get(task_id)
    if body is not None:
        return Response(body, mimetype="application/json")
    doc = forecasts.status(task_id)
    response = status_response(doc)
    if doc.status in TERMINAL:
        forecasts.finished.put(task_id, response.get_data())
    return response


@bp.delete("/<task_id>")
def cancel_forecast(task_id: str) -> Response:
    return status_response(service().cancel(task_id), 202)
