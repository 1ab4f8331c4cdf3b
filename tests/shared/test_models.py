"""Unit tests of shared/engine/models.py on small synthetic series (the accuracy figures live in
benchmarks/accuracy.py, not here)."""
from __future__ import annotations

import io

import joblib
import numpy as np
import pytest

from shared.engine.models import MODEL_NAMES, MODEL_VERSION, Forecaster, Prediction, make_model


def _seasonal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 1000 * (1 + 0.01 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 20, n)


ODD_SERIES = {
    "len3": [100.0, 120.0, 110.0],
    "len5": [5.0, 6.0, 7.0, 6.0, 8.0],
    "constant": [50.0] * 14,
    "all_zeros": [0.0] * 30,
    "with_zeros": [3, 0, 5, 0, 4, 6, 0, 2, 5, 3, 0, 4, 7, 0, 1],
    "zeros_then_sales": list(np.r_[np.zeros(8), np.arange(1.0, 21.0)]),
    "short_seasonal": list(_seasonal(20)),
    "two_seasons": list(_seasonal(24)),
}


def test_public_names_and_version() -> None:
    assert MODEL_NAMES == ("auto", "linear", "seasonal_naive", "ets", "theta", "arima")
    assert isinstance(MODEL_VERSION, str) and MODEL_VERSION
    for name in MODEL_NAMES:
        model = make_model(name)
        assert isinstance(model, Forecaster)
        assert model.name == name


def test_unknown_model_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        make_model("prophet")


def test_constructor_stores_settings_only() -> None:
    model = make_model("ets", season_length=4)
    assert model.season_length == 4
    assert not [a for a in vars(model) if a.endswith("_")]


def test_predict_before_fit_raises() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        make_model("auto").predict(3)


