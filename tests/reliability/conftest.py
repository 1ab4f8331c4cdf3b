"""Helpers for the reliability tests: real stacks that tests break on purpose.

Every stack here is :class:`stack.local.LocalStack` (the runner `make run` uses) against a
Laravel-like server (``local.fake_laravel``) in this process, so faults reach the service the
way they would in production: through sockets, signals and a Redis that goes away. Each test
module starts one stack and shares it between its tests (the suite's time budget).
"""
from __future__ import annotations

import os
import signal
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from local.sample import Laravel, sales_rows
from stack.local import LocalStack
from tests import stacks
from tests.stacks import CHEAP, ROOT, TERMINAL, Client, base_env, start_stack
from tests.waiting import wait_for

__all__ = ["CHEAP", "ROOT", "TERMINAL", "Client", "Laravel", "base_env", "sales_rows", "start_stack", "wait_for"]

API_KEY = "reliability-key-5b1e"


def stack_env(tmp: Path, laravel: Laravel, **extra: str) -> dict[str, str]:
    """The environment of a test stack: the Laravel-like server, this package's API key, short timeouts."""
    return stacks.stack_env(tmp, laravel.url, API_KEY, **extra)


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
