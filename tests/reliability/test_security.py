"""Security, end to end: every secret set, a full job run, and not one secret in any log line.

The stack runs with a Redis password (in REDIS_URL), LARAVEL_API_TOKEN (the Laravel-like server
requires it), API_KEYS, SECRET_KEY, WEBHOOK_SECRET and FLOWER_BASIC_AUTH, Flower included. A job
goes through the web API with a signed completion webhook; then every process log the runner
wrote (web, worker, Flower) is searched for each secret's value.

The other security properties are tested where they live:

- Flower refuses requests without its basic-auth credentials: tests/ops/test_flower.py
  (``test_flower_refuses_requests_without_credentials``); checked here again on this stack.
- JSON-only messages, a pickle refused and never deserialised:
  tests/laravel/test_poison_messages.py (the ``pickle`` case creates a file if it is unpickled).
- Signed model files, a tampered or foreign-key file refused: tests/shared/test_model_store.py.
- The callback allowlist, redirects not followed: tests/laravel/test_webhooks.py,
  tests/shared/test_webhooks.py.
- Hostile request bodies: tests/web/test_hostile.py, tests/service/test_end_to_end.py.
- Known vulnerabilities in the locked dependencies: scripts/audit.sh (pip-audit).
"""
from __future__ import annotations

import base64
import hmac
import inspect
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
import requests

from local.fake_laravel import FakeLaravel
from local.redis_server import RedisServer, free_port
from tests.reliability.conftest import ROOT, Client, base_env, log_texts, sales_rows, start_stack, wait_for

pytestmark = pytest.mark.slow

REDIS_PASSWORD = "redis-pw-Zq8r1Xv3"
LARAVEL_TOKEN = "laravel-token-Hk42pQ9s"
API_KEY = "api-key-Wn7cT2e5"
OTHER_API_KEY = "api-key-other-Lb6yU0f1"
SECRET_KEY = "secret-key-Rd3mJ8a4"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"reliability-webhook-key-32-bytes").decode()
FLOWER_USER, FLOWER_PASSWORD = "ops", "flower-pw-Gt5vK1n7"
SECRETS = {
    "Redis password": REDIS_PASSWORD,
    "LARAVEL_API_TOKEN": LARAVEL_TOKEN,
    "API key": API_KEY,
    "second API key": OTHER_API_KEY,
    "SECRET_KEY": SECRET_KEY,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "WEBHOOK_SECRET's key": WEBHOOK_SECRET[len("whsec_"):],
    "Flower password": FLOWER_PASSWORD,
}
MAX_BODY_BYTES = 4096


