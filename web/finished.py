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
from typing import Generic, Hashable, TypeVar

MAX_ENTRIES = 2048  # a result body is 5-15 kB: at most ~30 MB per web process
ENTRY_SECONDS = 300.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """A thread-safe LRU of what never changes once finished (only expires), with a time bound
    per entry: finished status bodies here, and a grouped job's series pages and indexes
    (web/series.py)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_seconds: float = ENTRY_SECONDS) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept under ``key``, or None when absent or past its time (an expired entry is
        dropped here); a hit makes the entry the most recently used."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V, ttl_seconds: float | None = None) -> None:
        """Keep ``value`` for ``ttl_seconds``, never longer than the store's own bound (None or 0: that
        bound), dropping the least recently used entries past ``max_entries``."""
        expires = time.monotonic() + min(self.ttl_seconds, ttl_seconds or self.ttl_seconds)
        with self._lock:
            self._entries[key] = (value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        """Forget ``key`` now (no error if absent): for a value that is no longer true."""
        with self._lock:
            self._entries.pop(key, None)


class FinishedBodies(Kept[str, bytes]):
    """``task_id -> JSON body`` of finished jobs."""
