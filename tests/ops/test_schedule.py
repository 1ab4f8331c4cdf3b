"""The scheduled refresh: FORECAST_REFRESH_CRON -> beat's entry -> `forecast.refresh`.

The refresh runs against a real Redis and the fake Laravel (a real HTTP server); after it, the
default forecast's result is in the cache, and an ordinary request for it is served from there.
"""
from __future__ import annotations

import importlib
import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab

from shared.contract.config import Settings
from shared.contract.protocol import REFRESH_TASK
from worker.celery_app import create_celery
from worker.schedule import REFRESH_ENTRY, beat_schedule, parse_cron


def require(module: str) -> None:
    """Skip while a module that other work is still landing does not import; never in CI."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} does not import yet: {exc}")


# ---- cron parsing ----------------------------------------------------------------------------

def test_default_is_two_oclock_on_the_first():
    schedule = parse_cron(Settings().forecast_refresh_cron)
    assert schedule == crontab(minute=0, hour=2, day_of_month=1)
    assert schedule.minute == {0} and schedule.hour == {2} and schedule.day_of_month == {1}
    assert schedule.month_of_year == set(range(1, 13)) and schedule.day_of_week == set(range(7))


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("*/15 * * * *", crontab(minute="*/15")),
        ("30 6 * * mon-fri", crontab(minute=30, hour=6, day_of_week="mon-fri")),
        ("0 3 1,15 * *", crontab(minute=0, hour=3, day_of_month="1,15")),
        ("  0   2  1 *  * ", crontab(minute=0, hour=2, day_of_month=1)),
        ("0 0 1 jan *", crontab(minute=0, hour=0, day_of_month=1, month_of_year=1)),
    ],
)
def test_cron_expressions(expression, expected):
    assert parse_cron(expression) == expected


@pytest.mark.parametrize("expression", ["off", "OFF", "none", "disabled", "-"])
def test_off(expression):
    assert parse_cron(expression) is None
    settings = Settings(forecast_refresh_cron=expression)
    assert beat_schedule(settings) == {}
    assert create_celery(settings).conf.beat_schedule == {}


@pytest.mark.parametrize("expression", ["0 2 1 *", "0 2 1 * * *", "61 2 1 * *", "0 25 * * *", "0 2 32 * *", "x y z * *", ""])
def test_malformed_expressions_are_refused_by_name(expression):
    with pytest.raises(ValueError, match="FORECAST_REFRESH_CRON"):
        parse_cron(expression)


def test_a_malformed_expression_stops_the_app_at_start_up():
    with pytest.raises(ValueError, match="FORECAST_REFRESH_CRON"):
        create_celery(Settings(forecast_refresh_cron="every month"))


def test_when_it_fires_in_the_sales_timezone():
    tz = ZoneInfo("Europe/Berlin")
    schedule = parse_cron("0 2 1 * *")
    schedule.tz = tz  # as the app sets it: timezone = SALES_TIMEZONE
    last_run = datetime(2025, 1, 1, 2, 0, tzinfo=tz)

    def due_at(now: datetime) -> bool:
        schedule.nowfun = lambda: now
        return schedule.is_due(last_run).is_due

    assert not due_at(datetime(2025, 1, 31, 23, 59, tzinfo=tz))
    assert not due_at(datetime(2025, 2, 1, 1, 59, tzinfo=tz))
    assert due_at(datetime(2025, 2, 1, 2, 0, 30, tzinfo=tz))


def test_beat_entry():
    settings = Settings(forecast_queue="sales-jobs", sales_timezone="America/New_York")
    app = create_celery(settings)
    entry = app.conf.beat_schedule[REFRESH_ENTRY]
    assert entry["task"] == REFRESH_TASK == "forecast.refresh"
    assert entry["schedule"] == crontab(minute=0, hour=2, day_of_month=1)
    assert entry["options"]["queue"] == "sales-jobs", "the queue the workers consume"
    assert app.conf.timezone == "America/New_York"
    assert "worker.refresh" in app.conf.include, "workers register forecast.refresh"


def test_weekly_and_daily_refreshes_start_each_new_period():
    settings = Settings(forecast_refresh_frequencies=("month", "week", "day"))
    entries = create_celery(settings).conf.beat_schedule
    assert set(entries) == {REFRESH_ENTRY, f"{REFRESH_ENTRY}-week", f"{REFRESH_ENTRY}-day"}
    assert "kwargs" not in entries[REFRESH_ENTRY]
    assert entries[f"{REFRESH_ENTRY}-week"]["kwargs"] == {"frequency": "week"}
    assert entries[f"{REFRESH_ENTRY}-week"]["schedule"] == crontab(minute=0, hour=2, day_of_week=1)  # Mondays
    assert entries[f"{REFRESH_ENTRY}-day"]["schedule"] == crontab(minute=0, hour=2)
    assert Settings.from_env({"FORECAST_REFRESH_FREQUENCIES": "week,month"}).forecast_refresh_frequencies == ("week", "month")
    with pytest.raises(ValueError, match="FORECAST_REFRESH_FREQUENCIES"):
        Settings.from_env({"FORECAST_REFRESH_FREQUENCIES": "quarter"})


# ---- the refresh, against a real Redis and the fake Laravel ------------------------------------

def _rows(today: date) -> list[dict]:
    """Two orders a month for the 24 months before today's month, growing."""
    rows, first = [], date(today.year - 2, today.month, 1)
    for i in range(24):
        month = date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for day, amount in ((3, 900 + 25 * i), (17, 1100 + 30 * i)):
            rows.append({
                "id": len(rows) + 1,
                "created_at": f"{month.replace(day=day).isoformat()}T10:15:00.000000Z",
                "grand_total": f"{amount:.2f}",
            })
    return rows


