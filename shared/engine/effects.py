"""Holidays and the shop's own events, placed on the calendar's periods (docs/api.md §10).

:func:`period_effects` names what falls in each period; it is the seam where known effects enter
the engine. Today it names them for the horizon entries (``events``); the weekly and daily
models turn the same days into regressors (see :func:`effect_days`).
"""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Iterable, Sequence

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.contract.schema import Event


@lru_cache(maxsize=64)
def _holidays(code: str, years: tuple[int, ...]) -> tuple[tuple[date, str], ...]:
    import holidays  # only here: the engine's workers, never the web tier

    country, _, subdiv = code.partition("-")
    found = holidays.country_holidays(country, subdiv=subdiv or None, years=years)
    return tuple(sorted((day, str(name)) for day, name in found.items()))


def effect_days(
    first_day: date, last_day: date, holiday_codes: Sequence[str], events: Iterable[Event]
) -> list[tuple[date, str]]:
    """Every (day, name) of a holiday or an event between the two days, inclusive, by day."""
    years = tuple(range(first_day.year, last_day.year + 1))
    out: list[tuple[date, str]] = []
    for code in holiday_codes:
        out.extend((d, n) for d, n in _holidays(code, years) if first_day <= d <= last_day)
    for event in events:
        end = event.end or event.start
        day = max(event.start, first_day)
        while day <= min(end, last_day):
            out.append((day, event.name))
            day += timedelta(days=1)
    out.sort(key=lambda pair: pair[0])
    return out


def period_effects(
    frequency: Frequency | str, first: int, count: int, holiday_codes: Sequence[str], events: Iterable[Event]
) -> list[list[str]]:
    """For ``count`` periods from index ``first``: the names of the holidays and events falling in
    each (a name once per period, in the order of their first day)."""
    f = Frequency(frequency)
    if count <= 0:
        return []
    start = calendar.period_start(first, f)
    end = calendar.period_end(first + count - 1, f)
    names: list[dict[str, None]] = [{} for _ in range(count)]
    for day, name in effect_days(start, end, holiday_codes, list(events)):
        names[calendar.period_index(day, f) - first].setdefault(name, None)
    return [list(n) for n in names]
