"""shared.history on both databases it runs on: SQLite (a file) and the tests' own PostgreSQL."""
from __future__ import annotations

import json
import multiprocessing
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis

from local.redis_server import RedisServer, free_port
from shared.contract.errors import HistoryRejected, HistoryUnavailable
from shared.history import migrate
from shared.history.models import TOTAL_KEY
from shared.history.outbox import DEAD_KEY, OUTBOX_KEY, PROCESSING_KEY, STATS_KEY, HistoryOutbox
from shared.history.records import (
    HorizonMonth,
    Publication,
    SeriesForecast,
    outbox_item,
    outbox_items,
    publication_from_item,
    series_key,
)
from shared.history.repository import HistoryRepository, normalise_url

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:  # a clean schema per test
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return server.url


@pytest.fixture
def repo(database_url):
    assert migrate.upgrade(database_url) == migrate.head()
    repository = HistoryRepository.from_url(database_url)
    yield repository
    repository.engine.dispose()


def publication(task_id, origin, horizon, actuals, *, key=TOTAL_KEY, level=90.0, created=NOW, fingerprint=None,
                extra=()):
    series = SeriesForecast(key, "ets", tuple(HorizonMonth(p, f, lo, hi) for p, f, lo, hi in horizon), tuple(actuals))
    return Publication(task_id, created, "laravel:http://shop", "completed", "revenue", level,
                       fingerprint or f"fp-{task_id}", origin, (series, *extra))


def test_a_forecast_is_recorded_once_and_its_months_fill_in_as_they_close(repo):
    first = publication("job-1", "2025-01", [("2025-02", 100, 90, 110), ("2025-03", 110, 95, 125)], [("2025-01", 97)])
    assert repo.record(first).forecast_rows == 2
    assert repo.record(first).forecast_rows == 0  # a retried outbox item adds nothing
    rows = repo.history()
    assert [(r["task_id"], r["period"], r["months_ahead"], r["actual"]) for r in rows] == [
        ("job-1", "2025-02", 1, None), ("job-1", "2025-03", 2, None)
    ]

    # a month later: February closed at 95 (inside), March's forecast still waits
    second = publication("job-2", "2025-02", [("2025-03", 120, 100, 140)], [("2025-01", 97), ("2025-02", 95)],
                         created=NOW + timedelta(days=30))
    outcome = repo.record(second)
    assert (outcome.actuals, outcome.filled) == (1, 1)
    by = {(r["task_id"], r["period"]): r for r in repo.history()}
    assert by[("job-1", "2025-02")]["actual"] == 95
    assert by[("job-1", "2025-02")]["inside"] is True
    assert by[("job-1", "2025-02")]["error_pct"] == pytest.approx((95 - 100) / 95 * 100, abs=0.01)
    assert by[("job-1", "2025-03")]["actual"] is None

    # March closes at 150: outside both ranges; the newest forecast is listed first
    third = publication("job-3", "2025-03", [("2025-04", 130, 110, 150)], [("2025-02", 96), ("2025-03", 150)],
                        created=NOW + timedelta(days=60))
    assert repo.record(third).filled == 2
    rows = repo.history()
    assert [r["task_id"] for r in rows] == ["job-3", "job-2", "job-1", "job-1"]
    by = {(r["task_id"], r["period"]): r for r in rows}
    assert by[("job-1", "2025-03")]["inside"] is False and by[("job-2", "2025-03")]["inside"] is False
    # the first actual seen stands: February's later 96 does not rewrite the record
    assert by[("job-1", "2025-02")]["actual"] == 95

    record = repo.track_record()
    assert record["pending"] == 1
    one, two = record["horizons"]
    assert (one["months_ahead"], one["count"], one["inside"], one["coverage"]) == (1, 2, 1, 50.0)
    assert one["mape"] == pytest.approx((5 / 95 + 30 / 150) / 2 * 100, abs=0.01)
    assert one["wape"] == pytest.approx((5 + 30) / (95 + 150) * 100, abs=0.01)
    assert (two["months_ahead"], two["count"], two["inside"], two["coverage"]) == (2, 1, 0, 0.0)
    assert repo.history(limit=1)[0]["task_id"] == "job-3"


def test_an_actual_of_zero_has_no_percentage_error(repo):
    repo.record(publication("a", "2025-01", [("2025-02", 10, 0, 20)], []))
    repo.record(publication("b", "2025-02", [("2025-03", 10, 0, 20)], [("2025-02", 0)]))
    row = next(r for r in repo.history() if r["task_id"] == "a")
    assert (row["actual"], row["error_pct"], row["inside"]) == (0, None, True)
    (horizon,) = repo.track_record()["horizons"]
    assert horizon["mape"] is None and horizon["wape"] is None and horizon["coverage"] == 100.0


