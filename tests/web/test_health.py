"""/healthz, /readyz, /metrics, /openapi.json, /docs, and a Redis outage answering 503 quickly."""
from __future__ import annotations

import time

import pytest

from local.redis_server import RedisServer, free_port
from shared.contract.config import Settings
from web.app import create_app

OUTAGE_BOUND_SECONDS = 5.0


def test_healthz(web_client):
    response = web_client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_names_the_missing_worker(web_client):
    # Redis answers, but no worker consumes the queue in this test session.
    response = web_client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "missing": ["worker"]}


def _with_a_worker(app):
    """The probe as if a worker consumed the queue (none runs in these tests)."""
    from web.health import READINESS_KEY

    app.extensions[READINESS_KEY].worker_ok = lambda: True
    return app.test_client()


def test_readyz_is_ready_with_redis_a_worker_and_the_database(make_web_app, tmp_path):
    client = _with_a_worker(make_web_app(database_url=f"sqlite:///{tmp_path / 'history.sqlite3'}"))
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json() == {"status": "ready"}


def test_readyz_reports_the_database_as_degraded_not_the_service_as_down(make_web_app):
    # Nothing listens there: the history is unreachable, but jobs do not wait on it.
    client = _with_a_worker(make_web_app(database_url=f"postgresql://app@127.0.0.1:{free_port()}/history"))
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "degraded": ["database"]}
    assert time.monotonic() - started < OUTAGE_BOUND_SECONDS


def test_metrics_is_prometheus_text(web_client):
    web_client.get("/healthz")
    response = web_client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert 'sf_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in response.get_data(as_text=True)


def test_openapi_describes_the_api(web_client):
    spec = web_client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    for name in ("ForecastRequest", "Submitted", "TaskStatus", "ResultDocument", "ErrorDocument"):
        assert name in schemas
    request = schemas["ForecastRequest"]
    # The horizon's bound follows the frequency (docs/api.md §10): 24 months, the default, 104 weeks, 366 days.
    bounds = {
        (c["if"].get("properties", {}).get("frequency", {}).get("const")):
        next(b["maximum"] for b in c["then"]["properties"]["horizon"]["anyOf"] if b["type"] == "integer")
        for c in request["allOf"]
    }
    assert bounds == {None: 24, "month": 24, "week": 104, "day": 366}
    horizon = {branch["type"]: branch for branch in request["properties"]["horizon"]["anyOf"]}
    assert horizon["integer"]["maximum"] == 366 and "366" in horizon["string"]["pattern"]  # "6" as Laravel forms send it
    assert set(request["properties"]["model"]["enum"]) >= {"auto", "linear", "ets"}
    post = spec["paths"]["/api/v1/forecasts"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ForecastRequest"
    assert {"202", "400", "413", "422", "503"} <= set(post["responses"])
    assert {"get", "delete"} <= set(spec["paths"]["/api/v1/forecasts/{task_id}"])
    assert "/api/sales-forecast" in spec["paths"]
    # Every reference resolves inside the document.
    text = str(spec)
    import re

    for ref in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert ref in schemas, ref


def test_docs_is_self_contained_html(web_client):
    response = web_client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "/api/v1/forecasts" in html and "ForecastRequest" in html
    assert "http://" not in html and "https://" not in html  # no CDN, nothing fetched


def test_the_dashboard_is_served_at_the_root(web_client):
    response = web_client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"


# ---- Redis outage --------------------------------------------------------------------------


@pytest.fixture
def dead_redis_app():
    """An app built as production builds it (its own Celery app), whose Redis then goes away."""
    server = RedisServer().start()
    app = create_app(Settings(redis_url=server.url, legacy_wait_seconds=0.2))
    client = app.test_client()
    assert client.post("/api/v1/forecasts", json={}).status_code == 202  # connections pooled
    server.cleanup()
    return client


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/api/v1/forecasts"),
        ("get", "/api/v1/forecasts/some-id"),
        ("delete", "/api/v1/forecasts/some-id"),
        ("get", "/api/sales-forecast"),
    ],
)
def test_redis_down_is_503_broker_unavailable_within_a_bound(dead_redis_app, method, path):
    started = time.monotonic()
    response = getattr(dead_redis_app, method)(path, json={} if method == "post" else None)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "broker_unavailable"
    assert "127.0.0.1" not in response.get_data(as_text=True)  # no connection details leak
    assert elapsed < OUTAGE_BOUND_SECONDS


def test_readyz_names_redis_when_it_is_down(dead_redis_app):
    response = dead_redis_app.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["missing"] == ["redis"]


