"""Unit tests of the weekly and daily models (shared/seasonality.py, shared/effects.py,
shared/frequency_models.py) on small synthetic series. Accuracy figures live in
benchmarks/accuracy.py (--dataset m4-weekly, --dataset shop-daily), not here."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from shared.engine import models as monthly
from shared.engine.backtest import rolling_origin_backtest
from shared.engine.effects import calendar_effects, parse_events, parse_holiday_spec
from shared.engine.frequency_models import CalendarForecaster, closed_columns, make_model
from shared.engine.seasonality import (
    WEEKS_PER_YEAR,
    Frequency,
    SeasonalAdjustment,
    fourier_terms,
    mase_lag,
    season_lengths,
)


def _days(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def _weekly(n: int, seed: int) -> np.ndarray:
    """Yearly season at 52.18 weeks (not 52), a random-walk level, multiplicative noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 1000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return level * (1 + 0.3 * np.sin(2 * np.pi * t / WEEKS_PER_YEAR)) * np.exp(rng.normal(0, 0.04, n))


# ------------------------------------------------------------------------------ seasonality


def test_frequencies_and_their_seasons() -> None:
    assert [f.value for f in Frequency] == ["month", "week", "day"]
    assert season_lengths("week") == (pytest.approx(52.1786, abs=1e-4),)
    assert season_lengths("day") == (7.0, 365.25)
    assert (mase_lag("month"), mase_lag("week"), mase_lag("day")) == (12, 52, 7)


def test_fourier_terms_repeat_after_52_18_weeks_not_52() -> None:
    t = np.arange(0, 300, dtype=float)
    F = fourier_terms(t, WEEKS_PER_YEAR, 5)
    assert F.shape == (300, 10)
    np.testing.assert_allclose(fourier_terms(t + WEEKS_PER_YEAR, WEEKS_PER_YEAR, 5), F, atol=1e-9)
    assert np.max(np.abs(fourier_terms(t + 52, WEEKS_PER_YEAR, 5) - F)) > 0.05
    # Period 7 with 3 pairs: six columns, every day-of-week pattern.
    assert fourier_terms(np.arange(14.0), 7.0, 3).shape == (14, 6)


def test_adjustment_finds_the_yearly_season_at_its_true_length() -> None:
    y = _weekly(6 * 52, seed=1)
    adj = SeasonalAdjustment((WEEKS_PER_YEAR,), ((0, 1, 2, 3, 5),), knot_every=WEEKS_PER_YEAR).fit(y)
    assert adj.multiplicative_ and adj.terms_[0] >= 1
    t = np.arange(y.size, y.size + 52)
    expected = 1 + 0.3 * np.sin(2 * np.pi * t / WEEKS_PER_YEAR)
    factor = adj.component(t)
    # The estimated factor follows the true one (up to a constant: the level absorbs it).
    assert np.corrcoef(factor, expected)[0, 1] > 0.97


# ------------------------------------------------------------------------------ effects


def test_effects_name_holidays_and_events_per_period() -> None:
    days = _days(date(2025, 12, 20), 20)
    eff = calendar_effects("day", days, "DE-BY", [{"name": "Winter sale", "start": "2026-01-02", "end": "2026-01-04"}])
    names = dict(zip(days, eff.names))
    assert names[date(2025, 12, 25)] == ["Christmas Day"]
    assert names[date(2026, 1, 3)] == ["Winter sale"]
    assert names[date(2025, 12, 22)] == []
    col = eff.columns.index
    assert eff.X[days.index(date(2025, 12, 24)), col("eve")] == 1
    assert eff.X[days.index(date(2026, 1, 2)), col("event:Winter sale")] == 1
    assert eff.penalty[col("holiday")] == 0 and eff.penalty[col("holiday:Christmas Day")] > 0
    assert eff.closable[col("holiday:Christmas Day")] and not eff.closable[col("holiday")]


def test_weekly_effects_count_the_days_in_each_week() -> None:
    mondays = [date(2025, 12, 15) + timedelta(weeks=k) for k in range(4)]
    eff = calendar_effects("week", mondays, "DE", [{"name": "Promo", "start": "2025-12-20", "end": "2025-12-23"}])
    assert eff.names[1] == ["Christmas Day", "Second Day of Christmas", "Promo"]
    assert eff.names[0] == ["Promo"] and eff.names[2] == ["New Year's Day"]
    assert eff.X[1, eff.columns.index("holiday")] == 2
    assert eff.X[0, eff.columns.index("event")] == 2 and eff.X[1, eff.columns.index("event")] == 2


