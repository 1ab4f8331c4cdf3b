"""Grouped forecasts from Laravel, end to end (CONTRACT §6, §8, §9), and reading stored results.

The shop dispatches a grouped job (group_by + measure) through Redis with phpredis and predis; the
real worker reads the shop's sale lines from the shop's own API (/api/sales/items); the shop reads
the total from the result key and pages every series, and streams the CSV, from the real web API
(`shop:grouped` in tests/laravel/shop/routes/console.php, docs/laravel.md "Grouped forecasts").
Everything is checked against the service's own answers and the shop's database. Stored results
that the real service does not readily produce (a failure's document, an id no one sent) are
written into Redis as the worker writes them and read back through the package. A series cursor
that loops is the package's PHPUnit suite's (ForecastClientTest, under Http::fake()).
"""
from __future__ import annotations

import csv
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import requests

from tests.laravel.in_laravel.conftest import API_KEY, Service
from tests.laravel.shop import SHOP_TOKEN, Sale, Shop, ShopServer

pytestmark = pytest.mark.slow
GROUP_BY = ["category", "product_id"]  # as shop:grouped dispatches it
HORIZON = 3
PAGE_SIZE = 2  # small pages: each level of the shop's 3 categories and 4 products takes two
CLIENTS = {"phpredis": "Redis", "predis": "Predis\\Client"}
FORECAST = {"next_month_forecast": 1500.0, "confidence_level": 90, "expected_range_low": 1200.0,
            "expected_range_high": 1800.0, "growth_rate": 2.0, "model_accuracy": 91.5, "period": "2025-11",
            "model": "ets", "horizon": [{"period": "2025-11", "forecast": 1500.0, "low": 1200.0, "high": 1800.0}]}
HIERARCHY = {"group_by": ["category"], "measure": "revenue", "levels": [{"fields": ["category"], "series": 3}],
             "series": 4, "reconciliation": "mint_shrink", "coherent": True,
             "series_url": "/api/v1/forecasts/x/series", "csv_url": "/api/v1/forecasts/x/series.csv"}


@dataclass
class GroupedRun:
    """What `shop:grouped` printed: every series it paged, then the task id, total and hierarchy."""

    series: list[dict[str, Any]]
    summary: dict[str, Any]

    @property
    def task_id(self) -> str:
        return self.summary["task_id"]

    def level(self, level: int) -> list[dict[str, Any]]:
        return [s for s in self.series if s["level"] == level]


@pytest.fixture(scope="module")
def grouped(shop: Shop, service: Service) -> Callable[[str], GroupedRun]:
    """shop:grouped through one Redis client, run once per client for the module (the same request:
    the second is answered from the service's cache, under a task id of its own)."""
    runs: dict[str, GroupedRun] = {}

    def run(client: str) -> GroupedRun:
        if client not in runs:
            done = shop.artisan("shop:grouped", f"--page-size={PAGE_SIZE}", env={"REDIS_CLIENT": client})
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr + service.log()[-3000:]
            lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
            runs[client] = GroupedRun(lines[:-1], lines[-1])
        return runs[client]

    return run


def _key(series: dict[str, Any], fields: list[str]) -> tuple:
    return tuple(series["key"][f] for f in fields)


