"""The service's calendar: frequencies, their periods, labels, windows and limits (one module).

A job forecasts one *frequency*: calendar months, ISO weeks (Monday to Sunday) or calendar days,
all in the business's time zone (SALES_TIMEZONE). Everything that names, counts or steps periods
asks this module: the request's defaults and limits, aggregation (which periods are complete,
which one is in progress), the labels of every ``period`` field, the horizon, the series API and
CSV, the history. It is pure (stdlib only) so that the web tier can validate and resolve requests
with it; the engine places timestamps into these periods (:mod:`shared.engine.periods`).

Periods are numbered by a *period index*, an integer that steps by one from a period to the next:

* month: ``year * 12 + month - 1``;
* week: the number of whole weeks from Monday 0001-01-01 to the week's Monday;
* day: the proleptic Gregorian ordinal (:meth:`datetime.date.toordinal`).

Labels: ``2025-01`` (month), ``2025-W03`` (ISO year and week: the ISO year of a week is that of its
Thursday, so 2024-12-30 is in ``2025-W01`` and 2021-01-03 in ``2020-W53``), ``2025-01-15`` (day).
"""
from __future__ import annotations

import calendar as _calendar
import json
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path


class Frequency(StrEnum):
    """The period a job forecasts in: calendar months, ISO weeks (Monday to Sunday) or calendar days."""

    MONTH = "month"
    WEEK = "week"
    DAY = "day"


@dataclass(frozen=True)
class FrequencySpec:
    """What a frequency's jobs default to and may ask for."""

    noun: str  # "month", "week", "day": in messages
    default_horizon: int
    max_horizon: int
    # The default window: this many complete periods before the period in progress.
    default_window: int
    # Fewer complete periods than this from the first sale on is insufficient_history.
    min_history: int
    # The season length the placeholder models use (see shared.engine.models.models_for).
    season_length: int
    # Periods in a year (52.18 weeks), for year-over-year comparisons and yearly seasonality.
    periods_per_year: float


SPECS: dict[Frequency, FrequencySpec] = {
    Frequency.MONTH: FrequencySpec("month", 3, 24, 36, 3, 12, 12.0),
    Frequency.WEEK: FrequencySpec("week", 13, 104, 156, 3, 52, 365.25 / 7),
    Frequency.DAY: FrequencySpec("day", 28, 366, 730, 28, 7, 365.25),
}

_MONDAY_ONE = date(1, 1, 1)  # a Monday: week index 0 starts here
assert _MONDAY_ONE.weekday() == 0

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def spec(frequency: Frequency | str) -> FrequencySpec:
    """The defaults and limits (:class:`FrequencySpec`) of ``frequency``'s jobs."""
    return SPECS[Frequency(frequency)]


def period_index(day: date, frequency: Frequency | str) -> int:
    """The index of the period that contains ``day``."""
    f = Frequency(frequency)
    if f is Frequency.MONTH:
        return day.year * 12 + day.month - 1
    if f is Frequency.WEEK:
        return (day.toordinal() - 1) // 7
    return day.toordinal()


