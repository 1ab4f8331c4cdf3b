"""A grouped job's records in Redis: its panel, its chunks' results, and its finished series.

A grouped forecast (docs/api.md §8) is one job spread over many Celery tasks: the job fetches the sale
lines once and builds the panel, each chunk task forecasts a slice of the series, and the last
chunk to finish reconciles them all and publishes the result. Redis is the only meeting point,
so every step of that is recorded here:

- ``plan``: the job's resolved request, the number of series and chunks, the chunk size;
- ``panel``: the panel, as the fan-in step needs it to reconcile (``np.savez`` bytes);
- ``chunk:<k>``: chunk k's base forecasts (JSON), and ``done``: a hash chunk -> series count, so
  a chunk that runs twice (a worker killed after writing, the message redelivered) counts once;
- ``series:<fingerprint>:<level>``: the finished series of one level (a hash: position -> JSON),
  ``index:<fingerprint>:<level>``: their key texts and sortable figures, ``order:<fingerprint>:<level>:<sort>``:
  their positions in each ``sort`` order but the key's (a list, so a sorted page is one LRANGE
  and needs no index), ``levels:<fingerprint>``:
  how many series each level has; under the data fingerprint, so an identical later request reuses
  them (like the single-series result cache), and ``job:<id>`` names the fingerprint a job's series
  are under.

Everything expires after RESULT_TTL_SECONDS, like Celery's own results.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import redis

from shared.contract.series_documents import SeriesDocuments, encode
from shared.stores.jobs import PREFIX

# A chunk's record outlives its job by far less than a result: it is only needed until fan-in.
WORK_TTL_SECONDS = 6 * 3600
SERIES_BATCH = 500  # series written or read per Redis command
# SET NX, except that the chunk holding the claim gets it again.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""
# HINCRBY -1 on the running tally only while it exists (HINCRBY alone would recreate a cleared one).
_END_CHUNK = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
end
return 0
"""


@dataclass(frozen=True)
class Plan:
    """What every chunk and the fan-in step of a grouped job need to know about it."""

    job_id: str
    n_series: int
    n_chunks: int
    chunk_size: int
    request: dict[str, Any]  # the resolved ForecastRequest, as JSON
    source: str
    fingerprint: str

    def chunk_bounds(self, k: int) -> tuple[int, int]:
        """Series positions ``[lo, hi)`` of chunk ``k`` (0-based); the last chunk may be short."""
        lo = k * self.chunk_size
        return lo, min(lo + self.chunk_size, self.n_series)

    def to_json(self) -> str:
        """The plan as the JSON stored under ``plan`` (every field, request included)."""
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, blob: bytes | str) -> "Plan":
        """A plan from what :meth:`to_json` wrote (bytes as Redis returns them, or text)."""
        return cls(**json.loads(blob))


