"""Live updates (web/events.py) through the Flask test client, on the test Redis: the events a
worker would publish are published with the same store (shared.stores.events). The real
processes, gunicorn's gevent workers and a real SSE client are in tests/service/test_events.py."""
from __future__ import annotations

import json
import time

import pytest

from shared.contract.protocol import CeleryState
from shared.stores.events import EventStore
from web.event_tokens import make_token

API_KEY = "events-test-key"


def parse(text: str) -> list[dict]:
    """SSE text -> [{"id"?, "event", "data"}] (comments and retry lines left out)."""
    events = []
    for block in text.split("\n\n"):
        fields: dict = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            if name in ("id", "event"):
                fields[name] = value
            elif name == "data":
                fields["data"] = json.loads(value)
        if "event" in fields:
            events.append(fields)
    return events


class Reader:
    """A stream read chunk by chunk (each chunk one event or comment), as a browser gets it."""

    def __init__(self, response) -> None:
        self.response = response
        self.chunks = iter(response.response)

    def take(self, n: int) -> list[dict]:
        events: list[dict] = []
        while len(events) < n:
            events += parse(next(self.chunks).decode())
        return events

    def rest(self) -> list[dict]:
        return parse(b"".join(self.chunks).decode())

    def close(self) -> None:
        self.response.close()


@pytest.fixture
def store(web_redis):
    return EventStore(web_redis)


def submit(client, body: dict | None = None, **headers) -> dict:
    response = client.post("/api/v1/forecasts", json=body or {}, headers=headers)
    assert response.status_code == 202
    return response.get_json()


def open_stream(client, url: str, **headers) -> Reader:
    response = client.get(url, headers=headers, buffered=False)
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" not in response.headers
    return Reader(response)


def test_a_job_stream_from_queued_to_done(web_client, web_celery, store):
    job = submit(web_client)
    task_id = job["task_id"]
    stream = open_stream(web_client, job["events_url"])
    first = stream.take(2)  # the current state
    assert [e["event"] for e in first] == ["status", "progress"]
    assert first[0]["data"] == {"task_id": task_id, "status": "PENDING"}
    assert first[1]["data"] == {"task_id": task_id, "stage": "queued", "percent": 0}

    store.publish_status(task_id, "STARTED")
    store.publish_status(task_id, "STARTED")  # the same state again: not a change, not published
    store.publish_progress(task_id, {"stage": "fetching", "percent": 10})
    store.publish_progress(task_id, {"stage": "training", "percent": 40})
    web_celery.backend.store_result(task_id, {"status": "success", "data": {}}, CeleryState.SUCCESS)
    store.publish_status(task_id, "SUCCESS")
    store.publish_progress(task_id, {"stage": "late", "percent": 99})  # after the end: dropped

    events = stream.rest()
    assert [(e["event"], e["data"].get("status") or e["data"].get("stage")) for e in events] == [
        ("status", "STARTED"), ("progress", "fetching"), ("progress", "training"), ("status", "SUCCESS"),
        ("done", "SUCCESS"),
    ]
    ids = [e["id"] for e in events[:-1]]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == 4
    done = events[-1]
    assert "id" not in done
    assert done["data"]["task_id"] == task_id and done["data"]["result"] == {"status": "success", "data": {}}
    assert done["data"]["events_url"].startswith(f"/api/v1/forecasts/{task_id}/events?token=")
    stream.close()