def test_the_same_forecast_published_twice_counts_once_in_the_track_record(repo):
    for task_id in ("a", "a-again"):  # a cached result under another job id: same fingerprint
        repo.record(publication(task_id, "2025-01", [("2025-02", 100, 90, 110)], [], fingerprint="same"))
    repo.record(publication("b", "2025-02", [("2025-03", 100, 90, 110)], [("2025-02", 100)]))
    assert len([r for r in repo.history() if r["period"] == "2025-02"]) == 2
    assert repo.track_record()["horizons"][0]["count"] == 1


def test_series_of_a_grouped_job_are_kept_apart_and_in_bulk(repo):
    shoes = series_key({"category": "Shoes"})
    hats = series_key({"category": "Hats"})
    groups = tuple(
        SeriesForecast(key, "share", (HorizonMonth("2025-02", v, v - 5, v + 5),), ((("2025-01", v),)))
        for key, v in ((shoes, 40.0), (hats, 60.0))
    )
    assert repo.record(publication("g1", "2025-01", [("2025-02", 100, 90, 110)], [], extra=groups)).forecast_rows == 3
    groups2 = tuple(
        SeriesForecast(key, "share", (HorizonMonth("2025-03", v, v - 5, v + 5),), ((("2025-02", a),)))
        for key, v, a in ((shoes, 40.0, 44.0), (hats, 60.0, 61.0))
    )
    repo.record(publication("g2", "2025-02", [("2025-03", 100, 90, 110)], [("2025-02", 105)], extra=groups2))
    assert [r["actual"] for r in repo.history(shoes) if r["task_id"] == "g1"] == [44.0]
    assert [r["inside"] for r in repo.history(hats) if r["task_id"] == "g1"] == [True]
    assert repo.history(series_key({"category": "Socks"})) == []
    assert series_key({"b": 1, "a": None}) == '{"a":null,"b":1}'


def test_retention_deletes_what_is_older_than_it(repo):
    repo.record(publication("old", "2020-01", [("2020-02", 1, 0, 2)], [], created=NOW - timedelta(days=400)))
    repo.record(publication("new", "2025-01", [("2025-02", 1, 0, 2)], [], created=NOW))
    assert repo.prune(0, now=NOW) == 0
    assert repo.prune(365, now=NOW) == 1
    assert [r["task_id"] for r in repo.history()] == ["new"]


