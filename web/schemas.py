"""The web tier's own documents and queries as pydantic models (the rest are in shared/contract/schema/).

The probes' answers, and the job list of ``GET /api/v1/forecasts`` with its query. The routes
answer and validate with these, and /openapi.json is generated from them (web/openapi.py), so the
document cannot say one thing while the server does another.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.contract.errors import InvalidRequest
from shared.contract.schema import ErrorBody, JobStatus, Progress

DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100


def digits_only(value: Any) -> Any:
    """A query-string number must be plain digits: "+5", " 5", "5.0" and "1e1" are client
    mistakes, not numbers to guess at."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("not a whole number")
    return value


# ---- probes -----------------------------------------------------------------------------------


class Health(BaseModel):
    """GET /healthz: the process is up."""

    status: Literal["ok"] = Field("ok", description='Always "ok": the process is up.')


class Readiness(BaseModel):
    """GET /readyz: ready (200); degraded (200) when only something jobs do not wait on is down,
    named; or unavailable (503) naming what is missing."""

    status: Literal["ready", "degraded", "unavailable"] = Field(
        description="ready: Redis answers and a worker consumes the queue; degraded: they do, but the history's "
        "database does not answer; unavailable (503): Redis or the worker is missing."
    )
    missing: list[Literal["redis", "worker"]] | None = Field(
        None, description="What is missing (only when unavailable)."
    )
    degraded: list[Literal["database"]] | None = Field(
        None,
        description="What is down while the service still takes and runs jobs (only when degraded): "
        "`database`, the forecast history, which catches up once it is back.",
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The /readyz body, without the fields that do not apply."""
        return self.model_dump(mode="json", exclude_none=True)


# ---- GET /api/v1/forecasts ---------------------------------------------------------------------


class ListQuery(BaseModel):
    """The query string of GET /api/v1/forecasts."""

    model_config = ConfigDict(extra="ignore")  # cache busters and the like, as everywhere

    limit: int = Field(
        DEFAULT_LIST_LIMIT, ge=1, le=MAX_LIST_LIMIT, description="How many jobs, newest first."
    )

    _digits = field_validator("limit", mode="before")(lambda value: digits_only(value))

    @classmethod
    def parse(cls, args: Any) -> "ListQuery":
        """The query from the request's ``args``; InvalidRequest (422) naming ``limit`` when it is not a whole
        number in range."""
        try:
            return cls.model_validate({k: args[k] for k in cls.model_fields if k in args})
        except ValidationError:
            raise InvalidRequest(
                f"limit must be a whole number from 1 to {MAX_LIST_LIMIT}", field="limit"
            ) from None


class JobHeadline(BaseModel):
    """A finished job's headline figures (the full document is at GET /api/v1/forecasts/{id})."""

    period: str | None = Field(None, description="The period forecast next, a label of the job's frequency.")
    model: str | None = Field(None, description="The model that made the forecast, as it describes itself.")
    next_month_forecast: float | None = Field(
        None, description="Monthly jobs: the next month's forecast, in the job's measure; null for other frequencies."
    )
    expected_range_low: float | None = Field(
        None, description="The prediction interval's low bound for the next period, in the job's measure."
    )
    expected_range_high: float | None = Field(
        None, description="The prediction interval's high bound for the next period, in the job's measure."
    )
    confidence_level: float | None = Field(None, description="The interval's nominal coverage, in %.")
    model_accuracy: float | None = Field(
        None, description="100 − backtest WAPE, in %; null when the history allowed no backtest origin."
    )
    next_period_forecast: float | None = Field(
        None, description="The next period's forecast, in the job's measure, for every frequency."
    )
    frequency: str | None = Field(None, description="The job's frequency: month, week or day.")


class JobSummary(BaseModel):
    """A job in the list: its status document without ``result``, plus ``params`` and ``forecast``."""

    task_id: str = Field(description="The job's id.")
    status: JobStatus = Field(
        description="The job's state: PENDING, STARTED, PROGRESS, SUCCESS, FAILURE or REVOKED (docs/api.md §4)."
    )
    progress: Progress = Field(description="The job's stage and how far it is.")
    submitted_at: datetime | None = Field(
        description="When the job was submitted: ISO 8601, UTC; null for a job queued straight into Redis."
    )
    finished_at: datetime | None = Field(description="When the job finished: ISO 8601, UTC; null until then.")
    error: ErrorBody | None = Field(description="The error once FAILURE or REVOKED, else null.")
    params: dict[str, Any] | None = Field(
        description="The job's resolved request parameters (null for a job queued straight into Redis)."
    )
    forecast: JobHeadline | None = Field(
        description="The forecast's headline once the job succeeded, else null."
    )


class JobList(BaseModel):
    """GET /api/v1/forecasts: recent jobs, newest first."""

    jobs: list[JobSummary] = Field(description="The jobs, newest first.")
    limit: int = Field(ge=1, le=MAX_LIST_LIMIT, description="The `limit` asked for (default 20): at most this many jobs.")


# ---- GET /api/v1/forecasts/{id}/series ----------------------------------------------------------

MAX_SERIES_PAGE = 500
# A series cursor is the position of a page's first series: every string of this pattern is one.
SERIES_CURSOR_PATTERN = r"^(0|[1-9][0-9]{0,8})$"
SERIES_SORTS = ("key", "forecast", "-forecast", "growth", "-growth", "accuracy", "-accuracy")


class SeriesQuery(BaseModel):
    """The query string of GET /api/v1/forecasts/{id}/series (docs/api.md §8)."""

    model_config = ConfigDict(extra="ignore")

    level: int | None = Field(
        None, ge=1, le=3, description="Hierarchy level, 1 = the outermost group_by field (default: the deepest)."
    )
    limit: int = Field(50, ge=1, le=MAX_SERIES_PAGE, description="Series per page.")
    cursor: str | None = Field(
        None, pattern=SERIES_CURSOR_PATTERN,
        description="`next_cursor` of the previous page: the position of the next page's first series in "
        "the query's order (digits; with another level, `q` or `sort` it is that position in their order; "
        "past the last series, an empty page).",
    )
    q: str | None = Field(
        None, max_length=200, description="Only series whose key values contain this text (case-insensitive)."
    )
    sort: Literal["key", "forecast", "-forecast", "growth", "-growth", "accuracy", "-accuracy", "order", "-order"] = Field(
        "key",
        description="Order: by key (the hierarchy's order), or by the next period's forecast, its growth, the "
        "backtest accuracy or the suggested order (jobs with inventory); a leading `-` for the largest first. "
        "Series without the figure come last.",
    )

    _digits = field_validator("level", "limit", mode="before")(lambda value: digits_only(value))

    @classmethod
    def parse(cls, args: Any) -> "SeriesQuery":
        """The query from the request's ``args``; InvalidRequest (422) naming the first field that is wrong."""
        try:
            return cls.model_validate(dict(args))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            raise InvalidRequest(f"{field}: {first.get('msg', 'invalid value')}", field=field) from None


class SeriesPage(BaseModel):
    """GET /api/v1/forecasts/{id}/series: one page of a level's series."""

    series: list[dict[str, Any]] = Field(description="The series: key, level, actual, forecast, data_quality (docs/api.md §8).")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")
    level: int = Field(ge=1, le=3, description="The hierarchy level listed, 1 = the outermost group_by field.")
    matching: int = Field(ge=0, description="How many series of the level match `q`.")
