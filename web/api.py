"""POST/GET/DELETE /api/v1/forecasts (docs/api.md §4): thin routes over the job service.

Each route reads the request (web/requests.py), calls :class:`web.jobs.ForecastService` and
shapes the answer. Errors are raised as named types and mapped to HTTP in ``web.errors``.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, url_for

from shared.contract.logs import bind
from shared.contract.schema import TERMINAL, Submitted, TaskStatus
from shared.stores.jobs import body_hash
from web.event_tokens import events_url
from web.jobs import ForecastService
from web.requests import idempotency_key, parse_request, read_json_body

EXTENSION_KEY = "sales_forecast"

bp = Blueprint("forecasts", __name__, url_prefix="/api/v1/forecasts")


def service() -> ForecastService:
    """This app's :class:`ForecastService`, made once by the app factory."""
    return current_app.extensions[EXTENSION_KEY]


def status_url(task_id: str) -> str:
    """The path of ``task_id``'s status document (GET /api/v1/forecasts/<id>)."""
    return url_for("forecasts.get_forecast", task_id=task_id)


def job_events_url(task_id: str) -> str:
    """The job's live-update stream, with a fresh token (web/event_tokens.py)."""
    return events_url(service().settings.events_token_key, task_id)


def submitted_response(task_id: str) -> Response:
    """The 202 answer to a submission: the task id and where to poll and to stream, with ``Location`` and
    ``Retry-After``."""
    url = status_url(task_id)
    submitted = Submitted(task_id=task_id, status_url=url, events_url=job_events_url(task_id))
    response = jsonify(submitted.model_dump(mode="json"))
    response.status_code = 202
    response.headers["Location"] = url
    response.headers["Retry-After"] = "1"
    return response


def status_body(doc: TaskStatus) -> dict:
    """The status document as GET /api/v1/forecasts/{id} answers it: with its events_url."""
    doc.events_url = job_events_url(doc.task_id)
    return doc.to_json_dict()


def status_response(doc: TaskStatus, status: int = 200) -> Response:
    """The status document as a response, with ``Retry-After: 1`` while the job is not final."""
    response = jsonify(status_body(doc))
    response.status_code = status
    if doc.status not in TERMINAL:
        response.headers["Retry-After"] = "1"
    return response


# ---- routes -------------------------------------------------------------------------------


@bp.post("")
def submit_forecast() -> Response:
    """POST /api/v1/forecasts: validate the request and queue it (or join an identical job in flight, or
    replay an Idempotency-Key); 202."""
    data = read_json_body()
    forecasts = service()
    req = parse_request(data, forecasts.settings.effective_callback_hosts)
    key = idempotency_key()
    submission = forecasts.submit(
        req, idempotency_key=key, body_digest=body_hash(data) if key is not None else None
    )
    bind(task_id=submission.task_id)  # the access line names the task (reset after the request)
    return submitted_response(submission.task_id)


@bp.get("/<task_id>")
def get_forecast(task_id: str) -> Response:
    """GET /api/v1/forecasts/<id>: the job's status document, with its result once finished (a final body is
    kept in this process and served as it was)."""
    forecasts = service()
    body = forecasts.finished.get(task_id)
    if body is not None:
        return Response(body, mimetype="application/json")
    doc = forecasts.status(task_id)
    response = status_response(doc)
    if doc.status in TERMINAL:
        forecasts.finished.put(task_id, response.get_data())
    return response


@bp.delete("/<task_id>")
def cancel_forecast(task_id: str) -> Response:
    """DELETE /api/v1/forecasts/<id>: cancel the job; 202 with its status (REVOKED from now on), 409
    ``already_finished`` for a job already final."""
    return status_response(service().cancel(task_id), 202)
