"""The history's outbox: finished jobs wait in a Redis list until the database has them.

A job that succeeds only LPUSHes its item (:meth:`HistoryOutbox.push`), so the database being
down or slow never fails or delays it. A large grouped job's items (one per part of its series,
shared/history/records.py) are staged one at a time and then moved to the outbox together, in one
script (:meth:`HistoryOutbox.push_parts`): a drain sees all of a job's parts or none, in order,
with no other job's items between them. A drain (:meth:`HistoryOutbox.drain`, run by the
`history.drain` task) writes the items oldest first, one at a time:

- each item is moved to a processing list while it is written and removed once committed, so a
  drainer killed mid-write leaves it there, and the next drain puts it back first;
- one drainer at a time (a lock with a TTL), so items keep their order;
- the database unreachable: the item goes back to the head of the queue, the drain stops and
  reports it (its task retries later with backoff); the failure is logged and counted;
- an item the database refuses for good (or that is not an item at all) moves to a dead list an
  operator can inspect, logged and counted: nothing is dropped silently.

Counters live in a Redis hash (:data:`STATS_KEY`): written, write_failures, rejected.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from itertools import chain
from typing import Callable, Iterable

import redis

from shared.contract.errors import HistoryRejected, HistoryUnavailable
from shared.history.records import Publication, publication_from_item

log = logging.getLogger(__name__)

PREFIX = "sf:history"
OUTBOX_KEY = f"{PREFIX}:outbox"
PROCESSING_KEY = f"{PREFIX}:processing"
DEAD_KEY = f"{PREFIX}:dead"
STATS_KEY = f"{PREFIX}:stats"
LOCK_KEY = f"{PREFIX}:drain-lock"
LOCK_TTL_SECONDS = 120  # renewed after every item; a drainer that died frees it after this
STAGING_PREFIX = f"{PREFIX}:staging"  # a job's parts while they are written, one list per job
STAGING_TTL_SECONDS = 3600  # parts staged by a worker that died before moving them expire

# Every staged part to the outbox's head, the first staged first: the drain takes from the tail,
# so it reads them in the order they were staged.
_MOVE_STAGED = "local n = 0 while redis.call('lmove', KEYS[1], KEYS[2], 'LEFT', 'LEFT') do n = n + 1 end return n"
# Delete the lock only if it is still ours.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


@dataclass
class DrainReport:
    """What one :meth:`HistoryOutbox.drain` did: items written and sent to the dead list, whether it
    stopped on an unreachable database or found another drainer holding the lock, and how many items
    still wait (outbox plus processing) when it returned."""

    written: int = 0
    rejected: int = 0
    unavailable: bool = False  # stopped because the database could not be written
    busy: bool = False  # another drainer holds the lock
    remaining: int = 0


class HistoryOutbox:
    """The Redis lists that carry finished jobs to the history database: a job only pushes, the
    ``history.drain`` task writes them in order (see the module docstring for the guarantees)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def push(self, item: str) -> None:
        """Queue one finished job's item (:func:`shared.history.records.outbox_item`): one LPUSH, so a
        job never waits on, or fails with, the database."""
        self.redis.lpush(OUTBOX_KEY, item)

    def push_parts(self, items: Iterable[str]) -> int:
        """Queue a finished job's items (:func:`shared.history.records.outbox_items`) in order, as
        one: each is staged as it comes, so the job's items are never all in the worker's memory,
        then all move to the outbox in one script. A worker that dies while staging queues nothing
        (what it staged expires after STAGING_TTL_SECONDS). The items queued."""
        it = iter(items)
        first = next(it, None)
        if first is None:
            return 0
        second = next(it, None)
        if second is None:
            self.push(first)
            return 1
        staging = f"{STAGING_PREFIX}:{uuid.uuid4().hex}"
        for item in chain((first, second), it):
            pipe = self.redis.pipeline(transaction=False)
            pipe.rpush(staging, item)
            pipe.expire(staging, STAGING_TTL_SECONDS)
            pipe.execute()
        return int(self.redis.eval(_MOVE_STAGED, 2, staging, OUTBOX_KEY))

    def pending(self) -> int:
        """Items not yet written: those queued plus any a drainer has taken but not committed."""
        return int(self.redis.llen(OUTBOX_KEY)) + int(self.redis.llen(PROCESSING_KEY))

    def stats(self) -> dict[str, int]:
        """The drain's counters (``written``, ``write_failures``, ``rejected``; each present once it has
        counted something) plus ``pending`` and ``dead`` (the dead list's length), for health checks."""
        raw = self.redis.hgetall(STATS_KEY)
        out = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
        out["pending"] = self.pending()
        out["dead"] = int(self.redis.llen(DEAD_KEY))
        return out

    def drain(self, write: Callable[[Publication], object], *, max_items: int | None = None) -> DrainReport:
        """Write what waits, oldest first, until the outbox is empty or the database fails."""
        report = DrainReport()
        while True:
            token = uuid.uuid4().hex
            if not self.redis.set(LOCK_KEY, token, nx=True, ex=LOCK_TTL_SECONDS):
                report.busy = True
                break
            try:
                self._drain_locked(write, token, report, max_items)
            finally:
                self.redis.eval(_RELEASE, 1, LOCK_KEY, token)
            # An item pushed after our last look, whose own drain found the lock taken, would wait
            # for the next job: look once more now that the lock is free.
            if report.unavailable or (max_items is not None and report.written >= max_items):
                break
            if not self.redis.llen(OUTBOX_KEY):
                break
        report.remaining = self.pending()
        return report

    def _reject(self, raw: bytes, exc: Exception) -> None:
        pipe = self.redis.pipeline()
        pipe.lrem(PROCESSING_KEY, 1, raw)
        pipe.lpush(DEAD_KEY, raw)
        pipe.hincrby(STATS_KEY, "rejected", 1)
        pipe.execute()
        log.error("history: an outbox item was refused (%s: %s); moved to %s", type(exc).__name__, exc, DEAD_KEY)

    def _drain_locked(
        self, write: Callable[[Publication], object], token: str, report: DrainReport, max_items: int | None
    ) -> None:
        # Whatever is in processing was left by a drainer that died: it goes first.
        while self.redis.lmove(PROCESSING_KEY, OUTBOX_KEY, "LEFT", "RIGHT") is not None:
            pass
        while max_items is None or report.written < max_items:
            raw = self.redis.lmove(OUTBOX_KEY, PROCESSING_KEY, "RIGHT", "LEFT")
            if raw is None:
                return
            try:
                # An item that does not decode, whatever the reason, is refused: left at the head,
                # it would stall every later drain.
                publication = publication_from_item(raw)
            except Exception as exc:
                self._reject(raw, exc)
                report.rejected += 1
                continue
            try:
                write(publication)
            except HistoryUnavailable as exc:
                self.redis.lmove(PROCESSING_KEY, OUTBOX_KEY, "LEFT", "RIGHT")  # back at the head
                self.redis.hincrby(STATS_KEY, "write_failures", 1)
                log.warning("history: could not write a finished job (%s); kept in the outbox, retried later", exc)
                report.unavailable = True
                return
            except (HistoryRejected, ValueError, KeyError, TypeError) as exc:
                self._reject(raw, exc)
                report.rejected += 1
                continue
            pipe = self.redis.pipeline()
            pipe.lrem(PROCESSING_KEY, 1, raw)
            pipe.hincrby(STATS_KEY, "written", 1)
            pipe.expire(LOCK_KEY, LOCK_TTL_SECONDS)
            pipe.execute()
            report.written += 1
            if self.redis.get(LOCK_KEY) not in (token, token.encode()):
                log.warning("history: the drain lock expired mid-drain; stopping this drain")
                return
