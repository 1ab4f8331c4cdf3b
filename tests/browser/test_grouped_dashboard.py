"""A grouped forecast on the dashboard, in a real headless Chromium, against the real stack.

One grouped job, submitted through the form with the API key, is read the way a person would:
the total's chart, the table of series paged, searched and sorted by the server, a series' own
chart with its interval, the CSV downloaded with the key (a plain link could not send it). The
stack, the browser and the page are tests/browser/conftest.py's (one stack for the package).
"""
from __future__ import annotations

import csv
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from shared.contract.schema import MEASURE_DESCRIPTIONS, Measure
from tests.browser.conftest import API_KEY, ARTIFACTS, api_get, api_status, chart_traces

pytestmark = pytest.mark.slow

GROUP_BY = ["category", "product_id"]
HORIZON = 2
GROUPED_TIMEOUT_MS = 120_000


KEY_CELLS = """(fields) => Array.from(document.querySelectorAll('#series-table tbody tr[data-index]'), row =>
    Array.from(row.cells).slice(0, fields).map(cell => cell.textContent.trim()))"""


def shown(series: list[dict]) -> list[list[str]]:
    """The key cells the page should show for these series (a null key reads "null")."""
    return [["null" if s["key"][f] is None else str(s["key"][f]) for f in s["key"]] for s in series]


def wait_rows(page, series: list[dict]) -> None:
    """Wait until the table's rows are these series' keys, in this order (an answer is async)."""
    expected = shown(series)
    fields = len(expected[0]) if expected else 0
    try:
        page.wait_for_function(
            f"(want) => JSON.stringify(({KEY_CELLS})({fields})) === JSON.stringify(want)", arg=expected, timeout=10_000
        )
    except PlaywrightTimeoutError as exc:  # only the wait running out means "other rows"; anything else propagates
        raise AssertionError(f"rows {page.evaluate(KEY_CELLS, fields)} != {expected}") from exc


def wait_status(page, pattern: str) -> str:
    """Wait until the series panel's live status matches ``pattern`` (a regular expression)."""
    page.wait_for_function(
        "(p) => new RegExp(p).test(document.getElementById('series-status').textContent)", arg=pattern
    )
    return page.locator("#series-status").inner_text()


