"""shared.contract.status: Celery result meta -> status document, as pure functions, and through GET."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from celery.exceptions import TimeLimitExceeded, WorkerLostError

from shared.contract.errors import Cancelled, InsufficientHistory, UpstreamUnavailable
from shared.contract.status import build_status, is_terminal, job_status, parse_time
from shared.stores.jobs import JobStore


def meta(status, result=None, date_done=None):
    return {"status": status, "result": result, "traceback": None, "date_done": date_done}


def test_no_meta_is_pending_queued():
    doc = build_status("t1", None, submitted_at=1_700_000_000.0)
    assert doc.status == "PENDING"
    assert doc.progress.model_dump() == {"stage": "queued", "percent": 0}
    assert doc.submitted_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert doc.finished_at is None and doc.result is None and doc.error is None


@pytest.mark.parametrize("state", ["PENDING", "RECEIVED"])
def test_pending_and_received(state):
    doc = build_status("t", meta(state))
    assert doc.status == "PENDING" and doc.progress.stage == "queued"


def test_started():
    doc = build_status("t", meta("STARTED", {"pid": 1, "hostname": "w1"}))
    assert doc.status == "STARTED"
    assert doc.progress.model_dump() == {"stage": "started", "percent": 0}


def test_progress_carries_stage_and_percent():
    doc = build_status("t", meta("PROGRESS", {"stage": "fetching", "percent": 40}))
    assert doc.status == "PROGRESS"
    assert doc.progress.model_dump() == {"stage": "fetching", "percent": 40}


@pytest.mark.parametrize("result", [None, "junk", {"stage": 5, "percent": "x"}, {"percent": float("nan")}])
def test_progress_with_junk_meta_still_maps(result):
    doc = build_status("t", meta("PROGRESS", result))
    assert doc.status == "PROGRESS" and 0 <= doc.progress.percent <= 100


def test_progress_percent_is_clipped():
    assert build_status("t", meta("PROGRESS", {"stage": "x", "percent": 250})).progress.percent == 100


def test_retry_is_progress_retrying():
    doc = build_status("t", meta("RETRY", {"exc_type": "UpstreamUnavailable", "exc_message": ["x"]}))
    assert doc.status == "PROGRESS" and doc.progress.stage == "retrying"
    assert doc.error is None


def test_success_returns_the_document():
    document = {"status": "success", "data": {"actual_sales": []}}
    doc = build_status("t", meta("SUCCESS", document, "2025-01-02T03:04:05.000006+00:00"))
    assert doc.status == "SUCCESS"
    assert doc.result == document
    assert doc.progress.model_dump() == {"stage": "done", "percent": 100}
    assert doc.finished_at == datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def test_success_without_document_is_an_internal_failure():
    doc = build_status("t", meta("SUCCESS", 42))
    assert doc.status == "FAILURE" and doc.error.code == "internal_error"


def test_failure_with_shared_error_keeps_code_and_message():
    stored = {"exc_type": "UpstreamUnavailable", "exc_message": ["upstream_unavailable", "Laravel down"],
              "exc_module": "shared.contract.errors"}
    doc = build_status("t", meta("FAILURE", stored, "2025-01-02T03:04:05"))
    assert doc.status == "FAILURE"
    assert doc.error.model_dump(exclude_none=True) == {"code": "upstream_unavailable", "message": "Laravel down"}
    assert doc.finished_at.tzinfo is not None  # naive date_done read as UTC


@pytest.mark.parametrize(
    "exc_type,message",
    [("WorkerLostError", "lost"), ("TimeLimitExceeded", "ran out of time"), ("ZeroDivisionError", "unexpectedly")],
)
def test_foreign_failures_are_internal_and_short(exc_type, message):
    stored = {"exc_type": exc_type, "exc_message": ["Traceback (most recent call last): secret"], "exc_module": "x"}
    doc = build_status("t", {**meta("FAILURE", stored), "traceback": "Traceback ... secret"})
    assert doc.error.code == "internal_error"
    assert message in doc.error.message
    assert "secret" not in doc.model_dump_json()


def test_failure_with_garbage_result():
    assert build_status("t", meta("FAILURE", "boom")).error.code == "internal_error"
    assert build_status("t", meta("FAILURE", {"exc_message": ["not_a_code", "x"]})).error.code == "internal_error"


def test_revoked_is_cancelled():
    doc = build_status("t", meta("REVOKED", None, "2025-01-02T03:04:05+00:00"))
    assert doc.status == "REVOKED" and doc.error.code == "cancelled"
    assert doc.progress.stage == "cancelled"


def test_failure_cancelled_reads_as_revoked():
    stored = {"exc_type": "Cancelled", "exc_message": ["cancelled", "stopped"], "exc_module": "shared.contract.errors"}
    assert job_status(meta("FAILURE", stored)) == "REVOKED"


def test_rejected_is_failure():
    doc = build_status("t", meta("REJECTED"))
    assert doc.status == "FAILURE" and doc.error.code == "internal_error"


def test_terminal_states():
    assert not is_terminal(None)
    assert not is_terminal(meta("PROGRESS"))
    assert all(is_terminal(meta(s)) for s in ("SUCCESS", "FAILURE", "REVOKED"))


@pytest.mark.parametrize("value", [None, "nonsense", [], "9999-99-99"])
def test_parse_time_tolerates_junk(value):
    assert parse_time(value) is None


# ---- the same, through Redis as Celery writes it -------------------------------------------


@pytest.fixture
def known(web_redis):
    """Record a task id in the JobStore, as POST would."""

    def record(task_id):
        JobStore(web_redis).record(task_id, {"horizon": 3})
        return task_id

    return record


def test_get_maps_a_stored_shared_error(web_client, web_celery, known):
    task_id = known("t-fail")
    web_celery.backend.mark_as_failure(task_id, InsufficientHistory("only 2 complete months"))
    body = web_client.get(f"/api/v1/forecasts/{task_id}").get_json()
    assert body["status"] == "FAILURE"
    assert body["error"] == {"code": "insufficient_history", "message": "only 2 complete months"}
    assert body["submitted_at"].endswith("Z") and body["finished_at"]


@pytest.mark.parametrize("exc", [WorkerLostError("Worker exited prematurely"), TimeLimitExceeded(300)])
def test_get_maps_celery_failures_to_internal_error(web_client, web_celery, known, exc):
    task_id = known("t-lost")
    web_celery.backend.mark_as_failure(task_id, exc, traceback="Traceback (most recent call last): ...")
    body = web_client.get(f"/api/v1/forecasts/{task_id}").get_json()
    assert body["status"] == "FAILURE" and body["error"]["code"] == "internal_error"
    assert "Traceback" not in str(body)


def test_get_maps_progress_and_success(web_client, web_celery, known):
    task_id = known("t-ok")
    web_celery.backend.store_result(task_id, {"stage": "forecasting", "percent": 70}, "PROGRESS")
    body = web_client.get(f"/api/v1/forecasts/{task_id}").get_json()
    assert body["status"] == "PROGRESS" and body["progress"] == {"stage": "forecasting", "percent": 70}
    document = {"status": "success", "data": {"actual_sales": [], "forecast": {"next_month_forecast": 1.0}}}
    web_celery.backend.store_result(task_id, document, "SUCCESS")
    body = web_client.get(f"/api/v1/forecasts/{task_id}").get_json()
    assert body["status"] == "SUCCESS" and body["result"] == document and body["error"] is None


def test_task_known_only_to_celery_is_found(web_client, web_celery):
    # Dispatched by Laravel straight into Redis: no JobStore record, but a result meta.
    web_celery.backend.store_result("laravel-1", None, "STARTED")
    body = web_client.get("/api/v1/forecasts/laravel-1").get_json()
    assert body["status"] == "STARTED" and body["submitted_at"] is None


def test_cancelled_failure_through_redis(web_client, web_celery, known):
    task_id = known("t-cancel")
    web_celery.backend.mark_as_failure(task_id, Cancelled("cancelled by request"))
    assert web_client.get(f"/api/v1/forecasts/{task_id}").get_json()["status"] == "REVOKED"


def test_finished_jobs_are_counted_once(web_client, web_celery, known):
    task_id = known("t-count")
    web_celery.backend.mark_as_failure(task_id, UpstreamUnavailable("down"))
    for _ in range(3):
        web_client.get(f"/api/v1/forecasts/{task_id}")
    text = web_client.get("/metrics").get_data(as_text=True)
    assert 'sf_jobs_finished_total{code="upstream_unavailable",status="FAILURE"} 1.0' in text