def test_holiday_spec_and_event_validation() -> None:
    assert parse_holiday_spec("us-ca").code == "US-CA"
    assert parse_holiday_spec([]) is None and parse_holiday_spec(None) is None
    with pytest.raises(ValueError, match="unknown holiday calendar"):
        parse_holiday_spec("XX")
    with pytest.raises(ValueError, match="unknown holiday calendar"):
        parse_holiday_spec("US-ZZ")
    # The contract's codes (shared.contract.calendar.holiday_code): a subdivision keeps its own case.
    assert parse_holiday_spec("de-augsburg").code == "DE-Augsburg"
    assert parse_events([{"name": "A", "start": "2025-01-02"}])[0].end == date(2025, 1, 2)
    # The request's rules (shared.contract.schema.Event), not a second copy of them.
    for bad in ({"name": "", "start": "2025-01-02"}, {"name": "A", "start": "2025-02-30"},
                {"name": "A", "start": "2025-01-05", "end": "2025-01-02"}, "A",
                {"name": "A\x00", "start": "2025-01-02"}, {"name": "A", "start": "2025-01-01", "end": "2026-06-01"}):
        with pytest.raises(ValueError):
            parse_events([bad])


# ------------------------------------------------------------------------------ models


def test_monthly_is_the_monthly_model_unchanged() -> None:
    model = make_model("auto", "month")
    assert type(model) is monthly.AutoForecaster
    with pytest.raises(ValueError, match="unknown model"):
        make_model("prophet", "week")
    with pytest.raises(ValueError, match="not fitted"):
        make_model("auto", "week").predict(3)


def test_weekly_auto_beats_a_52_lag_and_covers() -> None:
    inside80 = inside95 = points = 0
    err_auto = err_snaive = 0.0
    for seed in range(8):
        y = _weekly(5 * 52 + 13, seed)
        train, test = y[:-13], y[-13:]
        model = make_model("auto", "week").fit(train)
        assert "season" in model.description_
        p80, p95 = model.predict(13, 80.0), model.predict(13, 95.0)
        inside80 += int(np.sum((test >= p80.low) & (test <= p80.high)))
        inside95 += int(np.sum((test >= p95.low) & (test <= p95.high)))
        points += test.size
        err_auto += float(np.mean(np.abs(test - p80.mean)))
        err_snaive += float(np.mean(np.abs(test - make_model("seasonal_naive", "week").fit(train).predict(13).mean)))
    assert err_auto < err_snaive
    assert 0.65 <= inside80 / points <= 0.95
    assert 0.85 <= inside95 / points <= 1.0


def test_two_years_of_weeks_are_enough_to_see_the_year() -> None:
    # A shop with two years of weekly history (104 weeks: less than two full cycles of 52.18) and a
    # strong yearly season: the season is fitted, so a level set before the peak sees it coming.
    y = _weekly(104, 3)
    model = make_model("auto", "week").fit(y[:96])
    assert "season" in model.description_
    assert make_model("auto", "week").fit(y[:80]).description_.find("season") == -1  # 80 weeks (as M4's short series): none


def _daily_shop_series(seed: int = 0, n: int = 730 + 28) -> tuple[np.ndarray, object, list[date]]:
    days = _days(date(2024, 1, 1), n)
    events = [{"name": "Sale", "start": f"{y}-{m:02d}-10", "end": f"{y}-{m:02d}-13"} for y in (2024, 2025, 2026) for m in (3, 6, 9, 12, 1)]
    eff = calendar_effects("day", days, "DE", events)
    rng = np.random.default_rng(seed)
    dow = np.array([d.weekday() for d in days])
    mean = 200 * np.array([0.8, 0.9, 1.0, 1.0, 1.2, 1.5, 0.6])[dow] * (1 + eff.X[:, eff.columns.index("event")])
    y = rng.poisson(mean).astype(float)
    if "holiday:Christmas Day" in eff.columns:
        y[eff.X[:, eff.columns.index("holiday:Christmas Day")] > 0] = 0.0  # closed on Christmas Day
    return y, eff, days


