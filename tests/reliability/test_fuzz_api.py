"""Schemathesis against /openapi.json on a running stack (gunicorn + Redis + a worker).

Every operation the spec describes is called with generated inputs, valid (positive mode) and
invalid (negative mode), on a stack with API keys and on one without. Each response must not be
a 5xx, must have a status code the spec lists for that operation, and must match the schema,
headers and content type the spec gives for that status; a request the spec calls valid must not
be refused (400/422: "schema-valid request rejected"). Where the spec lied, web/openapi.py was
fixed (see docs/reliability.md).

JSON Schema cannot state some of the server's rules, and the test says so where it applies them:
``start_date`` must not be after ``end_date`` once the defaults are filled in, an
``Idempotency-Key`` names one body, ``holidays`` is a code the holidays package knows (a list of
~1,500 codes, not spelled out in the document), an event's ``end`` is not before its ``start`` nor a
year after it, and the horizon's bound follows the frequency (stated with if/then, which the
generator may not honour). A generated request that breaks one of them must be refused with a 422
naming the field (and is not counted as a valid request refused).

Bounded for `make test`: SCHEMATHESIS_MAX_EXAMPLES (default 15) examples per operation and mode;
`make soak` runs it with 500.
"""
from __future__ import annotations

import os
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.contract import calendar
from shared.contract.schema import MAX_EVENT_DAYS
from shared.stores.jobs import body_hash
from tests.reliability.conftest import API_KEY, Client, Laravel, sales_rows, stack_env, start_stack

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
SUBMIT = "POST /api/v1/forecasts"
LEGACY = "GET /api/sales-forecast"


class FuzzClient(Client):
    """A client of one stack, remembering which body each Idempotency-Key was accepted with."""

    idempotency: dict[str, str]


