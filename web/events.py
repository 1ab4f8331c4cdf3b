"""Live updates over Server-Sent Events: a job's stream (``events_url``) and ``GET /api/v1/events``.

The workers publish each job's events once, into Redis Streams (shared.stores.events); this
module relays them. One reader per stream key and process (:class:`Hub`) waits on Redis with
XREAD and puts what comes into the queue of each stream open on that key; a stream is a
generator that writes what its queue gives. Under gunicorn's gevent workers each open stream is a
greenlet waiting on a queue, so streams never hold a request worker that an API call needs. At most
MAX_EVENT_STREAMS are open in one web process; past it a new one is answered 503 with
Retry-After (``too_many_streams``), and clients poll the status URL instead.

A job's stream (docs/events.md has the whole story):
- starts with the job's current state (``status`` and ``progress``, with the id of the newest
  entry), or, with a ``Last-Event-ID`` that is an entry of the job's stream, with the entries
  after it: nothing lost, nothing twice. An unknown id starts from the current state.
- sends each ``progress`` and ``status`` entry as it is published, and after a final state a
  last ``done`` event carrying the status document; then it ends. A job that has already ended
  gets ``done`` at once (after the entries a known ``Last-Event-ID`` had not seen).
- ends within a few seconds of its job even when the final event was never published (a worker
  lost): the job's feed reads its stored state when no event came for CHECK_SECONDS.
- sends a comment after HEARTBEAT_SECONDS without a write (proxies keep it open, and a client
  that left is noticed), and ends when Redis stays away for longer than OUTAGE_SECONDS.
- gives up a client that reads nothing: at most QUEUED_EVENTS events wait for it, then its
  stream ends; a write blocked for WRITE_TIMEOUT_SECONDS (the socket's buffers full) closes it.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any, Callable, Iterator

import redis
from flask import Blueprint, Response, current_app, request, stream_with_context

from shared.contract.config import Settings
from shared.contract.errors import NotFound, TooManyStreams, Unauthorized
from shared.contract.logs import bind
from shared.contract.schema import TERMINAL, JobStatus
from shared.contract.status import is_terminal
from shared.stores.events import START, EventKind, EventStore
from shared.stores.redis_client import Purpose, connect
from web.api import service, status_body
from web.event_tokens import TOKEN_PARAM, token_valid
from web.jobs import ForecastService

log = logging.getLogger(__name__)

RELAY_KEY = "sales_forecast_events"
TOKEN_ENDPOINT = "events.job_events"  # the one route a token (instead of an API key) may open
BLOCK_MS = 2000  # one XREAD waits this long for an entry
CHECK_SECONDS = 3.0  # a quiet job's stored state is read this often
HEARTBEAT_SECONDS = 10.0  # a comment after this long without a write (the contract: 15 s at most)
OUTAGE_SECONDS = 10.0  # Redis away this long ends the stream (the client reconnects or polls)
WRITE_TIMEOUT_SECONDS = 30.0  # a client that reads nothing for this long is let go
RETRY_MS = 2000  # the reconnection delay EventSource is told to use
QUEUED_EVENTS = 256  # the most events kept for one client that reads slower than they come
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

bp = Blueprint("events", __name__)


class StreamSlots:
    """The streams open in this process, at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        """Hold a slot for a new stream; TooManyStreams (503 ``too_many_streams``) when all ``limit`` are open."""
        with self._lock:
            if self.open >= self.limit:
                raise TooManyStreams(
                    f"this server holds {self.limit} live-update streams already; poll the status URL"
                )
            self.open += 1

    def give(self) -> None:
        """Free the slot of a stream that ended."""
        with self._lock:
            self.open -= 1


class Relay:
    """What the streams of one web process share: their Redis connections and their slots."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slots = StreamSlots(settings.max_event_streams)
        # Their own client and pool: a blocked XREAD holds its connection (one per key being
        # followed), never one an API call needs, and waits longer than an API call would.
        client = connect(settings, purpose=Purpose.EVENTS)
        self.store = EventStore(client, ttl_seconds=settings.result_ttl_seconds)
        self.hub = Hub(self.store)


def relay() -> Relay:
    """This app's :class:`Relay`."""
    return current_app.extensions[RELAY_KEY]


def init_app(app: Any, settings: Settings) -> None:
    """Give ``app`` its relay and the live-update route."""
    app.extensions[RELAY_KEY] = Relay(settings)
    app.register_blueprint(bp)


# ---- the wire format ----------------------------------------------------------------------


def sse(kind: str, data: str, event_id: str | None = None) -> str:
    """One event: ``id:`` (when it has one), ``event:`` and the JSON data on one line."""
    head = f"id: {event_id}\n" if event_id and event_id != START else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Stream:
    """The response body: the generator, and its slot given back however the response ends
    (finished, the client gone, or never started at all)."""

    def __init__(self, slots: StreamSlots, body: Iterator[str]) -> None:
        self.slots = slots
        self.body = body
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            yield chunk.encode()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.body.close()  # type: ignore[attr-defined]
            self.slots.give()