def test_daily_closed_holiday_is_zero_and_a_promotion_lifts_its_days() -> None:
    y, eff, days = _daily_shop_series()
    n = days.index(date(2025, 12, 20))
    h = 28
    model = make_model("auto", "day", effects=eff).fit(y[:n], eff.X[:n])
    p = model.predict(h, 90.0, eff.X[n : n + h])
    horizon = days[n : n + h]
    christmas = horizon.index(date(2025, 12, 25))
    assert p.mean[christmas] == 0 and p.low[christmas] == 0 and p.high[christmas] == 0
    assert p.mean[christmas - 1] > 50  # the day before is open
    assert "closed days" in model.description_ and "effects" in model.description_
    # The January sale (the 10th to the 13th) doubles sales: the forecast says so, day for day.
    sale = [horizon.index(date(2026, 1, d)) for d in (10, 11, 12, 13)]
    same_days_before = [i - 7 for i in sale]
    assert np.mean(p.mean[sale]) > 1.6 * np.mean(p.mean[same_days_before])
    # Without the effects the model cannot know either.
    plain = make_model("auto", "day").fit(y[:n]).predict(h, 90.0)
    assert plain.mean[christmas] > 50


def test_closed_day_needs_evidence_beyond_chance() -> None:
    X = np.zeros((100, 1))
    X[[10, 50], 0] = 1
    y = np.ones(100)
    y[[10, 50]] = 0
    assert closed_columns(y, X, np.array([True])).tolist() == [True]
    sparse = np.where(np.arange(100) % 2 == 0, 0.0, 1.0)  # sells one day in two
    sparse[[10, 50]] = 0
    assert closed_columns(sparse, X, np.array([True])).tolist() == [False]
    assert closed_columns(y, X, np.array([False])).tolist() == [False]


def test_intermittent_daily_product() -> None:
    rng = np.random.default_rng(3)
    n = 400
    dow = np.arange(n) % 7
    y = (rng.random(n) < np.where(dow == 5, 0.6, 0.2)).astype(float) * rng.integers(1, 4, n)
    model = make_model("auto", "day").fit(y)
    assert model.path_ == "intermittent" and model.pattern_.value in ("intermittent", "lumpy")
    p = model.predict(14, 90.0)
    assert np.all(p.low >= 0) and np.all(p.high >= p.mean) and np.all(p.mean >= 0)
    np.testing.assert_array_equal(p.high, np.round(p.high))  # units: whole-number bounds
    saturday = (n + np.arange(14)) % 7 == 5
    assert p.mean[saturday].mean() > 1.5 * p.mean[~saturday].mean()
    assert abs(p.mean.mean() - y[-120:].mean()) < 0.5 * y[-120:].mean()


def test_regressor_shapes_are_checked() -> None:
    y, eff, _ = _daily_shop_series(n=200)
    model = make_model("auto", "day", effects=eff)
    with pytest.raises(ValueError, match="one row per observation"):
        model.fit(y[:100], eff.X[:99])
    model.fit(y[:100], eff.X[:100])
    with pytest.raises(ValueError, match="X_future"):
        model.predict(7, 90.0)
    with pytest.raises(ValueError, match="shape"):
        model.predict(7, 90.0, eff.X[100:106])


def test_named_models_and_short_histories() -> None:
    y = _weekly(120, seed=4)
    for name in ("auto", "ets", "theta", "arima", "seasonal_naive", "linear"):
        p = make_model(name, "week").fit(y).predict(5, 80.0)
        assert p.mean.shape == (5,) and np.all(p.low <= p.high)
    short = make_model("auto", "day").fit([5.0, 6.0, 7.0, 6.0])
    assert "naive" in short.description_
    assert isinstance(make_model("auto", "day"), CalendarForecaster)


def test_backtest_per_frequency() -> None:
    y, eff, _ = _daily_shop_series(n=200)
    report = rolling_origin_backtest(y, "auto", level=90.0, max_origins=3, frequency="day", X=eff.X[:200], effects=eff)
    assert report.backtest_origins == 3 and report.wape is not None and report.mase is not None
    weekly = rolling_origin_backtest(_weekly(150, 5), "auto", max_origins=2, frequency="week")
    assert weekly.backtest_origins == 2


def test_grouped_engine_forecasts_daily_series_with_effects() -> None:
    from shared.engine.hierarchy import forecast_chunk

    y, eff, days = _daily_shop_series(n=730 + 28)
    n = days.index(date(2025, 12, 20))
    horizon = 28
    eff = calendar_effects("day", days[: n + horizon], "DE", [])
    product = np.where(np.arange(n) % 3 == 0, 1.0, 0.0)
    items = [
        {"index": 0, "y": y[:n].tolist(), "is_total": True},
        {"index": 1, "y": product[-200:].tolist(), "is_total": False},  # first sold 200 days ago
        {"index": 2, "y": [1.0, 0.0, 2.0], "is_total": False},  # too young for a model of its own
    ]
    closed = closed_columns(y[:n], eff.X[:n], eff.closable)
    out = forecast_chunk(items, horizon=horizon, level=90.0, frequency="day", effects=eff, closed=closed)
    christmas = days.index(date(2025, 12, 25)) - n
    assert 0 <= christmas < horizon
    assert out[0]["mean"][christmas] == 0 and out[0]["mean"][christmas - 1] > 50
    assert out[0]["backtest"] is not None and len(out[0]["mean"]) == horizon
    assert out[1]["mean"][christmas] == 0  # closed for every series below the total
    assert out[1]["pattern"] == "intermittent" and "croston_sba" in out[1]["label"]
    assert out[2]["method"] == "share_of_parent" and "3 days" in out[2]["label"]


