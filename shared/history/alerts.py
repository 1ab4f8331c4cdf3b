"""Alerts (docs/api.md §11): what a finished job tells a shop without anyone paging its series.

When a job's publication is recorded (shared.history.repository.HistoryRepository.record), in the
same transaction:

- **below_range / above_range**: for each period the job saw complete for the first time (the
  periods whose actuals it filled in), each series' actual is compared with the interval of the
  forecast published for that period nearest before it (the latest made; ``level`` says which
  interval). At level 90, a series that follows its model falls below on about 5% of periods.
- **forecast_drop**: each series' forecast for its next periods (its horizon) summed, against the
  same periods a year before (12 months, 52 weeks, 364 days: the same weekdays), or the last as
  many complete periods when there is no year of history; a fall of more than ``drop_pct`` percent
  (ALERT_DROP_PCT) is an alert, dated by the first forecast period.

Each alert's id is a hash of what it is about (source, status, measure, frequency, series, kind,
period), so it is stored once whoever sees it again. The caller sends the new ones as
``forecast.alert`` webhooks.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from shared.contract.calendar import Frequency, parse_label
from shared.contract.calendar import label as period_label
from shared.contract.history_documents import AlertKind
from shared.history.records import Publication

# Alerts raised, by kind, counted by the workers in Redis and reported by the web's /metrics.
ALERT_STATS_KEY = "sf:alerts:stats"
# "A year before", in periods of each frequency: days go back 364, so a Saturday meets a Saturday.
YEAR_LAG = {Frequency.MONTH: 12, Frequency.WEEK: 52, Frequency.DAY: 364}


@dataclass(frozen=True)
class Alert:
    """One alert, as stored and as the API and the ``forecast.alert`` webhook show it."""

    id: str
    created_at: datetime
    source: str
    status: str
    measure: str
    frequency: str
    series_key: str
    kind: str
    period: str
    task_id: str
    actual: float | None = None
    low: float | None = None
    high: float | None = None
    level: float | None = None
    change_pct: float | None = None

    def row(self) -> dict[str, Any]:
        """The alerts table's columns."""
        return asdict(self)

    def to_json(self) -> dict[str, Any]:
        """docs/api.md §11's alert: ``series`` is the group key (``{}`` for the total); figures that do
        not apply to the kind are left out."""
        document: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "series": json.loads(self.series_key),
            "kind": self.kind,
            "period": self.period,
            "frequency": self.frequency,
            "measure": self.measure,
            "task_id": self.task_id,
        }
        for name in ("actual", "low", "high", "level", "change_pct"):
            value = getattr(self, name)
            if value is not None:
                document[name] = round(float(value), 2)
        return document


def alert_id(pub: Publication, series_key: str, kind: AlertKind | str, period: str) -> str:
    """The id of the alert of ``kind`` for ``series_key`` and ``period`` in ``pub``'s source: the same
    whichever job raises it."""
    about = "\x1f".join((pub.source, pub.status, pub.measure, pub.frequency, series_key, str(kind), period))
    return hashlib.sha256(about.encode("utf-8")).hexdigest()[:32]


def _alert(pub: Publication, now: datetime, series_key: str, kind: AlertKind, period: str, **figures: Any) -> Alert:
    return Alert(
        id=alert_id(pub, series_key, kind, period), created_at=now, source=pub.source, status=pub.status,
        measure=pub.measure, frequency=pub.frequency, series_key=series_key, kind=str(kind), period=period,
        task_id=pub.task_id, **figures,
    )


@dataclass(frozen=True)
class Published:
    """The interval published earlier for one series and period (the forecast nearest before it)."""

    series_key: str
    period: str
    low: float
    high: float
    level: float


def range_alerts(
    pub: Publication, published: Iterable[Published], actuals: dict[tuple[str, str], float], now: datetime
) -> list[Alert]:
    """below_range / above_range for each (series, period) whose ``actuals`` fell outside the interval
    ``published`` for it."""
    alerts = []
    for p in published:
        actual = actuals.get((p.series_key, p.period))
        if actual is None:
            continue
        kind = AlertKind.BELOW_RANGE if actual < p.low else AlertKind.ABOVE_RANGE if actual > p.high else None
        if kind is not None:
            alerts.append(_alert(pub, now, p.series_key, kind, p.period, actual=actual, low=p.low, high=p.high,
                                 level=p.level))
    return alerts


def change_against_a_year_before(
    forecast: Sequence[tuple[str, float]], actuals: Sequence[tuple[str, float]], frequency: str
) -> float | None:
    """The change (%) of the summed ``forecast`` (period, value) against the same periods a year
    before in ``actuals``, or against the last as many complete periods without a year of history;
    None when there is nothing to compare or the base is not positive."""
    if not forecast or not actuals:
        return None
    f = Frequency(frequency)
    seen = {label: value for label, value in actuals}
    lag = YEAR_LAG[f]
    before = []
    for label, _ in forecast:
        earlier = _shift(label, -lag, f)
        if earlier not in seen:
            before = []
            break
        before.append(seen[earlier])
    if not before:
        if len(actuals) < len(forecast):
            return None
        before = [value for _, value in actuals[-len(forecast):]]
    base = sum(before)
    if base <= 0:
        return None
    return 100.0 * (sum(value for _, value in forecast) - base) / base


def _shift(label: str, steps: int, frequency: Frequency) -> str:
    return period_label(parse_label(label, frequency) + steps, frequency)


def drop_alerts(pub: Publication, drop_pct: float, now: datetime) -> list[Alert]:
    """forecast_drop for each series of ``pub`` whose next periods fall more than ``drop_pct`` % below
    a year before (or the last periods)."""
    alerts = []
    for series in pub.series:
        forecast = [(h.period, h.forecast) for h in series.horizon]
        change = change_against_a_year_before(forecast, series.actuals, pub.frequency)
        if change is not None and change < -abs(drop_pct):
            alerts.append(_alert(pub, now, series.key, AlertKind.FORECAST_DROP, forecast[0][0],
                                 change_pct=change, level=pub.level))
    return alerts
