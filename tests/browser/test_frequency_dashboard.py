"""Weekly and daily forecasts, holidays, events, anomalies and alerts on the dashboard, in a real
headless Chromium, against the package's one stack (tests/browser/conftest.py).

The jobs read the conftest's dense block of daily sales (2015-01-01 to 2016-06-30, one spike day),
which no other test's window reaches. The alerts are written straight into the stack's history
database, as the worker's drain would write them, before the page lists them.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import insert

from shared.contract import calendar
from shared.history.engine import make_engine
from shared.history.models import ALERTS
from tests.browser.conftest import API_KEY, ARTIFACTS, DENSE_END, DENSE_START, SPIKE_DAY, api_status

pytestmark = pytest.mark.slow

FREQUENCY_TIMEOUT_MS = 180_000
EVENTS = [
    {"name": "Spring promo", "start": "2016-04-01", "end": "2016-04-03"},
    {"name": "Summer sale", "start": "2016-07-15", "end": "2016-07-17"},
]
CHART = """(id) => { const c = document.getElementById(id); return {
    traces: Array.from(c.data || [], t => ({meta: t.meta, x: Array.from(t.x || []), y: Array.from(t.y || []),
                                            customdata: Array.from(t.customdata || [])})),
    rangeslider: !!(c.layout.xaxis.rangeslider && c.layout.xaxis.rangeslider.visible),
    buttons: ((c.layout.xaxis.rangeselector || {}).buttons || []).map(b => b.label),
    range: c.layout.xaxis.range || null,
    shapes: (c.layout.shapes || []).length}; }"""


def chart(page, element: str = "chart") -> dict:
    """The Plotly chart's traces and layout as the page holds them, with its traces by their meta name."""
    found = page.evaluate(CHART, element)
    found["by"] = {trace["meta"]: trace for trace in found["traces"]}
    return found


def posts(page) -> list[str]:
    """Every POST the page made, recorded from the moment this is first called."""
    if not hasattr(page, "posted"):
        page.posted = []
        page.on("request", lambda request: request.method == "POST" and page.posted.append(request.url))
    return page.posted


def run_from_form(page, stack, **fields) -> dict:
    """Fill the form (frequency first: it resets an untouched horizon), submit, wait for the result."""
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    page.select_option("#frequency", fields.pop("frequency"))
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=FREQUENCY_TIMEOUT_MS)
    page.wait_for_function("() => (document.getElementById('chart').data || []).length >= 4")
    doc = api_status(stack, page.locator("#task-id").inner_text())
    assert doc["status"] == "SUCCESS", doc
    return doc


def test_the_form_takes_each_frequency_s_limits_from_the_server_and_checks_what_it_sends(stack, page):
    """Each frequency's horizon limits come from the server, and the form checks a request before it sends it."""
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    posted = posts(page)
    for frequency, spec in calendar.SPECS.items():
        page.select_option("#frequency", str(frequency))
        assert page.locator("#horizon").get_attribute("max") == str(spec.max_horizon)
        assert page.locator("#horizon").input_value() == str(spec.default_horizon)
        assert page.locator("#horizon-label").inner_text() == f"Horizon ({spec.noun}s)"
        assert f"1 to {spec.max_horizon}" in page.locator("#horizon-help").inner_text()
        assert f"{spec.default_window} complete {spec.noun}s" in page.locator("#dates-help").inner_text()

    # Over the week's bound, a malformed country and a malformed event: each field says why, nothing is sent.
    page.select_option("#frequency", "week")
    page.fill("#horizon", "105")
    page.fill("#holidays", "U$")
    page.fill("#events", json.dumps([{"name": "Sale", "start": "2025-02-30"}]))
    page.click("#submit")
    assert page.locator("#status").inner_text() == "The forecast was not submitted."
    assert "1 to 104" in page.locator("#horizon-error").inner_text()
    assert "country code" in page.locator("#holidays-error").inner_text()
    assert "Event 1: start" in page.locator("#events-error").inner_text()
    assert page.evaluate("document.activeElement.id") == "horizon"  # the first wrong field
    page.fill("#events", "[{\"name\": \"Sale\", \"start\": \"2025-03-02\", \"end\": \"2025-03-01\"}]")
    page.fill("#horizon", "104")
    page.fill("#holidays", "none")
    page.click("#submit")
    assert "end is before start" in page.locator("#events-error").inner_text()
    assert page.locator("#horizon-error").is_hidden() and page.locator("#holidays-error").is_hidden()
    assert not posted, posted

    # A request the server refuses (an unknown country) is still explained at its field.
    page.fill("#events", "")
    page.fill("#holidays", "XX")
    page.click("#submit")
    page.wait_for_function("() => !document.getElementById('holidays-error').hidden")
    assert len(posted) == 1
    assert page.locator("#holidays").get_attribute("aria-invalid") == "true"
    # Chromium logs the refused request itself; nothing else went wrong.
    assert [e for e in page.recorder.errors if "status of 422" not in e] == [], page.recorder.errors


