"""Young shops, empty windows, a slow or absent Laravel, a hanging job: what each case does.

Each case runs through the real stack (embedded Redis, a Celery worker, gunicorn) against the
Laravel-like server, and prints its outcome and how long the job took. Timings are the
production defaults divided by ``--scale`` (10 by default: a 1 s request timeout, a 6 s
LARAVEL_DEADLINE_SECONDS, re-runs 1 s apart, doubling), so the whole run takes a few minutes.
It runs against the code it sits in: copy it into an older checkout to measure that one.

    .venv/bin/python benchmarks/honest_histories.py
    .venv/bin/python benchmarks/honest_histories.py --scale 1    # production timings (slow)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.fake_laravel import Faults  # noqa: E402
from local.redis_server import RedisServer, free_port  # noqa: E402
from local.sample import Laravel, sales_rows  # noqa: E402
from shared.contract.schema import months_before  # noqa: E402
from stack.local import LocalStack  # noqa: E402

API_KEY = "histories-key"
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")
TODAY = date.today()


def start_stack(tmp: Path, laravel: Laravel, **settings: str) -> LocalStack:
    redis_server = RedisServer(data_dir=tmp / "redis").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "LARAVEL_", "API_KEYS"))}
    env.update(
        REDIS_URL=redis_server.url, LARAVEL_API_URL=laravel.url, API_KEYS=API_KEY, WEB_PORT=str(free_port()),
        SECRET_KEY="histories-secret", MODEL_DIR=str(tmp / "models"), PYTHONPATH=str(ROOT), **settings,
    )
    stack = LocalStack(env, root=ROOT, log_dir=tmp / "logs", worker_concurrency=1)
    stack.redis = redis_server
    stack.start(ready_timeout=120)
    return stack


def run(stack: LocalStack, body: dict, limit: float) -> tuple[dict, float]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    began = time.monotonic()
    response = requests.post(f"{stack.web_url}/api/v1/forecasts", json={**body, "refresh": True}, headers=headers, timeout=10)
    task_id = response.json()["task_id"]
    document: dict = {}
    while time.monotonic() - began < limit:
        document = requests.get(f"{stack.web_url}/api/v1/forecasts/{task_id}", headers=headers, timeout=10).json()
        if document["status"] in TERMINAL:
            break
        time.sleep(0.2)
    return document, time.monotonic() - began


def outcome(document: dict, took: float, limit: float) -> str:
    if document.get("status") not in TERMINAL:
        return f"still {document.get('status')} after {limit:.0f} s"
    if document["status"] == "SUCCESS":
        return f"SUCCESS in {took:.1f} s"
    error = document.get("error") or {}
    return f"FAILURE {error.get('code')} in {took:.1f} s: {error.get('message', '')[:150]}"


def with_rows(laravel: Laravel, rows: list) -> None:
    laravel.stop()
    laravel.rows = rows
    laravel.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0, help="divide the production timings by this")
    args = parser.parse_args()
    timeout = 10 / args.scale
    deadline = 60 / args.scale
    three_years = months_before(TODAY, 35).isoformat()
    print(f"timings: LARAVEL_TIMEOUT_SECONDS={timeout:g}, LARAVEL_DEADLINE_SECONDS={deadline:g}, "
          f"UPSTREAM_TASK_RETRIES=2, UPSTREAM_RETRY_DELAY_SECONDS={timeout:g}")
    laravel = Laravel(sales_rows(TODAY))
    laravel.start()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(
            Path(tmp) / "a", laravel, LARAVEL_TIMEOUT_SECONDS=str(timeout), LARAVEL_DEADLINE_SECONDS=str(deadline),
            UPSTREAM_TASK_RETRIES="2", UPSTREAM_RETRY_DELAY_SECONDS=str(timeout),
        )
        try:
            limit = 30 * timeout + 60
            print("\n| case | outcome |\n| --- | --- |")
            laravel.server.faults = Faults(delay_seconds=1.5 * timeout)
            document, took = run(stack, {"model": "linear"}, limit)
            laravel.server.faults = Faults()
            print(f"| every response 1.5x the timeout | {outcome(document, took, limit)} |")
            laravel.stop()
            document, took = run(stack, {"model": "linear", "horizon": 2}, limit)
            laravel.start()
            print(f"| Laravel down | {outcome(document, took, limit)} |")

            with_rows(laravel, [])
            document, took = run(stack, {"start_date": three_years}, 120)
            print(f"| no rows, 35-month window | {outcome(document, took, 120)} |")
            with_rows(laravel, sales_rows(TODAY, months=2))
            document, took = run(stack, {"start_date": three_years}, 120)
            print(f"| 2 complete months, 35-month window | {outcome(document, took, 120)} |")
            with_rows(laravel, sales_rows(TODAY, months=12))
            for name, start in (("35-month window", three_years), ("window from the first sale", months_before(TODAY, 12).isoformat())):
                document, took = run(stack, {"start_date": start}, 120)
                forecast = document["result"]["data"]["forecast"]
                quality = document["result"]["data"]["data_quality"]
                print(f"| first sale 12 months ago, {name} | forecast {forecast['next_month_forecast']}, "
                      f"{forecast['metrics']['backtest_origins']} backtest origins, "
                      f"{len(document['result']['data']['actual_sales'])} months, "
                      f"leading_empty_months {len(quality['leading_empty_months']) if 'leading_empty_months' in quality else 'absent'} |")

            rows = sales_rows(TODAY)
            window = [r for r in rows if r["created_at"][:10] >= three_years]
            bad = {**window[199], "created_at": "not a date"}  # the last row of page 1 ...
            served = rows[: rows.index(window[199])] + [bad, dict(bad)] + rows[rows.index(window[199]) + 1 :]
            with_rows(laravel, served)  # ... served again at the top of page 2
            document, took = run(stack, {"start_date": three_years, "model": "linear"}, 120)
            quality = document["result"]["data"]["data_quality"]
            print(f"| one bad row served on two pages | rows_rejected {quality['rows_rejected']}, "
                  f"duplicates {quality['duplicates']} |")
            with_rows(laravel, rows)
        finally:
            stack.stop()

        stack = start_stack(
            Path(tmp) / "b", laravel, TASK_SOFT_TIME_LIMIT_SECONDS="5", TASK_TIME_LIMIT_SECONDS="60",
            LARAVEL_TIMEOUT_SECONDS="120", LARAVEL_DEADLINE_SECONDS="600",
        )
        try:
            laravel.server.faults = Faults(delay_seconds=30)
            document, took = run(stack, {"model": "linear"}, 60)
            laravel.server.faults = Faults()
            print(f"| every response 30 s (a hang), soft limit 5 s | {outcome(document, took, 60)} |")
            if document.get("status") not in TERMINAL:
                requests.delete(f"{stack.web_url}/api/v1/forecasts/{document['task_id']}",
                                headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
            document, took = run(stack, {"model": "linear", "horizon": 5}, 240)
            print(f"| the next job on the same worker | {outcome(document, took, 240)} |")
        finally:
            stack.stop()
    laravel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
