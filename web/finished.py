"""Finished jobs' status bodies, kept in each web process.

A finished job's status document never changes again (only its expiry removes it), and polling
clients ask for it over and over. Serving the serialised body from memory spares three Redis
round trips, a pydantic validation of the whole result document and its JSON encoding on every
poll. Entries live for a bounded time, so a job that expired in Redis stops being served soon
after.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_ENTRIES = 2048  # a result body is 5-15 kB: at most ~30 MB per web process
ENTRY_SECONDS = 300.0


class FinishedBodies:
    """A thread-safe LRU of ``task_id -> JSON body`` with a time bound per entry."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_seconds: float = ENTRY_SECONDS) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                return None
            body, expires = entry
            if expires < time.monotonic():
                del self._entries[task_id]
                return None
            self._entries.move_to_end(task_id)
            return body

    def put(self, task_id: str, body: bytes, ttl_seconds: float | None = None) -> None:
        expires = time.monotonic() + min(self.ttl_seconds, ttl_seconds or self.ttl_seconds)
        with self._lock:
            self._entries[task_id] = (body, expires)
            self._entries.move_to_end(task_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
