"""The first job on a fresh worker against the later ones (issue 28, item 6).

    .venv/bin/python benchmarks/first_job.py [--series 300] [--jobs 10]

A Laravel-like server (this process) serves ``--series`` products in categories over 36 months;
the stack (Redis, gunicorn, one worker with one pool process) is started; as soon as it answers
``/readyz``, ``--jobs`` identical grouped jobs are run one after another, each with
``refresh: true`` (so none is answered from the cache). Prints the worker's start-up (process
start to ready: the warm-up of worker/warmup.py is in it), then each job's time from submit to
SUCCESS, and the first against the tenth. Wall times on a shared machine: read the ratio, with
the machine's load beside it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grouped_service import GROUP_BY, LineServer, LineTable, wait_done

from local.redis_server import free_port
from stack.local import LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    table = LineTable(args.series, 36, 5.56)
    warm = LineTable(10, 36, 1.0, seed=5)
    server = LineServer(table, warm, per_page=1000)
    laravel_url = server.start()
    root = Path(tempfile.mkdtemp(prefix="sf-first-job-"))
    print(f"{args.series} products × 36 months ({len(table):,} lines); {os.cpu_count()} cores, "
          f"load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_KEYS", "CELERY_"))}
        env.update(LARAVEL_API_URL=laravel_url, LARAVEL_ITEMS_PATH="/sales/items", WEB_PORT=str(free_port()),
                   SECRET_KEY="bench", MODEL_DIR=str(root / "models"), LARAVEL_DEADLINE_SECONDS="600")
        started = time.perf_counter()
        stack = LocalStack(env, root=root, log_dir=root / "logs", worker_concurrency=1)
        stack.start(ready_timeout=600)
        print(f"stack started, worker ready (its warm-up included) in {time.perf_counter() - started:.1f} s")
        try:
            session = requests.Session()
            times = []
            for k in range(args.jobs):
                t0 = time.perf_counter()
                task_id = session.post(f"{stack.web_url}/api/v1/forecasts",
                                       json={"group_by": GROUP_BY, "horizon": 3, "refresh": True}, timeout=30).json()["task_id"]
                doc = wait_done(session, stack.web_url, task_id, 1800, poll=0.1)
                if doc["status"] != "SUCCESS":
                    raise SystemExit(f"job {k + 1} ended {doc['status']}: {doc.get('error')}")
                times.append(time.perf_counter() - t0)
                print(f"  job {k + 1:2d}: {times[-1]:6.2f} s   (load {os.getloadavg()[0]:.1f})", flush=True)
            later = statistics.median(times[1:]) if len(times) > 1 else times[0]
            print(f"FIRST JOB {times[0]:.2f} s, TENTH {times[-1]:.2f} s, median of jobs 2-{len(times)} {later:.2f} s: "
                  f"first / later = {times[0] / later:.2f}")
        finally:
            stack.stop()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
