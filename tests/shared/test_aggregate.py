"""Monthly aggregation and the data_quality block (shared/engine/aggregate.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.engine.aggregate import aggregate_monthly, from_first_sale
from shared.sources.transactions import ColumnBuilder, TransactionColumns, columns_from_rows

DQ_KEYS = ["rows_fetched", "rows_used", "rows_rejected", "duplicates", "negative_totals", "months_zero_filled", "leading_empty_months", "partial_month", "partial_period"]
PARTIAL_KEYS = {"period", "total_sales", "transaction_count", "days_elapsed", "days_in_month"}


def row(id: int, created_at: str, total: str | float = "10.00") -> dict:
    return {"id": id, "created_at": created_at, "grand_total": total}


def agg(rows: list, *, tz: str = "UTC", today: date, start: date, end: date | None = None):
    cols = columns_from_rows(rows, tz)
    return aggregate_monthly(cols, timezone=tz, today=today, start_date=start, end_date=end or today)


def accounted(series) -> None:
    dq = series.data_quality
    assert list(dq) == DQ_KEYS
    assert dq["rows_fetched"] == dq["rows_used"] + sum(dq["rows_rejected"].values()) + dq["duplicates"]


class TestMonthBoundaries:
    def test_utc_instant_late_on_the_31st_is_february_in_berlin(self) -> None:
        rows = [row(1, "2025-01-31T23:30:00Z")]  # 00:30 on 1 February, CET
        s = agg(rows, tz="Europe/Berlin", today=date(2025, 3, 5), start=date(2025, 1, 1))
        assert s.periods == ["2025-01", "2025-02"]
        assert s.counts.tolist() == [0, 1]
        # ...and January in UTC.
        s = agg(rows, tz="UTC", today=date(2025, 3, 5), start=date(2025, 1, 1))
        assert s.counts.tolist() == [1, 0]

    def test_west_of_utc(self) -> None:
        rows = [row(1, "2025-03-01T03:00:00Z")]  # 22:00 on 28 February in New York (EST)
        s = agg(rows, tz="America/New_York", today=date(2025, 4, 2), start=date(2025, 2, 1))
        assert dict(zip(s.periods, s.counts.tolist())) == {"2025-02": 1, "2025-03": 0}

    def test_dst_month_ends(self) -> None:
        # Berlin is on summer time at the end of March (+2) and winter time at the end of October (+1).
        rows = [
            row(1, "2025-03-31T21:59:59Z"),  # 23:59:59 CEST, 31 March
            row(2, "2025-03-31T22:00:00Z"),  # 00:00 CEST, 1 April
            row(3, "2025-10-31T22:59:59Z"),  # 23:59:59 CET, 31 October
            row(4, "2025-10-31T23:00:00Z"),  # 00:00 CET, 1 November
            row(5, "2025-10-26 02:30:00"),  # the repeated hour, naive: still October
        ]
        s = agg(rows, tz="Europe/Berlin", today=date(2025, 12, 1), start=date(2025, 3, 1))
        by = dict(zip(s.periods, s.counts.tolist()))
        assert (by["2025-03"], by["2025-04"], by["2025-10"], by["2025-11"]) == (1, 1, 2, 1)
        accounted(s)

    def test_start_and_end_dates_are_local_days(self) -> None:
        rows = [
            row(1, "2024-12-31T23:30:00Z"),  # 1 January in Berlin: in range
            row(2, "2024-12-31T22:30:00Z"),  # 31 December in Berlin: out
            row(3, "2025-02-28T23:30:00Z"),  # 1 March in Berlin: after end_date
        ]
        s = agg(rows, tz="Europe/Berlin", today=date(2025, 6, 1), start=date(2025, 1, 1), end=date(2025, 2, 28))
        assert s.periods == ["2025-01", "2025-02"]
        assert s.counts.tolist() == [1, 0]
        assert s.data_quality["rows_rejected"] == {"out_of_range": 2}
        assert s.data_quality["partial_month"] is None
        accounted(s)


class TestWindow:
    def test_partial_month_and_zero_fill(self) -> None:
        rows = [
            row(1, "2025-01-10 12:00:00", "100.10"),
            row(2, "2025-03-10 12:00:00", "-20.05"),  # a refund: kept, counted
            row(3, "2025-03-11 12:00:00", 5),
            row(4, "2025-05-02 12:00:00", "7.77"),  # the month in progress
            row(5, "2025-05-09 12:00:00", "1.00"),  # after today
        ]
        s = agg(rows, today=date(2025, 5, 7), start=date(2025, 1, 1), end=date(2025, 5, 31))
        assert s.periods == ["2025-01", "2025-02", "2025-03", "2025-04"]
        assert s.totals.tolist() == [100.10, 0.0, -15.05, 0.0]
        assert s.counts.tolist() == [1, 0, 2, 0]
        dq = s.data_quality
        assert dq["months_zero_filled"] == ["2025-02", "2025-04"]
        assert dq["negative_totals"] == 1
        assert dq["rows_used"] == 4
        assert dq["rows_rejected"] == {"in_future": 1}
        assert dq["partial_month"] == {
            "period": "2025-05",
            "total_sales": 7.77,
            "transaction_count": 1,
            "days_elapsed": 7,
            "days_in_month": 31,
        }
        accounted(s)

    def test_partial_month_is_reported_even_when_empty(self) -> None:
        s = agg([row(1, "2025-01-10 12:00:00")], today=date(2025, 2, 1), start=date(2025, 1, 1))
        assert s.periods == ["2025-01"]
        assert s.data_quality["partial_month"] == {
            "period": "2025-02", "total_sales": 0.0, "transaction_count": 0, "days_elapsed": 1, "days_in_month": 28,
        }

    def test_start_mid_month_leaves_that_month_out(self) -> None:
        rows = [row(1, "2025-01-20 12:00:00"), row(2, "2025-02-03 12:00:00"), row(3, "2025-01-10 12:00:00")]
        s = agg(rows, today=date(2025, 3, 15), start=date(2025, 1, 15))
        assert s.periods == ["2025-02"]
        assert s.data_quality["rows_rejected"] == {"incomplete_first_month": 1, "out_of_range": 1}
        accounted(s)

    def test_end_mid_month_before_today_leaves_that_month_out(self) -> None:
        rows = [row(1, "2025-01-20 12:00:00"), row(2, "2025-02-03 12:00:00")]
        s = agg(rows, today=date(2025, 6, 15), start=date(2025, 1, 1), end=date(2025, 2, 14))
        assert s.periods == ["2025-01"]
        assert s.data_quality["rows_rejected"] == {"incomplete_last_month": 1}
        assert s.data_quality["partial_month"] is None
        accounted(s)

    def test_end_on_a_month_end(self) -> None:
        s = agg([row(1, "2025-02-28 12:00:00")], today=date(2025, 6, 15), start=date(2025, 1, 1), end=date(2025, 2, 28))
        assert s.periods == ["2025-01", "2025-02"]
        assert s.counts.tolist() == [0, 1]

    def test_empty(self) -> None:
        s = aggregate_monthly(TransactionColumns.empty(), timezone="UTC", today=date(2025, 3, 3),
                              start_date=date(2025, 1, 1), end_date=date(2025, 3, 3))
        assert s.periods == ["2025-01", "2025-02"]
        assert s.totals.tolist() == [0.0, 0.0]
        assert s.counts.dtype == np.int64
        assert s.data_quality["months_zero_filled"] == ["2025-01", "2025-02"]
        assert set(s.data_quality["partial_month"]) == PARTIAL_KEYS

    def test_end_before_start(self) -> None:
        with pytest.raises(ValueError):
            aggregate_monthly(TransactionColumns.empty(), timezone="UTC", today=date(2025, 3, 3),
                              start_date=date(2025, 2, 1), end_date=date(2025, 1, 1))

    def test_duplicates_count_once_first_seen_wins(self) -> None:
        rows = [row(1, "2025-01-05T10:00:00Z", "1.00"), row(2, "2025-01-06T10:00:00Z", "2.00"),
                row(1, "2025-01-05T10:00:00Z", "1.00"), row(1, "2025-01-05T10:00:00Z", "99.00")]
        s = agg(rows, today=date(2025, 2, 2), start=date(2025, 1, 1))
        assert s.totals.tolist() == [3.0]
        assert s.data_quality["duplicates"] == 2
        accounted(s)

    def test_sums_beyond_float_precision_stay_exact(self) -> None:
        from shared.engine.aggregate import sum_by_month

        big = 2**53 + 1  # cents; a float64 accumulator would drop the last cent
        month = np.array([0, 0, 1])
        assert sum_by_month(month, np.array([big, 1, 5], dtype=np.int64), 2).tolist() == [big + 1, 5]
        assert sum_by_month(month, np.array([7, 1, -5], dtype=np.int64), 2).tolist() == [8, -5]


# ---------------------------------------------------------------- properties

TZ = "Europe/Berlin"
TODAY = date(2025, 4, 10)
START = date(2024, 1, 1)
_LO = int(datetime(2023, 12, 25, tzinfo=timezone.utc).timestamp())
_HI = int(datetime(2025, 4, 20, tzinfo=timezone.utc).timestamp())


@st.composite
def sales(draw):
    n = draw(st.integers(min_value=0, max_value=60))
    base = []
    for i in range(n):
        secs = draw(st.integers(min_value=_LO, max_value=_HI))
        cents = draw(st.integers(min_value=-10**7, max_value=10**9))
        naive = draw(st.booleans())
        as_number = draw(st.booleans())
        dt = datetime.fromtimestamp(secs, tz=timezone.utc)
        if naive:
            local = dt.astimezone(ZoneInfo(TZ))
            created = local.strftime("%Y-%m-%d %H:%M:%S")
            # A naive time in the repeated autumn hour reads as its first occurrence.
            secs = int(local.replace(fold=0).timestamp())
        else:
            created = dt.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        total = cents / 100 if as_number else f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        base.append(({"id": 1000 + i, "created_at": created, "grand_total": total}, secs, cents))
    dups = draw(st.lists(st.integers(min_value=0, max_value=max(n - 1, 0)), max_size=10)) if n else []
    rows = [b[0] for b in base] + [dict(base[d][0]) for d in dups]
    order = draw(st.permutations(range(len(rows))))
    rows = [rows[i] for i in order]
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(rows)), max_size=6)))
    return base, rows, cuts, len(dups)


def reference(base) -> tuple[dict[str, int], dict[str, int], int]:
    """Per-month cents and counts the slow, obvious way: one datetime at a time."""
    tz = ZoneInfo(TZ)
    cents_by: dict[str, int] = {}
    count_by: dict[str, int] = {}
    out = 0
    for _row, secs, cents in base:
        local = datetime.fromtimestamp(secs, tz=timezone.utc).astimezone(tz)
        if not (START <= local.date() <= TODAY):
            out += 1
            continue
        key = f"{local.year:04d}-{local.month:02d}"
        cents_by[key] = cents_by.get(key, 0) + cents
        count_by[key] = count_by.get(key, 0) + 1
    return cents_by, count_by, out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sales())
def test_totals_exact_for_any_order_paging_and_duplicates(case) -> None:
    base, rows, cuts, n_dups = case
    builder = ColumnBuilder(TZ)
    bounds = [0, *cuts, len(rows)]
    for a, b in zip(bounds, bounds[1:]):
        builder.add_rows(rows[a:b])
    s = aggregate_monthly(builder.finish(), timezone=TZ, today=TODAY, start_date=START, end_date=TODAY)

    cents_by, count_by, out = reference(base)
    assert s.periods[0] == "2024-01" and s.periods[-1] == "2025-03" and len(s.periods) == 15
    for i, p in enumerate(s.periods):
        assert round(s.totals[i] * 100) == cents_by.get(p, 0)
        assert s.totals[i] == cents_by.get(p, 0) / 100  # the nearest float to the exact amount
        assert s.counts[i] == count_by.get(p, 0)
    dq = s.data_quality
    assert dq["duplicates"] == n_dups
    assert dq["rows_fetched"] == len(rows)
    assert dq["partial_month"]["transaction_count"] == count_by.get("2025-04", 0)
    assert round(dq["partial_month"]["total_sales"] * 100) == cents_by.get("2025-04", 0)
    assert dq["rows_rejected"].get("out_of_range", 0) == out
    assert dq["months_zero_filled"] == [p for p in s.periods if count_by.get(p, 0) == 0]
    accounted(s)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=300), st.randoms(use_true_random=False))
def test_dedup_matches_python_for_any_order(ids, rnd) -> None:
    # Identical repeats in any order: what survives is one row per id.
    rnd.shuffle(ids)
    t = np.datetime64("2025-01-05", "ns").astype(np.int64)
    cols = TransactionColumns(
        ids=np.array(ids, dtype=np.int64),
        ts_ns=np.full(len(ids), t, dtype=np.int64),
        cents=np.array(ids, dtype=np.int64),  # the amount is a function of the id, as for true repeats
        rows_fetched=len(ids),
    )
    s = aggregate_monthly(cols, timezone="UTC", today=date(2025, 2, 1), start_date=date(2025, 1, 1), end_date=date(2025, 2, 1))
    assert s.counts.tolist() == [len(set(ids))]
    assert round(s.totals[0] * 100) == sum(set(ids))
    assert s.data_quality["duplicates"] == len(ids) - len(set(ids))


def test_months_are_contiguous_over_years() -> None:
    s = agg([], today=date(2025, 3, 1), start=date(2021, 11, 1))
    first = date(2021, 11, 1)
    expected = []
    d = first
    while d < date(2025, 3, 1):
        expected.append(f"{d:%Y-%m}")
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert s.periods == expected


class TestFromFirstSale:
    """History starts at the first month with a sale (docs/api.md §5)."""

    def test_leading_empty_months_are_listed_not_kept(self) -> None:
        rows = [row(1, "2025-03-10T10:00:00Z"), row(2, "2025-05-10T10:00:00Z")]
        s = from_first_sale(agg(rows, today=date(2025, 7, 2), start=date(2024, 12, 1)))
        assert s.periods == ["2025-03", "2025-04", "2025-05", "2025-06"]
        assert s.counts.tolist() == [1, 0, 1, 0]
        # the gap after the first sale is a real zero and stays
        assert s.data_quality["months_zero_filled"] == ["2025-04", "2025-06"]
        assert s.data_quality["leading_empty_months"] == ["2024-12", "2025-01", "2025-02"]
        accounted(s)

    def test_same_series_as_a_window_that_starts_at_the_first_sale(self) -> None:
        rows = [row(i, f"2025-{m:02d}-0{1 + i % 8}T10:00:00Z", f"{i}.50") for i, m in enumerate([3, 3, 4, 6, 6], 1)]
        wide = from_first_sale(agg(rows, today=date(2025, 7, 2), start=date(2023, 1, 1)))
        narrow = from_first_sale(agg(rows, today=date(2025, 7, 2), start=date(2025, 3, 1)))
        assert wide.periods == narrow.periods and wide.totals.tolist() == narrow.totals.tolist()
        assert len(wide.data_quality["leading_empty_months"]) == 26
        assert narrow.data_quality["leading_empty_months"] == []

    def test_no_sale_at_all_leaves_no_history(self) -> None:
        s = from_first_sale(agg([], today=date(2025, 7, 2), start=date(2024, 7, 1)))
        assert s.periods == [] and len(s.data_quality["leading_empty_months"]) == 12
        assert s.data_quality["months_zero_filled"] == []

    def test_only_a_partial_month_is_no_history(self) -> None:
        s = from_first_sale(agg([row(1, "2025-07-01T10:00:00Z")], today=date(2025, 7, 2), start=date(2025, 1, 1)))
        assert s.periods == [] and s.data_quality["partial_month"]["transaction_count"] == 1
