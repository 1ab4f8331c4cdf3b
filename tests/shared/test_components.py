"""What drives a forecast (docs/api.md §11, docs/models.md): each forecast block's ``components``
add up to its point forecast to the cent, in the job's measure, for the models that decompose;
null for those that do not, never invented."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from shared.contract.schema import ForecastRequest
from shared.engine.effects import calendar_effects, column_groups
from shared.engine.frequency_models import attribute, make_model
from shared.engine.grouped import run_grouped_forecast
from shared.engine.pipeline import run_forecast
from tests.shared.demo_sources import demo_line_source, demo_sales

TODAY = date(2026, 11, 25)
TZ = "Europe/Berlin"
PARTS = ("trend", "seasonal", "holidays", "events")


@pytest.fixture(scope="module")
def sales():
    return demo_sales(TODAY, TZ)


@pytest.fixture(scope="module")
def lines():
    return demo_line_source(TODAY, TZ)


def forecast(sales, body):
    return run_forecast(ForecastRequest.parse(body).resolved(TODAY), sales, timezone=TZ, today=TODAY)["data"]["forecast"]


def assert_adds_up(block):
    """Every period's parts, and only known parts, add up to its forecast to the cent."""
    components = block["components"]
    assert components is not None
    assert [c["period"] for c in components] == [h["period"] for h in block["horizon"]]
    for c, h in zip(components, block["horizon"]):
        assert set(c) - {"period"} <= set(PARTS) and "trend" in c
        assert round(sum(v for k, v in c.items() if k != "period"), 2) == pytest.approx(h["forecast"], abs=1e-9)


def test_daily_revenue_with_holidays_and_events_adds_up(sales):
    block = forecast(sales, {
        "frequency": "day", "holidays": "DE-BY", "horizon": 40,
        "events": [{"name": "Summer sale", "start": "2025-07-01", "end": "2025-07-14"},
                   {"name": "Summer sale", "start": "2026-07-01", "end": "2026-07-14"},
                   {"name": "Winter sale", "start": "2026-12-27", "end": "2027-01-03"}],
    })
    assert_adds_up(block)
    first = block["components"][0]
    assert {"trend", "seasonal", "holidays", "events"} <= set(first)
    by_period = {c["period"]: c for c in block["components"]}
    # A holiday moves its day; a day without one has no holiday part.
    assert by_period["2026-12-25"]["holidays"] != 0
    assert by_period["2026-12-10"]["holidays"] == 0
    # The events part is the winter sale's, on its days only.
    assert by_period["2026-12-28"]["events"] != 0 and by_period["2026-12-10"]["events"] == 0


def test_weekly_revenue_adds_up(sales):
    block = forecast(sales, {"frequency": "week", "holidays": "DE-BY"})
    assert_adds_up(block)
    assert "seasonal" in block["components"][0]


@pytest.mark.parametrize("body", [
    {},  # monthly auto: a median of five models, no split
    {"model": "ets"},
    {"frequency": "day", "model": "seasonal_naive"},
    {"frequency": "week", "model": "seasonal_naive", "holidays": "DE-BY"},
])
def test_models_that_do_not_decompose_give_null(sales, body):
    assert forecast(sales, body)["components"] is None


def test_a_straight_line_is_all_trend(sales):
    block = forecast(sales, {"model": "linear"})
    assert [list(c) for c in block["components"]] == [["period", "trend"]] * 3
    assert [c["trend"] for c in block["components"]] == [h["forecast"] for h in block["horizon"]]


def test_monthly_blocks_are_as_they_were_but_the_new_key(sales):
    block = forecast(sales, {"model": "seasonal_naive"})
    assert list(block)[-1] == "components" and block["components"] is None


@pytest.mark.parametrize("measure", ["units", "revenue"])
def test_grouped_daily_components_add_up_and_parents_are_their_childrens_sum(lines, measure):
    request = ForecastRequest.parse(
        {"frequency": "day", "group_by": ["category"], "holidays": "DE-BY", "measure": measure, "horizon": 35}
    ).resolved(TODAY)
    result = run_grouped_forecast(request, lines, timezone=TZ, today=TODAY)
    for s in result.series:
        assert_adds_up(s["forecast"])
    assert result.document["data"]["forecast"]["components"] == result.series[0]["forecast"]["components"]
    total, children = result.series[0], result.series[1:]
    for k, c in enumerate(total["forecast"]["components"]):
        for part in ("seasonal", "holidays"):
            summed = sum(ch["forecast"]["components"][k].get(part, 0.0) for ch in children)
            # Each child's part is rounded to the cent: the total's is their sum within a cent each.
            assert c.get(part, 0.0) == pytest.approx(summed, abs=0.01 * len(children) + 1e-9)


def _closed_christmas_shop(days: int = 830) -> tuple[np.ndarray, object]:
    start = date(2024, 9, 1)
    starts = [start + timedelta(days=i) for i in range(days + 28)]
    effects = calendar_effects("day", starts, "DE")
    rng = np.random.default_rng(3)
    t = np.arange(days)
    y = 100 + 0.05 * t + 20 * (t % 7 == 5) + rng.normal(0, 5, days)
    christmas = [i for i, d in enumerate(starts[:days]) if (d.month, d.day) == (12, 25)]
    y[christmas] = 0.0
    return y, effects


def test_a_closed_holiday_takes_the_whole_day():
    y, effects = _closed_christmas_shop()
    n = y.size
    model = make_model("auto", "day", effects=effects).fit(y, effects.X[:n])
    p = model.predict(28, level=90, X_future=effects.X[n:])
    parts = p.components
    assert parts is not None
    total = sum(parts.values())
    np.testing.assert_allclose(total, p.mean, atol=1e-6)
    days = [date(2024, 9, 1) + timedelta(days=n + k) for k in range(28)]
    k = days.index(date(2026, 12, 25))
    assert p.mean[k] == 0.0
    assert parts["holidays"][k] == pytest.approx(-(parts["trend"][k] + parts["seasonal"][k]))


def test_lmdi_attribution_adds_up_in_units():
    level = np.array([100.0, 100.0, 50.0])
    logs = {"seasonal": np.log([1.2, 0.9, 1.0]), "holidays": np.log([1.0, 0.5, 1.0])}
    parts = attribute(level, logs, multiplicative=True)
    np.testing.assert_allclose(sum(parts.values()), level * np.exp(sum(logs.values())))
    assert parts["seasonal"][0] == pytest.approx(20.0) and parts["holidays"][0] == 0.0
    assert parts["holidays"][1] < 0 < parts["trend"][1]
    np.testing.assert_allclose(parts["trend"], level)
    additive = attribute(level, {"seasonal": np.array([5.0, -5.0, 0.0])}, multiplicative=False)
    np.testing.assert_allclose(additive["seasonal"], [5.0, -5.0, 0.0])


def test_columns_are_holidays_or_events():
    assert column_groups(["holiday", "holiday:Christmas Day", "eve", "eve:Easter", "event", "event:Sale"]) == (
        "holidays", "holidays", "holidays", "holidays", "events", "events")