def _shop_truth(history: list[Sale], fields: list[str]) -> dict[tuple, dict[str, float]]:
    """{key: {"YYYY-MM": revenue}} of the completed sales' lines, from the shop's own rows."""
    truth: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for sale in history:
        if sale.status == "completed":
            for item in sale.items:
                truth[tuple(item[f] for f in fields)][sale.created_at[:7]] += float(item["line_total"])
    return truth


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_grouped_forecast_dispatched_from_laravel_reads_the_total_and_pages_every_series(
    client: str, grouped: Callable[[str], GroupedRun], service: Service, history: list[Sale]
) -> None:
    first = grouped("phpredis")
    run = grouped(client)
    assert run.summary["client"] == CLIENTS[client]
    if client == "predis":  # the same request again: answered from the cache, with series of its own id
        assert run.summary["cached"] is True and run.task_id != first.task_id
    status = service.status(run.task_id)
    assert status["status"] == "SUCCESS"
    data = status["result"]["data"]
    # The total and the hierarchy, read from the result key, are the status endpoint's.
    total, hierarchy = run.summary["total"], run.summary["hierarchy"]
    assert total == data["forecast"] and len(total["horizon"]) == HORIZON
    assert hierarchy == data["hierarchy"]
    assert hierarchy["group_by"] == GROUP_BY and hierarchy["measure"] == "revenue" and hierarchy["coherent"] is True
    assert hierarchy["series_url"] == f"/api/v1/forecasts/{run.task_id}/series"

    # Every series paged exactly once; as many per level as hierarchy.levels says, and the total.
    levels = hierarchy["levels"]
    assert [level["fields"] for level in levels] == [GROUP_BY[:1], GROUP_BY]
    for number, level in enumerate(levels, start=1):
        keys = [_key(s, level["fields"]) for s in run.level(number)]
        assert len(keys) == len(set(keys)) == level["series"], (number, keys)
    assert len(run.series) + 1 == hierarchy["series"]
    categories, products = run.level(1), run.level(2)
    assert {s["key"]["category"] for s in categories} == {"Bags", "Shoes", None}  # a null field is its own group

    # Coherent as the reader sees it: the categories sum to the total, each category's products to it.
    for k in range(HORIZON):
        value = lambda s: s["forecast"]["horizon"][k]["forecast"]  # noqa: E731
        assert sum(map(value, categories)) == pytest.approx(total["horizon"][k]["forecast"], abs=0.01 * len(categories))
        for category in categories:
            children = [p for p in products if p["key"]["category"] == category["key"]["category"]]
            assert children and sum(map(value, children)) == pytest.approx(value(category), abs=0.01 * len(children))

    # The worker read the shop's sale lines through the shop's API: each series' history is the database's.
    for number, series in ((1, categories), (2, products)):
        truth = _shop_truth(history, GROUP_BY[:number])
        for s in series:
            months = truth[_key(s, GROUP_BY[:number])]
            assert s["actual"] and all(p["value"] == pytest.approx(months.get(p["period"], 0.0), abs=0.01) for p in s["actual"]), s["key"]

    # Pages of PAGE_SIZE, each level's second page asked for with the first page's cursor.
    asked = [line for line in service.log("web").splitlines() if f"/api/v1/forecasts/{run.task_id}/series?" in line]
    for number in (1, 2):
        assert sum(f"level={number}&limit={PAGE_SIZE}&cursor=" in line for line in asked) == 1, asked


def test_the_csv_is_streamed_to_a_file_and_served_by_the_shop(
    grouped: Callable[[str], GroupedRun], service: Service, shop_server: ShopServer
) -> None:
    run = grouped("phpredis")
    path = run.summary["csv"]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    answer = requests.get(f"{service.url}/api/v1/forecasts/{run.task_id}/series.csv", headers={"X-API-Key": API_KEY}, timeout=30)
    assert answer.status_code == 200 and open(path, "rb").read() == answer.content  # the service's CSV, byte for byte
    assert run.summary["csv_bytes"] == len(answer.content)
    # The shop's own download route (routes/api.php) hands it on to a browser; an unknown id is its 404.
    shop = {"Authorization": f"Bearer {SHOP_TOKEN}"}
    download = requests.get(f"{shop_server.url}/api/forecasts/{run.task_id}/series.csv", headers=shop, timeout=30)
    assert download.status_code == 200, download.text[:500]
    assert download.content == answer.content and download.headers["Content-Type"].startswith("text/csv")
    assert f'filename=forecast-{run.task_id}.csv' in download.headers["Content-Disposition"]
    assert requests.get(f"{shop_server.url}/api/forecasts/{uuid.uuid4()}/series.csv", headers=shop, timeout=30).status_code == 404
    assert rows[0] == ["level", *GROUP_BY, "period", "forecast", "low", "high"]
    assert len(rows) - 1 == run.summary["hierarchy"]["series"] * HORIZON  # the total (level 0) and every series
    by_key = {(str(s["level"]), *("null" if v is None else v for v in s["key"].values())): s for s in run.series}
    for row in rows[1:]:
        level = int(row[0])
        horizon = run.summary["total"]["horizon"] if level == 0 else by_key[tuple(row[:1 + level])]["forecast"]["horizon"]
        point = next(p for p in horizon if p["period"] == row[3])
        assert [float(x) for x in row[4:]] == pytest.approx([point["forecast"], point["low"], point["high"]], abs=0.005)


