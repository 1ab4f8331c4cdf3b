"""Cancelling a job that waits on Laravel (DELETE /api/v1/forecasts/{id}), on a real stack.

A cancel that is accepted (202) is final at once: the DELETE's answer and every later read say
REVOKED (error `cancelled`), and so does the result key Laravel reads. The job's fetch stops
at its next page, retry or back-off; nothing it computes afterwards is stored: no SUCCESS or
FAILURE over the REVOKED, no cached forecast, no history row.

Before this, the cancel flag was read only between pipeline stages: a job waiting on a slow
Laravel kept reading PROGRESS / fetching, and ended FAILURE upstream_unavailable at the deadline.
"""
from __future__ import annotations

import json
import time
from datetime import date
from types import SimpleNamespace

import pytest
import requests

from local.demo import demo_lines, demo_rows
from local.fake_laravel import FakeLaravel, Faults
from tests.reliability.conftest import Client, redis_client, slow_laravel_client
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

TIMEOUT_SECONDS = 1
DEADLINE_SECONDS = 12


@pytest.fixture(scope="module")
def laravel():
    """The demo shop, sales and sale lines (grouped jobs read those), 200 a page."""
    today = date.today()
    rows = demo_rows(today)
    fake = FakeLaravel(rows, items=demo_lines(today, rows=rows), paginator="length_aware", per_page=200)
    try:
        yield SimpleNamespace(url=fake.start(), server=fake)
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def client(tmp_path_factory, laravel):
    """One stack for the module, with a short Laravel timeout and deadline and two re-runs."""
    with slow_laravel_client(
        tmp_path_factory.mktemp("cancel"), laravel,
        timeout_seconds=TIMEOUT_SECONDS, deadline_seconds=DEADLINE_SECONDS, retries=2, worker_concurrency=1,
    ) as client:
        yield client


def cancel(client: Client, task_id: str) -> requests.Response:
    """DELETE the job, as a frontend cancels it."""
    return requests.delete(f"{client.url}/api/v1/forecasts/{task_id}", headers=client.headers, timeout=10)


def stored_state(client: Client, task_id: str) -> str:
    """The state under celery-task-meta-<id>, as a Laravel app reads it."""
    raw = redis_client(client.stack.env["REDIS_URL"]).get(f"celery-task-meta-{task_id}")
    return json.loads(raw)["status"] if raw else "PENDING"


def assert_revoked(client: Client, task_id: str) -> None:
    """The status document and the stored result both say REVOKED (cancelled)."""
    document = client.status(task_id)
    assert document["status"] == "REVOKED", document
    assert document["error"]["code"] == "cancelled", document
    assert stored_state(client, task_id) == "REVOKED"


def requests_made(laravel) -> int:
    """How many requests the Laravel-like server has answered so far."""
    return len(laravel.server.requests)


def test_a_job_waiting_on_a_slow_laravel_is_revoked_at_once_and_stops(client, laravel):
    """A job in the client's retries is REVOKED in the DELETE's answer and stops asking Laravel."""
    # Every answer comes after the timeout: the job retries and backs off until the deadline.
    laravel.server.faults = Faults(delay_seconds=TIMEOUT_SECONDS * 2)
    try:
        task_id = client.submit_id({"model": "linear", "horizon": 4, "refresh": True})
        client.wait_stage(task_id, ("PROGRESS",))
        time.sleep(1.5)  # in the client's retries now
        response = cancel(client, task_id)
        cancelled_at = time.monotonic()
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "REVOKED", response.text
        assert response.json()["error"]["code"] == "cancelled"
        assert_revoked(client, task_id)
        # The fetch stops at its next attempt: the worker says so well before the deadline.
        wait_for("the worker stops the cancelled job",
                 lambda: f"forecast {task_id}: cancelled" in client.log_tail("worker", 400), timeout=TIMEOUT_SECONDS * 3 + 2)
        took = time.monotonic() - cancelled_at
        # The server records a request when it answers: let the one in flight end first.
        time.sleep(TIMEOUT_SECONDS * 2 + 0.5)
        stopped = requests_made(laravel)
        time.sleep(4)  # a retry or re-run would have asked again by now
        assert requests_made(laravel) == stopped, "the cancelled job went on asking Laravel"
        assert_revoked(client, task_id)
    finally:
        laravel.server.faults = Faults()
    print(f"\ncancel during retries: REVOKED in the DELETE's answer; the job stopped {took:.1f}s later")


def test_a_job_cancelled_while_fetching_publishes_nothing(client, laravel):
    """A job cancelled between pages stops fetching, caches nothing and writes no history."""
    # 5 pages, each within the timeout but slow: the cancel lands between pages.
    body = {"model": "linear", "horizon": 5, "level": 81}
    laravel.server.faults = Faults(delay_seconds=0.7)
    try:
        task_id = client.submit_id(body)
        wait_for("the first page fetched",
                 lambda: any(r.query.get("page") == "2" for r in laravel.server.requests), timeout=30)
        response = cancel(client, task_id)
        assert response.status_code == 202 and response.json()["status"] == "REVOKED", response.text
        at_cancel = requests_made(laravel)
        wait_for("the worker stops the cancelled job",
                 lambda: f"forecast {task_id}: cancelled" in client.log_tail("worker", 400), timeout=10)
        assert requests_made(laravel) <= at_cancel + 1, "more than the page in flight was fetched"
    finally:
        laravel.server.faults = Faults()
    assert_revoked(client, task_id)
    # Nothing was cached: the same request afterwards computes its forecast anew.
    again = client.submit_id(body)
    assert again != task_id  # a cancelled job is never joined
    final = client.wait(again, timeout=60)
    assert final["status"] == "SUCCESS", final
    assert final["result"]["data"]["meta"]["cached"] is False
    # ... and only that one reaches the history.
    def history_ids() -> set[str]:
        rows = requests.get(f"{client.url}/api/v1/history", params={"limit": 1000},
                            headers=client.headers, timeout=10).json()["forecasts"]
        return {row["task_id"] for row in rows}
    wait_for("the second job in the history", lambda: again in history_ids(), timeout=30)
    assert task_id not in history_ids()
    assert_revoked(client, task_id)


def test_a_grouped_job_cancelled_while_fetching_its_lines_stops_there(client, laravel):
    """A grouped job cancelled while fetching its sale lines stops fetching them."""
    body = {"group_by": ["category"], "model": "linear", "horizon": 2, "refresh": True}
    laravel.server.faults = Faults(delay_seconds=0.7)
    try:
        task_id = client.submit_id(body)
        wait_for("a second page of lines fetched", lambda: any(
            r.path.rstrip("/").endswith("/sales/items") and r.query.get("page") == "2" for r in laravel.server.requests
        ), timeout=30)
        response = cancel(client, task_id)
        assert response.status_code == 202 and response.json()["status"] == "REVOKED", response.text
        at_cancel = requests_made(laravel)
        wait_for("the worker stops the cancelled job",
                 lambda: f"forecast {task_id}: cancelled" in client.log_tail("worker", 400), timeout=10)
        time.sleep(1.5)  # the page in flight, if any, is answered and recorded
        assert requests_made(laravel) <= at_cancel + 1, "more than the page in flight was fetched"
    finally:
        laravel.server.faults = Faults()
    assert_revoked(client, task_id)
    # no chunk was sent, no series published
    assert f"{task_id}-chunk-" not in client.log_tail("worker", 1000)
    series = requests.get(f"{client.url}/api/v1/forecasts/{task_id}/series", headers=client.headers, timeout=10)
    assert series.status_code == 404 and "REVOKED" in series.json()["error"]["message"]