class GroupedStore:
    """A grouped job's Redis records: the work of one job (plan, panel, chunk results, kept
    WORK_TTL_SECONDS) and the finished series, kept ``ttl_seconds`` under the data fingerprint so an
    identical request reuses them."""

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 86400, prefix: str = PREFIX) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, "grouped", *parts))

    # -- the work: plan, panel, chunks ------------------------------------------------------
    def start(self, plan: Plan, panel_bytes: bytes) -> None:
        """Store a job's plan and panel and forget any earlier run's chunk tally and fan-in claim, so a
        re-run of the job starts its count from zero."""
        pipe = self.redis.pipeline()
        pipe.set(self._key(plan.job_id, "plan"), plan.to_json(), ex=WORK_TTL_SECONDS)
        pipe.set(self._key(plan.job_id, "panel"), panel_bytes, ex=WORK_TTL_SECONDS)
        pipe.delete(self._key(plan.job_id, "done"), self._key(plan.job_id, "finalizing"))
        pipe.execute()

    def put_stock(self, job_id: str, stock: dict[str, Any]) -> None:
        """Keep the stock the job read (docs/api.md §12, JSON) for its fan-in."""
        self.redis.set(self._key(job_id, "stock"), json.dumps(stock), ex=WORK_TTL_SECONDS)

    def stock(self, job_id: str) -> dict[str, Any] | None:
        """The stock :meth:`put_stock` kept; None when the job read none."""
        blob = self.redis.get(self._key(job_id, "stock"))
        return json.loads(blob) if blob else None

    def plan(self, job_id: str) -> Plan | None:
        """The job's plan; None once the job is finished (:meth:`clear_work`) or its work has expired,
        or for an id that is not a grouped job."""
        blob = self.redis.get(self._key(job_id, "plan"))
        return Plan.from_json(blob) if blob else None

    def panel_bytes(self, job_id: str) -> bytes | None:
        """The job's panel as :meth:`start` stored it (``Panel.to_bytes``); None once cleared or
        expired."""
        return self.redis.get(self._key(job_id, "panel"))

    def finish_chunk(self, job_id: str, k: int, results: Sequence[dict[str, Any]]) -> int:
        """Record chunk k's results; the number of chunks done (a repeat of k counts once)."""
        pipe = self.redis.pipeline()
        pipe.set(self._key(job_id, "chunk", str(k)), json.dumps(results), ex=WORK_TTL_SECONDS)
        pipe.hset(self._key(job_id, "done"), str(k), len(results))
        pipe.expire(self._key(job_id, "done"), WORK_TTL_SECONDS)
        pipe.hlen(self._key(job_id, "done"))
        return int(pipe.execute()[-1])

    def begin_chunk(self, job_id: str, k: int) -> int:
        """Record that chunk ``k`` starts; how many of its starts have not ended (this one
        included). A worker process killed mid-chunk (the kernel's OOM killer) never ends its
        start, so 2 means the chunk's last run died, 3 that two did."""
        key = self._key(job_id, "running")
        pipe = self.redis.pipeline()
        pipe.hincrby(key, str(k), 1)
        pipe.expire(key, WORK_TTL_SECONDS)
        return int(pipe.execute()[0])

    def end_chunk(self, job_id: str, k: int) -> None:
        """Chunk ``k``'s run ended in Python, however (done, retried or failed). Once the job's work
        is cleared (the run that ended it did the fan-in) there is nothing to count: the tally is
        not written again, where it would stay without an expiry."""
        self.redis.eval(_END_CHUNK, 1, self._key(job_id, "running"), str(k))

    def finish_count(self, job_id: str) -> int:
        """How many distinct chunks have recorded their results so far."""
        return int(self.redis.hlen(self._key(job_id, "done")))

    def chunk_done(self, job_id: str, k: int) -> bool:
        """Whether chunk ``k`` already recorded its results: a redelivered chunk skips its work."""
        return bool(self.redis.hexists(self._key(job_id, "done"), str(k)))

    def progress(self, job_id: str) -> tuple[int, int] | None:
        """(series done, series in all) of a grouped job in flight; None if it is not one."""
        plan = self.plan(job_id)
        if plan is None:
            return None
        counts = self.redis.hvals(self._key(job_id, "done"))
        return sum(int(c) for c in counts), plan.n_series

    def claim_finalize(self, job_id: str, k: int) -> bool:
        """True for one chunk of the job, ``k``: the one that runs the fan-in step (or ends the job).

        Chunk ``k`` itself may claim again: a chunk runs once at a time (acks_late redelivers its
        message only once the run holding it is dead), so a claim it holds on a later delivery was
        left by a run whose process was killed, in the fan-in, and the fan-in is redone."""
        return bool(self.redis.eval(_CLAIM, 1, self._key(job_id, "finalizing"), str(k), WORK_TTL_SECONDS))

    def release_finalize(self, job_id: str) -> None:
        """Give up the fan-in claim (the fan-in failed), so a retried chunk can claim it again."""
        self.redis.delete(self._key(job_id, "finalizing"))

    def chunk_results(self, plan: Plan) -> list[dict[str, Any]]:
        """Every chunk's results in series order, for the fan-in; ``KeyError`` if any chunk's record is
        missing (expired or never written), rather than reconciling an incomplete job."""
        keys = [self._key(plan.job_id, "chunk", str(k)) for k in range(plan.n_chunks)]
        out: list[dict[str, Any]] = []
        for blob in self.redis.mget(keys):
            if blob is None:
                raise KeyError("a chunk's results are missing")
            out.extend(json.loads(blob))
        return out

    def clear_work(self, job_id: str) -> None:
        """Delete a job's work records (plan, panel, tally, claim, every chunk's results); the published
        series are kept."""
        keys = [self._key(job_id, name) for name in ("plan", "panel", "done", "finalizing", "stock", "running")]
        plan = self.plan(job_id)
        if plan is not None:
            keys += [self._key(job_id, "chunk", str(k)) for k in range(plan.n_chunks)]
        self.redis.delete(*keys)

    # -- the finished series ----------------------------------------------------------------
    def publish(self, job_id: str, fingerprint: str, series: Sequence[dict[str, Any]]) -> None:
        """Store every series of a finished job by level, in the order given, with each level's
        index (:func:`level_index`), and name them for ``job_id``.

        A level's series are a hash position -> JSON, so a page in any order is one HMGET of its
        positions; the index is what sorting and searching need, small enough to load at once.
        The series are read one at a time and sent SERIES_BATCH at a time (``series`` may be
        packed, :class:`SeriesDocuments`: its JSON is sent as kept), so publishing holds one batch
        of JSON, not the job's; ``job:<id>`` is set last, once every series is written."""
        packed = series if isinstance(series, SeriesDocuments) else None
        indexes: dict[int, dict[str, Any]] = {}
        pending: dict[int, dict[str, str]] = {}
        counts: dict[int, int] = {}
        pipe = self.redis.pipeline(transaction=False)

        def flush(level: int) -> None:
            pipe.hset(self._key("series", fingerprint, str(level)), mapping=pending.pop(level))
            pipe.execute()

        for i, s in enumerate(series):
            level = int(s["level"])
            if level not in counts:
                counts[level] = 0
                indexes[level] = level_index(())
                pipe.delete(self._key("series", fingerprint, str(level)))
            add_to_index(indexes[level], s)
            pending.setdefault(level, {})[str(counts[level])] = packed.json(i) if packed is not None else encode(s)
            counts[level] += 1
            if len(pending[level]) >= SERIES_BATCH:
                flush(level)
        for level in list(pending):
            flush(level)
        for level, index in indexes.items():
            pipe.expire(self._key("series", fingerprint, str(level)), self.ttl)
            pipe.set(self._key("index", fingerprint, str(level)), json.dumps(index, separators=(",", ":")), ex=self.ttl)
            for sort in SORTS:
                key = self._key("order", fingerprint, str(level), sort)
                pipe.delete(key)
                order = sort_order(index[sort.lstrip("-")], descending=sort.startswith("-"))
                for lo in range(0, len(order), ORDER_BATCH):
                    pipe.rpush(key, *order[lo : lo + ORDER_BATCH])
                pipe.expire(key, self.ttl)
        levels = {str(level): n for level, n in sorted(counts.items())}
        pipe.set(self._key("levels", fingerprint), json.dumps(levels), ex=self.ttl)
        pipe.set(self._key("job", job_id), fingerprint, ex=self.ttl)
        pipe.execute()

    def reuse(self, job_id: str, fingerprint: str) -> bool:
        """Name an earlier job's series (same fingerprint) for ``job_id``, if they are still kept."""
        counts = self.level_counts(fingerprint)
        if not counts:
            return False
        pipe = self.redis.pipeline(transaction=False)
        for level in counts:
            pipe.expire(self._key("series", fingerprint, str(level)), self.ttl)
            pipe.expire(self._key("index", fingerprint, str(level)), self.ttl)
        pipe.expire(self._key("levels", fingerprint), self.ttl)
        pipe.set(self._key("job", job_id), fingerprint, ex=self.ttl)
        kept = all(pipe.execute())
        if kept:  # the sort orders are a shortcut (the index has the same): renewed, not required
            pipe = self.redis.pipeline(transaction=False)
            for level in counts:
                for sort in SORTS:
                    pipe.expire(self._key("order", fingerprint, str(level), sort), self.ttl)
            pipe.execute()
        return kept

    def fingerprint_of(self, job_id: str) -> str | None:
        """The fingerprint a finished grouped job's series are kept under; None for any other id."""
        value = self.redis.get(self._key("job", job_id))
        return value.decode() if isinstance(value, bytes) else value

    def level_counts(self, fingerprint: str) -> dict[int, int]:
        """{level: number of series} of a finished job's levels (the total is level 0); {} once expired."""
        blob = self.redis.get(self._key("levels", fingerprint))
        return {int(k): int(v) for k, v in json.loads(blob).items()} if blob else {}

    def index(self, fingerprint: str, level: int) -> dict[str, Any] | None:
        """A level's index as :func:`level_index` made it; None once expired."""
        blob = self.redis.get(self._key("index", fingerprint, str(level)))
        return json.loads(blob) if blob else None

    def series_at(self, fingerprint: str, level: int, positions: Sequence[int]) -> list[bytes | None]:
        """The stored JSON of the series at ``positions`` of a level (None where there is none)."""
        if not positions:
            return []
        return self.redis.hmget(self._key("series", fingerprint, str(level)), [str(p) for p in positions])

    def sorted_positions(self, fingerprint: str, level: int, sort: str, offset: int, limit: int) -> list[int] | None:
        """Positions ``offset`` to ``offset + limit`` of a level in ``sort`` order (one of :data:`SORTS`),
        as published; None when the order is not stored (series published before it was, or expired):
        the caller then sorts the index itself."""
        key = self._key("order", fingerprint, str(level), sort)
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(key)
        pipe.lrange(key, offset, offset + limit - 1)
        exists, positions = pipe.execute()
        return [int(p) for p in positions] if exists else None

    def iter_level(self, fingerprint: str, level: int, count: int) -> Iterator[bytes]:
        """A level's ``count`` series as stored (JSON bytes), in order and in batches: never the
        whole level at once. Stops at the first one missing (the level expired meanwhile)."""
        for lo in range(0, count, SERIES_BATCH):
            for blob in self.series_at(fingerprint, level, range(lo, min(lo + SERIES_BATCH, count))):
                if blob is None:
                    return
                yield blob


