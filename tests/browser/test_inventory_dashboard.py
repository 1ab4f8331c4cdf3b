"""Inventory on the dashboard (docs/api.md §12), in a real headless Chromium, against the real stack
serving the demo shop's stock: the form's inventory fields, the series table's order-up-to, on-hand
and suggested-order columns sorted by the server, the achieved service level, the inventory CSV."""
from __future__ import annotations

import csv

import pytest

from tests.browser.conftest import API_KEY, ARTIFACTS, api_status
from tests.browser.test_grouped_dashboard import GROUPED_TIMEOUT_MS, level_series, wait_rows, wait_status

pytestmark = pytest.mark.slow

INVENTORY_CELLS = """() => Array.from(document.querySelectorAll('#series-table tbody tr[data-index]'), row =>
    Array.from(row.cells).slice(-3).map(cell => cell.textContent.trim()))"""


def _shown(value) -> str:
    return "—" if value is None else f"{value:,.0f}"


def test_inventory_from_the_form_to_the_purchase_order_csv(stack, page, tmp_path):
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    page.fill("#horizon", "2")
    page.fill("#group-by", "category, product_id")
    page.select_option("#measure", "units")
    page.fill("#lead-time", "1")
    page.fill("#review-period", "1")
    page.fill("#service-level", "90")
    page.click("#submit")

    page.wait_for_selector("#series-panel:not([hidden])", timeout=GROUPED_TIMEOUT_MS)
    task_id = page.locator("#task-id").inner_text()
    data = api_status(stack, task_id)["result"]["data"]
    inventory = data["hierarchy"]["inventory"]
    assert inventory["lead_time"] == 1 and inventory["service_level"] == 90
    summary = page.locator("#series-inventory").inner_text()
    assert "service level 90 % asked" in summary and "achieved in the backtest" in summary
    assert data["data_quality"]["stock"]["served"] is True and data["data_quality"]["stock"]["series_listed"] > 0
    # The total's own figures, beside its growth.
    growth = page.locator("#growth").inner_text()
    assert "Order up to" in growth and f"{data['inventory']['order_up_to']:,.2f}" in growth

    # The products, sorted by the server by suggested order, largest first: the buyer's to-do list.
    page.select_option("#series-level", "2")
    products = level_series(stack, task_id, 2)
    wait_status(page, rf"^Series 1–10 of {products['matching']}, level 2")
    header = page.locator("#series-table thead th").all_inner_texts()
    assert [h.replace("↕", "").strip() for h in header[-3:]] == ["Order up to", "On hand", "Suggested order"]
    largest = level_series(stack, task_id, 2, sort="-order")["series"]
    sort = page.locator("#series-table thead th[data-column='order']")
    sort.locator("button").click()
    wait_rows(page, largest[:10])
    assert sort.get_attribute("aria-sort") == "descending"
    cells = page.evaluate(INVENTORY_CELLS)
    expected = [[_shown(s["inventory"]["order_up_to"]), _shown(s["inventory"]["on_hand"]),
                 _shown(s["inventory"]["suggested_order"])] for s in largest[:10]]
    assert cells == expected
    orders = [s["inventory"]["suggested_order"] for s in largest if s["inventory"]["suggested_order"] is not None]
    assert orders == sorted(orders, reverse=True) and orders[0] > 0
    smallest = level_series(stack, task_id, 2, sort="order")["series"]
    sort.locator("button").click()
    wait_rows(page, smallest[:10])
    assert sort.get_attribute("aria-sort") == "ascending"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inventory-dashboard.png"), full_page=True)

    # The purchase-order CSV, fetched with the key: one line per product.
    with page.expect_download() as info:
        page.click("#series-inventory-csv")
    download = info.value
    assert download.suggested_filename.startswith("inventory-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(saved.open(newline="")))
    assert len(rows) == products["matching"]
    assert list(rows[0])[:2] == ["category", "product_id"] and "suggested_order" in rows[0]
    wait_status(page, r"^CSV downloaded")

    page.recorder.assert_loopback_only()
