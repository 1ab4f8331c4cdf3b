"""Helpers for the reliability tests: real stacks that tests break on purpose.

Every stack here is :class:`stack.local.LocalStack` (the runner `make run` uses) against a
Laravel-like server (``local.fake_laravel``) in this process, so faults reach the service the
way they would in production: through sockets, signals and a Redis that goes away. Each test
module starts one stack and shares it between its tests (the suite's time budget).
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
import requests

from local.redis_server import RedisServer
from stack.local import LocalStack
from tests.service.conftest import Laravel, base_env, sales_rows
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "reliability-key-5b1e"
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")
# A cheap job: the original linear method (the modelling stack is not what these tests test).
CHEAP = {"model": "linear", "horizon": 2}


@dataclass
class Client:
    """Talks to a running stack's web tier as an API client would."""

    stack: LocalStack
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.stack.web_url

    def submit(self, body: dict | None = None, timeout: float = 10, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.post(f"{self.url}/api/v1/forecasts", json=body or {}, headers=headers, timeout=timeout, **kwargs)

    def submit_id(self, body: dict | None = None) -> str:
        response = self.submit(body)
        assert response.status_code == 202, response.text
        return response.json()["task_id"]

    def get(self, task_id: str, timeout: float = 10) -> requests.Response:
        return requests.get(f"{self.url}/api/v1/forecasts/{task_id}", headers=self.headers, timeout=timeout)

    def status(self, task_id: str) -> dict:
        response = self.get(task_id)
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, task_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        document: dict = {}
        while time.monotonic() < deadline:
            document = self.status(task_id)
            if document["status"] in TERMINAL:
                return document
            time.sleep(0.1)
        raise AssertionError(f"task {task_id} not finished after {timeout}s: {document}\n{self.log_tail('worker')}")

    def wait_stage(self, task_id: str, statuses: tuple[str, ...] = ("STARTED", "PROGRESS"), timeout: float = 60) -> dict:
        return wait_for(f"{task_id} in {statuses}", lambda: (d := self.status(task_id))["status"] in statuses and d, timeout)

    def log_tail(self, name: str, lines: int = 40) -> str:
        managed = self.stack.processes.get(name)
        if managed is None or managed.log_path is None or not managed.log_path.exists():
            return ""
        return "\n".join(managed.log_path.read_text(errors="replace").splitlines()[-lines:])


def stack_env(tmp: Path, laravel: Laravel, **extra: str) -> dict[str, str]:
    """The environment of a test stack: the Laravel-like server, an API key, short timeouts."""
    env = base_env(tmp, LARAVEL_API_URL=laravel.url, API_KEYS=API_KEY,
                   DATABASE_URL=f"sqlite:///{tmp / 'history.sqlite3'}")  # not the checkout's var/
    env.setdefault("PYTHONPATH", str(ROOT))
    env.update(extra)
    return env


def start_stack(tmp: Path, env: dict[str, str], **kwargs: Any) -> LocalStack:
    """Start a stack; with no REDIS_URL, on a private Redis in ``tmp`` (never the repo's var/)."""
    kwargs.setdefault("worker_concurrency", 2)
    server = None
    if not env.get("REDIS_URL"):
        server = RedisServer(data_dir=tmp / "redis").start()
        env["REDIS_URL"] = server.url
    stack = LocalStack(env, root=ROOT, log_dir=tmp / "logs", **kwargs)
    stack.redis = server  # stopped with the stack
    stack.start(ready_timeout=120)
    return stack


def spawn_worker(stack: LocalStack, name: str, concurrency: int = 1) -> None:
    """Another worker process (its own Celery node name) consuming the same queue."""
    stack.add_worker(name, concurrency)


def worker_log_ready(stack: LocalStack, name: str, timeout: float = 60) -> None:
    managed = stack.processes[name]
    assert managed.log_path is not None
    wait_for(f"{name} ready", lambda: " ready." in managed.log_path.read_text(errors="replace"), timeout)


def pool_children(stack: LocalStack, name: str = "worker") -> list[psutil.Process]:
    """The prefork pool processes of one worker (the children of its main process)."""
    return psutil.Process(stack.processes[name].process.pid).children()


def control_app(redis_url: str) -> Any:
    """A Celery app for remote control (inspect) from the test process, bounded like the web's."""
    from shared.contract.config import Settings
    from web.celery_client import create_celery_client

    return create_celery_client(Settings(redis_url=redis_url))


def running_on(app: Any, task_id: str) -> tuple[str, int] | None:
    """(Celery node name, pool process pid) of the worker process running ``task_id`` now."""
    active = app.control.inspect(timeout=1.0).active() or {}
    for node, tasks in active.items():
        for task in tasks:
            if task.get("id") == task_id and task.get("worker_pid"):
                return node, int(task["worker_pid"])
    return None


def kill_group(stack: LocalStack, name: str) -> None:
    """SIGKILL a process and all its children (a container or machine dying)."""
    stack.signal(name, signal.SIGKILL)
    stack.processes[name].process.wait(10)


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def log_texts(log_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(errors="replace") for p in sorted(log_dir.glob("*.log"))}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def laravel():
    """A Laravel-like server per test module: modules stop it or set faults on it."""
    server = Laravel(sales_rows(date.today()))
    server.start()
    yield server
    server.stop()