# ------------------------------------------------------------------ forward (the backtest without refitting)


def test_daily_forward_runs_the_fit_over_a_shorter_history_without_refitting() -> None:
    y, eff, days = _daily_shop_series(n=730)
    model = make_model("auto", "day", effects=eff).fit(y, eff.X)
    assert model.path_ == "regular"
    k = 12
    moved = model.forward(y[:-k], eff.X[:-k])
    assert moved.refit_ is False and moved.n_obs_ == y.size - k
    assert moved.adjustment_ is model.adjustment_  # season and effects as estimated, not again
    p = moved.predict(k, 90.0, eff.X[-k:])
    refit = make_model("auto", "day", effects=eff).fit(y[:-k], eff.X[:-k]).predict(k, 90.0, eff.X[-k:])
    assert np.all(p.low <= p.mean) and np.all(p.mean <= p.high)
    # The same form, so close to the refit's answer (the parameters differ by 12 of 730 days).
    assert np.max(np.abs(p.mean - refit.mean) / np.maximum(refit.mean, 1.0)) < 0.1  # closed days: 0 and 0
    # The forecast of the fitted model itself is untouched by running it forward.
    before = model.predict(28, 90.0, np.zeros((28, eff.X.shape[1])))
    model.forward(y[:-k], eff.X[:-k])
    np.testing.assert_array_equal(model.predict(28, 90.0, np.zeros((28, eff.X.shape[1]))).mean, before.mean)


def test_daily_forward_refits_where_the_form_or_path_would_change() -> None:
    y, eff, _ = _daily_shop_series(n=560)
    model = make_model("auto", "day", effects=eff).fit(y, eff.X)
    # 560 days hold 1.5 years (the yearly season may be estimated); 520 do not: another form.
    assert model.forward(y[:-40], eff.X[:-40]).refit_ is True
    rng = np.random.default_rng(3)
    sparse = (rng.random(400) < 0.2).astype(float)
    intermittent = make_model("auto", "day").fit(sparse)
    moved = intermittent.forward(sparse[:-12])
    assert intermittent.path_ == "intermittent" and moved.refit_ is True and moved.path_ == "intermittent"
    with pytest.raises(ValueError, match="not fitted"):
        make_model("auto", "day").forward(sparse)


def test_grouped_daily_bottom_backtest_runs_forward_and_the_total_refits(monkeypatch) -> None:
    from shared.engine.frequency_models import CalendarForecaster
    from shared.engine.hierarchy import forecast_chunk

    y, eff, days = _daily_shop_series(n=730 + 28)
    n = 730
    fits = []
    real = CalendarForecaster.fit
    monkeypatch.setattr(CalendarForecaster, "fit", lambda self, *a, **kw: fits.append(1) or real(self, *a, **kw))
    items = [{"index": 0, "y": y[:n].tolist(), "is_total": True, "refit_backtest": True},
             {"index": 1, "y": y[:n].tolist(), "is_total": False, "refit_backtest": False}]
    out = forecast_chunk(items, horizon=28, level=90.0, frequency="day", effects=eff)
    assert len(fits) == 3  # the total: forecast + holdout refit; the bottom series: one fit
    assert out[0]["mean"] == out[1]["mean"]  # the forecasts are the same fit's
    assert out[1]["backtest"] is not None and len(out[1]["backtest"]["forecast"]) == 12


def test_weekly_forward_runs_the_fit_forward_too() -> None:
    y = _weekly(200, 5)
    model = make_model("auto", "week").fit(y)
    moved = model.forward(y[:-12])
    assert model.path_ == "regular" and moved.refit_ is False
    p = moved.predict(12, 90.0)
    refit = make_model("auto", "week").fit(y[:-12]).predict(12, 90.0)
    assert np.max(np.abs(p.mean - refit.mean) / np.maximum(refit.mean, 1.0)) < 0.1
