"""The status document (docs/api.md §4): a job's state, stage and progress; submission and error answers."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    """The states the status document reports (a subset of Celery's, plus PROGRESS)."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"


TERMINAL = frozenset({JobStatus.SUCCESS, JobStatus.FAILURE, JobStatus.REVOKED})


class Stage(StrEnum):
    """``progress.stage``: the pipeline's stages in order, and the states around them."""

    QUEUED = "queued"
    STARTED = "started"
    RETRYING = "retrying"
    FETCHING = "fetching"
    AGGREGATING = "aggregating"
    TRAINING = "training"
    BACKTESTING = "backtesting"
    PREDICTING = "predicting"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Where each stage starts, in percent of the job; fetching fills 5..40 page by page.
STAGE_PERCENT: dict[Stage, int] = {
    Stage.QUEUED: 0,
    Stage.FETCHING: 5,
    Stage.AGGREGATING: 40,
    Stage.TRAINING: 50,
    Stage.BACKTESTING: 65,
    Stage.PREDICTING: 90,
    Stage.DONE: 100,
}
# A grouped job's chunks fill this range as series are done; the fan-in takes the rest.
GROUPED_FORECASTING_PERCENT = (STAGE_PERCENT[Stage.TRAINING], 95)


class SubmissionOutcome(StrEnum):
    """What POST /api/v1/forecasts did with a request (the `outcome` label of the jobs metric)."""

    CREATED = "created"  # a new job was queued
    JOINED = "joined"  # an identical job was in flight: the request joined it
    REPLAYED = "replayed"  # the Idempotency-Key named a job already: the same answer again


class Progress(BaseModel):
    """``progress``: the stage and how far the job is, in percent."""

    stage: str
    percent: int
    # Grouped jobs only (docs/api.md §8): their progress counts series, over all the workers.
    series_done: int | None = Field(None, exclude_if=lambda v: v is None)
    series_total: int | None = Field(None, exclude_if=lambda v: v is None)


class ErrorBody(BaseModel):
    """``error``: a stable code, a message, and the offending field when there is one."""

    code: str
    message: str
    field: str | None = None


class TaskStatus(BaseModel):
    """The status document of GET /api/v1/forecasts/{id} and the webhooks (docs/api.md §4)."""

    task_id: str
    status: JobStatus
    progress: Progress
    submitted_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: ErrorBody | None
    # The job's live-update stream (Server-Sent Events), with its token: set by the web tier.
    events_url: str | None = Field(None, exclude_if=lambda v: v is None)


    def to_json_dict(self) -> dict[str, Any]:
        """The document as GET /api/v1/forecasts/{id} and the webhooks send it."""
        body = self.model_dump(mode="json")
        if body["error"] and body["error"].get("field") is None:
            body["error"].pop("field", None)  # errors carry `field` only when there is one
        return body


class Submitted(BaseModel):
    """The 202 answer to a submission: the job's id and where to follow it."""

    task_id: str
    status: Literal["PENDING"] = "PENDING"
    status_url: str
    events_url: str  # the job's live-update stream (Server-Sent Events), with its token


class ErrorDocument(BaseModel):
    """An error answer: ``{"status": "error", "error": {...}}``."""

    status: Literal["error"] = "error"
    error: ErrorBody