def test_last_event_id_resumes_after_that_event(web_client, web_celery, store):
    job = submit(web_client)
    task_id = job["task_id"]
    ids = [store.publish_status(task_id, "STARTED")]
    ids += [store.publish_progress(task_id, {"stage": "fetching", "percent": p}) for p in (5, 10, 15)]
    stream = open_stream(web_client, job["events_url"], **{"Last-Event-ID": ids[1]})
    events = stream.take(2)
    assert [e["id"] for e in events] == ids[2:]
    store.publish_progress(task_id, {"stage": "training", "percent": 50})
    assert stream.take(1)[0]["data"]["percent"] == 50
    stream.close()

    # Ended in the meantime: what the client had not seen, then done.
    web_celery.backend.store_result(task_id, None, CeleryState.REVOKED)
    last = store.publish_status(task_id, "REVOKED")
    events = open_stream(web_client, job["events_url"], **{"Last-Event-ID": ids[3]}).rest()
    assert [e["event"] for e in events] == ["progress", "status", "done"]
    assert events[1]["id"] == last and events[2]["data"]["status"] == "REVOKED"


def test_an_unknown_last_event_id_starts_from_the_current_state(web_client, store):
    job = submit(web_client)
    task_id = job["task_id"]
    store.publish_status(task_id, "STARTED")
    newest = store.publish_progress(task_id, {"stage": "training", "percent": 40})
    for unknown in ("0-1", "99999999999999-0", "garbage", "1-1 event: x", "9" * 300):
        events = open_stream(web_client, job["events_url"], **{"Last-Event-ID": unknown}).take(2)
        assert [e["event"] for e in events] == ["status", "progress"]
        assert all(e["id"] == newest for e in events)
        assert events[0]["data"]["status"] == "STARTED"  # the state as the job's stream says


def test_a_finished_job_gets_done_at_once(web_client, web_celery):
    job = submit(web_client)
    web_celery.backend.store_result(job["task_id"], {"status": "success", "data": {}}, CeleryState.SUCCESS)
    events = open_stream(web_client, job["events_url"]).rest()
    assert [e["event"] for e in events] == ["done"]
    assert events[0]["data"]["status"] == "SUCCESS"


def test_the_status_document_carries_a_fresh_events_url(web_client):
    job = submit(web_client)
    body = web_client.get(job["status_url"]).get_json()
    assert body["events_url"].startswith(f"{job['status_url']}/events?token=")


def test_an_unknown_job_is_404(web_client):
    assert web_client.get("/api/v1/forecasts/nope/events").status_code == 404


# ---- tokens --------------------------------------------------------------------------------


def test_tokens_open_their_own_job_and_nothing_else(make_web_app, web_celery):
    app = make_web_app(api_keys=(API_KEY,), secret_key="s3cret")
    client = app.test_client()
    key = {"X-API-Key": API_KEY}
    mine, other = submit(client, **key), submit(client, {"horizon": 5}, **key)
    web_celery.backend.store_result(mine["task_id"], None, CeleryState.REVOKED)
    web_celery.backend.store_result(other["task_id"], None, CeleryState.REVOKED)
    token = mine["events_url"].split("token=")[1]

    assert client.get(mine["events_url"]).status_code == 200  # no header: the token is enough
    # foreign: another job's stream, other endpoints, the status itself
    assert client.get(f"/api/v1/forecasts/{other['task_id']}/events?token={token}").status_code == 401
    assert client.get(f"/api/v1/forecasts/{mine['task_id']}?token={token}").status_code == 401
    assert client.get(f"/api/v1/events?token={token}").status_code == 401
    assert client.get(f"/api/v1/forecasts?token={token}").status_code == 401
    # tampered and expired
    expires, signature = token.split(".")
    tampered = f"{int(expires) + 1}.{signature}"
    assert client.get(f"/api/v1/forecasts/{mine['task_id']}/events?token={tampered}").status_code == 401
    expired = make_token(app.extensions["sales_forecast"].settings.events_token_key, mine["task_id"],
                         now=time.time() - 7200)
    response = client.get(f"/api/v1/forecasts/{mine['task_id']}/events?token={expired}")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    # another SECRET_KEY's token
    foreign = make_token(b"another key", mine["task_id"])
    assert client.get(f"/api/v1/forecasts/{mine['task_id']}/events?token={foreign}").status_code == 401
    # without a token, the API key as on any /api/ call
    assert client.get(f"/api/v1/forecasts/{mine['task_id']}/events").status_code == 401
    assert client.get(f"/api/v1/forecasts/{mine['task_id']}/events", headers=key).status_code == 200