def test_an_unreachable_database_is_a_named_error_within_a_bound():
    url = f"postgresql://app@127.0.0.1:{free_port()}/history"
    repo = HistoryRepository.from_url(url, connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(HistoryUnavailable):
        repo.record(publication("x", "2025-01", [("2025-02", 1, 0, 2)], []))
    with pytest.raises(HistoryUnavailable):
        repo.track_record()
    assert time.monotonic() - started < 10
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


def test_monthly_weekly_and_daily_records_of_a_series_are_kept_apart(repo):
    """docs/api.md §10: the same shop's forecasts per frequency, each with its own labels and record."""
    def of(frequency, *args, **kwargs):
        return Publication(**{**publication(*args, **kwargs).__dict__, "frequency": frequency})

    repo.record(of("month", "m-1", "2025-01", [("2025-02", 400, 300, 500)], [("2025-01", 390)]))
    repo.record(of("week", "w-1", "2025-W05", [("2025-W06", 100, 80, 120), ("2025-W07", 100, 80, 120)], [("2025-W05", 90)]))
    repo.record(of("day", "d-1", "2025-02-02", [("2025-02-03", 15, 10, 20)], [("2025-02-02", 14)]))
    assert [r["task_id"] for r in repo.history()] == ["m-1"]
    assert [r["period"] for r in repo.history(frequency="week")] == ["2025-W06", "2025-W07"]
    assert [r["period"] for r in repo.history(frequency="day")] == ["2025-02-03"]  # a day's 10-character label
    # A week closes: its actual fills the weekly forecast, never a monthly one.
    later = of("week", "w-2", "2025-W06", [("2025-W07", 100, 80, 120)], [("2025-W05", 90), ("2025-W06", 130)],
               created=NOW + timedelta(days=7))
    assert repo.record(later).filled == 1
    weekly = repo.track_record(frequency="week")
    assert weekly["horizons"][0]["months_ahead"] == 1 and weekly["horizons"][0]["count"] == 1
    assert weekly["horizons"][0]["wape"] == 23.08  # |130 - 100| / 130
    assert repo.track_record()["horizons"] == [] and repo.track_record(frequency="day")["horizons"] == []


def test_rows_the_database_refuses_are_a_rejection_not_an_outage(repo):
    bad = publication("x", "2025-01", [("2025-02", 1, 0, 2)], [])
    bad = Publication(**{**bad.__dict__, "status": "s" * 200})  # longer than the column
    if repo.engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(HistoryRejected):
        repo.record(bad)


def _upgrade(url: str) -> str | None:
    return migrate.upgrade(url)


def test_migrations_run_from_two_processes_at_once_take_turns(database_url):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        assert pool.map(_upgrade, [database_url, database_url]) == [migrate.head()] * 2
    assert migrate.current(database_url) == migrate.head()


# ---- the outbox, on a real Redis --------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def outbox(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield HistoryOutbox(client)
    client.close()


def _document(task_id: str, origin: str, forecast: float) -> dict:
    return {
        "status": "success",
        "data": {
            "actual_sales": [{"month": "Jan", "period": origin, "total_sales": 90.0, "transaction_count": 3}],
            "forecast": {"confidence_level": 90.0, "model": "ets",
                         "horizon": [{"period": "2099-01", "forecast": forecast, "low": 1.0, "high": 2.0}]},
            "data_quality": {},
            "meta": {"task_id": task_id, "data_fingerprint": f"fp-{task_id}",
                     "generated_at": "2025-02-01T00:00:00+00:00", "source": "laravel:http://shop"},
        },
    }


class FlakyWriter:
    def __init__(self) -> None:
        self.down = False
        self.written: list[str] = []

    def __call__(self, pub: Publication) -> None:
        if self.down:
            raise HistoryUnavailable("down")
        if pub.task_id == "refused":
            raise HistoryRejected("no")
        self.written.append(pub.task_id)


def test_the_outbox_keeps_order_and_nothing_is_lost_while_the_database_is_down(outbox):
    writer = FlakyWriter()
    for n in range(3):
        outbox.push(outbox_item(f"job-{n}", _document(f"job-{n}", "2025-01", n), status="completed"))
    writer.down = True
    report = outbox.drain(writer)
    assert report.unavailable and report.remaining == 3 and writer.written == []
    assert int(outbox.redis.hget(STATS_KEY, "write_failures")) == 1
    writer.down = False
    report = outbox.drain(writer)
    assert (report.written, report.remaining, report.unavailable) == (3, 0, False)
    assert writer.written == ["job-0", "job-1", "job-2"]
    assert outbox.stats() == {"write_failures": 1, "written": 3, "pending": 0, "dead": 0}


def test_refused_and_malformed_items_are_kept_aside_and_counted(outbox):
    writer = FlakyWriter()
    outbox.push("not json")
    outbox.push(outbox_item("refused", _document("refused", "2025-01", 1), status="completed"))
    outbox.push(outbox_item("fine", _document("fine", "2025-01", 1), status="completed"))
    report = outbox.drain(writer)
    assert (report.written, report.rejected) == (1, 2)
    assert writer.written == ["fine"]
    assert outbox.redis.llen(DEAD_KEY) == 2 and outbox.stats()["rejected"] == 2


def test_an_item_that_fails_to_decode_in_any_way_does_not_stall_the_outbox(outbox):
    import json

    writer = FlakyWriter()
    odd = json.loads(outbox_item("odd", _document("odd", "2025-01", 1), status="completed"))
    odd["document"]["data"]["meta"] = ["not", "an", "object"]  # meta.get raises AttributeError
    outbox.push(json.dumps(odd))
    outbox.push(outbox_item("fine", _document("fine", "2025-01", 1), status="completed"))
    report = outbox.drain(writer)
    assert (report.written, report.rejected) == (1, 1)
    assert writer.written == ["fine"]
    assert outbox.redis.llen(DEAD_KEY) == 1


def test_an_item_a_dead_drainer_was_writing_goes_first_next_time(outbox):
    writer = FlakyWriter()
    outbox.push(outbox_item("second", _document("second", "2025-01", 1), status="completed"))
    outbox.redis.lpush(PROCESSING_KEY, outbox_item("first", _document("first", "2025-01", 1), status="completed"))
    outbox.drain(writer)
    assert writer.written == ["first", "second"]
    assert outbox.redis.llen(PROCESSING_KEY) == 0 and outbox.redis.llen(OUTBOX_KEY) == 0


def test_one_drainer_at_a_time(outbox):
    outbox.redis.set("sf:history:drain-lock", "someone-else", ex=30)
    outbox.push(outbox_item("a", _document("a", "2025-01", 1), status="completed"))
    report = outbox.drain(FlakyWriter())
    assert report.busy and report.remaining == 1


def test_an_outbox_item_round_trips_to_a_publication():
    pub = publication_from_item(outbox_item("t", _document("t", "2025-01", 12.5), status="pending", measure="units"))
    assert (pub.task_id, pub.status, pub.measure, pub.level, pub.origin) == ("t", "pending", "units", 90.0, "2025-01")
    assert pub.series[0].horizon[0].forecast == 12.5 and pub.series[0].actuals == (("2025-01", 90.0),)
    with pytest.raises(ValueError):
        publication_from_item('{"v": 99}')


def test_a_grouped_outbox_item_is_the_json_of_its_parts_encoded_series_by_series():
    import json

    series = [{"key": {}, "level": 0, "forecast": {"model": "ets", "horizon": []}}]
    series += [{"key": {"sku": f"S{i}", "note": "é"}, "level": 1,
                "forecast": {"model": "ets", "horizon": [{"period": "2099-01", "forecast": 1.5, "low": 0.5, "high": 2.25}]},
                "actual": [{"period": "2025-01", "value": float(i)}]} for i in range(3)]
    raw = outbox_item("g", _document("g", "2025-01", 1), status="completed", series=iter(series), callback_url="http://x/é")
    item = json.loads(raw)
    assert list(item) == ["v", "task_id", "status", "measure", "document", "series", "callback_url"]
    assert raw == json.dumps(item, separators=(",", ":"))  # the same text one dumps of the whole would give
    assert [s["actuals"] for s in item["series"]] == [[["2025-01", float(i)]] for i in range(3)]
    pub = publication_from_item(raw)
    assert len(pub.series) == 4 and pub.callback_url == "http://x/é"
    assert "series" not in json.loads(outbox_item("t", _document("t", "2025-01", 1), status="completed", series=series[:1]))


def _grouped(task_id: str, origin: str, next_period: str, n: int) -> tuple[dict, list[dict]]:
    """A grouped job's document (the total) and its ``n`` product series, actuals up to ``origin``."""
    document = _document(task_id, origin, 10.0 * n)
    document["data"]["actual_sales"][0]["total_sales"] = 9.0 * n
    document["data"]["forecast"]["horizon"][0]["period"] = next_period
    series = [{"key": {}, "level": 0}] + [
        {"key": {"sku": f"S{i}"}, "level": 1,
         "forecast": {"model": "ets", "horizon": [{"period": next_period, "forecast": 10.0, "low": 8.0, "high": 12.0}]},
         "actual": [{"period": origin, "value": 9.0}]}
        for i in range(n)
    ]
    return document, series


def test_a_large_grouped_job_is_written_in_parts_the_total_last_and_every_series_fills_in(outbox, repo):
    from sqlalchemy import func, select

    from shared.history.models import FORECASTS

    first_doc, first_series = _grouped("job-1", "2025-01", "2025-02", 5)
    parts = list(outbox_items("job-1", first_doc, status="completed", series=first_series, part_series=2))
    assert [json.loads(p).get("total", True) for p in parts] == [False, False, True]  # 2 + 2 + 1 and the total
    assert outbox.push_parts(iter(parts)) == 3
    second_doc, second_series = _grouped("job-2", "2025-02", "2025-03", 5)
    assert outbox.push_parts(outbox_items("job-2", second_doc, status="completed", series=second_series,
                                          part_series=2)) == 3
    outbox.push(outbox_item("job-3", _document("job-3", "2025-02", 1), status="completed"))
    written: list[str] = []

    def write(pub):
        written.append(f"{pub.task_id}:{len(pub.series)}")
        return repo.record(pub)

    report = outbox.drain(write)
    assert (report.written, report.rejected, report.remaining) == (7, 0, 0)
    # In order, each job's parts together, the total (the +1) with the last.
    assert written == ["job-1:2", "job-1:2", "job-1:2", "job-2:2", "job-2:2", "job-2:2", "job-3:1"]
    F = FORECASTS.c
    with repo.engine.connect() as conn:
        filled = conn.execute(select(func.count()).where(F.task_id == "job-1", F.actual.is_not(None))).scalar_one()
        rows = conn.execute(select(func.count()).where(F.task_id == "job-2")).scalar_one()
    assert filled == 6  # the total and all five products got February's actual, from three parts
    assert rows == 6
    assert not outbox.redis.keys("sf:history:staging:*")


def test_parts_staged_by_a_worker_that_died_are_never_queued(outbox):
    document, series = _grouped("job-1", "2025-01", "2025-02", 5)

    def dies_after_two():
        items = outbox_items("job-1", document, status="completed", series=series, part_series=2)
        yield next(items)
        yield next(items)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        outbox.push_parts(dies_after_two())
    assert outbox.pending() == 0
    (staged,) = outbox.redis.keys("sf:history:staging:*")
    assert 0 < outbox.redis.ttl(staged) <= 3600  # and it expires


def test_a_job_within_one_part_is_one_item_as_before():
    document, series = _grouped("g", "2025-01", "2025-02", 3)
    (item,) = outbox_items("g", document, status="completed", series=series, part_series=3)
    assert item == outbox_item("g", document, status="completed", series=series)
    assert json.loads(item)["v"] == 1 and len(publication_from_item(item).series) == 4
