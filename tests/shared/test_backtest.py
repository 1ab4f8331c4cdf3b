"""Unit tests of shared/engine/backtest.py: metric definitions on hand-checked numbers, and the
rolling-origin backtest on small synthetic series."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shared.engine.backtest import (
    BacktestReport,
    interval_coverage,
    mae,
    mape,
    mase,
    mase_scale,
    model_accuracy,
    rolling_origin_backtest,
    smape,
    wape,
)


def test_smape_is_the_m3_definition() -> None:
    # 200|y-f|/(|y|+|f|): 200*10/210 and 0 -> mean 4.7619...
    assert smape(np.array([100.0, 50.0]), np.array([110.0, 50.0])) == pytest.approx(100 * 10 / 210)
    assert smape(np.array([0.0, 10.0]), np.array([0.0, 10.0])) == 0.0  # 0/0 is a perfect forecast
    assert smape(np.array([10.0]), np.array([0.0])) == pytest.approx(200.0)


def test_mape_skips_zero_actuals_and_wape_weights_by_volume() -> None:
    y, f = np.array([0.0, 100.0, 50.0]), np.array([5.0, 90.0, 60.0])
    assert mape(y, f) == pytest.approx((10 + 20) / 2)
    assert wape(y, f) == pytest.approx(100 * 25 / 150)
    assert mape(np.zeros(3), np.ones(3)) is None
    assert wape(np.zeros(3), np.ones(3)) is None
    assert mae(y, f) == pytest.approx(25 / 3)


def test_mase_uses_seasonal_scale_and_falls_back_to_lag_one() -> None:
    insample = np.tile(np.arange(12.0), 3) + np.repeat([0.0, 1.0, 2.0], 12)  # seasonal diffs are 1
    assert mase_scale(insample, 12) == pytest.approx(1.0)
    assert mase(np.array([5.0]), np.array([3.0]), insample, 12) == pytest.approx(2.0)
    short = np.array([1.0, 3.0, 6.0])  # one season or less: lag-1 differences 2, 3
    assert mase_scale(short, 12) == pytest.approx(2.5)
    assert mase_scale(np.full(30, 4.0), 12) is None


def test_interval_coverage_counts_bounds_inside() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert interval_coverage(y, np.array([0, 2, 4, 0.0]), np.array([1, 3, 5, 3.0])) == 50.0


def test_metric_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        smape(np.ones(3), np.ones(2))


def test_backtest_on_a_perfectly_predictable_series() -> None:
    y = np.full(20, 100.0)
    report = rolling_origin_backtest(y, "seasonal_naive", max_origins=5)
    assert report.backtest_origins == 5
    assert report.mae == 0.0 and report.wape == 0.0 and report.smape == 0.0
    assert report.interval_coverage == 100.0
    assert model_accuracy(report) == 100.0


def test_backtest_origins_respect_min_train_and_max_origins() -> None:
    y = np.arange(1.0, 9.0)
    assert rolling_origin_backtest(y, "linear", max_origins=12).backtest_origins == 5  # 8 - 3
    assert rolling_origin_backtest(y, "linear", max_origins=2).backtest_origins == 2
    assert rolling_origin_backtest(y, "linear", min_train=6).backtest_origins == 2


def test_backtest_one_step_errors_are_what_they_say() -> None:
    # Naive (short history) forecasts the last value: errors are the first differences.
    y = np.array([10.0, 12.0, 11.0, 15.0, 14.0, 20.0])
    report = rolling_origin_backtest(y, "seasonal_naive", max_origins=3)
    actual, forecast = y[3:], y[2:-1]
    assert report.mae == pytest.approx(np.mean(np.abs(actual - forecast)))
    assert report.wape == pytest.approx(100 * np.sum(np.abs(actual - forecast)) / np.sum(actual))
    assert model_accuracy(report) == pytest.approx(100 - report.wape)


def test_no_origin_means_no_figures() -> None:
    report = rolling_origin_backtest(np.array([1.0, 2.0, 3.0]), "auto")
    assert report.backtest_origins == 0
    assert report.to_dict() == {
        "mae": None, "mape": None, "smape": None, "mase": None, "wape": None,
        "backtest_origins": 0, "interval_coverage": None,
    }
    assert model_accuracy(report) is None


def test_report_is_json_safe_with_zero_sales() -> None:
    report = rolling_origin_backtest(np.zeros(10), "seasonal_naive", max_origins=4)
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["wape"] is None and data["mape"] is None and data["mase"] is None
    assert data["smape"] == 0.0
    assert model_accuracy(report) is None


def test_model_accuracy_is_clipped() -> None:
    awful = BacktestReport(mae=1.0, mape=300.0, smape=150.0, mase=5.0, wape=250.0, backtest_origins=3, interval_coverage=0.0)
    assert model_accuracy(awful) == 0.0


def test_backtest_with_auto_on_a_seasonal_series() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(40)
    y = 1000 * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 20, 40)
    report = rolling_origin_backtest(y, "auto", level=90.0, max_origins=4)
    assert report.backtest_origins == 4
    assert report.wape is not None and report.wape < 15
    assert report.interval_coverage is not None and 0 <= report.interval_coverage <= 100
    assert not any(isinstance(v, float) and math.isnan(v) for v in report.to_dict().values())


def test_unknown_model_in_backtest_raises() -> None:
    with pytest.raises(ValueError):
        rolling_origin_backtest(np.arange(10.0), "nope")
