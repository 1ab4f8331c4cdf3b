"""The sales-forecast package inside a real Laravel app, against the real service (CONTRACT §4, §6),
on each Laravel runtime: this machine's 8.83, and 10 and 13 in Debian chroots (tests/laravel/runtimes.py).

The shop (tests/laravel/shop) installed the package with composer from a path repository and
published its config; here it dispatches through the Redis facade with phpredis and with predis,
reads results, hits the key-prefix pitfall, receives signed webhooks through the package's route
and calls the web API through Laravel's Http client.
"""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import requests

from shared.contract.webhooks import signature_headers, signing_key
from tests.laravel.in_laravel.conftest import WEBHOOK_SECRET, Service
from tests.laravel.runtimes import NAMES, Runtime
from tests.laravel.shop import PACKAGE, ROOT, Sale, Shop, ShopServer, monthly_totals

pytestmark = pytest.mark.slow
LARAVEL_RUNTIMES = NAMES  # every test here runs on Laravel 8.83, 10 and 13 (tests/laravel/runtimes.py)
CLIENTS = {"phpredis": "Redis", "predis": "Predis\\Client"}
LINEAR = {"model": "linear", "horizon": 3}


def _wait_for(probe, timeout: float = 120.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def test_the_package_is_discovered_and_its_config_published(shop: Shop) -> None:
    done = shop.artisan("list")
    assert "sales-forecast:dispatch" in done.stdout, done.stdout + done.stderr
    published = shop.root / "config" / "sales-forecast.php"
    assert published.read_text() == (PACKAGE / "config" / "sales-forecast.php").read_text()
    assert (shop.root / "vendor" / "sales-forecast" / "laravel").resolve() == PACKAGE.resolve()
    installed = json.loads((shop.root / "vendor" / "composer" / "installed.json").read_text())
    [package] = [p for p in installed["packages"] if p["name"] == "sales-forecast/laravel"]
    assert package["dist"]["type"] == "path"


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_dispatch_through_the_redis_facade_and_read_the_result(
    client: str, shop: Shop, service: Service, history: list[Sale]
) -> None:
    code, out, log = shop.artisan_json("shop:forecast", f"--kwargs={json.dumps(LINEAR)}", env={"REDIS_CLIENT": client})
    assert code == 0, log + service.log()[-3000:]
    assert out["client"] == CLIENTS[client]
    assert out["status"] == "SUCCESS" and out["error"] is None and out["hierarchy"] is None
    assert out["forecast"]["model"] == "linear" and len(out["forecast"]["horizon"]) == 3
    # The worker read the shop's sales through its API: the monthly totals are the database's.
    totals = monthly_totals(history)
    for month in out["actual_sales"]:
        assert month["total_sales"] == pytest.approx(totals.get(month["period"], 0.0), abs=0.01), month
    assert len(out["actual_sales"]) == 36


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_artisan_command_dispatches_waits_and_exits_by_outcome(client: str, shop: Shop, service: Service) -> None:
    env = {"REDIS_CLIENT": client}
    done = shop.artisan("sales-forecast:dispatch", "--horizon=2", "--model=linear", "--level=80", "--wait", "--timeout=120", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    meta = json.loads(done.stdout)
    assert meta["status"] == "SUCCESS" and meta["result"]["data"]["forecast"]["confidence_level"] == 80
    assert meta["kwargs"] == {"horizon": 2, "model": "linear", "level": 80}

    # A request the service would refuse is refused before Redis, naming the field as its 422 would.
    queued = service.redis.llen("forecasts")
    done = shop.artisan("sales-forecast:dispatch", "--horizon=99", "--wait", env=env)
    assert done.returncode == 64, done.stdout + done.stderr
    assert "invalid_request: horizon: must be between 1 and 24 for frequency month" in done.stdout + done.stderr
    assert service.redis.llen("forecasts") == queued

    # A job the service refuses when it runs still ends FAILURE with its code (an unknown sale field).
    done = shop.artisan("sales-forecast:dispatch", "--group-by=colour", "--model=linear", "--horizon=2", "--wait", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed: invalid_request" in done.stdout + done.stderr

    done = shop.artisan("sales-forecast:dispatch", "--kwargs=[1,2]", env=env)
    assert done.returncode == 64 and "JSON object" in done.stdout + done.stderr

    done = shop.artisan("sales-forecast:dispatch", "--dry-run", "--group-by=category, product_id", "--measure=units", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(base64.b64decode(json.loads(done.stdout)["body"]))[1] == {"group_by": ["category", "product_id"], "measure": "units"}

    # Every field has an option (docs/laravel.md §2 shows each).
    events = '[{"name":"Sale","start":"2025-07-01","end":"2025-07-14"}]'
    done = shop.artisan("sales-forecast:dispatch", "--frequency=week", "--horizon=26", "--holidays=US-CA", f"--events={events}",
                        "--dry-run", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(base64.b64decode(json.loads(done.stdout)["body"]))[1] == {
        "frequency": "week", "horizon": 26, "holidays": "US-CA", "events": [{"name": "Sale", "start": "2025-07-01", "end": "2025-07-14"}]}
    done = shop.artisan("sales-forecast:dispatch", "--lead-time=2", "--review-period=1", "--service-level=95", "--start-date=2023-01-01",
                        "--end-date=2025-12-31", "--status=completed", "--refresh", "--dry-run", "--callback-url=http://127.0.0.1/x",
                        "--holidays=none", "--level=80", "--model=ets", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(base64.b64decode(json.loads(done.stdout)["body"]))[1] == {
        "level": 80, "model": "ets", "status": "completed", "start_date": "2023-01-01", "end_date": "2025-12-31",
        "callback_url": "http://127.0.0.1/x", "holidays": [], "inventory": {"lead_time": 2, "review_period": 1, "service_level": 95},
        "refresh": True}
    done = shop.artisan("sales-forecast:dispatch", "--frequency=day", "--horizon=400", "--dry-run", env=env)
    assert done.returncode == 64 and "invalid_request: horizon: must be between 1 and 366" in done.stdout + done.stderr
    done = shop.artisan("sales-forecast:dispatch", "--events=[{\"name\":\"Sale\"}]", "--dry-run", env=env)
    assert done.returncode == 64 and "invalid_request: events.0.start: is required" in done.stdout + done.stderr


def test_the_check_command_and_the_about_entry(laravel: Runtime, shop: Shop, service: Service) -> None:
    done = shop.artisan("sales-forecast:check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0] + ("" if line.split()[1] in ("ok", "WARN", "FAIL") else " " + line.split()[1]): line
             for line in done.stdout.splitlines() if line.strip()}
    assert "connection [sales-forecast] answers" in lines["redis"] and " ok " in lines["redis"]
    assert "no key prefix" in lines["prefix"] and "'forecasts':" in lines["queue"] and "'forecasts.dead':" in lines["dead letters"]
    assert " ok " in lines["api key"] and " ok " in lines["webhook secret"]
    assert "CALLBACK_ALLOWED_HOSTS must name" in lines["callback host"]

    done = shop.artisan("sales-forecast:check", env={"SALES_FORECAST_REDIS_URL": "redis://127.0.0.1:9/0", "SALES_FORECAST_WEBHOOK_SECRET": ""})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL" in done.stdout and "unavailable" in done.stdout and "webhook secret is empty" in done.stdout
    done = shop.artisan("sales-forecast:check", env={"SALES_FORECAST_REDIS_CONNECTION": "default"})
    assert done.returncode == 1 and "prefixes every key" in done.stdout

    if tuple(int(p) for p in laravel.laravel.split(".")[:2]) >= (9, 21):  # `about` and AboutCommand::add()
        done = shop.artisan("about", "--only=sales_forecast")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Sales Forecast" in done.stdout and "forecasts" in done.stdout and "NOT SET" not in done.stdout


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_prefixed_connection_is_refused_with_the_fix(client: str, shop: Shop, service: Service) -> None:
    """Laravel's default connection prefixes keys ('shop_database_'): refused before anything is pushed."""
    # The service's own keys come and go meanwhile (its history outbox is drained, results
    # expire): what must not appear is a key the dispatch would write, nor a message queued.
    before = set(service.redis.keys("*"))
    queued = service.redis.llen("forecasts")
    env = {"REDIS_CLIENT": client, "SALES_FORECAST_REDIS_CONNECTION": "default"}
    done = shop.artisan("sales-forecast:dispatch", "--horizon=2", env=env)
    message = done.stdout + done.stderr
    assert done.returncode == 78, message
    assert "Redis connection [default] prefixes every key with 'shop_database_'" in message
    assert "'shop_database_forecasts', a list no forecast worker reads" in message
    assert "'options' => ['prefix' => '']" in message and "SALES_FORECAST_REDIS_CONNECTION" in message
    written = [k for k in set(service.redis.keys("*")) - before if not k.startswith((b"celery-task-meta-", b"sf:"))]
    assert written == [] and service.redis.llen("forecasts") == queued, "nothing was written"
    docs = " ".join((ROOT / "docs" / "laravel.md").read_text().split())
    assert " ".join(message.split()) in docs, "docs/laravel.md quotes the message as it is"

    code, _, message = shop.artisan_json("shop:forecast", env=env)
    assert code != 0 and "prefixes every key with 'shop_database_'" in " ".join(message.split())  # so does the facade


def test_a_serializing_phpredis_connection_is_refused(shop: Shop, service: Service) -> None:
    done = shop.artisan("sales-forecast:dispatch", env={"SALES_FORECAST_REDIS_CONNECTION": "serialized"})
    assert done.returncode == 78
    assert "Redis connection [serialized] serializes values" in " ".join((done.stdout + done.stderr).split())


def test_an_unknown_connection_names_the_fix(shop: Shop, service: Service) -> None:
    done = shop.artisan("sales-forecast:dispatch", env={"SALES_FORECAST_REDIS_CONNECTION": "forecasts"})
    assert done.returncode == 78
    assert "Redis connection [forecasts] is not configured" in done.stdout + done.stderr


def test_the_config_survives_config_cache(shop: Shop, service: Service) -> None:
    """env() is read in config/sales-forecast.php only: with the config cached and .env gone, it still works."""
    dotenv = shop.root / ".env"
    saved = dotenv.read_text()
    assert shop.artisan("config:cache").returncode == 0
    try:
        dotenv.unlink()
        done = shop.artisan("sales-forecast:dispatch", "--model=linear", "--horizon=2", "--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] == "SUCCESS"
    finally:
        dotenv.write_text(saved)
        assert shop.artisan("config:clear").returncode == 0


def test_a_signed_completion_webhook_reaches_the_event_listener(
    shop: Shop, shop_server: ShopServer, service: Service
) -> None:
    callback = f"{shop_server.url}/sales-forecast/webhook"
    code, out, log = shop.artisan_json("shop:forecast", f"--kwargs={json.dumps({**LINEAR, 'callback_url': callback})}")
    assert code == 0, log
    stored = _wait_for(lambda: shop.stored_webhook(out["task_id"]), what="the webhook")
    assert stored["status"] == "SUCCESS" and stored["error"] is None
    assert stored["forecast"] == out["forecast"]

    code, out, _ = shop.artisan_json("shop:forecast", f"--kwargs={json.dumps({'group_by': ['colour'], 'callback_url': callback})}")
    assert code == 1
    stored = _wait_for(lambda: shop.stored_webhook(out["task_id"]), what="the failure webhook")
    assert stored["status"] == "FAILURE" and stored["error"]["code"] == "invalid_request"


def test_forged_or_stale_webhooks_are_rejected(shop: Shop, shop_server: ShopServer, service: Service) -> None:
    url = f"{shop_server.url}/sales-forecast/webhook"
    task_id = str(uuid.uuid4())
    body = json.dumps({"task_id": task_id, "status": "SUCCESS", "result": None, "error": None}).encode()
    right = signing_key(WEBHOOK_SECRET)
    wrong = signing_key("whsec_" + "QUFB" * 11)

    def post(headers: dict[str, str], data: bytes = body) -> requests.Response:
        return requests.post(url, data=data, headers={"Content-Type": "application/json", **headers}, timeout=10)

    forged = post(signature_headers(wrong, task_id, body))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "unauthorized"
    assert post(signature_headers(right, task_id, body, timestamp=int(time.time()) - 3600)).status_code == 401
    assert post(signature_headers(right, task_id, body), data=body + b" ").status_code == 401  # body altered
    assert post({}).status_code == 401
    assert shop.stored_webhook(task_id) is None

    accepted = post(signature_headers(right, task_id, body))
    assert accepted.status_code == 204, accepted.text
    assert shop.stored_webhook(task_id)["status"] == "SUCCESS"


def test_without_a_webhook_secret_every_webhook_is_refused(shop: Shop, service: Service) -> None:
    server = shop.serve(env={"SALES_FORECAST_WEBHOOK_SECRET": ""}, workers=1)
    try:
        body = b'{"task_id": "t", "status": "SUCCESS"}'
        answer = requests.post(f"{server.url}/sales-forecast/webhook", data=body, timeout=10,
                               headers=signature_headers(signing_key(WEBHOOK_SECRET), "t", body))
        assert answer.status_code == 401
        assert answer.json()["error"]["message"] == "the webhook secret is not configured"
    finally:
        server.stop()
    assert "SALES_FORECAST_WEBHOOK_SECRET" in (shop.root / "storage" / "logs" / "laravel.log").read_text()


def test_the_web_api_through_laravels_http_client(shop: Shop, service: Service) -> None:
    code, out, log = shop.artisan_json("shop:forecast-api", f"--kwargs={json.dumps(LINEAR)}")
    assert code == 0, log
    assert out["submitted"]["status"] == "PENDING" and out["submitted"]["task_id"]
    assert out["status"]["status"] == "SUCCESS", out
    assert out["status"]["result"]["data"]["forecast"]["model"] == "linear"
    assert out["forecast"] == out["status"]["result"]["data"]["forecast"]
    assert service.status(out["submitted"]["task_id"])["status"] == "SUCCESS"

    code, out, _ = shop.artisan_json("shop:forecast-api-error", '--kwargs={"horizon": 99}')
    assert code == 2 and out["code"] == "invalid_request" and out["field"] == "horizon" and out["status"] is None  # never sent

    code, out, _ = shop.artisan_json("shop:forecast-api-error", "--kwargs={}", env={"SALES_FORECAST_API_KEY": "wrong"})
    assert code == 1 and out["code"] == "unauthorized" and out["status"] == 401


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_packages_message_matches_celerys_own(client: str, shop: Shop, service: Service) -> None:
    """Every header and property Celery's producer writes is in the package's message, same body."""
    from celery import Celery

    app = Celery("compare", broker=service.redis_url, set_as_current=False)  # Celery's own producer, protocol 2
    app.send_task("forecast.sales", kwargs={"horizon": 6}, queue="compare-package")
    celery_msg = json.loads(service.redis.rpop("compare-package"))
    done = shop.artisan("sales-forecast:dispatch", "--dry-run", "--horizon=6", env={"REDIS_CLIENT": client})
    assert done.returncode == 0, done.stdout + done.stderr
    php_msg = json.loads(done.stdout)
    assert set(php_msg) == set(celery_msg)
    assert set(php_msg["headers"]) == set(celery_msg["headers"])
    assert set(php_msg["properties"]) == set(celery_msg["properties"])
    assert json.loads(base64.b64decode(php_msg["body"])) == json.loads(base64.b64decode(celery_msg["body"]))
    assert php_msg["properties"]["delivery_info"] == {"exchange": "", "routing_key": "forecasts"}
