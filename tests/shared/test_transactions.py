"""Row validation and parsing into columns (shared/sources/transactions.py)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contract.errors import InvalidRequest
from shared.engine.aggregate import aggregate_monthly
from shared.sources.transactions import ColumnBuilder, columns_from_rows, hash_id, read_csv


def ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def one(created_at: object = "2025-01-03T10:15:00Z", grand_total: object = "1.00", id: object = 1, tz: str = "UTC"):
    return columns_from_rows([{"id": id, "created_at": created_at, "grand_total": grand_total}], tz)


class TestTimestamps:
    def test_laravel_utc_format(self) -> None:
        cols = one("2025-01-03T10:15:00.000000Z")
        assert cols.ts_ns.tolist() == [ns(datetime(2025, 1, 3, 10, 15, tzinfo=timezone.utc))]

    def test_offset_is_honoured_whatever_the_sales_zone(self) -> None:
        cols = one("2025-01-03T10:15:00+02:00", tz="America/New_York")
        assert cols.ts_ns.tolist() == [ns(datetime(2025, 1, 3, 8, 15, tzinfo=timezone.utc))]

    def test_naive_is_read_in_the_sales_zone(self) -> None:
        cols = one("2025-07-01 00:30:00", tz="Europe/Berlin")  # CEST, UTC+2
        assert cols.ts_ns.tolist() == [ns(datetime(2025, 6, 30, 22, 30, tzinfo=timezone.utc))]

    def test_mixed_page_of_naive_and_zoned(self) -> None:
        rows = [
            {"id": 1, "created_at": "2025-01-01 00:30:00", "grand_total": 1},
            {"id": 2, "created_at": "2025-01-01T00:30:00Z", "grand_total": 1},
            {"id": 3, "created_at": "2025-01-01T00:30:00-05:00", "grand_total": 1},
        ]
        cols = columns_from_rows(rows, "Europe/Berlin")
        expected = [
            datetime(2024, 12, 31, 23, 30, tzinfo=timezone.utc),
            datetime(2025, 1, 1, 0, 30, tzinfo=timezone.utc),
            datetime(2025, 1, 1, 5, 30, tzinfo=timezone.utc),
        ]
        assert cols.ts_ns.tolist() == [ns(d) for d in expected]

    def test_dst_gap_and_repeated_hour_are_not_rejected(self) -> None:
        rows = [
            {"id": 1, "created_at": "2025-03-30 02:30:00", "grand_total": 1},  # does not exist in Berlin
            {"id": 2, "created_at": "2025-10-26 02:30:00", "grand_total": 1},  # happens twice
        ]
        cols = columns_from_rows(rows, "Europe/Berlin")
        assert cols.rejected == {}
        assert cols.ts_ns.tolist() == [
            ns(datetime(2025, 3, 30, 1, 0, tzinfo=timezone.utc)),  # moved forward to 03:00 CEST
            ns(datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc)),  # first reading (CEST)
        ]

    def test_unknown_zone_is_a_clear_error(self) -> None:
        with pytest.raises(InvalidRequest, match="Mars/Olympus"):
            ColumnBuilder("Mars/Olympus")


class TestGrandTotal:
    @pytest.mark.parametrize(
        ("value", "cents"),
        [
            ("1234.50", 123450),
            ("0.1", 10),
            ("-12.34", -1234),
            (" 7 ", 700),
            (1234.5, 123450),
            (19, 1900),
            (0.125, 12),  # half-even: 12.5 → 12
            (0.135, 14),  # shortest repr "0.135" → 13.5 → 14
            (1.005, 100),  # the JSON text "1.005", not the binary 1.00499…
            ("2.675", 268),
            ("1.00500000000000001", 101),  # just above the tie
            ("90071992547409.93", 9007199254740993),  # beyond float precision
        ],
    )
    def test_exact_cents(self, value: object, cents: int) -> None:
        cols = one(grand_total=value)
        assert cols.rejected == {}
        assert cols.cents.tolist() == [cents]

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (None, "missing_grand_total"),
            ("", "missing_grand_total"),
            ("abc", "bad_grand_total"),
            (True, "bad_grand_total"),
            (float("nan"), "bad_grand_total"),
            (float("inf"), "bad_grand_total"),
            ("NaN", "bad_grand_total"),
            ({"amount": 1}, "bad_grand_total"),
            ("1e30", "bad_grand_total"),  # does not fit int64 cents
        ],
    )
    def test_rejected(self, value: object, reason: str) -> None:
        cols = one(grand_total=value)
        assert len(cols) == 0
        assert cols.rejected == {reason: 1}
        assert cols.rows_fetched == 1

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False), min_size=1, max_size=50))
    def test_decimal_strings_round_half_even(self, values: list[Decimal]) -> None:
        rows = [{"id": i, "created_at": "2025-01-01T00:00:00Z", "grand_total": str(v)} for i, v in enumerate(values)]
        cols = columns_from_rows(rows)
        expected = [int((v * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for v in values]
        assert cols.cents.tolist() == expected

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(min_value=-10**13, max_value=10**13), min_size=1, max_size=50))
    def test_numbers_of_two_decimals_are_exact(self, cents: list[int]) -> None:
        rows = [{"id": i, "created_at": "2025-01-01T00:00:00Z", "grand_total": c / 100} for i, c in enumerate(cents)]
        assert columns_from_rows(rows).cents.tolist() == cents


class TestRows:
    def test_reasons_are_counted_once_per_row(self) -> None:
        rows = [
            "not a row",
            [1, 2],
            {"created_at": "2025-01-01T00:00:00Z", "grand_total": "1"},
            {"id": [1], "created_at": "2025-01-01T00:00:00Z", "grand_total": "1"},
            {"id": 5, "grand_total": "1"},
            {"id": 6, "created_at": "yesterday", "grand_total": "1"},
            {"id": 7, "created_at": 1735689600, "grand_total": "1"},
            {"id": 8, "created_at": "2025-01-01T00:00:00Z"},
            {"id": None, "created_at": None, "grand_total": None},  # first failing field wins
            {"id": 10, "created_at": "2025-01-01T00:00:00Z", "grand_total": "1"},
        ]
        cols = columns_from_rows(rows)
        assert cols.rows_fetched == 10
        assert cols.ids.tolist() == [10]
        assert cols.rejected == {
            "not_an_object": 2,
            "missing_id": 2,
            "bad_id": 1,
            "missing_created_at": 1,
            "bad_created_at": 2,
            "missing_grand_total": 1,
        }

    def test_ids(self) -> None:
        rows = [
            {"id": 42, "created_at": "2025-01-01T00:00:00Z", "grand_total": 1},
            {"id": "42", "created_at": "2025-01-01T00:00:00Z", "grand_total": 1},
            {"id": "9b2f6c1e-0000-4000-8000-000000000001", "created_at": "2025-01-01T00:00:00Z", "grand_total": 1},
            {"id": 2**70, "created_at": "2025-01-01T00:00:00Z", "grand_total": 1},
        ]
        cols = columns_from_rows(rows)
        assert cols.ids.dtype == np.int64
        assert cols.ids.tolist() == [
            42,
            42,
            hash_id("9b2f6c1e-0000-4000-8000-000000000001"),
            hash_id(str(2**70)),
        ]
        # Stable across processes and runs: blake2b, not Python's salted hash().
        assert hash_id("abc") == -2829645022057097895

    def test_pages_accumulate(self) -> None:
        b = ColumnBuilder("UTC")
        b.add_rows([{"id": 1, "created_at": "2025-01-01T00:00:00Z", "grand_total": "1.10"}])
        b.add_rows([])
        b.add_rows([{"id": 2, "created_at": "2025-01-02 00:00:00", "grand_total": 2}, None])
        cols = b.finish()
        assert cols.ids.tolist() == [1, 2]
        assert cols.cents.tolist() == [110, 200]
        assert cols.rows_fetched == 3
        assert cols.rejected == {"not_an_object": 1}


class TestCsv:
    def test_read_csv(self, tmp_path) -> None:
        path = tmp_path / "sales.csv"
        path.write_text(
            "id,created_at,grand_total,customer\n"
            "1,2025-01-03 10:15:00,1234.50,a\n"
            "2,2025-01-03T10:15:00Z,0.10,b\n"
            "3,,5,c\n"
            "4,2025-01-03T10:15:00Z,,d\n"
        )
        cols = read_csv(path, timezone="Europe/Berlin")
        assert cols.ids.tolist() == [1, 2]
        assert cols.cents.tolist() == [123450, 10]
        assert cols.ts_ns[0] == ns(datetime(2025, 1, 3, 10, 15, tzinfo=ZoneInfo("Europe/Berlin")))
        assert cols.rejected == {"missing_created_at": 1, "missing_grand_total": 1}
        assert cols.rows_fetched == 4

    def test_missing_column(self, tmp_path) -> None:
        path = tmp_path / "sales.csv"
        path.write_text("id,date,total\n1,2025-01-01,5\n")
        with pytest.raises(InvalidRequest, match="created_at"):
            read_csv(path)


class TestRepeatedRows:
    """Rows that share an id count once (docs/api.md §3), bad ones too: Laravel repeats rows across
    pages when its ordering is not unique or rows arrive while it pages."""

    BAD = {
        "bad_created_at": {"created_at": "yesterday at noon"},
        "missing_grand_total": {"grand_total": None},
        "bad_grand_total": {"grand_total": "12,50 €"},
    }

    def row(self, id: int, kind: str) -> dict:
        base = {"id": id, "created_at": f"2025-02-{1 + id % 28:02d}T10:00:00Z", "grand_total": "10.00"}
        return {**base, **self.BAD.get(kind, {})}

    def quality(self, pages: list[list[dict]]) -> dict:
        builder = ColumnBuilder("UTC")
        for page in pages:
            builder.add_rows(page)
        return aggregate_monthly(builder.finish(), timezone="UTC", today=date(2025, 4, 2),
                                 start_date=date(2025, 1, 1), end_date=date(2025, 4, 2)).data_quality

    def test_a_bad_row_on_two_pages_is_one_rejection_and_one_duplicate(self) -> None:
        bad = self.row(7, "bad_created_at")
        dq = self.quality([[self.row(1, "good"), bad], [dict(bad), self.row(2, "good")]])
        assert dq["rows_rejected"] == {"bad_created_at": 1}
        assert dq["duplicates"] == 1
        assert (dq["rows_fetched"], dq["rows_used"]) == (4, 2)

    def test_a_bad_copy_of_a_good_row_is_a_duplicate_of_it(self) -> None:
        dq = self.quality([[self.row(3, "bad_grand_total")], [self.row(3, "good")]])
        assert dq["rows_rejected"] == {} and dq["duplicates"] == 1 and dq["rows_used"] == 1

    def test_rows_without_an_id_cannot_repeat(self) -> None:
        no_id = {"created_at": "2025-02-03T10:00:00Z", "grand_total": "1.00"}
        dq = self.quality([[no_id], [dict(no_id)]])
        assert dq["rows_rejected"] == {"missing_id": 2} and dq["duplicates"] == 0

    @settings(max_examples=150, deadline=None)
    @given(
        kinds=st.lists(st.sampled_from(["good", "no_id", *BAD]), min_size=1, max_size=30),
        served=st.lists(st.integers(0, 29), min_size=1, max_size=80),
        page_size=st.integers(1, 12),
    )
    def test_each_distinct_bad_row_is_rejected_once_and_each_repeat_is_one_duplicate(
        self, kinds: list[str], served: list[int], page_size: int
    ) -> None:
        rows = [
            {"created_at": "2025-02-03T10:00:00Z", "grand_total": "1.00"} if kind == "no_id" else self.row(i + 1, kind)
            for i, kind in enumerate(kinds)
        ]
        sequence = [dict(rows[i % len(rows)]) for i in served]
        pages = [sequence[k : k + page_size] for k in range(0, len(sequence), page_size)]
        dq = self.quality(pages)

        served_kinds = [kinds[i % len(rows)] for i in served]
        distinct = {i % len(rows) for i in served}
        expected_rejected = {reason: sum(1 for i in distinct if kinds[i] == reason) for reason in self.BAD}
        expected_rejected["missing_id"] = served_kinds.count("no_id")
        with_id = len(served) - served_kinds.count("no_id")
        distinct_with_id = sum(1 for i in distinct if kinds[i] != "no_id")

        assert dq["rows_rejected"] == {k: v for k, v in expected_rejected.items() if v}
        assert dq["duplicates"] == with_id - distinct_with_id
        assert dq["rows_used"] == sum(1 for i in distinct if kinds[i] == "good")
        assert dq["rows_fetched"] == dq["rows_used"] + sum(dq["rows_rejected"].values()) + dq["duplicates"]