def level_series(stack, task_id: str, level: int, **params) -> dict:
    response = api_get(stack, f"/api/v1/forecasts/{task_id}/series", level=level, limit=500, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_grouped_forecast_from_the_form_to_the_csv(stack, page, tmp_path):
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    page.fill("#horizon", str(HORIZON))
    page.fill("#group-by", "category,  product_id ")  # spaces are the person's, not the field names'
    page.select_option("#measure", "revenue")
    page.click("#submit")

    # The total: the chart and figures of a single forecast, from the same document.
    page.wait_for_selector("#results:not([hidden])", timeout=GROUPED_TIMEOUT_MS)
    page.wait_for_function("() => (document.getElementById('chart').data || []).length >= 4")
    task_id = page.locator("#task-id").inner_text()
    data = api_status(stack, task_id)["result"]["data"]
    hierarchy = data["hierarchy"]
    assert hierarchy["group_by"] == GROUP_BY and hierarchy["measure"] == "revenue"
    total = chart_traces(page)
    assert total["actual"]["y"] == pytest.approx([m["total_sales"] for m in data["actual_sales"]])
    assert total["forecast"]["y"] == pytest.approx([p["forecast"] for p in data["forecast"]["horizon"]])
    assert page.locator("#results-title").inner_text().startswith("Forecast of the total for")
    assert page.locator("#accuracy-title").inner_text() == "Accuracy (holdout backtest, one origin)"
    assert "Sale lines fetched" in page.locator("#quality").inner_text()

    # The series panel: the levels, their accuracy, and the first level's series.
    page.wait_for_selector("#series-panel:not([hidden])")
    summary = page.locator("#series-summary").inner_text()
    assert "Grouped by category › product_id" in summary and f"{hierarchy['series']} series" in summary
    measure = hierarchy["measure"]  # in the server's own words (shared.contract.schema.MEASURE_DESCRIPTIONS)
    assert f"Measure: {measure} ({MEASURE_DESCRIPTIONS[Measure(measure)]})" in summary
    levels = page.locator("#levels-table tbody tr")
    assert levels.count() == 1 + len(hierarchy["levels"])
    assert page.locator("#series-level option").all_inner_texts() == [
        f"{k + 1}: {' › '.join(level['fields'])} ({level['series']} series)" for k, level in enumerate(hierarchy["levels"])
    ]
    categories = level_series(stack, task_id, 1)
    wait_rows(page, categories["series"][:10])
    wait_status(page, rf"of {categories['matching']}, level 1")

    # The deepest level, ten to a page: Next and Previous walk the server's cursors.
    products = level_series(stack, task_id, 2)
    n = products["matching"]
    assert n > 10, "the demo catalogue has more products than a page"
    page.select_option("#series-level", "2")
    wait_status(page, rf"^Series 1–10 of {n}, level 2")
    wait_rows(page, products["series"][:10])
    assert page.locator("#series-prev").get_attribute("aria-disabled") == "true"
    assert page.locator("#series-page").inner_text() == f"Page 1 of {-(-n // 10)}"
    page.click("#series-next")
    wait_status(page, rf"^Series 11–{min(20, n)} of {n}")
    wait_rows(page, products["series"][10:20])
    assert page.locator("#series-prev").get_attribute("aria-disabled") == "false"
    page.click("#series-prev")
    wait_status(page, rf"^Series 1–10 of {n}")
    wait_rows(page, products["series"][:10])

    # Search: the server's `q`, over the key values.
    needle = str(products["series"][-1]["key"]["product_id"])
    found = level_series(stack, task_id, 2, q=needle)
    page.fill("#series-q", needle)
    wait_status(page, rf"of {found['matching']} matching “{needle}”")
    wait_rows(page, found["series"][:10])
    page.fill("#series-q", "")
    wait_status(page, rf"^Series 1–10 of {n}, level 2")
    wait_rows(page, products["series"][:10])

    # Sort by next month's forecast: largest first, then smallest first; aria-sort says which.
    sort = page.locator("#series-table thead th[data-column='forecast']")
    assert sort.get_attribute("aria-sort") is None
    # the hierarchy's order: each parent's series together, neither ascending nor descending
    assert page.locator("#series-table thead th[data-column='key']").get_attribute("aria-sort") == "other"
    largest = level_series(stack, task_id, 2, sort="-forecast")["series"]
    smallest = level_series(stack, task_id, 2, sort="forecast")["series"]
    sort.locator("button").click()
    wait_rows(page, largest[:10])
    assert sort.get_attribute("aria-sort") == "descending"
    assert page.locator("#series-table thead th[aria-sort]").count() == 1
    sort.locator("button").click()
    wait_rows(page, smallest[:10])
    assert sort.get_attribute("aria-sort") == "ascending"
    page.locator("#series-table thead th[data-column='key'] button").click()  # the key order again
    wait_rows(page, products["series"][:10])
    assert sort.get_attribute("aria-sort") is None
    sort.locator("button").click()  # largest first, for the rows opened next
    wait_rows(page, largest[:10])

    # A click on a row shows that series' chart: its months, its forecast and its own interval.
    top = largest[0]
    page.locator("#series-table tbody tr[data-index='0'] td.model").click()
    page.wait_for_selector("#series-detail:not([hidden])")
    page.wait_for_function("() => (document.getElementById('series-chart').data || []).length >= 4")
    assert page.evaluate("() => document.activeElement.id") == "series-detail-title"
    assert page.locator("#series-table tbody tr[data-index='0']").get_attribute("aria-current") == "true"
    traces = chart_traces(page, "series-chart")
    assert traces["actual"]["x"] == [p["period"] for p in top["actual"]]
    assert traces["actual"]["y"] == pytest.approx([p["value"] for p in top["actual"]])
    assert traces["forecast"]["y"] == pytest.approx([p["forecast"] for p in top["forecast"]["horizon"]])
    assert traces["interval_low"]["y"] == pytest.approx([p["low"] for p in top["forecast"]["horizon"]])
    assert traces["interval_high"]["y"] == pytest.approx([p["high"] for p in top["forecast"]["horizon"]])
    assert page.locator("#series-chart .scatterlayer .trace").count() >= 4  # drawn, band included
    assert page.locator("#series-horizon tbody tr").count() == HORIZON
    title = page.locator("#series-detail-title").inner_text()
    assert str(top["key"]["product_id"]) in title and "product_id" in title
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#series-detail").screenshot(path=str(ARTIFACTS / "grouped-series.png"))

    # From the keyboard: a row's button, Enter.
    second = largest[1]
    page.locator("#series-table tbody tr[data-index='1'] button.pick").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("(k) => document.getElementById('series-detail-title').textContent.includes(k)",
                           arg=str(second["key"]["product_id"]))
    assert chart_traces(page, "series-chart")["forecast"]["y"] == pytest.approx(
        [p["forecast"] for p in second["forecast"]["horizon"]])
    page.screenshot(path=str(ARTIFACTS / "grouped-dashboard.png"), full_page=True)

    # The CSV, fetched with the key and handed to the browser as a download.
    with page.expect_download() as info:
        page.click("#series-csv")
    download = info.value
    assert re.fullmatch(r"forecast-.+-series\.csv", download.suggested_filename), download.suggested_filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = list(csv.reader(saved.open(newline="")))
    assert lines[0] == ["level", *GROUP_BY, "period", "forecast", "low", "high"]
    assert len(lines) == hierarchy["series"] * HORIZON + 1
    wait_status(page, r"^CSV downloaded")

    # Reopening the job's address shows the same: the total, then its series.
    page.goto(f"{stack.web_url}/?task={task_id}")
    page.wait_for_selector("#series-panel:not([hidden])", timeout=GROUPED_TIMEOUT_MS)
    wait_rows(page, categories["series"][:10])

    # The jobs page says it was grouped.
    page.click("nav >> text=Recent jobs")
    row = page.locator(f'#jobs tbody tr[data-task-id="{task_id}"]')
    row.wait_for()
    assert "category › product_id (revenue)" in row.inner_text()

    page.recorder.assert_loopback_only()
    assert not page.recorder.errors, page.recorder.errors


def test_group_by_is_checked_by_the_servers_rule_before_it_is_sent(stack, page):
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    for text, message in [
        ("category, 9lives", "“9lives” is not a field name"),
        ("category, product_id, store_id, channel", "At most 3 fields."),
        ("store_id, store_id", "“store_id” is named twice."),
        ("category,,product_id", "An empty field name"),
    ]:
        page.fill("#group-by", text)
        page.click("#submit")
        page.wait_for_selector("#group-by-error:not([hidden])")
        assert message in page.locator("#group-by-error").inner_text()
        assert page.locator("#group-by").get_attribute("aria-invalid") == "true"
        assert page.evaluate("() => document.activeElement.id") == "group-by"
        assert page.locator("#status").inner_text() == "The forecast was not submitted."
    assert not posts, posts
    page.recorder.assert_loopback_only()


EVIL = '<img src=x onerror="window.__pwned=1">'


def test_series_errors_and_server_strings_are_shown_as_text(stack, page):
    """A grouped document and series full of markup land as text; a 4xx of the series endpoint or
    the CSV is a message in the panel, never a broken page. (The answers are the page's routes.)"""
    horizon = [{"period": "2025-04", "forecast": 140.0, "low": 120.0, "high": 160.0}]
    forecast = {
        "next_month_forecast": 140.0, "confidence_level": 90.0, "expected_range_low": 120.0,
        "expected_range_high": 160.0, "growth_rate": 8.3, "model_accuracy": None, "period": "2025-04",
        "model": EVIL, "forecast_growth_rate": 7.7, "horizon": horizon,
        "metrics": {"mae": None, "mape": None, "smape": None, "mase": None, "wape": None,
                    "backtest_origins": 0, "interval_coverage": None}}
    document = {
        "task_id": "evil", "status": "SUCCESS", "progress": {"stage": "done", "percent": 100},
        "submitted_at": None, "finished_at": None, "error": None,
        "result": {"status": "success", "data": {
            "actual_sales": [{"month": "Jan", "period": "2025-01", "total_sales": 100.0, "transaction_count": 3},
                             {"month": "Feb", "period": "2025-02", "total_sales": 120.0, "transaction_count": 4},
                             {"month": "Mar", "period": "2025-03", "total_sales": 130.0, "transaction_count": 5}],
            "forecast": forecast,
            "data_quality": {"rows_fetched": 12, "rows_used": 12, "rows_rejected": {}, "duplicates": 0,
                             "negative_totals": 0, "months_zero_filled": [], "partial_month": None},
            "meta": {"task_id": "evil", "data_fingerprint": "f", "model_version": "v", "generated_at": None,
                     "cached": False, "source": "s"},
            "hierarchy": {"group_by": [EVIL], "measure": EVIL, "levels": [{"fields": [EVIL], "series": 1, "wape": None}],
                          "series": 2, "reconciliation": EVIL, "coherent": True,
                          "series_url": "//elsewhere.example/series", "csv_url": "/api/v1/forecasts/evil/series.csv"}}},
    }
    series = {"series": [{"key": {EVIL: EVIL}, "level": 1,
                          "actual": [{"period": "2025-03", "value": 30.0}],
                          "forecast": forecast, "data_quality": {"lines_used": 3, "months": 1, "months_zero": 0,
                                                                 "first_period": EVIL}}],
              "next_cursor": None, "level": 1, "matching": 1}
    refused = {"status": "error", "error": {"code": "not_found", "message": "the job has no series: expired"}}
    asked: list[dict] = []

    def answer(route):
        parts = urlsplit(route.request.url)
        if parts.path.endswith("/series"):
            query = parse_qs(parts.query)
            asked.append(query)
            if query.get("q"):  # a search: the series have expired meanwhile
                route.fulfill(status=404, content_type="application/json", body=json.dumps(refused))
            else:
                route.fulfill(status=200, content_type="application/json", body=json.dumps(series))
        elif parts.path.endswith("/series.csv"):
            route.fulfill(status=404, content_type="application/json", body=json.dumps(refused))
        else:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(document))

    page.route("**/api/v1/forecasts/evil**", answer)
    page.goto(stack.web_url + "/?task=evil")
    page.wait_for_selector("#series-table tbody tr[data-index]")
    # A series_url that is not this origin's path is not followed: the page builds its own.
    assert all(urlsplit(u).hostname != "elsewhere.example" for u in page.recorder.urls)
    assert asked and asked[0]["level"] == ["1"] and asked[0]["sort"] == ["key"]
    page.locator("#series-table tbody tr[data-index='0'] button.pick").click()
    page.wait_for_selector("#series-detail:not([hidden])")
    for node in ("#series-summary", "#series-table", "#series-detail-title", "#series-quality", "#series-cards"):
        assert EVIL in page.locator(node).inner_text(), node

    page.fill("#series-q", "shoes")
    page.keyboard.press("Enter")
    page.wait_for_selector("#series-error:not([hidden])")
    assert "the job has no series: expired (not_found)" in page.locator("#series-error").inner_text()
    assert page.locator("#series-status").inner_text() == "The series could not be loaded."
    assert page.locator("#series-next").get_attribute("aria-disabled") == "true"

    page.click("#series-csv")
    page.wait_for_function("() => document.getElementById('series-status').textContent === 'The CSV could not be downloaded.'")
    assert "expired" in page.locator("#series-error").inner_text()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0
    page.recorder.assert_loopback_only()
    errors = [e for e in page.recorder.errors if "404" not in e]  # the refused calls are logged
    assert not errors, errors