# What a level's series can be sorted by: the name in `sort`, and the forecast block's field.
# "forecast": the next period's (series published before weekly and daily jobs have only the month's).
SORT_FIGURES = {
    "forecast": ("next_period_forecast", "next_month_forecast"),
    "growth": ("forecast_growth_rate",),
    "accuracy": ("model_accuracy",),
}
# ... and the inventory block's (docs/api.md §12): the buyer's to-do list, largest order first.
SORT_INVENTORY = {"order": "suggested_order"}


# Every `sort` of the series API but the key's (the stored order): each figure, up and down.
SORTS: tuple[str, ...] = tuple(f"{sign}{name}" for name in (*SORT_FIGURES, *SORT_INVENTORY) for sign in ("", "-"))
ORDER_BATCH = 10_000  # positions per RPUSH


def sort_order(values: Sequence[float | None], descending: bool = False) -> list[int]:
    """Positions in the order of ``values``; stable, so ties keep the key order; missing figures last
    (in either direction). The one definition of a sorted page's order, stored and computed alike."""
    present = [i for i, v in enumerate(values) if v is not None]
    present.sort(key=lambda i: values[i], reverse=descending)  # type: ignore[arg-type,return-value]
    return present + [i for i, v in enumerate(values) if v is None]


def level_index(series: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What paging a level in another order, or searching it, needs of each series: its key values
    as one lower-case text (``null`` for a null key), and the figures it can be sorted by."""
    index: dict[str, Any] = {"text": [], **{name: [] for name in (*SORT_FIGURES, *SORT_INVENTORY)}}
    for s in series:
        add_to_index(index, s)
    return index


def add_to_index(index: dict[str, Any], s: dict[str, Any]) -> None:
    """Append series ``s``'s entries to a :func:`level_index`."""
    key = s.get("key") or {}
    index["text"].append(" ".join("null" if v is None else str(v) for v in key.values()).lower())
    forecast = s.get("forecast") or {}
    for name, fields in SORT_FIGURES.items():
        value = next((forecast[f] for f in fields if forecast.get(f) is not None), None)
        index[name].append(float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)
    inventory = s.get("inventory") or {}
    for name, field in SORT_INVENTORY.items():
        value = inventory.get(field)
        index[name].append(float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)
