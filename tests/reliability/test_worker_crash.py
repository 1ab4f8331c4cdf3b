"""A worker dies mid-job: the job still completes, on another worker process (docs/api.md §6, acks_late).

Two ways to die, both with ``kill -9``:

- the pool process running the job (the OOM killer's favourite): Celery's main process sees it
  go (WorkerLostError) and, with ``task_reject_on_worker_lost``, puts the message back on the
  queue at once; a fresh pool process runs it;
- the whole worker, main process and pool: nobody is left to put the message back. It stays in
  kombu's ``unacked`` hash and the surviving worker restores it once it is older than
  ``VISIBILITY_TIMEOUT_SECONDS`` (5 s here), on its next restore sweep.

A duplicate run (the same message delivered twice) is harmless: it writes the same result under
the same task id, and the forecast is cached under the data's fingerprint.
"""
from __future__ import annotations

import os
import signal
import time
from datetime import date

import psutil
import pytest

from shared.contract.schema import months_before
from tests.reliability.conftest import (
    API_KEY,
    Client,
    Laravel,
    control_app,
    kill_group,
    running_on,
    spawn_worker,
    stack_env,
    start_stack,
    wait_for,
    worker_log_ready,
)

pytestmark = pytest.mark.slow

VISIBILITY_TIMEOUT = 5
# Six pages of 200 rows; at this delay a fetch lasts ~3 s, long enough to aim a kill at it.
SLOW_PAGE_SECONDS = 0.5



@pytest.fixture(scope="module")
def crash(tmp_path_factory, laravel):
    tmp = tmp_path_factory.mktemp("crash")
    env = stack_env(tmp, laravel, VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT))
    stack = start_stack(tmp, env, worker_concurrency=2)
    try:
        spawn_worker(stack, "worker2", concurrency=1)
        worker_log_ready(stack, "worker2")
        app = control_app(stack.env["REDIS_URL"])
        yield Client(stack, {"Authorization": f"Bearer {API_KEY}"}), app
    finally:
        stack.stop()


def _node_process(node: str) -> str:
    return "worker2" if node.startswith("worker2@") else "worker"


def _start_slow_job(client: Client, laravel: Laravel, app, body: dict) -> tuple[str, str, int]:
    laravel.faults.delay_seconds = SLOW_PAGE_SECONDS
    task_id = client.submit_id(body)
    client.wait_stage(task_id, ("PROGRESS",), timeout=30)
    node, pid = wait_for(f"{task_id} active on a worker", lambda: running_on(app, task_id), timeout=10)
    return task_id, node, pid


def test_pool_process_killed_mid_job_is_rerun_by_another_process(crash, laravel):
    client, app = crash
    start = months_before(date.today(), 33).isoformat()  # a range of its own: its fetches can be counted
    body = {**{"model": "linear", "horizon": 2}, "start_date": start, "refresh": True}
    try:
        task_id, node, pid = _start_slow_job(client, laravel, app, body)
        began = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for(f"pool process {pid} gone", lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        laravel.faults.delay_seconds = 0.0
        final = client.wait(task_id, timeout=60)
        took = time.monotonic() - began
    finally:
        laravel.faults.delay_seconds = 0.0
    assert final["status"] == "SUCCESS", final
    assert final["result"]["data"]["meta"]["task_id"] == task_id
    # fetched from the start again, by a process other than the one that was killed
    assert laravel.page_one_requests(start) >= 2
    log = client.log_tail(_node_process(node), lines=400)
    assert "SIGKILL" in log or "WorkerLostError" in log, log
    print(f"\npool process killed mid-fetch: SUCCESS {took:.1f}s after the kill")


def test_whole_worker_killed_mid_job_is_redelivered_to_the_other_worker(crash, laravel):
    client, app = crash
    start = months_before(date.today(), 32).isoformat()
    body = {"model": "linear", "horizon": 2, "start_date": start, "refresh": True}
    try:
        task_id, node, _ = _start_slow_job(client, laravel, app, body)
        victim = _node_process(node)
        began = time.monotonic()
        kill_group(client.stack, victim)  # main process and pool: nobody left to requeue it
        laravel.faults.delay_seconds = 0.0
        final = client.wait(task_id, timeout=VISIBILITY_TIMEOUT + 60)
        took = time.monotonic() - began
    finally:
        laravel.faults.delay_seconds = 0.0
    assert final["status"] == "SUCCESS", final
    assert laravel.page_one_requests(start) >= 2
    # redelivered once older than the visibility timeout, on the survivor's next restore sweep
    assert took < VISIBILITY_TIMEOUT + 15, took
    print(f"\nwhole worker ({victim}) killed mid-fetch: SUCCESS {took:.1f}s after the kill "
          f"(visibility timeout {VISIBILITY_TIMEOUT}s)")
    # bring it back, as a supervisor would, for the tests after this one
    client.stack.restart(victim)
    worker_log_ready(client.stack, victim)


def test_a_duplicate_delivery_is_harmless(crash, laravel):
    """The same message twice (what a redelivery after a too-short visibility timeout gives):
    two runs, one task id, one SUCCESS document, the same data fingerprint."""
    client, app = crash
    from shared.contract.protocol import FORECAST_TASK

    first = client.wait(client.submit_id({"model": "linear", "horizon": 3, "refresh": True}))
    assert first["status"] == "SUCCESS"
    task_id = "dup-" + first["task_id"]
    kwargs = {"model": "linear", "horizon": 3, "refresh": True}
    for _ in range(2):
        app.send_task(FORECAST_TASK, kwargs=kwargs, task_id=task_id, queue="forecasts")

    def succeeded_twice() -> bool:
        logs = client.log_tail("worker", 2000) + client.log_tail("worker2", 2000)
        return logs.count(f"forecast.sales[{task_id}] succeeded") == 2

    wait_for("both runs of the duplicate to finish", succeeded_twice, timeout=60)
    final = client.wait(task_id)
    assert final["status"] == "SUCCESS"
    meta = final["result"]["data"]["meta"]
    assert meta["task_id"] == task_id
    assert meta["data_fingerprint"] == first["result"]["data"]["meta"]["data_fingerprint"]
    assert final["result"]["data"]["forecast"] == first["result"]["data"]["forecast"]


@pytest.mark.soak
def test_chaos_run_loses_nothing():
    """benchmarks/chaos.py: 200 jobs, a worker killed (pool or whole) every 4 s and restarted."""
    import subprocess
    import sys

    from tests.reliability.conftest import ROOT

    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chaos.py")], cwd=ROOT, timeout=1500)
    assert result.returncode == 0
