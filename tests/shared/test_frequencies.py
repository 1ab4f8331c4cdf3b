"""docs/api.md §10 in the result documents: weekly and daily forecasts, single-series and grouped,
their labels, the period in progress, holidays and events named in the horizon; every figure of a
grouped result in the job's measure (§8); monthly documents as they always were."""
from __future__ import annotations

from datetime import date

import pytest

from shared.contract import calendar
from shared.contract.schema import ForecastRequest
from shared.engine.grouped import run_grouped_forecast, series_csv
from shared.engine.pipeline import run_forecast
from tests.shared.demo_sources import demo_line_source, demo_sales

TODAY = date(2026, 11, 25)  # a Wednesday
TZ = "Europe/Berlin"


@pytest.fixture(scope="module")
def sales():
    return demo_sales(TODAY, TZ)


@pytest.fixture(scope="module")
def lines():
    return demo_line_source(TODAY, TZ)


def forecast(sales, body):
    return run_forecast(ForecastRequest.parse(body).resolved(TODAY), sales, timezone=TZ, today=TODAY)


def test_weekly_document(sales):
    body = {"frequency": "week", "model": "seasonal_naive", "holidays": "DE-BY",
            "events": [{"name": "Black Friday", "start": "2026-11-27"}, {"name": "Winter sale", "start": "2026-12-28", "end": "2027-01-10"}]}
    data = forecast(sales, body)["data"]
    actual = data["actual_sales"]
    assert len(actual) == 156
    assert actual[-1] == {**actual[-1], "period": "2026-W47", "start": "2026-11-16", "month": "W47"}
    f = data["forecast"]
    assert f["frequency"] == "week" and "next_month_forecast" not in f
    assert f["next_period_forecast"] == f["horizon"][0]["forecast"]
    assert f["period"] == "2026-W48" and len(f["horizon"]) == 13
    labels = [h["period"] for h in f["horizon"]]
    assert labels[:6] == ["2026-W48", "2026-W49", "2026-W50", "2026-W51", "2026-W52", "2026-W53"]
    assert labels[6] == "2027-W01"
    assert all(date.fromisoformat(h["start"]).weekday() == 0 for h in f["horizon"])
    events = {h["period"]: h["events"] for h in f["horizon"]}
    assert events["2026-W48"] == ["Black Friday"]
    assert events["2026-W52"] == ["Christmas Day", "Second Day of Christmas"]
    # the holidays by day, then the events
    assert events["2026-W53"] == ["New Year's Day", "Winter sale"]
    assert events["2027-W01"] == ["Epiphany", "Winter sale"]
    assert events["2026-W50"] == []
    dq = data["data_quality"]
    assert "partial_month" not in dq
    assert dq["partial_period"]["period"] == "2026-W48" and dq["partial_period"]["days_elapsed"] == 3


def test_daily_document(sales):
    data = forecast(sales, {"frequency": "day", "model": "seasonal_naive", "holidays": ["DE-BY"]})["data"]
    assert len(data["actual_sales"]) == 730 and data["actual_sales"][-1]["period"] == "2026-11-24"
    assert "start" not in data["actual_sales"][-1]
    f = data["forecast"]
    assert f["frequency"] == "day" and f["period"] == "2026-11-25" and len(f["horizon"]) == 28
    assert f["horizon"][-1]["period"] == "2026-12-22"
    assert "start" not in f["horizon"][0]
    assert data["data_quality"]["partial_period"] == {**data["data_quality"]["partial_period"], "period": "2026-11-25", "days_in_period": 1}


def test_monthly_document_adds_only_the_frequency_fields(sales):
    data = forecast(sales, {"model": "seasonal_naive"})["data"]
    f = data["forecast"]
    assert f["frequency"] == "month" and f["next_month_forecast"] == f["next_period_forecast"]
    assert list(f)[:11] == ["next_month_forecast", "confidence_level", "expected_range_low", "expected_range_high",
                            "growth_rate", "model_accuracy", "period", "model", "forecast_growth_rate", "horizon", "metrics"]
    assert list(f["horizon"][0]) == ["period", "forecast", "low", "high"]  # no events without holidays or events
    assert list(data["actual_sales"][0]) == ["month", "period", "total_sales", "transaction_count"]
    dq = data["data_quality"]
    assert dq["partial_month"]["period"] == dq["partial_period"]["period"] == "2026-11"
    assert dq["partial_month"]["days_in_month"] == dq["partial_period"]["days_in_period"] == 30