def test_a_daily_job_with_holidays_and_events(stack, page):
    """A daily job with holidays and events runs from the form and its chart shows them."""
    doc = run_from_form(page, stack, frequency="day", **{"start-date": DENSE_START.isoformat(),
                        "end-date": DENSE_END.isoformat(), "holidays": "us", "events": json.dumps(EVENTS)})
    data = doc["result"]["data"]
    forecast = data["forecast"]
    assert forecast["frequency"] == "day"
    horizon = forecast["horizon"]
    assert len(horizon) == calendar.SPECS[calendar.Frequency.DAY].default_horizon  # 28: the form's default
    named = {p["period"]: p["events"] for p in horizon if p["events"]}
    assert "Independence Day" in named["2016-07-04"], named
    assert all("Summer sale" in named[day] for day in ("2016-07-15", "2016-07-16", "2016-07-17")), named

    shown = chart(page)
    traces = shown["by"]
    assert traces["actual"]["x"] == [p["period"] for p in data["actual_sales"]]
    assert traces["forecast"]["x"] == [p["period"] for p in horizon]
    # Years of days: a range slider and range buttons, opening on the latest months and the horizon.
    assert shown["rangeslider"] and shown["buttons"][-1] == "all" and "3m" in shown["buttons"]
    assert page.locator("#chart .rangeslider-container").count() == 1
    assert page.locator("#chart .rangeselector .button").count() == len(shown["buttons"])
    assert shown["range"][0] > data["actual_sales"][0]["period"] and shown["range"][1] > horizon[-1]["period"]
    # The holidays and events of the horizon: a star per period, named, and each period shaded.
    assert traces["events"]["x"] == sorted(named)
    assert any("Independence Day" in text for text in traces["events"]["customdata"])
    assert shown["shapes"] >= len(named)
    event_rows = page.locator("#numbers tbody tr.event")
    assert event_rows.count() == len(named)
    assert "Independence Day" in event_rows.first.inner_text()

    # The spike day is an anomaly of the history: a marker with what was expected, and said in the table.
    anomalies = {a["period"]: a for a in data["anomalies"]}
    assert SPIKE_DAY.isoformat() in anomalies and anomalies[SPIKE_DAY.isoformat()]["kind"] == "spike"
    assert traces["anomalies"]["x"] == [a["period"] for a in data["anomalies"]]
    assert traces["anomalies"]["y"] == pytest.approx([a["value"] for a in data["anomalies"]])
    spike_text = traces["anomalies"]["customdata"][traces["anomalies"]["x"].index(SPIKE_DAY.isoformat())]
    assert "spike" in spike_text and "expected" in spike_text
    assert "spike (expected" in page.locator(f"#numbers tbody tr[data-anomaly] >> text={SPIKE_DAY.isoformat()}").locator(
        "xpath=..").inner_text()
    assert page.locator("#numbers-period").inner_text() == "Day"
    assert "Next day" in page.locator("#summary").inner_text()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "daily-dashboard.png"), full_page=True)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "daily-chart.png"))
    # The value axis fits the stretch shown, not the spike months before it; "all" shows everything.
    spike_value = anomalies[SPIKE_DAY.isoformat()]["value"]
    y_range = page.evaluate("() => document.getElementById('chart').layout.yaxis.range")
    assert y_range[0] == 0 and max(p["high"] for p in horizon) < y_range[1] < spike_value
    page.locator("#chart .rangeselector .button").last.click()
    page.wait_for_function("() => document.getElementById('chart').layout.xaxis.autorange === true")
    page.wait_for_function("(top) => document.getElementById('chart').layout.yaxis.range[1] > top", arg=spike_value)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "daily-chart-all.png"))
    page.locator("#chart .rangeselector .button").nth(1).click()  # 3 months: the axis fits again
    page.wait_for_function("(top) => document.getElementById('chart').layout.yaxis.range[1] < top", arg=spike_value)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "daily-chart-3m.png"))
    page.recorder.assert_loopback_only()
    assert not page.recorder.errors, page.recorder.errors


