"""GET /api/sales-forecast: the original endpoint, kept for existing frontends (docs/api.md §4).

It submits the default forecast (joining an identical job already in flight), waits for it up to
LEGACY_WAIT_SECONDS, and answers in the original shape: the result document exactly as the worker
stored it. A failure answers with its code's status (502 Laravel unreachable, 422 too little
history...); a job still running when the bound passes answers 202 with its task id, like POST.

The original endpoint took no parameters; start_date, end_date, horizon, level, model and frequency
are accepted as query parameters and validated like the POST body. Other query parameters (cache
busters such as jQuery's ``_=``) are ignored, as they always were.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from shared.contract.errors import ErrorCode, http_status
from shared.contract.logs import bind
from shared.contract.status import JobStatus
from web.api import service, submitted_response
from web.errors import error_response
from web.requests import parse_request

bp = Blueprint("legacy", __name__)

QUERY_FIELDS = ("start_date", "end_date", "horizon", "level", "model", "frequency")


@bp.get("/api/sales-forecast")
def sales_forecast() -> Response:
    """Submit (or join) the default forecast with the query's parameters and wait up to
    LEGACY_WAIT_SECONDS: 200 with the bare result document, the failure's error body and status, or
    202 with the task id if it is still running."""
    query = {name: request.args[name] for name in QUERY_FIELDS if name in request.args}
    svc = service()
    req = parse_request(query, svc.settings.effective_callback_hosts)
    submission = svc.submit(req)
    bind(task_id=submission.task_id)
    doc = svc.wait(submission.task_id, svc.settings.legacy_wait_seconds)
    if doc is None:
        return submitted_response(submission.task_id)
    if doc.status == JobStatus.SUCCESS:
        return jsonify(doc.result)
    code = doc.error.code if doc.error else str(ErrorCode.INTERNAL_ERROR)
    message = doc.error.message if doc.error else "the job failed"
    return error_response(code, message, http_status(code))
