"""A slow or absent Laravel holds a job no longer than LARAVEL_DEADLINE_SECONDS (docs/api.md §2).

The stack runs with short settings (a 1 s request timeout, a 8 s deadline, 3 re-runs 1 s apart)
against the Laravel-like server; each job must end FAILURE upstream_unavailable, saying the
deadline passed (or would before the next attempt), within the deadline plus one request timeout (plus the queue's own overhead).
Before LARAVEL_DEADLINE_SECONDS the client's retries and the task's re-runs multiplied: with these
settings the slow case took about 40 s (with the production defaults, minutes).
"""
from __future__ import annotations

import itertools
import re
import time

import pytest

from local.fake_laravel import Faults
from tests.reliability.conftest import Client, slow_laravel_client

pytestmark = pytest.mark.slow

TIMEOUT_SECONDS = 1
DEADLINE_SECONDS = 8
# Submitting, picking the job up, storing its end and our 0.1 s polling: not Laravel's time.
OVERHEAD_SECONDS = 5
BOUND_SECONDS = DEADLINE_SECONDS + TIMEOUT_SECONDS + OVERHEAD_SECONDS
_horizons = itertools.cycle(range(1, 25))


@pytest.fixture(scope="module")
def client(tmp_path_factory, laravel):
    """One stack for the module, with a 1 s Laravel timeout, an 8 s deadline and three re-runs."""
    with slow_laravel_client(
        tmp_path_factory.mktemp("deadline"), laravel,
        timeout_seconds=TIMEOUT_SECONDS, deadline_seconds=DEADLINE_SECONDS,
        # re-runs that fit in the deadline: only the carried first start keeps them inside it
        retries=3, worker_concurrency=2,
    ) as client:
        yield client


def run_job(client: Client) -> tuple[dict, float]:
    """Submit a cheap job and wait for its end: (its final status, how long it took)."""
    began = time.monotonic()
    task_id = client.submit_id({"model": "linear", "horizon": next(_horizons), "refresh": True})
    final = client.wait(task_id, timeout=120)
    return final, time.monotonic() - began


def assert_ended_at_the_deadline(client: Client, final: dict, took: float, what: str) -> None:
    """The job failed upstream_unavailable, naming the deadline, within the bound."""
    print(f"\n{what}: {final['status']} {(final['error'] or {}).get('code')} in {took:.1f}s "
          f"(deadline {DEADLINE_SECONDS}s, timeout {TIMEOUT_SECONDS}s): {(final['error'] or {}).get('message')}")
    assert final["status"] == "FAILURE", final
    assert final["error"]["code"] == "upstream_unavailable"
    assert re.search(r"the deadline (passed|would pass before the next attempt)", final["error"]["message"]), final
    assert "LARAVEL_DEADLINE_SECONDS=8" in final["error"]["message"]
    assert took < BOUND_SECONDS, f"{what} took {took:.1f}s\n{client.log_tail('worker')}"


def test_every_response_slower_than_the_timeout(client, laravel):
    """A Laravel that answers every request too late holds a job no longer than the deadline."""
    laravel.server.faults = Faults(delay_seconds=TIMEOUT_SECONDS * 2)
    try:
        final, took = run_job(client)
    finally:
        laravel.server.faults = Faults()
    assert_ended_at_the_deadline(client, final, took, "every response 2 s, timeout 1 s")


def test_laravel_down(client, laravel):
    """A Laravel that refuses connections holds a job no longer than the deadline, re-runs included."""
    laravel.stop()
    try:
        final, took = run_job(client)
    finally:
        laravel.start()
    assert_ended_at_the_deadline(client, final, took, "Laravel down (connection refused)")
    # it was run again within the deadline, and the re-runs kept the first run's start
    assert "retry 1 in" in client.log_tail("worker", 200)


def test_a_healthy_laravel_is_not_affected(client):
    """With Laravel answering in time, a job succeeds as usual."""
    final, took = run_job(client)
    assert final["status"] == "SUCCESS", final
