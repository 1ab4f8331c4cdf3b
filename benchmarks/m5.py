"""The M5-shaped shop (local/m5.py) through the service, against the engine alone, in the same run.

    .venv/bin/python benchmarks/m5.py [--stores 10] [--days 1941] [--horizon 3] [--skip-engine]

The shop's sale lines are served by local/m5.py's server (its own process, pages of 1,000).
One grouped job, ``group_by [store_id, dept_id, product_id]`` in ``units`` over the shop's whole
history, is run twice:

1. **engine, 2 processes**: the fetch and panel here, every series' base forecast in a pool of two
   warm processes, the reconcile and documents here;
2. **service, 2 workers**: Redis, gunicorn and two Celery workers of one process each, the job
   from submit to SUCCESS.

Prints lines/s fetched and parsed, each stage's time, CPU-s per series, peak RSS per process
(target < 2 GB), total wall time and the throughput ratio (target >= 0.85), with the machine's
load. ``--frequency`` (month, week or day: the M5's own is day, h = 28) and ``--stores``/``--days``
scale it down (labelled as such in the output). ``--accuracy H`` scores every level on the last H periods held out
(engine, naive, seasonal naive; MASE, RMSSE and the M5's WRMSSE) instead.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grouped_service import BASELINE_CHUNK, RssSampler, _at, _log_lines, _warm_process, wait_done

from local.m5 import M5_DAYS, M5Server, M5Shop
from local.redis_server import free_port
from shared.engine.backtest import mase
from stack.local import LocalStack

GROUP_BY = ["store_id", "dept_id", "product_id"]
ADJECTIVE = {"month": "monthly", "week": "weekly", "day": "daily"}
SEASON = {"month": 12, "week": 52, "day": 7}


def _serve(stores: int, days: int, port: int, ready: Any) -> None:
    shop = M5Shop(stores=stores, days=days)
    ready.put((len(shop), shop.n_series, shop.first_day.isoformat(), shop.end.isoformat()))
    M5Server(shop, port=port, per_page=1000).serve_forever()


def _options_chunk(args: tuple[list[dict], dict[str, Any]]) -> tuple[list[dict], int]:
    """One chunk with the job's own forecast_chunk options (frequency, effects), in a pool process."""
    from shared.engine.hierarchy import forecast_chunk

    items, options = args
    return forecast_chunk(items, **options), psutil.Process().memory_info().rss


def _body(first: str, end: str, horizon: int, frequency: str) -> dict[str, Any]:
    body = {"group_by": GROUP_BY, "measure": "units", "horizon": horizon, "start_date": first, "end_date": end}
    return body if frequency == "month" else {**body, "frequency": frequency}


def run_engine(url: str, body: dict[str, Any], today: date) -> dict[str, float]:
    from shared.contract.schema import ForecastRequest
    from shared.engine.grouped import LaravelLineSource, assemble, chunk_options, fetch_panel
    from shared.engine.hierarchy import series_inputs
    from shared.sources.laravel_client import LaravelClient

    request = ForecastRequest.parse(body).resolved(today)
    with multiprocessing.get_context("spawn").Pool(2, initializer=_warm_process) as pool:
        pool.map(time.sleep, [1.0, 1.0], chunksize=1)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        source = LaravelLineSource(LaravelClient(url, timeout=60), url)
        panel = fetch_panel(request, source, timezone="UTC", today=today, report=lambda stage, percent: None)
        fetch_cpu = time.process_time() - cpu0
        t1 = time.perf_counter()
        items = series_inputs(panel)
        options = chunk_options(panel, request)
        tasks = [(items[lo : lo + BASELINE_CHUNK], options) for lo in range(0, len(items), BASELINE_CHUNK)]
        results, peak_child = [], 0
        children = [psutil.Process(p.pid) for p in pool._pool]  # type: ignore[attr-defined]
        cpu_children0 = sum(c.cpu_times().user + c.cpu_times().system for c in children)
        for chunk, rss in pool.imap_unordered(_options_chunk, tasks):
            results.extend(chunk)
            peak_child = max(peak_child, rss)
        cpu_children = sum(c.cpu_times().user + c.cpu_times().system for c in children) - cpu_children0
        t2 = time.perf_counter()
        grouped = assemble(panel, request, results)
        t3 = time.perf_counter()
    assert grouped.document["data"]["hierarchy"]["coherent"]
    lines = int(panel.data_quality.get("rows_fetched", 0)) or int(panel.lines[0])
    return {"series": len(panel), "lines": lines, "fetch": t1 - t0, "fetch_cpu": fetch_cpu, "forecast": t2 - t1,
            "forecast_cpu": cpu_children, "assemble": t3 - t2, "total": t3 - t0, "peak_child_mb": peak_child / 2**20,
            "peak_main_mb": psutil.Process().memory_info().rss / 2**20}


