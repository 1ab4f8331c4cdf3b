"""The bundled demo sales history: what ``make run`` serves when ``LARAVEL_API_URL`` is unset.

A synthetic online shop, deterministic for a given ``(seed, today)``: five years of orders from the
first day of ``today``'s month five years back, through ``today`` (so 60 complete months plus the
month to date), about 55k rows.

Where its shape comes from (approximations chosen to look like real e-commerce, not copied data):

* **Trend**: ~12 %/year order growth and ~3 %/year basket growth, a young shop growing steadily.
* **Yearly seasonality**: monthly factors in the pattern of the US Census Bureau's Monthly Retail
  Trade Survey for non-store retailers (not seasonally adjusted): a January–February trough,
  a summer dip, November up ~18 % and December up ~35 % on an average month.
* **Week**: Monday–Tuesday strongest, Saturday weakest, as web-shop traffic usually is; hours of
  day are a mix of a lunch-time and an evening peak, in the shop's time zone.
* **Noise**: multiplicative, lognormal per month (σ≈6 %) and per day (σ≈15 %), then Poisson
  order counts; basket sizes lognormal (median ≈ 48, σ≈0.7: many small, a long tail of big ones).
* **Incidents**: six outage days with no orders, and the third month of history closed for a
  relaunch (a zero month, so ``months_zero_filled`` has something to show on the full range; it
  is outside the default 36-month window).
* **As Laravel returns it**: ``created_at`` in both formats (Laravel's ``…000000Z`` UTC form and
  naive ``YYYY-MM-DD HH:MM:SS`` wall-clock time in ``timezone``); ``grand_total`` mostly as
  ``decimal:2`` strings, some as JSON numbers; ~4 % cancelled/pending orders (the API filters
  them by ``status``); ~1.5 % refunds as negative rows a few days after the order; ~0.5 % broken
  rows (missing or unreadable fields) and ~0.1 % rows repeated a page or so later, as offset
  pagination does when orders arrive while it runs — so ``data_quality`` has something to report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from shared.sources.transactions import TransactionColumns, columns_from_rows, validate_timezone

YEARS = 5
FIRST_ID = 100_001
# Jan..Dec, mean 1.0 (see the module docstring).
MONTH_FACTORS = np.array([0.90, 0.85, 0.97, 0.95, 0.98, 0.93, 0.89, 0.93, 0.94, 1.00, 1.18, 1.35])
MONTH_FACTORS = MONTH_FACTORS / MONTH_FACTORS.mean()
WEEKDAY_FACTORS = np.array([1.08, 1.06, 1.02, 1.00, 0.97, 0.90, 0.97])  # Mon..Sun
BASE_ORDERS_PER_DAY = 22.0
ORDER_GROWTH = 0.12
BASKET_MEDIAN = 48.0
BASKET_GROWTH = 0.03
REFUND_SHARE = 0.015
OTHER_STATUS_SHARE = {"cancelled": 0.03, "pending": 0.01}
BAD_ROW_SHARE = 0.005
DUPLICATE_SHARE = 0.001
NAIVE_FORMAT_SHARE = 0.35
NUMBER_TOTAL_SHARE = 0.25

_BAD_VARIANTS: list[dict[str, Any]] = [
    {"created_at": None},
    {"created_at": "not a date"},
    {"created_at": "31/12/2023 10:00"},
    {"grand_total": None},
    {"grand_total": ""},
    {"grand_total": "abc"},
    {"grand_total": True},
    {"id": None},
]


def _history_start(today: date) -> date:
    return date(today.year - YEARS, today.month, 1)


def demo_rows(today: date, seed: int = 7, *, timezone: str = "UTC") -> list[dict[str, Any]]:
    """The demo history as Laravel would return it (rows ordered by id), ending on ``today``."""
    tz = validate_timezone(timezone)
    rng = np.random.default_rng([seed, today.toordinal()])
    start = _history_start(today)
    days = pd.date_range(start, today, freq="D")
    n_days = len(days)
    t_years = np.arange(n_days) / 365.25

    # Expected orders per day: trend × season × weekday × monthly and daily noise.
    month_no = (days.year - start.year) * 12 + days.month - start.month
    month_noise = rng.lognormal(0.0, 0.06, size=int(month_no.max()) + 1)[month_no]
    rate = (
        BASE_ORDERS_PER_DAY
        * (1 + ORDER_GROWTH) ** t_years
        * MONTH_FACTORS[days.month - 1]
        * WEEKDAY_FACTORS[days.weekday]
        * month_noise
        * rng.lognormal(0.0, 0.15, size=n_days)
    )
    rate[month_no == 2] = 0.0  # closed for a relaunch
    outage = rng.choice(np.flatnonzero(month_no != 2)[:-1], size=6, replace=False)
    rate[outage] = 0.0
    per_day = rng.poisson(rate)
    n = int(per_day.sum())

    # Order instants: day + a lunch/evening time of day, in the shop's zone.
    day_of = np.repeat(np.arange(n_days), per_day)
    lunch = rng.random(n) < 0.45
    hours = np.where(lunch, rng.normal(12.5, 1.8, n), rng.normal(20.0, 2.2, n))
    seconds = np.clip(hours * 3600, 0, 86_399).astype(np.int64)
    local_ns = days.asi8[day_of] + seconds * 1_000_000_000 + rng.integers(0, 1_000_000, n) * 1_000
    order = np.argsort(local_ns, kind="stable")
    local_ns, day_of = local_ns[order], day_of[order]

    basket = BASKET_MEDIAN * (1 + BASKET_GROWTH) ** t_years[day_of] * rng.lognormal(0.0, 0.7, n)
    cents = np.maximum(np.rint(basket * 100).astype(np.int64), 99)

    # Refunds: later rows for minus (usually all of) an earlier basket.
    refunded = np.flatnonzero(rng.random(n) < REFUND_SHARE)
    refund_share = np.where(rng.random(refunded.size) < 0.7, 1.0, rng.uniform(0.2, 0.8, refunded.size))
    refund_after = rng.integers(1, 20, refunded.size)
    refund_ns = local_ns[refunded] + refund_after * 86_400_000_000_000
    refund_day = day_of[refunded] + refund_after
    keep = refund_day < n_days  # nothing after today
    keep[keep] = month_no[refund_day[keep]] != 2  # the closed month processes nothing
    refunded, refund_ns, refund_share = refunded[keep], refund_ns[keep], refund_share[keep]
    local_ns = np.concatenate([local_ns, refund_ns])
    cents = np.concatenate([cents, -np.rint(cents[refunded] * refund_share).astype(np.int64)])
    order = np.argsort(local_ns, kind="stable")
    local_ns, cents = local_ns[order], cents[order]
    n = local_ns.size

    local = pd.DatetimeIndex(local_ns)
    utc = local.tz_localize(tz.key, ambiguous=np.ones(n, dtype=bool), nonexistent="shift_forward").tz_convert("UTC")
    laravel_fmt = (utc.strftime("%Y-%m-%dT%H:%M:%S.") + (utc.microsecond.astype(str).str.zfill(6)) + "Z").tolist()
    naive_fmt = local.strftime("%Y-%m-%d %H:%M:%S").tolist()
    use_naive = (rng.random(n) < NAIVE_FORMAT_SHARE).tolist()
    as_number = (rng.random(n) < NUMBER_TOTAL_SHARE).tolist()
    status_draw = rng.random(n)
    statuses = np.full(n, "completed", dtype=object)
    edge = 0.0
    for name, share in OTHER_STATUS_SHARE.items():
        statuses[(status_draw >= edge) & (status_draw < edge + share)] = name
        edge += share

    cents_list = cents.tolist()
    rows: list[dict[str, Any]] = [
        {
            "id": FIRST_ID + i,
            "created_at": naive_fmt[i] if use_naive[i] else laravel_fmt[i],
            "grand_total": c / 100 if as_number[i] else f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}",
            "status": statuses[i],
            "currency": "EUR",
        }
        for i, c in enumerate(cents_list)
    ]

    # Broken rows, each with an id of its own, spread through the history.
    n_bad = max(len(_BAD_VARIANTS), int(n * BAD_ROW_SHARE))
    positions = np.sort(rng.choice(n, size=n_bad, replace=False))
    for k, pos in enumerate(positions.tolist()):
        bad = dict(rows[pos])
        bad["id"] = FIRST_ID + n + k
        bad["status"] = "completed"
        bad.update(_BAD_VARIANTS[k % len(_BAD_VARIANTS)])
        rows[pos] = bad  # replaces the sale: it is what the API now holds

    # Repeats: a completed row appears again 600–900 rows later (a page or more at ≤ 500 a page).
    n_dup = max(3, int(n * DUPLICATE_SHARE))
    sources = np.sort(rng.choice(max(n - 1000, 1), size=n_dup, replace=False))
    inserts = sorted(
        ((int(s) + int(rng.integers(600, 900)), rows[int(s)]) for s in sources), key=lambda p: p[0], reverse=True
    )
    for pos, row in inserts:
        rows.insert(min(pos, len(rows)), dict(row))
    return rows


def demo_columns(today: date, seed: int = 7, *, timezone: str = "UTC") -> TransactionColumns:
    """The completed demo rows parsed into columns, as a client would see them from the API."""
    rows = [r for r in demo_rows(today, seed, timezone=timezone) if r.get("status") == "completed"]
    return columns_from_rows(rows, timezone)


def demo_start(today: date) -> date:
    """The first day of the demo history for ``today``."""
    return _history_start(today)


# ---------------------------------------------------------------------------------- sale lines
#
# The same shop's sale lines (docs/api.md §3, §8): every sale above is split into 1–3 lines whose
# ``line_total``s add up to its ``grand_total`` to the cent, so the monthly line revenue is exactly
# the monthly sales revenue. Broken sale rows get no lines; a repeated sale repeats its lines (the
# same line ids, so the panel counts them as duplicates). Refunds are one line of quantity -1.
#
# The catalogue: five categories (one of them null, for products nobody categorised) and 32
# products with a pattern each -- steady sellers, winter / summer / December-gift seasonality,
# slow movers sold only now and then (intermittent), one launched four months before ``today``,
# one discontinued ten months before it.

@dataclass(frozen=True)
class DemoProduct:
    """One product of the demo catalogue: its popularity relative to the others, its seasonal pattern,
    and, for the launched or discontinued ones, how many months before ``today``'s month it first or
    last sold."""

    product_id: int
    sku: str
    category: str | None
    weight: float  # relative popularity
    season: str = "flat"  # flat | winter | summer | gifts
    launched_months_ago: int | None = None  # first sold this many months before today's month
    discontinued_months_ago: int | None = None  # last sold before this many months ago


def _catalogue() -> list[DemoProduct]:
    spec = [
        ("Apparel", [(12, "winter"), (10, "summer"), (8, "flat"), (6, "winter"), (0.02, "flat"), (0.015, "winter")]),
        ("Home", [(14, "flat"), (9, "flat"), (7, "gifts"), (5, "flat"), (0.02, "flat"), (0.01, "flat")]),
        ("Electronics", [(11, "gifts"), (9, "flat"), (6, "gifts"), (4, "flat"), (0.025, "gifts"), (0.012, "flat")]),
        ("Garden", [(8, "summer"), (6, "summer"), (4, "summer"), (0.02, "summer")]),
        ("Gifts", [(10, "gifts"), (6, "gifts"), (3, "flat"), (0.015, "gifts")]),
        (None, [(2, "flat"), (0.02, "flat")]),
    ]
    products: list[DemoProduct] = []
    pid = 1001
    for category, items in spec:
        for weight, season in items:
            products.append(DemoProduct(pid, f"SKU-{pid}", category, weight, season))
            pid += 1
    products.append(DemoProduct(pid, f"SKU-{pid}", "Electronics", 9.0, "flat", launched_months_ago=4))
    products.append(DemoProduct(pid + 1, f"SKU-{pid + 1}", "Home", 7.0, "flat", discontinued_months_ago=10))
    return products


def demo_stock(seed: int = 7) -> list[dict[str, Any]]:
    """The demo shop's stock (docs/api.md §12): most products listed by product_id, a few by sku
    only, with minimum orders and pack sizes on some; the discontinued product is not listed."""
    rng = np.random.default_rng([seed, 26])
    rows: list[dict[str, Any]] = []
    for j, p in enumerate(_catalogue()):
        if p.discontinued_months_ago is not None:
            continue
        row: dict[str, Any] = {"product_id": p.product_id} if j % 5 else {"sku": p.sku}
        row["on_hand"] = int(rng.integers(0, 40))
        row["on_order"] = int(rng.integers(0, 10)) if j % 3 == 0 else 0
        if j % 4 == 0:
            row["min_order"], row["pack_size"] = 12, 6
        rows.append(row)
    return rows


_SEASONS = {
    "flat": np.ones(12),
    "winter": np.array([1.6, 1.3, 0.9, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.2, 1.6, 1.9]),
    "summer": np.array([0.3, 0.4, 0.8, 1.3, 1.7, 1.9, 1.8, 1.5, 0.9, 0.5, 0.3, 0.3]),
    "gifts": np.array([0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0, 1.6, 3.0]),
}
_VALID_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _valid_sale(row: dict[str, Any]) -> bool:
    """Rows the sales parser accepts (the broken variants above fail one of these)."""
    total = row.get("grand_total")
    if type(row.get("id")) is not int or not isinstance(row.get("created_at"), str):
        return False
    if not _VALID_TIME.match(row["created_at"]):
        return False
    if type(total) is float:
        return True
    return type(total) is str and re.fullmatch(r"-?\d+\.\d{2}", total) is not None


def demo_lines(today: date, seed: int = 7, *, timezone: str = "UTC", rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The demo's sale lines, in the order of their sales (see the comment above)."""
    rows = demo_rows(today, seed, timezone=timezone) if rows is None else rows
    products = _catalogue()
    rng = np.random.default_rng([seed, today.toordinal(), 13])
    today_m = today.year * 12 + today.month - 1

    # One entry per distinct valid sale, in order of first appearance.
    first: dict[int, int] = {}
    for pos, row in enumerate(rows):
        if _valid_sale(row) and row["id"] not in first:
            first[row["id"]] = pos
    sale_pos = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    sales = [rows[i] for i in sale_pos.tolist()]
    is_float = np.array([type(r["grand_total"]) is float for r in sales], dtype=bool)
    cents = np.array(
        [int(round(r["grand_total"] * 100)) if f else int(r["grand_total"].replace(".", "")) for r, f in zip(sales, is_float)],
        dtype=np.int64,
    )
    month = np.array([int(r["created_at"][:4]) * 12 + int(r["created_at"][5:7]) - 1 for r in sales], dtype=np.int64)
    refund = cents < 0
    n_lines = np.where(refund, 1, np.minimum(3, 1 + rng.poisson(0.6, cents.size)))

    # Products: per month of history, a popularity × season × availability distribution.
    months = np.arange(month.min(), month.max() + 1) if month.size else np.zeros(0, np.int64)
    w = np.array([p.weight for p in products])[None, :] * np.stack([_SEASONS[p.season] for p in products], axis=1)[months % 12]
    ago = today_m - months
    for j, p in enumerate(products):
        if p.launched_months_ago is not None:
            w[ago > p.launched_months_ago, j] = 0.0
        if p.discontinued_months_ago is not None:
            w[ago < p.discontinued_months_ago, j] = 0.0
    cdf = np.cumsum(w, axis=1)
    cdf /= cdf[:, -1:]
    owner = np.repeat(np.arange(cents.size), n_lines)
    line_month = month[owner] - (month.min() if month.size else 0)
    pick = (rng.random(owner.size)[:, None] > cdf[line_month]).sum(axis=1)
    pick = np.minimum(pick, len(products) - 1)

    # Split each sale's cents over its lines; the last line takes the remainder, so sums are exact.
    parts = rng.random(owner.size) + 0.3
    share = parts / np.bincount(owner, weights=parts)[owner]
    split = np.sign(cents[owner]) * np.floor(np.abs(cents[owner]) * share).astype(np.int64)
    last = np.cumsum(n_lines) - 1
    split[last] += cents - np.bincount(owner, weights=split, minlength=cents.size).astype(np.int64)
    k_in_sale = np.arange(owner.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    quantity = np.where(refund[owner], -1, 1 + rng.poisson(0.4, owner.size))

    by_sale: dict[int, list[dict[str, Any]]] = {}
    bounds = np.r_[0, np.cumsum(n_lines)]
    split_l, pick_l, qty_l, k_l = split.tolist(), pick.tolist(), quantity.tolist(), k_in_sale.tolist()
    for s, row in enumerate(sales):
        sale_id = row["id"]
        lines = []
        for li in range(int(bounds[s]), int(bounds[s + 1])):
            c = split_l[li]
            p = products[pick_l[li]]
            lines.append(
                {
                    "id": sale_id * 10 + k_l[li],
                    "sale_id": sale_id,
                    "created_at": row["created_at"],
                    "line_total": c / 100 if is_float[s] else f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}",
                    "quantity": qty_l[li],
                    "product_id": p.product_id,
                    "sku": p.sku,
                    "category": p.category,
                    "store_id": 1 + int(sale_id % 3 == 0),
                    "channel": "app" if sale_id % 5 == 0 else "web",
                    "status": row.get("status"),
                }
            )
        by_sale[sale_id] = lines
    out: list[dict[str, Any]] = []
    for pos, row in enumerate(rows):
        lines = by_sale.get(row.get("id")) if _valid_sale(row) else None
        if lines is None:
            continue
        # A repeated sale repeats its lines, ids and all: the panel counts them as duplicates.
        out.extend(lines if first[row["id"]] == pos else [dict(x) for x in lines])
    return out
