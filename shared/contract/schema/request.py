"""The request document (docs/api.md §3, §10, §12): :class:`ForecastRequest` and its parts.

The web tier validates requests with :class:`ForecastRequest` and generates /openapi.json from the
same model; the worker validates the kwargs it receives with it too, so a message put straight
into Redis gets the same checks as an HTTP request.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator, model_validator

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.contract.errors import InvalidRequest
from shared.contract.schema.dates import ISO_DATE_RE, MAX_YEAR, MIN_YEAR, RequestDate
from shared.contract.schema.names import GROUP_FIELD_PATTERN, MAX_GROUP_FIELDS, Measure, MeasureName, ModelName
from shared.contract.webhooks import check_callback_shape, check_callback_url

MAX_EVENTS = 500
MAX_HOLIDAY_CODES = 1  # one calendar: a shop's country (and region); a list form for [] and symmetry
MAX_EVENT_DAYS = 366  # an event longer than a year is not an event
HOLIDAY_CODE_PATTERN = r"^[A-Za-z]{2}(-[A-Za-z0-9 ]{1,40})?$"  # the list decides; this is its shape
# Control characters and lone surrogates have no business in any string field: they would travel
# on to Laravel in URLs and to webhook targets. Checked here, so a message put straight into
# Redis is checked as strictly as an HTTP request.
_BAD_CHARS_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")

# Numbers may come as strings (Laravel forms, query strings), but only as plain decimals: no sign,
# no spaces, no exponent, no hex, no "_". `horizon` a whole number ("6"), `level` digits with an
# optional fraction ("90", "97.5"). What the strings may be is published as patterns that state
# the bounds too, so that every string the document calls valid is accepted.
# The widest horizon any frequency allows (366 days); each frequency's own is checked after.
HORIZON_MIN, HORIZON_MAX = 1, max(spec.max_horizon for spec in calendar.SPECS.values())
LEVEL_MIN, LEVEL_MAX = 50.0, 99.9
_WHOLE_RE = re.compile(r"[1-9][0-9]{0,3}")
_DECIMAL_RE = re.compile(r"[1-9][0-9]{0,2}(\.[0-9]{1,20})?")


def whole_number_pattern(low: int, high: int) -> str:
    """A regular expression for the plain decimal strings of ``low`` to ``high``."""
    return "^(" + "|".join(str(n) for n in range(low, high + 1)) + ")$"


# 50 to 99.9 as plain decimals (up to 20 places: a query string carries a float as Python or
# JavaScript prints it, "53.33216841252874"): "50", "80.5", "99", "99.9", "99.90".
LEVEL_STRING_PATTERN = r"^((5[0-9]|[6-8][0-9]|9[0-8])(\.[0-9]{1,20})?|99(\.([0-8][0-9]{0,19}|90{0,19}))?)$"
def horizon_schema(high: int) -> dict[str, Any]:
    """``horizon`` up to ``high`` periods: a whole number, or its digits as a string."""
    return {
        "anyOf": [
            {"type": "integer", "minimum": HORIZON_MIN, "maximum": high},
            {"type": "string", "pattern": whole_number_pattern(HORIZON_MIN, high)},
            {"type": "null"},  # the frequency's default, as when absent
        ]
    }


HORIZON_SCHEMA = horizon_schema(HORIZON_MAX)  # the widest; each frequency's own in ForecastRequest's allOf
LEVEL_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": LEVEL_MIN, "maximum": LEVEL_MAX},
        {"type": "string", "pattern": LEVEL_STRING_PATTERN},
    ]
}

class Event(BaseModel):
    """One of the shop's own known effects (docs/api.md §10): a promotion, a closure, Black Friday."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(
        ..., min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$", description="What it is, as horizon entries name it."
    )
    start: RequestDate = Field(..., description="Its first day.")
    end: RequestDate | None = Field(None, description="Its last day, inclusive (default: start).")

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _BAD_CHARS_RE.search(value):
            raise ValueError("control characters are not allowed")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "Event":
        if self.end is not None:
            if self.end < self.start:
                raise ValueError("end must not be before start")
            if (self.end - self.start).days >= MAX_EVENT_DAYS:
                raise ValueError(f"an event lasts at most {MAX_EVENT_DAYS} days")
        for value in (self.start, self.end):
            if value is not None and not (MIN_YEAR <= value.year <= MAX_YEAR):
                raise ValueError(f"dates must be in {MIN_YEAR}-{MAX_YEAR}")
        return self