def _rmsse_scale(y: np.ndarray) -> float | None:
    """The M5's RMSSE denominator: mean squared one-step naive error from the first sale on."""
    nz = np.flatnonzero(y)
    if nz.size == 0:
        return None
    x = y[nz[0]:]
    if x.size < 2:
        return None
    scale = float(np.mean(np.diff(x) ** 2))
    return scale if scale > 0 else None


def run_accuracy(url: str, body: dict[str, Any], holdout: int, season: int = 12) -> None:
    """Every level's accuracy on the shop's last ``holdout`` periods, held out: the engine
    (reconciled), naive and seasonal naive; and the M5's WRMSSE over all levels."""
    import dataclasses

    from shared.contract.schema import ForecastRequest
    from shared.engine.grouped import LaravelLineSource, chunk_options, fetch_panel
    from shared.engine.hierarchy import forecast_chunk, reconcile, series_inputs
    from shared.sources.laravel_client import LaravelClient

    request = ForecastRequest.parse(body).resolved(date.today())
    source = LaravelLineSource(LaravelClient(url, timeout=60), url)
    full = fetch_panel(request, source, timezone="UTC", today=date.today(), report=lambda stage, percent: None)
    T = full.values.shape[1]
    H = holdout
    train = dataclasses.replace(full, values=full.values[:, : T - H].copy(), cents=None, periods=full.periods[: T - H],
                                total_orders=full.total_orders[: T - H], start=np.minimum(full.start, T - H))
    actual = full.values[:, T - H :]
    cpu0 = time.process_time()
    options = chunk_options(train, request.model_copy(update={"horizon": H, "level": 90}))
    results = forecast_chunk(series_inputs(train), **options)
    rec = reconcile(train, results)
    cpu = time.process_time() - cpu0
    forecasts: dict[str, np.ndarray] = {"engine (reconciled)": rec.mean}
    last = train.values[:, -1:]
    forecasts["naive"] = np.repeat(last, H, axis=1)
    sn = np.zeros_like(actual)
    for j in range(H):
        sn[:, j] = train.values[:, T - H - season + (j % season)] if T - H >= season else train.values[:, -1]
    forecasts["seasonal naive"] = sn
    weight_span = min(season, T - H)  # the M5 weighs by the last 28 days; here the last year
    weights_raw = np.abs(train.values[:, -weight_span:]).sum(axis=1)
    print(f"\naccuracy: the last {H} periods held out ({T - H} to train), every level; engine {cpu:.0f} CPU-s "
          f"({len(train):,} series); load {os.getloadavg()[0]:.1f}")
    print(f"  {'level':>5} {'series':>7}  " + "  ".join(f"{name:>28}" for name in forecasts))
    wrmsse = {name: 0.0 for name in forecasts}
    for k in range(train.n_levels):
        rows = train.level_indices(k)
        cells = []
        w = weights_raw[rows]
        w = w / w.sum() if w.sum() > 0 else np.full(rows.size, 1.0 / rows.size)
        for name, f in forecasts.items():
            mases, rmsses, wsum = [], [], 0.0
            for j, i in enumerate(rows):
                y = train.history(int(i))
                m = mase(actual[i], f[i], y, season) if y.size > 1 else None
                if m is not None:
                    mases.append(m)
                scale = _rmsse_scale(y)
                if scale is not None:
                    r = float(np.sqrt(np.mean((actual[i] - f[i]) ** 2) / scale))
                    rmsses.append(r)
                    wsum += w[j] * r
            wrmsse[name] += wsum / train.n_levels
            cells.append(f"MASE {np.mean(mases):6.3f} RMSSE {np.mean(rmsses):6.3f}")
        print(f"  {k:>5} {rows.size:>7}  " + "  ".join(f"{c:>28}" for c in cells))
    print("  WRMSSE (the M5's: levels weighted equally, series by their units over the last year of training): "
          + ", ".join(f"{name} {v:.3f}" for name, v in wrmsse.items()))


