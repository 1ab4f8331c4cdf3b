"""Transactions → a sales series per period plus the ``data_quality`` block (docs/api.md §5, §10).

Periods are the job's frequency (:mod:`shared.contract.calendar`): calendar months, ISO weeks or
days in the business's time zone. Their boundaries are computed once with zoneinfo
(:class:`shared.engine.periods.PeriodGrid`, DST-exact) and every transaction is placed with one
``np.searchsorted``; sums are over integer cents, so totals are exact to the cent.

Which periods count (``start_date``/``end_date`` are inclusive local dates):

* ``periods`` are *complete* periods only, oldest first, zero-filled. The first is ``start_date``'s
  period when ``start_date`` is its first day, otherwise the next one: a period seen from its middle
  would look like a slump and mislead every model. Its rows are reported as rejected
  ``incomplete_first_month`` (``incomplete_first_period`` for weeks).
* The last is the period before the one containing ``today``, or earlier when ``end_date`` is
  earlier. If ``end_date`` cuts a period short (and that period is before today's), that period is
  left out too and its rows are rejected ``incomplete_last_month`` (``incomplete_last_period``).
* The period containing ``today`` is never trained on; it is ``data_quality.partial_period``
  (monthly jobs: also ``partial_month``, as always; null when ``end_date`` is before it).
  ``days_elapsed`` counts the days it covers, today included, so
  ``total_sales / days_elapsed * days_in_period`` is a naive full-period estimate.
* Rows dated after ``today`` are rejected ``in_future``; rows outside ``[start_date, end_date]``
  are rejected ``out_of_range``.

Every fetched row is accounted for exactly once:
``rows_fetched == rows_used + sum(rows_rejected.values()) + duplicates``.

History starts at the first period with a sale (docs/api.md §5): :func:`from_first_sale` drops the
empty periods before it, which a window reaching back before a young shop opened would otherwise
present as real zeros, and lists them in ``data_quality.leading_empty_months`` (the name is the
monthly one; it lists periods of the job's frequency). Empty periods after the first sale are real
zeros and stay.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.engine.periods import PeriodGrid, local_midnight_ns
from shared.sources.transactions import TransactionColumns, validate_timezone

OUT_OF_RANGE = "out_of_range"
IN_FUTURE = "in_future"
INCOMPLETE_FIRST_MONTH = "incomplete_first_month"
INCOMPLETE_LAST_MONTH = "incomplete_last_month"
INCOMPLETE_FIRST_PERIOD = "incomplete_first_period"
INCOMPLETE_LAST_PERIOD = "incomplete_last_period"
# A float64 bincount adds integers exactly while every partial sum stays below 2**53.
_EXACT_FLOAT_SUM = 2**53


@dataclass
class PeriodSeries:
    """Complete periods (labels, totals, counts) and the data-quality block.

    ``grid`` is where each of ``periods`` starts and ends (DST-exact instants): the panel places
    sale lines with it, so lines and sales fall into exactly the same periods.
    """

    periods: list[str]
    totals: np.ndarray
    counts: np.ndarray
    data_quality: dict[str, Any]
    frequency: Frequency = Frequency.MONTH
    grid: PeriodGrid | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.periods)


MonthlySeries = PeriodSeries  # the name it had when every job was monthly


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


def aggregate(
    cols: TransactionColumns,
    *,
    frequency: Frequency | str = Frequency.MONTH,
    timezone: str,
    today: date,
    start_date: date,
    end_date: date,
) -> PeriodSeries:
    """Totals and counts of ``cols`` per period (see the module docstring for which periods count)."""
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    f = Frequency(frequency)
    monthly = f is Frequency.MONTH
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
    if not in_range.all():  # usually all are: the fetch asked for this window (no copies then)
        ts, cents = ts[in_range], cents[in_range]
    del in_range

    # Periods spanned by the rows that are left: start_date's period .. min(end_date, today)'s.
    first_m = calendar.period_index(start_date, f)
    last_seen_m = calendar.period_index(min(end_date, today), f)
    today_m = calendar.period_index(today, f)
    n_m = max(last_seen_m - first_m + 1, 0)
    grid = PeriodGrid.spanning(first_m, n_m, f, timezone)
    month = grid.place(ts) if n_m else np.zeros(0, dtype=np.int64)
    counts_all = np.bincount(month, minlength=n_m).astype(np.int64) if n_m else np.zeros(0, np.int64)
    sums_all = sum_by_month(month, cents, n_m)

    # Which of those periods are complete.
    first_complete = first_m if start_date == calendar.period_start(first_m, f) else first_m + 1
    end_m = calendar.period_index(end_date, f)
    end_is_period_end = end_date == calendar.period_end(end_m, f)
    last_complete = min(today_m - 1, end_m if end_is_period_end else end_m - 1)

    # Classify each spanned month once; rows inherit their month's class.
    k_lo, k_hi = first_complete - first_m, last_complete - first_m  # inclusive, may be empty
    is_period = np.zeros(n_m, dtype=bool)
    if k_hi >= k_lo:
        is_period[max(k_lo, 0) : k_hi + 1] = True
    kept = np.flatnonzero(is_period)
    periods = [calendar.label(first_m + int(k), f) for k in kept]
    counts = counts_all[is_period]
    totals_cents = sums_all[is_period]
    period_grid = grid.sub(int(kept[0]), int(kept[-1]) + 1) if kept.size else grid.sub(0, 0)

    used_month = is_period.copy()
    partial_month: dict[str, Any] | None = None
    partial_period: dict[str, Any] | None = None
    k_today = today_m - first_m
    if end_date >= calendar.period_start(today_m, f) and 0 <= k_today < n_m:
        used_month[k_today] = True
        days_elapsed = (min(today, end_date) - calendar.period_start(today_m, f)).days + 1
        days_in_period = calendar.period_days(today_m, f)
        partial_period = {
            "period": calendar.label(today_m, f),
            "start": calendar.period_start(today_m, f).isoformat(),
            "end": calendar.period_end(today_m, f).isoformat(),
            "total_sales": int(sums_all[k_today]) / 100,
            "transaction_count": int(counts_all[k_today]),
            "days_elapsed": days_elapsed,
            "days_in_period": days_in_period,
        }
        if monthly:
            partial_month = {
                "period": partial_period["period"],
                "total_sales": partial_period["total_sales"],
                "transaction_count": partial_period["transaction_count"],
                "days_elapsed": days_elapsed,
                "days_in_month": days_in_period,
            }
    if n_m and not used_month[0] and first_complete != first_m:
        reject(INCOMPLETE_FIRST_MONTH if monthly else INCOMPLETE_FIRST_PERIOD, int(counts_all[0]))
        left_out = ~used_month
        left_out[0] = False
    else:
        left_out = ~used_month
    # The only other period that can be left out is end_date's, when end_date cuts it short.
    reject(INCOMPLETE_LAST_MONTH if monthly else INCOMPLETE_LAST_PERIOD, int(counts_all[left_out].sum()))

    rows_used = int(counts_all[used_month].sum())
    negative_totals = int(np.count_nonzero((cents < 0) & used_month[month])) if n_m else 0

    zero_filled = [p for p, c in zip(periods, counts) if c == 0]
    data_quality = {
        "rows_fetched": int(cols.rows_fetched),
        "rows_used": rows_used,
        "rows_rejected": dict(sorted(rejected.items())),
        "duplicates": duplicates,
        "negative_totals": negative_totals,
        "months_zero_filled": zero_filled,
        "leading_empty_months": [],
        **({"partial_month": partial_month} if monthly else {}),
        "partial_period": partial_period,
    }
    return PeriodSeries(
        periods=periods,
        totals=totals_cents.astype(np.float64) / 100.0,
        counts=np.asarray(counts, dtype=np.int64),
        data_quality=data_quality,
        frequency=f,
        grid=period_grid,
    )


def aggregate_monthly(cols: TransactionColumns, **kwargs: Any) -> PeriodSeries:
    """:func:`aggregate` by calendar month."""
    return aggregate(cols, frequency=Frequency.MONTH, **kwargs)


def from_first_sale(series: PeriodSeries) -> PeriodSeries:
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
    grid = series.grid.sub(first, len(series.periods)) if series.grid is not None else None
    return PeriodSeries(
        periods=series.periods[first:],
        totals=series.totals[first:],
        counts=series.counts[first:],
        data_quality=quality,
        frequency=series.frequency,
        grid=grid,
    )
