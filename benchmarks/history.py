"""The forecast history's two costs (issue 15), on a real PostgreSQL that this script starts.

1. Writing a 10,000-series grouped job's history: 10,000 x 3 horizon rows in one bulk INSERT,
   plus, a month later, the next job's write, which also records the month that closed for every
   series and fills in the previous job's 10,000 one-month-ahead forecasts. Target: <= 5 s.
   Baseline in the same run: the same rows written one INSERT per series (1,000 series, scaled).
2. The track-record query over a year of monthly jobs (12 grouped jobs of 10,000 series: 360,000
   rows), for the total and for one group. Target: < 100 ms.

    .venv/bin/python benchmarks/history.py [--series 10000] [--sqlite]

PostgreSQL runs with its durable defaults here (fsync on), unlike in the tests.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from shared.history import migrate
from shared.history.models import TOTAL_KEY, ForecastRow
from shared.history.records import HorizonMonth, Publication, SeriesForecast, series_key
from shared.history.repository import HistoryRepository

print = functools.partial(print, flush=True)
HORIZON = 3
HISTORY_MONTHS = 36
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def period(index: int) -> str:
    return f"{2021 + index // 12:04d}-{index % 12 + 1:02d}"


def grouped_job(job: int, n_series: int) -> Publication:
    """The job of month ``job`` (origin = month 35 + job): the total and ``n_series`` groups."""
    origin = HISTORY_MONTHS - 1 + job
    series = []
    for s in range(n_series):
        base = 100.0 + s % 97
        horizon = tuple(
            HorizonMonth(period(origin + k), base + k, base + k - 20, base + k + 20) for k in range(1, HORIZON + 1)
        )
        actuals = tuple((period(m), base + (m * 7 + s) % 41 - 20) for m in range(origin - HISTORY_MONTHS + 1, origin + 1))
        series.append(SeriesForecast(series_key({"store_id": s // 100, "product_id": s}), "ets", horizon, actuals))
    # the total, as a grouped job publishes it beside its series
    total = 100.0 * n_series
    series.insert(0, SeriesForecast(
        TOTAL_KEY, "ets",
        tuple(HorizonMonth(period(origin + k), total, total * 0.97, total * 1.03) for k in range(1, HORIZON + 1)),
        tuple((period(m), total * (1 + ((m * 13) % 7 - 3) / 100)) for m in range(origin - HISTORY_MONTHS + 1, origin + 1)),
    ))
    return Publication(
        task_id=f"job-{job}", created_at=START + timedelta(days=30 * job), source="laravel:http://shop",
        status="completed", measure="revenue", level=90.0, fingerprint=f"fp-{job}", origin=period(origin),
        series=tuple(series),
    )


def per_series_baseline(repo: HistoryRepository, pub: Publication, n: int) -> float:
    """The naive way: one INSERT statement per series, one transaction."""
    table = ForecastRow.__table__
    started = time.perf_counter()
    with repo.engine.begin() as conn:
        for series in pub.series[:n]:
            conn.execute(
                insert(table).values([
                    {"task_id": "baseline", "created_at": pub.created_at, "source": pub.source, "status": pub.status,
                     "measure": pub.measure, "series_key": series.key, "model": series.model, "level": pub.level,
                     "fingerprint": "baseline", "origin": pub.origin, "period": m.period, "months_ahead": k,
                     "forecast": m.forecast, "low": m.low, "high": m.high}
                    for k, m in enumerate(series.horizon, start=1)
                ])
            )
    return time.perf_counter() - started


def timed_queries(fn, repeat: int = 30) -> tuple[float, float]:
    fn()  # warm the pool and the caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, max(samples) * 1000


def run(url: str, label: str, n_series: int) -> None:
    migrate.upgrade(url)
    repo = HistoryRepository.from_url(url)
    print(f"\n== {label}: {n_series:,} series x {HORIZON} months, {HISTORY_MONTHS} months of actuals each")
    jobs = [grouped_job(0, n_series), grouped_job(1, n_series)]  # built before the clock starts

    started = time.perf_counter()
    first = repo.record(jobs[0])
    write_first = time.perf_counter() - started
    started = time.perf_counter()
    second = repo.record(jobs[1])
    write_second = time.perf_counter() - started
    print(f"  write, first job        {write_first:7.2f} s   ({first.forecast_rows:,} rows)        target <= 5 s")
    print(f"  write, next month's job {write_second:7.2f} s   ({second.forecast_rows:,} rows, {second.actuals:,} actuals,"
          f" {second.filled:,} forecasts filled)")
    sample = min(1000, n_series)
    baseline = per_series_baseline(repo, jobs[0], sample) * n_series / sample
    print(f"  baseline, one INSERT per series (from {sample:,}, scaled): {baseline:7.2f} s"
          f"  -> bulk is {baseline / write_first:.1f}x faster")

    for month in range(2, 12):
        repo.record(grouped_job(month, n_series))
    total = timed_queries(lambda: repo.track_record())
    one = timed_queries(lambda: repo.track_record(series_key({"store_id": 3, "product_id": 345})))
    history = timed_queries(lambda: repo.history(limit=100))
    record = repo.track_record()
    closed = sum(h["count"] for h in record["horizons"])
    print(f"  a year of monthly jobs: 12 x {n_series * HORIZON:,} = {12 * n_series * HORIZON:,} rows")
    print(f"  track record, total series  median {total[0]:6.1f} ms  max {total[1]:6.1f} ms   target < 100 ms"
          f"   ({closed} closed forecasts)")
    print(f"  track record, one group     median {one[0]:6.1f} ms  max {one[1]:6.1f} ms")
    print(f"  history (100 rows), total   median {history[0]:6.1f} ms  max {history[1]:6.1f} ms")
    repo.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--sqlite", action="store_true", help="also run on a SQLite file")
    args = parser.parse_args()
    from local.postgres_server import PostgresServer

    with PostgresServer(fsync=True) as server:
        run(server.url, "PostgreSQL 15 (fsync on)", args.series)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/history.sqlite3", "SQLite (WAL)", args.series)
    return 0


if __name__ == "__main__":
    sys.exit(main())
