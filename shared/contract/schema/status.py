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

    stage: str = Field(
        description="The job's stage: queued, started, fetching, aggregating, training, backtesting, predicting, "
        "retrying, done, failed or cancelled."
    )
    percent: int = Field(description="How far the job is, in % (0-100).")
    # Grouped jobs only (docs/api.md §8): their progress counts series, over all the workers.
    series_done: int | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Grouped jobs: the series forecast so far, over all the workers; absent for other jobs.",
    )
    series_total: int | None = Field(
        None, exclude_if=lambda v: v is None, description="Grouped jobs: the series to forecast; absent for other jobs."
    )


class ErrorBody(BaseModel):
    """``error``: a stable code, a message, and the offending field when there is one."""

    code: str = Field(description="The error's stable code (docs/api.md §7).")
    message: str = Field(description="What went wrong, for a person to read; never a traceback.")
    field: str | None = Field(
        None, description="The offending field (`events.3.start`), when there is one; absent (or null) otherwise."
    )


class TaskStatus(BaseModel):
    """The status document of GET /api/v1/forecasts/{id} and the webhooks (docs/api.md §4)."""

    task_id: str = Field(description="The job's id.")
    status: JobStatus = Field(
        description="The job's state: PENDING (queued), STARTED, PROGRESS, SUCCESS, FAILURE or REVOKED (cancelled); "
        "the last three are final."
    )
    progress: Progress = Field(description="The job's stage and how far it is.")
    submitted_at: datetime | None = Field(
        description="When the job was submitted: ISO 8601, UTC; null for a job queued straight into Redis."
    )
    finished_at: datetime | None = Field(description="When the job finished: ISO 8601, UTC; null until then.")
    result: dict[str, Any] | None = Field(
        description="The result document (docs/api.md §5, with §8's `hierarchy` for grouped jobs) once SUCCESS, "
        "else null."
    )
    error: ErrorBody | None = Field(
        description="The error once FAILURE or REVOKED (code `cancelled`), else null."
    )
    # The job's live-update stream (Server-Sent Events), with its token: set by the web tier.
    events_url: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="The job's live-update stream (Server-Sent Events, docs/api.md §13), with its token; "
        "absent from the webhooks.",
    )


    def to_json_dict(self) -> dict[str, Any]:
        """The document as GET /api/v1/forecasts/{id} and the webhooks send it."""
        body = self.model_dump(mode="json")
        if body["error"] and body["error"].get("field") is None:
            body["error"].pop("field", None)  # errors carry `field` only when there is one
        return body


class Submitted(BaseModel):
    """The 202 answer to a submission: the job's id and where to follow it."""

    task_id: str = Field(description="The job's id.")
    status: Literal["PENDING"] = Field("PENDING", description='Always "PENDING" in this answer.')
    status_url: str = Field(description="Where to follow the job: GET /api/v1/forecasts/{task_id}.")
    events_url: str = Field(
        description="The job's live-update stream (Server-Sent Events, docs/api.md §13), with its token."
    )


class ErrorDocument(BaseModel):
    """An error answer: ``{"status": "error", "error": {...}}``."""

    status: Literal["error"] = Field("error", description='Always "error".')
    error: ErrorBody = Field(description="The error: a stable code, a message, the offending field.")
