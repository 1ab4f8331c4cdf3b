"""Many series (shared/engine/hierarchy.py, shared/engine/intermittent.py): models by pattern, shares, coherence."""
from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.engine.hierarchy import (
    Reconciliation,
    auto_reconciliation,
    forecast_chunk,
    forecast_one,
    reconcile,
    resolve_shares,
    series_inputs,
    series_metrics,
)
from shared.engine.intermittent import DemandPattern, classify, mixture_interval, point_forecast
from shared.engine.panel import build_panel
from shared.sources.lines import lines_from_rows

TODAY = date(2026, 1, 10)
START = date(2023, 1, 1)


def test_classify():
    assert classify(np.zeros(12)) is DemandPattern.ZERO
    assert classify(np.full(24, 10.0)) is DemandPattern.SMOOTH
    assert classify(np.tile([1.0, 30.0], 12)) is DemandPattern.ERRATIC
    assert classify(np.tile([0, 0, 3.0, 0, 4.0, 0], 4)) is DemandPattern.INTERMITTENT
    assert classify(np.tile([0, 0, 1.0, 0, 40.0, 0], 4)) is DemandPattern.LUMPY
    assert classify(np.r_[np.full(12, 5.0), np.zeros(8)]) is DemandPattern.OBSOLETE


def test_obsolete_means_six_months_at_every_frequency():
    # A product that sells every third day, then not for ten days: common, not a sign it is gone.
    y = np.r_[np.tile([0, 0, 2.0], 100), np.zeros(10)]
    assert classify(y, "month") is DemandPattern.OBSOLETE  # ten months without a sale
    assert classify(y, "day") is DemandPattern.INTERMITTENT
    assert classify(np.r_[np.tile([0, 0, 2.0], 100), np.zeros(183)], "day") is DemandPattern.OBSOLETE
    assert classify(np.r_[np.tile([0, 0, 2.0], 20), np.zeros(10)], "week") is DemandPattern.INTERMITTENT


@pytest.mark.parametrize("method", ["croston", "croston_sba", "tsb", "adida", "imapa"])
def test_intermittent_methods_never_negative_and_intervals_hold_the_mean(method):
    y = np.tile([0, 0, 3.0, 0, 4.0, 0, 0, 1.0], 4)
    mean = point_forecast(method, y, 6)
    low, high = mixture_interval(y, mean, 90.0)
    assert mean.shape == (6,) and np.all(mean > 0)
    assert np.all(low == 0) and np.all(high >= mean) and np.all(high > 0)


def _rows():
    """A shop with a null category, a one-month-old product, an all-zero product and steady sellers."""
    rng = np.random.default_rng(5)
    rows, i = [], 0
    for m in range(36):
        y, mo = 2023 + m // 12, m % 12 + 1
        for sale in range(25):
            prod = int(rng.integers(0, 4))
            cat = [None, "A", "B", "B"][prod]
            rows.append({"id": i, "sale_id": i, "created_at": f"{y}-{mo:02d}-{1 + sale:02d}T10:00:00Z",
                         "line_total": f"{rng.integers(100, 9000) / 100:.2f}", "quantity": 1, "category": cat, "product_id": f"p{prod}"})
            i += 1
        if m % 5 == 0:  # slow mover
            rows.append({"id": i, "sale_id": i, "created_at": f"{y}-{mo:02d}-28T10:00:00Z", "line_total": "5.00",
                         "quantity": 1, "category": "A", "product_id": "slow"})
            i += 1
    rows.append({"id": i, "sale_id": i, "created_at": "2025-12-02T10:00:00Z", "line_total": "12.00",
                 "quantity": 3, "category": "A", "product_id": "new"})
    rows.append({"id": i + 1, "sale_id": i + 1, "created_at": "2023-03-02T10:00:00Z", "line_total": "0.00",
                 "quantity": 0, "category": "B", "product_id": "free"})
    return rows


@pytest.fixture(scope="module")
def panel():
    cols = lines_from_rows(_rows(), ["category", "product_id"])
    return build_panel(cols, ["category", "product_id"], "revenue", timezone="UTC", today=TODAY, start_date=START, end_date=TODAY)


@pytest.fixture(scope="module")
def results(panel):
    return forecast_chunk(series_inputs(panel), horizon=3, level=90.0, model="seasonal_naive")


def test_every_series_gets_a_forecast_that_says_how(panel, results):
    rec = reconcile(panel, results)
    labels = {tuple(k.values()): lab for k, lab in zip(panel.keys, rec.labels)}
    assert labels[(None, "p0")].startswith("seasonal_naive")  # the null category is a group
    assert labels[(None,)].startswith("seasonal_naive")
    assert labels[("A", "new")] == "share_of_parent (1 month of history)"
    assert labels[("B", "free")] == "zero (no demand)"
    assert labels[("A", "slow")].startswith(("croston_sba", "imapa", "tsb"))
    i_new = panel.keys.index({"category": "A", "product_id": "new"})
    assert np.all(rec.mean[i_new] > 0)
    i_free = panel.keys.index({"category": "B", "product_id": "free"})
    assert np.all(rec.mean[i_free] == 0) and np.all(rec.high[i_free] >= 0)


def test_chunks_are_json_safe(panel, results):
    items = series_inputs(panel)
    assert json.loads(json.dumps(items)) == items
    assert json.loads(json.dumps(results)) == results


