"""Soak: N jobs at the rate the workers sustain, alongside a steady stream of status polls.

The real stack (Redis, one Celery worker with two pool processes, gunicorn) against the
Laravel-like server. First a short calibration run measures the rate the two pool processes
sustain (a burst of jobs, timed until the last finishes); then ``--jobs`` jobs are submitted at
``--load`` of that rate while ``--polls`` GET /api/v1/forecasts/{id} a second go on. It prints:
accepted, succeeded, failed by code, lost (must be 0), p50/p99 latency of submit and poll, and
the worker's RSS (main + pool processes) at the start and the end (growth should stay < 20%).

    .venv/bin/python benchmarks/soak.py                    # 1,000 jobs, 200 polls/s
    .venv/bin/python benchmarks/soak.py --jobs 100         # a quick check

It prints figures; it exits 1 if a job was lost or failed, or RSS grew by 20% or more.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.fake_laravel import FakeLaravel  # noqa: E402
from local.redis_server import RedisServer, free_port  # noqa: E402
from local.sample import sales_rows  # noqa: E402
from stack.local import LocalStack  # noqa: E402

API_KEY = "soak-key"
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def worker_rss(stack: LocalStack) -> tuple[int, int]:
    """(bytes, processes) of the worker's main process and its pool."""
    main = psutil.Process(stack.processes["worker"].process.pid)
    procs = [main, *main.children(recursive=True)]
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total, len(procs)


