"""The result document (docs/api.md §5): what a finished single-series job answers, block by block.

The forecast block (:class:`Forecast`) is shared with the grouped result's series
(shared/contract/schema/grouped.py).
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contract.calendar import Frequency


def absent(value: Any) -> bool:
    """``exclude_if`` of a field left out of the document when it is None."""
    return value is None


class ActualSale(BaseModel):
    """One complete period of the history: what it sold and in how many sales."""

    month: str  # the period's short name: "Jan"; "W03"; "Jan 15"
    period: str
    start: date | None = Field(None, exclude_if=absent)  # weekly: the Monday
    total_sales: float  # in the job's measure (revenue unless a grouped job says otherwise)
    transaction_count: int


class AnomalyKind(StrEnum):
    """Whether an anomalous period sold far more or far less than expected."""

    SPIKE = "spike"
    DIP = "dip"


class Anomaly(BaseModel):
    """A complete period of a series' history far outside what was expected of it (docs/api.md §11)."""

    period: str = Field(description="The period's label.")
    value: float = Field(description="What it sold, in the job's measure.")
    expected: float = Field(description="What a robust decomposition of the series (trend and season) expected.")
    kind: AnomalyKind = Field(description="spike: far above; dip: far below.")


class HorizonPoint(BaseModel):
    """One forecast period: the forecast and its interval, and the known effects falling in it."""

    period: str
    start: date | None = Field(None, exclude_if=absent)  # weekly: the Monday
    forecast: float
    low: float
    high: float
    # The holidays and events falling in the period, when the job has any (docs/api.md §10).
    events: list[str] | None = Field(None, exclude_if=absent)


class Metrics(BaseModel):
    """The ``metrics`` block of a forecast: the backtest's report (shared.engine.backtest builds it).

    Percentages (mape, smape, wape, interval_coverage) are in %. Every figure is None when the
    history allowed no origin (backtest_origins == 0).
    """

    model_config = ConfigDict(frozen=True)

    mae: float | None
    mape: float | None
    smape: float | None
    mase: float | None
    wape: float | None
    backtest_origins: int
    interval_coverage: float | None

    def to_dict(self) -> dict[str, Any]:
        """The figures as a plain dict."""
        return self.model_dump()


class ForecastComponent(BaseModel):
    """One horizon period's point forecast split into the additive parts the model has (docs/api.md §11)."""

    period: str = Field(..., description="The horizon period, as in `horizon`.")
    trend: float = Field(..., description="The level and trend: the forecast without season, holidays and events.")
    seasonal: float | None = Field(
        None, exclude_if=absent, description="What the season (time of year, day of week) adds; absent when the model found none."
    )
    holidays: float | None = Field(
        None, exclude_if=absent, description="What public holidays (and their eves) add; absent when the model has no holiday effect."
    )
    events: float | None = Field(
        None, exclude_if=absent, description="What the shop's own events add; absent when the model has no event effect."
    )


class Forecast(BaseModel):
    """The forecast block: the next period, its interval, growth, the horizon, the backtest's metrics."""

    next_month_forecast: float | None = Field(None, exclude_if=absent)  # monthly jobs only
    confidence_level: float
    expected_range_low: float
    expected_range_high: float
    growth_rate: float | None
    model_accuracy: float | None
    period: str
    model: str
    forecast_growth_rate: float | None
    horizon: list[HorizonPoint]
    metrics: Metrics
    next_period_forecast: float
    frequency: Frequency
    components: list[ForecastComponent] | None = Field(
        None,
        description=(
            "What drives the forecast: per horizon period, the additive parts of its point forecast in the job's "
            "measure (trend, and seasonal, holidays, events where the model has them), adding up to `forecast` "
            "to the cent. Null when the model does not decompose (monthly auto, ets, theta and arima; seasonal_naive; "
            "naive fallbacks). docs/api.md §11, docs/models.md."
        ),
    )


class PartialMonth(BaseModel):
    """Monthly jobs: the month in progress, reported but never trained on."""

    model_config = ConfigDict(extra="allow")
    period: str
    total_sales: float
    transaction_count: int


class PartialPeriod(BaseModel):
    """The period in progress: reported, never trained on (docs/api.md §10)."""

    period: str
    start: date
    end: date
    total_sales: float  # in the job's measure
    transaction_count: int
    days_elapsed: int
    days_in_period: int
    measure: str | None = Field(None, exclude_if=absent)  # grouped jobs: what total_sales counts


class DataQuality(BaseModel):
    """What was fetched, used and rejected, and which periods were filled or left out."""

    model_config = ConfigDict(extra="allow")
    rows_fetched: int
    rows_used: int
    rows_rejected: dict[str, int]
    duplicates: int
    negative_totals: int
    months_zero_filled: list[str]
    # Empty months before the first sale: not history, neither trained on nor counted (§5).
    leading_empty_months: list[str] = Field(default_factory=list)
    # Monthly jobs: the month in progress, as it always was (absent for other frequencies).
    partial_month: PartialMonth | None = None
    partial_period: PartialPeriod | None = None


class Meta(BaseModel):
    """Where the result came from: the job, the data's fingerprint, the model version, the cache."""

    task_id: str | None
    data_fingerprint: str
    model_version: str
    generated_at: datetime
    cached: bool
    source: str


class SeriesInventory(BaseModel):
    """A series' ``inventory`` (docs/api.md §12), in the job's measure (whole units for units)."""

    model_config = ConfigDict(extra="allow")  # the job's own figures (achieved level, settings) ride along
    lead_time_demand: float
    order_up_to: float
    safety_stock: float
    service_level: float
    on_hand: float | None = None
    on_order: float | None = None
    suggested_order: float | None = None


# The inventory CSV's figure columns (``series.csv?view=inventory``, the CLI's --format inventory).
INVENTORY_COLUMNS: tuple[str, ...] = (
    "lead_time_demand", "order_up_to", "safety_stock", "service_level", "on_hand", "on_order", "suggested_order",
)


def inventory_cell(value: Any) -> str:
    """A figure as a CSV cell: whole numbers without decimals, others to the cent, null empty."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


class ResultData(BaseModel):
    """``data`` of a result: the history, the forecast, data quality, meta, anomalies, inventory."""

    actual_sales: list[ActualSale]
    forecast: Forecast
    data_quality: DataQuality
    meta: Meta
    anomalies: list[Anomaly] = Field(
        default_factory=list,
        description="Periods of actual_sales far outside what was expected (known holidays and events excepted).",
    )
    # Only when the request asked for inventory: other documents stay as they were.
    inventory: SeriesInventory | None = Field(None, exclude_if=lambda v: v is None)


class ResultDocument(BaseModel):
    """A finished job's result (docs/api.md §5)."""

    status: Literal["success"] = "success"
    data: ResultData

    def to_json_dict(self) -> dict[str, Any]:
        """The document as JSON-safe data, without the monthly-only fields of other frequencies."""
        body = self.model_dump(mode="json")
        if self.data.forecast.frequency is not Frequency.MONTH:
            body["data"]["data_quality"].pop("partial_month", None)  # a monthly field only
        return body
