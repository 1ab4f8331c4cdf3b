"""Grouped forecasts through the service (docs/api.md §8): fanned out over real workers, read back.

A Laravel-like server serving the demo shop's sales and sale lines, an embedded Redis, gunicorn,
and two Celery workers started separately (as on two machines: their own processes and node
names, Redis the only meeting point), with small chunks so that one job has many.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
import uuid
from datetime import date, datetime

import pytest
import redis
import requests

from local.demo import demo_lines, demo_rows
from local.fake_laravel import FakeLaravel
from local.redis_server import free_port
from local.sse_client import Stream
from shared.contract.config import Settings
from shared.contract.protocol import CHUNK_TASK
from shared.contract.schema import ForecastRequest
from shared.stores.grouped_store import GroupedStore, Plan
from shared.stores.jobs import JobStore
from tests.service.conftest import API_KEY
from tests.stacks import base_env, start_stack
from web.celery_client import create_celery_client

pytestmark = pytest.mark.slow

GROUP_BY = ["category", "product_id"]
CHUNK_SIZE = 4
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
FLOWER_AUTH = "ops:grouped-flower"


@pytest.fixture(scope="module")
def shop():
    today = date.today()
    rows = demo_rows(today)
    with FakeLaravel(rows, items=demo_lines(today, rows=rows), per_page=500) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory, shop):
    root = tmp_path_factory.mktemp("grouped")
    env = base_env(root, LARAVEL_API_URL=shop, API_KEYS=API_KEY, CHUNK_SIZE=str(CHUNK_SIZE),
                   FLOWER_PORT=str(free_port()), FLOWER_BASIC_AUTH=FLOWER_AUTH)
    stack = start_stack(root, env, root=root, worker_concurrency=1, flower=True)
    # A second worker, started on its own with its own node name, as on another machine.
    stack.add_worker("worker2")
    time.sleep(3)
    yield stack
    stack.stop()


def _get(stack, path: str, **params) -> requests.Response:
    return requests.get(f"{stack.web_url}{path}", headers=HEADERS, params=params, timeout=30)


def _wait(stack, task_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _get(stack, f"/api/v1/forecasts/{task_id}").json()
        if doc["status"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"{task_id} still {doc['status']} after {timeout} s: {doc['progress']}")


def _submit(stack, body: dict) -> str:
    response = requests.post(f"{stack.web_url}/api/v1/forecasts", json=body, headers=HEADERS, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def _all_series(stack, task_id: str, level: int) -> list[dict]:
    out, cursor = [], None
    while True:
        params = {"level": level, "limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = _get(stack, f"/api/v1/forecasts/{task_id}/series", **params)
        assert page.status_code == 200, page.text
        body = page.json()
        out += body["series"]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def test_a_grouped_job_is_fanned_out_reconciled_paged_and_exported(stack):
    task_id = _submit(stack, {"group_by": GROUP_BY, "measure": "revenue", "horizon": 3})
    doc = _wait(stack, task_id)
    assert doc["status"] == "SUCCESS", doc
    data = doc["result"]["data"]
    hierarchy = data["hierarchy"]
    assert hierarchy["coherent"] is True and hierarchy["group_by"] == GROUP_BY
    assert hierarchy["series_url"] == f"/api/v1/forecasts/{task_id}/series"
    categories = _all_series(stack, task_id, 1)
    products = _all_series(stack, task_id, 2)
    keys = [tuple(sorted(s["key"].items(), key=lambda kv: kv[0])) for s in products]
    assert len(keys) == len(set(keys)), "every series is paged exactly once"
    assert len(categories) + len(products) + 1 == hierarchy["series"]
    # Coherence as the reader sees it: children sum to their parent, the top level to the total.
    for k in range(3):
        total = data["forecast"]["horizon"][k]["forecast"]
        assert abs(sum(c["forecast"]["horizon"][k]["forecast"] for c in categories) - total) < 0.01 * len(categories)
        for cat in categories:
            children = [p for p in products if p["key"]["category"] == cat["key"]["category"]]
            own = cat["forecast"]["horizon"][k]["forecast"]
            assert abs(sum(c["forecast"]["horizon"][k]["forecast"] for c in children) - own) < 0.01 * max(len(children), 1)
    for series in categories + products:
        for point in series["forecast"]["horizon"]:
            assert 0 <= point["low"] <= point["forecast"] <= point["high"]
    # The CSV: one line per series (the total included, as level 0) and horizon month.
    response = _get(stack, f"/api/v1/forecasts/{task_id}/series.csv")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == ["level", *GROUP_BY, "period", "forecast", "low", "high"]
    assert len(lines) - 1 == hierarchy["series"] * 3
    # Search and sort.
    shoes = _get(stack, f"/api/v1/forecasts/{task_id}/series", q=products[0]["key"]["product_id"], level=2).json()
    assert shoes["series"] and all(products[0]["key"]["product_id"] in str(s["key"]["product_id"]) for s in shoes["series"])
    top = _get(stack, f"/api/v1/forecasts/{task_id}/series", sort="-forecast", level=2, limit=5).json()["series"]
    values = [s["forecast"]["next_month_forecast"] for s in top]
    assert values == sorted(values, reverse=True)
    # Every series of the job is kept in the forecast history (written in bulk by the drain).
    product = products[-1]
    group = json.dumps(product["key"], separators=(",", ":"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kept = _get(stack, "/api/v1/history", group=group, measure="revenue").json().get("forecasts") or []
        if any(row["task_id"] == task_id for row in kept):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the history has no forecast of {group} from {task_id}")
    # An identical request is answered from the cache, with its own series links.
    again = _wait(stack, _submit(stack, {"group_by": GROUP_BY, "measure": "revenue", "horizon": 3}))
    assert again["status"] == "SUCCESS" and again["result"]["data"]["meta"]["cached"] is True
    assert _get(stack, again["result"]["data"]["hierarchy"]["series_url"]).status_code == 200


def test_two_separately_started_workers_share_one_jobs_chunks(stack):
    task_id = _submit(stack, {"group_by": GROUP_BY, "measure": "units", "horizon": 2, "refresh": True})
    assert _wait(stack, task_id)["status"] == "SUCCESS"
    pattern = re.compile(rf"forecast\.grouped\.chunk\[{re.escape(task_id)}-chunk-\d+\] succeeded")
    logs = stack.log_dir
    first = len(pattern.findall((logs / "worker.log").read_text(errors="replace")))
    second = len(pattern.findall((logs / "worker2.log").read_text(errors="replace")))
    assert first > 0 and second > 0, (first, second)


def test_flower_shows_each_chunk_with_its_job_and_place(stack):
    task_id = _submit(stack, {"group_by": ["category"], "measure": "units", "horizon": 1, "refresh": True})
    assert _wait(stack, task_id)["status"] == "SUCCESS"
    url = f"http://127.0.0.1:{stack.env['FLOWER_PORT']}/api/tasks"
    auth = {"Authorization": "Basic " + base64.b64encode(FLOWER_AUTH.encode()).decode()}
    deadline = time.monotonic() + 30
    while True:
        tasks = requests.get(url, params={"taskname": "forecast.grouped.chunk"}, headers=auth, timeout=10).json()
        ours = {tid: t for tid, t in tasks.items() if tid.startswith(f"{task_id}-chunk-")}
        if ours and all(t["state"] == "SUCCESS" for t in ours.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ours, "Flower lists the job's chunks"
    n = len(ours)
    for tid, info in ours.items():
        k = int(tid.rsplit("-", 1)[1])
        # What an operator reads: the task's name, and args naming the job and chunk k of n.
        assert info["name"] == "forecast.grouped.chunk"
        assert info["args"] == repr([task_id, k, n]) or info["args"] == repr((task_id, k, n)), info["args"]
        assert info["state"] == "SUCCESS" and info["worker"]


def test_a_chunk_that_keeps_failing_ends_the_job_with_a_stable_code(stack):
    """A chunk whose job's panel cannot be read fails each time: after its retries the job ends
    FAILURE internal_error naming the chunk, never a PROGRESS that hangs."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    job_id = str(uuid.uuid4())
    request = ForecastRequest.parse({"group_by": ["category"]}).resolved(date.today())
    JobStore(client).record(job_id, request.model_dump(mode="json", exclude_none=True))
    plan = Plan(job_id=job_id, n_series=3, n_chunks=1, chunk_size=3, request=request.model_dump(mode="json"),
                source="test", fingerprint="fp-broken")
    GroupedStore(client).start(plan, b"not a panel")
    celery = create_celery_client(Settings.from_env(stack.env), bounded=False)
    celery.send_task(CHUNK_TASK, args=[job_id, 0, 1], task_id=f"{job_id}-chunk-0",
                     queue=stack.env.get("FORECAST_QUEUE", "forecasts"))
    doc = _wait(stack, job_id, timeout=60)
    assert doc["status"] == "FAILURE" and doc["error"]["code"] == "internal_error", doc
    assert doc["error"]["message"].startswith("chunk 1 of 1 failed 3 times"), doc["error"]
    assert GroupedStore(client).plan(job_id) is None, "the job's work records are cleared"


