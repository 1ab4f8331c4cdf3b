"""Live updates under load: 200 open Server-Sent Events streams on one web process, while jobs run.

    .venv/bin/python benchmarks/events.py [--streams 200] [--seconds 5] [--rounds 3]

One gunicorn process (the gevent worker class of stack/commands.py, ``--workers 1``), a Celery
worker with 2 processes, and a Laravel-like server whose pages are slow, so each job fetches for
over a minute and reports progress page by page. Prints:
1. The p50/p99 latency of ``GET /api/v1/forecasts/{id}`` (a running job's status, the path that
   reads Redis) from a few keep-alive clients, with no stream open and with ``--streams`` streams
   open on the running jobs, in alternating rounds, and their ratio (target: at most 1.5).
2. The web process's RSS, before and with the streams open.
3. The delay from a worker's progress update to the client: each event's id is the Redis time
   of the worker's XADD (ms), compared with the time the reader got it (target: p99 under 250 ms),
   for the events published once every stream had its first events (the steady state: while
   200 streams are being opened at once, the web process is busy opening them).
   The readers run in their own process (one thread, non-blocking sockets, as many browsers would
   be), so the latency clients' threads do not delay them.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local.fake_laravel import FakeLaravel
from local.redis_server import free_port
from local.sample import sales_rows
from stack.local import LocalStack

PAGE_DELAY = 1.5  # seconds a page: 56 pages, a fetch of 84 s (the rounds take ~60), a progress report every few pages
PER_PAGE = 200
EVENT = re.compile(rb"id: (\d+)-\d+\nevent: (\w+)")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def status_latencies(base: str, task_ids: list[str], seconds: float, clients: int = 4) -> list[float]:
    """Each client GETs the jobs' status URLs over one keep-alive connection, back to back."""
    out: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        session = requests.Session()
        mine: list[float] = []
        n = k
        while time.monotonic() < stop:
            began = time.perf_counter()
            response = session.get(f"{base}/api/v1/forecasts/{task_ids[n % len(task_ids)]}", timeout=10)
            mine.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text
            n += 1
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def read_streams(urls: list[str], stop, opened, opened_in, results) -> None:
    """In its own process: open every stream (HTTP/1.0, so the body is the events as written),
    read until ``stop`` is set; put (events received, delays in ms, streams still open, answers)
    on ``results``."""
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytes] = {}
    for url in urls:
        parts = urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.sendall(f"GET {parts.path}?{parts.query} HTTP/1.0\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode())
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        buffers[sock] = b""
    began = time.time()
    settled_ms: float | None = None  # when every stream had its first events: steady state from then
    delays: list[float] = []
    kinds: dict[str, int] = {}
    answers: dict[str, int] = {}  # status lines
    live: set[socket.socket] = set()
    slow_ids: list[tuple[float, str]] = []  # past the first progress event (the current state, not live)
    while not stop.is_set() and buffers:
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            received = time.time()
            chunk = sock.recv(65536)
            if not chunk:
                selector.unregister(sock)
                buffers.pop(sock, None)
                sock.close()
                continue
            data = buffers[sock] + chunk
            if data.startswith(b"HTTP/") and b"\r\n\r\n" in data:
                head, _, data = data.partition(b"\r\n\r\n")
                line = head.split(b"\r\n")[0].decode()
                answers[line] = answers.get(line, 0) + 1
            end = data.rfind(b"\n\n")
            if end < 0:
                buffers[sock] = data
                continue
            for match in EVENT.finditer(data[: end + 2]):
                kind = match.group(2).decode()
                kinds[kind] = kinds.get(kind, 0) + 1
                if kind == "progress":
                    if settled_ms is not None and int(match.group(1)) > settled_ms:
                        delays.append(received * 1000 - int(match.group(1)))
                        slow_ids.append((delays[-1], match.group(1).decode()))
                    live.add(sock)
                    if settled_ms is None and len(live) == len(urls):
                        settled_ms = received * 1000
                        opened_in.value = received - began
                        opened.set()
            buffers[sock] = data[end + 2:]
    slow = sorted(slow_ids, reverse=True)[:5]
    if slow:
        print("slowest events (delay ms, id ms):", [(round(d), i) for d, i in slow],
              "delays by event:", {i: round(max(d for d, j in slow_ids if j == i)) for _, i in slow})
    results.put((kinds, delays, len(buffers), answers))
    for sock in list(buffers):
        sock.close()


def web_worker_cpu(stack: LocalStack) -> float:
    """CPU seconds (user + system) the gunicorn worker process has used so far."""
    arbiter = psutil.Process(stack.processes["web"].process.pid)
    return sum(sum(p.cpu_times()[:2]) for p in arbiter.children())


def web_worker_rss(stack: LocalStack) -> float:
    """RSS in MiB of the gunicorn worker process (the arbiter's child that serves requests)."""
    arbiter = psutil.Process(stack.processes["web"].process.pid)
    children = arbiter.children()
    return sum(p.memory_info().rss for p in children) / 2**20


def submit_long_jobs(base: str, headers: dict, n: int, tag: int) -> list[str]:
    ids = []
    for k in range(n):
        body = {"model": "linear", "horizon": 1 + (tag * 7 + k) % 24, "refresh": True}
        response = requests.post(f"{base}/api/v1/forecasts", json=body, headers=headers, timeout=10)
        response.raise_for_status()
        ids.append(response.json()["task_id"])
    return ids


def wait_running(base: str, headers: dict, ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [requests.get(f"{base}/api/v1/forecasts/{i}", headers=headers, timeout=10).json()["status"] for i in ids]
        if all(s == "PROGRESS" for s in states):
            return
        time.sleep(0.2)
    raise RuntimeError(f"jobs not running: {states}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0, help="of each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    rows = sales_rows(date.today(), months=40, per_month=300)
    laravel = FakeLaravel(rows, paginator="length_aware", per_page=PER_PAGE)
    laravel.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "LARAVEL_", "API_KEYS"))}
    port = free_port()
    env.update(WEB_PORT=str(port), SECRET_KEY="bench", MODEL_DIR=str(tmp / "models"),
               LARAVEL_API_URL=laravel.base_url, DATABASE_URL=f"sqlite:///{tmp / 'history.sqlite3'}",
               MAX_EVENT_STREAMS=str(args.streams + 50))
    stack = LocalStack(env, root=tmp, log_dir=tmp / "logs", worker_concurrency=2, web_workers=1)
    try:
        stack.start(ready_timeout=120)
        base, headers = stack.web_url, {}
        laravel.faults.delay_seconds = PAGE_DELAY

        # Two jobs fetching for the whole run; rounds of: their status read back to back with no
        # stream open, then with the streams open (so a change in the machine's load, which other
        # work shares, falls on both alike).
        jobs = submit_long_jobs(base, headers, 2, tag=1)
        wait_running(base, headers, jobs)
        status_latencies(base, jobs, 1.0)  # warm-up
        quiet: list[float] = []
        busy: list[float] = []
        rounds: list[tuple[float, float]] = []
        cpu_quiet = cpu_busy = 0.0
        delays: list[float] = []
        kinds: dict[str, int] = {}
        answers: dict[str, int] = {}
        open_seconds: list[float] = []
        still_open = 0
        rss_quiet = rss_busy = 0.0
        for _ in range(args.rounds):
            cpu = web_worker_cpu(stack)
            a = status_latencies(base, jobs, args.seconds)
            cpu_quiet += web_worker_cpu(stack) - cpu
            if not rounds:  # before any stream was opened (memory once used is kept by the process)
                rss_quiet = web_worker_rss(stack)
            urls = [base + requests.get(f"{base}/api/v1/forecasts/{jobs[k % 2]}", timeout=10).json()["events_url"]
                    for k in range(args.streams)]
            stop, opened = multiprocessing.Event(), multiprocessing.Event()
            opened_in = multiprocessing.Value("d", float("nan"))
            results: multiprocessing.Queue = multiprocessing.Queue()
            reader = multiprocessing.Process(target=read_streams, args=(urls, stop, opened, opened_in, results))
            reader.start()
            if not opened.wait(60):
                raise RuntimeError("the streams did not all open within 60 s")
            open_seconds.append(opened_in.value)
            cpu = web_worker_cpu(stack)
            b = status_latencies(base, jobs, args.seconds)
            cpu_busy += web_worker_cpu(stack) - cpu
            rss_busy = max(rss_busy, web_worker_rss(stack))
            stop.set()
            got_kinds, got_delays, got_open, got_answers = results.get(timeout=60)
            reader.join(30)
            for name, n in got_kinds.items():
                kinds[name] = kinds.get(name, 0) + n
            for name, n in got_answers.items():
                answers[name] = answers.get(name, 0) + n
            delays += got_delays
            still_open += got_open
            quiet += a
            busy += b
            rounds.append((percentile(a, 99), percentile(b, 99)))
            time.sleep(3)  # the closed streams noticed (at their next event) before the next round
        cpu_quiet /= args.rounds * args.seconds
        cpu_busy /= args.rounds * args.seconds
    finally:
        laravel.faults.delay_seconds = 0.0
        web_log = tmp / "logs" / "web.log"
        problems = [line for line in web_log.read_text(errors="replace").splitlines()
                    if ('"level": "ERROR"' in line or '"level": "WARNING"' in line) and "API_KEYS" not in line
                    ] if web_log.exists() else []
        if problems:
            print(f"web log: {len(problems)} warnings or errors, the first: {problems[0][:1500]}")
        stack.stop()
        laravel.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    q50, q99 = percentile(quiet, 50), percentile(quiet, 99)
    b50, b99 = percentile(busy, 50), percentile(busy, 99)
    print(f"GET /api/v1/forecasts/{{id}} of a running job, {len(quiet)} and {len(busy)} requests from 4 keep-alive clients, "
          f"{args.rounds} rounds of {args.seconds:.0f} s each way:")
    print(f"  no streams:          p50 {q50:6.1f} ms   p99 {q99:6.1f} ms")
    print(f"  {args.streams} streams open:    p50 {b50:6.1f} ms   p99 {b99:6.1f} ms   p99 ratio {b99 / q99:.2f} (target <= 1.5)")
    print("  p99 by round (none, streams): " + ", ".join(f"{x:.0f}/{y:.0f} ms" for x, y in rounds))
    span = args.rounds * args.seconds
    print(f"web process CPU while measured: {cpu_quiet:.0%} without streams ({len(quiet) / span:.0f} requests/s), "
          f"{cpu_busy:.0%} with them ({len(busy) / span:.0f} requests/s); machine load {os.getloadavg()[0]:.1f}")
    print(f"web process RSS: {rss_quiet:.1f} MiB without streams, {rss_busy:.1f} MiB with {args.streams} open "
          f"({(rss_busy - rss_quiet) * 1024 / args.streams:.0f} KiB a stream)")
    print(f"answers: {answers}; all {args.streams} streams had their first events "
          f"{', '.join(f'{t:.1f}' for t in open_seconds)} s after they were opened; still open when closed: "
          f"{still_open} of {args.rounds * args.streams}; events received: {kinds}")
    print(f"worker's progress update -> client ({len(delays)} events): p50 {percentile(delays, 50):.1f} ms, "
          f"p99 {percentile(delays, 99):.1f} ms, max {max(delays) if delays else float('nan'):.1f} ms (target p99 < 250 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
