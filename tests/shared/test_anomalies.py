"""Anomalies in a series' history (shared.engine.anomalies): a one-off spike or dip stands out of a
seasonal series; noise, known holidays, flat and mostly-zero series raise none. Cleaning them
before a fit: the models that do, what they say, and the backtest's origins."""
from __future__ import annotations

import numpy as np

from shared.contract import calendar
from shared.engine import anomalies
from shared.engine import models as models_module
from shared.engine.anomalies import clean_history, find_anomalies
from shared.engine.backtest import rolling_origin_backtest
from shared.engine.frequency_models import make_model as calendar_model
from shared.engine.models import make_model

PERIODS = calendar.labels(calendar.parse_label("2022-01", "month"), 36, "month")


def seasonal(seed: int = 1, n: int = 36) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 1000 + 10 * t + 200 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 20, n)


def test_a_spike_and_a_dip_are_found_with_what_was_expected():
    y = seasonal()
    y[20] *= 1.8
    y[30] *= 0.3
    found = find_anomalies(y, PERIODS, 12)
    assert [(a["period"], a["kind"]) for a in found] == [(PERIODS[20], "spike"), (PERIODS[30], "dip")]
    assert all(abs(a["expected"] - v) < 100 for a, v in zip(found, (y[20] / 1.8, y[30] / 0.3)))


def test_noise_and_the_season_itself_are_not_anomalies():
    assert sum(len(find_anomalies(seasonal(seed), PERIODS, 12)) for seed in range(50)) <= 3


def test_known_periods_are_never_flagged():
    y = seasonal()
    y[20] *= 1.8
    assert find_anomalies(y, PERIODS, 12, known={PERIODS[20]}) == []


def test_short_flat_and_intermittent_series_have_none():
    assert find_anomalies(seasonal()[:10], PERIODS[:10], 12) == []
    assert find_anomalies(np.full(36, 5.0), PERIODS, 12) == []
    sparse = np.zeros(36)
    sparse[[3, 17, 29]] = [2, 1, 3]
    assert find_anomalies(sparse, PERIODS, 12) == []


def test_days_with_a_week_season():
    days = calendar.labels(calendar.parse_label("2025-01-06", "day"), 70, "day")
    weekday = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 0.5])
    rng = np.random.default_rng(3)
    y = 100 * weekday[np.arange(70) % 7] * rng.lognormal(0, 0.05, 70)
    y[40] = 0.0  # a closed day nobody said was closed
    assert [(a["period"], a["kind"]) for a in find_anomalies(y, days, 7)] == [(days[40], "dip")]


def test_one_eightfold_day_is_one_spike_and_its_neighbours_are_not_dips():
    # The defect of issue 27: a day selling 8x lifted the 7-day moving average for a week around it,
    # so its ordinary neighbours were flagged as dips.
    days = calendar.labels(calendar.parse_label("2025-01-06", "day"), 140, "day")
    weekday = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 0.5])
    for seed in range(2, 7):
        rng = np.random.default_rng(seed)
        y = 100 * weekday[np.arange(140) % 7] * rng.lognormal(0, 0.05, 140)
        y[70] *= 8
        found = find_anomalies(y, days, 7)
        assert [(a["period"], a["kind"]) for a in found] == [(days[70], "spike")], seed
        assert abs(found[0]["expected"] - y[70] / 8) < 0.2 * y[70] / 8


# ------------------------------------------------------------------ cleaning before a fit


def test_clean_history_pulls_in_what_find_anomalies_finds_and_spares_known_periods():
    y = seasonal()
    y[20] *= 1.8
    cleaned, count = clean_history(y, 12)
    # Pulled in to the edge of the ordinary: above what was expected, by a few noise SDs (20).
    assert count == 1 and 0 < cleaned[20] - y[20] / 1.8 < 150
    assert np.array_equal(np.delete(cleaned, 20), np.delete(y, 20))
    known = np.zeros(36, dtype=bool)
    known[20] = True
    spared, none = clean_history(y, 12, known)
    assert none == 0 and np.array_equal(spared, y)
    assert clean_history(seasonal(), 12)[1] == 0
    # Two anomalous months in a row are a change, not an accident: left as they are.
    y[21] *= 1.8
    assert clean_history(y, 12)[1] == 0


def test_a_cleaning_model_says_so_in_its_description_and_the_baselines_never_clean():
    y = seasonal(n=72)
    y[40] *= 2.5
    cleaned = make_model("auto", 12, clean=True).fit(y)
    plain = make_model("auto", 12, clean=False).fit(y)
    assert cleaned.cleaned_ == 1 and cleaned.description_.endswith(", 1 anomaly cleaned")
    assert plain.cleaned_ == 0 and "cleaned" not in plain.description_
    assert not np.allclose(cleaned.predict(12).mean, plain.predict(12).mean)
    assert make_model("seasonal_naive", 12, clean=True).fit(y).description_ == "seasonal_naive"
    # Run forward over a shorter history (the grouped backtest), it cleans that history itself.
    assert cleaned.forward(y[:36]).cleaned_ == 0 and cleaned.forward(y[:-3]).cleaned_ == 1


