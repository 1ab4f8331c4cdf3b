"""The job service: submitting, joining, reading and cancelling forecast jobs.

Routes (web/api.py, web/legacy.py, web/dashboard.py) call :class:`ForecastService`; it keeps the
service's own job records (shared.stores.jobs.JobStore: ids, idempotency keys, in-flight markers, cancel
flags), sends `forecast.sales` by name, and reads Celery's stored meta through shared.contract.status,
the one reader of that format. Broker outages propagate as the client libraries' exceptions and
become 503 in web/errors.py.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import redis
from celery import Celery

from shared.contract import clock
from shared.contract.config import Settings
from shared.contract.errors import AlreadyFinished, BrokerUnavailable, ErrorCode, InvalidRequest, NotFound
from shared.contract.protocol import FORECAST_TASK, CeleryState
from shared.contract.schema import (
    TERMINAL,
    ForecastRequest,
    JobStatus,
    SubmissionOutcome,
    TaskStatus,
)
from shared.contract.status import build_status, failure_error, grouped_progress, is_terminal, job_status, read_meta
from shared.stores.events import EventStore
from shared.stores.grouped_store import GroupedStore
from shared.stores.jobs import JobStore
from web.errors import BROKER_ERRORS
from web.finished import FinishedBodies
from web.metrics import WebMetrics

log = logging.getLogger(__name__)

MAX_TASK_ID_LENGTH = 255
POLL_INTERVAL_SECONDS = 0.1
# Behind Sentinel, a 202 waits (this long at most) until the job is on the replica too: Redis
# replicates asynchronously, and a master that dies just after taking a job would take it along.
REPLICA_WAIT_MS = 200
# After a wait that timed out (no replica: it is down, or a failover left the new master alone),
# submissions stop waiting for this long rather than each paying REPLICA_WAIT_MS.
NO_REPLICA_BACKOFF_SECONDS = 10.0


@dataclass
class Submission:
    """What a submission came to: the job's task id, and whether it was created, joined or replayed."""

    task_id: str
    outcome: SubmissionOutcome


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
        self.grouped = GroupedStore(client, ttl_seconds=settings.result_ttl_seconds)
        self.events = EventStore(client, ttl_seconds=settings.result_ttl_seconds)
        self._no_replica_until = float("-inf")

    def today(self) -> date:
        """Today's date in SALES_TIMEZONE, through shared.clock (tests can move it)."""
        return clock.today(self.settings.sales_timezone)

    def read_meta(self, task_id: str) -> dict[str, Any] | None:
        """The raw meta under ``celery-task-meta-<id>`` (shared.contract.status, the one reader)."""
        return read_meta(self.celery.backend, task_id)

    # -- submitting -------------------------------------------------------------------------
    def submit(
        self,
        req: ForecastRequest,
        *,
        idempotency_key: str | None = None,
        body_digest: str | None = None,
    ) -> Submission:
        """Queue ``req`` (parsed and checked where it entered), or join or replay a job for it."""
        req = req.resolved(self.today(), self.settings.holiday_country)
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
                    self.metrics.jobs_submitted.labels(SubmissionOutcome.CREATED).inc()
                    return Submission(held_id, SubmissionOutcome.CREATED)
                self.metrics.jobs_submitted.labels(SubmissionOutcome.REPLAYED).inc()
                return Submission(held_id, SubmissionOutcome.REPLAYED)
            # The key now names new_id, so this request cannot join another job: it gets its own,
            # which later identical requests (without a key) join.
            self.jobs.claim_inflight(params_key, new_id, kwargs, replace=True)
        elif req.refresh:
            self.jobs.claim_inflight(params_key, new_id, kwargs, replace=True)
        else:
            existing = self.jobs.claim_inflight(params_key, new_id, kwargs)
            if existing is not None:
                if self._joinable(existing):
                    self.metrics.jobs_submitted.labels(SubmissionOutcome.JOINED).inc()
                    return Submission(existing, SubmissionOutcome.JOINED)
                self.jobs.claim_inflight(params_key, new_id, kwargs, replace=True)

        self._dispatch(new_id, kwargs, params_key)
        self.metrics.jobs_submitted.labels(SubmissionOutcome.CREATED).inc()
        return Submission(new_id, SubmissionOutcome.CREATED)

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
        if self.settings.redis_sentinels:
            self._await_replica(task_id)

    def _await_replica(self, task_id: str) -> None:
        """Best effort: the job is queued on the master whatever happens here, so it is accepted."""
        if time.monotonic() < self._no_replica_until:
            return
        try:
            copies = self.jobs.await_replicas(1, REPLICA_WAIT_MS)
        except (*BROKER_ERRORS, redis.exceptions.RedisError) as exc:
            # Any Redis answer here (mid-failover a node may refuse WAIT as a replica) leaves the
            # job as it is: queued on the master, accepted.
            log.warning("task %s: queued, but not confirmed on a replica (%s)", task_id, type(exc).__name__)
            return
        if copies < 1:
            self._no_replica_until = time.monotonic() + NO_REPLICA_BACKOFF_SECONDS
            log.warning(
                "task %s: no Redis replica confirmed it within %d ms; jobs are accepted on the master "
                "alone for %.0f s", task_id, REPLICA_WAIT_MS, NO_REPLICA_BACKOFF_SECONDS,
            )

    def _mark_undispatched(self, task_id: str, params_key: str) -> None:
        """The message never left: say so in the task's result, so no one waits on it forever."""
        try:
            self.redis.ping()  # only when Redis answers: else this would just wait on it again
            self.jobs.clear_inflight(params_key, task_id)
            self.celery.backend.store_result(
                task_id, BrokerUnavailable("the job could not be queued"), CeleryState.FAILURE
            )
        except Exception:
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
        """The status document of ``task_id`` (404 for an id no one submitted); REVOKED once a cancel was
        accepted, whatever a worker wrote after it."""
        record, meta = self._known(task_id)
        if job_status(meta) != JobStatus.REVOKED and self.jobs.is_cancelled(task_id):
            # A cancel once accepted is final: whatever a worker still wrote (a progress report
            # racing the cancel, a result it finished as the cancel came) reads as REVOKED.
            meta = {**(meta or {}), "status": CeleryState.REVOKED, "result": None}
        return self._document(task_id, meta, record.submitted_at if record else None)

    def _document(self, task_id: str, meta: Mapping[str, Any] | None, submitted_at: float | None) -> TaskStatus:
        doc = build_status(task_id, meta, submitted_at=submitted_at)
        if doc.status in TERMINAL:
            self._count_finished(doc)
        elif doc.status == JobStatus.PROGRESS:
            self._grouped_progress(task_id, doc)
        return doc

    def _grouped_progress(self, task_id: str, doc: TaskStatus) -> None:
        """A grouped job's chunks run on many workers: its progress is counted in Redis
        (shared.stores.grouped_store), series by series, between the fan-out and the fan-in."""
        counted = self.grouped.progress(task_id)
        if counted is None:
            return
        counts = grouped_progress(*counted)
        doc.progress.percent = counts.percent
        doc.progress.series_done, doc.progress.series_total = counts.series_done, counts.series_total

    def _count_finished(self, doc: TaskStatus) -> None:
        # Once per job across all web processes: the first to see it terminal counts it.
        marker = f"{self.jobs.prefix}:web:finished:{doc.task_id}"
        if self.redis.set(marker, "1", nx=True, ex=self.settings.result_ttl_seconds):
            code = doc.error.code if doc.error else ""
            self.metrics.jobs_finished.labels(doc.status, code).inc()

    def cancel(self, task_id: str) -> TaskStatus:
        """Cancel ``task_id`` for good: it reads REVOKED from now on; AlreadyFinished (409) for a job already final."""
        record, meta = self._known(task_id)
        if is_terminal(meta):
            raise AlreadyFinished("the job has already finished")
        # The cancel is final once accepted: the job reads REVOKED from now on (also in the result
        # key Laravel reads). A running job's worker sees the flag at its next page, retry,
        # back-off or stage, stops, and drops what it computed; revoke() stops a message not
        # yet started on workers that are up now (no terminate: a half-written result helps
        # no one).
        self.jobs.request_cancel(task_id)
        self.celery.control.revoke(task_id)
        self.celery.backend.store_result(task_id, None, CeleryState.REVOKED)
        self.events.publish_status(task_id, JobStatus.REVOKED)  # live updates (web/events.py)
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
