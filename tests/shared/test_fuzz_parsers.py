"""Hypothesis against the Laravel response parser: whatever JSON (or bytes) Laravel sends, a fetch
ends in sales columns, ``UpstreamInvalid`` or ``UpstreamUnavailable``; never another exception
(which the worker would report as ``internal_error``). Rows of any shape are counted, never lost.

The aggregation's own properties (exact totals for any order, paging and duplicates) are in
tests/shared/test_aggregate.py; the value parsers' in tests/shared/test_transactions.py.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contract.errors import UpstreamInvalid, UpstreamUnavailable
from shared.engine.aggregate import aggregate_monthly
from shared.sources.laravel_client import LaravelClient
from shared.sources.transactions import ColumnBuilder, TransactionColumns

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
any_json = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=25
)
# Values a row's fields might hold: plausible ones, near misses and wrong types.
field_values = st.one_of(
    any_json,
    st.sampled_from(["2025-01-03T10:15:00.000000Z", "2025-01-03 10:15:00", "2025-02-30 10:00:00", "1234.50",
                     "-0.01", "1e400", "NaN", "", " ", "0x10", "2025-13-01T00:00:00Z", "9999-12-31T23:59:59+14:00"]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
rows = st.lists(
    st.one_of(
        st.fixed_dictionaries({}, optional={"id": field_values, "created_at": field_values, "grand_total": field_values}),
        any_json,
    ),
    max_size=20,
)
links = st.one_of(st.none(), st.just(""), st.just("http://laravel.test/sales?page=2"), st.just("http://laravel.test/sales"),
                  st.text(max_size=20), st.integers(), st.lists(st.integers(), max_size=2))
pages = st.one_of(
    any_json,
    st.fixed_dictionaries(
        {"data": rows},
        optional={
            "links": st.one_of(any_json, st.fixed_dictionaries({}, optional={"next": links})),
            "meta": st.one_of(any_json, st.fixed_dictionaries({}, optional={"last_page": any_json})),
            "next_page_url": links,
            "next_cursor": st.one_of(st.none(), st.text(max_size=10), st.integers()),
            "last_page": any_json,
        },
    ),
    rows,
)


class ScriptedSession:
    """A requests.Session stand-in answering each GET with the next scripted (status, body)."""

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self.answers = list(answers)

    def get(self, url: str, **_: Any) -> requests.Response:
        status, body = self.answers.pop(0) if self.answers else (200, b'{"data": []}')
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers["Content-Type"] = "application/json"
        response.url = url
        return response

    def close(self) -> None:
        pass


def fetch(answers: list[tuple[int, bytes]]) -> TransactionColumns | Exception:
    client = LaravelClient(
        "http://laravel.test", session=ScriptedSession(answers), max_retries=1, backoff_base=0.0,
        backoff_max=0.0, max_pages=6,
    )
    try:
        return client.fetch_sales(date(2024, 1, 1), date(2025, 6, 30))
    except (UpstreamInvalid, UpstreamUnavailable) as exc:
        return exc


def _check_columns(cols: TransactionColumns) -> None:
    assert len(cols.ids) == len(cols.ts_ns) == len(cols.cents)
    assert cols.ids.dtype == cols.ts_ns.dtype == cols.cents.dtype == np.int64
    # a rejected row repeated (same id) is a duplicate, settled while parsing
    assert len(cols) + sum(cols.rejected.values()) + cols.duplicates == cols.rows_fetched


@FUZZ
@given(st.lists(pages, min_size=1, max_size=4))
def test_any_json_pages_end_in_columns_or_a_named_upstream_error(script):
    outcome = fetch([(200, json.dumps(p).encode()) for p in script])
    if isinstance(outcome, TransactionColumns):
        _check_columns(outcome)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([200, 200, 200, 204, 301, 400, 401, 404, 422, 429, 500, 503]), st.binary(max_size=200)),
                min_size=1, max_size=4))
def test_any_bytes_and_statuses_end_in_columns_or_a_named_upstream_error(script):
    outcome = fetch(script)
    if isinstance(outcome, TransactionColumns):
        _check_columns(outcome)


@FUZZ
@given(rows)
def test_rows_of_any_shape_are_counted_never_lost(page):
    builder = ColumnBuilder("Europe/Berlin")
    builder.add_rows(page)
    cols = builder.finish()
    assert cols.rows_fetched == len(page)
    _check_columns(cols)
    # and whatever survived aggregates without error
    aggregate_monthly(cols, timezone="Europe/Berlin", today=date(2025, 7, 15),
                      start_date=date(2000, 1, 1), end_date=date(2025, 7, 15))
