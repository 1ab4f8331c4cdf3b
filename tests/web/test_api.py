"""POST/GET/DELETE /api/v1/forecasts against a real Redis and a real Celery app (no worker)."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.contract.protocol import FORECAST_TASK
from shared.contract.schema import months_before
from shared.stores.jobs import JobStore


def queued_messages(web_redis, queue="forecasts"):
    """The messages waiting on the queue's Redis list, oldest first (kombu LPUSHes, BRPOPs)."""
    return [json.loads(raw) for raw in reversed(web_redis.lrange(queue, 0, -1))]


def message_kwargs(message):
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args == []
    return kwargs


def test_submit_returns_202_location_and_records_the_job(web_client, web_redis):
    response = web_client.post("/api/v1/forecasts", json={"horizon": 6, "model": "ets"})
    assert response.status_code == 202
    body = response.get_json()
    task_id = body["task_id"]
    assert body == {"task_id": task_id, "status": "PENDING", "status_url": f"/api/v1/forecasts/{task_id}"}
    assert response.headers["Location"] == body["status_url"]
    assert response.headers["Retry-After"] == "1"
    record = JobStore(web_redis).get(task_id)
    assert record is not None and record.params["horizon"] == 6
    assert task_id in JobStore(web_redis).recent()


def test_the_message_is_on_the_queue_with_resolved_kwargs(web_client, web_redis):
    task_id = web_client.post("/api/v1/forecasts", json={"horizon": 6, "level": 80}).get_json()["task_id"]
    (message,) = queued_messages(web_redis)
    assert message["headers"]["task"] == FORECAST_TASK
    assert message["headers"]["id"] == task_id
    assert message["content-type"] == "application/json"
    today = datetime.now(ZoneInfo("UTC")).date()
    assert message_kwargs(message) == {
        "start_date": months_before(today, 36).isoformat(),
        "end_date": today.isoformat(),
        "status": "completed",
        "horizon": 6,
        "level": 80.0,
        "model": "auto",
        "callback_url": None,
        "refresh": False,
        "group_by": None,  # docs/api.md §8; the single-series forecast when unset
        "measure": "revenue",
        # docs/api.md §10, resolved: the frequency, HOLIDAY_COUNTRY's holidays (unset: none), no events
        "frequency": "month",
        "holidays": [],
        "events": [],
    }


def test_default_dates_use_the_sales_timezone(make_web_app, web_redis):
    client = make_web_app(sales_timezone="Pacific/Kiritimati").test_client()  # UTC+14
    client.post("/api/v1/forecasts")
    kwargs = message_kwargs(queued_messages(web_redis)[0])
    assert kwargs["end_date"] == datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()


def test_empty_body_means_defaults(web_client):
    response = web_client.post("/api/v1/forecasts", data=b"")
    assert response.status_code == 202


