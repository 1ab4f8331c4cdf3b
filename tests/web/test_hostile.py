"""Whatever a client sends, POST answers a 4xx JSON error, never a 5xx (docs/api.md §4)."""
from __future__ import annotations

import json

import pytest

JSON = "application/json"

# (raw body, content type): each must be refused with a 4xx and the error shape.
HOSTILE = [
    (b"not json", JSON),
    (b"{", JSON),
    (b'{"horizon": 3,}', JSON),
    (b"[]", JSON),
    (b"[1, 2, 3]", JSON),
    (b'"a string"', JSON),
    (b"42", JSON),
    (b"null x", JSON),
    (b"true", JSON),
    (b'{"horizon": NaN}', JSON),
    (b'{"level": Infinity}', JSON),
    (b'{"level": -Infinity}', JSON),
    (b'{"level": 1e999}', JSON),
    (b'{"horizon": 1' + b"0" * 5000 + b"}", JSON),  # past Python's int-digits limit
    (b'{"horizon": 1' + b"0" * 400 + b"}", JSON),
    (b'{"horizon": "three"}', JSON),
    (b'{"horizon": true}', JSON),
    (b'{"horizon": 3.5}', JSON),
    (b'{"horizon": 0}', JSON),
    (b'{"horizon": 25}', JSON),
    (b'{"horizon": -1}', JSON),
    (b'{"horizon": [3]}', JSON),
    (b'{"horizon": {"$gt": 1}}', JSON),
    (b'{"level": 100}', JSON),
    (b'{"level": "90%"}', JSON),
    (b'{"model": "prophet"}', JSON),
    (b'{"model": null}', JSON),
    (b'{"model": "auto; DROP TABLE sales; --"}', JSON),
    (b'{"status": "completed\' OR 1=1 --"}', JSON),
    (b'{"status": "<script>alert(1)</script>"}', JSON),
    (b'{"status": "' + b"a" * 10_000 + b'"}', JSON),
    (b'{"start_date": "2025-02-30"}', JSON),
    (b'{"start_date": "2025-13-01"}', JSON),
    (b'{"start_date": "yesterday"}', JSON),
    (b'{"start_date": "0001-01-01"}', JSON),
    (b'{"end_date": "9999-12-31"}', JSON),
    (b'{"start_date": "2025-06-01", "end_date": "2025-01-01"}', JSON),
    (b'{"start_date": 20250101}', JSON),
    (b'{"refresh": "yes"}', JSON),
    (b'{"refresh": 1}', JSON),
    (b'{"callback_url": "javascript:alert(1)"}', JSON),
    (b'{"callback_url": "file:///etc/passwd"}', JSON),
    (b'{"callback_url": "http://[::1"}', JSON),
    (b'{"callback_url": "http://example.com/\\u0000x"}', JSON),
    (b'{"callback_url": "http://example.com/\\ud800"}', JSON),
    (b'{"callback_url": "http://example.com/' + b"a" * 10_000 + b'"}', JSON),
    (b'{"status": "compl\\u0000eted"}', JSON),
    (b'{"unknown_field": 1}', JSON),
    (b'{"__proto__": {"admin": true}}', JSON),
    (b'{"horizon": 3, "horizon": "x"}', JSON),
    (b'{"a": ' * 5000 + b"1" + b"}" * 5000, JSON),  # deep nesting
    (b"[" * 20_000 + b"]" * 20_000, JSON),
    (b"\xff\xfe\x00{", JSON),  # not UTF-8
    (b'\xef\xbb\xbf{"horizon": 3}', JSON),  # a BOM
    (b"\x00\x00\x00", JSON),
    (b'{"horizon": 3}', "text/plain"),
    (b'{"horizon": 3}', "application/x-www-form-urlencoded"),
    (b"horizon=3", "application/x-www-form-urlencoded"),
    (b'{"horizon": 3}', "multipart/form-data; boundary=x"),
    (b'<?xml version="1.0"?><horizon>3</horizon>', "application/xml"),
    (b'{"horizon": 3}', None),
]


@pytest.mark.parametrize("body,content_type", HOSTILE, ids=[f"body{i}" for i in range(len(HOSTILE))])
def test_hostile_body_is_a_4xx_json_error(web_client, web_redis, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = web_client.post("/api/v1/forecasts", data=body, headers=headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    payload = response.get_json()
    assert payload["status"] == "error"
    assert set(payload["error"]) <= {"code", "message", "field"}
    assert payload["error"]["code"] in ("invalid_request", "payload_too_large")
    assert isinstance(payload["error"]["message"], str)
    assert web_redis.llen("forecasts") == 0  # nothing was queued


def test_there_are_at_least_thirty_hostile_bodies():
    assert len(HOSTILE) >= 30


def test_malformed_json_is_400_and_invalid_fields_are_422_with_field(web_client):
    assert web_client.post("/api/v1/forecasts", data=b"{", content_type=JSON).status_code == 400
    assert web_client.post("/api/v1/forecasts", data=b"[]", content_type=JSON).status_code == 400
    assert web_client.post("/api/v1/forecasts", data=b"{}", content_type="text/plain").status_code == 400
    response = web_client.post("/api/v1/forecasts", json={"horizon": 99})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "horizon"


def test_body_too_large_is_413(make_web_app):
    client = make_web_app(max_body_bytes=1024).test_client()
    big = json.dumps({"callback_url": "http://example.com/" + "a" * 2000}).encode()
    response = client.post("/api/v1/forecasts", data=big, content_type=JSON)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_charset_parameter_is_fine(web_client):
    response = web_client.post(
        "/api/v1/forecasts", data=b'{"horizon": 3}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 202


def test_hostile_task_ids_are_404_not_500(web_client):
    for task_id in ("..%2F..%2Fetc", "%00", "celery-task-meta-x", "*", "' OR 1=1"):
        response = web_client.get(f"/api/v1/forecasts/{task_id}")
        assert response.status_code == 404, task_id


def test_hostile_legacy_query_is_4xx(web_client):
    for query in ("horizon=abc", "horizon=0", "model=evil", "start_date=2025-02-30", "level=NaN"):
        response = web_client.get(f"/api/sales-forecast?{query}")
        assert 400 <= response.status_code < 500, query
        assert response.get_json()["status"] == "error"
