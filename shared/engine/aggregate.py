"""Transactions → a monthly sales series plus the ``data_quality`` block (docs/api.md §5).

Months are calendar months in the business's time zone. Month boundaries are computed once with
zoneinfo (a handful of instants, DST-exact) and every transaction is placed with one
``np.searchsorted``; sums are over integer cents, so totals are exact to the cent.

Which months count (``start_date``/``end_date`` are inclusive local dates):

* ``periods`` are *complete* months only, oldest first, zero-filled. The first is ``start_date``'s
  month when ``start_date`` is the 1st, otherwise the month after: a month seen from its middle
  would look like a slump and mislead every model. Its rows are reported as rejected
  ``incomplete_first_month``.
* The last is the month before the one containing ``today``, or earlier when ``end_date`` is
  earlier. If ``end_date`` cuts a month short (and that month is before today's), that month is left
  out too and its rows are rejected ``incomplete_last_month``.
* The month containing ``today`` is never a period; it is ``data_quality.partial_month`` (null when
  ``end_date`` is before it). ``days_elapsed`` counts the days it covers, today included
  (``min(today, end_date).day``), so ``total_sales / days_elapsed * days_in_month`` is a naive
  full-month estimate.
* Rows dated after ``today`` are rejected ``in_future``; rows outside ``[start_date, end_date]``
  are rejected ``out_of_range``.

Every fetched row is accounted for exactly once:
``rows_fetched == rows_used + sum(rows_rejected.values()) + duplicates``.

History starts at the first month with a sale (docs/api.md §5): :func:`from_first_sale` drops the
empty months before it, which a window reaching back before a young shop opened would otherwise
present as real zeros, and lists them in ``data_quality.leading_empty_months``. Empty months
after the first sale are real zeros and stay.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from shared.sources.transactions import TransactionColumns, validate_timezone

OUT_OF_RANGE = "out_of_range"
IN_FUTURE = "in_future"
INCOMPLETE_FIRST_MONTH = "incomplete_first_month"
INCOMPLETE_LAST_MONTH = "incomplete_last_month"

_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
# A float64 bincount adds integers exactly while every partial sum stays below 2**53.
_EXACT_FLOAT_SUM = 2**53


@dataclass
class MonthlySeries:
    periods: list[str]
    totals: np.ndarray
    counts: np.ndarray
    data_quality: dict[str, Any]

    def __len__(self) -> int:
        return len(self.periods)


def local_midnight_ns(day: date, tz: ZoneInfo) -> int:
    """The UTC instant (ns) at which ``day`` starts in ``tz``.

    Where midnight does not exist (zones that switch DST at 00:00) zoneinfo reads it with the
    pre-transition offset, which lands exactly on the transition: still the first instant of the day.
    """
    delta = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(dt_timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _period(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_occurrences(ids: np.ndarray) -> np.ndarray | None:
    """Mask keeping the first row of each id, or None when ids are already unique."""
    n = ids.shape[0]
    if n < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return None  # Laravel usually orders by id: the O(n) check spares the sort
    # Stable sort keeps page order inside a run of equal ids, so the run's head is the first seen.
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    head = np.empty(n, dtype=bool)
    head[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=head[1:])
    keep = np.zeros(n, dtype=bool)
    keep[order[head]] = True
    return keep


def sum_by_month(month: np.ndarray, cents: np.ndarray, n_months: int) -> np.ndarray:
    """Exact int64 cent sums per month index."""
    if cents.size == 0:
        return np.zeros(n_months, dtype=np.int64)
    if int(np.abs(cents).sum(dtype=np.uint64)) < _EXACT_FLOAT_SUM:
        return np.rint(np.bincount(month, weights=cents, minlength=n_months)).astype(np.int64)
    # Rare: sums beyond 2**53 cents. Sort by month and add runs in int64.
    order = np.argsort(month, kind="stable")
    m = month[order]
    starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
    out = np.zeros(n_months, dtype=np.int64)
    out[m[starts]] = np.add.reduceat(cents[order], starts)
    return out


def aggregate_monthly(
    cols: TransactionColumns,
    *,
    timezone: str,
    today: date,
    start_date: date,
    end_date: date,
) -> MonthlySeries:
    """Monthly totals and counts of ``cols`` (see the module docstring for which months count)."""
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    tz = validate_timezone(timezone)
    rejected: dict[str, int] = dict(cols.rejected)

    def reject(reason: str, count: int) -> None:
        if count:
            rejected[reason] = rejected.get(reason, 0) + count

    ids, ts, cents = cols.ids, cols.ts_ns, cols.cents
    keep = first_occurrences(ids)
    duplicates = int(cols.duplicates)  # rejected rows seen again, settled while parsing
    if keep is not None:
        duplicates += int(ids.shape[0] - np.count_nonzero(keep))
        ts, cents = ts[keep], cents[keep]

    # Day window: [start_date, end_date] locally; rows after today cannot belong to any month yet.
    start_ns = local_midnight_ns(start_date, tz)
    end_ns = local_midnight_ns(end_date + timedelta(days=1), tz)
    tomorrow_ns = local_midnight_ns(today + timedelta(days=1), tz)
    in_range = (ts >= start_ns) & (ts < end_ns)
    reject(OUT_OF_RANGE, int(ts.shape[0] - np.count_nonzero(in_range)))
    if tomorrow_ns < end_ns:
        future = in_range & (ts >= tomorrow_ns)
        reject(IN_FUTURE, int(np.count_nonzero(future)))
        in_range &= ~future
    ts, cents = ts[in_range], cents[in_range]

    # Months spanned by the rows that are left: start_date's month .. min(end_date, today)'s month.
    first_m = _month_index(start_date)
    last_seen_m = _month_index(min(end_date, today))
    today_m = _month_index(today)
    n_m = max(last_seen_m - first_m + 1, 0)
    bounds = np.array(
        [local_midnight_ns(_month_start(first_m + k), tz) for k in range(n_m + 1)], dtype=np.int64
    )
    month = np.searchsorted(bounds, ts, side="right") - 1 if n_m else np.zeros(0, dtype=np.int64)
    counts_all = np.bincount(month, minlength=n_m).astype(np.int64) if n_m else np.zeros(0, np.int64)
    sums_all = sum_by_month(month, cents, n_m)

    # Which of those months are complete periods.
    first_complete = first_m if start_date.day == 1 else first_m + 1
    end_m = _month_index(end_date)
    end_is_month_end = end_date.day == calendar.monthrange(end_date.year, end_date.month)[1]
    last_complete = min(today_m - 1, end_m if end_is_month_end else end_m - 1)

    # Classify each spanned month once; rows inherit their month's class.
    k_lo, k_hi = first_complete - first_m, last_complete - first_m  # inclusive, may be empty
    is_period = np.zeros(n_m, dtype=bool)
    if k_hi >= k_lo:
        is_period[max(k_lo, 0) : k_hi + 1] = True
    periods = [_period(first_m + k) for k in np.flatnonzero(is_period)]
    counts = counts_all[is_period]
    totals_cents = sums_all[is_period]

    used_month = is_period.copy()
    partial_month: dict[str, Any] | None = None
    k_today = today_m - first_m
    if end_date >= _month_start(today_m) and 0 <= k_today < n_m:
        used_month[k_today] = True
        partial_month = {
            "period": _period(today_m),
            "total_sales": int(sums_all[k_today]) / 100,
            "transaction_count": int(counts_all[k_today]),
            "days_elapsed": min(today, end_date).day,
            "days_in_month": calendar.monthrange(today.year, today.month)[1],
        }
    if n_m and not used_month[0] and first_complete != first_m:
        reject(INCOMPLETE_FIRST_MONTH, int(counts_all[0]))
        left_out = ~used_month
        left_out[0] = False
    else:
        left_out = ~used_month
    # The only other month that can be left out is end_date's, when end_date cuts it short.
    reject(INCOMPLETE_LAST_MONTH, int(counts_all[left_out].sum()))

    rows_used = int(counts_all[used_month].sum())
    negative_totals = int(np.count_nonzero(cents[used_month[month]] < 0)) if n_m else 0

    zero_filled = [p for p, c in zip(periods, counts) if c == 0]
    data_quality = {
        "rows_fetched": int(cols.rows_fetched),
        "rows_used": rows_used,
        "rows_rejected": dict(sorted(rejected.items())),
        "duplicates": duplicates,
        "negative_totals": negative_totals,
        "months_zero_filled": zero_filled,
        "leading_empty_months": [],
        "partial_month": partial_month,
    }
    return MonthlySeries(
        periods=periods,
        totals=totals_cents.astype(np.float64) / 100.0,
        counts=np.asarray(counts, dtype=np.int64),
        data_quality=data_quality,
    )


def from_first_sale(series: MonthlySeries) -> MonthlySeries:
    """``series`` from its first month with a sale on; the months before it are not history.

    They are listed in ``data_quality.leading_empty_months`` and leave ``months_zero_filled``. A
    series without any sale keeps no period at all. The result is the series a window starting
    at the first sale gives, so both train the same model on the same months.
    """
    with_sales = np.flatnonzero(series.counts > 0)
    first = int(with_sales[0]) if with_sales.size else len(series.periods)
    leading = series.periods[:first]
    quality = dict(series.data_quality)
    quality["leading_empty_months"] = list(quality.get("leading_empty_months", [])) + leading
    quality["months_zero_filled"] = quality["months_zero_filled"][len(leading):]
    return MonthlySeries(
        periods=series.periods[first:],
        totals=series.totals[first:],
        counts=series.counts[first:],
        data_quality=quality,
    )
