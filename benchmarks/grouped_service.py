"""A grouped job through the service, against the engine on the same data, in the same run.

    .venv/bin/python benchmarks/grouped_service.py [--series 10000] [--months 36] [--lines 5.56]
                                                   [--readers 20] [--read-seconds 10]

One Laravel-like server (its own process) serves the sale lines of ``--series`` products in 50
categories over ``--months`` complete months and the month to date (2 M lines at the defaults,
pages of 1,000). Then, in this order:

1. **Engine** (the baseline): the same fetch and panel (`shared.engine.grouped.fetch_panel`), every
   series' base forecast in 2 warm processes (a pool fed small chunks, so neither process idles at
   the end), and the reconcile/documents step (`shared.engine.grouped.assemble`): series/s.
2. **Service**: Redis, gunicorn and two Celery workers started separately (one process each, as on
   two machines); one grouped job from submit to SUCCESS: series/s, and its time split (fetch and
   panel, chunks, reconcile, write) from the worker's log lines; the peak RSS of every worker
   process, sampled every 0.1 s.
3. **Readers**: the first page of the job's series (`GET .../series`, the default level, sort
   and limit) under ``--readers`` concurrent connections (wrk), p50/p99 and requests/s; the same
   sorted by forecast and with a search; and the very first request, cold.

Targets (issue 14): throughput ratio >= 0.85; first page p99 < 50 ms under 20 readers; peak worker
RSS < 1 GB.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen import wait_answering, wrk

from local.fake_laravel import FakeLaravel
from local.redis_server import free_port
from shared.contract.schema import months_before
from shared.sources.transactions import TransactionColumns
from stack.local import LocalStack

TODAY = date.today()
GROUP_BY = ["category", "product_id"]
N_CATEGORIES = 50
HORIZON = 3
WARM_SERIES = 300  # the warm-up job's products (status "warmup"), so no process pays first compiles in the run
BASELINE_CHUNK = 50  # series per pool task in the engine baseline: fine, so both processes finish together


# ---------------------------------------------------------------------------- the sale lines


class LineTable:
    """Sale lines as parallel arrays, rendered per page as Laravel's API resource would."""

    def __init__(self, n_series: int, months: int, lines_per_series_month: float, seed: int = 3) -> None:
        rng = np.random.default_rng(seed)
        steady = rng.random(n_series) < 0.25  # a quarter steady sellers, the rest slow movers
        rate = np.where(steady, rng.uniform(8, 28, n_series), rng.uniform(0.2, 2.5, n_series))
        phase = rng.integers(0, 12, n_series)
        season = 1 + 0.3 * np.sin(2 * np.pi * (np.arange(months + 1) + phase[:, None]) / 12)
        lam = rate[:, None] * season
        lam *= n_series * months * lines_per_series_month / lam[:, :months].sum()
        lam[:, months] *= min(1.0, TODAY.day / 30)  # the month to date
        counts = rng.poisson(lam)
        series = np.repeat(np.repeat(np.arange(n_series), months + 1), counts.ravel())
        month = np.repeat(np.tile(np.arange(months + 1), n_series), counts.ravel())
        n = series.size
        firsts = [months_before(TODAY, months - m) for m in range(months + 1)]  # month m's first day
        first_ns = np.array([np.datetime64(d, "ns").astype(np.int64) for d in firsts])
        days_in = np.array([28 if m < months else max(1, TODAY.day - 1) for m in range(months + 1)])
        offset_s = (rng.random(n) * days_in[month] * 86_400).astype(np.int64)
        ts_ns = first_ns[month] + offset_s * 1_000_000_000
        order = np.argsort(ts_ns, kind="stable")  # by id = by time, as a database returns them
        self.series = series[order]
        self.ts_ns = ts_ns[order]
        self.ids = np.arange(1, n + 1, dtype=np.int64)
        self.cents = rng.integers(100, 20_000, n)
        self.quantity = rng.integers(1, 4, n)
        self.n_series = n_series
        self.per_category = max(1, n_series // N_CATEGORIES)

    def __len__(self) -> int:
        return int(self.ids.size)

    def render(self, idx: np.ndarray) -> bytes:
        stamps = np.datetime_as_string(self.ts_ns[idx].view("datetime64[ns]"), unit="us").tolist()
        body = ",".join(
            f'{{"id":{i},"sale_id":{i // 2},"created_at":"{t}Z","line_total":"{c // 100}.{c % 100:02d}",'
            f'"quantity":{q},"category":"C{s // self.per_category:02d}","product_id":{s},"status":"completed"}}'
            for i, t, c, q, s in zip(self.ids[idx].tolist(), stamps, self.cents[idx].tolist(),
                                     self.quantity[idx].tolist(), self.series[idx].tolist())
        )
        return ("[" + body + "]").encode()


class LineServer(FakeLaravel):
    """FakeLaravel's paging and filters over a :class:`LineTable` (status ``completed``), plus a
    small second shop under status ``warmup``."""

    def __init__(self, table: LineTable, warm: LineTable, **kwargs: Any) -> None:
        self.table, self.warm = table, warm
        # The parent's column path (date filter, paging) needs ids and times; rows are ours.
        ids = np.concatenate([table.ids, warm.ids + len(table)])
        ts = np.concatenate([table.ts_ns, warm.ts_ns])
        super().__init__(TransactionColumns(ids, ts, np.zeros_like(ids), len(ids)), sales_path="/sales/items", **kwargs)

    def _select(self, start: str, end: str, status: str) -> np.ndarray:
        sel = super()._select(start, end, "")
        n = len(self.table)
        return sel[sel < n] if status in ("", "completed") else (sel[sel >= n] if status == "warmup" else sel[:0])

    def _render_rows(self, idx: np.ndarray) -> bytes:
        n = len(self.table)
        if idx.size and idx[0] >= n:
            return self.warm.render(idx - n)
        return self.table.render(idx)


def _serve(n_series: int, months: int, lines: float, port: int) -> None:
    table = LineTable(n_series, months, lines)
    warm = LineTable(WARM_SERIES, months, 3.0, seed=5)
    LineServer(table, warm, per_page=1000, port=port).serve_forever()


# ---------------------------------------------------------------------------- the engine


def _warm_process() -> None:
    from shared.engine.hierarchy import forecast_chunk

    y = [5.0, 0, 3, 9, 4, 0, 0, 2, 7, 6, 5, 4, 3, 5, 6, 7, 8, 6, 5, 4, 6, 5, 4, 6]
    smooth = list(1000 + 100 * np.sin(np.arange(36) * np.pi / 6))
    forecast_chunk([{"index": 0, "y": y, "is_total": False}, {"index": 1, "y": smooth, "is_total": False},
                    {"index": 2, "y": [0, 0, 3.0, 0, 0, 1, 0, 0, 0, 2, 0, 0] * 3, "is_total": False}],
                   horizon=HORIZON, level=90.0)


def _chunk(args: tuple[list[dict], int, float, str]) -> tuple[list[dict], int]:
    from shared.engine.hierarchy import forecast_chunk

    items, horizon, level, model = args
    rss = psutil.Process().memory_info().rss
    return forecast_chunk(items, horizon=horizon, level=level, model=model), rss


def run_engine(laravel_url: str) -> dict[str, float]:
    """The engine on its own: fetch + panel here, forecasts in 2 warm processes, assemble here."""
    from shared.contract.schema import ForecastRequest
    from shared.engine.grouped import LaravelLineSource, assemble, fetch_panel
    from shared.engine.hierarchy import series_inputs
    from shared.sources.laravel_client import LaravelClient

    request = ForecastRequest.parse({"group_by": GROUP_BY, "horizon": HORIZON}).resolved(TODAY)
    with multiprocessing.get_context("spawn").Pool(2, initializer=_warm_process) as pool:
        pool.map(time.sleep, [1.0, 1.0], chunksize=1)  # both processes warm before the clock starts
        t0 = time.perf_counter()
        source = LaravelLineSource(LaravelClient(laravel_url), laravel_url)
        panel = fetch_panel(request.resolved(TODAY), source, timezone="UTC", today=TODAY, report=lambda stage, percent: None)
        t1 = time.perf_counter()
        items = series_inputs(panel)
        tasks = [(items[lo : lo + BASELINE_CHUNK], HORIZON, float(request.level), request.model)
                 for lo in range(0, len(items), BASELINE_CHUNK)]
        results, peak_child = [], 0
        for chunk, rss in pool.imap_unordered(_chunk, tasks):
            results.extend(chunk)
            peak_child = max(peak_child, rss)
        t2 = time.perf_counter()
        grouped = assemble(panel, request, results)
        t3 = time.perf_counter()
    assert grouped.document["data"]["hierarchy"]["coherent"]
    return {"series": len(panel), "fetch": t1 - t0, "forecast": t2 - t1, "assemble": t3 - t2, "total": t3 - t0,
            "peak_child_mb": peak_child / 2**20}


# ---------------------------------------------------------------------------- the service


class RssSampler(threading.Thread):
    """The peak RSS of every process of the given worker trees (main process and pool children)."""

    def __init__(self, pids: dict[str, int], every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.roots = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.every = every
        self.peak: dict[str, int] = {}  # "<worker> <pid>" -> bytes
        self.peak_tree: dict[str, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for name, root in self.roots.items():
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                tree = 0
                for proc in procs:
                    try:
                        rss = proc.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                    key = f"{name} {'main' if proc.pid == root.pid else 'pool ' + str(proc.pid)}"
                    self.peak[key] = max(self.peak.get(key, 0), rss)
                    tree += rss
                self.peak_tree[name] = max(self.peak_tree.get(name, 0), tree)
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _log_lines(path: Path, needle: str) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if needle in line and line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def _at(entry: dict) -> float:
    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def wait_done(session: requests.Session, web: str, task_id: str, timeout: float, poll: float = 0.5) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = session.get(f"{web}/api/v1/forecasts/{task_id}", timeout=10).json()
        if doc["status"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return doc
        time.sleep(poll)
    raise SystemExit(f"job {task_id} did not finish in {timeout} s")


def run_service(stack: LocalStack, session: requests.Session) -> dict[str, Any]:
    web = stack.web_url
    pids = {name: stack.processes[name].process.pid for name in ("worker", "worker2")}
    warm = session.post(f"{web}/api/v1/forecasts", json={"group_by": GROUP_BY, "status": "warmup", "horizon": HORIZON},
                        timeout=10).json()["task_id"]
    if wait_done(session, web, warm, 600)["status"] != "SUCCESS":
        raise SystemExit("the warm-up job failed")
    time.sleep(2)  # the warm-up's history rows drained
    session.close()  # gunicorn closes a connection idle for 2 s: start the measured job on a new one

    sampler = RssSampler(pids)
    sampler.start()
    submitted = time.time()
    t0 = time.perf_counter()
    task_id = session.post(f"{web}/api/v1/forecasts", json={"group_by": GROUP_BY, "horizon": HORIZON},
                           timeout=10).json()["task_id"]
    doc = wait_done(session, web, task_id, 3600, poll=0.25)
    wall = time.perf_counter() - t0
    sampler.stop()
    if doc["status"] != "SUCCESS":
        raise SystemExit(f"the job ended {doc['status']}: {doc.get('error')}")
    hierarchy = doc["result"]["data"]["hierarchy"]

    logs = [stack.log_dir / "worker.log", stack.log_dir / "worker2.log"]
    deadline = time.monotonic() + 30  # SUCCESS is stored before the fan-in logs its line
    while True:
        lines = [e for p in logs for e in _log_lines(p, f"grouped job {task_id}: ")]
        fanout = [e for e in lines if "chunks of" in e["message"]]
        fanin = [e for e in lines if "reconciled in" in e["message"]]
        if (fanout and fanin) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1)  # the last chunk's "succeeded" line
    chunk_re = re.compile(rf"forecast\.grouped\.chunk\[{re.escape(task_id)}-chunk-\d+\] succeeded")
    chunks_by = {p.stem: sum(1 for e in _log_lines(p, task_id) if chunk_re.search(e["message"])) for p in logs}
    split: dict[str, float] = {}
    if fanout and fanin:
        panel_s = float(re.search(r"fetch and panel ([\d.]+) s", fanout[0]["message"]).group(1))
        rec_s, write_s = map(float, re.search(r"reconciled in ([\d.]+) s and written in ([\d.]+) s",
                                              fanin[0]["message"]).groups())
        fanin_started = _at(fanin[0]) - rec_s - write_s
        split = {
            "queue + fetch + panel": _at(fanout[0]) - submitted,
            "(of which fetch + panel)": panel_s,
            "chunks": fanin_started - _at(fanout[0]),
            "reconcile": rec_s,
            "write (series, cache, result, history outbox)": write_s,
        }
    return {"task_id": task_id, "wall": wall, "series": hierarchy["series"], "split": split, "chunks_by": chunks_by,
            "rss": sampler.peak, "rss_tree": sampler.peak_tree}


# ---------------------------------------------------------------------------- the readers


def threaded_readers(url: str, seconds: int, connections: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    """wrk's figures from Python threads, when wrk is missing (the client then shares the CPU's GIL)."""
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    headers = {"Accept-Encoding": "identity", **(headers or {})}

    def reader() -> None:
        with requests.Session() as s:
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = s.get(url, timeout=30, headers=headers)
                latencies.append((time.perf_counter() - t) * 1000)
                errors[0] += r.status_code != 200

    threads = [threading.Thread(target=reader) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": len(latencies) / seconds, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "errors": float(errors[0])}


def run_readers(web: str, task_id: str, readers: int, seconds: int, rounds: int = 3) -> None:
    """The first page under ``readers`` concurrent clients, in rounds interleaved with /healthz on
    the same server (the framework's own floor on this machine), three ways: kept-alive
    connections, a new connection per request (Laravel's Http client opens one per call), and
    kept-alive with ``Accept-Encoding: gzip`` (what browsers and Guzzle send). Single rounds
    of kept-alive connections are bimodal with gunicorn's gthread workers: each connection stays
    with the process that accepted it, and 20 of them rarely split 10/10. So every round is shown,
    and the median."""
    base = f"{web}/api/v1/forecasts/{task_id}/series"
    t = time.perf_counter()
    first = requests.get(base, timeout=60)
    cold = (time.perf_counter() - t) * 1000
    first.raise_for_status()
    page = first.json()
    print(f"first page, cold (the first request after SUCCESS): {cold:.1f} ms, {len(page['series'])} series, "
          f"{len(first.content) / 1024:.0f} KiB")
    measure = wrk if shutil.which("wrk") else threaded_readers
    if measure is threaded_readers:
        print("(wrk is not installed: Python threads read instead; apt-get install wrk for the real figure)")
    ways = (("kept-alive connections", {}), ("a new connection per request", {"Connection": "close"}),
            ("kept-alive, Accept-Encoding: gzip", {"Accept-Encoding": "gzip"}))
    for how, headers in ways:
        runs: dict[str, list[dict[str, float]]] = {"first page": [], "/healthz": []}
        for _ in range(rounds):
            runs["first page"].append(measure(base, seconds, readers, headers))
            runs["/healthz"].append(measure(f"{web}/healthz", seconds, readers, headers))
        print(f"{readers} readers, {how}, {rounds} rounds of {seconds} s:")
        for label, figures in runs.items():
            p99 = statistics.median(f["p99"] for f in figures)
            each = ", ".join(f"{f['p99']:.1f}" for f in figures)
            target = "   [target p99 < 50 ms]" if label == "first page" else ""
            print(f"  {label:12s} p99 {each} ms "
                  f"(median {p99:.1f}); p50 median {statistics.median(f['p50'] for f in figures):.1f} ms; "
                  f"{statistics.median(f['rps'] for f in figures):.0f} req/s; "
                  f"non-2xx {sum(f['errors'] for f in figures):.0f}{target}")
    probe = page["series"][0]["key"]["product_id"]
    for label, url in (("sorted by -forecast", f"{base}?sort=-forecast"), (f"search q={probe}", f"{base}?q={probe}"),
                       ("page 2 (a cursor)", f"{base}?cursor={page['next_cursor']}"),
                       ("the job's status", f"{web}/api/v1/forecasts/{task_id}")):
        f = measure(url, seconds, readers, {"Connection": "close"})
        print(f"{label:24s} {readers} readers, new connections: {f['rps']:5.0f} req/s  p50 {f['p50']:5.1f} ms  "
              f"p99 {f['p99']:5.1f} ms  non-2xx {f['errors']:.0f}")


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--lines", type=float, default=5.56, help="lines per series-month (5.56: 2 M at 10k × 36)")
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--read-seconds", type=int, default=10)
    parser.add_argument("--chunk-size", type=int, default=None, help="CHUNK_SIZE for the service (default: its own)")
    parser.add_argument("--skip-engine", action="store_true")
    args = parser.parse_args()

    port = free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(args.series, args.months, args.lines, port), daemon=True)
    server.start()
    laravel_url = f"http://127.0.0.1:{port}"
    wait_answering(laravel_url, 300, "the Laravel-like server")
    print(f"{args.series:,} products in {N_CATEGORIES} categories × {args.months} months (+ the month to date), "
          f"~{args.series * args.months * args.lines / 1e6:.1f} M sale lines in pages of 1,000; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    root = Path(tempfile.mkdtemp(prefix="sf-grouped-bench-"))
    try:
        engine = None
        if not args.skip_engine:
            engine = run_engine(laravel_url)
            rate = engine["series"] / engine["total"]
            print(f"\nengine, 2 processes   {engine['series']:,} series in {engine['total']:7.1f} s = {rate:6.1f} series/s "
                  f"(fetch + panel {engine['fetch']:.1f} s, forecasts {engine['forecast']:.1f} s, "
                  f"reconcile + documents {engine['assemble']:.1f} s; pool process peak {engine['peak_child_mb']:.0f} MB)")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_KEYS", "CELERY_"))}
        env.update(LARAVEL_API_URL=laravel_url, LARAVEL_ITEMS_PATH="/sales/items", WEB_PORT=str(free_port()),
                   SECRET_KEY="bench", MODEL_DIR=str(root / "models"), LARAVEL_DEADLINE_SECONDS="600")
        if args.chunk_size:
            env["CHUNK_SIZE"] = str(args.chunk_size)
        stack = LocalStack(env, root=root, log_dir=root / "logs", worker_concurrency=1)
        stack.start(ready_timeout=120)
        stack.add_worker("worker2", 1)
        try:
            session = requests.Session()
            service = run_service(stack, session)
            rate = service["series"] / service["wall"]
            print(f"service, 2 workers    {service['series']:,} series in {service['wall']:7.1f} s = {rate:6.1f} series/s "
                  f"(chunks taken: {', '.join(f'{k} {v}' for k, v in service['chunks_by'].items())})")
            if engine:
                print(f"THROUGHPUT RATIO      {rate / (engine['series'] / engine['total']):.3f}   [target >= 0.85]")
            print("\nthe job's time:")
            for name, seconds in service["split"].items():
                print(f"  {name:48s} {seconds:7.2f} s")
            peak = max(service["rss"].values())
            print("\npeak RSS by worker process: " + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(service["rss"].items())))
            print("peak RSS by worker (all its processes): "
                  + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(service["rss_tree"].items())))
            print(f"PEAK WORKER PROCESS RSS {peak / 2**20:.0f} MB   [target < 1024 MB]\n")
            run_readers(stack.web_url, service["task_id"], args.readers, args.read_seconds)
        finally:
            stack.stop()
    finally:
        server.terminate()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
