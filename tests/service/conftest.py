"""End-to-end fixtures: the real processes, started as operators start them.

A Laravel-like HTTP server in this process, an embedded Redis on a free port, a Celery worker
subprocess and gunicorn, all through stack.local.LocalStack (the runner `make run` uses), so the
tests talk to the service as a client would. Nothing is mocked and nothing runs eagerly.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date

import pytest
import requests

from local.redis_server import free_port
from local.sample import Laravel, sales_rows
from stack.local import LocalStack

API_KEY = "e2e-key-9f2c"
TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}


@dataclass
class Service:
    stack: LocalStack
    laravel: Laravel
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.stack.web_url

    def submit(self, body: dict | None = None, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.post(f"{self.url}/api/v1/forecasts", json=body or {}, headers=headers, timeout=10, **kwargs)

    def status(self, task_id: str) -> dict:
        response = requests.get(f"{self.url}/api/v1/forecasts/{task_id}", headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, task_id: str, timeout: float = 120, seen: list | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            document = self.status(task_id)
            if seen is not None:
                seen.append((document["status"], document["progress"]["stage"], document["progress"]["percent"]))
            if document["status"] in TERMINAL:
                return document
            time.sleep(0.1)
        raise AssertionError(f"task {task_id} not finished after {timeout}s: {document}")


def base_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "LARAVEL_", "API_KEYS"))}
    env.update(
        WEB_PORT=str(free_port()),
        SECRET_KEY="e2e-secret-key",
        MODEL_DIR=str(tmp_path / "models"),
        UPSTREAM_TASK_RETRIES="0",
        LEGACY_WAIT_SECONDS="60",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="package")
def laravel():
    server = Laravel(sales_rows(date.today()))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def service(tmp_path_factory, laravel):
    root = tmp_path_factory.mktemp("stack")
    env = base_env(root, LARAVEL_API_URL=laravel.url, API_KEYS=f"other-key,{API_KEY}")
    stack = LocalStack(env, root=root, log_dir=root / "logs", worker_concurrency=2)
    stack.start(ready_timeout=120)
    yield Service(stack, laravel, {"Authorization": f"Bearer {API_KEY}"})
    stack.stop()