class Receiver:
    """Collects webhook POSTs."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/forecast-done"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    laravel = FakeLaravel(sales_rows(date.today()), per_page=200, token=LARAVEL_TOKEN)
    laravel.start()
    redis_server = RedisServer(password=REDIS_PASSWORD, data_dir=tmp / "redis").start()
    receiver = Receiver()
    env = base_env(
        tmp,
        REDIS_URL=redis_server.url,
        LARAVEL_API_URL=laravel.base_url,
        LARAVEL_API_TOKEN=LARAVEL_TOKEN,
        API_KEYS=f"{OTHER_API_KEY},{API_KEY}",
        SECRET_KEY=SECRET_KEY,
        WEBHOOK_SECRET=WEBHOOK_SECRET,
        FLOWER_BASIC_AUTH=f"{FLOWER_USER}:{FLOWER_PASSWORD}",
        FLOWER_PORT=str(free_port()),
        CALLBACK_ALLOWED_HOSTS="127.0.0.1",
        MAX_BODY_BYTES=str(MAX_BODY_BYTES),
        PYTHONPATH=str(ROOT),
    )
    stack = start_stack(tmp, env, worker_concurrency=1, flower=True)
    try:
        yield Client(stack, {"Authorization": f"Bearer {API_KEY}"}), laravel, receiver
    finally:
        stack.stop()
        redis_server.cleanup()
        receiver.stop()
        laravel.stop()


def test_full_job_with_every_secret_set_and_no_secret_in_any_log(secured):
    client, laravel, receiver = secured
    # The Redis password works end to end: web -> Redis -> worker -> Redis -> web.
    task_id = client.submit_id({"model": "linear", "horizon": 3, "callback_url": receiver.url})
    final = client.wait(task_id, timeout=90)
    assert final["status"] == "SUCCESS", final
    assert all(r.authorization == f"Bearer {LARAVEL_TOKEN}" for r in laravel.requests)
    wait_for("the completion webhook", lambda: receiver.received, timeout=30)
    headers, body = receiver.received[0]
    assert json.loads(body)["task_id"] == task_id and headers["webhook-signature"].startswith("v1,")

    # Secrets offered where a careless log line would pick them up.
    requests.get(f"{client.url}/api/v1/forecasts/{task_id}?api_key={quote(API_KEY)}", headers=client.headers, timeout=10)
    requests.get(f"{client.url}/api/v1/forecasts/{task_id}?token={quote(SECRET_KEY)}", timeout=10)  # 401
    requests.get(f"{client.url}/api/v1/forecasts/{task_id}", headers={"X-API-Key": OTHER_API_KEY}, timeout=10)
    flower = f"http://127.0.0.1:{client.stack.env['FLOWER_PORT']}"
    wait_for("Flower", lambda: requests.get(f"{flower}/healthcheck", timeout=5).ok, timeout=60)
    assert requests.get(f"{flower}/api/workers", timeout=10).status_code == 401
    with_auth = requests.get(f"{flower}/api/task/info/{task_id}", auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=10)
    assert with_auth.status_code == 200, with_auth.text
    # a job that fails: the error message names the token setting, never its value
    laravel.token = "rotated-on-the-laravel-side"
    failed = client.wait(client.submit_id({"model": "linear", "horizon": 4, "refresh": True}), timeout=90)
    laravel.token = LARAVEL_TOKEN
    assert failed["status"] == "FAILURE" and failed["error"]["code"] == "upstream_invalid"
    assert LARAVEL_TOKEN not in json.dumps(failed)

    logs = log_texts(client.stack.log_dir)
    assert {"web.log", "worker.log", "flower.log"} <= set(logs), sorted(logs)
    assert all(len(text) > 0 for text in logs.values())
    assert task_id in logs["worker.log"] and task_id in logs["web.log"]
    leaks = {
        (what, name): text.count(value)
        for name, text in logs.items()
        for what, value in SECRETS.items()
        if value in text
    }
    print(f"\nsearched {', '.join(f'{n} ({len(t.splitlines())} lines)' for n, t in logs.items())} "
          f"for {len(SECRETS)} secret values: {len(leaks)} found")
    assert not leaks, leaks


def test_body_over_max_body_bytes_is_413(secured):
    client, _, _ = secured
    body = json.dumps({"status": "a" * (MAX_BODY_BYTES * 2)})
    response = requests.post(
        f"{client.url}/api/v1/forecasts", data=body,
        headers={**client.headers, "Content-Type": "application/json"}, timeout=10,
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    # a chunked body (no Content-Length) is bounded too
    chunks = (body[i:i + 1000].encode() for i in range(0, len(body), 1000))
    response = requests.post(
        f"{client.url}/api/v1/forecasts", data=chunks,
        headers={**client.headers, "Content-Type": "application/json"}, timeout=10,
    )
    assert response.status_code in (400, 413), response.text
    assert response.json()["error"]["code"] in ("payload_too_large", "invalid_request")


def test_api_keys_are_compared_in_constant_time(monkeypatch):
    """Every configured key is compared with hmac.compare_digest, whatever matched before."""
    from web import auth

    source = inspect.getsource(auth.key_matches)
    assert "compare_digest" in source and "==" not in source
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    keys = ("first-key", "second-key", "third-key")
    assert auth.key_matches("first-key", keys)  # a match on the first key still compares all three
    assert len(calls) == 3
    calls.clear()
    assert not auth.key_matches("nope", keys)
    assert len(calls) == 3


def test_web_tier_refuses_a_wrong_redis_password(secured, tmp_path):
    """The password is really checked: the same URL with another password gets nothing."""
    import redis

    client, _, _ = secured
    url = client.stack.env["REDIS_URL"].replace(REDIS_PASSWORD, "wrong-password")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(url, socket_timeout=5).ping()
