"""A synthetic daily retail shop for the weekly/daily model benchmark and tests: seeded, deterministic.

Three stores in Bavaria (public holidays "DE-BY" from the `holidays` package) selling 25 products
each, units a day over two years and a 28-day horizon that runs over Christmas and New Year:

* each store has its own day-of-week profile (a busy Saturday, a quiet Monday or Sunday) and growth;
* a yearly cycle (a December peak, a summer dip) and, on top, the weeks before Christmas;
* public holidays: closed on Christmas Day, St Stephen's Day, New Year's Day, Good Friday and Easter
  Monday; other holidays quieter (x0.6); the day before a closing holiday busier (x1.6, Christmas
  Eve x1.9);
* promotions (the shop's events): a spring, a summer and a winter sale and Black Friday each year,
  lifting every product (x1.5-2.2, by product); the horizon's winter sale is known in advance;
* products from a few units a day to one sale a week (intermittent: most of them), sizes
  overdispersed (negative binomial), one product launched eight weeks before the end of history.

``daily_shop(seed)`` returns a :class:`DailyShop`; the benchmark reports seeds 25-29 and the daily
interval calibration was fitted on seeds 7-10 (see shared/frequency_models.py). ``weekly()`` sums a
shop whose history starts on a Monday into ISO weeks.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

HOLIDAYS = "DE-BY"
CLOSED = ("Christmas Day", "Second Day of Christmas", "New Year's Day", "Good Friday", "Easter Monday")
END_OF_HISTORY = date(2025, 12, 14)
HISTORY_DAYS = 730
HORIZON = 28
STORES = 3
PRODUCTS = 25


@dataclass(frozen=True)
class DailyShop:
    """Units a day: ``units`` is (stores·products, days of history + horizon); ``n_history`` splits it."""

    days: list[date]
    n_history: int
    holidays: str
    events: list[dict]
    keys: list[tuple[int, int]]  # (store, product) per row of units
    units: np.ndarray
    launch: dict[int, int]  # product -> index of its first day (young products)

    def weekly(self) -> "DailyShop":
        """The same shop in ISO weeks (history and horizon must be whole weeks from a Monday)."""
        if self.days[0].weekday() != 0 or self.n_history % 7 or len(self.days) % 7:
            raise ValueError("weekly() needs whole weeks from a Monday")
        weeks = self.units.reshape(self.units.shape[0], -1, 7).sum(axis=2)
        return DailyShop(days=self.days[::7], n_history=self.n_history // 7, holidays=self.holidays,
                         events=self.events, keys=self.keys, units=weeks,
                         launch={p: i // 7 for p, i in self.launch.items()})

    def level(self, name: str) -> tuple[list[str], np.ndarray]:
        """(labels, series) at ``"product"`` (store×product), ``"store"`` or ``"total"`` level."""
        if name == "product":
            return [f"s{s}-p{p}" for s, p in self.keys], self.units
        if name == "store":
            stores = sorted({s for s, _ in self.keys})
            rows = np.array([[s == k for k, _ in self.keys] for s in stores])
            return [f"s{s}" for s in stores], rows.astype(float) @ self.units
        if name == "total":
            return ["total"], self.units.sum(axis=0, keepdims=True)
        raise ValueError(f"unknown level {name!r}")


def _events(first: date, last: date) -> list[dict]:
    out = []
    for year in range(first.year, last.year + 2):
        # Black Friday: the day after the fourth Thursday of November, and its weekend.
        nov1 = date(year, 11, 1)
        thanksgiving = nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        for name, start, end in (
            ("Winter sale", date(year, 1, 2), date(year, 1, 6)),
            ("Spring sale", date(year, 4, 22), date(year, 4, 27)),
            ("Summer sale", date(year, 7, 10), date(year, 7, 16)),
            ("Black Friday", thanksgiving + timedelta(days=1), thanksgiving + timedelta(days=3)),
        ):
            if start <= last and end >= first:
                out.append({"name": name, "start": start.isoformat(), "end": end.isoformat()})
    return out


def daily_shop(
    seed: int = 25, end_of_history: date = END_OF_HISTORY, history_days: int = HISTORY_DAYS, horizon: int = HORIZON
) -> DailyShop:
    """A synthetic Bavarian shop's daily units: STORES stores × PRODUCTS products, DE-BY holidays with closed
    days, promotions as events; ``history_days`` up to ``end_of_history``, then ``horizon`` days to score on.
    The same ``seed`` gives the same shop."""
    import holidays as holiday_calendars

    rng = np.random.default_rng(seed)
    n = history_days + horizon
    first = end_of_history - timedelta(days=history_days - 1)
    days = [first + timedelta(days=i) for i in range(n)]
    cal = holiday_calendars.country_holidays("DE", subdiv="BY", years=range(first.year, days[-1].year + 2))
    events = _events(first, days[-1])

    doy = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    dow = np.array([d.weekday() for d in days])
    yearly = 1 + 0.18 * np.cos(2 * np.pi * (doy - 355) / 365.25) - 0.08 * np.cos(2 * np.pi * (doy - 200) / 182.6)
    advent = np.array([1.0 + 0.5 * max(0, 1 - abs((d - date(d.year, 12, 20)).days) / 21) if d.month in (11, 12) else 1.0 for d in days])
    closed = np.array([cal.get(d) in CLOSED for d in days])
    quiet = np.array([d in cal and cal.get(d) not in CLOSED for d in days])
    eve = np.ones(n)
    for i, d in enumerate(days):
        nxt = cal.get(d + timedelta(days=1))
        if nxt in CLOSED and not closed[i]:
            eve[i] = 1.9 if nxt == "Christmas Day" else 1.6
    promo = np.zeros(n)
    for ev in events:
        s, e = date.fromisoformat(ev["start"]), date.fromisoformat(ev["end"])
        for i, d in enumerate(days):
            if s <= d <= e:
                promo[i] = 1.0

    keys, rows, launch = [], [], {}
    t = np.arange(n) / 365.25
    young = PRODUCTS - 1
    launch[young] = history_days - 56
    product_rate = np.exp(rng.normal(np.log(0.6), 1.1, PRODUCTS))
    product_lift = rng.uniform(1.5, 2.2, PRODUCTS)
    for store in range(STORES):
        profile = np.array([0.8, 0.9, 0.95, 1.0, 1.2, 1.5, 0.65]) * rng.uniform(0.9, 1.1, 7)
        if store == 2:
            profile = np.array([0.6, 0.9, 1.0, 1.0, 1.1, 1.7, 0.9])
        growth = rng.uniform(0.0, 0.15)
        store_size = rng.uniform(0.7, 1.4)
        for p in range(PRODUCTS):
            mean = store_size * product_rate[p] * profile[dow] * yearly * advent * (1 + growth) ** t
            mean = mean * eve * np.where(quiet, 0.6, 1.0) * np.where(promo > 0, product_lift[p], 1.0)
            mean = np.where(closed, 0.0, mean)
            if p == young:
                mean = np.where(np.arange(n) >= launch[young], mean * 1.5, 0.0)
            # Negative binomial sizes (dispersion 2): more zeros and bigger days than Poisson.
            k = 2.0
            lam = rng.gamma(k, np.maximum(mean, 1e-12) / k)
            units = rng.poisson(lam).astype(float)
            keys.append((store, p))
            rows.append(units)
    return DailyShop(days=days, n_history=history_days, holidays=HOLIDAYS, events=events, keys=keys,
                     units=np.array(rows), launch=launch)
