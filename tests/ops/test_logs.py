"""JSON log lines: the formatter, the ids it carries, and that no secret gets through.

The web side runs a real gunicorn (the command of stack/commands.py, with a small app) and reads
its access and app lines; the worker side is checked on a real worker in test_flower.py.
"""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.redis_server import free_port
from shared.contract.config import Settings
from shared.contract.logs import (
    MASK,
    Redactor,
    bind,
    configure_json_logging,
    secrets_of,
    task_id_var,
    unbind,
)
from stack import commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lines():
    """Root logger -> JSON lines in a buffer; returns a function that reads them as dicts."""
    buffer = io.StringIO()
    handler = configure_json_logging(logging.DEBUG, stream=buffer, secrets=["configured-secret-value"])
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def test_one_json_object_a_line(lines):
    log = logging.getLogger("sf.test")
    log.info("hello %s", "world", extra={"rows": 3, "period": "2025-01"})
    [line] = lines()
    assert line["message"] == "hello world" and line["level"] == "INFO" and line["logger"] == "sf.test"
    assert line["rows"] == 3 and line["period"] == "2025-01"
    assert line["time"].endswith("Z") and "process" in line
    assert "task_id" not in line and "request_id" not in line


def test_ids_come_from_the_context(lines):
    log = logging.getLogger("sf.test")
    tokens = bind(task_id="t-1", task_name="forecast.sales")
    log.info("inside")
    unbind(tokens)
    log.info("outside")
    inside, outside = lines()
    assert inside["task_id"] == "t-1" and inside["task_name"] == "forecast.sales"
    assert "task_id" not in outside and task_id_var.get() is None


def test_ids_do_not_leak_across_threads(lines):
    log = logging.getLogger("sf.test")
    ready, done = threading.Event(), threading.Event()

    def other() -> None:
        bind(task_id="other-thread")
        ready.set()
        done.wait(5)
        log.info("from the other thread")

    thread = threading.Thread(target=other)
    thread.start()
    ready.wait(5)
    log.info("from the main thread")
    done.set()
    thread.join(5)
    by_message = {line["message"]: line for line in lines()}
    assert "task_id" not in by_message["from the main thread"]
    assert by_message["from the other thread"]["task_id"] == "other-thread"


def test_exceptions_are_one_field(lines):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("sf.test").exception("failed")
    [line] = lines()
    assert "RuntimeError: boom" in line["exception"] and line["level"] == "ERROR"


@pytest.mark.parametrize(
    "text, leaked",
    [
        ("broker redis://:hunter2-pass@redis:6379/0 down", "hunter2-pass"),
        ("GET http://user:p4ssw0rd@laravel/api/sales", "p4ssw0rd"),
        ("Authorization: Bearer eyJhbGciOi.abc-def", "eyJhbGciOi.abc-def"),
        ("callback https://hook/x?token=abc123&ok=1", "abc123"),
        ("kwargs {'api_key': 'k-123456'}", "k-123456"),
        ("laravel_api_token=tok-98765", "tok-98765"),
        ("X-API-Key: key-424242", "key-424242"),
        ("the key is configured-secret-value, verbatim", "configured-secret-value"),
    ],
)
def test_no_secret_gets_through(lines, text, leaked):
    logging.getLogger("sf.test").warning(text)
    [line] = lines()
    assert leaked not in json.dumps(line) and MASK in line["message"]


def test_secrets_in_extras_and_exceptions_are_masked(lines):
    log = logging.getLogger("sf.test")
    try:
        raise ConnectionError("cannot reach redis://:exc-password@redis:6379/0")
    except ConnectionError:
        log.exception("down", extra={"api_key": "extra-key-1", "url": "redis://:extra-password@h:1/0"})
    text = json.dumps(lines())
    for leaked in ("exc-password", "extra-key-1", "extra-password"):
        assert leaked not in text


def test_ordinary_text_is_left_alone():
    redact = Redactor(["configured-secret-value"])
    for text in ("Task forecast.sales[1f2e] succeeded in 0.5s", "params_key=abc data_fingerprint=9f",
                 "redis://redis:6379/0", "tokens_used=5", "key=value"):
        assert redact(text) == text


_PIECES = st.sampled_from([
    "redis://", "://", "u:", "pw@", "@host", "Bearer ", "BASIC\t", "ToKeN ", "baſic ", "api_key=", "x-api-key: ",
    "PASSWORD=", "pwd:", "secret", "signature=", "\"token\": \"", "abc123", "/api/v1/x", "?q=", "&", " ", "'", ":",
    "=", "İ", "K",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=6), max_size=12).map("".join))
def test_the_quick_checks_never_skip_a_pattern_that_would_match(text):
    """The redactor tests cheap conditions before each regex: it must mask exactly what the
    three patterns, applied every time, would mask."""
    from shared.contract.logs import _AUTH_SCHEME, _SECRET_ASSIGN, _URL_PASSWORD

    expected = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
    expected = _AUTH_SCHEME.sub(lambda m: m.group("head") + MASK, expected)
    expected = _SECRET_ASSIGN.sub(lambda m: m.group("head") + MASK, expected)
    assert Redactor()(text) == expected