def test_without_api_keys_a_bad_token_is_an_unknown_id(web_client):
    job = submit(web_client)
    response = web_client.get(f"/api/v1/forecasts/{job['task_id']}/events?token=1.abc")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


# ---- the limit -----------------------------------------------------------------------------


def test_past_max_event_streams_503_with_retry_after(make_web_app):
    client = make_web_app(max_event_streams=2).test_client()
    job = submit(client)
    first = open_stream(client, job["events_url"])
    everyone = client.get("/api/v1/events", buffered=False)
    assert everyone.status_code == 200
    refused = client.get(job["events_url"])
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.get_json()["error"]["code"] == "too_many_streams"
    assert client.get(job["status_url"]).status_code == 200  # the API itself answers
    first.close()
    assert client.get(job["events_url"], buffered=False).status_code == 200
    everyone.close()


# ---- every job: GET /api/v1/events ---------------------------------------------------------


def test_the_global_stream_has_state_changes_and_alerts_from_now_on(web_client, store):
    before = submit(web_client)["task_id"]
    store.publish_status(before, "STARTED")  # before the stream opened: not sent
    stream = Reader(web_client.get("/api/v1/events", buffered=False))
    assert stream.response.mimetype == "text/event-stream"
    store.publish_status("job-a", "STARTED")
    store.publish_progress("job-a", {"stage": "fetching", "percent": 5})  # progress: job streams only
    store.publish_alert({"id": 1, "kind": "forecast_drop", "series": "total", "task_id": "job-a"})
    store.publish_status("job-a", "SUCCESS")
    events = stream.take(3)
    assert [(e["event"], e["data"].get("status") or e["data"].get("kind")) for e in events] == [
        ("status", "STARTED"), ("alert", "forecast_drop"), ("status", "SUCCESS")]
    stream.close()
    resumed = Reader(web_client.get("/api/v1/events", headers={"Last-Event-ID": events[0]["id"]}, buffered=False))
    assert [e["id"] for e in resumed.take(2)] == [events[1]["id"], events[2]["id"]]
    resumed.close()


def test_a_client_that_never_reads_is_let_go_not_buffered(web_client, store):
    """Events for a client that reads nothing wait in a bounded queue; once it is full the
    stream ends (the client would resume from its Last-Event-ID), nothing more is kept."""
    from web.events import QUEUED_EVENTS

    job = submit(web_client)
    task_id = job["task_id"]
    stream = open_stream(web_client, job["events_url"])
    stream.take(2)
    store.publish_progress(task_id, {"stage": "fetching", "percent": 1})
    stream.take(1)  # the stream now follows the job's feed
    for k in range(QUEUED_EVENTS + 150):
        store.publish_progress(task_id, {"stage": "fetching", "percent": k})
    time.sleep(1.5)  # the feed reads them all meanwhile; this client reads nothing
    rest = stream.rest()  # ends: the stream was dropped
    assert QUEUED_EVENTS - 5 <= len(rest) <= QUEUED_EVENTS and all(e["event"] == "progress" for e in rest)


def test_the_first_state_is_the_streams_so_no_change_comes_twice(web_client, web_celery, store):
    """Celery stores STARTED a moment after its event is published: a stream opened in between
    starts from the stream's own state (PENDING), and STARTED then comes once, as an event."""
    job = submit(web_client)
    task_id = job["task_id"]
    web_celery.backend.store_result(task_id, {"pid": 1}, CeleryState.STARTED)
    stream = open_stream(web_client, job["events_url"])
    assert stream.take(2)[0]["data"]["status"] == "PENDING"
    store.publish_status(task_id, "STARTED")
    assert [e["data"]["status"] for e in stream.take(1)] == ["STARTED"]
    stream.close()
