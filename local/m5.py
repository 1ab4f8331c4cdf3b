"""An M5-shaped benchmark shop: Walmart's M5 hierarchy as sale lines, generated on demand, seeded.

The M5 competition (Makridakis et al. 2022) forecast 3,049 products in 7 departments of 3
categories, sold in 10 stores of 3 states: 30,490 product-store series over 1,941 days, most of
them intermittent. :class:`M5Shop` makes a shop of that shape: each product-store pair sells
lines on a day with a Poisson rate (the product's popularity × the store's size × a weekly and a
yearly season × a slow trend), from its launch day on, so most of its days have no sale, as in the
M5. At the defaults it holds ~20 million sale lines.

Nothing is built whole: the number of lines of every day is known from the start (1,941 numbers),
and a day's lines are drawn again from that day's own seed whenever a page needs them, so any page
is rendered from one or two days and the shop costs a few MB however many lines it has.
:class:`M5Server` serves it as Laravel's sale lines endpoint (``local.fake_laravel``'s paging,
filters and faults)::

    python -m local.m5 --port 8081 [--stores 10] [--days 1941] [--lines 20000000]

Fields of a line: ``id``, ``sale_id``, ``created_at``, ``line_total``, ``quantity``, ``store_id``
(``CA_1`` ... ``WI_3``), ``state_id``, ``cat_id``, ``dept_id`` (``FOODS_3`` ...), ``product_id``
(``FOODS_3_090``: the M5's ``item_id``), ``status``.
"""
from __future__ import annotations

import argparse
import threading
from datetime import date, timedelta
from typing import Any, Sequence

import numpy as np

from local.fake_laravel import FakeLaravel
from shared.sources.transactions import TransactionColumns

# The M5's departments and how many products each has (3,049 in all).
DEPARTMENTS: tuple[tuple[str, str, int], ...] = (
    ("FOODS", "FOODS_1", 216), ("FOODS", "FOODS_2", 398), ("FOODS", "FOODS_3", 823),
    ("HOBBIES", "HOBBIES_1", 416), ("HOBBIES", "HOBBIES_2", 149),
    ("HOUSEHOLD", "HOUSEHOLD_1", 532), ("HOUSEHOLD", "HOUSEHOLD_2", 515),
)
STORES: tuple[str, ...] = ("CA_1", "CA_2", "CA_3", "CA_4", "TX_1", "TX_2", "TX_3", "WI_1", "WI_2", "WI_3")
M5_DAYS = 1941
M5_LINES = 20_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000