@pytest.fixture
def refresh_app(tmp_path):
    require("worker.tasks")
    require("local.fake_laravel")
    from local.fake_laravel import FakeLaravel
    from local.redis_server import RedisServer

    today = datetime.now(ZoneInfo("UTC")).date()
    with RedisServer() as redis_server, FakeLaravel(_rows(today), per_page=20) as laravel_url:
        settings = Settings(
            redis_url=redis_server.url,
            laravel_api_url=laravel_url,
            secret_key="schedule-test-secret",
            model_dir=tmp_path / "models",
            upstream_task_retries=0,
        )
        app = create_celery(settings)
        app.loader.import_default_modules()  # what a worker does: registers the included tasks
        yield app


@pytest.mark.slow
def test_refresh_fills_the_cache_for_the_default_request(refresh_app):
    import redis

    client = redis.Redis.from_url(refresh_app.settings.redis_url)
    assert not client.keys("sf:result:*")

    summary = refresh_app.tasks[REFRESH_TASK].apply().get(disable_sync_subtasks=False)
    assert summary["period"] and summary["data_fingerprint"]
    assert client.exists(f"sf:result:{summary['data_fingerprint']}"), "the refreshed forecast is cached"

    # An ordinary request with the default parameters, as the web sends it: served from the cache.
    document = refresh_app.tasks["forecast.sales"].apply(kwargs={}).get(disable_sync_subtasks=False)
    meta = document["data"]["meta"]
    assert meta["cached"] is True
    assert meta["data_fingerprint"] == summary["data_fingerprint"]
    assert document["data"]["forecast"]["period"] == summary["period"]

    # and the refresh does refresh: it recomputes even with the cache filled
    again = refresh_app.tasks[REFRESH_TASK].apply().get(disable_sync_subtasks=False)
    assert again["generated_at"] > summary["generated_at"]


@pytest.mark.slow
def test_refresh_without_a_laravel_url_fails_with_the_stable_code(refresh_app):
    from shared.contract.errors import UpstreamUnavailable
    from worker.context import context
    from worker.refresh import refresh_default_forecast

    app = create_celery(refresh_app.settings.with_overrides(laravel_api_url=None))
    with pytest.raises(UpstreamUnavailable):
        refresh_default_forecast(app)
    context.cache_clear()


@pytest.mark.slow
def test_a_weekly_refresh_fills_the_cache_for_the_weekly_default(refresh_app):
    summary = refresh_app.tasks[REFRESH_TASK].apply(kwargs={"frequency": "week"}).get(disable_sync_subtasks=False)
    assert summary["frequency"] == "week" and "-W" in summary["period"] and "next_month_forecast" not in summary
    document = refresh_app.tasks["forecast.sales"].apply(kwargs={"frequency": "week"}).get(disable_sync_subtasks=False)
    assert document["data"]["meta"]["cached"] is True
    assert document["data"]["meta"]["data_fingerprint"] == summary["data_fingerprint"]