def test_a_weekly_job_is_labelled_by_iso_week(stack, page):
    """A weekly job's periods are labelled by ISO week on the page."""
    monday = DENSE_START + timedelta(days=(7 - DENSE_START.weekday()) % 7)
    sunday = DENSE_END - timedelta(days=(DENSE_END.weekday() + 1) % 7)
    doc = run_from_form(page, stack, frequency="week", horizon="8", **{"start-date": monday.isoformat(),
                        "end-date": sunday.isoformat(), "holidays": "none"})
    data = doc["result"]["data"]
    assert data["forecast"]["frequency"] == "week"
    actual, horizon = data["actual_sales"], data["forecast"]["horizon"]
    assert len(horizon) == 8 and all(re.fullmatch(r"\d{4}-W\d{2}", p["period"]) for p in actual + horizon)
    assert "events" not in horizon[0]  # holidays turned off ("none" sends []), no events

    # The chart puts each week at its Monday and names it by its ISO label on hover.
    traces = chart(page)["by"]
    assert traces["actual"]["x"] == [p["start"] for p in actual]
    assert traces["actual"]["customdata"] == [p["period"] for p in actual]
    assert traces["forecast"]["x"] == [p["start"] for p in horizon]
    assert traces["forecast"]["customdata"] == [p["period"] for p in horizon]
    assert page.locator("#chart .rangeslider-container").count() == 1
    ticks = page.evaluate("() => Array.from(document.querySelectorAll('#chart .xtick text'), t => t.textContent)")
    assert ticks and all(re.search(r"(19|20)\d\d", t) for t in ticks), ticks  # each tick says its year
    # The table: the weeks' labels, oldest first, then the forecast weeks.
    periods = page.locator("#numbers tbody th").all_inner_texts()
    assert periods == [p["period"] for p in actual] + [p["period"] for p in horizon]
    assert page.locator("#numbers-period").inner_text() == "Week"
    if data["anomalies"]:  # the spike day's week stands out too, when the decomposition says so
        assert traces["anomalies"]["x"] == [next(p["start"] for p in actual if p["period"] == a["period"])
                                            for a in data["anomalies"]]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "weekly-chart.png"))
    assert not page.recorder.errors, page.recorder.errors


# ---- alerts ----------------------------------------------------------------------------------------


CATEGORY = "Zeta (alerts test)"