@pytest.mark.parametrize("method", list(Reconciliation))
def test_reconciled_forecasts_are_coherent_to_the_cent_and_non_negative(panel, results, method):
    rec = reconcile(panel, results, method)
    cents = np.rint(rec.mean * 100).astype(np.int64)
    assert np.allclose(cents / 100, rec.mean, atol=1e-9)
    for i in range(len(panel)):
        kids = panel.children(i)
        if kids.size:
            assert np.array_equal(cents[kids].sum(axis=0), cents[i])
    assert np.all(rec.mean >= 0) and np.all(rec.low >= 0)
    assert np.all(rec.low <= rec.mean) and np.all(rec.mean <= rec.high)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-50, 500), min_size=1, max_size=200), st.sampled_from(list(Reconciliation)))
def test_any_base_forecasts_reconcile_coherent_and_non_negative(panel, results, noise, method):
    # Arbitrary base forecasts (even negative, even incoherent): the output still adds up.
    fake = []
    for j, r in enumerate(results):
        base = np.asarray(r.get("mean") or [0.0] * 3) + np.array([noise[(3 * j + k) % len(noise)] for k in range(3)])
        fake.append({**r, "mean": base.tolist(), "low": (base - 5).tolist(), "high": (base + 5).tolist()}
                    if r["method"] != "share_of_parent" else r)
    rec = reconcile(panel, fake, method)
    cents = np.rint(rec.mean * 100).astype(np.int64)
    for i in range(len(panel)):
        kids = panel.children(i)
        if kids.size:
            assert np.array_equal(cents[kids].sum(axis=0), cents[i])
    assert np.all(rec.mean >= 0) and np.all(rec.low >= 0)


def test_a_failing_model_falls_back_instead_of_failing(panel):
    out = forecast_one({"index": 0, "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "is_total": True},
                       horizon=2, level=90.0, model="no-such-model")
    assert out["label"] == "naive (model failed)" and out["mean"] == [8.0, 8.0]


def test_metrics_from_the_holdout(panel, results):
    rec = reconcile(panel, results)
    m = series_metrics(panel, 0, rec.backtests[0])
    assert m["backtest_origins"] == 1 and 0 <= m["interval_coverage"] <= 100 and m["wape"] > 0
    i_new = panel.keys.index({"category": "A", "product_id": "new"})
    assert series_metrics(panel, i_new, None)["backtest_origins"] == 0


def test_a_series_with_a_holdout_is_fitted_once(monkeypatch):
    """The backtest without refitting: the model fitted on the holdout-trimmed history is run
    forward for the forecast (statsforecast's refit=False), so auto's five members are built
    five times, not ten."""
    from shared.engine import models

    built = []
    real = models._build_statsforecast
    monkeypatch.setattr(models, "_build_statsforecast", lambda kind, m: built.append(kind) or real(kind, m))
    t = np.arange(48)
    y = (100 + 20 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 4, 48)).tolist()
    out = forecast_one({"index": 0, "y": y, "is_total": True}, horizon=3, level=90.0)
    assert sorted(built) == ["ces", "ces", "ets_damped", "seasonal_naive", "theta"]
    assert len(out["backtest"]["forecast"]) == 12 and len(out["mean"]) == 3
    assert "median" in out["label"]
    built.clear()  # the total and the parent levels keep a refitted holdout: two fits
    again = forecast_one({"index": 0, "y": y, "is_total": True, "refit_backtest": True}, horizon=3, level=90.0)
    assert len(built) == 10 and again["mean"] == out["mean"]


def test_only_the_bottom_level_runs_its_backtest_forward(panel):
    items = series_inputs(panel)
    assert [it["refit_backtest"] for it in items] == [bool(lv < panel.n_levels - 1) for lv in panel.level]


def _fake(panel, results, pattern):
    """The fixture's results with every bottom series' own forecast given ``pattern``."""
    bottom = set(int(i) for i in panel.bottom)
    return [{**r, "pattern": pattern} if int(r["index"]) in bottom and r["method"] != "share_of_parent" else r
            for r in results]


def test_auto_is_bottom_up_unless_most_bottom_series_are_intermittent(panel, results):
    assert auto_reconciliation(panel, _fake(panel, results, "smooth")) is Reconciliation.BOTTOM_UP
    assert auto_reconciliation(panel, _fake(panel, results, "intermittent")) is Reconciliation.TOP_DOWN
    assert reconcile(panel, _fake(panel, results, "lumpy")).method == "top_down"
    assert reconcile(panel, _fake(panel, results, "erratic")).method == "bottom_up"


def test_top_down_keeps_the_totals_own_forecast_and_the_childrens_proportions(panel, results):
    rec = reconcile(panel, results, Reconciliation.TOP_DOWN)
    base = rec.base_mean
    np.testing.assert_allclose(rec.mean[0], np.maximum(base[0], 0.0), atol=0.01 * len(panel))
    for i in range(len(panel)):
        kids = panel.children(i)
        own = np.maximum(base[kids], 0.0)
        if kids.size > 1 and np.all(own.sum(axis=0) > 0) and np.all(rec.mean[i] > 1):
            # Each child's share of its parent is its own forecast's share of its siblings' (to the cent).
            np.testing.assert_allclose(rec.mean[kids] / rec.mean[i], own / own.sum(axis=0), atol=0.01)
    # Intervals are scaled with the forecasts: a low end of 0 (a period without demand is likely) stays 0.
    own_low = np.array([r.get("low") or [0.0] * 3 for r in resolve_shares(panel, results)])
    assert np.all(rec.low[own_low == 0] == 0) and np.all(rec.low <= rec.mean) and np.all(rec.mean <= rec.high)
    # Every series' parts are its own model's, scaled with its forecast: they still add up.
    for parts, mean in zip(rec.components, rec.mean):
        if parts is not None:
            np.testing.assert_allclose(sum(parts.values()), mean, atol=0.05)
