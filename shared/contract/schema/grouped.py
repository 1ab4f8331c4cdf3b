"""The grouped result's parts (docs/api.md §8): the hierarchy block and one series as listed."""
from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contract.schema.names import MeasureName
from shared.contract.schema.result import Anomaly, Forecast, SeriesInventory, absent


class HierarchyLevel(BaseModel):
    """One level of a grouped job's hierarchy: the fields it groups by and how many series it has."""

    model_config = ConfigDict(extra="allow")  # per-level accuracy figures ride along
    fields: list[str]
    series: int


class Hierarchy(BaseModel):
    """``data.hierarchy`` of a grouped result."""

    group_by: list[str]
    measure: MeasureName
    levels: list[HierarchyLevel]
    series: int
    reconciliation: str
    coherent: bool
    series_url: str | None
    csv_url: str | None
    # With inventory (docs/api.md §12): the settings and the service level achieved over every series.
    inventory: dict[str, Any] | None = Field(None, exclude_if=lambda v: v is None)


class SeriesPoint(BaseModel):
    """One period of a series' history, in the job's measure."""

    period: str
    start: date | None = Field(None, exclude_if=absent)  # weekly: the Monday
    value: float


class SeriesForecast(BaseModel):
    """One series of a grouped result, as ``GET .../series`` lists them."""

    key: dict[str, str | None]
    level: int
    actual: list[SeriesPoint]
    forecast: Forecast
    data_quality: dict[str, Any]
    anomalies: list[Anomaly] = Field(
        default_factory=list, description="Periods of `actual` far outside what was expected (docs/api.md §11)."
    )
    inventory: SeriesInventory | None = Field(None, exclude_if=lambda v: v is None)