def test_grouped_weekly(lines):
    request = ForecastRequest.parse({"frequency": "week", "group_by": ["category"], "model": "seasonal_naive", "horizon": 4}).resolved(TODAY)
    result = run_grouped_forecast(request, lines, timezone=TZ, today=TODAY)
    doc = result.document["data"]
    assert doc["forecast"]["frequency"] == "week" and doc["forecast"]["period"] == "2026-W48"
    assert doc["actual_sales"][-1]["period"] == "2026-W47"
    for s in result.series:
        assert [h["period"] for h in s["forecast"]["horizon"]] == ["2026-W48", "2026-W49", "2026-W50", "2026-W51"]
        assert s["forecast"]["horizon"][0]["start"] == "2026-11-23"
        assert s["actual"][-1]["start"] == "2026-11-16" and s["actual"][-1]["period"] == "2026-W47"
        assert all(calendar.parse_label(a["period"], "week") for a in s["actual"])
    # Coherent per week: the categories add up to the total.
    total = result.series[0]["forecast"]["horizon"]
    for k in range(4):
        assert round(sum(s["forecast"]["horizon"][k]["forecast"] for s in result.series[1:]), 2) == total[k]["forecast"]
    csv_text = series_csv(result.series, ["category"])
    assert "2026-W48" in csv_text and "2026-11" not in csv_text.replace("2026-11-", "")


def test_grouped_daily(lines):
    request = ForecastRequest.parse({"frequency": "day", "group_by": ["category"], "model": "seasonal_naive", "horizon": 7}).resolved(TODAY)
    result = run_grouped_forecast(request, lines, timezone=TZ, today=TODAY)
    assert result.document["data"]["forecast"]["period"] == "2026-11-25"
    assert result.series[1]["forecast"]["horizon"][-1]["period"] == "2026-12-01"


@pytest.mark.parametrize("measure", ["revenue", "units", "orders"])
def test_every_figure_of_a_grouped_result_is_in_its_measure(lines, measure):
    request = ForecastRequest.parse({"measure": measure, "group_by": ["category"], "model": "seasonal_naive"}).resolved(TODAY)
    result = run_grouped_forecast(request, lines, timezone=TZ, today=TODAY)
    data = result.document["data"]
    cols = lines.reader(["category"])
    # The period in progress, from the lines themselves, in the measure.
    start = calendar.period_start(calendar.period_index(TODAY, "month"), "month")
    from shared.engine.periods import PeriodGrid

    grid = PeriodGrid.spanning(calendar.period_index(start, "month"), 1, "month", TZ)
    import numpy as np

    keep = np.unique(cols.ids, return_index=True)[1]
    ts = cols.ts_ns[keep]
    inside = keep[(ts >= grid.bounds[0]) & (ts < grid.bounds[1])]
    expected = {
        "revenue": int(cols.cents[inside].sum()) / 100,
        "units": float(cols.quantity[inside].sum()),
        "orders": float(np.unique(cols.sale_ids[inside]).size),
    }[measure]
    for key in ("partial_month", "partial_period"):
        assert data["data_quality"][key]["total_sales"] == pytest.approx(expected)
        assert data["data_quality"][key]["transaction_count"] == np.unique(cols.sale_ids[inside]).size
    assert data["data_quality"]["partial_period"]["measure"] == measure
    # The actuals are the total series in the measure, and so is the forecast's history.
    assert [a["total_sales"] for a in data["actual_sales"]] == [v["value"] for v in result.series[0]["actual"]]


def test_monthly_holidays_name_the_horizon_and_change_no_figure(sales):
    plain = forecast(sales, {"model": "seasonal_naive"})["data"]["forecast"]
    named = forecast(sales, {"model": "seasonal_naive", "holidays": "DE-BY"})["data"]["forecast"]
    assert [h["events"] for h in named["horizon"]] == [["All Saints' Day"], ["Christmas Day", "Second Day of Christmas"], ["New Year's Day", "Epiphany"]]
    assert [{k: v for k, v in h.items() if k != "events"} for h in named["horizon"]] == plain["horizon"]
