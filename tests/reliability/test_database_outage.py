"""The history's PostgreSQL stops during a grouped job, and comes back (CONTRACT §8, §9).

Real processes: the tests' own PostgreSQL (local/postgres_server.py), Redis, a Celery worker,
gunicorn, and a Laravel-like server with sale lines. PostgreSQL is stopped (``pg_ctl stop -m
fast``, as a restart or a crash of the database would) once the grouped job runs, and started
again once the job has finished. The test shows:

- the job succeeds while the database is down: forecasting never waits on the history;
- /readyz answers 200 ``degraded`` naming ``database`` meanwhile, never 503: the service is up;
- the finished job waits in the outbox (counted), and once the database is back the history
  catches up by itself, every series of the job written exactly once.
"""
from __future__ import annotations

import time
from datetime import date

import psycopg
import pytest
import redis
import requests

from local.demo import demo_lines, demo_rows
from local.fake_laravel import FakeLaravel
from shared.history.outbox import STATS_KEY, HistoryOutbox
from tests.reliability.conftest import API_KEY, Client, stack_env, start_stack, wait_for

pytestmark = pytest.mark.slow

GROUP_BY = ["category"]
HORIZON = 3


@pytest.fixture
def shop():
    today = date.today()
    rows = demo_rows(today)
    server = FakeLaravel(rows, items=demo_lines(today, rows=rows), per_page=500)
    with server:
        yield server


def _rows(database_url: str, task_id: str) -> tuple[int, int]:
    """(rows, distinct (series, month ahead)) the history holds for one job."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (series_key, months_ahead)) FROM forecast_history WHERE task_id = %s",
            (task_id,),
        ).fetchone()
    return int(total), int(distinct)


def test_the_database_stops_during_a_grouped_job_and_the_history_catches_up(tmp_path, shop, postgres_server):
    server = shop
    env = stack_env(tmp_path, server, DATABASE_URL=postgres_server.url, CHUNK_SIZE="2", LARAVEL_API_URL=server.base_url)
    stack = start_stack(tmp_path, env, worker_concurrency=2)
    client = Client(stack, {"Authorization": f"Bearer {API_KEY}"})
    store = redis.Redis.from_url(env["REDIS_URL"])
    outbox = HistoryOutbox(store)
    try:
        assert requests.get(f"{client.url}/readyz", timeout=10).json() == {"status": "ready"}
        written_before = int(store.hget(STATS_KEY, "written") or 0)

        server.faults.delay_seconds = 0.3  # slow pages: the job is still running when the database stops
        task_id = client.submit_id({"group_by": GROUP_BY, "horizon": HORIZON, "refresh": True})
        client.wait_stage(task_id)
        postgres_server.stop()
        stopped_at = time.monotonic()
        try:
            server.faults.delay_seconds = 0.0
            document = client.wait(task_id, timeout=180)
            assert document["status"] == "SUCCESS", document
            # the service is up, the history is not: 200 degraded, and the history API says why
            readyz = wait_for(
                "/readyz degraded",
                lambda: (r := requests.get(f"{client.url}/readyz", timeout=10)).json().get("status") == "degraded" and r,
            )
            assert readyz.status_code == 200 and readyz.json() == {"status": "degraded", "degraded": ["database"]}
            history = requests.get(f"{client.url}/api/v1/history", headers=client.headers, timeout=30)
            assert history.status_code == 503 and history.json()["error"]["code"] == "history_unavailable"
            # the job waits in the outbox, its writes failing and counted
            wait_for("a failed write", lambda: int(store.hget(STATS_KEY, "write_failures") or 0) >= 1)
            assert outbox.pending() >= 1
            down_for = time.monotonic() - stopped_at
        finally:
            postgres_server.start()
        restarted_at = time.monotonic()

        series = document["result"]["data"]["hierarchy"]["series"]
        wait_for("the history caught up", lambda: outbox.pending() == 0 and _rows(postgres_server.url, task_id)[0] > 0,
                 timeout=120)
        caught_up_after = time.monotonic() - restarted_at
        total, distinct = _rows(postgres_server.url, task_id)
        assert total == distinct == series * HORIZON, (total, distinct, series)  # every series once, nothing twice
        assert int(store.hget(STATS_KEY, "written") or 0) == written_before + 1
        assert store.llen("sf:history:dead") == 0
        wait_for("/readyz ready", lambda: requests.get(f"{client.url}/readyz", timeout=10).json() == {"status": "ready"})
        rows = [r for r in requests.get(f"{client.url}/api/v1/history", params={"limit": 100}, headers=client.headers,
                                        timeout=30).json()["forecasts"] if r["task_id"] == task_id]
        assert len(rows) == HORIZON  # the total's three months, read back through the API
        print(
            f"\nDatabase down {down_for:.1f}s during a grouped job ({series} series): job SUCCESS, /readyz 200 degraded; "
            f"history caught up {caught_up_after:.1f}s after the restart, {total} rows, none twice; "
            f"outbox {outbox.stats()}"
        )
    finally:
        server.faults.delay_seconds = 0.0
        store.close()
        stack.stop()
