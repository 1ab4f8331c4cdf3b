"""Live updates end to end: gunicorn's gevent workers, a Celery worker publishing, Redis Streams,
and a real SSE client (local/sse_client.py) reading events_url and GET /api/v1/events.

The stack is this module's own: its Redis is restarted mid-stream by one test, and
MAX_EVENT_STREAMS is small so that the limit is reached with a few connections.
"""
from __future__ import annotations

import threading
import time

import pytest
import redis
import requests

from local.redis_server import RedisServer, free_port
from local.sse_client import Event, Stream
from shared.stores.events import EventStore
from tests.service.conftest import API_KEY
from tests.stacks import TERMINAL, Client, base_env, start_stack

pytestmark = pytest.mark.slow

MAX_STREAMS = 3  # per web process; the stack runs two


@pytest.fixture(scope="module")
def live(tmp_path_factory, laravel):
    root = tmp_path_factory.mktemp("events-stack")
    holder = {"redis": RedisServer(free_port(), appendonly=True, data_dir=root / "redis").start()}
    env = base_env(root, LARAVEL_API_URL=laravel.url, API_KEYS=API_KEY, REDIS_URL=holder["redis"].url,
                   MAX_EVENT_STREAMS=str(MAX_STREAMS),
                   # a job whose worker was lost with Redis is run again soon (docs/reliability.md)
                   VISIBILITY_TIMEOUT_SECONDS="5")
    try:
        stack = start_stack(root, env, root=root, worker_concurrency=2)
    except BaseException:
        holder["redis"].stop()
        raise
    try:
        service = Client(stack, {"Authorization": f"Bearer {API_KEY}"}, laravel)
        service.redis_holder = holder  # type: ignore[attr-defined]
        yield service
    finally:
        stack.stop()
        holder["redis"].stop()


@pytest.fixture
def slow_pages(live):
    live.laravel.faults.delay_seconds = 0.12  # a job of ~2 s with its fetch's progress visible
    yield
    live.laravel.faults.delay_seconds = 0.0


def submit(live, body: dict) -> dict:
    response = live.submit({"refresh": True, **body})
    assert response.status_code == 202, response.text
    return response.json()


def read_until_done(stream: Stream, timeout: float = 90) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    for event in stream:
        events.append(event)
        if event.event == "done" or time.monotonic() > deadline:
            break
    return events


def job_entries(live, task_id: str) -> list[str]:
    """Every entry id of the job's stream, as Redis holds it."""
    client = redis.Redis.from_url(live.redis_holder["redis"].url)
    try:
        return [i.decode() for i, _ in client.xrange(EventStore(client).job_key(task_id))]
    finally:
        client.close()


