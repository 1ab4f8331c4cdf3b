"""Redis goes away for 10 s under load, and comes back with its data (docs/api.md §4: 503, §6).

Redis runs with ``appendonly yes`` on a fixed port, as compose runs it, and is stopped (SIGTERM,
as `docker compose stop redis` does) while clients submit and poll and the workers have a
backlog. While it is down the web tier answers ``503 broker_unavailable`` within a bound, never a
500 and never a hang; once it is back, on the same port with the same AOF, everything recovers
without a restart: the web answers 202 again, the workers reconnect, and every job that was
accepted with a 202 (queued, or running when Redis went away) ends in SUCCESS.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from local.redis_server import RedisServer, free_port
from tests.reliability.conftest import API_KEY, Client, Laravel, Traffic, stack_env, start_stack, wait_for

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 10
# What the web tier promises during an outage: an answer (503) within this many seconds.
# Each of its Redis calls gives up after 2 s with one quick retry (web/app.py
# REDIS_TIMEOUT_SECONDS), so ~4.2 s a call; a POST whose publish times out makes one more
# (web/api.py _mark_undispatched pings Redis before recording the failure): ~8.5 s at worst.
LATENCY_BOUND_SECONDS = 10.0
BACKLOG = 8
HUNG_SECONDS = 6


@dataclass
class Outage:
    """What one outage did, for the assertions and the printed figures."""

    answers: list[tuple[float, str, int, str, float]]
    accepted: list[str]
    down_at: float
    up_at: float
    recovered_after: float


def _outage(client: Client, laravel: Laravel, break_redis, mend_redis, seconds: float) -> Outage:
    """Backlog + traffic; break Redis for ``seconds``; mend it; wait for a 202 again."""
    traffic = Traffic(client)
    threads: list[threading.Thread] = []
    try:
        # A backlog: slow pages (~1.5 s a job), more jobs than the two pool processes can take.
        laravel.faults.delay_seconds = 0.25
        backlog = [client.submit_id({"model": "linear", "horizon": h, "refresh": True}) for h in range(1, BACKLOG + 1)]
        wait_for("a job running", lambda: any(client.status(t)["status"] == "PROGRESS" for t in backlog))
        traffic.seed = backlog
        threads = [threading.Thread(target=traffic.submitter) for _ in range(2)]
        threads += [threading.Thread(target=traffic.poller) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        down_at = time.monotonic()
        break_redis()
        time.sleep(seconds)
        mend_redis()
        up_at = time.monotonic()
        laravel.faults.delay_seconds = 0.0

        def first_202_after_recovery() -> float | None:
            with traffic.lock:
                times = [t for t, op, s, _, _ in traffic.answers if t > up_at and op == "submit" and s == 202]
            return min(times) if times else None

        accepted_at = wait_for("a 202 after Redis came back", first_202_after_recovery, timeout=30)
        time.sleep(1)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(60)
        laravel.faults.delay_seconds = 0.0
    return Outage(list(traffic.answers), backlog + traffic.accepted, down_at, up_at, accepted_at - up_at)


def _check(client: Client, outage: Outage, what: str) -> None:
    answers = outage.answers
    # requests sent while Redis was away
    during = [a for a in answers if outage.down_at <= a[0] - a[4] <= outage.up_at]
    statuses = Counter((op, status, code) for _, op, status, code, _ in answers)
    unexpected = [a for a in answers if a[2] not in (200, 202, 503) or (a[2] == 503 and a[3] != "broker_unavailable")]
    max_latency = max(a[4] for a in answers)
    max_latency_down = max((a[4] for a in during), default=0.0)
    outage_503 = sum(1 for a in during if a[2] == 503)
    # Every job accepted with a 202, before, during or after the outage, ends in SUCCESS.
    with ThreadPoolExecutor(8) as pool:
        finals = dict(zip(outage.accepted, pool.map(lambda t: client.wait(t, timeout=180), outage.accepted)))
    outcome = Counter(d["status"] for d in finals.values())
    print(
        f"\n{what}: {len(answers)} answers {dict(statuses)}; {outage_503} 503s while down; "
        f"max latency {max_latency:.2f}s overall, {max_latency_down:.2f}s while down; web accepting again "
        f"{outage.recovered_after:.2f}s after Redis returned; {len(outage.accepted)} accepted jobs -> {dict(outcome)}"
    )
    assert not unexpected, unexpected[:10]
    assert outage_503 > 0, "no request was answered while Redis was away"
    assert max_latency < LATENCY_BOUND_SECONDS, max_latency
    assert outcome == Counter({"SUCCESS": len(outage.accepted)}), {
        t: (d["status"], d["error"]) for t, d in finals.items() if d["status"] != "SUCCESS"
    }
    # /readyz sees the workers again (its worker check is cached for 5 s).
    wait_for("/readyz 200", lambda: requests.get(f"{client.url}/readyz", timeout=10).status_code == 200, timeout=30)


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory, laravel):
    tmp = tmp_path_factory.mktemp("outage")
    holder = {"server": RedisServer(free_port(), appendonly=True, data_dir=tmp / "redis-data").start()}
    env = stack_env(tmp, laravel, REDIS_URL=holder["server"].url)
    stack = start_stack(tmp, env, worker_concurrency=2)
    try:
        yield Client(stack, {"Authorization": f"Bearer {API_KEY}"}), holder
    finally:
        stack.stop()
        holder["server"].stop()


def test_redis_stopped_for_10s_under_load(outage_stack, laravel):
    """Stopped (connections refused): 503 at once; back on the same port with its AOF."""
    client, holder = outage_stack
    old: RedisServer = holder["server"]

    def restart() -> None:
        holder["server"] = RedisServer(old.port, appendonly=True, data_dir=old.data_dir).start()

    # SIGTERM: the AOF is flushed, as on `docker compose stop redis`
    outage = _outage(client, laravel, old.stop, restart, OUTAGE_SECONDS)
    _check(client, outage, f"Redis stopped {OUTAGE_SECONDS}s")


@pytest.mark.soak  # ~13 s: `make soak` (the suite's time budget); measured bound in docs/reliability.md
def test_redis_hung_under_load(outage_stack, laravel):
    """Hung (SIGSTOP: connections accepted, nothing answered, like a network partition): the web
    gives up on its own timeouts and answers 503 within the bound instead of hanging."""
    client, holder = outage_stack
    pid = holder["server"].process.pid
    outage = _outage(
        client, laravel, lambda: os.kill(pid, signal.SIGSTOP), lambda: os.kill(pid, signal.SIGCONT), HUNG_SECONDS
    )
    _check(client, outage, f"Redis hung {HUNG_SECONDS}s")
