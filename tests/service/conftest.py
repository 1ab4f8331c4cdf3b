"""End-to-end fixtures: the real processes, started as operators start them.

A Laravel-like HTTP server in this process, an embedded Redis on a free port, a Celery worker
subprocess and gunicorn, all through stack.local.LocalStack (the runner `make run` uses), so the
tests talk to the service as a client would. Nothing is mocked and nothing runs eagerly.
"""
from __future__ import annotations

from datetime import date

import pytest

from local.sample import Laravel, sales_rows
from tests.stacks import Client, base_env, start_stack

API_KEY = "e2e-key-9f2c"
Service = Client  # the name these tests have used for the client of the package's shared stack

__all__ = ["API_KEY", "Laravel", "Service", "base_env", "sales_rows"]


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
    stack = start_stack(root, env, root=root)
    yield Client(stack, {"Authorization": f"Bearer {API_KEY}"}, laravel)
    stack.stop()
