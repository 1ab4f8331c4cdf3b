"""The forecast history end to end (docs/api.md §9): real Redis, worker, web and a Laravel-like server.

"Today" moves forward month by month: the worker and web run from the test entry points in
tests/harness (they read the date from a file this test writes), and the Laravel-like server
serves only the sales made before that date. Each month one forecast is published; the test
checks that it is recorded, that the actuals fill in as months close, and that the track record
matches a computation from the raw sales rows. Then the database is stopped during jobs.
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import redis
import requests

from shared.contract.schema import months_before
from shared.history.outbox import STATS_KEY, HistoryOutbox
from stack.local import LocalStack
from tests.harness import CLOCK_FILE_ENV
from tests.service.conftest import API_KEY, Laravel, Service, base_env, sales_rows
from tests.stacks import start_stack

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRST_TODAY = date(2024, 3, 15)
MONTHS = 12
REQUEST = {"horizon": 3, "level": 80, "model": "seasonal_naive"}  # quick to fit: this is about the history


def _month_add(day: date, months: int) -> date:
    first = months_before(day, -months)
    return first.replace(day=day.day)


class ClockedService(Service):
    """The service, with a date this test moves, over a source that sells up to that date."""

    def __init__(self, stack: LocalStack, laravel: Laravel, all_rows: list[dict], clock_file: Path) -> None:
        super().__init__(stack, {"Authorization": f"Bearer {API_KEY}"}, laravel)
        self.all_rows = all_rows
        self.clock_file = clock_file

    def set_today(self, today: date) -> None:
        self.clock_file.write_text(today.isoformat())
        self.laravel.stop()
        self.laravel.rows = [r for r in self.all_rows if r["created_at"][:10] < today.isoformat()]
        self.laravel.start()

    def api_get(self, path: str, **params) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, headers=self.headers, timeout=10)

    def history(self, **params) -> list[dict]:
        response = self.api_get("/api/v1/history", limit=1000, **params)
        assert response.status_code == 200, response.text
        return response.json()["forecasts"]

    def wait_recorded(self, task_id: str, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [r for r in self.history() if r["task_id"] == task_id]
            if rows:
                return rows
            time.sleep(0.2)
        raise AssertionError(f"job {task_id} not in the history after {timeout}s")

    def forecast(self, body: dict) -> dict:
        response = self.submit(body)
        assert response.status_code == 202, response.text
        document = self.wait(response.json()["task_id"])
        assert document["status"] == "SUCCESS", document
        return document


def _start_clocked(tmp_path: Path, **env_extra: str) -> ClockedService:
    all_rows = sales_rows(_month_add(FIRST_TODAY, MONTHS + 1), months=60)
    laravel = Laravel([r for r in all_rows if r["created_at"][:10] < FIRST_TODAY.isoformat()])
    laravel.start()
    clock_file = tmp_path / "today"
    clock_file.write_text(FIRST_TODAY.isoformat())
    env = base_env(
        tmp_path,
        LARAVEL_API_URL=laravel.url,
        API_KEYS=API_KEY,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **{CLOCK_FILE_ENV: str(clock_file)},
        **env_extra,
    )
    try:
        # The service's processes, from the entry points that read the test's date.
        stack = start_stack(tmp_path, env, root=tmp_path, worker_app="tests.harness.clocked_worker",
                            web_app="tests.harness.clocked_web:create_app()")
    except BaseException:
        laravel.stop()
        raise
    return ClockedService(stack, laravel, all_rows, clock_file)


def _raw_monthly(rows: list[dict]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        totals[row["created_at"][:7]] += float(row["grand_total"])
    return dict(totals)


@pytest.fixture
def clocked(tmp_path):
    service = _start_clocked(tmp_path)
    yield service
    service.stack.stop()
    service.laravel.stop()


def test_forecasts_recorded_actuals_fill_in_and_the_track_record_matches_the_raw_rows(clocked):
    published: list[tuple[str, date, list[dict]]] = []
    for month in range(MONTHS):
        today = _month_add(FIRST_TODAY, month)
        clocked.set_today(today)
        document = clocked.forecast(REQUEST)
        task_id = document["task_id"]
        result = document["result"]["data"]
        # the service lives on the test's date: its last complete month is the one before today's
        assert result["actual_sales"][-1]["period"] == months_before(today, 1).isoformat()[:7]
        rows = clocked.wait_recorded(task_id)
        assert [(r["period"], r["forecast"], r["low"], r["high"]) for r in rows] == [
            (p["period"], p["forecast"], p["low"], p["high"]) for p in result["forecast"]["horizon"]
        ]
        assert all(r["level"] == 80.0 and r["actual"] is None for r in rows)
        published.append((task_id, today, result["forecast"]["horizon"]))

        # every earlier forecast of a month that has now closed has its actual, from the raw rows
        closed_before = today.isoformat()[:7]
        raw = _raw_monthly(clocked.laravel.rows)
        history = {(r["task_id"], r["period"]): r for r in clocked.history()}
        for earlier_id, _, horizon in published[:-1]:
            for point in horizon:
                row = history[(earlier_id, point["period"])]
                if point["period"] < closed_before:
                    actual = raw[point["period"]]
                    assert row["actual"] == pytest.approx(actual, abs=0.01)
                    assert row["inside"] == (point["low"] <= actual <= point["high"])
                    expected_error = (actual - point["forecast"]) * 100 / abs(actual)
                    assert row["error_pct"] == pytest.approx(expected_error, abs=0.01)
                else:
                    assert row["actual"] is None and row["inside"] is None

    # the track record, against a computation from the raw rows and the published documents
    last_closed = _month_add(FIRST_TODAY, MONTHS - 1).isoformat()[:7]
    raw = _raw_monthly(clocked.laravel.rows)
    per_step: dict[int, list[tuple[float, float, bool]]] = defaultdict(list)
    for _, _, horizon in published:
        for step, point in enumerate(horizon, start=1):
            if point["period"] < last_closed:
                actual = raw[point["period"]]
                per_step[step].append((point["forecast"], actual, point["low"] <= actual <= point["high"]))
    response = clocked.api_get("/api/v1/track-record")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["series"] == {"group": {}, "measure": "revenue", "frequency": "month"}
    got = {h["months_ahead"]: h for h in record["horizons"]}
    assert sorted(got) == [1, 2, 3]
    for step, items in per_step.items():
        horizon = got[step]
        inside = sum(1 for _, _, ok in items if ok)
        assert horizon["level"] == 80.0
        assert horizon["count"] == len(items) == MONTHS - step
        assert horizon["inside"] == inside
        assert horizon["coverage"] == pytest.approx(inside * 100 / len(items), abs=0.01)
        mape = sum(abs(a - f) / abs(a) for f, a, _ in items) * 100 / len(items)
        wape = sum(abs(a - f) for f, a, _ in items) * 100 / sum(abs(a) for _, a, _ in items)
        assert horizon["mape"] == pytest.approx(mape, abs=0.02)
        assert horizon["wape"] == pytest.approx(wape, abs=0.02)
    # what has not closed yet: the last job's three months, the one before's last two, ...
    assert record["pending"] == 3 + 2 + 1


def test_jobs_succeed_while_the_database_is_down_and_the_history_catches_up(tmp_path, postgres_server):
    service = _start_clocked(tmp_path, DATABASE_URL=postgres_server.url)
    client = redis.Redis.from_url(service.stack.env["REDIS_URL"])
    try:
        first = service.forecast(REQUEST)
        service.wait_recorded(first["task_id"])

        postgres_server.stop()
        try:
            started = time.monotonic()
            down = [service.forecast({**REQUEST, "horizon": h}) for h in (2, 4)]
            assert all(d["status"] == "SUCCESS" for d in down)
            assert time.monotonic() - started < 60  # bounded: the jobs did not wait on the database
            # the history is unreachable, and says so; the jobs wait in the outbox, counted
            assert service.api_get("/api/v1/history").json()["error"]["code"] == "history_unavailable"
            deadline = time.monotonic() + 30
            while int(client.hget(STATS_KEY, "write_failures") or 0) < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert int(client.hget(STATS_KEY, "write_failures") or 0) >= 1
            assert HistoryOutbox(client).pending() >= 1
        finally:
            postgres_server.start()

        for document in down:  # the drain's retries write them once the database is back
            service.wait_recorded(document["task_id"], timeout=120)
        assert HistoryOutbox(client).pending() == 0
        assert int(client.hget(STATS_KEY, "written") or 0) == 3
        assert client.llen("sf:history:dead") == 0
    finally:
        client.close()
        service.stack.stop()
        service.laravel.stop()
