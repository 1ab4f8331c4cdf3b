"""The job service's own cost, against the pipeline it runs.

    .venv/bin/python benchmarks/service.py [--jobs 200] [--single 30] [--wrk-seconds 10]

Prints three figures, each as a ratio against a baseline measured in the same run:
1. Job throughput: N distinct forecast jobs (36-month histories served by the Laravel-like
   server) through the service with 2 worker processes, in jobs/s, against the same N pipelines
   run directly, one process per core.
2. Overhead: submit-to-result latency of single jobs on an idle stack, minus the pipeline's own
   time for the same job (p50, p99).
3. Status endpoint: a finished job's status under concurrent load (wrk), requests/s against a
   trivial endpoint (/healthz) on the same server, as a ratio, with p99.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen import wait_answering, wrk

from local.fake_laravel import FakeLaravel
from local.redis_server import free_port
from shared.contract.schema import ForecastRequest, months_before
from shared.engine.pipeline import LaravelSource, run_forecast
from shared.sources.laravel_client import LaravelClient
from stack.local import LocalStack

TODAY = date.today()
ROWS_PER_MONTH = 30


def shop_rows(n_shops: int, months: int = 37) -> list[dict]:
    """One history per shop, told apart by `status` (the API filters on it): distinct data, so
    neither the result cache nor the model store can serve one job from another."""
    rng = np.random.default_rng(11)
    rows, next_id = [], 1
    for shop in range(n_shops):
        level = rng.uniform(5_000, 50_000)
        growth = rng.uniform(-0.01, 0.02)
        season = rng.uniform(0.0, 0.4)
        for back in range(months, -1, -1):
            first = months_before(TODAY, back)
            month_total = level * (1 + growth) ** (months - back) * (1 + season * np.cos(2 * np.pi * (first.month - 12) / 12))
            for k in range(ROWS_PER_MONTH):
                day = 1 + (k * 27) // ROWS_PER_MONTH if back else 1
                rows.append({
                    "id": next_id,
                    "created_at": f"{first.year:04d}-{first.month:02d}-{day:02d}T12:00:00.000000Z",
                    "grand_total": f"{month_total / ROWS_PER_MONTH * rng.lognormal(0, 0.2):.2f}",
                    "status": f"shop{shop:03d}",
                })
                next_id += 1
    return rows


def request_for(shop: int) -> dict:
    return {"status": f"shop{shop:03d}", "horizon": 3, "level": 90}


def _direct(args: tuple[str, int]) -> float:
    base_url, shop = args
    started = time.perf_counter()
    client = LaravelClient(base_url)
    run_forecast(ForecastRequest.parse(request_for(shop)).resolved(TODAY), LaravelSource(client, base_url), today=TODAY)
    return time.perf_counter() - started


def _serve_laravel(n_shops: int, port: int) -> None:
    """The Laravel-like server in its own process: serving pages must not share a GIL with the
    benchmark's client loop or the direct pipelines."""
    FakeLaravel(shop_rows(n_shops), per_page=500, port=port).serve_forever()


def _warm() -> None:
    """Imports and first-call compilation, paid once per process (the workers are warm too)."""
    from shared.engine.models import make_model

    y = 1000 + 100 * np.sin(np.arange(36) * np.pi / 6)
    make_model("auto").fit(y).predict(3, 90.0)


def direct_baseline(base_url: str, n: int, processes: int) -> tuple[float, list[float]]:
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_warm) as pool:
        pool.map(time.sleep, [0.5] * processes, chunksize=1)  # wait until every process is warm
        started = time.perf_counter()
        durations = pool.map(_direct, [(base_url, shop) for shop in range(n)], chunksize=1)
        return time.perf_counter() - started, durations


