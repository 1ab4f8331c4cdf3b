"""The words every document uses: the public model names and the measures, and a group field's shape.

May import: the standard library. The request, result and history documents take these from here.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Literal

# The public model names, in one place: the request schema, shared/engine/models.py's registry and the
# OpenAPI document all take them from here.
MODEL_NAMES: tuple[str, ...] = ("auto", "linear", "seasonal_naive", "ets", "theta", "arima")
ModelName = Literal["auto", "linear", "seasonal_naive", "ets", "theta", "arima"]
assert MODEL_NAMES == ModelName.__args__  # type: ignore[attr-defined]  # the Literal for type checkers


class Measure(StrEnum):
    """What a job forecasts: the one list of measures (request, panel, history, web, dashboard)."""

    REVENUE = "revenue"
    UNITS = "units"
    ORDERS = "orders"


# What each measure is, in words the dashboard and the API document show.
MEASURE_DESCRIPTIONS: dict[Measure, str] = {
    Measure.REVENUE: "the sum of line totals (a single-series job: of the sales' grand totals)",
    Measure.UNITS: "the sum of quantities",
    Measure.ORDERS: "distinct sales",
}
MeasureName = Literal["revenue", "units", "orders"]  # the Literal for the documents' JSON schema
assert tuple(Measure) == MeasureName.__args__  # type: ignore[attr-defined]
# A sale line's field name as Laravel's JSON would carry it (docs/api.md §8).
GROUP_FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_GROUP_FIELDS = 3
