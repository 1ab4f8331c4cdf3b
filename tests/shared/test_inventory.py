"""Inventory (docs/api.md §12): demand paths, order-up-to levels, honesty, stock rows, request fields."""
from __future__ import annotations

import numpy as np
import pytest

from shared.contract.errors import InvalidRequest
from shared.contract.schema import ForecastRequest
from shared.engine import inventory as inv
from shared.engine.models import make_model
from shared.sources.stock import StockRejectReason, stock_from_rows


def seasonal(n: int = 48, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 + 10 * np.sin(np.arange(n) * 2 * np.pi / 12) + rng.normal(0, 5, n)


# ---------------------------------------------------------------- the request field


@pytest.mark.parametrize(
    "inventory, field",
    [
        ({"lead_time": -1}, "inventory.lead_time"),
        ({"lead_time": 53}, "inventory.lead_time"),
        ({"lead_time": 1.5}, "inventory.lead_time"),
        ({"lead_time": True}, "inventory.lead_time"),
        ({"lead_time": 2, "review_period": 0}, "inventory.review_period"),
        ({"lead_time": 2, "review_period": 53}, "inventory.review_period"),
        ({"lead_time": 2, "service_level": 49.9}, "inventory.service_level"),
        ({"lead_time": 2, "service_level": 100}, "inventory.service_level"),
        ({"lead_time": 2, "service_level": "high"}, "inventory.service_level"),
        ({"review_period": 2}, "inventory.lead_time"),
        ({"lead_time": 2, "safety": 1}, "inventory.safety"),
    ],
)
def test_inventory_fields_out_of_range_name_the_field(inventory, field):
    with pytest.raises(InvalidRequest) as caught:
        ForecastRequest.parse({"inventory": inventory})
    assert caught.value.field == field


def test_inventory_defaults_and_keys():
    request = ForecastRequest.parse({"inventory": {"lead_time": 2}})
    assert request.inventory.review_period == 1 and request.inventory.service_level == 95.0
    assert request.inventory.periods == 3
    assert request.cache_params()["inventory"] == {"lead_time": 2, "review_period": 1, "service_level": 95.0}
    assert "inventory" not in ForecastRequest.parse({}).cache_params()  # other requests key as before
    assert request.params_key() != ForecastRequest.parse({"inventory": {"lead_time": 3}}).params_key()


@pytest.mark.parametrize("measure", ["revenue", "orders"])
def test_grouped_inventory_needs_units(measure):
    with pytest.raises(InvalidRequest) as caught:
        ForecastRequest.parse({"group_by": ["product_id"], "measure": measure, "inventory": {"lead_time": 1}})
    assert caught.value.field == "inventory" and "units" in caught.value.message
    ForecastRequest.parse({"group_by": ["product_id"], "measure": "units", "inventory": {"lead_time": 1}})
    ForecastRequest.parse({"inventory": {"lead_time": 1}})  # a single-series job: in its own measure


def test_a_lead_time_beyond_the_history_is_refused():
    assert inv.check_supported(36, 18) is None
    problem = inv.check_supported(36, 19)
    assert problem and "at most 18" in problem


# ---------------------------------------------------------------- paths and figures


def test_one_period_level_is_the_models_own_bound():
    fitted = make_model("auto").fit(seasonal())
    level = inv.figures(inv.model_paths_from(fitted, 1, 95), 95).order_up_to
    bound = float(fitted.predict(1, level=90).high[0])  # the 95 % quantile of one period
    assert level == pytest.approx(bound, rel=0.02)


def test_lead_time_demand_is_not_a_sum_of_per_period_quantiles():
    fitted = make_model("auto").fit(seasonal())
    p = fitted.predict(6, level=90)
    figures = inv.figures(inv.model_paths_from(fitted, 6, 95), 95)
    assert figures.lead_time_demand == pytest.approx(float(np.sum(p.mean)), rel=0.02)
    # Errors partly cancel over six months: the sum's quantile is well below the quantiles' sum.
    assert figures.order_up_to < float(np.sum(p.high))
    assert figures.safety_stock == pytest.approx(figures.order_up_to - figures.lead_time_demand, abs=0.011)


def test_paths_keep_the_correlation_between_periods():
    mean = np.full(6, 100.0)
    independent = inv.model_paths(mean, np.full(6, 10.0)).sum(axis=1)
    random_walk = inv.model_paths(mean, 10.0 * np.sqrt(np.arange(1, 7))).sum(axis=1)
    # A random walk's errors carry over: its sum spreads far more than six independent draws would.
    assert independent.std() == pytest.approx(10.0 * np.sqrt(6), rel=0.1)
    assert random_walk.std() == pytest.approx(10.0 * np.sqrt(sum(min(i, j) for i in range(1, 7) for j in range(1, 7))), rel=0.1)


def test_levels_grow_with_service_level_and_never_go_negative():
    fitted = make_model("auto").fit(seasonal())
    levels = [inv.figures(inv.model_paths_from(fitted, 3, s), s).order_up_to for s in (50, 80, 95, 99.9)]
    assert levels == sorted(levels)
    tiny = inv.figures(inv.model_paths(np.full(3, 0.2), np.full(3, 5.0)), 95)
    assert tiny.lead_time_demand >= 0 and tiny.safety_stock >= 0


def test_intermittent_paths_bootstrap_sizes_and_whole_units():
    rng = np.random.default_rng(4)
    y = (rng.random(36) < 0.3) * rng.integers(1, 6, 36).astype(float)
    paths = inv.series_paths("croston_sba", y, 4, 95, fit=None)
    values = set(np.unique(paths).tolist())
    assert values <= set(np.unique(y).tolist())  # every period is 0 or a size the history saw
    figures = inv.figures(paths, 95, whole=True)
    assert figures.order_up_to == int(figures.order_up_to) and figures.lead_time_demand == int(figures.lead_time_demand)
    assert figures.order_up_to >= figures.lead_time_demand >= 0
    assert inv.figures(inv.series_paths("zero", np.zeros(12), 3, 95, fit=None), 95, whole=True).order_up_to == 0


@pytest.mark.parametrize(
    "args, expected",
    [
        ((37, 10, 5, None, None), 22),  # 37 - 10 - 5
        ((22.1, 0, 0, None, None), 23),  # whole units, rounded up
        ((10, 12, 0, 30, 12), 0),  # enough stock: no order, whatever the minimum
        ((37, 10, 5, 30, None), 30),  # up to the minimum order
        ((37, 10, 5, 30, 12), 36),  # then to whole packs
        ((37, 10, 5, None, 12), 24),
    ],
)
def test_suggested_order(args, expected):
    assert inv.suggested_order(*args) == expected


def test_achieved_service_level_is_measured_at_past_origins():
    y = seasonal(60)
    backtest = inv.achieved_service_level(y, "model", 3, 95, lambda h: make_model("seasonal_naive").fit(h))
    assert backtest.origins == 12 and 0 <= backtest.achieved <= 100
    # Three periods apart from the last one whose three periods have all been seen (7) back to the
    # first with six periods of history: 7 and (not 4: too short) nothing else.
    assert inv.achieved_service_level(y[:10], "model", 3, 95, lambda h: make_model("seasonal_naive").fit(h)).origins == 1


# ---------------------------------------------------------------- stock rows


def test_stock_rows_parse_and_every_row_is_accounted_for():
    rows = [
        {"product_id": 17, "on_hand": 5, "on_order": "2", "min_order": 10, "pack_size": 6},
        {"product_id": "17", "on_hand": 9},  # the same product again: the first row wins
        {"sku": "TEA-1", "on_hand": "3.0"},
        {"product_id": 18, "sku": "CAKE", "on_hand": 0, "on_order": None},
        {"on_hand": 4},
        {"product_id": 19},
        {"product_id": 20, "on_hand": "lots"},
        {"product_id": 21, "on_hand": 1, "on_order": -1},
        {"product_id": 22, "on_hand": 1, "min_order": "x"},
        {"product_id": 23, "on_hand": 1, "pack_size": 0},
        "not a row",
        {"product_id": 24, "on_hand": True},
    ]
    stock = stock_from_rows(rows)
    assert stock.served and stock.rows_fetched == len(rows)
    assert stock.rows_used + sum(stock.rejected.values()) + stock.duplicates == len(rows)
    R = StockRejectReason
    assert stock.rejected == {
        R.MISSING_KEY: 1, R.MISSING_ON_HAND: 1, R.BAD_ON_HAND: 2, R.BAD_ON_ORDER: 1,
        R.BAD_MIN_ORDER: 1, R.BAD_PACK_SIZE: 1, R.NOT_AN_OBJECT: 1,
    }
    assert stock.duplicates == 1 and stock.rows_used == 3
    assert stock.find({"category": "x", "product_id": "17"})[1].on_order == 2 and stock.rows["product_id"]["17"].pack_size == 6
    assert stock.find({"sku": "TEA-1"})[1].on_hand == 3.0
    assert stock.find({"sku": "CAKE"})[1].on_order == 0.0  # a null on_order is none on order
    assert stock.find({"product_id": "99"}) == ("product_id", None)
    assert stock.find({"category": "x"}) is None


# ---------------------------------------------------------------- the pipelines


def test_single_series_document_carries_inventory():
    from shared.engine.pipeline import run_forecast
    from tests.shared.test_pipeline import TODAY, source

    request = ForecastRequest.parse({"inventory": {"lead_time": 2, "review_period": 1, "service_level": 90}})
    data = run_forecast(request.resolved(TODAY), source(), today=TODAY)["data"]
    inventory = data["inventory"]
    assert inventory["lead_time"] == 2 and inventory["review_period"] == 1 and inventory["service_level"] == 90
    assert inventory["order_up_to"] >= inventory["lead_time_demand"] > 0
    assert inventory["safety_stock"] == pytest.approx(inventory["order_up_to"] - inventory["lead_time_demand"], abs=0.011)
    # Origins three months apart (their windows do not overlap), a third of them judged: three of
    # the ten the history allows, the other seven learnt from.
    assert inventory["backtest_origins"] == 3 and inventory["calibration_origins"] == 7
    assert 0 <= inventory["achieved_service_level"] <= 100
    # Three months of a shop's revenue: about three times the next month's forecast.
    assert inventory["lead_time_demand"] == pytest.approx(sum(h["forecast"] for h in data["forecast"]["horizon"][:3]), rel=0.05)
    assert inventory["on_hand"] is None and inventory["suggested_order"] is None  # the total is not a product
    assert "inventory" not in run_forecast(ForecastRequest.parse({}).resolved(TODAY), source(), today=TODAY)["data"]


def test_single_series_lead_time_beyond_history_is_a_clear_error():
    from shared.contract.errors import InsufficientHistory
    from shared.engine.pipeline import run_forecast
    from tests.shared.test_pipeline import TODAY, source

    with pytest.raises(InsufficientHistory, match="lead_time \\+ review_period is 30 period"):
        run_forecast(ForecastRequest.parse({"inventory": {"lead_time": 29}}).resolved(TODAY), source(), today=TODAY)


# ---------------------------------------------------------------- weekly and daily (docs/api.md §10)


@pytest.fixture(scope="module")
def demo_week():
    from datetime import date

    from local.demo import demo_columns, demo_lines, demo_rows
    from shared.engine.grouped import StaticLineSource
    from shared.engine.pipeline import StaticSource
    from shared.sources.lines import LineBuilder

    today = date(2026, 11, 25)
    items = demo_lines(today, rows=demo_rows(today))

    def read(fields):
        builder = LineBuilder(fields, "UTC")
        builder.add_rows(items)
        return builder.finish()

    return today, StaticSource(demo_columns(today), "demo"), StaticLineSource(read, "demo")


def test_weekly_single_series_inventory_with_holidays(demo_week):
    from shared.engine.pipeline import run_forecast

    today, sales, _ = demo_week
    body = {"frequency": "week", "model": "seasonal_naive", "holidays": "DE-BY",
            "inventory": {"lead_time": 3, "review_period": 1, "service_level": 95}}
    data = run_forecast(ForecastRequest.parse(body).resolved(today), sales, today=today)["data"]
    inventory = data["inventory"]
    weeks = sum(h["forecast"] for h in data["forecast"]["horizon"][:4])
    assert inventory["lead_time_demand"] == pytest.approx(weeks, rel=0.05)
    assert inventory["order_up_to"] > inventory["lead_time_demand"] and inventory["backtest_origins"] == 12


def test_daily_grouped_inventory_in_units(demo_week):
    from shared.engine.grouped import run_grouped_forecast

    today, _, lines = demo_week
    body = {"frequency": "day", "group_by": ["category"], "measure": "units", "model": "seasonal_naive",
            "start_date": "2026-01-01", "inventory": {"lead_time": 7, "review_period": 7, "service_level": 90}}
    result = run_grouped_forecast(ForecastRequest.parse(body).resolved(today), lines, today=today)
    for s in result.series:
        inv = s["inventory"]
        assert inv["order_up_to"] == int(inv["order_up_to"]) >= inv["lead_time_demand"] >= 0
        assert inv["on_hand"] is None  # categories are not products: no stock read
    levels = result.document["data"]["hierarchy"]["levels"]
    assert levels[0]["backtest_origins"] >= 1 and levels[0]["achieved_service_level"] is not None
    # Fourteen days of the total: about fourteen days of its daily forecast (horizon 28 by default).
    total = result.document["data"]
    assert total["inventory"]["lead_time_demand"] == pytest.approx(
        sum(h["forecast"] for h in total["forecast"]["horizon"][:14]), rel=0.05)


# ---------------------------------------------------------------- calibration (honest service levels)


def outcomes(n: int, spread_scale: float, seed: int, level: float = 95.0) -> list[inv.Outcome]:
    """Demand ~ N(100, 10²) and a method whose spread is ``spread_scale`` times the right one."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    spread = spread_scale * 10.0 * float(norm.ppf(level / 100.0))
    return [inv.Outcome(100.0, spread, float(a)) for a in rng.normal(100.0, 10.0, n)]


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("level", [90.0, 95.0])
def test_the_correction_makes_a_too_narrow_or_too_wide_spread_achieve_the_nominal_level(scale, level):
    factor = inv.correction(outcomes(2000, scale, seed=1, level=level), level)
    assert factor == pytest.approx(1.0 / scale, rel=0.1)
    fresh = outcomes(4000, scale, seed=2, level=level)
    achieved = 100.0 * np.mean([o.covered(factor, level, whole=False) for o in fresh])
    assert achieved == pytest.approx(level, abs=2.0)


def test_the_correction_is_shrunk_toward_one_by_its_distinct_dates():
    # Twenty outcomes that say the spread is twice too narrow: unshrunk, the factor is 2.
    wide = [inv.Outcome(0.0, 1.0, 2.0, lag=lag) for lag in range(20)]
    assert inv.correction(wide, 95.0, shrink=0) == 2.0
    # Twenty dates against n0 = 20: half way to 1. The same twenty outcomes at one date (twenty
    # series sharing one week's shock) are one date of evidence: barely corrected.
    assert inv.correction(wide, 95.0, shrink=20) == pytest.approx(1.5)
    one_date = [inv.Outcome(0.0, 1.0, 2.0, lag=7)] * 20
    assert inv.distinct_dates(one_date) == 1 and inv.correction(one_date, 95.0, shrink=20) == pytest.approx(1 + 1 / 21)
    # An outcome of unknown date (three-element list of an older worker) counts as a date of its own.
    assert inv.Outcome.from_list([0.0, 1.0, 2.0]).lag == -1 and inv.distinct_dates([inv.Outcome.from_list([0, 1, 2])] * 3) == 3


def test_in_whole_units_the_score_is_the_factor_that_just_covers_the_demand():
    # Mean 1.2, spread 1.5: the uncorrected level 2.7 is published as 3 and covers a demand of 3.
    o = inv.Outcome(1.2, 1.5, 3.0, lag=7)
    assert o.ratio == pytest.approx(1.2) and o.score(whole=True) == pytest.approx(0.8 / 1.5, abs=1e-5)
    assert o.covered(o.score(whole=True), 95.0, whole=True) and not o.covered(o.score(whole=True) - 1e-3, 95.0, whole=True)
    assert inv.Outcome(1.2, 1.5, 1.0).score(whole=True) == 0.0  # within the rounded mean: any factor covers it
    assert inv.Outcome(1.0, 0.0, 2.0).score(whole=True) == inv.RATIO_CAP


def test_few_outcomes_are_corrected_by_their_largest_ratio_shrunk_and_none_not_at_all():
    # Below the conformal order statistic (19 outcomes at 95 %), the largest ratio stands in for it.
    few = [inv.Outcome(0.0, 1.0, float(r), lag=lag) for lag, r in enumerate([0.5, 3.0, 1.0, 1.5, 2.0])]
    assert inv.correction(few, 95.0, shrink=0) == 3.0
    assert inv.correction(few, 95.0, shrink=5) == pytest.approx(2.0)
    assert inv.correction([], 95.0) is None
    raw = {"mean": 10.0, "spread": 5.0, "service_level": 95.0, "calibration": [], "evaluation": [[10.0, 5.0, 12.0, 3]]}
    (published,), summary = inv.calibrate_level([raw], whole=False)
    assert summary == {"calibration_factor": 1.0, "calibration_origins": 0}
    assert published["order_up_to"] == 15.0 and published["backtest_origins"] == 1


def test_origins_are_k_apart_and_calibration_ends_before_the_evaluation_begins():
    # 60 periods, K = 3: origins 57, 54, ... 6 (18 dates, each with six periods of history at least);
    # a third of them (6) judged on, the 12 before them learnt from; windows never overlap.
    assert inv.spaced_origins(60, 3) == list(range(57, 5, -3))
    learn, judge = inv.backtest_origins(60, 3)
    assert judge == list(range(42, 58, 3)) and learn == list(range(6, 40, 3))
    assert max(learn) + 3 <= min(judge)  # their periods were seen by then
    # A long history: 12 judged, 24 learnt, no more.
    learn, judge = inv.backtest_origins(300, 3)
    assert len(judge) == 12 and len(learn) == 24 and max(learn) + 3 == min(judge)
    assert inv.backtest_origins(8, 3) == ([], [])  # too short to judge a level at all (origin 5 < 6)
    assert inv.backtest_origins(9, 3) == ([], [6])  # one date: judged, nothing to learn from
    assert inv.origins_for(1) == (12, 24) and inv.origins_for(3) == (4, 8) and inv.origins_for(500) == (1, 1)


def test_the_series_of_a_level_take_turns_over_its_dates():
    # 75 products of two years of days, K = 7: one calibration and one evaluation origin each, but
    # not all at one date: the level's outcomes cover all its 24 calibration and 12 evaluation dates.
    pairs = [inv.backtest_origins(730, 7, level_size=75, position=p) for p in range(75)]
    assert all(len(learn) == 1 and len(judge) == 1 for learn, judge in pairs)
    assert len({learn[0] for learn, _ in pairs}) == 24 and len({judge[0] for _, judge in pairs}) == 12
    assert max(learn[0] for learn, _ in pairs) + 7 <= min(judge[0] for _, judge in pairs)
    # Three stores: eight and four origins each, no date twice.
    stores = [inv.backtest_origins(730, 7, level_size=3, position=p) for p in range(3)]
    assert sorted(t for learn, _ in stores for t in learn) == sorted(inv.backtest_origins(730, 7)[0])
    assert all(len(learn) == 8 and len(judge) == 4 for learn, judge in stores)
    # A product that started selling later counts the level's dates from the level's longest
    # history: its origins are the same dates (shifted into its own history), never a calibration
    # origin on a date the level is judged on, and none without the history it needs.
    long_learn, long_judge = inv.backtest_origins(730, 7, level_size=75, position=5)
    learn, judge = inv.backtest_origins(100, 7, level_size=75, position=5, span=730)
    assert judge == [t - 630 for t in long_judge] and learn == [t - 630 for t in long_learn if t - 630 >= 14]
    short = [inv.backtest_origins(100, 7, level_size=75, position=p, span=730) for p in range(75)]
    judged_dates = {t + 630 for _, judge in short for t in judge}
    assert all(t + 630 < min(judged_dates) for learn, _ in short for t in learn)


def test_the_achieved_level_is_judged_with_the_factor_learnt_from_calibration_origins_only():
    # The calibration origins say the spread is twice too wide; the evaluation origins then all
    # exceed the mean by 1.5 spreads. Judged with the calibration's factor (0.5): none covered,
    # although a factor learnt from the evaluation origins themselves would have covered them.
    low = [[0.0, 10.0, 5.0]] * 30
    high = [[0.0, 10.0, 15.0]] * 10
    raw = {"mean": 0.0, "spread": 10.0, "service_level": 90.0, "calibration": low, "evaluation": high}
    (published, absent), summary = inv.calibrate_level([raw, None], whole=True, shrink=0)
    assert absent is None  # a series without levels of its own (a share of its parent) stays so
    assert published["achieved_service_level"] == 0.0 and published["covered"] == [False] * 10
    assert summary["calibration_origins"] == 30
    # The published level learns from all 40 outcomes: its factor is their 90 % score in whole units,
    # 1.4 (a level just past 14 is rounded up to 15, which covers a demand of 15).
    assert summary["calibration_factor"] == 1.4 and published["order_up_to"] == 15.0
    assert inv.calibrate_level([None], whole=True) == ([None], {"calibration_factor": 1.0, "calibration_origins": 0})


def test_calibrated_levels_achieve_the_nominal_level_on_series_of_known_distribution():
    # Independent monthly noise around a fixed level, forecast with the naive model: its paths are
    # a random walk's, far too wide for three months of noise (the uncorrected level covers nearly
    # every origin). Calibrated over a level of 150 such series, the achieved level is the nominal one
    # (± the binomial margin of 150 origins).
    rng = np.random.default_rng(26)
    settings = type("Settings", (), {"periods": 3, "service_level": 90.0})()

    def naive(history):
        return make_model("seasonal_naive", season_length=1).fit(history)

    raw = [inv.series_inventory("model", 100 + rng.normal(0, 10, 120), settings, naive, level_size=150, position=p)
           for p in range(150)]
    # Unshrunk (n0 = 0): the conformal factor brings the level to the nominal one.
    published, summary = inv.calibrate_level(raw, whole=True, shrink=0)
    achieved = inv.pooled([p["covered"] for p in published])
    uncorrected = np.mean([inv.Outcome.from_list(o).covered(1.0, 90.0, whole=True) for r in raw for o in r["evaluation"]])
    assert uncorrected > 0.95 and summary["calibration_factor"] < 0.8
    assert achieved["backtest_origins"] == 150 and 83.0 <= achieved["achieved_service_level"] <= 96.0
    # The service's shrinkage: 36 distinct dates (24 calibration, 12 evaluation) against SHRINK_DATES.
    _, shrunk = inv.calibrate_level(raw, whole=True)
    weight = 36 / (36 + inv.SHRINK_DATES)
    assert shrunk["calibration_factor"] == pytest.approx(1 + (summary["calibration_factor"] - 1) * weight, abs=1e-3)
