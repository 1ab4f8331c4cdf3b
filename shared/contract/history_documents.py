"""The history and alert documents (docs/api.md §9, §11) as pydantic models.

GET /api/v1/history, /api/v1/track-record and /api/v1/alerts answer with these shapes
(shared/history builds them); /openapi.json takes their JSON schemas from here (web/openapi.py), so
every field's description is written once, beside its type.

A field the server leaves out when it does not apply (an alert's figures, a forecast's source) is
optional in the schema and never ``null``; a field that is ``null`` while unknown (an actual not yet
seen) is always present.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from shared.contract.calendar import Frequency
from shared.contract.schema import MeasureName


class AlertKind(StrEnum):
    """What an alert says."""

    BELOW_RANGE = "below_range"
    ABOVE_RANGE = "above_range"
    FORECAST_DROP = "forecast_drop"


def _no_default(schema: dict[str, Any]) -> None:
    # A left-out field has no default value to advertise: the server simply does not send it.
    schema.pop("default", None)


def omitted(description: str | None = None) -> Any:
    """A field the server leaves out when it does not apply: optional, and never ``null`` when sent."""
    return Field(None, description=description, json_schema_extra=_no_default)


class Alert(BaseModel):
    """An alert (docs/api.md §11), kept once whoever sees it again."""

    id: str = Field(description="Stable: a hash of the series, kind and period.")
    created_at: datetime = Field(description="When the alert was raised: ISO 8601, UTC.")
    series: dict[str, Any] = Field(description="The series' group fields; `{}`: the total.")
    kind: AlertKind = Field(
        description="below_range or above_range: an actual outside its published range; forecast_drop: the outlook "
        "falling against a year before."
    )
    period: str = Field(description="The period seen (range alerts) or the first forecast (drops).")
    frequency: Frequency = Field(description="The series' frequency: month, week or day.")
    measure: MeasureName = Field(description="The series' measure: revenue, units or orders.")
    task_id: str = Field(description="The job that raised it.")
    actual: float | SkipJsonSchema[None] = omitted("Range alerts: the period's actual.")
    low: float | SkipJsonSchema[None] = omitted("Range alerts: the published interval's low bound.")
    high: float | SkipJsonSchema[None] = omitted("Range alerts: its high bound.")
    level: float | SkipJsonSchema[None] = omitted("The interval's level, in %.")
    change_pct: float | SkipJsonSchema[None] = omitted("forecast_drop: the outlook against a year before, in %.")


class AlertList(BaseModel):
    """GET /api/v1/alerts: one page of alerts, newest first."""

    alerts: list[Alert] = Field(description="The alerts, newest first.")
    next_cursor: str | None = Field(description="The next page's cursor; null on the last.")
    limit: int = Field(description="The `limit` asked for: at most this many alerts a page.")


class HistorySeries(BaseModel):
    """The series a history or track record is about."""

    group: dict[str, Any] = Field(description="The series' group fields; `{}`: the total.")
    measure: MeasureName = Field(description="The series' measure: revenue, units or orders.")
    frequency: Frequency = Field(description="The series' frequency: month, week or day.")


class HistoryForecast(BaseModel):
    """One published forecast of one period, with its actual once known."""

    task_id: str = Field(description="The job that published the forecast.")
    created_at: datetime = Field(description="When it was published: ISO 8601, UTC.")
    source: str | SkipJsonSchema[None] = omitted("Where the job's sales came from, as `meta.source` names it.")
    origin: str | SkipJsonSchema[None] = omitted("The last complete period the forecast was made from.")
    period: str = Field(description="The period forecast: 2025-01, 2025-W03 or 2025-01-15.")
    months_ahead: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = omitted(
        "Periods ahead of `origin` (months, weeks or days)."
    )
    forecast: float = Field(description="The point forecast, in the series' measure.")
    low: float = Field(description="The published interval's low bound, in the series' measure.")
    high: float = Field(description="The published interval's high bound, in the series' measure.")
    level: float = Field(description="The interval's nominal coverage, in %.")
    model: str = Field(description="The model that made the forecast, as it describes itself.")
    actual: float | None = Field(description="Filled in once a later job sees the period complete.")
    error_pct: float | None = Field(
        description="(actual - forecast) / |actual|, in %; null while unknown or when the actual is 0."
    )
    inside: bool | None = Field(description="Whether the actual fell in [low, high].")


class HistoryList(BaseModel):
    """GET /api/v1/history: a series' past published forecasts, newest first."""

    series: HistorySeries = Field(description="The series the forecasts are of.")
    forecasts: list[HistoryForecast] = Field(description="The published forecasts, newest job first, each job's periods in order.")
    limit: int | SkipJsonSchema[None] = omitted("The `limit` asked for: at most this many forecasts.")


class TrackRecordHorizon(BaseModel):
    """The realised accuracy of the forecasts made a given number of periods ahead, at one level."""

    months_ahead: int = Field(ge=1, description="Periods ahead (months, weeks or days).")
    level: float = Field(description="The nominal coverage of these forecasts' ranges, in %.")
    count: int = Field(description="Distinct forecasts whose period has closed.")
    inside: int = Field(description="Of `count`, the forecasts whose actual fell inside their range.")
    coverage: float | None = Field(description="Share of actuals inside the range, in %: compare with `level`.")
    mape: float | None = Field(
        description="Mean absolute percentage error of these forecasts, in %, over the actuals other than 0; null when "
        "there is none."
    )
    wape: float | None = Field(
        description="Weighted absolute percentage error of these forecasts, in %; null when every actual is 0."
    )


class TrackRecord(BaseModel):
    """GET /api/v1/track-record: the published forecasts' realised accuracy, per periods ahead."""

    series: HistorySeries = Field(description="The series the track record is of.")
    horizons: list[TrackRecordHorizon] = Field(description="One entry per periods ahead and nominal level.")
    pending: int = Field(description="Forecast periods still waiting for their actual.")


# The documents /openapi.json names for these routes (web/openapi.py adds them to its components).
HISTORY_DOCUMENTS: tuple[type[BaseModel], ...] = (AlertList, HistoryList, TrackRecord)