class InventoryRequest(BaseModel):
    """The request's ``inventory`` (docs/api.md §12): how a buyer orders, in the job's periods."""

    model_config = ConfigDict(extra="forbid")

    lead_time: int = Field(..., ge=0, le=52, description="Periods from placing an order to having the goods.")
    review_period: int = Field(1, ge=1, le=52, description="Periods between two orders (1: every period).")
    service_level: float = Field(
        95.0, ge=50, le=99.9, description="% of order cycles whose demand the stock should cover."
    )

    @field_validator("lead_time", "review_period", mode="before")
    @classmethod
    def _whole_periods(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("must be a whole number of periods")
        return value

    @field_validator("service_level", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        return value

    @property
    def periods(self) -> int:
        """The periods an order must cover: lead time plus review period."""
        return self.lead_time + self.review_period


class ForecastRequest(BaseModel):
    """Body of POST /api/v1/forecasts, and the kwargs of the `forecast.sales` task."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        # The horizon's bound per frequency (absent: month): 24 months, 104 weeks, 366 days.
        json_schema_extra={
            "allOf": [
                {
                    "if": {"not": {"required": ["frequency"]}},
                    "then": {"properties": {"horizon": horizon_schema(calendar.SPECS[Frequency.MONTH].max_horizon)}},
                },
                *(
                    {
                        "if": {"properties": {"frequency": {"const": f.value}}, "required": ["frequency"]},
                        "then": {"properties": {"horizon": horizon_schema(spec.max_horizon)}},
                    }
                    for f, spec in calendar.SPECS.items()
                ),
            ]
        },
    )

    start_date: RequestDate | None = Field(
        None,
        description="First day of history, not after end_date (default: the 36 complete months before today).",
    )
    end_date: RequestDate | None = Field(None, description="Last day of history (default: today).")
    status: str = Field(
        "completed", pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="Laravel sale status to fetch."
    )
    frequency: Frequency = Field(
        Frequency.MONTH, description="Calendar months, ISO weeks (Monday to Sunday) or days, in SALES_TIMEZONE."
    )
    horizon: Annotated[int | None, WithJsonSchema(HORIZON_SCHEMA)] = Field(
        None, ge=HORIZON_MIN, le=HORIZON_MAX,
        description="Periods to forecast: 1-24 months (default 3), 1-104 weeks (default 13), 1-366 days "
        "(default 28); a whole number, or a string of its digits (\"6\").",
    )
    level: Annotated[float, WithJsonSchema(LEVEL_SCHEMA)] = Field(
        90.0, ge=LEVEL_MIN, le=LEVEL_MAX,
        description="Prediction interval level, in %: a number, or a plain decimal string (\"90\", \"97.5\").",
    )
    model: ModelName = Field("auto", description="Forecasting model; `linear` is the original method.")
    callback_url: str | None = Field(
        None, max_length=2048, description="Where to POST the signed final status (webhook)."
    )
    refresh: bool = Field(False, description="Bypass the result cache.")
    group_by: list[Annotated[str, Field(pattern=GROUP_FIELD_PATTERN)]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_GROUP_FIELDS,
        json_schema_extra={"uniqueItems": True},
        description="Sale-line fields to forecast every group of, outermost first (docs/api.md §8); each a "
        "field name (letters, digits and _, not starting with a digit, at most 64), none twice.",
    )
    measure: MeasureName = Field(
        Measure.REVENUE.value, description="What is forecast: revenue (line totals), units (quantities) or orders."
    )
    inventory: InventoryRequest | None = Field(
        None,
        description="Order-up-to levels and suggested orders for every series (docs/api.md §12).",
        # Left out of the task's kwargs when unset: messages and job params stay what they were.
        exclude_if=lambda v: v is None,
    )

    holidays: Annotated[
        list[str] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": HOLIDAY_CODE_PATTERN},
                    {"type": "array", "items": {"type": "string", "pattern": HOLIDAY_CODE_PATTERN},
                     "maxItems": MAX_HOLIDAY_CODES},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(
        None,
        max_length=MAX_HOLIDAY_CODES,
        description="Public holidays as known effects: a country code and optional subdivision "
        "(\"US\", \"US-CA\", \"DE-BY\"), alone or as a one-element list; [] turns them off (default: HOLIDAY_COUNTRY).",
    )
    events: list[Event] | None = Field(
        None, max_length=MAX_EVENTS, description="The shop's own known effects, past and future (at most 500)."
    )

    @field_validator("holidays", mode="before")
    @classmethod
    def _holiday_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("holidays")
    @classmethod
    def _holiday_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        codes = [calendar.holiday_code(code) for code in value]
        return list(dict.fromkeys(codes))

    @model_validator(mode="after")
    def _horizon_for_frequency(self) -> "ForecastRequest":
        limit = calendar.spec(self.frequency).max_horizon
        if self.horizon is not None and self.horizon > limit:
            noun = calendar.spec(self.frequency).noun
            raise InvalidRequest(f"horizon: at most {limit} {noun}s for frequency {self.frequency}", field="horizon")
        return self

    @model_validator(mode="after")
    def _inventory_in_units(self) -> "ForecastRequest":
        # A product is ordered in units: a grouped job's levels in revenue or orders could not be
        # compared with the stock on hand.
        if self.inventory is not None and self.grouped and self.measure != Measure.UNITS:
            raise InvalidRequest(
                f"inventory: a grouped job's order-up-to levels are in units; ask for measure \"units\" "
                f"(not \"{self.measure}\")",
                field="inventory",
            )
        return self

    @field_validator("group_by")
    @classmethod
    def _group_fields(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        import re

        for name in value:
            if not isinstance(name, str) or not re.match(GROUP_FIELD_PATTERN, name):
                raise ValueError(f"{name!r} is not a field name (letters, digits and _, at most 64)")
        if len(set(value)) != len(value):
            raise ValueError("a field is named twice")
        return value

    @property
    def grouped(self) -> bool:
        """Whether the job reads sale lines (§8): a group_by, or a measure other than revenue."""
        return self.group_by is not None or self.measure != Measure.REVENUE

    # Types are checked before pydantic's lax coercion, which would take 0 for 1970-01-01, true for
    # 1, "9e1" for 90 or a datetime for its date: each of those is a client mistake, refused.
    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _iso_date_string(cls, value: Any) -> Any:
        if value is None or isinstance(value, date) and not isinstance(value, datetime):
            return value  # None, or a date from Python code (resolved(), tests)
        if not isinstance(value, str) or not ISO_DATE_RE.fullmatch(value):
            raise ValueError("must be a date as an ISO string, YYYY-MM-DD")
        return value

    @field_validator("horizon", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if value is None:
            return None  # absent or null: the frequency's default (resolved() fills it in)
        # JSON true would pass as 1 and 3.7 would be truncated: both are client mistakes.
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a whole number")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be a whole number")
        if isinstance(value, str):
            if not _WHOLE_RE.fullmatch(value):
                raise ValueError('must be a whole number (as a string: digits only, e.g. "6")')
            return int(value)
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number")
        if isinstance(value, str):
            if not _DECIMAL_RE.fullmatch(value):
                raise ValueError('must be a number (as a string: a plain decimal, e.g. "90" or "97.5")')
            return float(value)
        return value

    @field_validator("refresh", mode="before")
    @classmethod
    def _strict_bool(cls, value: Any) -> Any:
        if not isinstance(value, bool):
            raise ValueError("refresh must be true or false")
        return value

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return check_callback_shape(value)

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, str) and _BAD_CHARS_RE.search(value.strip()):
                    raise InvalidRequest(f"{name}: control characters are not allowed", field=str(name))
        return data

    @model_validator(mode="after")
    def _ordered_dates(self) -> "ForecastRequest":
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise InvalidRequest("start_date must not be after end_date", field="start_date")
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            if value is not None and not (MIN_YEAR <= value.year <= MAX_YEAR):
                raise InvalidRequest(f"{name} is out of range ({MIN_YEAR}-{MAX_YEAR})", field=name)
        return self

    @classmethod
    def parse(cls, data: Any, *, callback_hosts: Iterable[str] | None = None) -> "ForecastRequest":
        """Validate, raising :class:`InvalidRequest` naming the first offending field.

        Where a request enters (the web tier's POST, the worker's task) ``callback_hosts``
        (``Settings.effective_callback_hosts``) is given, and ``callback_url`` must name one of
        them; later stages trust the parsed request.
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InvalidRequest("the body must be a JSON object")
        try:
            request = cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            message = first.get("msg", "invalid value").removeprefix("Value error, ")
            if first.get("type") == "extra_forbidden":
                message = "unknown field"
            raise InvalidRequest(f"{field}: {message}" if field else message, field=field) from None
        if callback_hosts is not None:
            check_callback_url(request.callback_url, callback_hosts)
        return request

    def resolved(self, today: date, holiday_country: str | None = None) -> "ForecastRequest":
        """The request with every default filled in, once, where it enters the service.

        Dates: see :func:`shared.contract.calendar.default_window` (with only ``start_date``, the
        window ends today); ``horizon``: the frequency's default; ``holidays``: ``holiday_country``
        (HOLIDAY_COUNTRY) unless the request says; each event's ``end``. Resolving a resolved
        request changes nothing, so later stages may resolve defensively.
        """
        if self.is_resolved:
            return self
        if self.start_date is None:
            start, end = calendar.default_window(today, self.frequency, self.end_date)
        else:
            start, end = self.start_date, self.end_date or today
        if start > end:
            raise InvalidRequest("start_date must not be after end_date", field="start_date")
        holidays = self.holidays
        if holidays is None:
            holidays = [calendar.holiday_code(holiday_country)] if holiday_country else []
        events = [e if e.end is not None else e.model_copy(update={"end": e.start}) for e in self.events or []]
        return self.model_copy(
            update={
                "start_date": start,
                "end_date": end,
                "horizon": self.horizon or calendar.spec(self.frequency).default_horizon,
                "holidays": holidays,
                "events": events,
            }
        )

    @property
    def is_resolved(self) -> bool:
        """Whether every default is filled in (:meth:`resolved` has run)."""
        return (
            self.start_date is not None
            and self.end_date is not None
            and self.horizon is not None
            and self.holidays is not None
            and self.events is not None
            and all(e.end is not None for e in self.events)
        )

    def require_resolved(self) -> "ForecastRequest":
        """The engine's check: it is handed resolved requests only (a bug otherwise)."""
        if not self.is_resolved:
            raise ValueError("the request was not resolved where it entered (ForecastRequest.resolved)")
        return self

    def cache_params(self) -> dict[str, Any]:
        """The parameters that determine the result (not callback_url, not refresh)."""
        return {
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "status": self.status,
            "horizon": self.horizon,
            "level": float(self.level),
            "model": self.model,
            # Only when set, so that single-series requests keep the keys they always had.
            **({"group_by": list(self.group_by or []), "measure": self.measure} if self.grouped else {}),
            **({"inventory": self.inventory.model_dump(mode="json")} if self.inventory is not None else {}),
            # Likewise: a monthly request without holidays or events keys as it always did.
            **({"frequency": str(self.frequency)} if self.frequency is not Frequency.MONTH else {}),
            **({"holidays": list(self.holidays)} if self.holidays else {}),
            **({"events": [e.model_dump(mode="json") for e in self.events]} if self.events else {}),
        }

    def params_key(self) -> str:
        """A stable hash of :meth:`cache_params`, for joining identical in-flight requests."""
        blob = json.dumps(self.cache_params(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:32]
