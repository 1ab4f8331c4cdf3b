"""The one test harness: real stacks started as operators start them, and a client that talks to them.

Every test that needs processes starts them here: :func:`start_stack` runs
:class:`stack.local.LocalStack` (the runner behind `make run`) on a private Redis in the test's
temporary directory, against a Laravel-like server in the test process (``local.sample``,
``local.fake_laravel``), with the environment :func:`stack_env` builds. :class:`Client` is what a
frontend does: submit, poll, wait. Nothing is mocked and nothing runs eagerly.

Sharing: a stack costs 3-8 s to start on two cores, so fixtures built on these start one per
package or module (``scope="package"``/``"module"``) wherever the tests do not disturb each other;
tests that break a stack on purpose (tests/reliability) start their own.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from local.redis_server import RedisServer, free_port
from stack.local import LocalStack
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")
# A cheap job: the original linear method (for tests of the service, not of the models).
CHEAP = {"model": "linear", "horizon": 2}


@dataclass
class Client:
    """Talks to a running stack's web tier as an API client would (``laravel``: the shop it reads)."""

    stack: LocalStack
    headers: dict[str, str]
    laravel: Any = None

    @property
    def url(self) -> str:
        """The web tier's base URL."""
        return self.stack.web_url

    def submit(self, body: dict | None = None, timeout: float = 10, **kwargs: Any) -> requests.Response:
        """POST /api/v1/forecasts with ``body``, as is."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.post(f"{self.url}/api/v1/forecasts", json=body or {}, headers=headers, timeout=timeout, **kwargs)

    def submit_id(self, body: dict | None = None) -> str:
        """Submit ``body`` and return its task id (asserting the 202)."""
        response = self.submit(body)
        assert response.status_code == 202, response.text
        return response.json()["task_id"]

    def get(self, task_id: str, timeout: float = 10) -> requests.Response:
        """GET the job's status, as is."""
        return requests.get(f"{self.url}/api/v1/forecasts/{task_id}", headers=self.headers, timeout=timeout)

    def status(self, task_id: str) -> dict:
        """The job's status document (asserting the 200)."""
        response = self.get(task_id)
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, task_id: str, timeout: float = 120, seen: list | None = None) -> dict:
        """Poll until the job is final; ``seen`` collects (status, stage, percent) on the way."""
        deadline = time.monotonic() + timeout
        document: dict = {}
        while time.monotonic() < deadline:
            document = self.status(task_id)
            if seen is not None:
                seen.append((document["status"], document["progress"]["stage"], document["progress"]["percent"]))
            if document["status"] in TERMINAL:
                return document
            time.sleep(0.1)
        raise AssertionError(f"task {task_id} not finished after {timeout}s: {document}\n{self.log_tail('worker')}")

    def wait_stage(self, task_id: str, statuses: tuple[str, ...] = ("STARTED", "PROGRESS"), timeout: float = 60) -> dict:
        """Poll until the job is in one of ``statuses``; its status document then."""
        return wait_for(f"{task_id} in {statuses}", lambda: (d := self.status(task_id))["status"] in statuses and d, timeout)

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last lines of one of the stack's process logs (for assertion messages)."""
        managed = self.stack.processes.get(name)
        if managed is None or managed.log_path is None or not managed.log_path.exists():
            return ""
        return "\n".join(managed.log_path.read_text(errors="replace").splitlines()[-lines:])


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A stack's environment: this process's, less any Redis, Celery, queue, Laravel or key settings, with a
    free web port, a secret, models under ``tmp_path`` and short upstream retries; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "FORECAST_", "LARAVEL_", "API_KEYS"))}
    env.update(
        WEB_PORT=str(free_port()),
        SECRET_KEY="e2e-secret-key",
        MODEL_DIR=str(tmp_path / "models"),
        UPSTREAM_TASK_RETRIES="0",
        LEGACY_WAIT_SECONDS="60",
    )
    env.update(extra)
    return env


def stack_env(tmp: Path, laravel_url: str, api_key: str, **extra: str) -> dict[str, str]:
    """:func:`base_env` reading ``laravel_url`` with ``api_key``, the history in a SQLite file under
    ``tmp`` (never the checkout's var/)."""
    env = base_env(tmp, LARAVEL_API_URL=laravel_url, API_KEYS=api_key,
                   DATABASE_URL=f"sqlite:///{tmp / 'history.sqlite3'}")
    env.setdefault("PYTHONPATH", str(ROOT))
    env.update(extra)
    return env


def start_stack(tmp: Path, env: dict[str, str], **kwargs: Any) -> LocalStack:
    """Start a stack; with no REDIS_URL in ``env``, on a private Redis under ``tmp``, stopped with it
    (``env["REDIS_URL"]`` then names it). Ready when its web answers ``/readyz``; without web, when
    its worker's log says it is ready.

    ``kwargs`` go to :class:`LocalStack` (``web``, ``worker``, ``worker_concurrency`` (2), ``flower``,
    ``worker_app``/``web_app`` (other entry points), ``root`` (the processes' working directory: the
    checkout unless given)...).
    """
    kwargs.setdefault("worker_concurrency", 2)
    kwargs.setdefault("root", ROOT)
    server = None
    if not env.get("REDIS_URL"):
        server = RedisServer(data_dir=tmp / "redis").start()
        env["REDIS_URL"] = server.url
    stack = LocalStack(env, log_dir=tmp / "logs", **kwargs)
    stack.redis = server  # stopped with the stack (LocalStack.stop), also when start fails
    stack.start(ready_timeout=120)
    if not kwargs.get("web", True) and kwargs.get("worker", True):
        try:
            worker_ready(stack)
        except BaseException:
            stack.stop()
            raise
    return stack


def worker_ready(stack: LocalStack, name: str = "worker", timeout: float = 60) -> None:
    """Wait until the stack's worker ``name`` logs that it is ready (Celery's `` ready.`` line): how a
    stack without web, or a worker added later, is known to consume. A worker that exits first fails
    at once, with its log."""
    managed = stack.processes[name]
    assert managed.log_path is not None, f"{name} has no log"

    def ready() -> bool:
        if managed.process.poll() is not None:
            log = managed.log_path.read_text(errors="replace") if managed.log_path.exists() else ""
            raise RuntimeError(f"{name} exited with {managed.process.returncode}:\n{log[-3000:]}")
        return managed.log_path.exists() and " ready." in managed.log_path.read_text(errors="replace")

    wait_for(f"{name} ready", ready, timeout)


@contextmanager
def running_stack(tmp: Path, env: dict[str, str], **kwargs: Any) -> Iterator[LocalStack]:
    """:func:`start_stack` for a ``with`` block (or a fixture's ``yield``): stopped at its end."""
    stack = start_stack(tmp, env, **kwargs)
    try:
        yield stack
    finally:
        stack.stop()