@pytest.fixture(scope="module", params=["keys", "no-keys"])
def api(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    laravel = Laravel(sales_rows(date.today()))
    laravel.start()
    # The legacy endpoint waits this long before answering 202: short, or it dominates the run.
    extra = {"LEGACY_WAIT_SECONDS": "0.2", "CALLBACK_ALLOWED_HOSTS": "127.0.0.1"}
    env = stack_env(tmp, laravel, **extra)
    if request.param == "no-keys":
        env.pop("API_KEYS")
    stack = start_stack(tmp, env, worker_concurrency=1)
    headers = {"Authorization": f"Bearer {API_KEY}"} if request.param == "keys" else {}
    client = FuzzClient(stack, headers)
    client.idempotency = {}
    try:
        yield client
    finally:
        stack.stop()
        laravel.stop()


def _operations(api: Client):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _today() -> date:
    return datetime.now(timezone.utc).date()  # SALES_TIMEZONE is UTC in the test stacks


def _params(case) -> dict[str, Any] | None:
    """The forecast parameters a case sends (the body of POST, the query of the legacy GET)."""
    if case.operation.label == SUBMIT:
        return case.body if isinstance(case.body, dict) else ({} if isinstance(case.body, NotSet) else None)
    if case.operation.label == LEGACY:
        return dict(case.query or {})
    return None


def broken_rule(case, api: FuzzClient) -> str | None:
    """The field of a rule JSON Schema cannot state that this (schema-valid) case breaks, if any.
    (`group` of the history routes needs no rule here: the document declares it as JSON content.)"""
    params = _params(case)
    if params is None:
        return None
    # In the order the server checks them: fields (holidays, then events), then the horizon.
    holidays = params.get("holidays")
    for code in [holidays] if isinstance(holidays, str) else holidays if isinstance(holidays, list) else []:
        try:
            calendar.holiday_code(code)
        except ValueError:
            return "holidays"
    for i, event in enumerate(params.get("events") or []):
        if isinstance(event, dict) and isinstance(event.get("end"), str) and isinstance(event.get("start"), str):
            try:  # `format: date` makes them real dates; a 31 February would be refused as itself
                start_day, end_day = date.fromisoformat(event["start"]), date.fromisoformat(event["end"])
            except ValueError:
                return None
            if end_day < start_day or (end_day - start_day).days >= MAX_EVENT_DAYS:
                return f"events.{i}"
    frequency = params.get("frequency") or "month"
    horizon = params.get("horizon")
    if isinstance(horizon, str) and horizon.isdigit():  # a query string's, or a form's, digits
        horizon = int(horizon)
    if isinstance(horizon, int) and frequency in tuple(calendar.Frequency) and horizon > calendar.spec(frequency).max_horizon:
        return "horizon"
    measure = params.get("measure") or "revenue"
    if isinstance(params.get("inventory"), dict) and (params.get("group_by") or measure != "revenue") and measure != "units":
        return "inventory"  # a grouped job's inventory is counted in units
    today = _today()
    end_param = params.get("end_date")
    if params.get("start_date"):
        start, end = params["start_date"], end_param or today.isoformat()
    else:
        window = calendar.default_window(
            today, frequency if frequency in tuple(calendar.Frequency) else "month",
            date.fromisoformat(end_param) if end_param else None,
        )
        start, end = window[0].isoformat(), window[1].isoformat()
    if start > end:  # ISO dates compare as text
        return "start_date"
    key = (case.headers or {}).get("Idempotency-Key")
    if case.operation.label == SUBMIT and key is not None:
        held = api.idempotency.get(key)
        if held is not None and held != body_hash(params):
            return "Idempotency-Key"
    return None


def excused_refusal(case, response, api: FuzzClient) -> str | None:
    """Why a schema-valid request may be answered 4xx, if it may; the answer must say so."""
    field = broken_rule(case, api)
    if field is not None:
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["field"] == field, response.text
        return f"{field} rule"
    if case.operation.label == LEGACY and response.status_code == 422:
        # The original endpoint waits for the job: a window with too little history is the
        # job's outcome (docs/api.md §4), not a refused request.
        if response.json()["error"]["code"] == "insufficient_history":
            return "insufficient_history"
    return None


def test_a_real_jobs_documents_match_the_schema(api):
    """Random ids only reach the 404s: check the 200/202/409 documents of a real job too.
    (First in the module: the fuzzing above queues many jobs ahead of a later one.)"""
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
        response = case.call_and_validate(base_url=api.url, session=session, checks=CHECKS[:-1], timeout=30)
        assert response.status_code in (200, 409), (label, response.status_code)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_answers_as_its_schema_says(api, mode):
    # Schemathesis' Python API with Hypothesis directly (its pytest loader does not support
    # this pytest version): one Hypothesis run per operation.
    session = requests.Session()
    session.headers.update(api.headers)
    calls: Counter = Counter()
    refused: Counter = Counter()

    for operation in _operations(api):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            response = case.call(base_url=api.url, session=session, timeout=30)
            calls[(operation.label, response.status_code)] += 1
            checks = CHECKS
            if mode is GenerationMode.POSITIVE:
                excuse = excused_refusal(case, response, api)
                if excuse:
                    refused[excuse] += 1
                    checks = CHECKS[:-1]  # all but positive_data_acceptance
            case.validate_response(response, checks=checks, transport_kwargs={"base_url": api.url, "session": session})
            key = (case.headers or {}).get("Idempotency-Key")
            if operation.label == SUBMIT and key is not None and response.status_code == 202:
                api.idempotency.setdefault(key, body_hash(_params(case) or {}))

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # nothing can be invalid about an operation without parameters or body (/healthz)
    print(f"\nschemathesis ({mode.value}, {MAX_EXAMPLES} examples an operation, "
          f"{'API keys' if api.headers else 'no API keys'}): {sum(calls.values())} calls; "
          + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in sorted(calls.items()))
          + (f"; valid requests refused, as they must be: {dict(refused)}" if refused else ""))
    assert not any(status >= 500 for _, status in calls)


def test_the_dashboard_list_is_in_the_spec(api):
    spec = requests.get(f"{api.url}/openapi.json", timeout=10).json()
    operation = spec["paths"]["/api/v1/forecasts"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"limit"}
    assert "application/json" in operation["responses"]["200"]["content"]
    assert bool(operation.get("security")) == bool(api.headers)
