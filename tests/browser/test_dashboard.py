"""The dashboard in a real headless Chromium, against the real stack with API keys on.

The stack, the browser and the page are tests/browser/conftest.py's (shared with the grouped
dashboard's tests: one stack for the package). Screenshots go to ``artifacts/browser/``.
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import API_KEY, ARTIFACTS, JOB_TIMEOUT_MS, api_status, chart_traces

pytestmark = pytest.mark.slow


def watch_progress(page) -> None:
    """Record every text the progress line shows, as it changes (read back by progress_seen)."""
    page.evaluate(
        """() => {
            window.__progress = [];
            const node = document.getElementById('progress-text');
            new MutationObserver(() => window.__progress.push(
                [node.textContent, document.getElementById('progress').value])
            ).observe(node, {childList: true, characterData: true, subtree: true});
        }"""
    )


def progress_seen(page) -> list[list]:
    return page.evaluate("() => window.__progress")


# ---- tests ----------------------------------------------------------------------------------


def test_submit_watch_and_read_the_forecast(stack, page):
    page.goto(stack.web_url + "/")
    assert page.locator("#api-key").is_visible(), "with API_KEYS set, the page asks for a key"
    assert API_KEY not in page.content(), "the server must never hand a key to the browser"
    watch_progress(page)

    page.fill("#api-key", API_KEY)
    page.fill("#horizon", "6")
    page.fill("#level", "80")
    page.select_option("#model", "ets")
    page.click("#submit")

    page.wait_for_selector("#results:not([hidden])", timeout=JOB_TIMEOUT_MS)
    page.wait_for_function("() => (document.getElementById('chart').data || []).length >= 4")
    task_id = page.locator("#task-id").inner_text()
    assert f"task={task_id}" in page.url  # a reload, or a shared link, comes back to this job
    assert page.evaluate("() => sessionStorage.getItem('sales-forecast.api-key')") == API_KEY

    # The progress bar moved through the stages, and ended full.
    seen = progress_seen(page)
    stages = [text.split(" · ")[0] for text, _ in seen]
    assert stages[-1] == "done" and seen[-1][1] == 100
    assert len(set(stages)) >= 2, seen
    assert page.locator("#stages li.done").count() == 7
    assert page.locator("#status").get_attribute("aria-live") == "polite"
    assert page.locator("#status").inner_text() == "Forecast ready."

    # What the chart plots is what the API returned for the same task.
    doc = api_status(stack, task_id)
    assert doc["status"] == "SUCCESS"
    data = doc["result"]["data"]
    forecast, quality = data["forecast"], data["data_quality"]
    traces = chart_traces(page)
    assert traces["actual"]["x"] == [m["period"] for m in data["actual_sales"]]
    assert traces["actual"]["y"] == pytest.approx([m["total_sales"] for m in data["actual_sales"]])
    assert traces["forecast"]["x"] == [p["period"] for p in forecast["horizon"]]
    assert traces["forecast"]["y"] == pytest.approx([p["forecast"] for p in forecast["horizon"]])
    assert traces["interval_low"]["y"] == pytest.approx([p["low"] for p in forecast["horizon"]])
    assert traces["interval_high"]["y"] == pytest.approx([p["high"] for p in forecast["horizon"]])
    assert len(forecast["horizon"]) == 6 and forecast["confidence_level"] == 80
    assert forecast["model"] == "ets"
    partial = quality["partial_month"]
    assert partial is not None  # the fake source has sales this month
    assert traces["partial_month"]["x"] == [partial["period"]]
    assert traces["partial_month"]["y"] == pytest.approx([partial["total_sales"]])
    # a rendered chart, not just data: plotly drew the lines and the shaded month in SVG
    assert page.locator("#chart .scatterlayer .trace").count() >= 4
    assert page.locator("#chart .shapelayer path").count() >= 1

    # Under the chart: accuracy, growth, data quality and the table of numbers.
    accuracy = page.locator("#accuracy").inner_text()
    for label in ("MAE", "MAPE", "sMAPE", "MASE", "WAPE", "Backtest origins", "Interval coverage"):
        assert label in accuracy
    assert str(forecast["metrics"]["backtest_origins"]) in accuracy
    # The page rounds the decimal the API wrote (84.85 -> 84.9, as Intl.NumberFormat does), not
    # its binary double (which Python's format would round down to 84.8).
    shown = Decimal(str(forecast["model_accuracy"])).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    assert f"{shown} %" in page.locator("#summary").inner_text()
    assert "Last complete month" in page.locator("#growth").inner_text()
    quality_text = page.locator("#quality").inner_text()
    assert f"{quality['rows_fetched']:,}" in quality_text and f"{quality['rows_used']:,}" in quality_text
    assert quality["rows_rejected"], "the fake source serves a row with an unreadable total"
    for reason in quality["rows_rejected"]:
        assert reason.replace("_", " ") in quality_text
    assert quality["duplicates"] >= 1 and "Duplicates" in quality_text
    assert partial["period"] in quality_text
    rows = page.locator("#numbers tbody tr")
    assert rows.count() == len(data["actual_sales"]) + 1 + len(forecast["horizon"])
    assert page.locator("#numbers tbody tr.partial th").inner_text() == partial["period"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "chart.png"))

    # The jobs page, in the same tab: the key carries over (sessionStorage), the job is listed.
    page.click("nav >> text=Recent jobs")
    row = page.locator(f'#jobs tbody tr[data-task-id="{task_id}"]')
    row.wait_for()
    assert "SUCCESS" in row.inner_text()
    assert "ets" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "jobs.png"), full_page=True)
    row.locator("a").click()  # back to the job's chart
    page.wait_for_selector("#results:not([hidden])")

    page.recorder.assert_loopback_only()
    assert not page.recorder.errors, page.recorder.errors


def test_keyboard_only_submission(stack, page):
    page.goto(stack.web_url + "/")
    watch_progress(page)
    order: list[str] = []
    for _ in range(45):  # from the top of the page to the submit button, Tab by Tab
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.id || document.activeElement.tagName")
        if not order or order[-1] != focused:  # a date field takes several Tabs (its segments)
            order.append(focused)
        if focused == "api-key":
            page.keyboard.type(API_KEY)
        if focused == "horizon":
            page.keyboard.press("Control+A")
            page.keyboard.type("4")
        if focused == "submit":
            break
    fields = [f for f in order if f in {"api-key", "start-date", "end-date", "horizon", "level", "model", "refresh", "submit"}]
    assert fields == ["api-key", "start-date", "end-date", "horizon", "level", "model", "refresh", "submit"], order
    assert order.index("group-by") < order.index("measure") < order.index("submit"), order
    # focus is visible: the focused button draws an outline
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")

    page.focus("#level")
    page.keyboard.press("Enter")  # Enter in a field submits the form
    page.wait_for_selector("#results:not([hidden])", timeout=JOB_TIMEOUT_MS)
    page.wait_for_function("() => (document.getElementById('chart').data || []).length >= 4")
    traces = chart_traces(page)
    assert len(traces["forecast"]["x"]) == 4
    assert page.locator("#status").inner_text() == "Forecast ready."
    assert progress_seen(page)[-1][1] == 100

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "keyboard.png"), full_page=True)
    page.recorder.assert_loopback_only()
    assert not page.recorder.errors, page.recorder.errors


def test_without_a_key_the_page_asks_for_one(stack, page):
    page.goto(stack.web_url + "/jobs")
    page.wait_for_selector("#error:not([hidden])")
    assert "API key" in page.locator("#error").inner_text()
    assert page.evaluate("() => document.activeElement.id") == "api-key"
    assert page.locator("#api-key").get_attribute("aria-invalid") == "true"

    page.fill("#api-key", "not-the-key")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('error').textContent.includes('not valid')")
    assert page.locator("#api-key").get_attribute("aria-invalid") == "true"
    assert page.evaluate("() => sessionStorage.getItem('sales-forecast.api-key')") is None  # a refused key is dropped

    page.fill("#api-key", API_KEY)
    page.keyboard.press("Enter")
    page.wait_for_selector("#jobs tbody tr[data-task-id]")
    assert page.locator("#error").is_hidden()
    page.recorder.assert_loopback_only()
    errors = [e for e in page.recorder.errors if "401" not in e]  # the refused calls are logged
    assert not errors, errors


def test_a_refused_request_is_explained_and_nothing_is_queued(stack, page):
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    page.fill("#start-date", "2025-06-01")
    page.fill("#end-date", "2025-01-31")
    page.keyboard.press("Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "start_date must not be after end_date" in page.locator("#error").inner_text()
    assert page.locator("#error").get_attribute("role") == "alert"
    assert page.locator("#status").inner_text() == "The forecast was not submitted."
    assert page.locator("#task-line").is_hidden() and page.locator("#results").is_hidden()
    page.recorder.assert_loopback_only()


EVIL = '<img src=x onerror="window.__pwned=1">'


def test_server_strings_are_shown_as_text_never_as_markup(stack, page):
    """Whatever the documents say, it lands in the page as text (no innerHTML, escaped in the chart)."""
    document = {
        "task_id": "evil", "status": "SUCCESS", "progress": {"stage": EVIL, "percent": 100},
        "submitted_at": None, "finished_at": None, "error": None,
        "result": {"status": "success", "data": {
            "actual_sales": [
                {"month": "Jan", "period": "2025-01", "total_sales": 100.0, "transaction_count": 3},
                {"month": "Feb", "period": "2025-02", "total_sales": 120.0, "transaction_count": 4},
                {"month": "Mar", "period": "2025-03", "total_sales": 130.0, "transaction_count": 5},
            ],
            "forecast": {
                "next_month_forecast": 140.0, "confidence_level": 90.0, "expected_range_low": 120.0,
                "expected_range_high": 160.0, "growth_rate": 8.3, "model_accuracy": None,
                "period": "2025-04", "model": EVIL, "forecast_growth_rate": 7.7,
                "horizon": [{"period": "2025-04", "forecast": 140.0, "low": 120.0, "high": 160.0}],
                "metrics": {"mae": None, "mape": None, "smape": None, "mase": None, "wape": None,
                            "backtest_origins": 0, "interval_coverage": None}},
            "data_quality": {"rows_fetched": 12, "rows_used": 12, "rows_rejected": {EVIL: 1},
                             "duplicates": 0, "negative_totals": 0, "months_zero_filled": [EVIL],
                             "partial_month": None},
            "meta": {"task_id": "evil", "data_fingerprint": EVIL, "model_version": EVIL,
                     "generated_at": EVIL, "cached": False, "source": EVIL}}},
    }
    listing = {"limit": 50, "jobs": [{
        "task_id": EVIL, "status": EVIL, "progress": {"stage": EVIL, "percent": 5},
        "submitted_at": EVIL, "finished_at": None, "error": {"code": EVIL, "message": EVIL},
        "params": {"model": EVIL, "horizon": EVIL, "level": 90, "start_date": EVIL, "end_date": None},
        "forecast": {"period": EVIL, "next_month_forecast": 1.0}}]}

    def fulfil(route):
        path = urlsplit(route.request.url).path
        body = document if path.endswith("/evil") else listing
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/api/v1/forecasts/evil", fulfil)
    page.route("**/api/v1/forecasts?limit=*", fulfil)
    page.goto(stack.web_url + "/?task=evil")
    page.wait_for_selector("#results:not([hidden])")
    page.wait_for_function("() => (document.getElementById('chart').data || []).length >= 4")
    assert page.locator("#summary").inner_text().count(EVIL) == 1  # the model card, verbatim
    assert EVIL in page.locator("#quality").inner_text()
    assert EVIL in page.locator("#chart .legend").text_content()  # plotly shows it as text too
    page.goto(stack.web_url + "/jobs")
    page.wait_for_selector("#jobs tbody tr[data-task-id]")
    assert EVIL in page.locator("#jobs").inner_text()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0
    page.recorder.assert_loopback_only()