def wait_all(session: requests.Session, web: str, ids: list[str], poll: float = 0.05) -> dict[str, float]:
    """Completion times. Jobs finish about in order (one queue): each round polls the oldest
    unfinished ones and stops at the first still running, so polling does not steal the CPU
    the workers are measured on."""
    done: dict[str, float] = {}
    while len(done) < len(ids):
        for task_id in ids:
            if task_id in done:
                continue
            status = session.get(f"{web}/api/v1/forecasts/{task_id}", timeout=10).json()["status"]
            if status not in ("SUCCESS", "FAILURE", "REVOKED"):
                break
            if status != "SUCCESS":
                raise SystemExit(f"job {task_id} ended {status}")
            done[task_id] = time.perf_counter()
        time.sleep(poll)
    return done


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--single", type=int, default=30)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    args = parser.parse_args()
    n_shops = args.jobs + args.single
    print(f"{n_shops} shops, {n_shops * 38 * ROWS_PER_MONTH:,} rows, 36-month histories; {os.cpu_count()} cores")
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve_laravel, args=(n_shops, port), daemon=True)
    server.start()
    laravel_url = f"http://127.0.0.1:{port}"
    wait_answering(laravel_url, 60, "the Laravel-like server")
    try:
        # 1. baseline: the same pipelines, directly, one process per core
        baseline_s, durations = direct_baseline(laravel_url, args.jobs, processes=2)
        baseline_rate = args.jobs / baseline_s
        print(f"direct pipelines      {args.jobs} jobs in {baseline_s:7.2f} s = {baseline_rate:6.2f} jobs/s "
              f"(median pipeline {statistics.median(durations):.3f} s)")

        root = Path(tempfile.mkdtemp(prefix="sf-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_KEYS"))}
        env.update(LARAVEL_API_URL=laravel_url, WEB_PORT=str(free_port()), SECRET_KEY="bench",
                   MODEL_DIR=str(root / "models"))
        stack = LocalStack(env, root=root, log_dir=root / "logs", worker_concurrency=2)
        stack.start(ready_timeout=120)
        try:
            web = stack.web_url
            session = requests.Session()
            # warm the worker processes (imports, first fit) before timing
            warm = [session.post(f"{web}/api/v1/forecasts", json={**request_for(n_shops - 1 - i), "horizon": 1}).json()["task_id"] for i in range(2)]
            wait_all(session, web, warm)

            started = time.perf_counter()
            ids = [session.post(f"{web}/api/v1/forecasts", json=request_for(shop), timeout=10).json()["task_id"]
                   for shop in range(args.jobs)]
            wait_all(session, web, ids, poll=0.05)
            service_s = time.perf_counter() - started
            service_rate = args.jobs / service_s
            print(f"service, 2 workers    {args.jobs} jobs in {service_s:7.2f} s = {service_rate:6.2f} jobs/s")
            print(f"THROUGHPUT RATIO      {service_rate / baseline_rate:.3f}   [target >= 0.85]")

            # 2. overhead of single jobs on an idle stack. The pipeline's own time is measured
            # in a separate, warmed process (as the worker is), not in this one, which also
            # serves the Laravel-like pages.
            overheads = []
            direct = multiprocessing.get_context("spawn").Pool(1, initializer=_warm)
            for shop in range(args.jobs, args.jobs + args.single):
                own = direct.apply(_direct, ((laravel_url, shop),))
                t0 = time.perf_counter()
                task_id = session.post(f"{web}/api/v1/forecasts", json=request_for(shop), timeout=10).json()["task_id"]
                t1 = wait_all(session, web, [task_id], poll=0.01)[task_id]
                overheads.append((t1 - t0) - own)
            direct.close()
            print(f"OVERHEAD              p50 {percentile(overheads, 50) * 1000:7.1f} ms   "
                  f"p99 {percentile(overheads, 99) * 1000:7.1f} ms   [target p50 < 300 ms]")

            # 3. status endpoint under load vs a trivial endpoint, same server
            if shutil.which("wrk"):
                # Interleaved rounds, best of each: single rounds are bimodal for either
                # endpoint (~1.2k or ~3.7k req/s here): wrk's 32 kept-alive connections land on
                # gunicorn's two processes unevenly, and a round with most of them on one
                # process measures one process. The best round is the balanced capacity.
                status_runs, health_runs = [], []
                for _ in range(5):
                    status = wrk(f"{web}/api/v1/forecasts/{ids[0]}", args.wrk_seconds)
                    health = wrk(f"{web}/healthz", args.wrk_seconds)
                    status_runs.append((status["rps"], status["p99"]))
                    health_runs.append((health["rps"], health["p99"]))
                print("status / healthz rounds (req/s): "
                      + ", ".join(f"{a:.0f}/{b:.0f}" for (a, _), (b, _) in zip(status_runs, health_runs)))
                status_rps, status_p99 = max(status_runs)
                health_rps, health_p99 = max(health_runs)
                print(f"status endpoint       {status_rps:8.0f} req/s  p99 {status_p99:6.1f} ms")
                print(f"/healthz              {health_rps:8.0f} req/s  p99 {health_p99:6.1f} ms")
                print(f"STATUS RATIO          {status_rps / health_rps:.3f}   [target >= 0.7]")
            else:
                print("status endpoint       skipped: wrk is not installed (apt-get install wrk)")
        finally:
            stack.stop()
            shutil.rmtree(root, ignore_errors=True)
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
