"""Alerts end to end (docs/api.md §11): a product's sales slump in a month the service forecast; the
job that sees that month complete raises exactly one below_range alert for it, delivered once to a
real webhook receiver, signed, and listed by the API; the other products' alert rate is what their
intervals promise.

Real processes: gunicorn and two Celery worker processes on the test's date (tests/harness), Redis,
the Laravel-like server with the demo shop's sale lines, a webhook receiver in this process.
"""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from local.demo import demo_lines, demo_rows
from local.fake_laravel import FakeLaravel
from shared.contract.webhooks import signing_key, verify
from tests.harness import CLOCK_FILE_ENV
from tests.stacks import ROOT, Client, base_env, start_stack
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

API_KEY = "alerts-key-31c7"
SECRET = "alerts-webhook-secret"
SLUMP_MONTH = "2026-10"
FIRST_TODAY = date(2026, 10, 1)  # October is in progress: forecast, not yet seen
SECOND_TODAY = date(2026, 11, 1)  # October complete
REQUEST = {"group_by": ["product_id"], "measure": "units", "level": 90, "model": "ets", "horizon": 2}


class Receiver:
    """A webhook receiver: records every POST (headers and body) and answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def _slumped_lines() -> tuple[list[dict], list[dict], str, int]:
    """The demo shop to SECOND_TODAY, with its best-selling product's October lines cut by 85%."""
    rows = demo_rows(SECOND_TODAY)
    lines = demo_lines(SECOND_TODAY, rows=rows)
    units: dict[str, float] = {}
    for line in lines:
        if str(line["created_at"]).startswith(SLUMP_MONTH) and line.get("product_id") is not None:
            units[str(line["product_id"])] = units.get(str(line["product_id"]), 0.0) + float(line["quantity"])
    product = max(units, key=units.get)
    kept, n = [], 0
    for line in lines:
        if str(line["created_at"]).startswith(SLUMP_MONTH) and str(line.get("product_id")) == product:
            n += 1
            if n % 7:  # 6 of every 7 lines go
                continue
        kept.append(line)
    return rows, kept, product, len(units)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alerts")
    rows, lines, product, n_products = _slumped_lines()
    laravel = FakeLaravel(rows, items=lines, per_page=1000)
    laravel.start()
    receiver = Receiver()
    clock_file = tmp / "today"
    clock_file.write_text(FIRST_TODAY.isoformat())
    env = base_env(
        tmp, LARAVEL_API_URL=laravel.base_url, API_KEYS=API_KEY, WEBHOOK_SECRET=SECRET,
        ALERT_WEBHOOK_URL=receiver.url, DATABASE_URL=f"sqlite:///{tmp / 'history.sqlite3'}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **{CLOCK_FILE_ENV: str(clock_file)},
    )
    try:
        stack = start_stack(tmp, env, root=tmp, worker_app="tests.harness.clocked_worker",
                            web_app="tests.harness.clocked_web:create_app()")
    except BaseException:
        laravel.stop()
        receiver.stop()
        raise
    yield Client(stack, {"Authorization": f"Bearer {API_KEY}"}), clock_file, receiver, product, n_products
    stack.stop()
    laravel.stop()
    receiver.stop()


def _alerts(client: Client, **params: str) -> list[dict]:
    response = requests.get(f"{client.url}/api/v1/alerts", params={"limit": 1000, **params}, headers=client.headers,
                            timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["alerts"]


def _forecast(client: Client) -> str:
    task_id = client.submit_id(REQUEST)
    document = client.wait(task_id, timeout=240)
    assert document["status"] == "SUCCESS", document
    return task_id


def _recorded(client: Client, task_id: str) -> None:
    def seen() -> bool:
        response = requests.get(f"{client.url}/api/v1/history", params={"limit": 1000, "measure": "units"}, headers=client.headers,
                                timeout=10)
        return response.status_code == 200 and any(r["task_id"] == task_id for r in response.json()["forecasts"])

    wait_for(f"job {task_id} in the history", seen, timeout=60)


def test_a_slump_raises_one_below_range_alert_delivered_once_and_listed(shop):
    client, clock_file, receiver, product, n_products = shop
    first = _forecast(client)
    _recorded(client, first)
    assert [a for a in _alerts(client) if a["kind"] != "forecast_drop"] == []  # nothing seen complete yet

    clock_file.write_text(SECOND_TODAY.isoformat())
    second = _forecast(client)
    _recorded(client, second)
    mine = [a for a in _alerts(client, kind="below_range") if a["series"] == {"product_id": int(product)}
            or a["series"] == {"product_id": product}]
    assert len(mine) == 1, _alerts(client)
    alert = mine[0]
    assert (alert["period"], alert["task_id"], alert["frequency"], alert["measure"]) == (SLUMP_MONTH, second, "month", "units")
    assert alert["actual"] < alert["low"] and alert["level"] == 90.0

    # Delivered to ALERT_WEBHOOK_URL, once, signed with the service's key.
    def delivered() -> list:
        return [(h, b) for h, b in receiver.received if json.loads(b)["data"]["id"] == alert["id"]]

    wait_for("the alert's webhook", delivered, timeout=60)
    time.sleep(2)  # a second delivery would have come by now
    ((headers, body),) = delivered()
    verify(signing_key(SECRET.encode()), headers, body)
    payload = json.loads(body)
    assert payload["type"] == "forecast.alert" and payload["data"] == alert
    assert headers.get("webhook-id") == alert["id"]

    # Seen again by a rerun over the same data: no second alert, no second webhook.
    rerun = client.submit_id({**REQUEST, "refresh": True})
    assert client.wait(rerun, timeout=240)["status"] == "SUCCESS"
    _recorded(client, rerun)
    assert len([a for a in _alerts(client, kind="below_range") if a["id"] == alert["id"]]) == 1
    time.sleep(2)
    assert len(delivered()) == 1

    # The other products follow their models: about 5% fall below a 90% interval, not more.
    range_alerts = [a for a in _alerts(client) if a["kind"] in ("below_range", "above_range") and a["series"]]
    products = {json.dumps(a["series"]) for a in range_alerts}
    others = [a for a in range_alerts if a["id"] != alert["id"]]
    rate = len(others) / n_products
    print(f"range alerts on the other products: {len(others)} of {n_products} ({rate:.0%}); {sorted(products)}")
    assert rate <= 0.25
