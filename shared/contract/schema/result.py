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

    month: str = Field(description='The period\'s short name: "Jan" (monthly), "W03" (weekly), "Jan 15" (daily).')
    period: str = Field(description="The period's label: 2025-01, 2025-W03 or 2025-01-15 (docs/api.md §10).")
    start: date | None = Field(
        None, exclude_if=absent, description="Weekly jobs: the week's Monday; absent for other frequencies."
    )
    total_sales: float = Field(
        description="What the period sold, in the job's measure (revenue, to the cent, unless a grouped job's "
        "`measure` says otherwise); 0 for a period without sales."
    )
    transaction_count: int = Field(description="The sales used for the period (for a grouped job, its orders).")


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

    period: str = Field(description="The forecast period's label, of the job's frequency (docs/api.md §10).")
    start: date | None = Field(
        None, exclude_if=absent, description="Weekly jobs: the week's Monday; absent for other frequencies."
    )
    forecast: float = Field(description="The point forecast for the period, in the job's measure; never below 0.")
    low: float = Field(
        description="The prediction interval's low bound at `confidence_level`, in the job's measure; never below 0."
    )
    high: float = Field(description="The prediction interval's high bound at `confidence_level`, in the job's measure.")
    # The holidays and events falling in the period, when the job has any (docs/api.md §10).
    events: list[str] | None = Field(
        None,
        exclude_if=absent,
        description="The names of the holidays and events falling in the period (`[]` for none); absent when the "
        "job has neither holidays nor events (docs/api.md §10).",
    )


class Metrics(BaseModel):
    """The ``metrics`` block of a forecast: the backtest's report (shared.engine.backtest builds it).

    Percentages (mape, smape, wape, interval_coverage) are in %. Every figure is None when the
    history allowed no origin (backtest_origins == 0).
    """

    model_config = ConfigDict(frozen=True)

    mae: float | None = Field(
        description="Mean absolute error of the one-step-ahead backtest forecasts, in the job's measure; "
        "null without a backtest origin."
    )
    mape: float | None = Field(
        description="Mean absolute percentage error, in %, over the periods with sales only; null without an "
        "origin or when every actual is 0."
    )
    smape: float | None = Field(
        description="Symmetric mean absolute percentage error, in % (the M3 definition); null without an origin."
    )
    mase: float | None = Field(
        description="Mean absolute scaled error: mae over the seasonal-naive error of the history before the first "
        "origin (a ratio, no unit); null without an origin or when that error is 0 or undefined."
    )
    wape: float | None = Field(
        description="Weighted absolute percentage error, in %: the sum of absolute errors over the sum of actuals; "
        "null without an origin or when every actual is 0."
    )
    backtest_origins: int = Field(
        description="How many rolling origins the backtest used (up to 12); 0 when the history allowed none."
    )
    interval_coverage: float | None = Field(
        description="The share of backtest actuals inside their interval at the job's level, in %; null without an "
        "origin."
    )

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

    next_month_forecast: float | None = Field(
        None,
        exclude_if=absent,
        description="Monthly jobs: the forecast for the month after the last complete one (`period`), in the job's "
        "measure; never below 0. Absent for weekly and daily jobs (see `next_period_forecast`).",
    )
    confidence_level: float = Field(
        description="The nominal coverage, in %, of [expected_range_low, expected_range_high]: the requested `level`."
    )
    expected_range_low: float = Field(
        description="The prediction interval's low bound for the next period, in the job's measure; never below 0."
    )
    expected_range_high: float = Field(
        description="The prediction interval's high bound for the next period, in the job's measure; the range holds "
        "the forecast."
    )
    growth_rate: float | None = Field(
        description="The last complete period against the one before, in %; null when that one is 0."
    )
    model_accuracy: float | None = Field(
        description="100 − WAPE (%) of one-step-ahead forecasts over a rolling-origin backtest, clipped to "
        "[0, 100]; null when the history allows no backtest origin."
    )
    period: str = Field(description="The period forecast next, a label of the job's frequency: 2025-11, 2025-W03 or 2025-01-15.")
    model: str = Field(description="The model that made the forecast, as it describes itself (docs/models.md).")
    forecast_growth_rate: float | None = Field(
        description="The next period's forecast against the last complete period, in %; null when that is 0."
    )
    horizon: list[HorizonPoint] = Field(
        description="One entry per period ahead (the request's `horizon` of them), oldest first."
    )
    metrics: Metrics = Field(
        description="The rolling-origin backtest of the model: one-step-ahead errors over up to 12 origins."
    )
    next_period_forecast: float = Field(
        description="The forecast for the period after the last complete one (`period`), in the job's measure, "
        "for every frequency; never below 0."
    )
    frequency: Frequency = Field(description="The job's frequency: month, week or day (docs/api.md §10).")
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
    period: str = Field(description="The month in progress, YYYY-MM.")
    total_sales: float = Field(description="What it has sold so far, in the job's measure.")
    transaction_count: int = Field(description="The sales used so far (for a grouped job, its orders).")