def _sse_response(slots: StreamSlots, body: Iterator[str]) -> Response:
    sock = request.environ.get("gunicorn.socket")
    if sock is not None and hasattr(sock, "settimeout"):
        sock.settimeout(WRITE_TIMEOUT_SECONDS)  # a blocked write ends the stream after this
    response = Response(_Stream(slots, body), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _last_event_id() -> str | None:
    return (request.headers.get("Last-Event-ID") or "").strip() or None


# ---- the relay: one reader per stream key and process, fanned out ----------------------------


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


class _Subscriber:
    """One open stream's share of a feed: a bounded queue of what the feed read for it."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUED_EVENTS)
        self.dropped = False


class _Feed:
    """The one XREAD loop of one stream key in this process, for every stream open on that key.

    With a hundred browsers on one job, Redis is read once per event, not a hundred times, and
    a process holds one Redis connection per key being followed. Each event goes into every
    subscriber's bounded queue; a subscriber whose queue is full (its client reads nothing) is
    dropped, and its stream ends (the client resumes from its Last-Event-ID): the server never
    keeps more than QUEUED_EVENTS events for any client.
    """

    def __init__(self, hub: "Hub", key: str, quiet: Callable[[], bool] | None) -> None:
        self.hub = hub
        self.key = key
        self.quiet = quiet
        self.subscribers: set[_Subscriber] = set()
        self.cursor = hub.store.last_id(key)
        self.thread = threading.Thread(target=self._guarded, name=f"feed {key}", daemon=True)

    def _broadcast(self, item: tuple[str, Any]) -> None:
        with self.hub.lock:
            subscribers = list(self.subscribers)
        for sub in subscribers:
            try:
                sub.queue.put_nowait(item)
            except queue.Full:
                sub.dropped = True
                with self.hub.lock:
                    self.subscribers.discard(sub)

    def _close(self, reason: str | None) -> bool:
        """Stop the feed (telling its subscribers ``reason``) unless a stream still needs it."""
        with self.hub.lock:
            if reason is None and self.subscribers:
                return False
            subscribers, self.subscribers = list(self.subscribers), set()
            if self.hub.feeds.get(self.key) is self:
                del self.hub.feeds[self.key]
        for sub in subscribers:
            try:
                sub.queue.put_nowait(("end", reason))
            except queue.Full:
                sub.dropped = True
        return True

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception:  # a bug: its streams end (their clients reconnect) rather than hang
            log.exception("live updates of %s: the feed failed", self.key)
            self._close("error")

    def _run(self) -> None:
        store = self.hub.store
        last_check = time.monotonic()
        down_since: float | None = None
        while not self._close(None):
            try:
                batch = store.read(self.key, self.cursor, block_ms=BLOCK_MS)
                down_since = None
            except REDIS_ERRORS as exc:
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since > OUTAGE_SECONDS:
                    log.warning("live updates of %s: Redis unreachable for %.0f s (%s); the streams end",
                                self.key, now - down_since, exc)
                    self._close("outage")
                    return
                time.sleep(0.5)
                continue
            for event in batch:
                self.cursor = event.id
                last_check = time.monotonic()  # the job is alive: no need to ask
                self._broadcast(("event", event))
            if self.quiet is not None and time.monotonic() - last_check >= CHECK_SECONDS:
                last_check = time.monotonic()
                try:
                    if self.quiet():  # ended without its final event (a worker lost)
                        for event in store.read(self.key, self.cursor, count=1000):
                            self._broadcast(("event", event))
                        self._close("final")
                        return
                except REDIS_ERRORS:
                    pass  # the next read notices


class Hub:
    """The feeds of one web process, by stream key."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.feeds: dict[str, _Feed] = {}

    def subscribe(self, key: str, quiet: Callable[[], bool] | None) -> _Subscriber:
        """A new subscriber to stream ``key``; the first one starts the key's feed, one Redis reader per key
        however many clients follow it."""
        sub = _Subscriber()
        with self.lock:
            feed = self.feeds.get(key)
            created = feed is None
            if feed is None:
                feed = self.feeds[key] = _Feed(self, key, quiet)
            feed.subscribers.add(sub)
        if created:
            feed.thread.start()
        return sub

    def unsubscribe(self, key: str, sub: _Subscriber) -> None:
        """Remove ``sub`` from ``key``'s feed: its client has gone."""
        with self.lock:
            feed = self.feeds.get(key)
            if feed is not None:
                feed.subscribers.discard(sub)


def _follow(
    hub: Hub,
    key: str,
    cursor: str,
    *,
    quiet: Callable[[], bool] | None = None,
    final: Callable[[str], bool] | None = None,
) -> Iterator[tuple[str, Any]]:
    """("event", Event) for each entry after ``cursor``, ("beat", None) when a comment is due and
    ("end", reason) last. ``final(data)`` says a status entry ends the stream; ``quiet()``, asked
    when the key was quiet for CHECK_SECONDS, says whether to end it all the same."""
    sub = hub.subscribe(key, quiet)  # first: from here on the feed queues every new entry
    try:
        last = cursor
        backlog = hub.store.read(key, cursor, count=QUEUED_EVENTS)  # what came before, read once
        pending: list[tuple[str, Any]] = [("event", event) for event in backlog]
        while True:
            if pending:
                item = pending.pop(0)
            else:
                try:
                    item = sub.queue.get(timeout=HEARTBEAT_SECONDS)
                except queue.Empty:
                    if sub.dropped:
                        yield "end", "dropped"
                        return
                    yield "beat", None
                    continue
            what, value = item
            if what == "end":
                yield "end", value
                return
            if _order(value.id) <= _order(last):
                continue  # read twice (the backlog and the feed): sent once
            last = value.id
            yield "event", value
            if final is not None and value.kind == EventKind.STATUS and final(value.data):
                yield "end", "final"
                return
            if sub.dropped and sub.queue.empty():
                yield "end", "dropped"
                return
    finally:
        hub.unsubscribe(key, sub)


def _is_final(data: str) -> bool:
    if not data:
        return False
    try:
        return json.loads(data).get("status") in TERMINAL
    except (ValueError, AttributeError):
        return False


def _job_events(
    svc: ForecastService, hub: Hub, task_id: str, cursor: str, first: list[str], ended: bool
) -> Iterator[str]:
    """What a job's stream writes after its first events (``first``): see the module's docstring."""
    key = hub.store.job_key(task_id)
    yield f"retry: {RETRY_MS}\n\n"
    yield from first
    if ended:
        return

    def job_ended() -> bool:
        meta = svc.read_meta(task_id)
        return meta is not None and is_terminal(meta)

    for what, item in _follow(hub, key, cursor, quiet=job_ended, final=_is_final):
        if what == "event":
            yield sse(item.kind, item.data, item.id)
        elif what == "beat":
            yield ": keep-alive\n\n"
        elif item == "final":
            try:
                yield sse(EventKind.DONE, _json(status_body(svc.status(task_id))))
            except NotFound:  # expired in the meantime
                pass
            return
        else:
            return


# ---- routes -------------------------------------------------------------------------------


def _status_at(store: EventStore, key: str, cursor: str) -> str:
    """The job's state as its stream says at ``cursor``: the events after it then announce every
    later change exactly once. The stored state is no substitute: it can be ahead of the stream
    (a change is stored just before or after its event, and a busy server can read the two a few
    changes apart), and would announce those changes twice. No state event yet: PENDING."""
    status = store.last_status(key, cursor)
    return status if status is not None else str(JobStatus.PENDING)



def _check_token(task_id: str, settings: Settings) -> None:
    token = request.args.get(TOKEN_PARAM)
    if token is None:
        return  # no token: the API key (web/auth.py) was checked like on any /api/ call
    if token_valid(settings.events_token_key, task_id, token):
        return
    # Tampered, expired, or made for another job: answered as the API answers a caller who may
    # not know this id. With keys, as a call without a key; without keys, as an unknown id.
    if settings.api_keys:
        raise Unauthorized("the events token is not valid for this job (or has expired)")
    raise NotFound("no job with this id")


@bp.get("/api/v1/forecasts/<task_id>/events")
def job_events(task_id: str) -> Response:
    """GET /api/v1/forecasts/<id>/events: the job's live updates as Server-Sent Events, resumed after
    Last-Event-ID when the stream still holds it; 404 for an id no one submitted."""
    svc = service()
    _check_token(task_id, svc.settings)
    bind(task_id=task_id)
    rel = relay()
    store = rel.store
    key = store.job_key(task_id)
    asked = _last_event_id()
    resume = asked if asked and store.holds(key, asked) else None
    cursor = resume or store.last_id(key)  # before the state is read: nothing falls in between
    doc = svc.status(task_id)  # 404 for an id no one submitted
    first: list[str] = []
    if doc.status in TERMINAL:
        if resume:
            first += [sse(e.kind, e.data, e.id) for e in store.read(key, resume, count=1000)]
        first.append(sse(EventKind.DONE, _json(status_body(doc))))
    elif not resume:
        first.append(sse(EventKind.STATUS, _json({"task_id": task_id, "status": _status_at(store, key, cursor)}), cursor))
        progress = doc.progress.model_dump(mode="json")
        first.append(sse(EventKind.PROGRESS, _json({"task_id": task_id, **progress}), cursor))
    rel.slots.take()  # 503 too_many_streams past MAX_EVENT_STREAMS
    body = stream_with_context(_job_events(svc, rel.hub, task_id, cursor, first, doc.status in TERMINAL))
    return _sse_response(rel.slots, body)


def _all_events(hub: Hub, cursor: str) -> Iterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    for what, item in _follow(hub, hub.store.global_key, cursor):
        if what == "event":
            yield sse(item.kind, item.data, item.id)
        elif what == "beat":
            yield ": keep-alive\n\n"
        else:
            return


@bp.get("/api/v1/events")
def all_events() -> Response:
    """Every job's state changes and the alerts, from now on (or after a known Last-Event-ID)."""
    rel = relay()
    store = rel.store
    asked = _last_event_id()
    cursor = asked if asked and store.holds(store.global_key, asked) else store.last_id(store.global_key)
    rel.slots.take()
    return _sse_response(rel.slots, _all_events(rel.hub, cursor))
