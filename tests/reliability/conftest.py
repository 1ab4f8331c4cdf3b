"""Helpers for the reliability tests: real stacks that tests break on purpose.

Every stack here is :class:`stack.local.LocalStack` (the runner `make run` uses) against a
Laravel-like server (``local.fake_laravel``) in this process, so faults reach the service the
way they would in production: through sockets, signals and a Redis that goes away. Each test
module starts one stack and shares it between its tests (the suite's time budget).
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
import requests

from local.sample import Laravel, sales_rows
from stack.local import LocalStack
from tests import stacks
from tests.stacks import CHEAP, ROOT, TERMINAL, Client, base_env, start_stack
from tests.waiting import wait_for

__all__ = ["CHEAP", "ROOT", "TERMINAL", "Client", "Laravel", "base_env", "sales_rows", "start_stack", "wait_for"]

API_KEY = "reliability-key-5b1e"


@dataclass
class Traffic:
    """Submits and polls from a few threads, recording every answer and how long it took."""

    client: Client
    accepted: list[str] = field(default_factory=list)
    answers: list[tuple[float, str, int, str, float]] = field(default_factory=list)  # (t, op, status, code, latency)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    seed: list[str] = field(default_factory=list)  # polled until the traffic has ids of its own

    def _record(self, op: str, response: requests.Response | None, latency: float, error: str = "") -> None:
        status = response.status_code if response is not None else 0
        code = error
        if response is not None and status >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "<not a JSON error>"
        with self.lock:
            self.answers.append((time.monotonic(), op, status, code, latency))
            if op == "submit" and status == 202:
                self.accepted.append(response.json()["task_id"])

    def submitter(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.counter += 1
                n = self.counter
            body = {"model": "linear", "horizon": 1 + n % 24, "level": 50 + n % 40, "refresh": True}
            began = time.monotonic()
            try:
                response = self.client.submit(body, timeout=30)
                self._record("submit", response, time.monotonic() - began)
            except requests.RequestException as exc:
                self._record("submit", None, time.monotonic() - began, type(exc).__name__)
            time.sleep(0.2)

    def poller(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                ids = list(self.accepted[-5:])
            for task_id in ids or self.seed[-5:]:
                began = time.monotonic()
                try:
                    response = self.client.get(task_id, timeout=30)
                    self._record("poll", response, time.monotonic() - began)
                except requests.RequestException as exc:
                    self._record("poll", None, time.monotonic() - began, type(exc).__name__)
            time.sleep(0.05)


def stack_env(tmp: Path, laravel: Laravel, **extra: str) -> dict[str, str]:
    """The environment of a test stack: the Laravel-like server, this package's API key, short timeouts."""
    return stacks.stack_env(tmp, laravel.url, API_KEY, **extra)


@contextmanager
def slow_laravel_client(
    tmp: Path, laravel: Any, *, timeout_seconds: int, deadline_seconds: int, retries: int, worker_concurrency: int
) -> Iterator[Client]:
    """A stack for a slow or absent Laravel, and its client: each request to ``laravel`` (anything
    with a ``url``) times out after ``timeout_seconds``, a job gives up at ``deadline_seconds``, and
    a task is run again ``retries`` times, 1 s apart. Stopped at the end of the ``with`` block."""
    env = stack_env(
        tmp,
        laravel,
        LARAVEL_TIMEOUT_SECONDS=str(timeout_seconds),
        LARAVEL_DEADLINE_SECONDS=str(deadline_seconds),
        UPSTREAM_TASK_RETRIES=str(retries),
        UPSTREAM_RETRY_DELAY_SECONDS="1",
    )
    with stacks.running_stack(tmp, env, worker_concurrency=worker_concurrency) as stack:
        yield Client(stack, {"Authorization": f"Bearer {API_KEY}"})


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
