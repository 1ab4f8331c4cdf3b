"""Weekly and daily forecasts through the service (docs/api.md §10), single-series and grouped.

The real processes (gunicorn, two Celery worker processes, an embedded Redis) and a Laravel-like
server with the demo shop's sales and sale lines; the client only speaks HTTP.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from datetime import date, timedelta

import pytest
import requests

from local.demo import demo_lines, demo_rows
from local.fake_laravel import FakeLaravel
from shared.contract import calendar
from stack.local import LocalStack
from tests.harness import CLOCK_FILE_ENV
from tests.service.conftest import API_KEY, base_env
from tests.stacks import ROOT

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
TODAY = date.today()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    rows = demo_rows(TODAY)
    with FakeLaravel(rows, items=demo_lines(TODAY, rows=rows), per_page=1000) as shop:
        root = tmp_path_factory.mktemp("frequencies")
        # The processes run on TODAY (a file clock): a run that crosses midnight keeps the date
        # the shop's data and these tests' expected periods were made for.
        clock_file = root / "today"
        clock_file.write_text(TODAY.isoformat())
        env = base_env(root, LARAVEL_API_URL=shop, API_KEYS=API_KEY, CHUNK_SIZE="3",
                       DATABASE_URL=f"sqlite:///{root / 'history.sqlite3'}",
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                       **{CLOCK_FILE_ENV: str(clock_file)})
        stack = LocalStack(env, root=root, log_dir=root / "logs", worker_concurrency=2,
                           worker_app="tests.harness.clocked_worker", web_app="tests.harness.clocked_web:create_app()")
        stack.start(ready_timeout=120)
        yield stack
        stack.stop()


def _get(stack, path: str, **params) -> requests.Response:
    return requests.get(f"{stack.web_url}{path}", headers=HEADERS, params=params, timeout=30)


def _run(stack, body: dict, timeout: float = 240) -> dict:
    response = requests.post(f"{stack.web_url}/api/v1/forecasts", json=body, headers=HEADERS, timeout=30)
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _get(stack, f"/api/v1/forecasts/{task_id}").json()
        if doc["status"] in ("SUCCESS", "FAILURE", "REVOKED"):
            assert doc["status"] == "SUCCESS", doc
            return doc
        time.sleep(0.2)
    raise AssertionError(f"{task_id} not finished after {timeout} s")


def _components_add_up(block: dict) -> dict:
    """The block's components (docs/api.md §11), checked to add up to its forecasts; by period."""
    parts = block["components"]
    assert parts is not None, block["model"]
    assert [c["period"] for c in parts] == [h["period"] for h in block["horizon"]]
    for c, h in zip(parts, block["horizon"]):
        assert round(sum(v for k, v in c.items() if k != "period"), 2) == pytest.approx(h["forecast"])
    return {c["period"]: c for c in parts}


def _this(frequency: str, days_back: int = 0) -> str:
    return calendar.label(calendar.period_index(TODAY - timedelta(days=days_back), frequency), frequency)


def test_a_weekly_forecast_with_holidays_and_events(stack):
    christmas = date(TODAY.year, 12, 25) if TODAY < date(TODAY.year, 12, 20) else date(TODAY.year + 1, 12, 25)
    promo_start = TODAY + timedelta(days=14)
    body = {"frequency": "week", "holidays": "US",
            "events": [{"name": "Spring promo", "start": promo_start.isoformat(), "end": (promo_start + timedelta(days=2)).isoformat()}]}
    doc = _run(stack, body)
    data = doc["result"]["data"]
    actual, forecast, quality = data["actual_sales"], data["forecast"], data["data_quality"]
    assert actual[-1]["period"] == _this("week", 7)
    assert date.fromisoformat(actual[-1]["start"]).weekday() == 0
    assert forecast["frequency"] == "week" and "next_month_forecast" not in forecast
    assert forecast["period"] == _this("week") and len(forecast["horizon"]) == 13
    assert forecast["next_period_forecast"] == forecast["horizon"][0]["forecast"]
    assert quality["partial_period"]["period"] == _this("week") and "partial_month" not in quality
    named = {h["period"]: h["events"] for h in forecast["horizon"]}
    assert "Spring promo" in named[_this("week", -14)]
    christmas_week = calendar.label(calendar.period_index(christmas, "week"), "week")
    if christmas_week in named:
        assert "Christmas Day" in named[christmas_week]
    # What drives it: the weekly model's trend, season and holidays, in revenue, adding up.
    parts = _components_add_up(forecast)
    assert {"trend", "seasonal", "holidays"} <= set(parts[forecast["period"]])
    # The history keeps it as a weekly record of the shop, apart from its monthly ones.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        weekly = _get(stack, "/api/v1/history", frequency="week").json()
        if any(r["task_id"] == doc["task_id"] for r in weekly["forecasts"]):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the weekly forecast is not in the history")
    assert weekly["series"]["frequency"] == "week"
    assert all("-W" in r["period"] for r in weekly["forecasts"])
    monthly = _get(stack, "/api/v1/history").json()["forecasts"]
    assert all(r["task_id"] != doc["task_id"] for r in monthly)