def test_a_cancelled_grouped_job_ends_revoked_and_runs_no_more_chunks(stack):
    task_id = _submit(stack, {"group_by": GROUP_BY, "measure": "orders", "horizon": 2, "model": "arima", "refresh": True})
    # An identical request while it runs joins it, as single-series requests do.
    assert _submit(stack, {"group_by": GROUP_BY, "measure": "orders", "horizon": 2, "model": "arima"}) == task_id
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        doc = _get(stack, f"/api/v1/forecasts/{task_id}").json()
        if doc["progress"].get("series_total"):
            break
        time.sleep(0.05)
    assert requests.delete(f"{stack.web_url}/api/v1/forecasts/{task_id}", headers=HEADERS, timeout=30).status_code in (202, 409)
    cancelled_at = time.time()  # the cancel flag is set before DELETE answers
    doc = _wait(stack, task_id)
    if doc["status"] == "SUCCESS":
        pytest.skip("the job finished before the cancel reached it")
    assert doc["status"] == "REVOKED", doc
    # A chunk already forecasting when the cancel came finishes (its results are dropped); no
    # chunk starts forecasting after it: each one that forecast began before the cancel. The
    # others end 'cancelled' at once. Wait for the in-flight ones to log their end.
    pattern = re.compile(
        rf'"time": "([^"]+)"[^\n]*forecast\.grouped\.chunk\[{re.escape(task_id)}-chunk-(\d+)\] '
        rf"succeeded in ([\d.]+)s: '(chunk|cancelled)"
    )

    def ended() -> dict[int, tuple[float, float, str]]:
        out = {}
        for name in ("worker.log", "worker2.log"):
            for when, k, took, how in pattern.findall((stack.log_dir / name).read_text(errors="replace")):
                end = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
                out[int(k)] = (end - float(took), end, how)
        return out

    def fan_in_dropped() -> bool:
        return f"grouped job {task_id}: cancelled before its fan-in" in "".join(
            (stack.log_dir / name).read_text(errors="replace") for name in ("worker.log", "worker2.log")
        )

    # Settled: the chunks' ends stopped changing, and the cancel's effect is in the logs (on a
    # loaded machine the queued chunks may take a while to reach a worker and end 'cancelled').
    deadline = time.monotonic() + 90
    seen = ended()
    while time.monotonic() < deadline:
        time.sleep(2)
        later = ended()
        if later == seen and (any(v[2] == "cancelled" for v in seen.values()) or fan_in_dropped()):
            break
        seen = later
    forecast = {k: v for k, v in seen.items() if v[2] == "chunk"}
    late = {k: v for k, v in forecast.items() if v[0] > cancelled_at + 0.5}
    assert not late, f"chunks started forecasting after the cancel: {late}"
    # Either the chunks after the cancel stopped at once, or (a loaded machine) every chunk had
    # started before it, and the fan-in dropped their results instead of publishing them.
    assert any(v[2] == "cancelled" for v in seen.values()) or fan_in_dropped(), "the chunks after the cancel stopped at once"



def test_a_grouped_jobs_live_updates_count_its_series(stack):
    """The job's events_url (docs/events.md): the chunks' progress counts series over both
    workers, in order, and the last event is done with the reconciled document."""
    response = requests.post(f"{stack.web_url}/api/v1/forecasts", json={"group_by": GROUP_BY, "horizon": 4, "refresh": True},
                             headers=HEADERS, timeout=30)
    assert response.status_code == 202, response.text
    events = []
    with Stream(stack.web_url + response.json()["events_url"], timeout=120) as stream:
        for event in stream:
            events.append(event)
            if event.event == "done":
                break
    assert events[-1].event == "done" and events[-1].data["status"] == "SUCCESS"
    assert events[-1].data["result"]["data"]["hierarchy"]["coherent"] is True
    counted = [e.data for e in events if e.event == "progress" and "series_done" in e.data]
    assert counted, "no chunk reported its series"
    done = [c["series_done"] for c in counted]
    assert done == sorted(done) and counted[-1]["series_done"] <= counted[-1]["series_total"]
    statuses = [e.data["status"] for e in events if e.event == "status"]
    assert statuses[-1] == "SUCCESS" and len(statuses) == len(set(statuses))
