"""What drives a forecast (docs/api.md §11) on the dashboard, in a real headless Chromium, against
the package's one stack (tests/browser/conftest.py): a daily job with US holidays over the
conftest's dense block of daily sales, whose horizon holds Independence Day, shows its forecast's
parts under the history chart, as a stacked chart and as a table, and they add up."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, DENSE_END, DENSE_START
from tests.browser.test_frequency_dashboard import chart, run_from_form

pytestmark = pytest.mark.slow

HOLIDAY = "2016-07-04"  # Independence Day, in the 28-day horizon after DENSE_END


def test_a_daily_job_with_a_holiday_shows_what_drives_its_forecast(stack, page):
    doc = run_from_form(page, stack, frequency="day", **{"start-date": DENSE_START.isoformat(),
                        "end-date": DENSE_END.isoformat(), "holidays": "us"})
    forecast = doc["result"]["data"]["forecast"]
    horizon = {p["period"]: p for p in forecast["horizon"]}
    parts = {c["period"]: c for c in forecast["components"]}
    assert "Independence Day" in horizon[HOLIDAY]["events"]
    # The API's parts: trend, the week's season and the holidays, adding up to each forecast.
    assert {"trend", "seasonal", "holidays"} <= set(parts[HOLIDAY])
    for period, c in parts.items():
        assert round(sum(v for k, v in c.items() if k != "period"), 2) == pytest.approx(horizon[period]["forecast"])
    assert parts[HOLIDAY]["holidays"] != 0

    # Under the history chart: the section, a stacked bar per part and the forecast as their sum.
    section = page.locator("#components")
    assert section.is_visible() and section.get_attribute("data-components") == "shown"
    history_box = page.locator("#chart").bounding_box()
    assert section.bounding_box()["y"] >= history_box["y"] + history_box["height"] - 1
    shown = chart(page, "components-chart")
    traces = shown["by"]
    assert {"trend", "seasonal", "holidays", "forecast"} <= set(traces)
    assert traces["holidays"]["x"] == list(parts)
    assert traces["holidays"]["y"] == pytest.approx([c.get("holidays", 0) for c in parts.values()])
    assert traces["forecast"]["y"] == pytest.approx([horizon[p]["forecast"] for p in parts])
    layout = page.evaluate("() => document.getElementById('components-chart').layout.barmode")
    assert layout == "relative"
    assert "holidays" in page.locator("#components-note").inner_text()

    # The same parts as numbers: the holiday's row names its part, in the dashboard's format.
    page.locator("#components-details summary").click()
    row = page.locator(f"#components-table tbody tr[data-period='{HOLIDAY}']")
    assert row.locator("td[data-part='holidays']").inner_text() == f"{parts[HOLIDAY]['holidays']:,.2f}"
    assert page.locator("#components-table thead th").all_inner_texts()[:4] == ["Day", "Trend", "Seasonal", "Holidays"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(ARTIFACTS / "daily-components.png"))
    page.recorder.assert_loopback_only()
    assert not page.recorder.errors, page.recorder.errors