def key_of(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def test_a_jobs_events_arrive_in_order_and_end_with_done(live, slow_pages):
    job = submit(live, {"horizon": 3})
    with Stream(live.url + job["events_url"]) as stream:  # no API key: the URL's token
        assert stream.status_code == 200
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        assert stream.response.headers["X-Accel-Buffering"] == "no"
        assert "Content-Encoding" not in stream.response.headers
        events = read_until_done(stream)
        assert stream.response.raw.read() == b""  # the server ended the stream after done

    assert events[-1].event == "done"
    done = events[-1].data
    assert done["status"] == "SUCCESS" and done["task_id"] == job["task_id"]
    statuses = [e.data["status"] for e in events if e.event == "status"]
    assert statuses[-1] == "SUCCESS" and len(statuses) == len(set(statuses)), (  # each change once
        [(e.id, e.event, e.data) for e in events[:6]], job_entries(live, job["task_id"])[:4])
    order = ["PENDING", "STARTED", "PROGRESS", "SUCCESS"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    assert "PROGRESS" in statuses
    percents = [e.data["percent"] for e in events if e.event == "progress"]
    assert percents == sorted(percents) and any(e.data.get("stage") == "fetching" for e in events)
    # ordered and complete: the ids are the job's stream entries after the first state, in order
    ids = [e.id for e in events[2:] if e.id]
    assert ids == sorted(ids, key=key_of) and len(ids) == len(set(ids))
    entries = job_entries(live, job["task_id"])
    assert ids == [i for i in entries if key_of(i) > key_of(events[0].id or "0-0")]
    # done carries the status document, the same as the API's
    polled = live.status(job["task_id"])
    assert done["result"] == polled["result"] and done["finished_at"] == polled["finished_at"]


def test_last_event_id_resumes_without_loss_or_duplicates(live, slow_pages):
    job = submit(live, {"horizon": 5})
    seen: list[Event] = []
    with Stream(live.url + job["events_url"]) as stream:
        for event in stream:
            seen.append(event)
            if event.event == "progress" and event.data["stage"] == "fetching" and event.id:
                break  # mid-job: the connection drops
        last = stream.last_event_id
    assert seen[-1].event != "done"
    with Stream(live.url + job["events_url"], last_event_id=last) as resumed:
        rest = read_until_done(resumed)
    assert rest[-1].event == "done" and rest[-1].data["status"] == "SUCCESS"
    ids = [e.id for e in seen[2:] + rest if e.id]
    assert len(ids) == len(set(ids))
    assert ids == [i for i in job_entries(live, job["task_id"]) if key_of(i) > key_of(seen[0].id or "0-0")]


def test_a_finished_jobs_stream_is_done_at_once(live):
    job = submit(live, {"horizon": 2})
    final = live.wait(job["task_id"])
    began = time.monotonic()
    with Stream(live.url + final["events_url"]) as stream:
        events = list(stream)
    assert time.monotonic() - began < 2
    assert [e.event for e in events] == ["done"] and events[0].data["status"] == "SUCCESS"


def test_tokens_read_their_own_job_only(live):
    mine = submit(live, {"horizon": 2})
    other = submit(live, {"horizon": 6})
    token = mine["events_url"].split("token=")[1]
    url = live.url
    for path in (f"/api/v1/forecasts/{other['task_id']}/events?token={token}",  # another job's stream
                 f"/api/v1/forecasts/{mine['task_id']}?token={token}",  # the job's status
                 f"/api/v1/events?token={token}",  # every job's events
                 f"/api/v1/forecasts/{mine['task_id']}/series?token={token}"):
        response = requests.get(url + path, timeout=10)
        assert response.status_code == 401, path
    expires, signature = token.split(".")
    for bad in (f"{int(expires) + 60}.{signature}", f"{expires}.{signature[:-2]}AA", "1.x", ""):
        response = requests.get(f"{url}/api/v1/forecasts/{mine['task_id']}/events?token={bad}", timeout=10)
        assert response.status_code == 401, bad
        assert response.json()["error"]["code"] == "unauthorized"
    live.wait(mine["task_id"])
    live.wait(other["task_id"])


def test_the_stream_limit_answers_503_and_the_api_still_answers(live, slow_pages):
    job = submit(live, {"horizon": 7})
    open_streams: list[Stream] = []
    refused = None
    try:
        for _ in range(2 * MAX_STREAMS + 1):  # two web processes, each holding MAX_STREAMS
            stream = Stream(live.url + job["events_url"])
            if stream.status_code == 503:
                refused = stream.response
                break
            assert stream.status_code == 200
            open_streams.append(stream)
        assert refused is not None, "no 503 past MAX_EVENT_STREAMS"
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.json()["error"]["code"] == "too_many_streams"
        began = time.monotonic()
        assert live.status(job["task_id"])["task_id"] == job["task_id"]  # the API is not starved
        assert time.monotonic() - began < 1
    finally:
        for stream in open_streams:
            stream.close()
    live.wait(job["task_id"])

    def a_stream_opens() -> bool:
        with Stream(live.url + job["events_url"]) as again:
            return again.status_code == 200

    deadline = time.monotonic() + 15  # a closed connection is noticed at its next write
    while not a_stream_opens():
        assert time.monotonic() < deadline, "the slots were not given back"
        time.sleep(0.5)


def test_the_global_stream_has_every_jobs_state_changes(live):
    with Stream(f"{live.url}/api/v1/events", headers=live.headers) as stream:
        assert stream.status_code == 200
        job = submit(live, {"horizon": 8})
        statuses: list[str] = []
        for event in stream:
            if event.event == "status" and event.data["task_id"] == job["task_id"]:
                statuses.append(event.data["status"])
                if event.data["status"] in TERMINAL:
                    break
    assert statuses[0] == "STARTED" and statuses[-1] == "SUCCESS"
    assert requests.get(f"{live.url}/api/v1/events", timeout=5).status_code == 401  # the API key


def test_a_redis_restart_mid_stream(live, slow_pages):
    """Redis stopped and brought back (its AOF) while a stream is open: the stream resumes or ends
    cleanly; read on from its last id, nothing comes twice; the job's result is intact."""
    job = submit(live, {"horizon": 9})
    seen: list[Event] = []
    ended = threading.Event()

    def read() -> None:
        try:
            with Stream(live.url + job["events_url"], timeout=60) as stream:
                for event in stream:
                    seen.append(event)
                    if event.event == "done":
                        break
        except requests.RequestException:
            pass  # cut: the client reconnects below
        finally:
            ended.set()

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 30
    while not any(e.event == "progress" and e.data["stage"] == "fetching" for e in seen):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    holder = live.redis_holder
    old: RedisServer = holder["redis"]
    old.stop()
    time.sleep(3)
    holder["redis"] = RedisServer(old.port, appendonly=True, data_dir=old.data_dir).start()
    time.sleep(2)
    if live.stack.processes["worker"].process.poll() is not None:
        # kombu's consumer can die of a lost broker connection ("Unrecoverable error"); compose's
        # restart policy brings it back, as this does
        live.stack.restart("worker")
    reader.join(120)
    assert ended.is_set()

    if not seen or seen[-1].event != "done":  # ended cleanly: resume from the last id
        last = next((e.id for e in reversed(seen) if e.id), None)
        with Stream(live.url + job["events_url"], last_event_id=last) as stream:
            seen += read_until_done(stream)
    assert seen[-1].event == "done"
    ids = [e.id for e in seen[2:] if e.id]
    assert len(ids) == len(set(ids))
    final = live.wait(job["task_id"])
    assert final["status"] == "SUCCESS" and seen[-1].data["result"] == final["result"]
    assert len(final["result"]["data"]["forecast"]["horizon"]) == 9
