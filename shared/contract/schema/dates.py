"""Dates in the documents: the years a request may name, the ISO date's published pattern, months.

May import: the standard library, pydantic and shared.contract.calendar.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import WithJsonSchema

from shared.contract import calendar
from shared.contract.calendar import Frequency

# The default window of a monthly request, in months.
DEFAULT_HISTORY_MONTHS = calendar.SPECS[Frequency.MONTH].default_window
# The years a request's dates may name (checked in ForecastRequest._ordered_dates). JSON Schema has
# no bounds for dates, so the published schema states them as a pattern on the ISO date.
MIN_YEAR, MAX_YEAR = 1970, 2200
DATE_PATTERN = r"^(19[7-9][0-9]|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
RequestDate = Annotated[date, WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN})]
# What a request date must look like before it is parsed (pydantic alone would take 0 or a datetime).
ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def months_before(day: date, months: int) -> date:
    """The first day of the month ``months`` calendar months before ``day``'s month."""
    index = day.year * 12 + (day.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


def month_label(period: str) -> str:
    """'2025-01' -> 'Jan' (the original endpoint's `month` field)."""
    return calendar.short_label(calendar.parse_label(period, Frequency.MONTH), Frequency.MONTH)
