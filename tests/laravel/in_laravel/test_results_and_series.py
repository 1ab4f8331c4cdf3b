"""Reading results and grouped series from Laravel (CONTRACT §6, §8, §9).

Stored results are written into Redis as the worker writes them and read back through the
package with phpredis and predis: single and grouped (data.hierarchy) documents, failures, and
ids that no one dispatched. Series pages and history come from a local HTTP server answering in
CONTRACT §8/§9's shapes through Laravel's Http client: the service's own series and history
endpoints are being built in parallel (switch this test to the real service once they are on main).
"""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.laravel.in_laravel.conftest import API_KEY, Service
from tests.laravel.shop import Shop

pytestmark = pytest.mark.slow
FORECAST = {"next_month_forecast": 1500.0, "confidence_level": 90, "expected_range_low": 1200.0,
            "expected_range_high": 1800.0, "growth_rate": 2.0, "model_accuracy": 91.5, "period": "2025-11",
            "model": "ets", "horizon": [{"period": "2025-11", "forecast": 1500.0, "low": 1200.0, "high": 1800.0}]}
HIERARCHY = {"group_by": ["category"], "measure": "revenue", "levels": [{"fields": ["category"], "series": 3}],
             "series": 4, "reconciliation": "mint_shrink", "coherent": True,
             "series_url": "/api/v1/forecasts/x/series", "csv_url": "/api/v1/forecasts/x/series.csv"}


def _store(service: Service, task_id: str, status: str, result: Any) -> None:
    meta = {"status": status, "result": result, "traceback": None, "children": [], "task_id": task_id,
            "date_done": "2025-11-03T10:15:02.123456+00:00"}
    service.redis.set(f"celery-task-meta-{task_id}", json.dumps(meta), ex=300)


@pytest.mark.parametrize("client", ["phpredis", "predis"])
def test_single_grouped_failed_and_unknown_results(client: str, shop: Shop, service: Service) -> None:
    env = {"REDIS_CLIENT": client}
    single, grouped, failed, unknown = (str(uuid.uuid4()) for _ in range(4))
    _store(service, single, "SUCCESS", {"status": "success", "data": {"actual_sales": [], "forecast": FORECAST}})
    _store(service, grouped, "SUCCESS", {"status": "success", "data": {"actual_sales": [], "forecast": FORECAST, "hierarchy": HIERARCHY}})
    _store(service, failed, "FAILURE", {"exc_type": "InsufficientHistory", "exc_module": "shared.errors",
                                        "exc_message": ["insufficient_history", "2 complete months; 3 needed"]})

    _, out, log = shop.artisan_json("shop:read", single, env=env)
    assert out == {"status": "SUCCESS", "total": 1500.0, "grouped": False, "levels": None, "error": None}, log
    _, out, _ = shop.artisan_json("shop:read", grouped, env=env)
    assert out["total"] == 1500.0 and out["grouped"] is True and out["levels"] == HIERARCHY["levels"]
    _, out, _ = shop.artisan_json("shop:read", failed, env=env)
    assert out["error"] == {"code": "insufficient_history", "message": "2 complete months; 3 needed"}
    _, out, _ = shop.artisan_json("shop:read", unknown, env=env)
    assert out == {"status": None, "total": None, "grouped": None, "levels": None, "error": None}


@pytest.fixture
def api_stub() -> Iterator[tuple[str, list[tuple[str, dict, str | None]]]]:
    """The web API's series and history endpoints, in CONTRACT §8/§9's shapes; records each request."""
    seen: list[tuple[str, dict, str | None]] = []
    series = [{"key": {"category": name}, "level": 1, "actual": [], "forecast": {**FORECAST, "next_month_forecast": value},
               "data_quality": {}} for name, value in (("Bags", 500.0), ("Shoes", 700.0), (None, 300.0))]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            seen.append((parts.path, query, self.headers.get("Authorization")))
            if parts.path.endswith("/series"):
                page = {"series": series[:2], "next_cursor": "page-2"} if "cursor" not in query else {"series": series[2:], "next_cursor": None}
            elif parts.path == "/api/v1/history":
                page = {"forecasts": [{"task_id": "t1", "period": "2025-11", "forecast": 1500.0, "actual": None}]}
            else:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_series_pages_and_history_through_the_http_client(shop: Shop, service: Service, api_stub) -> None:
    url, seen = api_stub
    done = shop.artisan("shop:series", "task-1", "--level=1", env={"SALES_FORECAST_API_URL": url})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert lines[:3] == [{"key": {"category": "Bags"}, "next": 500.0}, {"key": {"category": "Shoes"}, "next": 700.0},
                         {"key": {"category": None}, "next": 300.0}]
    assert lines[3]["history"][0]["task_id"] == "t1"
    paths = [(path, query) for path, query, _ in seen]
    assert paths == [("/api/v1/forecasts/task-1/series", {"level": "1", "limit": "100"}),
                     ("/api/v1/forecasts/task-1/series", {"level": "1", "limit": "100", "cursor": "page-2"}),
                     ("/api/v1/history", {"limit": "12"})]
    assert {auth for _, _, auth in seen} == {f"Bearer {API_KEY}"}
