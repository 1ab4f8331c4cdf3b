"""Chaos: N jobs through the real stack while workers are killed (kill -9) and restarted.

Two workers (one pool process each) consume the queue; every ``--kill-every`` seconds one of
them loses either its pool process (Celery requeues the job at once: reject_on_worker_lost) or
everything, main process included (the job waits in kombu's unacked hash until the surviving
worker restores it, VISIBILITY_TIMEOUT_SECONDS after it was taken), and is restarted a second
later, as a supervisor would. At the end: submitted == succeeded, lost == 0, and a job run twice
(redelivered after its worker died, or restored while still running) left one SUCCESS document.

    .venv/bin/python benchmarks/chaos.py                 # 200 jobs, a kill every 4 s
    .venv/bin/python benchmarks/chaos.py --jobs 40 --kill-every 3

It prints figures; it exits 1 if a job was lost or failed.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
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
from stack import commands  # noqa: E402
from stack.local import LocalStack, _resolve  # noqa: E402

API_KEY = "chaos-key"
TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")
WORKERS = ("worker", "worker2")


def start(tmp: Path, visibility_timeout: int, page_delay: float) -> tuple[LocalStack, FakeLaravel]:
    laravel = FakeLaravel(sales_rows(date.today()), per_page=200)
    laravel.faults.delay_seconds = page_delay  # a job lasts a few pages: kills land mid-job
    laravel.start()
    redis_server = RedisServer(data_dir=tmp / "redis", appendonly=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "LARAVEL_", "API_KEYS"))}
    env.update(
        REDIS_URL=redis_server.url, LARAVEL_API_URL=laravel.base_url, API_KEYS=API_KEY,
        WEB_PORT=str(free_port()), SECRET_KEY="chaos-secret", MODEL_DIR=str(tmp / "models"),
        UPSTREAM_TASK_RETRIES="0", VISIBILITY_TIMEOUT_SECONDS=str(visibility_timeout),
        PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
    )
    stack = LocalStack(env, root=ROOT, log_dir=tmp / "logs", worker_concurrency=1)
    stack.redis = redis_server
    stack.start(ready_timeout=120)
    stack._spawn("worker2", _resolve(commands.worker("forecasts", 1)) + ["--hostname", "worker2@%h"])
    return stack, laravel


class Chaos(threading.Thread):
    def __init__(self, stack: LocalStack, every: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.stack, self.every, self.rng = stack, every, random.Random(seed)
        self.stop = threading.Event()
        self.kills: Counter = Counter()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            name = self.rng.choice(WORKERS)
            managed = self.stack.processes.get(name)
            if managed is None or managed.process.poll() is not None:
                continue
            children = psutil.Process(managed.process.pid).children()
            if children and self.rng.random() < 0.5:
                os.kill(self.rng.choice(children).pid, signal.SIGKILL)
                self.kills["pool process"] += 1
            else:
                os.killpg(managed.process.pid, signal.SIGKILL)
                managed.process.wait()
                self.kills["whole worker"] += 1
                time.sleep(1.0)
                self.stack.restart(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2.0, help="submissions per second")
    parser.add_argument("--kill-every", type=float, default=4.0)
    parser.add_argument("--visibility-timeout", type=int, default=10)
    parser.add_argument("--page-delay", type=float, default=0.1, help="Laravel's delay per page (6 pages a job)")
    parser.add_argument("--timeout", type=float, default=600, help="how long to wait for the last job")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sf-chaos-"))
    stack, laravel = start(tmp, args.visibility_timeout, args.page_delay)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    session = requests.Session()
    session.headers.update(headers)
    url = stack.web_url
    chaos = Chaos(stack, args.kill_every, args.seed)
    accepted: list[str] = []
    refused: Counter = Counter()
    began = time.monotonic()
    try:
        chaos.start()
        for n in range(args.jobs):
            # every job distinct (no joining): horizon x level; refresh, so each one computes
            body = {"model": "linear", "horizon": 1 + n % 24, "level": 50 + (n // 24) % 49, "refresh": True}
            response = session.post(f"{url}/api/v1/forecasts", json=body, timeout=30)
            if response.status_code == 202:
                accepted.append(response.json()["task_id"])
            else:
                refused[response.status_code] += 1
            time.sleep(max(0.0, began + (n + 1) / args.rate - time.monotonic()))
        submitted_in = time.monotonic() - began

        def final(task_id: str) -> dict:
            deadline = time.monotonic() + args.timeout
            doc: dict = {}
            while time.monotonic() < deadline:
                doc = requests.get(f"{url}/api/v1/forecasts/{task_id}", headers=headers, timeout=30).json()
                if doc.get("status") in TERMINAL:
                    return doc
                time.sleep(0.5)
            return doc

        with ThreadPoolExecutor(8) as pool:
            finals = list(pool.map(final, accepted))
        chaos.stop.set()
        chaos.join(30)
        elapsed = time.monotonic() - began
        worker_logs = "".join((tmp / "logs" / f"{n}.log").read_text(errors="replace") for n in WORKERS)
    finally:
        chaos.stop.set()
        stack.stop()
        laravel.stop()

    outcome = Counter(d.get("status", "?") for d in finals)
    codes = Counter((d.get("error") or {}).get("code") for d in finals if d.get("status") == "FAILURE")
    lost = sum(1 for d in finals if d.get("status") not in TERMINAL)
    runs = Counter(re.findall(r"forecast\.sales\[([0-9a-f-]{36})\] succeeded", worker_logs))
    twice = sum(1 for t in accepted if runs.get(t, 0) > 1)
    fingerprints_ok = all(
        d["result"]["data"]["meta"]["task_id"] == t for t, d in zip(accepted, finals) if d.get("status") == "SUCCESS"
    )
    print(f"chaos: {args.jobs} jobs at {args.rate}/s (submitted in {submitted_in:.0f}s), a kill every "
          f"{args.kill_every}s, visibility timeout {args.visibility_timeout}s; finished in {elapsed:.0f}s")
    print(f"  kills: {dict(chaos.kills)}")
    print(f"  submitted {args.jobs}, accepted {len(accepted)}, refused {dict(refused)}")
    print(f"  outcome {dict(outcome)}, failed by code {dict(codes)}, lost {lost}")
    print(f"  jobs that ran to SUCCESS more than once (harmless duplicates): {twice}; "
          f"documents name their own task: {fingerprints_ok}")
    ok = lost == 0 and outcome.get("SUCCESS", 0) == len(accepted) == args.jobs and fingerprints_ok
    print("  OK" if ok else "  FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