def test_broker_down_with_idempotency_key_then_retry_queues_the_same_task(web_redis_server, web_redis):
    """Redis up, a separate broker down: 503; the client's retry with its key, once the broker is
    back, queues the job it was promised under the same id."""
    broker_port = free_port()
    settings = Settings(redis_url=web_redis_server.url, broker_url=f"redis://127.0.0.1:{broker_port}/0")
    client = create_app(settings).test_client()
    headers = {"Idempotency-Key": "retry-me"}
    started = time.monotonic()
    first = client.post("/api/v1/forecasts", json={"horizon": 5}, headers=headers)
    assert first.status_code == 503 and time.monotonic() - started < OUTAGE_BOUND_SECONDS
    with RedisServer(port=broker_port) as broker:
        import redis

        retry = client.post("/api/v1/forecasts", json={"horizon": 5}, headers=headers)
        assert retry.status_code == 202
        task_id = retry.get_json()["task_id"]
        assert client.get(f"/api/v1/forecasts/{task_id}").get_json()["status"] == "PENDING"
        assert redis.Redis.from_url(broker.url).llen("forecasts") == 1


def test_metrics_report_the_history_outbox_and_webhook_deliveries(web_client, web_redis):
    """Counters the workers keep in Redis (shared/history/outbox.py, shared/stores/webhook_stats.py)."""
    from shared.history.outbox import OUTBOX_KEY, STATS_KEY
    from shared.stores.webhook_stats import DeliveryOutcome, WebhookStats

    web_redis.lpush(OUTBOX_KEY, "{}", "{}")
    web_redis.hset(STATS_KEY, mapping={"written": 7, "write_failures": 2, "rejected": 1})
    stats = WebhookStats(web_redis)
    for outcome in (DeliveryOutcome.DELIVERED, DeliveryOutcome.DELIVERED, DeliveryOutcome.RETRIED, DeliveryOutcome.FAILED):
        stats.count(outcome)
    text = web_client.get("/metrics").get_data(as_text=True)
    for line in (
        "sf_history_outbox_pending 2.0",
        "sf_history_outbox_dead 0.0",
        'sf_history_outbox_items_total{outcome="written"} 7.0',
        'sf_history_outbox_items_total{outcome="failed"} 2.0',
        'sf_history_outbox_items_total{outcome="rejected"} 1.0',
        'sf_webhook_deliveries_total{outcome="delivered"} 2.0',
        'sf_webhook_deliveries_total{outcome="retried"} 1.0',
        'sf_webhook_deliveries_total{outcome="failed"} 1.0',
        'sf_webhook_deliveries_total{outcome="refused"} 0.0',
    ):
        assert line in text, line


def test_metrics_count_the_alerts_raised_by_kind(web_client, web_redis):
    """The workers count each new alert in Redis (worker/history.py); /metrics reports them."""
    from shared.history.alerts import ALERT_STATS_KEY

    web_redis.hset(ALERT_STATS_KEY, mapping={"below_range": 3, "forecast_drop": 1})
    text = web_client.get("/metrics").get_data(as_text=True)
    for line in (
        'sf_alerts_raised_total{kind="below_range"} 3.0',
        'sf_alerts_raised_total{kind="above_range"} 0.0',
        'sf_alerts_raised_total{kind="forecast_drop"} 1.0',
    ):
        assert line in text, line


def test_openapi_describes_the_forecast_components(web_client):
    """docs/api.md §11: the result's `components` and their parts carry their descriptions."""
    schemas = web_client.get("/openapi.json").get_json()["components"]["schemas"]
    field = schemas["Forecast"]["properties"]["components"]
    assert "adding up to `forecast`" in field["description"] and "Null when the model does not decompose" in field["description"]
    assert {"#/components/schemas/ForecastComponent"} == {
        b["items"]["$ref"] for b in field["anyOf"] if b.get("type") == "array"}
    parts = schemas["ForecastComponent"]["properties"]
    assert set(parts) == {"period", "trend", "seasonal", "holidays", "events"}
    assert all(parts[name].get("description") for name in parts)


class _Answers:
    """A Redis stand-in for the probe: INFO server answers with the run id it is given."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def info(self, section: str) -> dict:
        return {"run_id": self.run_id}


class _Workers:
    """A Celery stand-in counting how often the workers are asked."""

    def __init__(self) -> None:
        self.asked = 0
        self.control = self

    def inspect(self, timeout: float):
        return self

    def active_queues(self) -> dict:
        self.asked += 1
        return {"worker@host": [{"name": "forecasts"}]}


def test_readyz_asks_the_workers_again_when_another_redis_answers():
    # After a Sentinel failover the client's retry reaches the new master without an error, so a
    # process that saw no failure still holds "a worker consumes" from the old master. The run id
    # changing is what tells it: the cached answer goes, and the workers are asked afresh.
    from web.health import ReadinessProbe

    redis_stand_in, workers = _Answers("old-master"), _Workers()
    probe = ReadinessProbe(redis_stand_in, workers, "forecasts", broker_is_redis=True)
    assert probe.missing() == [] and workers.asked == 1
    assert probe.missing() == [] and workers.asked == 1  # cached
    redis_stand_in.run_id = "new-master"
    assert probe.missing() == [] and workers.asked == 2
