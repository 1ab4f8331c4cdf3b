"""Completion webhooks against a real worker and a local HTTP receiver (CONTRACT §4 callback_url).

The worker POSTs the final status document to the job's callback_url, signed per Standard
Webhooks; the receiver here checks the signature with shared/contract/webhooks.py and with the PHP
verifier of the Laravel package (its WebhookSignature, loaded outside Laravel by examples/laravel/bootstrap.php).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from shared.contract.webhooks import signing_key, verify
from tests.laravel.conftest import ROOT, VALID_KWARGS, WEBHOOK_SECRET, Worker, require_php, run_php
from worker.webhooks import WEBHOOK_BACKOFF_BASE_SECONDS

pytestmark = pytest.mark.slow
KEY = signing_key(WEBHOOK_SECRET)


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records every request; answers each path from its script of statuses, then 200."""

    port: int
    hits: list[Hit] = field(default_factory=list)
    scripts: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def for_path(self, path: str, count: int, timeout: float = 120.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [h for h in self.hits if h.path == path]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{len(found)} of {count} requests to {path} after {timeout}s")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                script = state.scripts.get(self.path) or []
                status, headers = script.pop(0) if script else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _verified_document(hit: Hit) -> dict[str, Any]:
    verify(KEY, hit.headers, hit.body)
    return json.loads(hit.body)


def test_success_webhook_is_signed_and_carries_the_status_document(worker: Worker, receiver: Receiver) -> None:
    task_id = worker.dispatch({**VALID_KWARGS, "callback_url": receiver.url("/done")})
    meta = worker.wait_final(task_id)
    assert meta["status"] == "SUCCESS"
    [hit] = receiver.for_path("/done", 1)
    assert hit.headers["webhook-id"] == task_id
    assert hit.headers["content-type"] == "application/json"
    document = _verified_document(hit)
    assert set(document) == {"task_id", "status", "progress", "submitted_at", "finished_at", "result", "error"}
    assert document["task_id"] == task_id and document["status"] == "SUCCESS"
    assert document["result"] == meta["result"]  # the same document the result key holds
    assert document["finished_at"] and document["error"] is None
    assert document["progress"] == {"stage": "done", "percent": 100}


def test_failure_webhook_carries_the_error(worker: Worker, receiver: Receiver) -> None:
    task_id = worker.dispatch({"horizon": 99, "callback_url": receiver.url("/failed")})
    assert worker.wait_final(task_id)["status"] == "FAILURE"
    [hit] = receiver.for_path("/failed", 1)
    document = _verified_document(hit)
    assert document["status"] == "FAILURE" and document["result"] is None
    assert document["error"]["code"] == "invalid_request"


def _counted(worker: Worker) -> dict[str, int]:
    from shared.stores.webhook_stats import WebhookStats

    return WebhookStats(worker.client).read()  # what the web's /metrics reports


def test_delivery_is_retried_with_backoff_after_a_500(worker: Worker, receiver: Receiver) -> None:
    from tests.waiting import wait_for

    before = _counted(worker)
    receiver.scripts["/flaky"] = [(500, {}), (503, {})]
    task_id = worker.dispatch({**VALID_KWARGS, "callback_url": receiver.url("/flaky")})
    hits = receiver.for_path("/flaky", 3, timeout=120)
    assert [h.headers["webhook-id"] for h in hits] == [task_id] * 3  # one message, three attempts
    assert hits[0].body == hits[1].body == hits[2].body
    for hit in hits:
        _verified_document(hit)  # each attempt is signed afresh
    gaps = [b.at - a.at for a, b in zip(hits, hits[1:])]
    assert gaps[0] >= WEBHOOK_BACKOFF_BASE_SECONDS * 0.9 and gaps[1] >= 2 * WEBHOOK_BACKOFF_BASE_SECONDS * 0.9, gaps
    time.sleep(2 * WEBHOOK_BACKOFF_BASE_SECONDS)
    assert len(receiver.for_path("/flaky", 3)) == 3, "delivered: no further attempt"
    wait_for("the delivery counted", lambda: _counted(worker)["delivered"] == before["delivered"] + 1, timeout=10)
    assert _counted(worker)["retried"] == before["retried"] + 2


def test_redirects_are_not_followed(worker: Worker, receiver: Receiver) -> None:
    refused = _counted(worker)["refused"]
    receiver.scripts["/moved"] = [(302, {"Location": receiver.url("/elsewhere")})]
    task_id = worker.dispatch({**VALID_KWARGS, "callback_url": receiver.url("/moved")})
    worker.wait_final(task_id)
    receiver.for_path("/moved", 1)
    time.sleep(3 * WEBHOOK_BACKOFF_BASE_SECONDS)
    assert len(receiver.for_path("/moved", 1)) == 1
    assert not [h for h in receiver.hits if h.path == "/elsewhere"]
    assert f"webhook for {task_id}" in worker.log() and "HTTP 302" in worker.log()
    assert _counted(worker)["refused"] == refused + 1


def test_a_callback_outside_the_allowlist_fails_the_job_before_it_runs(worker: Worker) -> None:
    task_id = worker.dispatch({**VALID_KWARGS, "callback_url": "http://169.254.169.254/latest/meta-data"})
    meta = worker.wait_final(task_id, timeout=30)
    assert meta["status"] == "FAILURE"
    code, message = meta["result"]["exc_message"]
    assert code == "invalid_request" and "not allowed" in message


def test_the_php_verifier_accepts_the_webhook(worker: Worker, receiver: Receiver, tmp_path) -> None:
    php = require_php()
    task_id = worker.dispatch({**VALID_KWARGS, "callback_url": receiver.url("/php")})
    worker.wait_final(task_id)
    [hit] = receiver.for_path("/php", 1)
    (tmp_path / "body").write_bytes(hit.body)
    script = (
        f"require '{ROOT}/examples/laravel/bootstrap.php';"
        "[$_, $secret, $id, $ts, $sig, $file] = $argv; $body = file_get_contents($file);"
        "$ok = SalesForecast\\Laravel\\WebhookSignature::verify($secret, $id, $ts, $sig, $body);"
        "$bad = SalesForecast\\Laravel\\WebhookSignature::verify($secret, $id, $ts, $sig, $body . ' ');"
        "echo json_encode([$ok, $bad]);"
    )
    done = run_php(php, "-r", script, "--", WEBHOOK_SECRET, hit.headers["webhook-id"],
                   hit.headers["webhook-timestamp"], hit.headers["webhook-signature"], str(tmp_path / "body"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, False]
