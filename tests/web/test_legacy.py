"""GET /api/sales-forecast: submit the default forecast, wait up to a bound, answer the old shape.

A small stand-in worker (a thread popping the real queue and writing the result meta the way
Celery does) completes the job; no modelling code runs here.
"""
from __future__ import annotations

import json
import threading

import pytest

from shared.contract.errors import InsufficientHistory, UpstreamUnavailable

DOCUMENT = {
    "status": "success",
    "data": {
        "actual_sales": [
            {"month": "Jan", "period": "2025-01", "total_sales": 12000.0, "transaction_count": 45},
            {"month": "Feb", "period": "2025-02", "total_sales": 13000.0, "transaction_count": 50},
        ],
        "forecast": {"next_month_forecast": 13500.0, "confidence_level": 90.0, "expected_range_low": 11000.0,
                     "expected_range_high": 16000.0, "growth_rate": 8.33, "model_accuracy": 91.2},
    },
}


def fake_worker(web_redis, celery_app, outcome):
    """Take one message off the queue and store ``outcome`` (a document or an exception) for it."""

    def run():
        popped = web_redis.brpop("forecasts", timeout=5)
        if popped is None:
            return
        task_id = json.loads(popped[1])["headers"]["id"]
        if isinstance(outcome, Exception):
            celery_app.backend.mark_as_failure(task_id, outcome)
        else:
            celery_app.backend.store_result(task_id, outcome, "SUCCESS")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_legacy_answers_202_when_the_bound_passes(make_web_app, web_redis):
    client = make_web_app(legacy_wait_seconds=0.2).test_client()
    response = client.get("/api/sales-forecast")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "PENDING" and body["status_url"] == f"/api/v1/forecasts/{body['task_id']}"
    assert response.headers["Location"] == body["status_url"]
    assert web_redis.llen("forecasts") == 1
    # Asking again joins the same job rather than queueing another.
    assert client.get("/api/sales-forecast").get_json()["task_id"] == body["task_id"]
    assert web_redis.llen("forecasts") == 1


def test_legacy_returns_the_document_as_stored(make_web_app, web_redis, web_celery):
    client = make_web_app(legacy_wait_seconds=5).test_client()
    worker = fake_worker(web_redis, web_celery, DOCUMENT)
    response = client.get("/api/sales-forecast")
    worker.join(5)
    assert response.status_code == 200
    assert response.get_json() == DOCUMENT
    assert list(response.get_json()["data"]) == ["actual_sales", "forecast"]  # order kept


@pytest.mark.parametrize(
    "error,status,code",
    [
        (UpstreamUnavailable("Laravel did not answer"), 502, "upstream_unavailable"),
        (InsufficientHistory("only 2 complete months"), 422, "insufficient_history"),
        (RuntimeError("boom"), 500, "internal_error"),
    ],
)
def test_legacy_failures_map_to_statuses(make_web_app, web_redis, web_celery, error, status, code):
    client = make_web_app(legacy_wait_seconds=5).test_client()
    worker = fake_worker(web_redis, web_celery, error)
    response = client.get("/api/sales-forecast")
    worker.join(5)
    assert response.status_code == status
    assert response.get_json() == {"status": "error", "error": {"code": code, "message": response.get_json()["error"]["message"]}}
    if code != "internal_error":
        assert response.get_json()["error"]["message"] == str(error)


def test_legacy_accepts_query_parameters(make_web_app, web_redis):
    client = make_web_app(legacy_wait_seconds=0).test_client()
    response = client.get("/api/sales-forecast?horizon=6&model=linear&start_date=2024-01-01&_=123")
    assert response.status_code == 202
    message = json.loads(web_redis.lindex("forecasts", 0))
    import base64

    kwargs = json.loads(base64.b64decode(message["body"]))[1]
    assert kwargs["horizon"] == 6 and kwargs["model"] == "linear" and kwargs["start_date"] == "2024-01-01"


@pytest.mark.parametrize(
    "query,start,end",
    [
        # "The forecast as of June 2024": the 36 months up to June, not 7.
        ("end_date=2024-06-30", "2021-07-01", "2024-06-30"),
        # An end_date older than the default window's start: a window of its own, not a 422.
        ("end_date=2019-01-15", "2016-01-01", "2018-12-31"),
        ("end_date=2024-06-30&frequency=week", "2021-07-05", "2024-06-30"),
    ],
)
def test_legacy_end_date_alone_reaches_back_from_it(make_web_app, web_redis, query, start, end):
    client = make_web_app(legacy_wait_seconds=0).test_client()
    response = client.get(f"/api/sales-forecast?{query}")
    assert response.status_code == 202
    import base64

    kwargs = json.loads(base64.b64decode(json.loads(web_redis.lindex("forecasts", 0))["body"]))[1]
    assert (kwargs["start_date"], kwargs["end_date"]) == (start, end)
