"""Flower on a real stack: Redis, a Celery worker and Flower, started by stack.local.LocalStack
with the commands of stack/commands.py, against the fake Laravel (a real HTTP server).

Jobs are sent as the web tier sends them (send_task by name, kwargs); Flower's REST API must then
show them with their kwargs, state, runtime and worker, the workers, and its Prometheus metrics,
and refuse anyone without the basic-auth credentials. The same stack also runs beat's
`forecast.refresh` on the real worker, and its logs are checked for JSON lines with task ids.
"""
from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.redis_server import RedisServer, free_port
from shared.contract.config import Settings
from tests.ops.test_schedule import _rows, require
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FLOWER_AUTH = "ops:flower-test-password"
REDIS_PASSWORD = "redis-test-password"
SECRET_KEY = "flower-test-secret-key"
PAGE_DELAY_SECONDS = 0.4  # 48 rows, 8 a page: a fetch lasts ~2.4 s, long enough to see PROGRESS


class Flower:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, auth: str | None = FLOWER_AUTH) -> Any:
        request = urllib.request.Request(self.base + path)
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read().decode()
            return json.loads(body) if "json" in response.headers.get("Content-Type", "") else body


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require("worker.tasks")
    require("local.fake_laravel")
    from local.fake_laravel import FakeLaravel, Faults
    from stack.local import LocalStack
    from web.celery_client import create_celery_client

    tmp = tmp_path_factory.mktemp("flower")
    today = datetime.now(ZoneInfo("UTC")).date()
    redis_server = RedisServer(password=REDIS_PASSWORD).start()
    laravel = FakeLaravel(_rows(today), per_page=8, faults=Faults(delay_seconds=PAGE_DELAY_SECONDS))
    laravel_url = laravel.start()
    # Only what this test sets: nothing of the caller's configuration leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CELERY_", "LARAVEL_", "REDIS_"))}
    env.update(
        REDIS_URL=redis_server.url,
        LARAVEL_API_URL=laravel_url,
        FLOWER_PORT=str(free_port()),
        FLOWER_BASIC_AUTH=FLOWER_AUTH,
        SECRET_KEY=SECRET_KEY,
        MODEL_DIR=str(tmp / "models"),
        DATABASE_URL=f"sqlite:///{tmp / 'history.sqlite3'}",  # the forecast history, not the checkout's var/
        FORECAST_QUEUE="forecasts",
        UPSTREAM_TASK_RETRIES="0",
        API_KEYS="",
    )
    local = LocalStack(env, root=ROOT, log_dir=tmp / "logs", web=False, worker=True, flower=True)
    client = create_celery_client(Settings.from_env(env), bounded=False)
    try:
        local.start()
        flower = Flower(int(env["FLOWER_PORT"]))
        wait_for("the worker in Flower", lambda: flower.get("/api/workers?refresh=1"), timeout=60)
        yield {"flower": flower, "celery": client, "laravel": laravel, "logs": tmp / "logs", "stack": local}
    finally:
        local.stop()
        laravel.stop()
        redis_server.cleanup()


def send(stack: dict, task: str = "forecast.sales", **kwargs: Any) -> str:
    """As the web tier sends a job: by name, kwargs only, on the forecast queue."""
    return stack["celery"].send_task(task, kwargs=kwargs, queue="forecasts").id


def test_flower_refuses_requests_without_credentials(stack):
    flower = stack["flower"]
    for path in ("/api/workers", "/api/tasks", "/api/task/info/x", "/tasks"):
        for auth in (None, "ops:wrong-password"):
            with pytest.raises(urllib.error.HTTPError) as excinfo:
                flower.get(path, auth=auth)
            assert excinfo.value.code == 401, (path, auth)