def test_status_of_a_queued_job(web_client):
    task_id = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    response = web_client.get(f"/api/v1/forecasts/{task_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "PENDING"
    assert body["progress"] == {"stage": "queued", "percent": 0}
    assert body["submitted_at"].endswith("Z")
    assert body["finished_at"] is None and body["result"] is None and body["error"] is None


def test_unknown_id_is_404(web_client):
    for task_id in ("no-such-task", "x" * 300):
        response = web_client.get(f"/api/v1/forecasts/{task_id}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert web_client.delete("/api/v1/forecasts/no-such-task").status_code == 404


def test_identical_request_joins_the_job_in_flight(web_client, web_redis):
    first = web_client.post("/api/v1/forecasts", json={"horizon": 4}).get_json()["task_id"]
    second = web_client.post("/api/v1/forecasts", json={"horizon": 4}).get_json()["task_id"]
    other = web_client.post("/api/v1/forecasts", json={"horizon": 5}).get_json()["task_id"]
    assert first == second != other
    assert len(queued_messages(web_redis)) == 2


def test_a_finished_job_is_not_joined(web_client, web_celery):
    first = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    web_celery.backend.store_result(first, {"status": "success", "data": {}}, "SUCCESS")
    second = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    assert second != first
    assert web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"] == second


def test_refresh_bypasses_the_in_flight_job(web_client, web_redis):
    first = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    fresh = web_client.post("/api/v1/forecasts", json={"refresh": True}).get_json()["task_id"]
    assert fresh != first
    # Later identical requests join the fresh job.
    assert web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"] == fresh
    assert len(queued_messages(web_redis)) == 2


def test_idempotency_key_same_body_same_task(web_client, web_redis):
    headers = {"Idempotency-Key": "order-42"}
    first = web_client.post("/api/v1/forecasts", json={"horizon": 2}, headers=headers)
    again = web_client.post("/api/v1/forecasts", json={"horizon": 2}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.get_json()["task_id"] == again.get_json()["task_id"]
    assert len(queued_messages(web_redis)) == 1


def test_idempotency_key_other_body_is_422(web_client):
    headers = {"Idempotency-Key": "order-43"}
    assert web_client.post("/api/v1/forecasts", json={"horizon": 2}, headers=headers).status_code == 202
    response = web_client.post("/api/v1/forecasts", json={"horizon": 3}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_request"
    assert response.get_json()["error"]["field"] == "Idempotency-Key"


def test_bad_idempotency_key_is_rejected(web_client):
    response = web_client.post("/api/v1/forecasts", json={}, headers={"Idempotency-Key": "a b"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "Idempotency-Key"


def test_cancel_a_queued_job(web_client, web_redis, web_celery):
    task_id = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    response = web_client.delete(f"/api/v1/forecasts/{task_id}")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "REVOKED"
    assert body["error"] == {"code": "cancelled", "message": "the job was cancelled"}
    assert JobStore(web_redis).is_cancelled(task_id)
    raw = json.loads(web_redis.get(f"celery-task-meta-{task_id}"))
    assert raw["status"] == "REVOKED"
    # A cancelled job is not joined by the next identical request.
    assert web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"] != task_id
    # Cancelling again: it has finished.
    again = web_client.delete(f"/api/v1/forecasts/{task_id}")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_finished"


def test_cancel_a_running_job_sets_the_flag_only(web_client, web_redis, web_celery):
    task_id = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    web_celery.backend.store_result(task_id, {"stage": "fetching", "percent": 10}, "PROGRESS")
    response = web_client.delete(f"/api/v1/forecasts/{task_id}")
    assert response.status_code == 202
    assert response.get_json()["status"] == "PROGRESS"  # the worker stops at its next stage
    assert JobStore(web_redis).is_cancelled(task_id)


def test_cancel_a_finished_job_is_409(web_client, web_celery):
    task_id = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    web_celery.backend.store_result(task_id, {"status": "success", "data": {}}, "SUCCESS")
    assert web_client.delete(f"/api/v1/forecasts/{task_id}").status_code == 409


def test_unknown_route_and_wrong_method_are_json(web_client):
    missing = web_client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = web_client.put("/api/v1/forecasts", json={})
    assert wrong.status_code == 405
    assert wrong.get_json()["status"] == "error"
    assert "POST" in wrong.headers["Allow"]


def test_metrics_count_submissions_and_label_routes_by_rule(web_client):
    task_id = web_client.post("/api/v1/forecasts", json={}).get_json()["task_id"]
    web_client.post("/api/v1/forecasts", json={})
    web_client.get(f"/api/v1/forecasts/{task_id}")
    web_client.get("/api/v1/forecasts/no-such-task")
    text = web_client.get("/metrics").get_data(as_text=True)
    assert 'sf_jobs_submitted_total{outcome="created"} 1.0' in text
    assert 'sf_jobs_submitted_total{outcome="joined"} 1.0' in text
    assert 'method="POST",route="/api/v1/forecasts",status="202"} 2.0' in text
    assert 'route="/api/v1/forecasts/<task_id>",status="404"} 1.0' in text
    assert task_id not in text and "no-such-task" not in text
    assert "sf_http_request_duration_seconds_bucket" in text


def test_an_unexpected_error_is_a_500_json_without_details(make_web_app, monkeypatch, caplog):
    app = make_web_app()
    service = app.extensions["sales_forecast"]

    def broken(task_id):
        raise ValueError("secret internals")

    monkeypatch.setattr(service, "read_meta", broken)
    response = app.test_client().get("/api/v1/forecasts/anything")
    assert response.status_code == 500
    assert response.get_json() == {"status": "error", "error": {"code": "internal_error", "message": "internal error"}}
    assert "secret internals" in caplog.text  # logged with its traceback, not sent
