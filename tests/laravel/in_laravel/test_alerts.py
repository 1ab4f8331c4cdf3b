"""Alerts (docs/api.md §11) in the shop, on every Laravel runtime (8.83 here, 10.48 and 13.31 in
Debian chroots): a real worker raises an alert while recording a job the shop dispatched through
Redis (phpredis and predis) and delivers it, signed, to the package's webhook route, whose
ForecastAlertRaised reaches the shop's listener once; alert webhooks signed by the service's own
code are verified as completion webhooks are (tampered, stale, forged, without a secret: refused);
`sales-forecast:alerts` and SalesForecast::alerts() list what the real web API reads from the
history database, seeded by shared.history's HistoryRepository.record().
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from shared.contract.webhooks import signature_headers, signing_key
from shared.history.alerts import Alert
from shared.history.records import HorizonMonth, Publication, SeriesForecast, series_key
from shared.history.repository import HistoryRepository
from tests.laravel.in_laravel.conftest import WEBHOOK_SECRET, Service
from tests.laravel.runtimes import NAMES
from tests.laravel.shop import Shop, ShopServer
from worker.webhooks import alert_body

pytestmark = pytest.mark.slow
LARAVEL_RUNTIMES = NAMES
CLIENTS = {"phpredis": "Redis", "predis": "Predis\\Client"}
# Jobs on the shop's pending sales: no other test forecasts them, so the history periods they wait
# on are the ones seeded here.
PENDING = {"model": "linear", "horizon": 1, "status": "pending"}


def _wait_for(probe, timeout: float = 120.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _database(service: Service) -> str:
    return service.stack.env["DATABASE_URL"]


def _recorded(service: Service, task_id: str) -> bool:
    """The worker's drain wrote the job's forecasts to the history database."""
    db = sqlite3.connect(_database(service).removeprefix("sqlite:///"))
    try:
        return db.execute("SELECT 1 FROM forecast_history WHERE task_id = ? LIMIT 1", (task_id,)).fetchone() is not None
    finally:
        db.close()


def _deliveries(shop: Shop) -> list[dict[str, Any]]:
    """Every ForecastAlertRaised the shop's listener saw (App\\Listeners\\RecordForecastAlert)."""
    folder = shop.root / "storage" / "app" / "alerts"
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


def _seen(shop: Shop, alert_id: str) -> list[dict[str, Any]]:
    return [d for d in _deliveries(shop) if d["alert"]["id"] == alert_id]


@pytest.fixture(scope="module")
def pending_source(shop: Shop, service: Service) -> dict[str, Any]:
    """A first job on the pending sales, recorded: the source the worker names and the months it saw."""
    code, out, log = shop.artisan_json("shop:forecast", f"--kwargs={json.dumps(PENDING)}")
    assert code == 0, log + service.log()[-3000:]
    meta = json.loads(service.redis.get(f"celery-task-meta-{out['task_id']}"))
    _wait_for(lambda: _recorded(service, out["task_id"]), what="the first pending job's history")
    actual = meta["result"]["data"]["actual_sales"]
    return {"source": meta["result"]["data"]["meta"]["source"], "actual": {a["period"]: a["total_sales"] for a in actual}}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_real_workers_alert_reaches_the_listener_once(
    client: str, shop: Shop, shop_server: ShopServer, service: Service, pending_source: dict[str, Any]
) -> None:
    """An earlier forecast (seeded) put a complete month far above what the shop sold; the next job
    the shop dispatches sees that month and the worker raises below_range, POSTed signed to the job's
    callback_url: the package's route, whose ForecastAlertRaised the shop's listener records once."""
    periods = sorted(pending_source["actual"])
    period = periods[-2] if client == "phpredis" else periods[-3]  # a month of its own for each client
    actual = pending_source["actual"][period]
    seeded_at = datetime.now(timezone.utc) - timedelta(hours=1)
    repo = HistoryRepository.from_url(_database(service))
    try:
        repo.record(Publication(
            f"seed-{uuid.uuid4()}", seeded_at, pending_source["source"], "pending", "revenue", 90.0, "fp-seed",
            periods[-4], (SeriesForecast("{}", "linear", (HorizonMonth(period, actual * 15 + 100, actual * 10 + 50, actual * 20 + 150),), ()),),
        ), now=seeded_at)
    finally:
        repo.engine.dispose()

    callback = f"{shop_server.url}/sales-forecast/webhook"
    code, out, log = shop.artisan_json("shop:forecast", f"--kwargs={json.dumps({**PENDING, 'callback_url': callback})}",
                                       env={"REDIS_CLIENT": client})
    assert code == 0, log + service.log()[-3000:]
    assert out["client"] == CLIENTS[client]
    task_id = out["task_id"]

    def delivered() -> list[dict[str, Any]]:
        return [d for d in _deliveries(shop) if d["alert"]["task_id"] == task_id and d["alert"]["period"] == period]

    [delivery] = _wait_for(delivered, what=f"the below_range alert of {period}")
    alert = delivery["alert"]
    assert alert["kind"] == "below_range" and alert["series"] == [] and alert["measure"] == "revenue"
    assert (alert["actual"], alert["low"], alert["high"], alert["level"]) == pytest.approx((actual, actual * 10 + 50, actual * 20 + 150, 90.0))
    assert delivery["webhook_id"] == alert["id"] and delivery["class"] == "SalesForecast\\Laravel\\Alert"
    # The completion webhook of the same job still reaches its own listener.
    assert _wait_for(lambda: shop.stored_webhook(task_id), what="the completion webhook")["status"] == "SUCCESS"
    time.sleep(3)  # a second delivery would have arrived by now
    assert len(_seen(shop, alert["id"])) == 1, "the listener saw the alert once"
    assert "alert %s delivered to %s" % (alert["id"], callback) in service.log()

    # The web API lists it, and so does the artisan command.
    done = shop.artisan("sales-forecast:alerts", "--kind=below_range", "--json", "--limit=1000")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert alert["id"] in [a["id"] for a in listed]