@pytest.mark.parametrize("bad", [[1.0, 2.0], [1.0, np.nan, 3.0, 4.0], [1.0, np.inf, 2.0]])
def test_fit_rejects_short_or_non_finite_history(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        make_model("seasonal_naive").fit(np.array(bad))


@pytest.mark.parametrize("level", [49.9, 100.0, 99.95])
def test_level_outside_range_raises(level: float) -> None:
    model = make_model("seasonal_naive").fit(_seasonal(30))
    with pytest.raises(ValueError, match="level"):
        model.predict(3, level=level)


@pytest.mark.parametrize("h", [0, -1, 1.5])
def test_bad_horizon_raises(h: float) -> None:
    with pytest.raises(ValueError):
        make_model("seasonal_naive").fit(_seasonal(30)).predict(h)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("case", sorted(ODD_SERIES))
def test_every_model_handles_odd_histories(name: str, case: str) -> None:
    y = np.asarray(ODD_SERIES[case], dtype=float)
    model = make_model(name).fit(y)
    assert isinstance(model.description_, str) and model.description_
    pred = model.predict(4, level=90.0)
    assert isinstance(pred, Prediction) and pred.level == 90.0
    for arr in (pred.mean, pred.low, pred.high):
        assert arr.shape == (4,) and np.all(np.isfinite(arr))
    assert np.all(pred.low <= pred.mean + 1e-6) and np.all(pred.mean <= pred.high + 1e-6)


@pytest.mark.parametrize("name", ["auto", "seasonal_naive", "ets", "theta", "arima"])
def test_all_zero_and_constant_series_forecast_themselves(name: str) -> None:
    for value in (0.0, 50.0):
        pred = make_model(name).fit(np.full(30, value)).predict(3)
        np.testing.assert_allclose(pred.mean, value, atol=1e-6)


def test_short_history_uses_non_seasonal_variants() -> None:
    short = make_model("ets").fit(_seasonal(20))
    assert "short history" in short.description_
    assert make_model("ets").fit(_seasonal(36)).description_ == "ets"
    assert make_model("seasonal_naive").fit(_seasonal(20)).description_.endswith("naive (short history)")


def test_auto_describes_its_combination() -> None:
    model = make_model("auto").fit(_seasonal(48))
    assert model.description_ == "auto: ets+theta+ces+ces_seasonal+seasonal_naive (median)"
    assert make_model("auto").fit(_seasonal(20)).description_ == "auto: ets+theta+ces (mean, short history)"
    assert make_model("auto").fit(np.array([1.0, 2.0, 3.0])).description_ == "auto: naive (short history)"


def test_seasonal_naive_repeats_last_season() -> None:
    y = _seasonal(36)
    pred = make_model("seasonal_naive").fit(y).predict(14)
    np.testing.assert_allclose(pred.mean[:12], y[-12:])
    np.testing.assert_allclose(pred.mean[12:], y[-12:-10])


def test_linear_is_a_straight_line_through_time() -> None:
    y = 10.0 + 2.0 * np.arange(12)
    pred = make_model("linear").fit(y).predict(3)
    np.testing.assert_allclose(pred.mean, [34.0, 36.0, 38.0])


def test_seasonal_models_follow_the_season() -> None:
    y = _seasonal(60)
    truth = 1000 * (1 + 0.01 * np.arange(60, 72)) * (1 + 0.25 * np.sin(2 * np.pi * np.arange(60, 72) / 12))
    for name in ("auto", "ets", "theta"):
        pred = make_model(name).fit(y).predict(12)
        assert np.mean(np.abs(pred.mean - truth) / truth) < 0.06, name


def test_auto_intervals_widen_with_level_and_horizon() -> None:
    model = make_model("auto").fit(_seasonal(60))
    p80, p95 = model.predict(12, level=80.0), model.predict(12, level=95.0)
    np.testing.assert_allclose(p80.mean, p95.mean)
    width80, width95 = p80.high - p80.low, p95.high - p95.low
    assert np.all(width95 > width80)
    assert width95[-1] > width95[0]
    # Predictions are raw: the caller clips at 0, so a low bound may be negative.
    assert model.predict(24, level=99.9).low.shape == (24,)


def test_auto_is_deterministic() -> None:
    y = _seasonal(40, seed=3)
    a = make_model("auto").fit(y).predict(6, level=90.0)
    b = make_model("auto").fit(y).predict(6, level=90.0)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.high, b.high)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fitted_models_survive_joblib(name: str) -> None:
    model = make_model(name).fit(_seasonal(36))
    buf = io.BytesIO()
    joblib.dump(model, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    before, after = model.predict(5, level=80.0), loaded.predict(5, level=80.0)
    np.testing.assert_allclose(after.mean, before.mean)
    np.testing.assert_allclose(after.low, before.low)
    assert loaded.description_ == model.description_


def _closed_in_august(n: int, seed: int = 0) -> np.ndarray:
    """A seasonal shop that sells nothing in August (month index 7) every year."""
    y = _seasonal(n, seed)
    y[7::12] = 0.0
    return y


@pytest.mark.parametrize("n", [36, 60, 150])
def test_auto_keeps_the_season_of_a_series_with_zero_months(n: int) -> None:
    y = _closed_in_august(n)
    pred = make_model("auto").fit(y).predict(24, level=90.0)
    assert np.all(np.isfinite(pred.mean))
    months = (n + np.arange(24)) % 12
    august, others = pred.mean[months == 7], pred.mean[months != 7]
    # The closed month is forecast far below the open ones (a non-seasonal forecast would put it
    # near their mean), and the open months near their seasonal level.
    assert np.all(np.abs(august) < 0.3 * others.mean())
    assert np.all(august < others.min())
    truth = 1000 * (1 + 0.01 * (n + np.arange(24))) * (1 + 0.25 * np.sin(2 * np.pi * (n + np.arange(24)) / 12))
    open_months = months != 7
    assert np.mean(np.abs(pred.mean[open_months] - truth[open_months]) / truth[open_months]) < 0.08
    assert np.all(pred.low <= pred.mean) and np.all(pred.mean <= pred.high)


def test_seasonal_indices_of_a_series_with_zeros_are_additive() -> None:
    from shared.engine.models import _seasonal_factors

    found = _seasonal_factors(_closed_in_august(60), 12)
    assert found is not None
    factors, additive = found
    assert additive and abs(factors.mean()) < 1e-6 and factors.argmin() == 7
    found = _seasonal_factors(_seasonal(60), 12)
    assert found is not None and not found[1] and abs(found[0].mean() - 1) < 1e-9


def test_recent_seasonal_indices_follow_a_changing_season() -> None:
    from shared.engine.models import _seasonal_factors

    # Ten years peaking in month 2, then five peaking in month 8: recent indices see the new peak.
    t = np.arange(180)
    peak = np.where(t < 120, 2, 8)
    y = 1000 + 300 * np.cos(2 * np.pi * (t % 12 - peak) / 12)
    whole, recent = _seasonal_factors(y, 12), _seasonal_factors(y, 12, recent_years=5)
    assert whole is not None and recent is not None
    assert recent[0].argmax() == 8 and whole[0].argmax() != 8


HARD_SERIES = {
    **{f"short{n}": list(_seasonal(n, seed=n)) for n in (3, 4, 6, 7, 11, 12, 13, 18, 23, 24)},
    "flat": [120.0] * 40,
    "flat_short": [7.0] * 5,
    "zeros_short": [0.0, 4.0, 0.0, 3.0, 0.0, 5.0, 0.0, 2.0],
    "zero_months_24": list(_closed_in_august(24)),
    "mostly_zeros": list(np.r_[np.zeros(30), [5.0, 0.0, 0.0, 7.0, 0.0, 0.0]]),
    "one_spike": list(np.r_[np.zeros(20), [1000.0], np.zeros(15)]),
    "negative_dip": list(_seasonal(48) - 900.0),
    "long_seasonal": list(_seasonal(300, seed=4)),
}


@pytest.mark.parametrize("case", sorted(HARD_SERIES))
def test_auto_gives_finite_forecasts_with_valid_intervals(case: str) -> None:
    y = np.asarray(HARD_SERIES[case], dtype=float)
    model = make_model("auto").fit(y)
    for level in (50.0, 80.0, 95.0, 99.9):
        pred = model.predict(24, level=level)
        for arr in (pred.mean, pred.low, pred.high):
            assert arr.shape == (24,) and np.all(np.isfinite(arr))
        assert np.all(pred.low <= pred.mean + 1e-6) and np.all(pred.mean <= pred.high + 1e-6)
    if case.startswith("flat"):
        np.testing.assert_allclose(model.predict(6).mean, y[0], rtol=1e-6)


# ------------------------------------------------------------------ forward (refit=False)


@pytest.mark.parametrize("name", ["auto", "ets", "theta", "arima"])
def test_forward_runs_the_fitted_model_over_a_longer_history_without_refitting(name: str) -> None:
    y = _seasonal(60)
    trained = make_model(name).fit(y[:-12])
    moved = trained.forward(y)
    assert moved.refit_ is False and moved.n_obs_ == 60
    assert moved.description_ == trained.description_
    pred = moved.predict(12, level=90)
    truth = 1000 * (1 + 0.01 * np.arange(60, 72)) * (1 + 0.25 * np.sin(2 * np.pi * np.arange(60, 72) / 12))
    assert np.all(pred.low <= pred.mean) and np.all(pred.mean <= pred.high)
    # It starts from the last 12 months it was not fitted on: closer to them than the fit alone.
    assert np.mean(np.abs(pred.mean - truth) / truth) < 0.08, name


def test_forward_refits_where_the_longer_history_gives_the_model_another_form() -> None:
    y = _seasonal(30)
    short = make_model("auto").fit(y[:-10])  # 20 months: not seasonal
    moved = short.forward(y)  # 30 months: seasonal, so a new fit
    assert moved.refit_ is True and "median" in moved.description_
    assert make_model("linear").fit(y).forward(y).refit_ is True  # nothing to run forward: refitted


def test_forward_before_fit_raises() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        make_model("auto").forward(_seasonal(30))
