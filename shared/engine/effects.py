"""Holidays and the shop's own events as known effects: a regressor matrix over periods.

Given a frequency, the start dates of every period (history, then horizon), a holiday spec
(``"US"``, ``"US-CA"``, ``"DE-BY"``: a country and optional subdivision, from the ``holidays``
package) and the shop's events (``{"name", "start", "end"}``, ``end`` inclusive), :func:`calendar_effects`
returns, per period, the regressor row the weekly and daily models fit and forecast with, and the
names of the holidays and events that fall in it (what a forecast's horizon entries show).

Columns (one per distinct name, plus pooled ones), per frequency:

* ``day``: ``holiday`` (1 on a public holiday), ``holiday:<name>`` (1 on that holiday),
  ``eve`` and ``eve:<name>`` (1 on the day before a holiday: the shopping before Christmas, the
  day before a closed Easter Monday), ``event`` and ``event:<name>`` (1 on each day an event runs);
* ``week`` and ``month``: the same columns counting the days of the period they cover (a holiday
  on a Sunday moves the week less than one on a Friday: the model learns it from data, not rules).

The pooled columns carry what every holiday (or event) shares, so a promotion never seen before
still gets the average effect of the shop's past promotions; the per-name columns carry how each
one differs and are shrunk (``penalty``) towards 0, so two past Easters do not decide Easter
alone. A daily model treats a ``holiday:<name>`` or ``event:<name>`` on which the series sold
nothing every past time as a closed day: 0 in the forecast, not a dip to learn from
(:mod:`shared.engine.frequency_models`). "(observed)" holidays (a holiday moved off a weekend) share the
holiday's own name.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

import numpy as np
from pydantic import ValidationError

from shared.contract import calendar as contract_calendar
from shared.contract import schema
from shared.engine.seasonality import Frequency

__all__ = [
    "NAME_PENALTY",
    "Effects",
    "Event",
    "HolidaySpec",
    "calendar_effects",
    "column_groups",
    "parse_events",
    "parse_holiday_spec",
]

# Ridge penalty on each per-name column, in observations' worth: a holiday seen k times keeps about
# k / (k + NAME_PENALTY) of its own estimated deviation from the pooled effect.
NAME_PENALTY = 2.0
_OBSERVED = re.compile(r"\s*\((observed|estimated)\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class HolidaySpec:
    """A country (ISO 3166-1 alpha-2) and an optional subdivision, as the `holidays` package names them."""

    country: str
    subdivision: str | None = None

    @property
    def code(self) -> str:
        """The code as a request writes it: ``US`` or ``DE-BY``."""
        return self.country if self.subdivision is None else f"{self.country}-{self.subdivision}"


@dataclass(frozen=True)
class Event:
    """One of the shop's own effects (a promotion, a closure, Black Friday), ``end`` inclusive: a request's
    :class:`shared.contract.schema.Event` once checked, with its ``end`` filled in."""

    name: str
    start: date
    end: date


def parse_holiday_spec(spec: str | HolidaySpec | Sequence[Any] | None) -> HolidaySpec | None:
    """``"US"``, ``"US-CA"``, ``"DE-BY"`` -> HolidaySpec; None, ``""`` or ``[]`` -> None (no holidays).

    Raises ValueError for a country or subdivision the `holidays` package does not know (the
    request's ``422 invalid_request``): the contract's rule, :func:`shared.contract.calendar.holiday_code`.
    """
    if isinstance(spec, HolidaySpec):
        spec = spec.code
    if spec is None or (isinstance(spec, (str, list, tuple)) and len(spec) == 0):
        return None
    if not isinstance(spec, str):
        raise ValueError(f"holidays must be a country code such as 'US' or 'DE-BY', or [], got {spec!r}")
    try:
        code = contract_calendar.holiday_code(spec)
    except ValueError as exc:
        raise ValueError(f"unknown holiday calendar {spec!r}: {exc}") from None
    country, _, subdivision = code.partition("-")
    return HolidaySpec(country, subdivision or None)


def _holiday_calendar(spec: HolidaySpec, years: Sequence[int]) -> Mapping[date, str]:
    import holidays  # lazily: only weekly and daily jobs need it

    try:
        return holidays.country_holidays(spec.country, subdiv=spec.subdivision, years=list(years))
    except (NotImplementedError, KeyError) as exc:
        raise ValueError(f"unknown holiday calendar {spec.code!r}: {exc}") from None


def _as_date(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{what} must be a date (YYYY-MM-DD), got {value!r}")


def parse_events(events: Sequence[Event | Mapping[str, Any] | schema.Event] | None) -> list[Event]:
    """Events from ``{"name", "start", "end"?}`` mappings (dates or ISO strings; ``end`` defaults to
    ``start``), checked by the request's own rules (:class:`shared.contract.schema.Event`, at most
    ``MAX_EVENTS``). Raises ValueError for a malformed one."""
    if not events:
        return []
    if len(events) > schema.MAX_EVENTS:
        raise ValueError(f"at most {schema.MAX_EVENTS} events, got {len(events)}")
    out = []
    for i, ev in enumerate(events):
        if isinstance(ev, Event):
            out.append(ev)
            continue
        try:
            checked = schema.Event.model_validate(ev)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"event {i}: {problems}") from None
        out.append(Event(checked.name, checked.start, checked.end if checked.end is not None else checked.start))
    return out


@dataclass(frozen=True)
class Effects:
    """Known effects over periods: ``X`` is (periods, columns); ``names[i]`` lists what falls in period i."""

    X: np.ndarray
    columns: tuple[str, ...]
    penalty: np.ndarray  # per column: 0 for the pooled columns, NAME_PENALTY for per-name ones
    names: list[list[str]]
    frequency: Frequency
    closable: np.ndarray = field(repr=False)  # per column: may mark a closed day (daily per-name columns)

    def split(self, n_history: int) -> tuple[np.ndarray, np.ndarray]:
        """(X for the history's periods, X for the horizon's)."""
        return self.X[:n_history], self.X[n_history:]

    @property
    def groups(self) -> tuple[str, ...]:
        """Per column, the forecast component it belongs to: ``holidays`` or ``events``."""
        return column_groups(self.columns)


def column_groups(columns: Sequence[str]) -> tuple[str, ...]:
    """Per column name, the forecast component it drives (docs/models.md): ``holidays`` for the
    ``holiday`` and ``eve`` columns (a holiday's eve is its effect too), ``events`` for ``event`` ones."""
    return tuple("events" if c.split(":", 1)[0] == "event" else "holidays" for c in columns)


def _period_end(frequency: Frequency, start: date) -> date:
    if frequency is Frequency.DAY:
        return start
    if frequency is Frequency.WEEK:
        return start + timedelta(days=6)
    return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def calendar_effects(
    frequency: Frequency | str,
    starts: Sequence[date],
    holidays: str | HolidaySpec | None = None,
    events: Sequence[Event | Mapping[str, Any] | schema.Event] | None = None,
) -> Effects:
    """The regressor matrix and the names per period for ``starts`` (history then horizon, in order).

    ``starts`` are the first days of consecutive periods: days, the Mondays of ISO weeks, or the
    firsts of months. ``holidays`` is a code such as ``"US-CA"`` (or None for none), ``events`` the
    shop's events. Raises ValueError for an unknown holiday code or a malformed event.
    """
    freq = Frequency(frequency)
    starts = [_as_date(s, "period start") for s in starts]
    spec = parse_holiday_spec(holidays)
    parsed_events = parse_events(events)
    n = len(starts)
    if n == 0:
        return Effects(np.empty((0, 0)), (), np.empty(0), [], freq, np.empty(0, bool))
    first, last = starts[0], _period_end(freq, starts[-1])

    # Day -> holiday name, over the span plus one day (the eve of a holiday just past the end).
    day_holiday: dict[date, str] = {}
    if spec is not None:
        cal = _holiday_calendar(spec, range(first.year, last.year + 2))
        for d, label in cal.items():
            if first <= d <= last + timedelta(days=1):
                # Two holidays on one day come as "A; B": the first names the day's effect.
                day_holiday[d] = _OBSERVED.sub("", str(label).split(";")[0]).strip()

    columns: dict[str, int] = {}
    penalty: list[float] = []
    closable: list[bool] = []
    entries: list[tuple[int, str, float]] = []  # (period, column, value)

    def column(name: str, pooled: bool, can_close: bool = False) -> str:
        if name not in columns:
            columns[name] = len(columns)
            penalty.append(0.0 if pooled else NAME_PENALTY)
            closable.append(can_close and freq is Frequency.DAY)
        return name

    names: list[list[str]] = []
    daily = freq is Frequency.DAY
    for i, start in enumerate(starts):
        end = _period_end(freq, start)
        here: list[str] = []
        d = start
        while d <= end:
            label = day_holiday.get(d)
            if label is not None:
                entries.append((i, column("holiday", True), 1.0))
                entries.append((i, column(f"holiday:{label}", False, True), 1.0))
                if label not in here:
                    here.append(label)
            if daily:
                eve = day_holiday.get(d + timedelta(days=1))
                if eve is not None and label is None:
                    entries.append((i, column("eve", True), 1.0))
                    entries.append((i, column(f"eve:{eve}", False), 1.0))
            d += timedelta(days=1)
        for ev in parsed_events:
            overlap = (min(end, ev.end) - max(start, ev.start)).days + 1
            if overlap > 0:
                entries.append((i, column("event", True), float(overlap)))
                entries.append((i, column(f"event:{ev.name}", False, True), float(overlap)))
                if ev.name not in here:
                    here.append(ev.name)
        names.append(here)

    X = np.zeros((n, len(columns)))
    for i, col, value in entries:
        X[i, columns[col]] += value
    if daily:
        # Two events (or two runs of one) on one day are still one event day.
        X = np.minimum(X, 1.0)
    return Effects(
        X=X,
        columns=tuple(columns),
        penalty=np.asarray(penalty, dtype=float),
        names=names,
        frequency=freq,
        closable=np.asarray(closable, dtype=bool),
    )


def request_effects(
    frequency: Frequency | str, first: int, count: int, holidays: Sequence[str] | None, events: Sequence[Any] | None
) -> Effects | None:
    """The effects of a resolved request's ``holidays`` and ``events`` over ``count`` periods from
    period index ``first`` (:mod:`shared.contract.calendar`); None when it has neither."""
    if not holidays and not events:
        return None
    starts = [contract_calendar.period_start(first + k, frequency) for k in range(count)]
    return calendar_effects(frequency, starts, holidays[0] if holidays else None, list(events or []))
