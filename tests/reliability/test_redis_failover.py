"""Redis behind Sentinel: the master is killed while jobs run, the replica takes over.

Real processes throughout: a master and a replica (``redis-server``), three sentinels
(``redis-server --sentinel``), a Celery worker and gunicorn started with ``REDIS_SENTINELS``, and a
Laravel-like server in this process. While clients submit and poll and the worker has a backlog,
the master is SIGKILLed (a machine lost, nothing flushed). The test shows:

- the sentinels promote the replica (they call the master down after ``DOWN_AFTER_MS``);
- the web and the worker find the new master by themselves: no process is restarted;
- every job accepted with a 202 -- queued, running, or submitted during the switch -- ends in
  SUCCESS: none lost; jobs running at the kill are put back on the queue and run again;
- the web answers 503 ``broker_unavailable`` during the switch, never a 500, and /readyz is 503
  only between the kill and the switch's end.

The figures (switch time, jobs accepted, lost and re-run) are printed; docs/reliability.md keeps them.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from local.redis_sentinel import SentinelGroup
from tests.reliability.conftest import API_KEY, Client, Traffic, stack_env, start_stack, wait_for

pytestmark = pytest.mark.slow

DOWN_AFTER_MS = 1000  # the sentinels' down-after-milliseconds (compose: 5000)
BACKLOG = 8
PUT_BACK = "is put back on the queue"  # worker/tasks.py's line for a job whose Redis went away


class ReadyzProbe:
    """Polls /readyz every 0.1 s from a thread: (asked, answered, status) of each request, 0 for no
    answer; one request at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[float, float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            asked = time.monotonic()
            try:
                status = requests.get(f"{self.url}/readyz", timeout=10).status_code
            except requests.RequestException:
                status = 0
            self.answers.append((asked, time.monotonic(), status))
            time.sleep(0.1)


def _worker_reconnected_after(log: str, since: float) -> float:
    """Seconds from ``since`` (wall clock) to the worker's first "Connected to" line after it."""
    for line in log.splitlines():
        if line.startswith("{") and "Connected to" in line:
            when = datetime.fromisoformat(json.loads(line)["time"].replace("Z", "+00:00")).timestamp()
            if when > since:
                return when - since
    raise AssertionError("the worker never reconnected")


@pytest.fixture(scope="module")
def failover_stack(tmp_path_factory, laravel):
    tmp = tmp_path_factory.mktemp("failover")
    group = SentinelGroup(down_after_ms=DOWN_AFTER_MS, root=tmp / "sentinel").start()
    env = stack_env(
        tmp, laravel,
        REDIS_SENTINELS=group.sentinels_env,
        REDIS_SENTINEL_MASTER=group.master_name,
        # With sentinels, REDIS_URL gives only the password and database: nothing listens here,
        # so a client that used its address anyway would fail this test.
        REDIS_URL="redis://127.0.0.1:9/0",
    )
    try:
        stack = start_stack(tmp, env, worker_concurrency=2)  # REDIS_URL set: no Redis of its own
    except BaseException:
        group.cleanup()
        raise
    try:
        yield Client(stack, {"Authorization": f"Bearer {API_KEY}"}), group
    finally:
        stack.stop()
        group.cleanup()


def test_the_master_is_killed_while_jobs_run(failover_stack, laravel):
    client, group = failover_stack
    old_master = group.master_address()
    assert old_master == ("127.0.0.1", group.master.port)
    traffic = Traffic(client)
    probe = ReadyzProbe(client.url)
    threads: list[threading.Thread] = []
    try:
        # A backlog (slow pages: ~1.5 s a job), more jobs than the two pool processes take at once.
        laravel.faults.delay_seconds = 0.25
        backlog = [client.submit_id({"model": "linear", "horizon": h, "refresh": True}) for h in range(1, BACKLOG + 1)]
        wait_for("a job running", lambda: any(client.status(t)["status"] == "PROGRESS" for t in backlog))
        traffic.seed = backlog
        threads = [threading.Thread(target=traffic.submitter) for _ in range(2)]
        threads += [threading.Thread(target=traffic.poller) for _ in range(2)]
        for thread in threads:
            thread.start()
        probe.thread.start()
        time.sleep(1.5)

        killed_at, killed_wall = time.monotonic(), time.time()
        group.master.process.send_signal(signal.SIGKILL)  # no shutdown, no last flush
        group.master.process.wait(5)
        new_master = wait_for("a promoted master", lambda: (a := group.master_address()) != old_master and a, timeout=60)
        promoted_at = time.monotonic()
        assert new_master == ("127.0.0.1", group.replica.port)

        def first_accepted_after_kill() -> float | None:
            with traffic.lock:  # of the requests sent after the kill
                times = [t for t, op, s, _, took in traffic.answers if t - took > killed_at and op == "submit" and s == 202]
            return min(times) if times else None

        accepted_at = wait_for("a 202 from the new master", first_accepted_after_kill, timeout=60)
        ready_at = wait_for(
            "/readyz 200 after the switch",
            # asked after the kill: a request on its way before it may still answer 200
            lambda: next((done for asked, done, s in probe.answers if asked > killed_at and s == 200), None),
            timeout=60,
        )
        time.sleep(3)  # traffic on the new master, and /readyz watched for a relapse
        laravel.faults.delay_seconds = 0.0
    finally:
        traffic.stop.set()
        probe.stop.set()
        for thread in threads:
            thread.join(60)
        probe.thread.join(15)
        laravel.faults.delay_seconds = 0.0

    accepted = backlog + traffic.accepted
    with ThreadPoolExecutor(8) as pool:
        finals = dict(zip(accepted, pool.map(lambda t: client.wait(t, timeout=180), accepted)))
    outcome = Counter(d["status"] for d in finals.values())
    worker_log = client.stack.processes["worker"].log_path.read_text(errors="replace")
    put_back = [line for line in worker_log.splitlines() if PUT_BACK in line]
    rerun = {t for t in accepted if any(t in line for line in put_back)}
    statuses = Counter((op, status, code) for _, op, status, code, _ in traffic.answers)
    unexpected = [a for a in traffic.answers if a[2] not in (200, 202, 503) or (a[2] == 503 and a[3] != "broker_unavailable")]
    readyz = Counter(s for _, _, s in probe.answers)
    not_ready = [done for _, done, s in probe.answers if s != 200]
    lost = sum(n for status, n in outcome.items() if status != "SUCCESS")
    reconnected = _worker_reconnected_after(worker_log, killed_wall)
    print(
        f"\nRedis failover (down-after {DOWN_AFTER_MS} ms): promoted master seen {promoted_at - killed_at:.2f}s after "
        f"the kill; first 202 on it {accepted_at - killed_at:.2f}s; worker consuming again {reconnected:.2f}s; /readyz 200 again {ready_at - killed_at:.2f}s "
        f"(/readyz answers {dict(readyz)}, not ready from {min(not_ready, default=killed_at) - killed_at:.2f}s to "
        f"{max(not_ready, default=killed_at) - killed_at:.2f}s); API answers {dict(statuses)}; "
        f"{len(accepted)} jobs accepted -> {dict(outcome)}, lost {lost}, re-run after the kill {len(rerun)}"
    )
    assert not unexpected, unexpected[:10]
    assert outcome == Counter({"SUCCESS": len(accepted)}), {
        t: (d["status"], d["error"]) for t, d in finals.items() if d["status"] != "SUCCESS"
    }
    # /readyz: 200 up to the kill, not ready only during the switch, 200 from its end on.
    assert all(t >= killed_at for t in not_ready), "/readyz was not ready before the kill"
    assert all(t <= ready_at for t in not_ready), "/readyz fell back to 503 after the switch"
    assert readyz[503] > 0, "/readyz never saw the switch"
    assert ready_at - killed_at < 30
