"""A worker process killed in the middle of a grouped job's chunk (docs/api.md §8, docs/reliability.md).

Killed once, the chunk runs again (acks_late + reject on worker lost) and the job ends SUCCESS with
every series once; killed twice (out of memory, every time), the job ends FAILURE ``internal_error``
naming the chunk, and nothing is stored as its SUCCESS.

The same holds for the fan-in, which runs in the task of the chunk that completes the set (the
step that holds every series at once, so the likeliest to run out of memory): killed once, it is
redone; killed twice, the job ends FAILURE.

The worker is worker.main started through ``tests.harness.held_chunk_worker``, which holds chunk 0
(or the fan-in) while a test kills its process: a chunk of a few series finishes in about a second,
so a process found running it (Celery's ``inspect``) may have finished it before the kill lands.
Every kill here lands inside the held step, after the worker counted the chunk's start.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import psutil
import pytest
import requests

from local.demo import demo_lines, demo_rows
from local.fake_laravel import FakeLaravel
from stack.local import LocalStack
from tests.harness.held_chunk_worker import FAN_IN, HOLD_CHUNK_ENV, HOLD_FILE_ENV, HOLD_RUNS_ENV
from tests.reliability.conftest import control_app, redis_client
from tests.stacks import Client, running_stack, stack_env
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
API_KEY = "grouped-crash-key-41d7"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
BODY = {"group_by": ["category", "product_id"], "model": "arima", "horizon": 2, "refresh": True}
CHUNK = "0"  # the chunk held until killed (chunk 1 of n)
HELD = pytest.mark.parametrize("held", [CHUNK, FAN_IN])


def _env(tmp_path: Path, url: str, held: str, hold_file: Path, **extra: str) -> dict[str, str]:
    return stack_env(tmp_path, url, API_KEY, CHUNK_SIZE="3", **{HOLD_CHUNK_ENV: held, HOLD_FILE_ENV: str(hold_file)},
                     **extra)


def _runs(hold_file: Path) -> list[int]:
    """The pool processes that entered the held chunk, in order."""
    return [int(pid) for pid in hold_file.read_text().split()] if hold_file.exists() else []


def _kill_run(hold_file: Path, n: int) -> int:
    """Wait for the held step's ``n``-th run (1-based) and kill its process, as the OOM killer would."""
    runs = wait_for(f"run {n} of the held step", lambda: (r := _runs(hold_file)) and len(r) >= n and r, 120)
    assert len(runs) == n, f"the held step ran {len(runs)} times before its run {n} was killed"
    psutil.Process(runs[n - 1]).kill()  # held in the step: alive until killed
    return runs[n - 1]


def _drained(stack: LocalStack) -> bool:
    """Nothing left to run: the queue empty and no worker process running or holding a task."""
    app = control_app(stack.env["REDIS_URL"])
    inspect = app.control.inspect(timeout=1.0)
    replies = [inspect.active(), inspect.reserved()]
    if any(reply is None for reply in replies):  # the worker did not answer: not known yet
        return False
    busy = any(tasks for reply in replies for tasks in reply.values())
    return not busy and redis_client(stack.env["REDIS_URL"]).llen("forecasts") == 0


@HELD
def test_a_pool_process_killed_mid_chunk_loses_nothing(tmp_path, held):
    today = date.today()
    rows = demo_rows(today)
    hold_file = tmp_path / "held-runs"
    with FakeLaravel(rows, items=demo_lines(today, rows=rows), per_page=500) as url:
        env = _env(tmp_path, url, held, hold_file, **{HOLD_RUNS_ENV: "1"})
        # Two pool processes: the killed one's chunk runs again on the other (or its replacement).
        with running_stack(tmp_path, env, worker_app="tests.harness.held_chunk_worker", worker_concurrency=2) as stack:
            client = Client(stack, HEADERS)
            task_id = client.submit_id(BODY)
            killed = _kill_run(hold_file, 1)

            doc = client.wait(task_id, timeout=300)
            assert doc["status"] == "SUCCESS", doc
            runs = _runs(hold_file)
            assert len(runs) == 2 and runs[1] != killed, f"{held} ran once more, in another process: {runs}"
            hierarchy = doc["result"]["data"]["hierarchy"]
            assert hierarchy["coherent"] is True
            seen, cursor = [], None
            while True:
                params = {"level": 2, "limit": 100, **({"cursor": cursor} if cursor else {})}
                page = requests.get(f"{stack.web_url}{hierarchy['series_url']}", params=params, headers=HEADERS, timeout=30).json()
                seen += [tuple(sorted(s["key"].items())) for s in page["series"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert len(seen) == len(set(seen)) == hierarchy["levels"][1]["series"], "nothing lost or doubled"
            log = client.log_tail("worker", lines=5000)
            assert "WorkerLostError" in log, log[-3000:]
            if held == CHUNK:
                assert f"{task_id}-chunk-{CHUNK}" in log


@HELD
def test_a_chunk_whose_process_is_killed_twice_ends_the_job_with_a_stable_code(tmp_path, held):
    """Out of memory, every time: the chunk runs again once, then the job ends FAILURE
    internal_error naming the chunk, instead of killing worker process after worker process; no
    result is stored as SUCCESS, now or after the job's other chunks have run."""
    today = date.today()
    rows = demo_rows(today)
    hold_file = tmp_path / "held-runs"
    with FakeLaravel(rows, items=demo_lines(today, rows=rows), per_page=500) as url:
        env = _env(tmp_path, url, held, hold_file)  # every run of the chunk is held until killed
        with running_stack(tmp_path, env, worker_app="tests.harness.held_chunk_worker", worker_concurrency=2) as stack:
            client = Client(stack, HEADERS)
            task_id = client.submit_id(BODY)
            first = _kill_run(hold_file, 1)
            second = _kill_run(hold_file, 2)
            assert first != second

            doc = client.wait(task_id, timeout=300)
            assert doc["status"] == "FAILURE", doc
            assert doc["error"]["code"] == "internal_error", doc
            assert "its worker process was killed 2 times" in doc["error"]["message"], doc
            if held == CHUNK:
                assert doc["error"]["message"].startswith(f"chunk {int(CHUNK) + 1} of "), doc
            assert doc["result"] is None
            # The third delivery ended the job before its work: the held step did not run a third time.
            assert len(_runs(hold_file)) == 2

            # The job's other chunks run out; none of them stores a result over the FAILURE.
            wait_for("the worker idle and the queue empty", lambda: _drained(stack), 180, interval=0.5)
            after = client.status(task_id)
            assert after["status"] == "FAILURE" and after["result"] is None, after
            series = requests.get(f"{stack.web_url}/api/v1/forecasts/{task_id}/series", headers=HEADERS, timeout=30)
            assert series.status_code != 200, series.text
            redis = redis_client(stack.env["REDIS_URL"])
            assert not redis.keys(f"*grouped:job:{task_id}"), "no series published for the job"
            assert not redis.keys(f"*grouped:{task_id}:plan"), "the job's work records are cleared"
