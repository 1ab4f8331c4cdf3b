"""Poison messages (CONTRACT §6), each against a real worker process.

For every case: the worker keeps running and serves the next valid job within seconds; the
message is not retried (the queue is empty afterwards, nothing is left unacknowledged); it ends
on the dead-letter list ``forecasts.dead`` with its reason, or as a FAILURE result with a clear
reason; and the worker logs it. Stock Celery 5.7, measured on the same cases, stops on three of
them, loses two, loops on one and discards the pickle (see worker/poison/, docs/laravel.md).
"""
from __future__ import annotations

import base64
import json
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from tests.laravel.conftest import DEAD, QUEUE, VALID_KWARGS, Worker, celery_message
from worker.poison import MAX_MESSAGE_BYTES, RefusalReason, Refused, inspect_message

pytestmark = pytest.mark.slow
NEXT_JOB_SECONDS = 60  # generous for a loaded CI machine; it takes about a second here


class _CreatesFile:
    """Unpickling this creates a file: proof, if the file appears, that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _drop(envelope: dict[str, Any], dotted: str) -> dict[str, Any]:
    *parents, leaf = dotted.split(".")
    node = envelope
    for name in parents:
        node = node[name]
    del node[leaf]
    return envelope


def _case(name: str, tmp_path: Path) -> tuple[bytes, str | None, RefusalReason | None]:
    """(raw message, its task id if any, the expected dead-letter reason or None for FAILURE)."""
    if name == "invalid_json":
        return b'{"body": "W10=", "headers": {', None, RefusalReason.INVALID_JSON
    if name == "not_utf8":
        return b'\xff\xfe{"body": 1}', None, RefusalReason.INVALID_JSON
    if name == "deeply_nested_json":
        return b"[" * 100_000 + b"]" * 100_000, None, RefusalReason.INVALID_JSON
    if name == "no_content_type":
        tid, env = celery_message(VALID_KWARGS)
        return json.dumps(_drop(env, "content-type")).encode(), tid, RefusalReason.UNSUPPORTED_CONTENT_TYPE
    if name == "no_delivery_tag":
        tid, env = celery_message(VALID_KWARGS)
        return json.dumps(_drop(env, "properties.delivery_tag")).encode(), tid, RefusalReason.MISSING_DELIVERY_TAG
    if name == "no_delivery_info":
        tid, env = celery_message(VALID_KWARGS)
        return json.dumps(_drop(env, "properties.delivery_info")).encode(), tid, RefusalReason.MISSING_DELIVERY_INFO
    if name == "no_headers_id":
        _, env = celery_message(VALID_KWARGS)
        return json.dumps(_drop(env, "headers.id")).encode(), None, RefusalReason.MISSING_TASK_ID
    if name == "no_headers":
        _, env = celery_message(VALID_KWARGS)
        return json.dumps(_drop(env, "headers")).encode(), None, RefusalReason.MALFORMED_ENVELOPE
    if name == "pickle":
        body = pickle.dumps(_CreatesFile(tmp_path / "unpickled"))
        tid, env = celery_message(body=body, content_type="application/x-python-serialize")
        return json.dumps(env).encode(), tid, RefusalReason.UNSUPPORTED_CONTENT_TYPE
    if name == "unknown_task":
        tid, env = celery_message({"command": "id"}, task="os.system")
        return json.dumps(env).encode(), tid, RefusalReason.UNKNOWN_TASK
    if name == "positional_args":
        tid, env = celery_message({}, args=[1, 2])
        return json.dumps(env).encode(), tid, RefusalReason.ARGUMENTS_MISMATCH
    if name == "wrong_kwargs":  # a well-formed message: the task refuses it, with a stable code
        tid, env = celery_message({"horizon": "soon", "colour": "red"})
        return json.dumps(env).encode(), tid, None
    if name == "body_not_a_list":
        tid, env = celery_message(body=b'{"horizon": 3}')
        return json.dumps(env).encode(), tid, RefusalReason.MALFORMED_BODY
    if name == "body_two_elements":
        tid, env = celery_message(body=b"[[], {}]")
        return json.dumps(env).encode(), tid, RefusalReason.MALFORMED_BODY
    if name == "body_not_base64":
        tid, env = celery_message(VALID_KWARGS)
        env["body"] = "not base64 !!"
        return json.dumps(env).encode(), tid, RefusalReason.MALFORMED_BODY
    if name == "bad_eta":
        tid, env = celery_message(VALID_KWARGS)
        env["headers"]["eta"] = "tomorrow-ish"
        return json.dumps(env).encode(), tid, RefusalReason.MALFORMED_HEADERS
    if name == "ten_megabytes":
        tid, env = celery_message({**VALID_KWARGS, "padding": "x" * 10_000_000})
        return json.dumps(env).encode(), None, RefusalReason.TOO_LARGE
    raise AssertionError(name)


CASES = [
    "invalid_json", "not_utf8", "deeply_nested_json", "no_content_type", "no_delivery_tag",
    "no_delivery_info", "no_headers_id", "no_headers", "pickle", "unknown_task", "positional_args",
    "wrong_kwargs", "body_not_a_list", "body_two_elements", "body_not_base64", "bad_eta", "ten_megabytes",
]


def _wait_dead_letter(worker: Worker, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = worker.dead_letters()
        if entries:
            return entries[0]
        assert worker.alive(), worker.log()[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"nothing dead-lettered after {timeout}s:\n{worker.log()[-3000:]}")


@pytest.mark.parametrize("case", CASES)
def test_poison_message_is_refused_and_the_worker_serves_the_next_job(
    case: str, clean: Worker, tmp_path: Path
) -> None:
    """Each malformed message is refused and dead-lettered, and the worker goes on to serve the next job."""
    worker = clean
    raw, task_id, reason = _case(case, tmp_path)
    started = time.monotonic()
    worker.push(raw)

    if reason is None:  # refused by the task: FAILURE with a stable code, no dead letter
        meta = worker.wait_final(task_id, timeout=30)
        assert meta["status"] == "FAILURE"
        assert meta["result"]["exc_message"][0] == "invalid_request"
    else:
        entry = _wait_dead_letter(worker)
        assert entry["reason"] == reason.value, entry
        assert entry["queue"] == QUEUE
        assert entry["size"] == len(raw)
        if len(raw) <= MAX_MESSAGE_BYTES:  # kept whole, byte for byte, for an operator to inspect
            kept = entry["raw"].encode() if "raw" in entry else base64.b64decode(entry["raw_base64"])
            assert kept == raw
        else:  # only the head of an oversized message
            assert entry["truncated"] is True and len(entry["raw"]) < len(raw)
        if task_id:  # the producer learns at once: FAILURE, invalid_request, naming the reason
            meta = worker.wait_final(task_id, timeout=10)
            assert meta["status"] == "FAILURE"
            code, message = meta["result"]["exc_message"]
            assert code == "invalid_request" and reason.value in message
        assert f"refused a message from '{QUEUE}' ({reason.value}" in worker.log()

    # the worker is alive and serves the next valid job
    next_id = worker.dispatch()
    meta = worker.wait_final(next_id, timeout=NEXT_JOB_SECONDS)
    assert meta["status"] == "SUCCESS", meta
    elapsed = time.monotonic() - started
    assert worker.alive()
    # nothing retried, nothing looping: the queue is empty and nothing is left unacknowledged
    time.sleep(0.5)
    assert worker.client.llen(QUEUE) == 0
    assert worker.client.hlen("unacked") == 0
    assert len(worker.dead_letters()) == (0 if reason is None else 1)
    assert not (tmp_path / "unpickled").exists(), "a pickle was deserialised"
    print(f"{case}: refused and next job served in {elapsed:.1f}s")


def test_burst_of_poison_then_valid_jobs(clean: Worker, tmp_path: Path) -> None:
    """Every case at once, interleaved with valid jobs: all valid jobs succeed, all poison is kept."""
    worker = clean
    valid: list[str] = []
    refused = 0
    for case in CASES:
        raw, _, reason = _case(case, tmp_path)
        worker.push(raw)
        refused += reason is not None
        valid.append(worker.dispatch())
    for task_id in valid:
        assert worker.wait_final(task_id, timeout=NEXT_JOB_SECONDS)["status"] == "SUCCESS"
    assert len(worker.dead_letters()) == refused
    assert worker.alive() and worker.client.llen(QUEUE) == 0
    assert not (tmp_path / "unpickled").exists()


# ---- the checks alone (no worker) ------------------------------------------------------------


def _lookup(name: str):
    def forecast_sales(**kwargs: Any) -> None: ...

    return forecast_sales if name == "forecast.sales" else None


def test_a_celery_produced_message_passes_the_guard(clean: Worker) -> None:
    """What Celery's own producer sends (ignore_result null, replaced_task_nesting...) is accepted."""
    from shared.contract.config import Settings
    from web.celery_client import create_celery_client

    app = create_celery_client(Settings(redis_url=clean.redis_url), bounded=False)
    result = app.send_task("forecast.sales", kwargs={"horizon": 6}, queue="compare")
    raw = clean.client.rpop("compare")
    assert inspect_message(raw, lookup=_lookup)["headers"]["id"] == result.id