def seed_alerts(stack, task_id: str, count: int) -> list[dict]:
    """``count`` alerts, a minute apart, of every kind and of three series (one of them the total),
    written into the stack's history database as the drain writes them; the newest first, as the API
    lists them. They are dated tomorrow, so any alert a job of the other tests raised comes after them."""
    url = stack.env.get("DATABASE_URL") or f"sqlite:///{stack.root / 'var' / 'history.sqlite3'}"
    engine = make_engine(url, create_dir=False)
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    series = [{}, {"category": CATEGORY}, {"category": CATEGORY, "product_id": "9001"}]
    kinds = ["below_range", "above_range", "forecast_drop"]
    rows = []
    for i in range(count):
        kind = kinds[i % 3]
        key = series[(i // 3) % 3]
        rows.append({
            "id": f"{i:04d}browseralert".ljust(32, "0"), "created_at": now - timedelta(minutes=count - i),
            "source": "laravel:http://127.0.0.1", "status": "completed", "measure": "revenue", "frequency": "month",
            "series_key": json.dumps(key, sort_keys=True, separators=(",", ":")), "kind": kind,
            "period": f"2026-{1 + i % 12:02d}", "task_id": task_id,
            "actual": {"below_range": 50.0 + i, "above_range": 250.0 + i}.get(kind), "low": None if kind == "forecast_drop" else 100.0,
            "high": None if kind == "forecast_drop" else 200.0, "level": 90.0,
            "change_pct": -30.0 - i if kind == "forecast_drop" else None,
        })
    with engine.begin() as conn:
        conn.execute(insert(ALERTS), rows)
    engine.dispose()
    return [dict(row, series=json.loads(row["series_key"])) for row in reversed(rows)]


def test_the_alerts_panel_lists_filters_and_pages(stack, page):
    """The alerts panel lists the stored alerts, filters them by kind and series, and pages through them."""
    seeded = seed_alerts(stack, "browser-alerts-job", 30)
    page.goto(stack.web_url + "/")
    page.fill("#api-key", API_KEY)
    page.click("#alerts-apply")
    page.wait_for_function("() => /alerts, more below/.test(document.getElementById('alerts-status').textContent)")
    rows = page.locator("#alerts-table tbody tr")
    assert rows.count() == 25  # a page; newest first
    assert rows.first.get_attribute("data-alert-id") == seeded[0]["id"]
    assert page.locator("#alerts-more").is_visible()
    page.click("#alerts-more")
    page.wait_for_function("() => document.querySelectorAll('#alerts-table tbody tr').length >= 30")
    ids = [rows.nth(i).get_attribute("data-alert-id") for i in range(30)]
    assert ids == [a["id"] for a in seeded]
    # The job is not on screen: each series is named by its key, with a link to the job.
    texts = [rows.nth(i).inner_text() for i in range(3 * 3)]
    assert any("the total" in t for t in texts) and any(f"category {CATEGORY} › product_id 9001" in t for t in texts)
    assert rows.first.locator("button").count() == 0
    assert rows.first.locator("a").get_attribute("href") == "/?task=browser-alerts-job"

    # By kind: the drops only, with their fall.
    page.select_option("#alerts-kind", "forecast_drop")
    page.wait_for_function("() => Array.from(document.querySelectorAll('#alerts-table tbody tr'))"
                           ".every(r => r.dataset.kind === 'forecast_drop')")
    drops = [a["id"] for a in seeded if a["kind"] == "forecast_drop"]
    assert [rows.nth(i).get_attribute("data-alert-id") for i in range(len(drops))] == drops
    assert "outlook −" in rows.first.inner_text() or "outlook -" in rows.first.inner_text()

    # By series (JSON): one category's own alerts; a malformed filter says why and sends nothing.
    page.select_option("#alerts-kind", "")
    page.fill("#alerts-group", "{category: Zeta}")
    page.click("#alerts-apply")
    assert page.locator("#alerts-group-error").is_visible()
    assert page.locator("#alerts-group").get_attribute("aria-invalid") == "true"
    page.fill("#alerts-group", json.dumps({"category": CATEGORY}))
    page.click("#alerts-apply")
    want = [a["id"] for a in seeded if a["series"] == {"category": CATEGORY}]
    page.wait_for_function("(n) => document.querySelectorAll('#alerts-table tbody tr[data-alert-id]').length === n",
                           arg=len(want))
    assert [rows.nth(i).get_attribute("data-alert-id") for i in range(rows.count())] == want
    assert page.locator("#alerts-group-error").is_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#alerts").screenshot(path=str(ARTIFACTS / "alerts-panel.png"))
    assert not page.recorder.errors, page.recorder.errors


def weekly_grouped_document(task_id: str) -> tuple[dict, dict]:
    """A finished weekly grouped job (category › product_id) with anomalies and a holiday in its
    horizon, and the one page of its series the page asks for: the page's routes answer them."""
    weeks = [("2025-W01", "2024-12-30"), ("2025-W02", "2025-01-06"), ("2025-W03", "2025-01-13"),
             ("2025-W04", "2025-01-20"), ("2025-W05", "2025-01-27"), ("2025-W06", "2025-02-03")]
    horizon = [{"period": "2025-W07", "start": "2025-02-10", "forecast": 140.0, "low": 120.0, "high": 160.0, "events": []},
               {"period": "2025-W08", "start": "2025-02-17", "forecast": 150.0, "low": 125.0, "high": 170.0,
                "events": ["Washington's Birthday"]}]
    forecast = {
        "confidence_level": 90.0, "expected_range_low": 120.0, "expected_range_high": 160.0, "growth_rate": 1.0,
        "model_accuracy": 91.0, "period": "2025-W07", "model": "ets", "forecast_growth_rate": 2.0, "horizon": horizon,
        "metrics": {"mae": 1.0, "mape": 1.0, "smape": 1.0, "mase": 0.5, "wape": 9.0, "backtest_origins": 1,
                    "interval_coverage": 90.0},
        "next_period_forecast": 140.0, "frequency": "week"}
    values = [100.0, 110.0, 400.0, 105.0, 30.0, 120.0]
    anomalies = [{"period": "2025-W03", "value": 400.0, "expected": 108.0, "kind": "spike"},
                 {"period": "2025-W05", "value": 30.0, "expected": 112.0, "kind": "dip"}]
    document = {
        "task_id": task_id, "status": "SUCCESS", "progress": {"stage": "done", "percent": 100},
        "submitted_at": None, "finished_at": None, "error": None,
        "result": {"status": "success", "data": {
            "actual_sales": [{"month": p[5:], "period": p, "start": s, "total_sales": v, "transaction_count": 3}
                             for (p, s), v in zip(weeks, values)],
            "forecast": forecast, "anomalies": anomalies,
            "data_quality": {"rows_fetched": 18, "rows_used": 18, "rows_rejected": {}, "duplicates": 0,
                             "negative_totals": 0, "months_zero_filled": [], "partial_period": None},
            "meta": {"task_id": task_id, "data_fingerprint": "f", "model_version": "v", "generated_at": None,
                     "cached": False, "source": "s"},
            "hierarchy": {"group_by": ["category", "product_id"], "measure": "revenue",
                          "levels": [{"fields": ["category"], "series": 1}, {"fields": ["category", "product_id"], "series": 1}],
                          "series": 3, "reconciliation": "bottom_up", "coherent": True}}},
    }
    series = {"series": [{"key": {"category": "Shoes", "product_id": "17"}, "level": 2,
                          "actual": [{"period": p, "start": s, "value": v / 2} for (p, s), v in zip(weeks, values)],
                          "anomalies": [dict(anomalies[0], value=200.0, expected=54.0)],
                          "forecast": forecast, "data_quality": {"lines_used": 9, "months": 6, "months_zero": 0,
                                                                 "first_period": "2025-W01"}}],
              "next_cursor": None, "level": 2, "matching": 1}
    return document, series


def test_anomalies_events_and_alerts_of_a_grouped_weekly_job_on_screen(stack, page):
    """The total's and a series' anomalies, the horizon's holiday, and alerts that open the series of
    the job on screen (the job's and the alerts' answers are the page's routes)."""
    task_id = "weekly-grouped"
    document, series = weekly_grouped_document(task_id)
    alerts = [
        {"id": "a1", "created_at": "2025-02-10T06:00:00Z", "series": {"category": "Shoes", "product_id": "17"},
         "kind": "above_range", "period": "2025-W06", "frequency": "week", "measure": "revenue", "task_id": task_id,
         "actual": 60.0, "low": 20.0, "high": 50.0, "level": 90.0},
        {"id": "a2", "created_at": "2025-02-10T05:00:00Z", "series": {}, "kind": "forecast_drop", "period": "2025-W07",
         "frequency": "week", "measure": "revenue", "task_id": task_id, "change_pct": -31.5, "level": 90.0},
        {"id": "a3", "created_at": "2025-02-09T05:00:00Z", "series": {"category": "Hats"}, "kind": "below_range",
         "period": "2025-W05", "frequency": "week", "measure": "revenue", "task_id": "another-job",
         "actual": 1.0, "low": 5.0, "high": 9.0, "level": 90.0},
    ]
    asked: list[str] = []

    def answer(route):
        parts = urlsplit(route.request.url)
        asked.append(route.request.url)
        body = series if parts.path.endswith("/series") else {"alerts": alerts, "next_cursor": None, "limit": 25} \
            if parts.path.endswith("/alerts") else document
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(f"**/api/v1/forecasts/{task_id}**", answer)
    page.route("**/api/v1/alerts**", answer)
    page.goto(stack.web_url + "/")
    page.evaluate("(key) => sessionStorage.setItem('sales-forecast.api-key', key)", API_KEY)
    page.goto(stack.web_url + f"/?task={task_id}")
    page.wait_for_selector("#results:not([hidden])")
    page.wait_for_selector("#alerts-table tbody tr[data-alert-id='a3']")

    total = chart(page)["by"]
    assert total["anomalies"]["x"] == ["2025-01-13", "2025-01-27"]  # the weeks' Mondays
    assert total["anomalies"]["y"] == [400.0, 30.0]
    assert "spike: 400.00 against 108.00 expected" in total["anomalies"]["customdata"][0]
    assert "dip" in total["anomalies"]["customdata"][1]
    assert total["events"]["x"] == ["2025-02-17"]
    assert "Washington" in page.locator("#numbers tbody tr.event").inner_text()
    assert page.locator("#numbers tbody tr[data-anomaly='dip']").count() == 1
    assert "Next week (2025-W07)" in page.locator("#summary").inner_text()
    # The series table's next-period column: a weekly series has next_period_forecast, no next_month_forecast.
    row = page.locator("#series-table tbody tr[data-index='0']")
    row.wait_for()
    assert "140.00" in row.inner_text(), row.inner_text()

    # An alert of another job names its series; those of the job on screen open them.
    other = page.locator("#alerts-table tbody tr[data-alert-id='a3']")
    assert other.locator("button").count() == 0 and "category Hats" in other.inner_text()
    page.locator("#alerts-table tbody tr[data-alert-id='a1'] button.alert-series").click()
    page.wait_for_selector("#series-detail:not([hidden])")
    assert "Shoes" in page.locator("#series-detail-title").inner_text()
    assert page.evaluate("document.activeElement.id") == "series-detail-title"
    assert any("level=2" in u and "q=17" in u for u in asked), asked
    detail = chart(page, "series-chart")["by"]
    assert detail["anomalies"]["x"] == ["2025-01-13"] and detail["anomalies"]["y"] == [200.0]
    assert detail["events"]["x"] == ["2025-02-17"]
    assert "Washington" in page.locator("#series-horizon tbody tr.event").inner_text()
    assert page.locator("#series-horizon-period").inner_text() == "Week"
    page.locator("#alerts-table tbody tr[data-alert-id='a2'] button.alert-series").click()
    assert page.evaluate("document.activeElement.id") == "results-title"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "weekly-grouped-anomalies-alerts.png"), full_page=True)
    page.locator("#series-chart").screenshot(path=str(ARTIFACTS / "series-chart-anomalies.png"))
    assert not page.recorder.errors, page.recorder.errors
