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
    created_at: datetime
    series: dict[str, Any] = Field(description="The series' group fields; `{}`: the total.")
    kind: AlertKind
    period: str = Field(description="The period seen (range alerts) or the first forecast (drops).")
    frequency: Frequency
    measure: MeasureName
    task_id: str = Field(description="The job that raised it.")
    actual: float | SkipJsonSchema[None] = omitted("Range alerts: the period's actual.")
    low: float | SkipJsonSchema[None] = omitted("Range alerts: the published interval's low bound.")
    high: float | SkipJsonSchema[None] = omitted("Range alerts: its high bound.")
    level: float | SkipJsonSchema[None] = omitted("The interval's level, in %.")
    change_pct: float | SkipJsonSchema[None] = omitted("forecast_drop: the outlook against a year before, in %.")


class AlertList(BaseModel):
    """GET /api/v1/alerts: one page of alerts, newest first."""

    alerts: list[Alert]
    next_cursor: str | None = Field(description="The next page's cursor; null on the last.")
    limit: int


class HistorySeries(BaseModel):
    """The series a history or track record is about."""

    group: dict[str, Any]
    measure: MeasureName
    frequency: Frequency


class HistoryForecast(BaseModel):
    """One published forecast of one period, with its actual once known."""

    task_id: str
    created_at: datetime
    source: str | SkipJsonSchema[None] = omitted()
    origin: str | SkipJsonSchema[None] = omitted("The last complete period the forecast was made from.")
    period: str = Field(description="The period forecast: 2025-01, 2025-W03 or 2025-01-15.")
    months_ahead: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = omitted(
        "Periods ahead of `origin` (months, weeks or days)."
    )
    forecast: float
    low: float
    high: float
    level: float
    model: str
    actual: float | None = Field(description="Filled in once a later job sees the period complete.")
    error_pct: float | None = Field(
        description="(actual - forecast) / |actual|, in %; null while unknown or when the actual is 0."
    )
    inside: bool | None = Field(description="Whether the actual fell in [low, high].")


class HistoryList(BaseModel):
    """GET /api/v1/history: a series' past published forecasts, newest first."""

    series: HistorySeries
    forecasts: list[HistoryForecast]
    limit: int | SkipJsonSchema[None] = omitted()


class TrackRecordHorizon(BaseModel):
    """The realised accuracy of the forecasts made a given number of periods ahead, at one level."""

    months_ahead: int = Field(ge=1, description="Periods ahead (months, weeks or days).")
    level: float = Field(description="The nominal coverage of these forecasts' ranges, in %.")
    count: int = Field(description="Distinct forecasts whose period has closed.")
    inside: int
    coverage: float | None = Field(description="Share of actuals inside the range, in %: compare with `level`.")
    mape: float | None
    wape: float | None


class TrackRecord(BaseModel):
    """GET /api/v1/track-record: the published forecasts' realised accuracy, per periods ahead."""

    series: HistorySeries
    horizons: list[TrackRecordHorizon]
    pending: int = Field(description="Forecast periods still waiting for their actual.")


# The documents /openapi.json names for these routes (web/openapi.py adds them to its components).
HISTORY_DOCUMENTS: tuple[type[BaseModel], ...] = (AlertList, HistoryList, TrackRecord)
