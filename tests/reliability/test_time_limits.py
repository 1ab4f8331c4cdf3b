"""A job that hangs ends at Celery's soft time limit, and its worker goes on (TASK_*_TIME_LIMIT_SECONDS).

The hang is set up in the test: the Laravel-like server answers each request only after far
longer than the soft limit, while the request timeout and LARAVEL_DEADLINE_SECONDS are longer
still, so nothing but the time limit can stop the job. It must end FAILURE with the stable code
``internal_error`` and a message naming the limit, and the same worker process must then serve
the next job. Before, nothing stopped such a job: it held its worker until Laravel answered.
"""
from __future__ import annotations

import time

import pytest

from local.fake_laravel import Faults
from tests.reliability.conftest import API_KEY, CHEAP, Client, pool_children, stack_env, start_stack

pytestmark = pytest.mark.slow

# Far above what the next (cheap) job needs even on a loaded machine: 3 s was too tight there.
SOFT_LIMIT_SECONDS = 10
HANG_SECONDS = 60  # what one Laravel answer takes; the job would take minutes for all its pages


@pytest.fixture(scope="module")
def client(tmp_path_factory, laravel):
    tmp = tmp_path_factory.mktemp("time-limits")
    env = stack_env(
        tmp,
        laravel,
        TASK_SOFT_TIME_LIMIT_SECONDS=str(SOFT_LIMIT_SECONDS),
        TASK_TIME_LIMIT_SECONDS="90",
        LARAVEL_TIMEOUT_SECONDS="300",
        LARAVEL_DEADLINE_SECONDS="600",
    )
    stack = start_stack(tmp, env, worker_concurrency=1)  # one process: the next job must reuse it
    yield Client(stack, {"Authorization": f"Bearer {API_KEY}"})
    stack.stop()


def test_a_hanging_job_ends_at_the_soft_limit_and_the_worker_serves_the_next(client, laravel):
    pool_before = [p.pid for p in pool_children(client.stack)]
    laravel.server.faults = Faults(delay_seconds=HANG_SECONDS)
    try:
        began = time.monotonic()
        final = client.wait(client.submit_id({**CHEAP, "refresh": True}), timeout=HANG_SECONDS * 2)
        took = time.monotonic() - began
    finally:
        laravel.server.faults = Faults()
    print(f"\nhanging job: {final['status']} {(final['error'] or {}).get('code')} in {took:.1f}s: "
          f"{(final['error'] or {}).get('message')}")
    assert final["status"] == "FAILURE", final
    assert final["error"]["code"] == "internal_error"
    assert "TASK_SOFT_TIME_LIMIT_SECONDS" in final["error"]["message"]

    following = client.wait(client.submit_id({**CHEAP, "horizon": 3, "refresh": True}), timeout=60)
    assert following["status"] == "SUCCESS", following
    assert [p.pid for p in pool_children(client.stack)] == pool_before  # the same process, unharmed


def test_a_laravel_message_cannot_raise_the_time_limits(client, laravel):
    """A producer writing the message itself (docs/laravel.md) sets `timelimit` [hard, soft];
    asking for more than the worker's limits gets the worker's limits (before: the hour it asked for)."""
    import json

    from tests.laravel.conftest import celery_message
    from tests.reliability.conftest import redis_client
    from tests.waiting import wait_for

    task_id, envelope = celery_message({**CHEAP, "horizon": 4, "refresh": True})
    envelope["headers"]["timelimit"] = [7200, 3600]  # [hard, soft], Celery's order
    laravel.server.faults = Faults(delay_seconds=HANG_SECONDS)
    try:
        began = time.monotonic()
        redis_client(client.stack.env["REDIS_URL"]).lpush("forecasts", json.dumps(envelope))
        # the web knows a job Laravel queued once the worker has started it
        wait_for("the worker starts the job", lambda: client.get(task_id).status_code == 200, timeout=20)
        final = client.wait(task_id, timeout=HANG_SECONDS - 5)
        took = time.monotonic() - began
    finally:
        laravel.server.faults = Faults()
    print(f"\nmessage asking for a 3600 s soft limit (header [7200, 3600]): {final['status']} {(final['error'] or {}).get('code')} in {took:.1f}s")
    assert final["status"] == "FAILURE", final
    assert final["error"]["code"] == "internal_error"
    assert "TASK_SOFT_TIME_LIMIT_SECONDS" in final["error"]["message"]