class Load:
    def __init__(self, url: str, model: str) -> None:
        self.url = url
        self.model = model
        self.headers = {"Authorization": f"Bearer {API_KEY}"}
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.refused: Counter = Counter()
        self.submit_latency: list[float] = []
        self.poll_latency: list[float] = []
        self.poll_status: Counter = Counter()
        self.counter = 0
        self.local = threading.local()

    def session(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.headers.update(self.headers)
        return session

    def submit(self) -> str | None:
        with self.lock:
            self.counter += 1
            n = self.counter
        # distinct requests (no joining); refresh, so every job fetches and fits
        body = {"model": self.model, "horizon": 1 + n % 24, "level": 50 + (n // 24) % 49, "refresh": True}
        began = time.perf_counter()
        response = self.session().post(f"{self.url}/api/v1/forecasts", json=body, timeout=30)
        latency = time.perf_counter() - began
        with self.lock:
            self.submit_latency.append(latency)
            if response.status_code == 202:
                task_id = response.json()["task_id"]
                self.accepted.append(task_id)
                return task_id
            self.refused[response.status_code] += 1
        return None

    def poll_once(self, rng: random.Random) -> None:
        with self.lock:
            if not self.accepted:
                return
            task_id = self.accepted[-1 - int(rng.expovariate(0.05)) % len(self.accepted)]  # mostly recent ones
        began = time.perf_counter()
        response = self.session().get(f"{self.url}/api/v1/forecasts/{task_id}", timeout=30)
        latency = time.perf_counter() - began
        with self.lock:
            self.poll_latency.append(latency)
            self.poll_status[response.status_code] += 1

    def final(self, task_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        doc: dict = {}
        while time.monotonic() < deadline:
            doc = self.session().get(f"{self.url}/api/v1/forecasts/{task_id}", timeout=30).json()
            if doc.get("status") in TERMINAL:
                return doc
            time.sleep(0.5)
        return doc


def run_paced(fn, rate: float, count: int | None, stop: threading.Event, threads: int) -> list[threading.Thread]:
    """Call ``fn`` ``rate`` times a second from ``threads`` threads (``count`` calls in all, or until stop)."""
    began = time.monotonic()
    issued = [0]
    lock = threading.Lock()

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            with lock:
                n = issued[0]
                if count is not None and n >= count:
                    return
                issued[0] += 1
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                fn(rng)
            except requests.RequestException:
                pass

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for thread in workers:
        thread.start()
    return workers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--polls", type=float, default=200.0, help="status polls a second")
    parser.add_argument("--model", default="linear")
    parser.add_argument("--calibration-jobs", type=int, default=40)
    parser.add_argument("--load", type=float, default=0.8, help="fraction of the calibrated rate to submit at")
    parser.add_argument("--rate", type=float, default=None, help="jobs a second (skips the calibration)")
    parser.add_argument("--timeout", type=float, default=600, help="how long to wait for the last job")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sf-soak-"))
    laravel = FakeLaravel(sales_rows(date.today()), per_page=200)
    laravel.start()
    redis_server = RedisServer(data_dir=tmp / "redis").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "LARAVEL_", "API_KEYS"))}
    env.update(
        REDIS_URL=redis_server.url, LARAVEL_API_URL=laravel.base_url, API_KEYS=API_KEY,
        WEB_PORT=str(free_port()), SECRET_KEY="soak-secret", MODEL_DIR=str(tmp / "models"),
        PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
    )
    stack = LocalStack(env, root=ROOT, log_dir=tmp / "logs", worker_concurrency=2)
    stack.redis = redis_server
    stack.start(ready_timeout=120)
    try:
        load = Load(stack.web_url, args.model)
        # -- calibration: a burst, timed until the last job finishes --------------------------
        if args.rate:
            rate = args.rate
        else:
            began = time.monotonic()
            ids = [load.submit() for _ in range(args.calibration_jobs)]
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda t: load.final(t, args.timeout), [t for t in ids if t]))
            sustained = args.calibration_jobs / (time.monotonic() - began)
            rate = sustained * args.load
            print(f"calibration: {args.calibration_jobs} '{args.model}' jobs in a burst -> "
                  f"{sustained:.2f} jobs/s sustained; soaking at {rate:.2f} jobs/s ({args.load:.0%})")
        calibration_ids = list(load.accepted)
        load.accepted.clear()
        load.submit_latency.clear()
        rss_start, procs_start = worker_rss(stack)

        # -- the soak ------------------------------------------------------------------------
        stop = threading.Event()
        began = time.monotonic()
        pollers = run_paced(load.poll_once, args.polls, None, stop, threads=16)
        submitters = run_paced(lambda _rng: load.submit(), rate, args.jobs, stop, threads=4)
        for thread in submitters:
            thread.join()
        submitted_in = time.monotonic() - began
        with ThreadPoolExecutor(8) as pool:
            finals = list(pool.map(lambda t: load.final(t, args.timeout), list(load.accepted)))
        drained_in = time.monotonic() - began
        stop.set()
        for thread in pollers:
            thread.join(30)
        rss_end, procs_end = worker_rss(stack)
    finally:
        stack.stop()
        laravel.stop()

    outcome = Counter(d.get("status", "?") for d in finals)
    codes = Counter((d.get("error") or {}).get("code") for d in finals if d.get("status") == "FAILURE")
    lost = sum(1 for d in finals if d.get("status") not in TERMINAL)
    growth = (rss_end - rss_start) / rss_start
    ms = 1000
    print(f"soak: {args.jobs} jobs at {rate:.2f}/s (submitted in {submitted_in:.0f}s, all finished after "
          f"{drained_in:.0f}s) with {args.polls:.0f} polls/s; calibration jobs {len(calibration_ids)}")
    print(f"  accepted {len(load.accepted)}, refused {dict(load.refused)}, outcome {dict(outcome)}, "
          f"failed by code {dict(codes)}, lost {lost}")
    print(f"  submit latency p50 {percentile(load.submit_latency, 50) * ms:.0f} ms, "
          f"p99 {percentile(load.submit_latency, 99) * ms:.0f} ms, max {max(load.submit_latency) * ms:.0f} ms")
    print(f"  poll latency p50 {percentile(load.poll_latency, 50) * ms:.0f} ms, p99 "
          f"{percentile(load.poll_latency, 99) * ms:.0f} ms over {len(load.poll_latency)} polls "
          f"({len(load.poll_latency) / drained_in:.0f}/s achieved), statuses {dict(load.poll_status)}")
    print(f"  worker RSS {rss_start / 2**20:.0f} MiB ({procs_start} processes) -> {rss_end / 2**20:.0f} MiB "
          f"({procs_end} processes): {growth:+.1%}")
    ok = lost == 0 and outcome.get("SUCCESS", 0) == args.jobs and growth < 0.20
    print("  OK" if ok else "  FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
