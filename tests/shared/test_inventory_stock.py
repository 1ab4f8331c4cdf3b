"""Grouped jobs with inventory against the Laravel-like server serving stock: present, absent,
partial, malformed (docs/api.md §12), and the series CSV's inventory columns."""
from __future__ import annotations

import pytest

from local.fake_laravel import FakeLaravel, Faults
from shared.contract.errors import InsufficientHistory, UpstreamInvalid
from shared.contract.schema import ForecastRequest
from shared.engine.grouped import LaravelLineSource, run_grouped_forecast, stock_for
from shared.sources.laravel_client import LaravelClient
from tests.shared.test_grouped import TODAY, lines

REQUEST = {"group_by": ["store_id", "product_id"], "measure": "units", "model": "seasonal_naive",
           "inventory": {"lead_time": 1, "review_period": 1, "service_level": 95}}
STOCK = [
    {"product_id": "tea", "on_hand": 3, "on_order": "1"},
    {"product_id": "cake", "on_hand": "0", "min_order": 40, "pack_size": 12},
    {"product_id": "cake", "on_hand": 100},  # repeated: the first row wins
    {"product_id": "scones", "on_hand": "many"},
    {"on_hand": 4},
]


def run(stock=None, request=REQUEST, faults=None):
    with FakeLaravel([], items=lines(), stock=stock, per_page=50, faults=faults) as base:
        source = LaravelLineSource(LaravelClient(base, max_retries=0), base, "/sales/items", "/stock")
        return run_grouped_forecast(ForecastRequest.parse(request).resolved(TODAY), source, today=TODAY, task_id="t-inv")


def products(result):
    return {(s["key"]["store_id"], s["key"]["product_id"]): s for s in result.series if s["level"] == 2}


def test_stock_present():
    result = run(STOCK)
    series = products(result)
    tea = series[("1", "tea")]["inventory"]
    assert tea["on_hand"] == 3 and tea["on_order"] == 1
    assert tea["suggested_order"] == max(0, tea["order_up_to"] - 4)
    for s in result.series:  # whole units, never negative, everywhere
        inv = s["inventory"]
        assert inv["order_up_to"] == int(inv["order_up_to"]) >= inv["lead_time_demand"] >= 0
        assert inv["safety_stock"] == inv["order_up_to"] - inv["lead_time_demand"]
        assert inv["service_level"] == 95
    cake = series[("1", "cake")]["inventory"]
    if cake["order_up_to"] > 0:  # up to the minimum order, then whole packs of 12
        assert cake["suggested_order"] >= 40 and cake["suggested_order"] % 12 == 0
    # Products nobody stocks by name (the null product) and store totals carry no stock figures.
    assert series[("1", None)]["inventory"]["on_hand"] is None
    assert all(s["inventory"]["suggested_order"] is None for s in result.series if s["level"] < 2)
    data = result.document["data"]
    quality = data["data_quality"]["stock"]
    assert quality["served"] is True and quality["key"] == "product_id"
    assert quality["rows_fetched"] == 5 and quality["rows_used"] == 2 and quality["duplicates"] == 1
    assert quality["rows_rejected"] == {"bad_on_hand": 1, "missing_product_id_and_sku": 1}
    assert quality["series_listed"] == 4 and quality["series_unlisted"] == 2
    # The job's and each level's achieved service level, next to the nominal one.
    hierarchy = data["hierarchy"]
    assert hierarchy["inventory"]["service_level"] == 95 and hierarchy["inventory"]["backtest_origins"] > 0
    for level in hierarchy["levels"]:
        assert "achieved_service_level" in level and level["backtest_origins"] >= 0
    assert data["inventory"]["lead_time"] == 1 and data["inventory"]["backtest_origins"] >= 1


def test_stock_absent_the_job_succeeds_with_null_stock_figures():
    result = run(None)
    for s in result.series:
        assert s["inventory"]["order_up_to"] >= 0
        assert s["inventory"]["on_hand"] is None and s["inventory"]["suggested_order"] is None
    quality = result.document["data"]["data_quality"]["stock"]
    assert quality["served"] is False and "404" in quality["note"] and quality["series_listed"] == 0


def test_stock_partial_lists_some_products():
    result = run([{"product_id": "tea", "on_hand": 0}])
    series = products(result)
    assert series[("2", "tea")]["inventory"]["suggested_order"] == series[("2", "tea")]["inventory"]["order_up_to"]
    assert series[("2", "cake")]["inventory"]["suggested_order"] is None
    quality = result.document["data"]["data_quality"]["stock"]
    assert quality["series_listed"] == 2 and quality["series_unlisted"] == 4 and "does not list" in quality["note"]


def test_stock_malformed_rows_are_counted_never_used():
    result = run([{"product_id": "tea", "on_hand": "n/a"}, {"product_id": "cake", "on_hand": 2, "pack_size": -6}, 7])
    assert all(s["inventory"]["on_hand"] is None for s in result.series)
    quality = result.document["data"]["data_quality"]["stock"]
    assert quality["rows_rejected"] == {"bad_on_hand": 1, "bad_pack_size": 1, "not_an_object": 1}
    assert quality["rows_used"] == 0 and quality["series_listed"] == 0


def test_a_broken_stock_endpoint_fails_like_sales():
    # Not a 404: the endpoint is there but answers HTML. That is Laravel's fault, as for sales.
    request = ForecastRequest.parse(REQUEST).resolved(TODAY)
    with FakeLaravel([], stock=STOCK, faults=Faults(html_body=True)) as base:
        source = LaravelLineSource(LaravelClient(base, max_retries=0), base, stock_path="/stock")
        with pytest.raises(UpstreamInvalid, match="HTML"):
            stock_for(request, source, TODAY)


def test_no_product_field_reads_no_stock():
    request = {**REQUEST, "group_by": ["store_id"]}
    result = run(STOCK, request)
    quality = result.document["data"]["data_quality"]["stock"]
    assert quality["served"] is None and quality["series_listed"] == 0
    assert all(s["inventory"]["on_hand"] is None for s in result.series)


def test_lead_time_beyond_the_history_fails_the_grouped_job_clearly():
    request = {**REQUEST, "inventory": {"lead_time": 12, "review_period": 1}}
    with pytest.raises(InsufficientHistory, match="at most 12"):
        run(STOCK, request)
