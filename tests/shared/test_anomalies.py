"""Anomalies in a series' history (shared.engine.anomalies): a one-off spike or dip stands out of a
seasonal series; noise, known holidays, flat and mostly-zero series raise none."""
from __future__ import annotations

import numpy as np

from shared.contract import calendar
from shared.engine.anomalies import find_anomalies

PERIODS = calendar.labels(calendar.parse_label("2022-01", "month"), 36, "month")


def seasonal(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(36)
    return 1000 + 10 * t + 200 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 20, 36)


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
