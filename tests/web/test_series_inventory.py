"""The series API and CSV of a grouped job with inventory (docs/api.md §12): sort by suggested order,
one CSV line per product with the inventory columns, 404 for a job without inventory."""
from __future__ import annotations

import csv
import io

import pytest

from shared.stores.grouped_store import GroupedStore
from tests.web.test_series import CATEGORIES, JOB, PRODUCTS, TOTAL

FP = "fp-inventory"
JOB_INV = "5c2f0c7e-5a6d-4d51-9f4e-0a1b2c3d4e5f"


def _inventory(order_up_to: float, on_hand: float | None, suggested: float | None) -> dict:
    return {"lead_time_demand": order_up_to - 4, "order_up_to": order_up_to, "safety_stock": 4.0,
            "service_level": 95.0, "on_hand": on_hand, "on_order": None if on_hand is None else 0.0,
            "suggested_order": suggested, "achieved_service_level": None, "backtest_origins": 1}


SUGGESTED = [12.0, None, 40.0, 0.0, 7.0]


@pytest.fixture
def client(make_web_app, web_redis):
    store = GroupedStore(web_redis, ttl_seconds=600)
    products = [
        {**s, "inventory": _inventory(20.0, None if o is None else 3.0, o)} for s, o in zip(PRODUCTS, SUGGESTED)
    ]
    others = [{**s, "inventory": _inventory(50.0, None, None)} for s in (TOTAL, *CATEGORIES)]
    store.publish(JOB_INV, FP, [others[0], *others[1:], *products])
    store.publish(JOB, "fp-test", [TOTAL, *CATEGORIES, *PRODUCTS])
    return make_web_app().test_client()


def test_sort_by_suggested_order(client):
    body = client.get(f"/api/v1/forecasts/{JOB_INV}/series?sort=-order").json
    assert [s["inventory"]["suggested_order"] for s in body["series"]] == [40.0, 12.0, 7.0, 0.0, None]
    body = client.get(f"/api/v1/forecasts/{JOB_INV}/series?sort=order").json
    assert [s["inventory"]["suggested_order"] for s in body["series"]] == [0.0, 7.0, 12.0, 40.0, None]


def test_inventory_csv_one_line_per_product(client):
    response = client.get(f"/api/v1/forecasts/{JOB_INV}/series.csv?view=inventory")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="inventory-' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == len(PRODUCTS)
    assert list(rows[0]) == ["category", "product_id", "lead_time_demand", "order_up_to", "safety_stock",
                             "service_level", "on_hand", "on_order", "suggested_order"]
    assert rows[0]["product_id"] == "1" and rows[0]["order_up_to"] == "20" and rows[0]["suggested_order"] == "12"
    assert rows[1]["on_hand"] == "" and rows[1]["suggested_order"] == ""  # not in the stock: empty, not 0
    assert rows[4]["category"] == "null"


def test_inventory_csv_of_a_job_without_inventory_is_404(client):
    response = client.get(f"/api/v1/forecasts/{JOB}/series.csv?view=inventory")
    assert response.status_code == 404 and "inventory" in response.json["error"]["message"]
    assert client.get(f"/api/v1/forecasts/{JOB}/series.csv?view=nope").status_code == 422
    # Sorting a job without inventory by order: every figure missing, key order kept.
    assert client.get(f"/api/v1/forecasts/{JOB}/series?sort=-order").status_code == 200
