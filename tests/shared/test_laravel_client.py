"""The Laravel client against a real HTTP server (local/fake_laravel.py): no mocked requests."""
from __future__ import annotations

import socket
import time
from datetime import date

import numpy as np
import pytest

from local.fake_laravel import FakeLaravel, Faults
from shared.contract.errors import Cancelled, LaravelDeadlinePassed, UpstreamInvalid, UpstreamUnavailable
from shared.sources.deadline import Deadline
from shared.sources.laravel_client import LaravelClient
from shared.sources.transactions import TransactionColumns

START, END = date(2025, 1, 1), date(2025, 3, 31)
TOKEN = "s3cret-token-value"


def sales_rows(n: int = 250) -> list[dict]:
    rows = []
    for i in range(n):
        day = 1 + i % 28
        month = 1 + i % 3
        rows.append({
            "id": i + 1,
            "created_at": f"2025-{month:02d}-{day:02d}T10:{i % 60:02d}:00.000000Z" if i % 2 else f"2025-{month:02d}-{day:02d} 10:{i % 60:02d}:00",
            "grand_total": f"{i}.{i % 100:02d}",
            "status": "completed",
        })
    return rows


def client(base: str, **kw) -> LaravelClient:
    # Tiny backoff so retry tests take milliseconds.
    opts = {"timeout": 2.0, "max_retries": 2, "backoff_base": 0.01, "backoff_max": 0.05}
    opts.update(kw)
    return LaravelClient(base, **opts)


def expected_cents(rows: list[dict]) -> list[int]:
    return [int(round(float(r["grand_total"]) * 100)) for r in rows]


@pytest.mark.parametrize("paginator", ["length_aware", "simple", "cursor", "plain"])
def test_every_paginator(paginator: str) -> None:
    rows = sales_rows(250)
    fake = FakeLaravel(rows, paginator=paginator, per_page=40)
    pages: list[tuple[int, int | None]] = []
    with fake as base:
        cols = client(base).fetch_sales(START, END, on_page=lambda done, last: pages.append((done, last)))
    assert cols.ids.tolist() == list(range(1, 251))
    assert cols.cents.tolist() == expected_cents(rows)
    assert cols.rows_fetched == 250 and cols.rejected == {}
    n_pages = 1 if paginator == "plain" else 7
    assert len(fake.requests) == n_pages
    assert [p[0] for p in pages] == list(range(1, n_pages + 1))
    if paginator == "length_aware":
        assert {p[1] for p in pages} == {7}
    first = fake.requests[0]
    assert first.query == {"start_date": "2025-01-01", "end_date": "2025-03-31", "status": "completed", "page": "1"}


def test_filters_are_kept_when_links_lack_them() -> None:
    # A Laravel app that forgot ->withQueryString() links to "?page=2" only.
    rows = sales_rows(100)
    rows.append({"id": 999, "created_at": "2024-06-01T00:00:00Z", "grand_total": "1", "status": "completed"})
    fake = FakeLaravel(rows, paginator="simple", per_page=30, with_query_string=False)
    with fake as base:
        cols = client(base).fetch_sales(START, END)
    assert 999 not in cols.ids.tolist()
    assert all(r.query.get("start_date") == "2025-01-01" for r in fake.requests)
    assert [r.query["page"] for r in fake.requests] == ["1", "2", "3", "4"]


def test_status_filter_and_number_totals() -> None:
    rows = sales_rows(10)
    rows[3]["status"] = "cancelled"
    cols_in = TransactionColumns(
        ids=np.array([1, 2], dtype=np.int64),
        ts_ns=np.array([np.datetime64("2025-02-01T12:00", "ns").astype(np.int64)] * 2),
        cents=np.array([-1050, 99999], dtype=np.int64),
        rows_fetched=2,
    )
    with FakeLaravel(rows, per_page=4) as base:
        cols = client(base).fetch_sales(START, END)
    assert 4 not in cols.ids.tolist() and len(cols) == 9
    with FakeLaravel(cols_in, grand_total_as="number") as base:
        cols = client(base).fetch_sales(START, END)
    assert cols.cents.tolist() == [-1050, 99999]


def test_bad_rows_are_counted_not_fatal() -> None:
    rows = sales_rows(5) + [
        {"id": 50, "created_at": "garbage", "grand_total": "1"},
        {"id": 51, "created_at": "2025-01-01T00:00:00Z", "grand_total": "abc"},
        "junk",
    ]
    with FakeLaravel(rows, per_page=3) as base:
        cols = client(base).fetch_sales(START, END)
    assert len(cols) == 5 and cols.rows_fetched == 8
    assert cols.rejected == {"bad_created_at": 1, "bad_grand_total": 1, "not_an_object": 1}


