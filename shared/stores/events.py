"""Live-update events in Redis Streams: published once by the workers, relayed by the web tier.

Each job has its own stream, ``sf:events:job:<id>``, holding its ``progress`` and ``status``
events in the order they happened (bounded by MAXLEN, expiring with the job's other records). One
more stream, ``sf:events:all``, holds every job's state changes and the alerts, for operators'
screens. A stream entry's id is the event's id on the wire (Server-Sent Events' ``id:``): a client
that reconnects with ``Last-Event-ID`` is read on from exactly that entry, so nothing is lost
between two connections and nothing comes twice.

Why streams and not pub/sub: a pub/sub message reaches only the subscribers connected at that
instant. What is published between a stream being opened and its subscription taking effect, or
while a web process reconnects to Redis, would be lost, and resuming from an event id would be
impossible. A stream keeps the job's events for as long as the job is kept, and XREAD blocks on it
like a subscription.

A state change is published once: one Lua script keeps the job's last published state and adds a
``status`` entry only when the state changes, whoever reports it (the task's hooks, a grouped
job's fan-in, the web tier's cancel). After a final state nothing more is added.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

import redis

from shared.contract.schema import TERMINAL, JobStatus
from shared.stores.jobs import PREFIX

JOB_STREAM_MAXLEN = 1000  # a job reports a few dozen events; this bounds a runaway one
GLOBAL_STREAM_MAXLEN = 10000  # every job's state changes and the alerts: hours of a busy service
EVENT_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
START = "0-0"  # before the first entry of any stream


class EventKind(StrEnum):
    """The event types of the streams (the SSE ``event:`` field)."""

    PROGRESS = "progress"  # {"task_id", "stage", "percent", "series_done"?, "series_total"?}
    STATUS = "status"  # {"task_id", "status"}: each state change, once
    DONE = "done"  # the status document; the last event of a job's stream (sent by the web tier)
    ALERT = "alert"  # an alert document (docs/api.md §11), once, when the history records it


@dataclass(frozen=True)
class Event:
    """One entry of a job's live-update stream: its stream id, its kind (:class:`EventKind`) and its JSON data."""

    id: str
    kind: str
    data: str  # JSON text, as published


_PUBLISH = """
local last = redis.call('GET', KEYS[2])
if last and string.find(ARGV[7], ',' .. last .. ',', 1, true) then
  return false
end
if ARGV[1] == 'status' then
  if last == ARGV[3] then return false end
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[6])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'event', 'status', 'data', ARGV[2])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[1], 'data', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return id
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def is_event_id(value: str | None) -> bool:
    """True when ``value`` has the shape of a stream entry id (what a client sends back as Last-Event-ID)."""
    return bool(value) and EVENT_ID.match(value or "") is not None


def _entries(raw: Any) -> list[Event]:
    events = []
    for entry_id, fields in raw or ():
        fields = {_text(k): v for k, v in fields.items()}
        events.append(Event(_text(entry_id), _text(fields.get("event", b"")), _text(fields.get("data", b"{}"))))
    return events


class EventStore:
    """The job streams and the global stream, for publishing (workers, web) and reading (web)."""

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 86400, prefix: str = PREFIX) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.prefix = prefix
        self.global_key = f"{prefix}:events:all"
        self._publish = client.register_script(_PUBLISH)

    def job_key(self, task_id: str) -> str:
        """The key of the Redis stream that holds ``task_id``'s live updates."""
        return f"{self.prefix}:events:job:{task_id}"

    # -- publishing ---------------------------------------------------------------------------
    def _add(self, task_id: str, kind: EventKind, data: Mapping[str, Any], status: str = "") -> str | None:
        keys = [self.job_key(task_id), f"{self.prefix}:events:state:{task_id}", self.global_key]
        final = "," + ",".join(str(s) for s in TERMINAL) + ","
        args = [str(kind), json.dumps(data, separators=(",", ":")), status,
                JOB_STREAM_MAXLEN, GLOBAL_STREAM_MAXLEN, self.ttl, final]
        entry_id = self._publish(keys=keys, args=args)
        return _text(entry_id) if entry_id else None

    def publish_progress(self, task_id: str, progress: Mapping[str, Any]) -> str | None:
        """A ``progress`` event ({stage, percent, ...}); None once the job has ended."""
        data = {"task_id": task_id, **{k: v for k, v in progress.items() if v is not None}}
        return self._add(task_id, EventKind.PROGRESS, data)

    def publish_status(self, task_id: str, status: JobStatus | str) -> str | None:
        """A ``status`` event, here and in the global stream, if the state changed; else None."""
        status = str(status)
        return self._add(task_id, EventKind.STATUS, {"task_id": task_id, "status": status}, status)

    def publish_alert(self, alert: Mapping[str, Any]) -> str:
        """An ``alert`` event (docs/api.md §11) in the global stream: worker/events.py publishes each
        alert once, when the history's drain records it."""
        data = json.dumps(dict(alert), separators=(",", ":"))
        fields = {"event": str(EventKind.ALERT), "data": data}
        return _text(self.redis.xadd(self.global_key, fields, maxlen=GLOBAL_STREAM_MAXLEN, approximate=True))

    # -- reading ------------------------------------------------------------------------------
    def read(self, key: str, after: str, *, block_ms: int | None = None, count: int = 100) -> list[Event]:
        """Entries after ``after`` (oldest first); with ``block_ms``, waits that long for one."""
        if block_ms is None:
            return _entries(self.redis.xrange(key, f"({after}" if after != START else "-", "+", count=count))
        reply = self.redis.xread({key: after}, count=count, block=block_ms)
        return _entries(reply[0][1]) if reply else []

    def last_id(self, key: str) -> str:
        """The newest entry's id, or START when the stream is empty or gone."""
        newest = self.redis.xrevrange(key, "+", "-", count=1)
        return _text(newest[0][0]) if newest else START

    def last_status(self, key: str, upto: str, scan: int = 200) -> str | None:
        """The status of the newest ``status`` entry at or before ``upto`` (among the last ``scan``
        entries), or None when there is none."""
        if upto == START:
            return None
        for _, fields in self.redis.xrevrange(key, upto, "-", count=scan):
            fields = {_text(k): _text(v) for k, v in fields.items()}
            if fields.get("event") == EventKind.STATUS:
                try:
                    return str(json.loads(fields.get("data", "{}")).get("status"))
                except (ValueError, AttributeError):
                    return None
        return None

    def holds(self, key: str, event_id: str) -> bool:
        """Whether ``event_id`` is an entry of the stream (not trimmed, not from elsewhere)."""
        return is_event_id(event_id) and bool(self.redis.xrange(key, event_id, event_id, count=1))
