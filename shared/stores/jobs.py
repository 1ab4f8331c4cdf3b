"""What the service remembers about jobs in Redis, beside Celery's own result keys.

Celery answers PENDING for any id, submitted or not, so submitted ids are recorded here; so are
idempotency keys, the one in-flight job per set of parameters (identical requests join it),
cancellation flags and the list of recent jobs for the dashboard.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

PREFIX = "sf"
RECENT_JOBS_KEPT = 200
# An in-flight marker outlives no job: the worker clears it, and this bounds a crashed worker's.
INFLIGHT_TTL_SECONDS = 3600
IDEMPOTENCY_TTL_SECONDS = 86400


def body_hash(body: Any) -> str:
    """SHA-256 hex of ``body`` as canonical JSON (sorted keys, no spaces): the same body in any key
    order hashes alike, so an idempotency key's replay can be told from a different body."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class JobRecord:
    """What :meth:`JobStore.get` returns: a submitted job's id, submission time (Unix seconds) and the
    parameters it was submitted with."""

    task_id: str
    submitted_at: float
    params: dict[str, Any]


class JobStore:
    """The service's own records of jobs in Redis (under ``prefix``): submitted ids, idempotency keys,
    in-flight markers, cancellation flags and the dashboard's recent list. Celery answers PENDING for
    any id, so this is what tells "never submitted" from "queued"."""

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 86400, prefix: str = PREFIX) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # -- submitted jobs ---------------------------------------------------------------------
    def record(self, task_id: str, params: dict[str, Any], submitted_at: float | None = None) -> None:
        """Record a submitted job for ``ttl_seconds`` and add it to the recent list (the newest
        RECENT_JOBS_KEPT kept); ``submitted_at`` is Unix seconds, now by default."""
        when = submitted_at or time.time()
        blob = json.dumps({"submitted_at": when, "params": params})
        pipe = self.redis.pipeline()
        pipe.set(self._key("job", task_id), blob, ex=self.ttl)
        pipe.zadd(self._key("recent"), {task_id: when})
        pipe.zremrangebyrank(self._key("recent"), 0, -RECENT_JOBS_KEPT - 1)
        pipe.execute()

    def get(self, task_id: str) -> JobRecord | None:
        """The job's record, or None if it was never submitted here or its record has expired."""
        blob = self.redis.get(self._key("job", task_id))
        if blob is None:
            return None
        data = json.loads(blob)
        return JobRecord(task_id, float(data["submitted_at"]), data.get("params") or {})

    def recent(self, limit: int = 50) -> list[str]:
        """Ids of the most recently submitted jobs, newest first, at most ``limit`` (but at least one:
        ``limit`` 0 still asks Redis for one). Their records may have expired."""
        ids = self.redis.zrevrange(self._key("recent"), 0, max(limit - 1, 0))
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    # -- idempotency keys -------------------------------------------------------------------
    def claim_idempotency(self, key: str, body_digest: str, task_id: str) -> tuple[str, str] | None:
        """Claim ``key`` for ``task_id``; if taken, the (body_digest, task_id) it holds."""
        redis_key = self._key("idem", hashlib.sha256(key.encode()).hexdigest())
        value = json.dumps([body_digest, task_id])
        if self.redis.set(redis_key, value, nx=True, ex=IDEMPOTENCY_TTL_SECONDS):
            return None
        held = self.redis.get(redis_key)
        if held is None:  # expired between the two calls: claim again
            return self.claim_idempotency(key, body_digest, task_id)
        digest, held_id = json.loads(held)
        return digest, held_id

    # -- one in-flight job per parameters ---------------------------------------------------
    # Marker and job record are written in one step: a request that finds the marker always
    # finds the job it names, so identical requests arriving together join it without waiting.
    _CLAIM_SCRIPT = """
    if ARGV[6] ~= '1' then
      local held = redis.call('get', KEYS[1])
      if held then return held end
    end
    redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[4])
    redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[5])
    redis.call('zadd', KEYS[3], ARGV[3], ARGV[1])
    redis.call('zremrangebyrank', KEYS[3], 0, -tonumber(ARGV[7]) - 1)
    return false
    """

    def claim_inflight(
        self, params_key: str, task_id: str, params: dict[str, Any], *, replace: bool = False
    ) -> str | None:
        """Make ``task_id`` the in-flight job for ``params_key`` and record it (as :meth:`record`);
        without ``replace``, a job already in flight is kept and its id returned instead."""
        when = time.time()
        held = self.redis.eval(
            self._CLAIM_SCRIPT,
            3,
            self._key("inflight", params_key),
            self._key("job", task_id),
            self._key("recent"),
            task_id,
            json.dumps({"submitted_at": when, "params": params}),
            when,
            INFLIGHT_TTL_SECONDS,
            self.ttl,
            "1" if replace else "0",
            RECENT_JOBS_KEPT,
        )
        return held.decode() if isinstance(held, bytes) else held

    def clear_inflight(self, params_key: str, task_id: str) -> None:
        """Remove the marker only if it is still ours (a newer job may have replaced it)."""
        key = self._key("inflight", params_key)
        self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
            1,
            key,
            task_id,
        )

    # -- replication ------------------------------------------------------------------------
    def await_replicas(self, replicas: int, timeout_ms: int) -> int:
        """Wait until what Redis has taken so far is on ``replicas`` replicas (at most
        ``timeout_ms``); return how many replicas have it.

        WAIT waits for the calling connection's own last write, and a master replicates its
        writes in the order it took them: so one small write, then WAIT on the same connection
        (one pipeline), covers every write any client finished before it -- the job's record and
        its queued message included."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(self._key("replication", "mark"))
        pipe.execute_command("WAIT", replicas, timeout_ms)
        return int(pipe.execute()[-1])

    # -- cancellation -----------------------------------------------------------------------
    def request_cancel(self, task_id: str) -> None:
        """Flag the job as cancelled, for ``ttl_seconds``. A running job sees the flag only when it next
        reports progress (a grouped job: when its next chunk starts), so it stops then, not at once."""
        self.redis.set(self._key("cancel", task_id), "1", ex=self.ttl)

    def is_cancelled(self, task_id: str) -> bool:
        """Whether :meth:`request_cancel` has flagged the job (and the flag has not expired)."""
        return bool(self.redis.exists(self._key("cancel", task_id)))


class RedisResultCache:
    """Finished forecast blocks by data fingerprint, for RESULT_TTL_SECONDS (the pipeline's cache)."""

    def __init__(self, client: redis.Redis, *, ttl_seconds: int, prefix: str = PREFIX) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.prefix = prefix

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached block under ``key`` (a data fingerprint), or None on a miss or once expired."""
        blob = self.redis.get(f"{self.prefix}:result:{key}")
        return json.loads(blob) if blob else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Cache a finished block under ``key`` for ``ttl_seconds``, replacing any earlier one."""
        self.redis.set(f"{self.prefix}:result:{key}", json.dumps(value), ex=self.ttl)
