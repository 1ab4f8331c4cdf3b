"""The service end to end: real Redis, a real Celery worker, gunicorn, a Laravel-like server."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests

from shared.contract.schema import months_before

pytestmark = pytest.mark.slow


def test_submit_progress_success(service):
    service.laravel.faults.delay_seconds = 0.15  # slow pages, so the fetch's progress is visible
    try:
        response = service.submit({"horizon": 4, "level": 80, "refresh": True})
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "PENDING"
        assert response.headers["Location"].endswith(body["status_url"])
        assert int(response.headers["Retry-After"]) >= 1
        seen: list = []
        final = service.wait(body["task_id"], seen=seen)
    finally:
        service.laravel.faults.delay_seconds = 0.0
    assert final["status"] == "SUCCESS", final
    assert ("PROGRESS", "fetching") in {(s, stage) for s, stage, _ in seen}
    percents = [p for s, _, p in seen if s == "PROGRESS"]
    assert percents == sorted(percents)
    document = final["result"]
    forecast = document["data"]["forecast"]
    assert len(forecast["horizon"]) == 4
    assert forecast["confidence_level"] == 80
    assert 0 <= forecast["expected_range_low"] <= forecast["next_month_forecast"] <= forecast["expected_range_high"]
    assert forecast["metrics"]["backtest_origins"] > 0
    assert 0 <= forecast["model_accuracy"] <= 100
    actual = document["data"]["actual_sales"]
    assert len(actual) >= 36 and actual[-1]["period"] < date.today().strftime("%Y-%m")
    assert document["data"]["data_quality"]["partial_month"]["period"] == date.today().strftime("%Y-%m")
    assert document["data"]["meta"]["task_id"] == body["task_id"]
    assert final["submitted_at"] and final["finished_at"]


def test_second_identical_request_is_served_from_the_cache(service):
    body = {"horizon": 2, "model": "ets"}
    first = service.wait(service.submit(body).json()["task_id"])
    second = service.wait(service.submit(body).json()["task_id"])
    assert first["status"] == second["status"] == "SUCCESS"
    assert first["result"]["data"]["meta"]["cached"] is False
    assert second["result"]["data"]["meta"]["cached"] is True
    assert second["result"]["data"]["forecast"] == first["result"]["data"]["forecast"]
    assert second["result"]["data"]["meta"]["data_fingerprint"] == first["result"]["data"]["meta"]["data_fingerprint"]


def test_concurrent_identical_requests_are_computed_once(service):
    start = months_before(date.today(), 30).isoformat()  # a range no other test asks for
    body = {"start_date": start, "horizon": 3}
    service.laravel.faults.delay_seconds = 0.1
    try:
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: service.submit(body), range(8)))
        ids = {r.json()["task_id"] for r in responses}
        assert all(r.status_code == 202 for r in responses)
        assert len(ids) == 1
        final = service.wait(ids.pop())
    finally:
        service.laravel.faults.delay_seconds = 0.0
    assert final["status"] == "SUCCESS"
    assert service.laravel.page_one_requests(start) == 1


def test_refresh_starts_a_new_job(service):
    body = {"horizon": 5, "model": "theta"}
    first = service.wait(service.submit(body).json()["task_id"])
    again = service.submit({**body, "refresh": True}).json()["task_id"]
    assert again != first["task_id"]
    final = service.wait(again)
    assert final["result"]["data"]["meta"]["cached"] is False


def test_cancel_a_running_job(service):
    service.laravel.faults.delay_seconds = 0.5
    try:
        task_id = service.submit({"horizon": 6, "refresh": True}).json()["task_id"]
        deadline = time.monotonic() + 30
        while service.status(task_id)["status"] not in ("STARTED", "PROGRESS") and time.monotonic() < deadline:
            time.sleep(0.1)
        response = requests.delete(f"{service.url}/api/v1/forecasts/{task_id}", headers=service.headers, timeout=10)
        assert response.status_code == 202, response.text
        final = service.wait(task_id, timeout=60)
    finally:
        service.laravel.faults.delay_seconds = 0.0
    assert final["status"] == "REVOKED"
    assert final["error"]["code"] == "cancelled"
    response = requests.delete(f"{service.url}/api/v1/forecasts/{task_id}", headers=service.headers, timeout=10)
    assert response.status_code == 409


def test_unknown_id_is_404(service):
    for task_id in ("0b0e8f9c-1111-4a4a-9999-000000000000", "not-a-task"):
        response = requests.get(f"{service.url}/api/v1/forecasts/{task_id}", headers=service.headers, timeout=10)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_insufficient_history_fails_with_its_code(service):
    start = months_before(date.today(), 2).isoformat()  # two complete months
    final = service.wait(service.submit({"start_date": start}).json()["task_id"])
    assert final["status"] == "FAILURE"
    assert final["error"]["code"] == "insufficient_history"


def test_original_endpoint_keeps_its_shape(service):
    response = requests.get(f"{service.url}/api/sales-forecast", headers=service.headers, timeout=90)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    for name in ("next_month_forecast", "confidence_level", "expected_range_low", "expected_range_high",
                 "growth_rate", "model_accuracy"):
        assert name in body["data"]["forecast"]
    assert {"month", "total_sales"} <= set(body["data"]["actual_sales"][0])


def test_laravel_down(service):
    service.laravel.stop()
    try:
        final = service.wait(service.submit({"refresh": True, "horizon": 9}).json()["task_id"], timeout=90)
        assert final["status"] == "FAILURE"
        assert final["error"]["code"] == "upstream_unavailable"
        response = requests.get(f"{service.url}/api/sales-forecast?horizon=8", headers=service.headers, timeout=90)
        assert response.status_code == 502, response.text
        assert response.json()["error"]["code"] == "upstream_unavailable"
    finally:
        service.laravel.start()


def test_api_keys_are_required_when_configured(service):
    url = f"{service.url}/api/v1/forecasts"
    assert requests.post(url, json={}, timeout=10).status_code == 401
    assert requests.post(url, json={}, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert requests.post(url, json={}, headers={"X-API-Key": "wrong"}, timeout=10).status_code == 401
    ok = requests.post(url, json={"horizon": 2, "model": "ets"}, headers={"X-API-Key": "e2e-key-9f2c"}, timeout=10)
    assert ok.status_code == 202
    assert requests.get(f"{service.url}/healthz", timeout=10).status_code == 200  # not under /api/


HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    ("not json", b"hello", "application/json"),
    ("truncated json", b'{"horizon": 3', "application/json"),
    ("array", b"[1, 2, 3]", "application/json"),
    ("string", b'"auto"', "application/json"),
    ("number", b"42", "application/json"),
    ("null", b"null", "application/json"),
    ("nested junk", b'{"horizon": {"$gt": 1}}', "application/json"),
    ("huge horizon", b'{"horizon": 1e308}', "application/json"),
    ("huge int", b'{"horizon": 123456789012345678901234567890}', "application/json"),
    ("negative horizon", b'{"horizon": -1}', "application/json"),
    ("NaN level", b'{"level": NaN}', "application/json"),
    ("Infinity level", b'{"level": Infinity}', "application/json"),
    ("bool horizon", b'{"horizon": true}', "application/json"),
    ("string horizon", b'{"horizon": "three"}', "application/json"),
    ("fraction horizon", b'{"horizon": 2.5}', "application/json"),
    ("level 100", b'{"level": 100}', "application/json"),
    ("unknown model", b'{"model": "__import__(\'os\')"}', "application/json"),
    ("unknown field", b'{"horizon": 3, "admin": true}', "application/json"),
    ("bad date", b'{"start_date": "2025-02-30"}', "application/json"),
    ("date words", b'{"start_date": "yesterday"}', "application/json"),
    ("dates reversed", b'{"start_date": "2025-05-01", "end_date": "2025-01-01"}', "application/json"),
    ("year 9999", b'{"end_date": "9999-12-31"}', "application/json"),
    ("sql status", b'{"status": "completed\' OR 1=1 --"}', "application/json"),
    ("script status", b'{"status": "<script>alert(1)</script>"}', "application/json"),
    ("long string", json.dumps({"status": "x" * 10000}).encode(), "application/json"),
    ("null byte", b'{"status": "comp\\u0000leted"}', "application/json"),
    ("invalid utf-8", b'{"status": "\xff\xfe"}', "application/json"),
    ("refresh string", b'{"refresh": "yes"}', "application/json"),
    ("callback file url", b'{"callback_url": "file:///etc/passwd"}', "application/json"),
    ("callback no host", b'{"callback_url": "http://"}', "application/json"),
    ("form encoded", b"horizon=3", "application/x-www-form-urlencoded"),
    ("xml", b"<horizon>3</horizon>", "application/xml"),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "application/json"),
    ("too large", b'{"status": "' + b"a" * 200_000 + b'"}', "application/json"),
    ("duplicate keys", b'{"horizon": 3, "horizon": 99}', "application/json"),
]


@pytest.mark.parametrize("name, body, content_type", HOSTILE_BODIES, ids=[c[0] for c in HOSTILE_BODIES])
def test_hostile_bodies_get_4xx_json(service, name, body, content_type):
    response = requests.post(
        f"{service.url}/api/v1/forecasts",
        data=body,
        headers={**service.headers, "Content-Type": content_type},
        timeout=10,
    )
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    error = response.json()
    assert error["status"] == "error" and error["error"]["code"] in ("invalid_request", "payload_too_large")