def test_secrets_of_settings():
    settings = Settings(
        redis_url="redis://:redis-password@redis:6379/0",
        laravel_api_url="https://u:laravel-password@shop",
        laravel_api_token="laravel-token",
        secret_key="the-secret-key",
        api_keys=("api-key-1", "api-key-2"),
        flower_basic_auth="ops:flower-password,other:second-password",
    )
    assert set(secrets_of(settings)) >= {
        "redis-password", "laravel-password", "laravel-token", "the-secret-key",
        "api-key-1", "api-key-2", "flower-password", "second-password",
    }


def test_configure_is_idempotent():
    root = logging.getLogger()
    before = list(root.handlers)
    first = configure_json_logging("INFO", stream=io.StringIO())
    second = configure_json_logging("INFO", stream=io.StringIO())
    try:
        assert first not in root.handlers and second in root.handlers
        assert len(root.handlers) == len(before) + 1
    finally:
        root.removeHandler(second)


def test_worker_lines_about_a_task_carry_its_id():
    from worker.logging_setup import WorkerJsonFormatter

    # celery.app.trace logs "succeeded" with a dict of the task's id and name as its args
    record = logging.LogRecord(
        "celery.app.trace", logging.INFO, __file__, 1,
        "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
        ({"id": "abc-123", "name": "forecast.sales", "runtime": 0.5, "return_value": "{}"},), None,
    )
    line = json.loads(WorkerJsonFormatter().format(record))
    assert line["task_id"] == "abc-123" and line["task_name"] == "forecast.sales"
    assert line["message"] == "Task forecast.sales[abc-123] succeeded in 0.5s: {}"


# ---- the web tier ------------------------------------------------------------------------------

def _gunicorn_app():
    """A small app wired like the real one: gunicorn 'tests.ops.test_logs:_gunicorn_app()'."""
    from flask import Flask

    from web.logging_setup import init_logging

    app = Flask("logtest")
    init_logging(app, Settings(api_keys=("api-key-in-settings",)))

    @app.get("/api/v1/forecasts/<task_id>")
    def status(task_id: str):
        logging.getLogger("web.api").info("status asked")
        return {"task_id": task_id}

    @app.post("/api/v1/forecasts")
    def submit():
        bind(task_id="new-task-1")  # what a route that creates a task does
        return {"task_id": "new-task-1"}, 202

    return app


@pytest.fixture
def flask_lines():
    from web.logging_setup import init_logging  # noqa: F401 - the module under test

    app = _gunicorn_app()
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_sales_forecast_json", False)]
    buffer = io.StringIO()
    ours[-1].setStream(buffer)
    yield app, lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    for handler in ours:
        root.removeHandler(handler)


def test_request_ids(flask_lines):
    app, read = flask_lines
    client = app.test_client()
    response = client.get("/api/v1/forecasts/abc-1", headers={"X-Request-ID": "req-from-client"})
    assert response.headers["X-Request-ID"] == "req-from-client"
    response = client.get("/api/v1/forecasts/abc-2", headers={"X-Request-ID": "bad id; with spaces"})
    generated = response.headers["X-Request-ID"]
    assert generated != "bad id; with spaces" and len(generated) == 32
    first, second = [line for line in read() if line["message"] == "status asked"]
    assert first["request_id"] == "req-from-client" and first["task_id"] == "abc-1"
    assert second["request_id"] == generated and second["task_id"] == "abc-2"


@pytest.mark.slow
def test_gunicorn_lines_are_json_with_ids(tmp_path):
    port = free_port()
    argv = commands.web(host="127.0.0.1", port=port, workers=1)
    argv[-1] = "tests.ops.test_logs:_gunicorn_app()"
    argv[0] = str(Path(sys.executable).parent / "gunicorn")
    out = open(tmp_path / "gunicorn.log", "w+")
    process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v1/forecasts/warm-up", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        headers = {"X-Request-ID": "req-42", "Authorization": "Bearer api-key-in-settings"}
        request = urllib.request.Request(f"{base}/api/v1/forecasts/task-77?api_key=api-key-in-query", headers=headers)
        urllib.request.urlopen(request, timeout=5).read()
        post = urllib.request.Request(f"{base}/api/v1/forecasts", data=b"{}", method="POST", headers=headers)
        urllib.request.urlopen(post, timeout=5).read()
        time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(10)
    out.seek(0)
    text = out.read()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert records, text
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    [status_line] = [r for r in access if "task-77" in r["message"]]
    assert status_line["request_id"] == "req-42" and status_line["task_id"] == "task-77"
    assert status_line["http"]["status"] == 200 and status_line["http"]["method"] == "GET"
    assert "duration_ms" in status_line["http"]
    [post_line] = [r for r in access if r["http"]["method"] == "POST"]
    assert post_line["task_id"] == "new-task-1" and post_line["http"]["status"] == 202
    [app_line] = [r for r in records if r["message"] == "status asked" and r.get("task_id") == "task-77"]
    assert app_line["request_id"] == "req-42" and app_line["task_id"] == "task-77"
    assert any(r["logger"] == "gunicorn.error" for r in records), "gunicorn's own lines are JSON too"
    assert "api-key-in-query" not in text and "api-key-in-settings" not in text
