"""Alerts (shared.history.alerts, raised by HistoryRepository.record) on SQLite and PostgreSQL: a
period seen complete against the interval published for it, the outlook against a year before,
each alert once, and listed newest first with filters and a cursor."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from shared.history.alerts import AlertKind, change_against_a_year_before
from shared.history.models import TOTAL_KEY
from shared.history.records import HorizonMonth, SeriesForecast
from tests.shared.test_history import NOW, database_url, publication, repo  # noqa: F401  (fixtures: both databases)

DROP = 10.0


def test_an_actual_below_the_interval_published_for_it_raises_one_below_range_alert(repo):  # noqa: F811
    repo.record(publication("job-1", "2025-01", [("2025-02", 100, 90, 110)], [("2025-01", 97)]), drop_pct=DROP)
    later = publication("job-2", "2025-02", [("2025-03", 100, 90, 110)], [("2025-01", 97), ("2025-02", 70)],
                        created=NOW + timedelta(days=30))
    outcome = repo.record(later, drop_pct=DROP)
    assert [(a.kind, a.period, a.actual, a.low, a.high, a.level) for a in outcome.alerts] == [
        ("below_range", "2025-02", 70.0, 90.0, 110.0, 90.0)
    ]
    # The same data again, by another job: nothing new; the alert is listed once.
    again = publication("job-3", "2025-02", [("2025-03", 100, 90, 110)], [("2025-01", 97), ("2025-02", 70)],
                        created=NOW + timedelta(days=31))
    assert repo.record(again, drop_pct=DROP).alerts == ()
    assert repo.record(later, drop_pct=DROP).alerts == ()  # the outbox item written twice
    listed = repo.alerts()
    assert [(a.kind, a.period, a.task_id) for a in listed] == [("below_range", "2025-02", "job-2")]
    assert listed[0].to_json()["series"] == {}


def test_inside_the_interval_no_alert_and_above_it_above_range(repo):  # noqa: F811
    key = '{"product_id":"tea"}'
    tea = SeriesForecast(key, "ets", (HorizonMonth("2025-02", 10, 8, 12),), (("2025-01", 10),))
    repo.record(publication("job-1", "2025-01", [("2025-02", 100, 90, 110)], [("2025-01", 97)], extra=(tea,)),
                drop_pct=DROP)
    tea_later = SeriesForecast(key, "ets", (HorizonMonth("2025-03", 15, 12, 18),), (("2025-01", 10), ("2025-02", 15)))
    later = publication("job-2", "2025-02", [("2025-03", 100, 90, 110)], [("2025-01", 97), ("2025-02", 100)],
                        created=NOW + timedelta(days=30), extra=(tea_later,))
    alerts = repo.record(later, drop_pct=DROP).alerts
    assert [(a.series_key, a.kind, a.actual) for a in alerts] == [(key, "above_range", 15.0)]
    assert [a.series_key for a in repo.alerts(series_key=key)] == [key]
    assert repo.alerts(series_key=TOTAL_KEY) == []


def test_the_interval_compared_is_the_forecast_made_nearest_before(repo):  # noqa: F811
    repo.record(publication("old", "2024-12", [("2025-01", 100, 50, 150), ("2025-02", 100, 50, 150)],
                            [("2024-12", 100)], created=NOW - timedelta(days=30)), drop_pct=None)
    repo.record(publication("newer", "2025-01", [("2025-02", 100, 90, 110)], [("2024-12", 100), ("2025-01", 100)]),
                drop_pct=None)
    seen = publication("seen", "2025-02", [("2025-03", 100, 90, 110)], [("2025-01", 100), ("2025-02", 80)],
                       created=NOW + timedelta(days=30))
    alerts = repo.record(seen, drop_pct=DROP).alerts
    assert [(a.kind, a.low, a.high) for a in alerts] == [("below_range", 90.0, 110.0)]  # newer's, not old's


def test_a_forecast_falling_more_than_the_threshold_below_a_year_before_raises_forecast_drop(repo):  # noqa: F811
    history = [(f"2024-{m:02d}", 100.0) for m in range(1, 13)] + [("2025-01", 100.0)]
    falling = publication("job-1", "2025-01", [("2025-02", 80, 70, 90), ("2025-03", 85, 75, 95)], history)
    alerts = repo.record(falling, drop_pct=DROP).alerts
    assert [(a.kind, a.period, round(a.change_pct, 1)) for a in alerts] == [("forecast_drop", "2025-02", -17.5)]
    steady = publication("job-2", "2025-01", [("2025-02", 95, 85, 105)], history,
                         created=NOW + timedelta(seconds=1), extra=())
    assert [a.kind for a in repo.record(steady, drop_pct=DROP).alerts] == []  # -5 % is within 10 %


def test_without_a_year_of_history_the_last_periods_are_the_base():
    actuals = [("2025-01", 100.0), ("2025-02", 120.0)]
    assert change_against_a_year_before([("2025-03", 99.0)], actuals, "month") == pytest.approx(-17.5)
    weekly = [("2024-W05", 50.0), ("2025-W04", 10.0)]
    assert change_against_a_year_before([("2025-W05", 40.0)], weekly, "week") == pytest.approx(-20.0)
    daily = [("2024-02-03", 10.0)]  # a Saturday, 364 days before the Saturday forecast
    assert change_against_a_year_before([("2025-02-01", 5.0)], daily, "day") == pytest.approx(-50.0)
    assert change_against_a_year_before([("2025-03", 1.0)], [("2025-02", 0.0)], "month") is None


def test_alerts_are_listed_newest_first_by_kind_and_since_with_a_cursor(repo):  # noqa: F811
    history = [(f"2024-{m:02d}", 100.0) for m in range(1, 13)]
    for k in range(5):
        key = f'{{"product_id":"p{k}"}}'
        series = SeriesForecast(key, "ets", (HorizonMonth("2025-01", 50, 40, 60),), tuple(history))
        repo.record(publication(f"job-{k}", "2024-12", [("2025-01", 100, 90, 110)], history,
                                created=NOW + timedelta(hours=k), extra=(series,)), drop_pct=DROP,
                    now=NOW + timedelta(hours=k))
    drops = repo.alerts(kind=AlertKind.FORECAST_DROP)
    assert [a.series_key for a in drops] == [f'{{"product_id":"p{k}"}}' for k in range(4, -1, -1)]
    page = repo.alerts(limit=2)
    rest = repo.alerts(before=(page[-1].created_at, page[-1].id), limit=10)
    assert [a.id for a in page + rest] == [a.id for a in drops]
    assert [a.series_key for a in repo.alerts(since=NOW + timedelta(hours=3))] == ['{"product_id":"p4"}', '{"product_id":"p3"}']


def test_a_shop_that_follows_its_model_raises_below_range_on_about_half_the_outside_share(repo):  # noqa: F811
    """At level 90, actuals drawn from the forecast's own distribution fall below the interval on
    about 5% of series-periods: the alert volume is the interval's, nothing more."""
    rng = random.Random(7)
    z90 = 1.6449
    n = 400
    series = []
    for k in range(n):
        key = f'{{"product_id":"p{k}"}}'
        series.append(SeriesForecast(key, "ets", (HorizonMonth("2025-02", 100, 100 - 10 * z90, 100 + 10 * z90),),
                                     (("2025-01", 100.0),)))
    repo.record(publication("job-1", "2025-01", [("2025-02", 1000, 900, 1100)], [("2025-01", 1000)],
                            extra=tuple(series)), drop_pct=None)
    later = []
    for k in range(n):
        key = f'{{"product_id":"p{k}"}}'
        later.append(SeriesForecast(key, "ets", (HorizonMonth("2025-03", 100, 80, 120),),
                                    (("2025-01", 100.0), ("2025-02", rng.gauss(100, 10)))))
    alerts = repo.record(publication("job-2", "2025-02", [("2025-03", 1000, 900, 1100)],
                                     [("2025-01", 1000), ("2025-02", 1000)], created=NOW + timedelta(days=30),
                                     extra=tuple(later)), drop_pct=DROP).alerts
    below = sum(a.kind == "below_range" for a in alerts) / n
    above = sum(a.kind == "above_range" for a in alerts) / n
    assert 0.02 <= below <= 0.08 and 0.02 <= above <= 0.08, (below, above)
