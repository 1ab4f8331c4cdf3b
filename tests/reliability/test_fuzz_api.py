"""Schemathesis against /openapi.json on a running stack (gunicorn + Redis + a worker).

Every operation the spec describes is called with generated inputs, valid and invalid, with the
API key. Each response must not be a 5xx, must have a status code the spec lists for that
operation, and must match the schema and content type the spec gives for that status. Where the
spec lied, web/openapi.py was fixed (see docs/reliability.md).

Bounded for `make test`: SCHEMATHESIS_MAX_EXAMPLES (default 30) examples per operation;
`make soak` runs it with 500.
"""
from __future__ import annotations

import os
from collections import Counter
from datetime import date

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability.conftest import API_KEY, Client, Laravel, sales_rows, stack_env, start_stack

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    laravel = Laravel(sales_rows(date.today()))
    laravel.start()
    # The legacy endpoint waits this long before answering 202: short, or it dominates the run.
    env = stack_env(tmp, laravel, LEGACY_WAIT_SECONDS="0.2", CALLBACK_ALLOWED_HOSTS="127.0.0.1")
    stack = start_stack(tmp, env, worker_concurrency=1)
    try:
        yield Client(stack, {"Authorization": f"Bearer {API_KEY}"})
    finally:
        stack.stop()
        laravel.stop()


def _operations(api: Client):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_answers_as_its_schema_says(api, mode):
    # Schemathesis' Python API with Hypothesis directly (its pytest loader does not support
    # this pytest version): one Hypothesis run per operation.
    session = requests.Session()
    session.headers.update(api.headers)
    calls: Counter = Counter()

    for operation in _operations(api):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            response = case.call_and_validate(base_url=api.url, session=session, checks=CHECKS, timeout=30)
            calls[(operation.label, response.status_code)] += 1

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # nothing can be invalid about an operation without parameters or body (/healthz)
    print(f"\nschemathesis ({mode.value}, {MAX_EXAMPLES} examples an operation): "
          f"{sum(calls.values())} calls; " + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in sorted(calls.items())))
    assert not any(status >= 500 for _, status in calls)


def test_the_dashboard_list_is_in_the_spec(api):
    spec = requests.get(f"{api.url}/openapi.json", timeout=10).json()
    operation = spec["paths"]["/api/v1/forecasts"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"limit"}
    assert "application/json" in operation["responses"]["200"]["content"]


def test_a_real_jobs_documents_match_the_schema(api):
    """Random ids only reach the 404s: check the 200/202/409 documents of a real job too."""
    session = requests.Session()
    session.headers.update(api.headers)
    task_id = api.submit_id({"model": "linear", "horizon": 2})
    assert api.wait(task_id, timeout=90)["status"] == "SUCCESS"
    by_label = {op.label: op for op in _operations(api)}
    for label, params in [
        ("GET /api/v1/forecasts/{task_id}", {"path_parameters": {"task_id": task_id}}),
        ("DELETE /api/v1/forecasts/{task_id}", {"path_parameters": {"task_id": task_id}}),  # 409: finished
        ("GET /api/v1/forecasts", {"query": {"limit": 5}}),
    ]:
        case = by_label[label].Case(**params)
        response = case.call_and_validate(base_url=api.url, session=session, checks=CHECKS, timeout=30)
        assert response.status_code in (200, 409), (label, response.status_code)
