"""Real processes for the Laravel-facing tests: Redis, the demo sales source and a Celery worker.

The worker is started by the one harness (tests/stacks.py: :func:`~tests.stacks.start_stack`, the
command operators run, ``celery -A worker.main worker``), web off, on a private Redis. Tests talk
to them as Laravel would: raw LPUSHes onto the queue, reads of ``celery-task-meta-<id>``.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis

from stack.local import LocalStack
from tests.laravel.runtimes import HOST, Runtime, open_runtime
from tests.stacks import base_env, running_stack

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "forecasts"
DEAD = "forecasts.dead"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"laravel-tests-webhook-key-32byte").decode()
# A valid job that is cheap to run: the original linear method on the demo history.
VALID_KWARGS = {"model": "linear", "horizon": 3}
FINAL = ("SUCCESS", "FAILURE", "REVOKED")


# The Laravel runtimes that tests ran on, for the summary line (name -> runtime).
_RAN_ON: dict[str, Runtime] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``laravel`` run on this machine's Laravel, and, in a module that sets
    ``LARAVEL_RUNTIMES`` (tests/laravel/runtimes.NAMES), on each Laravel it names."""
    if "laravel" in metafunc.fixturenames:
        names = getattr(metafunc.module, "LARAVEL_RUNTIMES", (HOST,))
        metafunc.parametrize("laravel", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def laravel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    """A Laravel runtime (tests/laravel/runtimes.py); chroots see the checkout and the tests' tmp dirs."""
    # The parent of this run's tmp dir (pytest-of-<user>): one directory made in the chroot for every run.
    runtime = open_runtime(getattr(request, "param", HOST), binds=(ROOT, tmp_path_factory.getbasetemp().parent))
    _RAN_ON[runtime.name] = runtime
    return runtime


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the Laravel versions the Laravel tests ran on, so CI's log says which were exercised."""
    if _RAN_ON:
        terminalreporter.section("Laravel versions tested")
        for runtime in _RAN_ON.values():
            terminalreporter.write_line(runtime.describe())


def require_php() -> str:
    """The php binary with phpredis; skipped locally without it, a failure in CI (never skipped)."""
    php = shutil.which("php")
    has_redis = php and subprocess.run(
        [php, "-r", "exit(class_exists('Redis') ? 0 : 1);"], capture_output=True
    ).returncode == 0
    if not has_redis:
        message = "php-cli with phpredis is required (apt-get install php-cli php-redis)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must not skip these tests")
        pytest.skip(message)
    return php


def celery_message(
    kwargs: dict[str, Any] | None = None,
    *,
    task: str = "forecast.sales",
    task_id: str | None = None,
    args: list[Any] | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[str, dict[str, Any]]:
    """(task id, envelope) of a protocol-2 message as kombu's Redis transport stores it."""
    task_id = task_id or str(uuid.uuid4())
    if body is None:
        embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
        body = json.dumps([args or [], kwargs or {}, embed]).encode()
    envelope = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": content_type,
        "headers": {
            "lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
            "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
            "root_id": task_id, "parent_id": None, "argsrepr": "()", "kwargsrepr": repr(kwargs or {}),
            "origin": "tests", "ignore_result": False, "stamped_headers": None, "stamps": {},
        },
        "properties": {
            "correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE}, "priority": 0,
            "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
        },
    }
    return task_id, envelope


@dataclass
class Worker:
    """A running stack (Redis + demo source + worker) and helpers to talk to it."""

    stack: LocalStack
    redis_url: str
    client: redis.Redis
    log_path: Path

    @property
    def process(self) -> subprocess.Popen:
        return self.stack.processes["worker"].process

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def meta(self, task_id: str) -> dict[str, Any] | None:
        raw = self.client.get(f"celery-task-meta-{task_id}")
        return json.loads(raw) if raw else None

    def wait_final(self, task_id: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            meta = self.meta(task_id)
            if meta and meta.get("status") in FINAL:
                return meta
            assert self.alive(), f"the worker stopped:\n{self.log()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"job {task_id} not final after {timeout}s: {self.meta(task_id)}\n{self.log()[-3000:]}")

    def push(self, raw: bytes | str) -> None:
        self.client.lpush(QUEUE, raw)

    def dispatch(self, kwargs: dict[str, Any] | None = None) -> str:
        task_id, envelope = celery_message(VALID_KWARGS if kwargs is None else kwargs)
        self.push(json.dumps(envelope))
        return task_id

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self.client.lrange(DEAD, 0, -1)]


@pytest.fixture(scope="package")
def worker_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The worker's environment, beside REDIS_URL and the demo LARAVEL_API_URL."""
    tmp = tmp_path_factory.mktemp("worker")
    return {
        "SECRET_KEY": "laravel-tests-secret",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
        "MODEL_DIR": str(tmp / "models"),
        "UPSTREAM_TASK_RETRIES": "0",
        "DATABASE_URL": f"sqlite:///{tmp / 'history.sqlite3'}",  # the forecast history, not the checkout's var/
    }


@pytest.fixture(scope="package")
def worker(worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """Redis, the demo sales source and one worker, web off (tests/stacks.py)."""
    tmp = tmp_path_factory.mktemp("stack")
    env = base_env(tmp, PYTHONPATH=str(ROOT), **worker_env)
    with running_stack(tmp, env, web=False, worker_concurrency=1) as stack:
        assert stack.log_dir is not None
        yield Worker(stack, env["REDIS_URL"], redis.Redis.from_url(env["REDIS_URL"]), stack.log_dir / "worker.log")


@pytest.fixture
def clean(worker: Worker) -> Worker:
    """The package's worker with an empty dead-letter list (tests use unique ids otherwise)."""
    worker.client.delete(DEAD)
    return worker


def run_php(php: str, *args: str, timeout: float = 180, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run([php, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kw)