class PartialPeriod(BaseModel):
    """The period in progress: reported, never trained on (docs/api.md §10)."""

    period: str = Field(description="The period in progress, a label of the job's frequency.")
    start: date = Field(description="Its first day, in SALES_TIMEZONE.")
    end: date = Field(description="Its last day (inclusive), in SALES_TIMEZONE.")
    total_sales: float = Field(description="What it has sold so far, in the job's measure.")
    transaction_count: int = Field(description="The sales used so far (for a grouped job, its orders).")
    days_elapsed: int = Field(description="Days of the period elapsed so far, up to the window's end.")
    days_in_period: int = Field(description="Days in the whole period.")
    measure: str | None = Field(
        None,
        exclude_if=absent,
        description="Grouped jobs: the measure `total_sales` is in (revenue, units or orders); absent otherwise.",
    )


class DataQuality(BaseModel):
    """What was fetched, used and rejected, and which periods were filled or left out."""

    model_config = ConfigDict(extra="allow")
    rows_fetched: int = Field(description="Rows fetched from Laravel (docs/api.md §3).")
    rows_used: int = Field(description="Rows the series was built from.")
    rows_rejected: dict[str, int] = Field(description="Rows left out, counted by reason (docs/api.md §3).")
    duplicates: int = Field(description="Rows dropped as duplicates of a row already fetched (docs/api.md §3).")
    negative_totals: int = Field(description="Used rows with a total below 0 (refunds).")
    months_zero_filled: list[str] = Field(
        description="Periods of the history without a sale, present with 0 (period labels of the job's frequency, "
        "whatever the name)."
    )
    # Empty months before the first sale: not history, neither trained on nor counted (§5).
    leading_empty_months: list[str] = Field(
        default_factory=list,
        description="Periods of the window before the first sale: not history, neither trained on nor shown.",
    )
    # Monthly jobs: the month in progress, as it always was (absent for other frequencies).
    partial_month: PartialMonth | None = Field(
        None,
        description="Monthly jobs: the month in progress, never trained on; null when `end_date` is before it. "
        "Absent for weekly and daily jobs.",
    )
    partial_period: PartialPeriod | None = Field(
        None,
        description="The period in progress, for every frequency, never trained on; null when `end_date` is before it.",
    )


class Meta(BaseModel):
    """Where the result came from: the job, the data's fingerprint, the model version, the cache."""

    task_id: str | None = Field(description="The job that made the result; null when it was made outside a job.")
    data_fingerprint: str = Field(
        description="A hash of the series and the parameters: equal fingerprints, equal forecasts."
    )
    model_version: str = Field(description="The models' version: it changes when a model's code does.")
    generated_at: datetime = Field(description="When the forecast was made: ISO 8601, UTC.")
    cached: bool = Field(
        description="True when the forecast came from the cache (the same series and parameters within "
        "RESULT_TTL_SECONDS)."
    )
    source: str = Field(description="Where the sales came from: laravel:<scheme>://<host>[:port], never a path or credentials.")


class SeriesInventory(BaseModel):
    """A series' ``inventory`` (docs/api.md §12), in the job's measure (whole units for units)."""

    model_config = ConfigDict(extra="allow")  # the job's own figures (achieved level, settings) ride along
    lead_time_demand: float = Field(
        description="The mean demand over the next K = lead_time + review_period periods, in the job's measure."
    )
    order_up_to: float = Field(
        description="The demand over those K periods not exceeded with probability `service_level`: the stock "
        "position (on hand + on order) to order up to, in the job's measure (units rounded up)."
    )
    safety_stock: float = Field(description="order_up_to − lead_time_demand, in the job's measure.")
    service_level: float = Field(description="The nominal service level asked for, in %.")
    on_hand: float | None = Field(
        None, description="Stock on hand from Laravel's stock, in units; null when the stock does not list the series."
    )
    on_order: float | None = Field(
        None, description="Stock on order from Laravel's stock, in units; null when the stock does not list the series."
    )
    suggested_order: float | None = Field(
        None,
        description="max(0, order_up_to − on_hand − on_order) in whole units, raised to the row's min_order and "
        "pack_size; null where `on_hand` is.",
    )


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

    actual_sales: list[ActualSale] = Field(
        description="The complete periods of the history, oldest first, from the first period with a sale."
    )
    forecast: Forecast = Field(description="The forecast block: the next period, its interval, the horizon, the backtest.")
    data_quality: DataQuality = Field(description="What was fetched, used and rejected, and which periods were filled.")
    meta: Meta = Field(description="Where the result came from: the job, the data's fingerprint, the model version.")
    anomalies: list[Anomaly] = Field(
        default_factory=list,
        description="Periods of actual_sales far outside what was expected (known holidays and events excepted).",
    )
    # Only when the request asked for inventory: other documents stay as they were.
    inventory: SeriesInventory | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="The total's order-up-to levels (docs/api.md §12); absent unless the request asked for inventory.",
    )


class ResultDocument(BaseModel):
    """A finished job's result (docs/api.md §5)."""

    status: Literal["success"] = Field("success", description='Always "success".')
    data: ResultData = Field(description="The history, the forecast, data quality and meta.")

    def to_json_dict(self) -> dict[str, Any]:
        """The document as JSON-safe data, without the monthly-only fields of other frequencies."""
        body = self.model_dump(mode="json")
        if self.data.forecast.frequency is not Frequency.MONTH:
            body["data"]["data_quality"].pop("partial_month", None)  # a monthly field only
        return body