class TestAuth:
    def test_token_is_sent(self) -> None:
        fake = FakeLaravel(sales_rows(5), token=TOKEN)
        with fake as base:
            client(base, token=TOKEN).fetch_sales(START, END)
        assert fake.requests[0].authorization == f"Bearer {TOKEN}"

    @pytest.mark.parametrize("token", ["wrong-token", None])
    def test_refused_token_is_upstream_invalid(self, token: str | None) -> None:
        fake = FakeLaravel(sales_rows(5), token=TOKEN)
        with fake as base, pytest.raises(UpstreamInvalid, match="HTTP 401") as err:
            client(base, token=token).fetch_sales(START, END)
        assert "LARAVEL_API_TOKEN" in err.value.message
        assert "wrong-token" not in err.value.message and TOKEN not in err.value.message
        assert len(fake.requests) == 1  # not retried

    def test_token_not_in_repr(self) -> None:
        assert TOKEN not in repr(LaravelClient("http://user:pw@example.test", token=TOKEN))
        assert "pw" not in repr(LaravelClient("http://user:pw@example.test", token=TOKEN))


class TestRetries:
    def test_500s_then_success(self) -> None:
        fake = FakeLaravel(sales_rows(20), per_page=10, faults=Faults(fail_first_n=2))
        with fake as base:
            cols = client(base, max_retries=3).fetch_sales(START, END)
        assert len(cols) == 20
        assert [r.status for r in fake.requests] == [500, 500, 200, 200]

    def test_429_honours_retry_after(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(rate_limit_first_n=1, retry_after="1"))
        with fake as base:
            t0 = time.monotonic()
            cols = client(base, backoff_max=5).fetch_sales(START, END)
            waited = time.monotonic() - t0
        assert len(cols) == 5
        assert waited >= 0.95
        assert [r.status for r in fake.requests] == [429, 200]

    def test_retry_after_is_capped(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(rate_limit_first_n=2, retry_after="3600"))
        with fake as base:
            t0 = time.monotonic()
            client(base, backoff_max=0.05).fetch_sales(START, END)
        assert time.monotonic() - t0 < 2

    def test_always_503_is_upstream_unavailable(self) -> None:
        fake = FakeLaravel(sales_rows(5), token=TOKEN, faults=Faults(status_code_always=503))
        with fake as base, pytest.raises(UpstreamUnavailable, match="HTTP 503") as err:
            client(base, token=TOKEN, max_retries=3).fetch_sales(START, END)
        assert len(fake.requests) == 4
        assert "4 attempts" in err.value.message and TOKEN not in err.value.message
        assert err.value.code == "upstream_unavailable"

    def test_slow_answers_time_out(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(delay_seconds=0.6))
        with fake as base, pytest.raises(UpstreamUnavailable, match="no answer within 0.2s"):
            client(base, timeout=0.2, max_retries=1).fetch_sales(START, END)

    def test_connection_refused(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again before the client connects
        with pytest.raises(UpstreamUnavailable, match="connection failed"):
            client(f"http://127.0.0.1:{port}", max_retries=1).fetch_sales(START, END)


class TestNotSalesData:
    @pytest.mark.parametrize(
        ("faults", "match"),
        [
            (Faults(html_body=True), "HTML"),
            (Faults(truncated_json=True), "broken JSON"),
            (Faults(wrong_shape=True), "not sales data"),
            (Faults(loop_next=True), "pagination loop"),
        ],
    )
    def test_upstream_invalid(self, faults: Faults, match: str) -> None:
        fake = FakeLaravel(sales_rows(30), per_page=10, faults=faults)
        with fake as base, pytest.raises(UpstreamInvalid, match=match) as err:
            client(base).fetch_sales(START, END)
        assert err.value.code == "upstream_invalid"
        assert len(fake.requests) == (3 if faults.loop_next else 1)  # never retried

    def test_wrong_path_is_404(self) -> None:
        with FakeLaravel(sales_rows(5)) as base, pytest.raises(UpstreamInvalid, match="LARAVEL_SALES_PATH"):
            client(base, sales_path="/api/orders").fetch_sales(START, END)

    def test_page_cap(self) -> None:
        with FakeLaravel(sales_rows(30), per_page=5) as base, pytest.raises(UpstreamInvalid, match="more than 3 pages"):
            client(base, max_pages=3).fetch_sales(START, END)

    def test_bare_list_and_plain_shapes_are_read(self) -> None:
        c = LaravelClient("http://example.test")
        assert c._read_page([{"id": 1}], 1) == ([{"id": 1}], None, None)
        assert c._read_page({"data": []}, 1) == ([], None, None)
        assert c._read_page({"data": [], "next_cursor": "abc"}, 1) == ([], "cursor=abc", None)
        # A paginator returned as is (not through an API resource): "links" is a list there.
        raw = {"data": [], "links": [{"url": None, "label": "1", "active": True}],
               "next_page_url": "http://internal:8080/api/sales?page=2", "last_page": 5}
        assert c._read_page(raw, 1) == ([], "page=2", 5)
        with pytest.raises(UpstreamInvalid):
            c._read_page("hello", 1)
        with pytest.raises(UpstreamInvalid, match="not a URL"):
            c._read_page({"data": [], "next_page_url": 2}, 1)


def test_faults_can_be_set_while_running() -> None:
    # The service tests break a running server: "the next n requests fail" from then on.
    fake = FakeLaravel(sales_rows(5))
    with fake as base:
        client(base).fetch_sales(START, END)
        fake.faults.fail_first_n = 1
        client(base).fetch_sales(START, END)
        fake.faults.status_code_always = 502
        with pytest.raises(UpstreamUnavailable, match="HTTP 502"):
            client(base, max_retries=0).fetch_sales(START, END)
    assert [r.status for r in fake.requests] == [200, 500, 200, 502]
    assert fake.faults.fail_first_n == 0


class TestDeadline:
    """A Deadline (LARAVEL_DEADLINE_SECONDS) bounds all pages, retries and back-offs together."""

    def test_slow_answers_stop_at_the_deadline_not_after_every_retry(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(delay_seconds=0.5))
        deadline = Deadline.starting(1.0)
        with fake as base, pytest.raises(LaravelDeadlinePassed, match="deadline passed") as err:
            client(base, timeout=0.3, max_retries=20).fetch_sales(START, END, deadline=deadline)
        assert err.value.code == "upstream_unavailable"
        assert "LARAVEL_DEADLINE_SECONDS=1" in err.value.message
        assert fake.request_count <= 5  # 1 s of 0.3 s attempts, not the 21 the retries allow
        assert time.time() < deadline.at + 0.3 + 0.5  # one request timeout past it, at most

    def test_a_deadline_already_passed_sends_nothing(self) -> None:
        fake = FakeLaravel(sales_rows(5))
        with fake as base, pytest.raises(LaravelDeadlinePassed):
            client(base).fetch_sales(START, END, deadline=Deadline.starting(5.0, since=time.time() - 10))
        assert fake.request_count == 0

    def test_no_back_off_sleeps_into_the_deadline(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(rate_limit_first_n=5, retry_after="30"))
        with fake as base, pytest.raises(LaravelDeadlinePassed, match="HTTP 429"):
            client(base, backoff_max=60).fetch_sales(START, END, deadline=Deadline.starting(2.0))
        assert fake.request_count == 1

    def test_a_jittered_back_off_is_shortened_to_fit_not_given_up(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(status_code_always=503))
        deadline = Deadline.starting(1.0)
        with fake as base, pytest.raises(UpstreamUnavailable, match="HTTP 503"):
            # back-offs of up to 30 s: each is cut to half of what is left, so all 4 attempts run
            client(base, max_retries=3, backoff_base=30, backoff_max=30).fetch_sales(START, END, deadline=deadline)
        assert fake.request_count == 4

    def test_within_the_deadline_nothing_changes(self) -> None:
        fake = FakeLaravel(sales_rows(30), per_page=10, faults=Faults(fail_first_n=2))
        with fake as base:
            cols = client(base).fetch_sales(START, END, deadline=Deadline.starting(30.0))
        assert len(cols) == 30

    def test_a_cancel_ends_a_back_off_and_asks_for_no_more_pages(self) -> None:
        fake = FakeLaravel(sales_rows(5), faults=Faults(status_code_always=503))
        cancelled = {"now": False}

        def after_first_request() -> bool:
            cancelled["now"] = cancelled["now"] or fake.request_count >= 1
            return cancelled["now"]

        deadline = Deadline.starting(60.0).cancellable(after_first_request)
        began = time.monotonic()
        with fake as base, pytest.raises(Cancelled):
            client(base, max_retries=5, backoff_base=20, backoff_max=20).fetch_sales(START, END, deadline=deadline)
        assert fake.request_count == 1
        assert time.monotonic() - began < 2  # not the 20 s back-off

    def test_a_cancel_stops_at_the_next_page(self) -> None:
        fake = FakeLaravel(sales_rows(30), per_page=10)
        deadline = Deadline.starting(60.0).cancellable(lambda: fake.request_count >= 2)
        with fake as base, pytest.raises(Cancelled):
            client(base).fetch_sales(START, END, deadline=deadline)
        assert fake.request_count == 2


class TestRepeatedBadRows:
    def test_a_bad_row_served_on_two_pages_is_rejected_once(self) -> None:
        rows = sales_rows(20)
        rows[9] = {**rows[9], "created_at": "not a date"}
        served = rows[:10] + [dict(rows[9])] + rows[10:]  # the page boundary repeats row 10
        with FakeLaravel(served, per_page=10) as base:
            cols = client(base).fetch_sales(START, END)
        assert cols.rows_fetched == 21 and cols.rejected == {"bad_created_at": 1} and cols.duplicates == 1