def test_flower_shows_jobs_with_kwargs_state_runtime_worker_and_progress(stack):
    flower, celery = stack["flower"], stack["celery"]
    job = send(stack, model="linear", horizon=2)

    # While it fetches page after page, its state is PROGRESS, with the stage in the meta.
    seen = wait_for("PROGRESS in Flower", lambda: flower.get(f"/api/task/result/{job}")["state"] == "PROGRESS",
                    timeout=20, interval=0.1)
    assert seen
    meta = celery.AsyncResult(job).info
    assert meta["stage"] in ("fetching", "aggregating", "training", "backtesting", "predicting") and "percent" in meta
    running = flower.get(f"/api/task/info/{job}")
    assert running["state"] in ("STARTED", "PROGRESS") and running["worker"].startswith("celery@")

    bad = send(stack, horizon=99)  # refused by the task's own validation: FAILURE, invalid_request
    info = wait_for("SUCCESS in Flower", lambda: (i := flower.get(f"/api/task/info/{job}"))["state"] == "SUCCESS" and i)
    assert info["name"] == "forecast.sales"
    assert "'model': 'linear'" in info["kwargs"] and "'horizon': 2" in info["kwargs"]
    assert info["runtime"] > 0 and info["worker"].startswith("celery@")
    assert info["received"] and info["started"] and info["succeeded"]

    failed = wait_for("FAILURE in Flower", lambda: (i := flower.get(f"/api/task/info/{bad}"))["state"] == "FAILURE" and i)
    assert "invalid_request" in failed["exception"]

    tasks = flower.get("/api/tasks?limit=50")
    assert tasks[job]["state"] == "SUCCESS" and tasks[bad]["state"] == "FAILURE"
    assert {tasks[job]["name"], tasks[bad]["name"]} == {"forecast.sales"}
    assert "forecast.sales" in flower.get("/api/task/types")["task-types"]

    workers = flower.get("/api/workers?refresh=1")
    [(name, worker)] = workers.items()
    assert name == info["worker"]
    assert worker["active_queues"][0]["name"] == "forecasts"
    assert "forecast.sales" in worker["registered"] and "forecast.refresh" in worker["registered"]


def test_flower_exports_prometheus_metrics(stack):
    flower = stack["flower"]
    wait_for("a finished job", lambda: any(
        t["state"] == "SUCCESS" for t in flower.get("/api/tasks").values()) or send(stack, model="linear") and False)
    # Flower 2.2 serves /metrics and /healthcheck without auth (Prometheus and the compose health
    # check rely on it): that is why compose publishes Flower's port on loopback only.
    metrics = flower.get("/metrics", auth=None)
    assert flower.get("/healthcheck", auth=None) == "OK"
    for name in ('flower_events_total{', 'flower_task_runtime_seconds_bucket{', 'flower_worker_online{',
                 'flower_worker_number_of_currently_executing_tasks{', 'flower_task_prefetch_time_seconds'):
        assert name in metrics, name
    assert 'task="forecast.sales"' in metrics and 'type="task-succeeded"' in metrics


def test_beats_refresh_runs_on_the_real_worker_and_fills_the_cache(stack):
    stack["laravel"].faults.delay_seconds = 0
    celery = stack["celery"]
    refreshed = celery.send_task("forecast.refresh", queue="forecasts").get(timeout=60)
    document = celery.AsyncResult(send(stack)).get(timeout=60)  # the default request, as the web sends it
    assert document["data"]["meta"]["cached"] is True
    assert document["data"]["meta"]["data_fingerprint"] == refreshed["data_fingerprint"]


def test_worker_logs_are_json_lines_with_task_ids_and_no_secrets(stack):
    job = send(stack, model="linear")
    stack["celery"].AsyncResult(job).get(timeout=60)
    time.sleep(0.5)
    text = (stack["logs"] / "worker.log").read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert records, text[-2000:]
    about_job = [r for r in records if r.get("task_id") == job]
    messages = " | ".join(r["message"] for r in about_job)
    assert "received" in messages and "succeeded" in messages, messages
    assert all(r.get("task_name") == "forecast.sales" for r in about_job)
    everything = text + (stack["logs"] / "flower.log").read_text()
    for secret in (REDIS_PASSWORD, SECRET_KEY, FLOWER_AUTH.split(":")[1]):
        assert secret not in everything