def _service_alert(**fields: Any) -> dict[str, Any]:
    """An alert as the service stores and sends it (shared.history.alerts.Alert.to_json())."""
    values = dict(id=uuid.uuid4().hex, created_at=datetime.now(timezone.utc), source="laravel:test", status="completed",
                  measure="units", frequency="week", series_key=series_key({"category": "Shoes"}), kind="forecast_drop",
                  period="2025-W44", task_id=str(uuid.uuid4()), level=90.0, change_pct=-27.5)
    return Alert(**{**values, **fields}).to_json()


def test_alert_webhooks_signed_by_the_services_code(shop: Shop, shop_server: ShopServer, service: Service) -> None:
    url = f"{shop_server.url}/sales-forecast/webhook"
    alert = _service_alert()
    now = int(time.time())
    body = alert_body(alert, now)  # worker.webhooks' own payload: {"type": "forecast.alert", "timestamp", "data"}
    right = signing_key(WEBHOOK_SECRET)

    def post(headers: dict[str, str], data: bytes = body) -> requests.Response:
        return requests.post(url, data=data, headers={"Content-Type": "application/json", **headers}, timeout=10)

    tampered = body.replace(b"-27.5", b"-72.5")
    assert tampered != body
    assert post(signature_headers(right, alert["id"], body, timestamp=now), data=tampered).status_code == 401
    forged = post(signature_headers(signing_key("whsec_" + "QUFB" * 11), alert["id"], body, timestamp=now))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "unauthorized"
    stale_at = now - 3600
    assert post(signature_headers(right, alert["id"], alert_body(alert, stale_at), timestamp=stale_at),
                data=alert_body(alert, stale_at)).status_code == 401  # replayed outside the tolerance
    assert post({}).status_code == 401
    assert _seen(shop, alert["id"]) == []

    accepted = post(signature_headers(right, alert["id"], body, timestamp=now))
    assert accepted.status_code == 204, accepted.text
    [delivery] = _seen(shop, alert["id"])
    assert delivery["webhook_id"] == alert["id"]
    assert delivery["alert"] == {**alert, "created_at": delivery["alert"]["created_at"]}
    assert datetime.fromisoformat(delivery["alert"]["created_at"]) == datetime.fromisoformat(alert["created_at"]).replace(
        microsecond=datetime.fromisoformat(alert["created_at"]).microsecond // 1000 * 1000)

    # Signed, but not an alert: refused, no event.
    broken = json.dumps({"type": "forecast.alert", "timestamp": "now", "data": {"id": "x"}}).encode()
    assert post(signature_headers(right, "x", broken), data=broken).status_code == 422
    assert _seen(shop, "x") == []


def test_without_a_webhook_secret_alerts_are_refused(shop: Shop, service: Service) -> None:
    server = shop.serve(env={"SALES_FORECAST_WEBHOOK_SECRET": ""}, workers=1)
    try:
        alert = _service_alert()
        body = alert_body(alert, int(time.time()))
        answer = requests.post(f"{server.url}/sales-forecast/webhook", data=body, timeout=10,
                               headers=signature_headers(signing_key(WEBHOOK_SECRET), alert["id"], body))
        assert answer.status_code == 401 and answer.json()["error"]["message"] == "the webhook secret is not configured"
    finally:
        server.stop()
    assert _seen(shop, alert["id"]) == []


@pytest.fixture(scope="module")
def seeded(service: Service) -> dict[str, Any]:
    """Three products whose outlook halves (forecast_drop) and the total's January below its range,
    recorded with drop_pct=10 into the history database the web API reads, under a source of their own."""
    tag = uuid.uuid4().hex[:8]
    start = datetime.now(timezone.utc).replace(microsecond=0)
    year = tuple((f"2024-{m:02d}", 100.0) for m in range(1, 13))
    source = f"laravel:http://shop-{tag}"
    repo = HistoryRepository.from_url(_database(service))
    try:
        products = [f"{tag}-p{k}" for k in range(3)]
        total = SeriesForecast("{}", "ets", (HorizonMonth("2025-01", 100, 90, 110),), year)
        for k, product in enumerate(products):
            at = start + timedelta(seconds=k + 1)
            series = SeriesForecast(series_key({"product_id": product}), "ets", (HorizonMonth("2025-01", 50, 40, 60),), year)
            repo.record(Publication(f"{tag}-job-{k}", at, source, "completed", "units", 90.0, f"fp-{k}", "2024-12", (total, series)),
                        drop_pct=10, now=at)
        seen = SeriesForecast("{}", "ets", (HorizonMonth("2025-02", 100, 90, 110),), (*year, ("2025-01", 60.0)))
        at = start + timedelta(seconds=5)
        outcome = repo.record(Publication(f"{tag}-job-seen", at, source, "completed", "units", 90.0, "fp-seen", "2025-01", (seen,)),
                              drop_pct=10, now=at)
    finally:
        repo.engine.dispose()
    assert [a.kind for a in outcome.alerts] == ["below_range"]
    return {"tag": tag, "since": start.isoformat(), "products": products}


def test_the_alerts_command_lists_the_web_apis_alerts(shop: Shop, service: Service, seeded: dict[str, Any]) -> None:
    since = f"--since={seeded['since']}"
    done = shop.artisan("sales-forecast:alerts", since)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if "|" in line and "Kind" not in line]
    assert [r.split("|")[2].strip() for r in rows] == ["below_range", "forecast_drop", "forecast_drop", "forecast_drop"], done.stdout
    drop = next(r for r in rows if f"product_id={seeded['tag']}-p1" in r)
    assert "-50.0%" in drop and "units" in drop and "2025-01" in drop
    below = rows[0]
    assert "total" in below and "60.00" in below and "90.00–110.00 @90.00%" in below

    group = json.dumps({"product_id": f"{seeded['tag']}-p2"})
    done = shop.artisan("sales-forecast:alerts", f"--group={group}", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    [alert] = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert (alert["kind"], alert["series"], alert["change_pct"], alert["task_id"]) == (
        "forecast_drop", {"product_id": f"{seeded['tag']}-p2"}, -50.0, f"{seeded['tag']}-job-2")

    done = shop.artisan("sales-forecast:alerts", since, "--kind=forecast_drop", "--limit=2")
    assert done.returncode == 0 and done.stdout.count("forecast_drop") == 2 and "More: --cursor=" in done.stdout, done.stdout
    cursor = done.stdout.split("More: --cursor=")[1].split()[0]
    done = shop.artisan("sales-forecast:alerts", since, "--kind=forecast_drop", "--limit=2", f"--cursor={cursor}")
    assert done.returncode == 0 and done.stdout.count("forecast_drop") == 1 and "More:" not in done.stdout, done.stdout

    done = shop.artisan("sales-forecast:alerts", "--kind=falling")
    assert done.returncode == 64 and "kind: must be one of below_range, above_range, forecast_drop" in done.stdout + done.stderr
    done = shop.artisan("sales-forecast:alerts", "--since=yesterday")  # refused by the service, naming the field
    assert done.returncode == 64 and "invalid_request" in done.stdout + done.stderr and "since" in done.stdout + done.stderr
    done = shop.artisan("sales-forecast:alerts", "--since=2999-01-01")
    assert done.returncode == 0 and "No alerts." in done.stdout
    done = shop.artisan("sales-forecast:alerts", env={"SALES_FORECAST_API_KEY": "wrong"})
    assert done.returncode == 69 and "unauthorized" in done.stdout + done.stderr


def test_the_client_pages_the_web_apis_alerts(shop: Shop, service: Service, seeded: dict[str, Any]) -> None:
    code, out, log = shop.artisan_json("shop:alerts", f"--since={seeded['since']}")  # docs/laravel.md's snippet, pages of 2
    assert code == 0, log
    assert [(kind, series) for kind, series, *_ in out["paged"]] == [
        ("below_range", []),
        *[("forecast_drop", {"product_id": p}) for p in reversed(seeded["products"])],
    ]
    assert out["paged"][0][3] == 60.0 and out["paged"][1][3] == -50.0
    drops = {a["id"]: a for a in out["drops"]}
    mine = {a["series"]["product_id"] for a in drops.values()
            if isinstance(a["series"], dict) and a["series"].get("product_id", "").startswith(seeded["tag"])}
    assert mine == set(seeded["products"])  # every forecast_drop, the other pages' too
    assert all(a["kind"] == "forecast_drop" for a in drops.values())