def test_series_and_history_through_laravels_http_client(
    shop: Shop, grouped: Callable[[str], GroupedRun], service: Service
) -> None:
    """docs/laravel.md §3's snippet (shop:series) against the real API: a level's series, then the history."""
    run = grouped("phpredis")
    deadline = time.monotonic() + 30  # the history is written after the job's end, by the worker's drain
    while not _in_history(service, run.task_id):
        assert time.monotonic() < deadline, "the grouped job's total never reached the history"
        time.sleep(0.3)
    done = shop.artisan("shop:series", run.task_id, "--level=1")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert lines[:-1] == [{"key": s["key"], "next": s["forecast"]["next_period_forecast"]} for s in run.level(1)]
    history = lines[-1]["history"]
    assert any(row["task_id"] == run.task_id for row in history)
    assert set(history[0]) >= {"task_id", "created_at", "period", "forecast", "low", "high", "model"}


def _in_history(service: Service, task_id: str) -> bool:
    answer = requests.get(f"{service.url}/api/v1/history", params={"limit": 12}, headers={"X-API-Key": API_KEY}, timeout=10)
    return answer.status_code == 200 and any(row["task_id"] == task_id for row in answer.json()["forecasts"])


def test_the_series_of_an_unknown_or_ungrouped_job_are_not_found(shop: Shop, service: Service) -> None:
    done = shop.artisan("shop:series", str(uuid.uuid4()))
    assert done.returncode != 0 and "not_found" in done.stdout + done.stderr


def _store(service: Service, task_id: str, status: str, result: Any) -> None:
    meta = {"status": status, "result": result, "traceback": None, "children": [], "task_id": task_id,
            "date_done": "2025-11-03T10:15:02.123456+00:00"}
    service.redis.set(f"celery-task-meta-{task_id}", json.dumps(meta), ex=300)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_single_grouped_failed_and_unknown_results(client: str, shop: Shop, service: Service) -> None:
    env = {"REDIS_CLIENT": client}
    single, grouped, failed, unknown = (str(uuid.uuid4()) for _ in range(4))
    _store(service, single, "SUCCESS", {"status": "success", "data": {"actual_sales": [], "forecast": FORECAST}})
    _store(service, grouped, "SUCCESS", {"status": "success", "data": {"actual_sales": [], "forecast": FORECAST, "hierarchy": HIERARCHY}})
    _store(service, failed, "FAILURE", {"exc_type": "InsufficientHistory", "exc_module": "shared.contract.errors",
                                        "exc_message": ["insufficient_history", "2 complete months; 3 needed"]})

    _, out, log = shop.artisan_json("shop:read", single, env=env)
    assert out == {"status": "SUCCESS", "total": 1500.0, "grouped": False, "levels": None, "error": None}, log
    _, out, _ = shop.artisan_json("shop:read", grouped, env=env)
    assert out["total"] == 1500.0 and out["grouped"] is True and out["levels"] == HIERARCHY["levels"]
    _, out, _ = shop.artisan_json("shop:read", failed, env=env)
    assert out["error"] == {"code": "insufficient_history", "message": "2 complete months; 3 needed", "field": None}
    _, out, _ = shop.artisan_json("shop:read", unknown, env=env)
    assert out == {"status": None, "total": None, "grouped": None, "levels": None, "error": None}
