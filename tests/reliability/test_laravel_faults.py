"""Laravel misbehaves, end to end: through the web API, the queue and a real worker (docs/api.md §3, §7).

Each fault is set on the live Laravel-like server, a job is submitted over HTTP, and the job must
end as the contract says: SUCCESS (with the damage counted in ``data_quality``), or FAILURE with
``upstream_unavailable`` (unreachable, 5xx, timing out after the bounded retries) or
``upstream_invalid`` (answered, but not with sales data). Each case prints how long it took.

The stack runs with LARAVEL_TIMEOUT_SECONDS=1 and UPSTREAM_TASK_RETRIES=0, so only the client's
own retries (5 attempts, jittered backoff of at most 0.5 + 1 + 2 + 4 s) stand between a fault
and its outcome; production adds UPSTREAM_TASK_RETRIES re-queues on top.
"""
from __future__ import annotations

import itertools
import time
from datetime import date

import pytest

from local.fake_laravel import Faults
from shared.contract.schema import months_before
from tests.reliability.conftest import API_KEY, Client, sales_rows, stack_env, start_stack

pytestmark = pytest.mark.slow

TIMEOUT_SECONDS = 1
# 5 attempts of at most TIMEOUT_SECONDS each, plus at most 7.5 s of backoff, plus the job itself.
UNAVAILABLE_BOUND_SECONDS = 5 * TIMEOUT_SECONDS + 7.5 + 10
_horizons = itertools.cycle(range(1, 25))



@pytest.fixture(scope="module")
def client(tmp_path_factory, laravel):
    tmp = tmp_path_factory.mktemp("faults")
    env = stack_env(tmp, laravel, LARAVEL_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS))
    stack = start_stack(tmp, env, worker_concurrency=2)
    yield Client(stack, {"Authorization": f"Bearer {API_KEY}"})
    stack.stop()


def run_job(client: Client) -> tuple[dict, float]:
    began = time.monotonic()
    # refresh and a horizon of its own: never joined to, nor served from, an earlier job
    final = client.wait(client.submit_id({"model": "linear", "horizon": next(_horizons), "refresh": True}), timeout=90)
    return final, time.monotonic() - began


# (id, faults, expected status, expected code)
CASES = [
    ("flaky: three 500s, then fine", Faults(fail_first_n=3), "SUCCESS", None),
    ("rate limited: two 429s with Retry-After", Faults(rate_limit_first_n=2), "SUCCESS", None),
    ("slow: 0.3 s a page, within the timeout", Faults(delay_seconds=0.3), "SUCCESS", None),
    ("slow: 1.5 s a page, past the timeout", Faults(delay_seconds=1.5), "FAILURE", "upstream_unavailable"),
    ("always 503", Faults(status_code_always=503), "FAILURE", "upstream_unavailable"),
    ("HTML body (a login page)", Faults(html_body=True), "FAILURE", "upstream_invalid"),
    ("truncated JSON", Faults(truncated_json=True), "FAILURE", "upstream_invalid"),
    ("looping pagination", Faults(loop_next=True), "FAILURE", "upstream_invalid"),
    ("wrong shape: data is an object", Faults(wrong_shape=True), "FAILURE", "upstream_invalid"),
]


@pytest.mark.parametrize("name, faults, status, code", CASES, ids=[c[0] for c in CASES])
def test_fault_ends_as_the_contract_says(client, laravel, name, faults, status, code):
    laravel.server.faults = faults
    try:
        final, took = run_job(client)
    finally:
        laravel.server.faults = Faults()
    print(f"\n{name}: {final['status']} {(final['error'] or {}).get('code', '')} in {took:.1f}s")
    assert final["status"] == status, final
    if code:
        assert final["error"]["code"] == code, final
        assert took < UNAVAILABLE_BOUND_SECONDS
    else:
        assert final["result"]["data"]["data_quality"]["rows_rejected"] == {} or not any(
            final["result"]["data"]["data_quality"]["rows_rejected"].values()
        )


def test_laravel_down(client, laravel):
    laravel.stop()
    try:
        final, took = run_job(client)
    finally:
        laravel.start()
    print(f"\nLaravel down (connection refused): {final['status']} {final['error']['code']} in {took:.1f}s")
    assert final["status"] == "FAILURE"
    assert final["error"]["code"] == "upstream_unavailable"
    assert took < UNAVAILABLE_BOUND_SECONDS


# Damage for 2% of the rows (every 50th), wrong types included; every kind lands in data_quality.
DAMAGE = [
    ("missing_created_at", lambda r: {k: v for k, v in r.items() if k != "created_at"}),
    ("bad_created_at", lambda r: {**r, "created_at": "yesterday at noon"}),
    ("bad_created_at", lambda r: {**r, "created_at": 1735689600}),  # a number, not a string
    ("missing_grand_total", lambda r: {**r, "grand_total": None}),
    ("bad_grand_total", lambda r: {**r, "grand_total": "12,50 €"}),
    ("bad_grand_total", lambda r: {**r, "grand_total": {"amount": "12.50"}}),  # an object
    ("bad_grand_total", lambda r: {**r, "grand_total": True}),
    ("bad_id", lambda r: {**r, "id": 1.5}),
    ("bad_id", lambda r: {**r, "id": [r["id"]]}),
    ("missing_id", lambda r: {k: v for k, v in r.items() if k != "id"}),
    ("not_an_object", lambda r: [r["id"], r["created_at"], r["grand_total"]]),
]


def test_two_percent_bad_rows_and_wrong_types_are_counted_not_fatal(client, laravel):
    today = date.today()
    clean = sales_rows(today)
    # Damage only rows inside the default range (the fake filters the others out by date).
    cutoff = months_before(today, 35).isoformat()
    rows: list = []
    damaged = in_range = 0
    expected: dict[str, int] = {}
    for row in clean:
        in_range += row["created_at"][:10] >= cutoff
        if row["created_at"][:10] >= cutoff and in_range % 50 == 0:
            reason, damage = DAMAGE[damaged % len(DAMAGE)]
            rows.append(damage(row))
            expected[reason] = expected.get(reason, 0) + 1
            damaged += 1
        else:
            rows.append(row)
    undamaged = [r for r, c in zip(rows, clean) if r is c]
    duplicates = [dict(r) for r in undamaged[-5:]]  # the same ids again, as a page overlap gives
    original = laravel.rows
    laravel.stop()
    laravel.rows = rows + duplicates
    laravel.start()
    try:
        final, took = run_job(client)
    finally:
        laravel.stop()
        laravel.rows = original
        laravel.start()
    assert final["status"] == "SUCCESS", final
    quality = final["result"]["data"]["data_quality"]
    rejected = {k: v for k, v in quality["rows_rejected"].items() if v}
    print(f"\n2% bad rows ({damaged} of {len(clean)}) + 5 duplicates: SUCCESS in {took:.1f}s; "
          f"rejected {rejected}, duplicates {quality['duplicates']}")
    assert rejected == expected
    assert quality["duplicates"] == 5
    assert quality["rows_used"] == quality["rows_fetched"] - damaged - 5
