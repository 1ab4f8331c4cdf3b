"""The sales API as Laravel itself renders it (CONTRACT §3), read by shared/sources/laravel_client.py.

The shop serves Eloquent Sale and SaleItem models over SQLite (decimal:2 casts, Laravel's date
serialisation) through API-resource collections of paginate(), simplePaginate(), cursorPaginate()
and get(), and the raw simple and cursor paginators, behind a Bearer token, with Laravel's own 401
and 422 errors. Every paginator must yield exactly the rows the database holds, and the project's
fake Laravel (local/fake_laravel.py) must answer in the shapes Laravel really uses.
"""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests

from local.fake_laravel import FakeLaravel
from shared.contract.errors import UpstreamInvalid
from shared.sources.laravel_client import LaravelClient
from tests.laravel.in_laravel.conftest import PER_PAGE
from tests.laravel.shop import SHOP_TOKEN, Sale, ShopServer

pytestmark = pytest.mark.slow
START, END = date(2000, 1, 1), date(2100, 12, 31)
# route → what the controller returns (tests/laravel/shop/app/Http/Controllers/SalesController.php)
ROUTES = {
    "/sales": "paginate()",
    "/simple/sales": "simplePaginate()",
    "/simple-raw/sales": "simplePaginate(), raw",
    "/cursor/sales": "cursorPaginate()",
    "/cursor-raw/sales": "cursorPaginate(), raw",
    "/all/sales": "get()",
}
LARAVEL_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$")
DECIMAL_2 = re.compile(r"^-?\d+\.\d\d$")


def _get(server: ShopServer, path: str, **params: str) -> requests.Response:
    query = {"start_date": START.isoformat(), "end_date": END.isoformat(), "status": "completed", **params}
    return requests.get(f"{server.url}/api{path}", params=query, timeout=10,
                        headers={"Accept": "application/json", "Authorization": f"Bearer {SHOP_TOKEN}"})


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_every_laravel_paginator_yields_exactly_the_databases_rows(path: str, shop_server: ShopServer, history: list[Sale]) -> None:
    pages: list[int] = []
    with LaravelClient(f"{shop_server.url}/api", token=SHOP_TOKEN, sales_path=path) as client:
        columns = client.fetch_sales(START, END, on_page=lambda n, last: pages.append(n))
    completed = [s for s in history if s.status == "completed"]
    assert columns.rows_fetched == len(completed) and not columns.rejected
    assert sorted(columns.ids.tolist()) == [s.id for s in completed]
    assert int(columns.cents.sum()) == sum(round(float(s.grand_total) * 100) for s in completed)
    expected_pages = 1 if path == "/all/sales" else -(-len(completed) // PER_PAGE)
    assert len(pages) == expected_pages


def test_a_date_window_is_honoured_across_pages(shop_server: ShopServer, history: list[Sale]) -> None:
    """simplePaginate() without withQueryString(): its next links drop the filters; the client adds them back."""
    start, end = date.fromisoformat(history[100].created_at[:10]), date.fromisoformat(history[300].created_at[:10])
    body = _get(shop_server, "/simple/sales").json()
    assert "start_date" not in parse_qs(urlsplit(body["links"]["next"]).query)  # as Laravel renders it
    with LaravelClient(f"{shop_server.url}/api", token=SHOP_TOKEN, sales_path="/simple/sales") as client:
        columns = client.fetch_sales(start, end)
    inside = [s.id for s in history if s.status == "completed" and start.isoformat() <= s.created_at[:10] <= end.isoformat()]
    assert sorted(columns.ids.tolist()) == inside


def test_rows_are_rendered_with_laravels_casts_and_dates(shop_server: ShopServer) -> None:
    row = _get(shop_server, "/sales").json()["data"][0]
    assert LARAVEL_TIMESTAMP.match(row["created_at"]), row
    assert isinstance(row["grand_total"], str) and DECIMAL_2.match(row["grand_total"]), row
    assert isinstance(row["id"], int)


def test_sale_lines_carry_the_fields_grouped_forecasts_need(shop_server: ShopServer, history: list[Sale]) -> None:
    """GET /sales/items (CONTRACT §3): id, sale_id, created_at, line_total, quantity and the grouping fields."""
    body = _get(shop_server, "/sales/items").json()
    assert set(body) == {"data", "links", "meta"} and body["meta"]["per_page"] == PER_PAGE
    line = body["data"][0]
    assert {"id", "sale_id", "created_at", "line_total", "quantity", "product_id", "sku", "category", "store_id", "channel"} <= set(line)
    assert LARAVEL_TIMESTAMP.match(line["created_at"]) and DECIMAL_2.match(line["line_total"])
    assert isinstance(line["quantity"], int) and isinstance(line["store_id"], int)
    assert any(item["category"] is None for item in _get(shop_server, "/sales/items", per_page="1000").json()["data"])
    sale = next(s for s in history if s.id == line["sale_id"])
    assert sum(float(i["line_total"]) for i in sale.items) == pytest.approx(float(sale.grand_total))


def test_laravels_401_and_422_are_upstream_invalid(shop_server: ShopServer) -> None:
    answer = requests.get(f"{shop_server.url}/api/sales", headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 401 and answer.json() == {"message": "Unauthenticated."}
    with LaravelClient(f"{shop_server.url}/api", token="wrong") as client, pytest.raises(UpstreamInvalid, match="refused access .HTTP 401"):
        client.fetch_sales(START, END)

    answer = _get(shop_server, "/sales", end_date="1999-01-01")
    assert answer.status_code == 422
    assert answer.json()["message"] == "The given data was invalid." and "end_date" in answer.json()["errors"]
    with LaravelClient(f"{shop_server.url}/api", token=SHOP_TOKEN) as client, pytest.raises(UpstreamInvalid, match="HTTP 422"):
        client.fetch_sales(END, START)


def _shape(body: dict) -> dict[str, set[str] | None]:
    return {k: set(v) if isinstance(v, dict) else None for k, v in body.items()}


@pytest.mark.parametrize(("path", "paginator"), [("/sales", "length_aware"), ("/simple-raw/sales", "simple"),
                                                 ("/cursor-raw/sales", "cursor"), ("/all/sales", "plain")])
def test_the_fake_laravel_answers_in_laravels_shapes(path: str, paginator: str, shop_server: ShopServer) -> None:
    real = _get(shop_server, path).json()
    rows = [{"id": 1, "created_at": "2025-01-03T10:15:00.000000Z", "grand_total": "12.50", "status": "completed"}] * 30
    with FakeLaravel(rows, paginator=paginator, per_page=PER_PAGE) as url:
        fake = requests.get(f"{url}/sales", params={"start_date": "2025-01-01", "end_date": "2025-12-31"}, timeout=10).json()
    real_shape, fake_shape = _shape(real), _shape(fake)
    if paginator == "length_aware":
        real_shape["meta"].discard("links")  # Laravel 8's numbered page links: nothing reads them
    if paginator == "cursor":
        # Laravel 9 added next_cursor/prev_cursor to the raw cursor paginator; 8.83 has only the URLs.
        fake_shape = {k: v for k, v in fake_shape.items() if k not in ("next_cursor", "prev_cursor")}
    assert fake_shape == real_shape
    assert set(fake["data"][0]) <= set(real["data"][0])
    assert np.all([LARAVEL_TIMESTAMP.match(r["created_at"]) for r in fake["data"]])