def test_null_retries_becomes_zero() -> None:
    """A null headers.retries (as celery-for-php sends it) is delivered as 0."""
    _, env = celery_message({})
    env["headers"]["retries"] = None  # as celery-for-php sends it
    assert inspect_message(json.dumps(env).encode(), lookup=_lookup)["headers"]["retries"] == 0


def test_oversized_message_is_refused_without_parsing() -> None:
    """A message over MAX_MESSAGE_BYTES is refused as too_large before anything of it is parsed."""
    with pytest.raises(Refused) as caught:
        inspect_message(b"{" * (MAX_MESSAGE_BYTES + 1), lookup=_lookup)
    assert caught.value.reason is RefusalReason.TOO_LARGE


def test_dead_letter_list_is_bounded(clean: Worker) -> None:
    """The dead-letter list keeps only the newest DEAD_LETTER_MAX_ENTRIES refused messages."""
    from worker.poison import DEAD_LETTER_MAX_ENTRIES

    pipe = clean.client.pipeline()
    for _ in range(DEAD_LETTER_MAX_ENTRIES + 5):
        pipe.lpush(QUEUE, b"not json")
    pipe.execute()
    deadline = time.monotonic() + 60
    while clean.client.llen(QUEUE) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    assert clean.client.llen(DEAD) == DEAD_LETTER_MAX_ENTRIES
    assert clean.alive()


def test_remote_control_still_works_through_the_guard(clean: Worker) -> None:
    """inspect/ping replies (the web tier's /readyz) travel on pidbox queues the guard leaves alone."""
    from shared.contract.config import Settings
    from web.celery_client import create_celery_client

    app = create_celery_client(Settings(redis_url=clean.redis_url), bounded=False)
    replies = app.control.inspect(timeout=10, limit=1).active_queues() or {}
    assert any(q["name"] == QUEUE for queues in replies.values() for q in queues)
    assert not clean.dead_letters()