def run_service(stack: LocalStack, body: dict[str, Any]) -> dict[str, Any]:
    web = stack.web_url
    session = requests.Session()
    pids = {name: stack.processes[name].process.pid for name in stack.processes if name.startswith("worker")}
    sampler = RssSampler(pids)
    sampler.start()
    cpu0 = {n: sum(p.cpu_times().user + p.cpu_times().system for p in [psutil.Process(pid), *psutil.Process(pid).children(True)])
            for n, pid in pids.items()}
    submitted = time.time()
    t0 = time.perf_counter()
    task_id = session.post(f"{web}/api/v1/forecasts", json=body, timeout=30).json()["task_id"]
    doc = wait_done(session, web, task_id, 7200, poll=0.5)
    wall = time.perf_counter() - t0
    cpu = {n: sum(p.cpu_times().user + p.cpu_times().system for p in [psutil.Process(pid), *psutil.Process(pid).children(True)]) - cpu0[n]
           for n, pid in pids.items()}
    sampler.stop()
    if doc["status"] != "SUCCESS":
        raise SystemExit(f"the job ended {doc['status']}: {doc.get('error')}")
    time.sleep(2)
    logs = [stack.log_dir / f"{name}.log" for name in pids]
    lines = [e for p in logs for e in _log_lines(p, f"grouped job {task_id}: ")]
    fanout = [e for e in lines if "chunks of" in e["message"]]
    fanin = [e for e in lines if "reconciled in" in e["message"]]
    split: dict[str, float] = {}
    if fanout and fanin:
        panel_s = float(re.search(r"fetch and panel ([\d.]+) s", fanout[0]["message"]).group(1))
        rec_s, write_s = map(float, re.search(r"reconciled in ([\d.]+) s and written in ([\d.]+) s", fanin[0]["message"]).groups())
        split = {"queue + fetch + panel": _at(fanout[0]) - submitted, "(of which fetch + panel)": panel_s,
                 "chunks": _at(fanin[0]) - rec_s - write_s - _at(fanout[0]), "reconcile": rec_s, "write": write_s}
    return {"wall": wall, "series": doc["result"]["data"]["hierarchy"]["series"], "split": split, "cpu": cpu,
            "rss": sampler.peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--days", type=int, default=M5_DAYS)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--frequency", choices=["month", "week", "day"], default="month",
                        help="the M5's own is day with horizon 28")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="separately started workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker (default 1)")
    parser.add_argument("--accuracy", type=int, default=0, metavar="H",
                        help="only the accuracy part: the last H periods held out, every level, and WRMSSE")
    args = parser.parse_args()
    port = free_port()
    ready: Any = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(args.stores, args.days, port, ready), daemon=True)
    server.start()
    n_lines, n_series, first, end = ready.get(timeout=1800)
    url = f"http://127.0.0.1:{port}"
    time.sleep(1)
    scaled = "" if (args.stores, args.days) == (10, M5_DAYS) else " (SCALED DOWN from 10 stores × 1,941 days)"
    print(f"M5 shop: {args.stores} store(s) × 3,049 products = {n_series:,} bottom series, {n_lines:,} sale lines over "
          f"{args.days} days ({first} to {end}){scaled}; {ADJECTIVE[args.frequency]}, h = {args.horizon}; {os.cpu_count()} cores, "
          f"load {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    body = _body(first, end, args.horizon, args.frequency)
    if args.accuracy:
        try:
            run_accuracy(url, body, args.accuracy, season=SEASON[args.frequency])
        finally:
            server.terminate()
        return 0
    today = date.fromisoformat(end)
    root = Path(tempfile.mkdtemp(prefix="sf-m5-bench-"))
    try:
        engine = None
        if not args.skip_engine:
            engine = run_engine(url, body, date.today())
            print(f"\nengine, 2 processes: {engine['series']:,} series in {engine['total']:.1f} s "
                  f"(fetch + panel {engine['fetch']:.1f} s = {engine['lines'] / engine['fetch']:,.0f} lines/s wall, "
                  f"{engine['lines'] / engine['fetch_cpu']:,.0f} lines/s of CPU; forecasts {engine['forecast']:.1f} s, "
                  f"{engine['forecast_cpu'] / engine['series']:.4f} CPU-s a series; reconcile + documents {engine['assemble']:.1f} s); "
                  f"peak RSS main {engine['peak_main_mb']:.0f} MB, pool process {engine['peak_child_mb']:.0f} MB; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        del today
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_KEYS", "CELERY_"))}
        env.update(LARAVEL_API_URL=url, LARAVEL_ITEMS_PATH="/sales/items", WEB_PORT=str(free_port()),
                   SECRET_KEY="bench", MODEL_DIR=str(root / "models"), LARAVEL_DEADLINE_SECONDS="3600",
                   LARAVEL_TIMEOUT_SECONDS="60",
                   # The full shop's job took 8-9 min here (docs/scaling.md §1b); on a slower or busier
                   # machine it may pass the default 20-minute job limit, which would end it unmeasured.
                   TASK_SOFT_TIME_LIMIT_SECONDS="3600", TASK_TIME_LIMIT_SECONDS="3900")
        stack = LocalStack(env, root=root, log_dir=root / "logs", worker_concurrency=args.concurrency)
        stack.start(ready_timeout=600)
        for w in range(2, args.workers + 1):
            stack.add_worker(f"worker{w}", args.concurrency)
        try:
            time.sleep(5)
            service = run_service(stack, body)
            cpu = sum(service["cpu"].values())
            print(f"service, {args.workers} worker(s) × {args.concurrency} process(es): {service['series']:,} series in {service['wall']:.1f} s; "
                  f"{cpu / service['series']:.4f} CPU-s a series (both workers, all their processes); load {os.getloadavg()[0]:.1f}")
            for name, seconds in service["split"].items():
                print(f"  {name:28s} {seconds:8.1f} s")
            print("peak RSS by process: " + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(service["rss"].items()))
                  + "   [target < 2048 MB]")
            if engine:
                ratio = (service["series"] / service["wall"]) / (engine["series"] / engine["total"])
                print(f"THROUGHPUT RATIO service / engine: {ratio:.3f}   [target >= 0.85]")
        finally:
            stack.stop()
    finally:
        server.terminate()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
