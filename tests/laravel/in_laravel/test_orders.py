"""Suggested orders in Laravel, end to end (docs/api.md §12, docs/laravel.md "Suggested orders"), on
each Laravel runtime: this machine's 8.83, and 10 and 13 in Debian chroots.

The shop dispatches a grouped forecast in units with inventory through Redis (`shop:orders`, the
docs' snippet); the real worker reads the shop's sale lines and its stock (`stock_levels`, served
at /api/stock) from the shop's own API; the package then reads every product's inventory figures
from the real series API, page after page, as typed SuggestedOrder objects. They are checked
against the service's own pages and its inventory CSV (`sales-forecast:orders --csv`), and
against the shop's stock. A job that failed in the real worker (a lead time its history cannot
support) and one still running (its stored PROGRESS) end in the package's own exceptions.
"""
from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.laravel.in_laravel.conftest import API_KEY, Service
from tests.laravel.runtimes import NAMES
from tests.laravel.shop import Shop, shop_stock

pytestmark = pytest.mark.slow
LARAVEL_RUNTIMES = NAMES  # every test here runs on Laravel 8.83, 10 and 13 (tests/laravel/runtimes.py)
GROUP_BY = ["category", "product_id"]  # as shop:orders dispatches it


@dataclass
class OrdersRun:
    """What `shop:orders` printed: the products to order now, every row, and the task id."""

    to_order: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    summary: dict[str, Any]

    @property
    def task_id(self) -> str:
        return self.summary["task_id"]


@pytest.fixture(scope="module")
def orders(shop: Shop, service: Service) -> OrdersRun:
    done = shop.artisan("shop:orders")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr + service.log()[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return OrdersRun([x["order"] for x in lines if "order" in x], [x["row"] for x in lines if "row" in x], lines[-1])


def _api(service: Service, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{service.url}{path}", params=params, headers={"X-API-Key": API_KEY}, timeout=30)


def test_every_products_suggested_order_is_read_from_the_series_api(orders: OrdersRun, service: Service) -> None:
    status = service.status(orders.task_id)
    assert status["status"] == "SUCCESS", status
    hierarchy = status["result"]["data"]["hierarchy"]
    assert hierarchy["group_by"] == GROUP_BY and hierarchy["measure"] == "units" and hierarchy["inventory"]
    products = hierarchy["levels"][-1]["series"]
    page = _api(service, f"/api/v1/forecasts/{orders.task_id}/series", level=2, limit=500).json()
    assert len(page["series"]) == products == orders.summary["count"] == len(orders.rows) == 4

    # One typed row per product, in the service's order, with the service's figures.
    for row, series in zip(orders.rows, page["series"]):
        inventory = series["inventory"]
        assert row["key"] == series["key"] and row["product"] == series["key"]["product_id"]
        assert row["product_field"] == "product_id" and row["group"] == {"category": series["key"]["category"]}
        assert row["measure"] == "units"
        for name in ("lead_time_demand", "order_up_to", "safety_stock", "service_level", "on_hand", "on_order",
                     "suggested_order", "achieved_service_level", "backtest_origins"):
            assert row[name] == inventory[name], (name, row, inventory)
        assert row["service_level"] == 95.0 and row["order_up_to"] >= row["lead_time_demand"]

    # The worker read the shop's stock through its API: on hand and on order are the shop's rows.
    stock = {r["product_id"]: r for r in shop_stock() if r["product_id"] is not None}
    by_product = {row["product"]: row for row in orders.rows}
    for product, row in by_product.items():
        if product in stock:
            assert (row["on_hand"], row["on_order"]) == (float(stock[product]["on_hand"]), float(stock[product]["on_order"]))
            assert isinstance(row["suggested_order"], int)
        else:  # not in the shop's stock list: nothing known to order
            assert row["on_hand"] is row["on_order"] is row["suggested_order"] is None, row
    assert by_product["1"]["suggested_order"] == 0  # 500 on the shelf
    three = by_product["3"]["suggested_order"]  # packs of 12, at least 30
    assert three == 0 or (three >= 30 and three % 12 == 0), three
    assert orders.to_order == [row for row in orders.rows if (row["suggested_order"] or 0) > 0]
    assert orders.to_order, "the shop's stock leaves something to order"


def test_the_orders_command_prints_the_services_inventory_csv(orders: OrdersRun, shop: Shop, service: Service) -> None:
    done = shop.artisan("sales-forecast:orders", orders.task_id, "--csv")
    assert done.returncode == 0, done.stdout + done.stderr
    answer = _api(service, f"/api/v1/forecasts/{orders.task_id}/series.csv", view="inventory")
    assert answer.status_code == 200, answer.text
    assert list(csv.reader(io.StringIO(done.stdout))) == list(csv.reader(io.StringIO(answer.text)))

    # The largest order first, one product; --to-order keeps the products with something to order.
    done = shop.artisan("sales-forecast:orders", orders.task_id, "--csv", "--sort=-order", "--limit=1")
    assert done.returncode == 0, done.stdout + done.stderr
    [header, top] = list(csv.reader(io.StringIO(done.stdout)))
    largest = max(orders.rows, key=lambda r: r["suggested_order"] or -1)
    assert header[:2] == GROUP_BY and top[1] == largest["product"] and int(top[-1]) == largest["suggested_order"]
    done = shop.artisan("sales-forecast:orders", orders.task_id, "--to-order")
    assert done.returncode == 0, done.stdout + done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("|")][1:]  # the rows under the header
    assert len(table) == len(orders.to_order), done.stdout


def test_a_failed_a_running_and_an_unknown_job_end_in_the_packages_exceptions(shop: Shop, service: Service) -> None:
    # A lead time longer than the shop's history supports: the real worker fails the job.
    done = shop.artisan("sales-forecast:dispatch", "--group-by=category,product_id", "--measure=units",
                        "--lead-time=30", "--model=linear", "--horizon=3", "--wait", "--timeout=120")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = json.JSONDecoder().raw_decode(done.stdout)[0]["task_id"]  # the stored meta, then the error
    code, _, log = shop.artisan_json("shop:orders", f"--task-id={failed}")
    assert code == 1 and "insufficient_history: " in log, log  # ForecastJobFailed, the job's own code
    done = shop.artisan("sales-forecast:orders", failed)
    assert done.returncode == 1 and "insufficient_history" in done.stdout + done.stderr

    running = str(uuid.uuid4())
    meta = {"status": "PROGRESS", "result": {"stage": "fitting", "percent": 40}, "task_id": running}
    service.redis.set(f"celery-task-meta-{running}", json.dumps(meta), ex=300)
    code, _, log = shop.artisan_json("shop:orders", f"--task-id={running}")
    assert code == 2 and "not_finished" in log, log  # ForecastNotFinished
    assert shop.artisan("sales-forecast:orders", running).returncode == 2

    done = shop.artisan("sales-forecast:orders", str(uuid.uuid4()))
    assert done.returncode == 64 and "not_found" in done.stdout + done.stderr