def period_start(index: int, frequency: Frequency | str) -> date:
    """The first day of period ``index`` (a month's 1st, a week's Monday)."""
    f = Frequency(frequency)
    if f is Frequency.MONTH:
        return date(index // 12, index % 12 + 1, 1)
    if f is Frequency.WEEK:
        return date.fromordinal(index * 7 + 1)
    return date.fromordinal(index)


def period_end(index: int, frequency: Frequency | str) -> date:
    """The last day of period ``index`` (inclusive)."""
    f = Frequency(frequency)
    if f is Frequency.MONTH:
        year, month = index // 12, index % 12 + 1
        return date(year, month, _calendar.monthrange(year, month)[1])
    if f is Frequency.WEEK:
        return date.fromordinal(index * 7 + 7)
    return date.fromordinal(index)


def period_days(index: int, frequency: Frequency | str) -> int:
    """How many calendar days period ``index`` spans: 28 to 31 for a month, 7 for a week, 1 for a day."""
    return (period_end(index, frequency) - period_start(index, frequency)).days + 1


def label(index: int, frequency: Frequency | str) -> str:
    """``2025-01``, ``2025-W03`` or ``2025-01-15``."""
    f = Frequency(frequency)
    if f is Frequency.MONTH:
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    if f is Frequency.WEEK:
        year, week, _ = period_start(index, f).isocalendar()
        return f"{year:04d}-W{week:02d}"
    return date.fromordinal(index).isoformat()


def short_label(index: int, frequency: Frequency | str) -> str:
    """The original endpoint's ``month`` field of ``actual_sales``: ``Jan``; ``W03``; ``Jan 15``."""
    f = Frequency(frequency)
    start = period_start(index, f)
    if f is Frequency.MONTH:
        return _calendar.month_abbr[start.month]
    if f is Frequency.WEEK:
        return f"W{start.isocalendar()[1]:02d}"
    return f"{_calendar.month_abbr[start.month]} {start.day}"


def parse_label(text: str, frequency: Frequency | str) -> int:
    """The index of the period labelled ``text``; ValueError when it is not such a label."""
    f = Frequency(frequency)
    if f is Frequency.MONTH:
        m = _MONTH_RE.match(text)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"{text!r} is not a month label (YYYY-MM)")
        return int(m.group(1)) * 12 + int(m.group(2)) - 1
    if f is Frequency.WEEK:
        m = _WEEK_RE.match(text)
        if not m:
            raise ValueError(f"{text!r} is not an ISO week label (YYYY-Www)")
        try:
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise ValueError(f"{text!r} is not a week of that ISO year") from None
        return period_index(monday, f)
    if not _DAY_RE.match(text):
        raise ValueError(f"{text!r} is not a day label (YYYY-MM-DD)")
    return date.fromisoformat(text).toordinal()


def labels(first: int, count: int, frequency: Frequency | str) -> list[str]:
    """The labels of ``count`` periods from index ``first`` on."""
    return [label(first + k, frequency) for k in range(count)]


def next_labels(last: str, steps: int, frequency: Frequency | str) -> list[str]:
    """The labels of the ``steps`` periods after the one labelled ``last``."""
    return labels(parse_label(last, frequency) + 1, steps, frequency)


def default_window(today: date, frequency: Frequency | str, end_date: date | None = None) -> tuple[date, date]:
    """``(start_date, end_date)`` of a request that gives no ``start_date``.

    Without ``end_date``: the ``default_window`` complete periods before today's, plus today's
    period up to today (in progress, reported, never trained on). With an ``end_date`` before
    today's period: the window ends at the last day of the last period complete on ``end_date``
    (``end_date`` itself when it is a period's last day) and reaches back ``default_window``
    periods from there, so "the forecast as of June 2024" sees 36 months up to June 2024.
    An ``end_date`` in or after today's period keeps its end, and the period in progress.
    """
    f = Frequency(frequency)
    n = SPECS[f].default_window
    today_p = period_index(today, f)
    if end_date is None:
        return period_start(today_p - n, f), today
    end_p = period_index(end_date, f)
    if end_p >= today_p:
        return period_start(today_p - n, f), end_date
    last_complete = end_p if end_date == period_end(end_p, f) else end_p - 1
    return period_start(last_complete - n + 1, f), period_end(last_complete, f)


# ---- holidays: which country and subdivision codes exist -------------------------------------

_HOLIDAY_CODES_FILE = Path(__file__).with_name("holiday_codes.json")


@lru_cache(maxsize=1)
def holiday_countries() -> dict[str, tuple[str, ...]]:
    """Country code → its subdivision codes, as the pinned ``holidays`` package knows them.

    A copy (shared/contract/holiday_codes.json; tests/shared/test_calendar.py checks it against the
    package) so that the web tier validates codes without importing the package.
    """
    data = json.loads(_HOLIDAY_CODES_FILE.read_text())
    return {country: tuple(subdivs) for country, subdivs in data["countries"].items()}


def holiday_code(text: str) -> str:
    """``us`` → ``US``, ``de-by`` → ``DE-BY``: the canonical code; ValueError for an unknown one."""
    country, _, subdiv = text.strip().partition("-")
    countries = holiday_countries()
    country = country.upper()
    if country not in countries:
        raise ValueError(f"unknown holiday country {text!r} (an ISO 3166 code such as US, DE, GB)")
    if not subdiv:
        return country
    known = {s.upper(): s for s in countries[country]}
    if subdiv.upper() not in known:
        raise ValueError(f"unknown subdivision {text!r} of {country}")
    return f"{country}-{known[subdiv.upper()]}"