class M5Shop:
    """The shop's series and its lines per day (see the module docstring).

    ``stores`` (1-10) and ``days`` scale it down; ``lines`` is the expected number of sale lines
    at full size (10 stores), scaled with the stores and days kept. ``end`` is the last day.
    """

    def __init__(
        self, *, stores: int = 10, days: int = M5_DAYS, lines: float = M5_LINES, end: date | None = None, seed: int = 5
    ) -> None:
        if not 1 <= stores <= len(STORES):
            raise ValueError(f"stores must be 1-{len(STORES)}")
        self.seed = seed
        self.days = int(days)
        self.end = end or (date.today() - timedelta(days=1))
        self.first_day = self.end - timedelta(days=self.days - 1)
        rng = np.random.default_rng([seed, 0])
        self.stores = STORES[:stores]
        products: list[tuple[str, str, str]] = []  # (cat, dept, item)
        for cat, dept, count in DEPARTMENTS:
            products += [(cat, dept, f"{dept}_{i + 1:03d}") for i in range(count)]
        self.products = products
        n_p, n_s = len(products), len(self.stores)
        self.n_series = n_p * n_s
        # Series s = store s // n_p, product s % n_p (a store's products together).
        popularity = rng.lognormal(0.0, 0.55, n_p)  # a few products sell far more than most
        store_size = rng.uniform(0.6, 1.5, len(STORES))[:n_s]
        self.rate = (store_size[:, None] * popularity[None, :]).ravel()
        # Launch days: 60 % of the products sell from the first M5 day, the rest start later.
        launch = np.where(rng.random(n_p) < 0.6, 0, rng.integers(0, M5_DAYS - 120, n_p))
        self.launch = np.tile(launch, n_s) - (M5_DAYS - self.days)  # in this shop's days
        self.price_cents = np.tile(rng.integers(50, 3_000, n_p), n_s)
        self.weekly = np.array([1.0, 0.9, 0.85, 0.85, 0.95, 1.25, 1.3])  # Monday first
        self.year_phase = rng.uniform(0, 2 * np.pi, self.n_series)
        expected = sum(float(self._day_rates(np.arange(lo, min(lo + 64, self.days))).sum())
                       for lo in range(0, self.days, 64))  # 64 days at a time: never the whole grid
        target = float(lines) * n_s / len(STORES) * self.days / M5_DAYS
        self.scale = target / expected
        self.day_lines = np.array([self._counts(d).sum() for d in range(self.days)], dtype=np.int64)
        self.day_start = np.r_[0, np.cumsum(self.day_lines)]
        self._lock = threading.Lock()
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return int(self.day_start[-1])

    def _day_rates(self, days: np.ndarray) -> np.ndarray:
        """(len(days), n_series) expected lines per day, unscaled."""
        days = np.asarray(days)
        ordinal = self.first_day.toordinal() + days
        dow = (ordinal - 1) % 7  # date.fromordinal(1) is a Monday
        yearly = 1 + 0.15 * np.sin(2 * np.pi * ordinal[:, None] / 365.25 + self.year_phase[None, :])
        trend = 1 + 0.2 * days[:, None] / max(1, self.days)
        live = days[:, None] >= self.launch[None, :]
        return self.rate[None, :] * self.weekly[dow][:, None] * yearly * trend * live

    def _counts(self, d: int) -> np.ndarray:
        lam = self._day_rates(np.array([d]))[0] * self.scale
        return np.random.default_rng([self.seed, 1, d]).poisson(lam)

    def day_of_line(self, i: int) -> int:
        """The day (0-based) of global line ``i``."""
        return int(np.searchsorted(self.day_start, i, side="right") - 1)

    def lines_of_day(self, d: int) -> dict[str, np.ndarray]:
        """Day ``d``'s lines as columns (series, quantity, cents, ns since the epoch), in time order."""
        with self._lock:
            hit = self._cache.get(d)
        if hit is not None:
            return hit
        counts = self._counts(d)
        series = np.repeat(np.arange(self.n_series), counts)
        rng = np.random.default_rng([self.seed, 2, d])
        n = series.size
        quantity = 1 + rng.poisson(0.4, n)
        seconds = np.sort(rng.integers(8 * 3600, 22 * 3600, n))  # opening hours, in order
        series = series[rng.permutation(n)]  # lines of one day interleave the series
        day_ns = (self.first_day.toordinal() + d - date(1970, 1, 1).toordinal()) * _NS_PER_DAY
        cols = {"series": series, "quantity": quantity, "cents": quantity * self.price_cents[series],
                "ts_ns": day_ns + seconds.astype(np.int64) * 1_000_000_000}
        with self._lock:
            self._cache[d] = cols
            while len(self._cache) > 4:
                self._cache.pop(next(iter(self._cache)))
        return cols

    def day_ns(self) -> np.ndarray:
        """The first instant of every day, ns since the epoch."""
        first = self.first_day.toordinal() - date(1970, 1, 1).toordinal()
        return (first + np.arange(self.days, dtype=np.int64)) * _NS_PER_DAY

    def render(self, lo: int, hi: int) -> bytes:
        """Lines ``lo``..``hi - 1`` (global, in time order) as a JSON array, as Laravel renders them."""
        parts: list[str] = []
        i = lo
        while i < hi:
            d = self.day_of_line(i)
            cols = self.lines_of_day(d)
            a, b = i - int(self.day_start[d]), min(hi, int(self.day_start[d + 1])) - int(self.day_start[d])
            s = cols["series"][a:b]
            n_p = len(self.products)
            stamps = np.datetime_as_string(cols["ts_ns"][a:b].view("datetime64[ns]"), unit="us").tolist()
            ids = range(i + 1, i + (b - a) + 1)
            for line_id, t, q, c, ss in zip(ids, stamps, cols["quantity"][a:b].tolist(), cols["cents"][a:b].tolist(), s.tolist()):
                cat, dept, item = self.products[ss % n_p]
                store = self.stores[ss // n_p]
                parts.append(
                    f'{{"id":{line_id},"sale_id":{(line_id + 1) // 2},"created_at":"{t}Z","line_total":"{c // 100}.{c % 100:02d}",'
                    f'"quantity":{q},"store_id":"{store}","state_id":"{store[:2]}","cat_id":"{cat}","dept_id":"{dept}",'
                    f'"product_id":"{item}","status":"completed"}}'
                )
            i += b - a
        return ("[" + ",".join(parts) + "]").encode()

    def zero_share(self) -> float:
        """Share of the series-days from the first M5 day with no sale (the M5's is ~0.68)."""
        zero = 0
        for d in range(self.days):
            zero += int(np.count_nonzero(self._counts(d) == 0))
        return zero / (self.days * self.n_series)


class _Span:
    """Lines lo..hi-1 as the index array FakeLaravel's pages slice, without holding it."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, max(lo, hi)
        self.shape = (self.hi - self.lo,)

    def __getitem__(self, item: slice) -> "_Span":
        start, stop, _ = item.indices(self.shape[0])
        return _Span(self.lo + start, self.lo + stop)

    @property
    def size(self) -> int:
        return self.shape[0]


class M5Server(FakeLaravel):
    """:class:`M5Shop` as Laravel's sale lines endpoint (``/sales/items``): FakeLaravel's paginators,
    date and status filters, token and faults; a page is rendered from the one or two days it holds."""

    def __init__(self, shop: M5Shop, **kwargs: Any) -> None:
        self.shop = shop
        kwargs.setdefault("sales_path", "/sales/items")
        kwargs.setdefault("per_page", 1000)
        # The parent needs columns for its bookkeeping; the real selection is by day, below.
        empty = np.zeros(0, dtype=np.int64)
        super().__init__(TransactionColumns(empty, empty, empty, 0), **kwargs)
        self._day0 = shop.first_day.toordinal()

    def _select(self, start: str, end: str, status: str) -> Any:  # type: ignore[override]
        if status not in ("", "completed"):
            return _Span(0, 0)
        first = max(0, date.fromisoformat(start).toordinal() - self._day0)
        last = min(self.shop.days - 1, date.fromisoformat(end).toordinal() - self._day0)
        if last < first:
            return _Span(0, 0)
        return _Span(int(self.shop.day_start[first]), int(self.shop.day_start[last + 1]))

    def _render_rows(self, idx: Any) -> bytes:  # type: ignore[override]
        if isinstance(idx, _Span):
            return self.shop.render(idx.lo, idx.hi)
        idx = np.asarray(idx)
        return self.shop.render(int(idx[0]), int(idx[-1]) + 1) if idx.size else b"[]"


def main(argv: Sequence[str] | None = None) -> int:
    """Serve an M5-shaped shop until interrupted."""
    parser = argparse.ArgumentParser(description="Serve an M5-shaped shop's sale lines (local/m5.py).")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--days", type=int, default=M5_DAYS)
    parser.add_argument("--lines", type=float, default=M5_LINES)
    parser.add_argument("--per-page", type=int, default=1000)
    args = parser.parse_args(argv)
    shop = M5Shop(stores=args.stores, days=args.days, lines=args.lines)
    print(f"M5 shop: {shop.n_series:,} series, {len(shop):,} lines over {shop.days} days "
          f"({shop.first_day} to {shop.end})", flush=True)
    M5Server(shop, port=args.port, per_page=args.per_page).serve_forever(lambda url: print(url, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