def test_daily_cleaning_leaves_holiday_and_event_days_to_the_regressors():
    days = 140
    weekday = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 0.5])
    rng = np.random.default_rng(4)
    y = 100 * weekday[np.arange(days) % 7] * rng.lognormal(0, 0.05, days)
    y[[50, 100]] *= 6
    X = np.zeros((days, 1))
    X[100, 0] = 1.0  # a promotion the shop told us about
    fitted = calendar_model("auto", "day", clean=True).fit(y, X)
    assert fitted.cleaned_ == 1 and fitted.description_.endswith(", 1 anomaly cleaned")
    assert calendar_model("auto", "day", clean=False).fit(y, X).cleaned_ == 0


def test_the_backtest_cleans_each_origin_with_its_own_past(monkeypatch):
    # Cleaning is part of fitting, so each backtest origin cleans the history before it only: a
    # spike at an origin is that origin's actual (scored as it happened), cleaned only after it.
    monkeypatch.setattr(anomalies, "CLEAN_BY_DEFAULT", True)
    y = seasonal(n=72)
    y[-4] *= 2.5
    seen = []
    real_clean = anomalies.clean_history

    def spy(values, season_length, known=None):
        seen.append(len(values))
        return real_clean(values, season_length, known)

    monkeypatch.setattr(models_module, "clean_history", spy)
    report = rolling_origin_backtest(y, "auto", max_origins=6)
    assert report.backtest_origins == 6 and seen == list(range(66, 72))
    # The origin that forecast the spike did not see it: its error is the spike's size.
    assert report.mae is not None and report.mae > 0


def test_grouped_series_clean_too_when_cleaning_is_on(monkeypatch):
    from shared.engine.hierarchy import forecast_one

    monkeypatch.setattr(anomalies, "CLEAN_BY_DEFAULT", True)
    y = seasonal(n=72)
    y[40] *= 2.5
    monthly = forecast_one({"index": 0, "y": y.tolist(), "is_total": False}, horizon=3, level=90.0)
    assert monthly["label"].endswith(", 1 anomaly cleaned") and monthly["backtest"] is not None
    days = 140
    weekday = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 0.5])
    d = 100 * weekday[np.arange(days) % 7] * np.random.default_rng(5).lognormal(0, 0.05, days)
    d[60] *= 8
    daily = forecast_one({"index": 1, "y": d.tolist(), "is_total": True}, horizon=7, level=90.0, frequency="day")
    assert daily["label"].endswith(", 1 anomaly cleaned")


def test_fifteen_years_of_weeks_with_a_yearly_peak_flag_about_the_nominal_rate():
    # The defect of issue 27: the season's position was the week's index mod 52, which slips a day a
    # year against the 52.18 weeks of a year, so a Christmas peak in a long history read as anomalies
    # (40-54 flags in each of these series). At 4 robust SDs, Gaussian noise flags ~0.5 in 7,830 weeks.
    n = 783
    t = np.arange(n)
    phase = (t / 52.1786) % 1.0
    weeks_from_peak = np.minimum(np.abs(phase - 0.97), 1 - np.abs(phase - 0.97)) * 52.1786
    labels = [str(i) for i in range(n)]
    flags = 0
    for seed in range(10):
        noise = np.random.default_rng(seed).normal(0, 20, n)
        y = 1000 + 200 * np.sin(2 * np.pi * t / 52.1786) + 600 * np.exp(-0.5 * (weeks_from_peak / 1.5) ** 2) + noise
        flags += len(find_anomalies(y, labels, 52))
    assert flags <= 5


def test_a_growing_daily_series_with_a_multiplicative_weekday_pattern_flags_about_the_nominal_rate():
    # The defect of issue 27: the weekday pattern (and the noise) grow with the level, but the
    # decomposition was additive, so Saturdays and the late, higher days stood out (56-70 flags in
    # each of these two-year series). On the log scale: about the nominal rate, and a spike still stands out.
    weekday = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 0.5])
    n = 728
    t = np.arange(n)
    labels = [str(i) for i in range(n)]
    flags = 0
    for seed in range(10):
        y = 100 * np.exp(t / 365) * weekday[t % 7] * np.random.default_rng(seed).lognormal(0, 0.05, n)
        flags += len(find_anomalies(y, labels, 7))
    assert flags <= 5
    y[500] *= 3
    found = find_anomalies(y, labels, 7)
    assert (labels[500], "spike") in [(a["period"], a["kind"]) for a in found]
    assert abs(found[[a["period"] for a in found].index(labels[500])]["expected"] - y[500] / 3) < 0.15 * y[500] / 3


def test_an_additive_season_with_constant_noise_stays_additive():
    # The log scale is chosen only where it describes the series better: a season and noise that keep
    # their size would, on the logarithm, make the low months look noisy.
    assert not anomalies._multiplicative(seasonal(n=120), 12)
    weekday = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 0.5])
    y = 100 * weekday[np.arange(140) % 7] * np.random.default_rng(1).lognormal(0, 0.05, 140)
    assert anomalies._multiplicative(y, 7)