def test_a_daily_forecast(stack):
    doc = _run(stack, {"frequency": "day", "horizon": 14, "model": "ets"})
    data = doc["result"]["data"]
    assert len(data["actual_sales"]) == 730 and data["actual_sales"][-1]["period"] == _this("day", 1)
    forecast = data["forecast"]
    assert forecast["frequency"] == "day" and forecast["period"] == TODAY.isoformat()
    assert [h["period"] for h in forecast["horizon"]] == [(TODAY + timedelta(days=k)).isoformat() for k in range(14)]
    assert data["data_quality"]["partial_period"]["days_in_period"] == 1
    assert "seasonal" in _components_add_up(forecast)[TODAY.isoformat()]


@pytest.mark.parametrize("frequency,horizon", [("week", 4), ("day", 7)])
def test_a_grouped_forecast_by_week_and_by_day(stack, frequency, horizon):
    doc = _run(stack, {"frequency": frequency, "group_by": ["category"], "measure": "units", "horizon": horizon})
    data = doc["result"]["data"]
    assert data["forecast"]["frequency"] == frequency and data["forecast"]["period"] == _this(frequency)
    assert data["hierarchy"]["coherent"] is True and data["hierarchy"]["measure"] == "units"
    partial = data["data_quality"]["partial_period"]
    assert partial["period"] == _this(frequency) and partial["measure"] == "units"
    page = _get(stack, data["hierarchy"]["series_url"], level=1, limit=50, sort="-forecast").json()
    assert page["series"]
    expected = calendar.labels(calendar.period_index(TODAY, frequency), horizon, frequency)
    for series in page["series"]:
        assert [h["period"] for h in series["forecast"]["horizon"]] == expected
        assert series["actual"][-1]["period"] == _this(frequency, 7 if frequency == "week" else 1)
        if frequency == "week":
            assert all(date.fromisoformat(h["start"]).weekday() == 0 for h in series["forecast"]["horizon"])
        if series["forecast"]["components"] is not None:  # null for a series forecast naive
            _components_add_up(series["forecast"])
    # The total's parts, in units, are its categories' summed (bottom-up): there when every category's are.
    if all(series["forecast"]["components"] is not None for series in page["series"]):
        _components_add_up(data["forecast"])
    values = [s["forecast"]["next_period_forecast"] for s in page["series"]]
    assert values == sorted(values, reverse=True)
    # The CSV: one line per series and horizon period, labelled like the JSON.
    rows = list(csv.reader(io.StringIO(_get(stack, data["hierarchy"]["csv_url"]).text)))
    assert rows[0] == ["level", "category", "period", "forecast", "low", "high"]
    assert {r[2] for r in rows[1:]} == set(expected)
    assert len(rows) - 1 == data["hierarchy"]["series"] * horizon


@pytest.mark.parametrize(
    "body,field",
    [
        ({"frequency": "fortnight"}, "frequency"),
        ({"frequency": "week", "horizon": 105}, "horizon"),
        ({"holidays": "XX"}, "holidays"),
        ({"events": [{"name": "x", "start": "2025-02-30"}]}, "events.0.start"),
        ({"events": [{"name": "x", "start": "2025-01-01"}] * 501}, "events"),
    ],
)
def test_bad_frequency_fields_are_422_naming_the_field(stack, body, field):
    response = requests.post(f"{stack.web_url}/api/v1/forecasts", json=body, headers=HEADERS, timeout=30)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["field"] == field, json.dumps(error)
