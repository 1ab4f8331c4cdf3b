"""A grouped job's steps (shared.engine.grouped_job) on a real Redis, without workers: the plan,
the MAX_SERIES refusal before anything is stored (while the lines are fetched, or from the panel),
a chunk counted once, a chunk whose process died counted, the fan-in and the cache."""
from __future__ import annotations

import pytest

from shared.contract.config import Settings
from shared.contract.errors import ErrorCode, PayloadTooLarge, TooManySeries
from shared.contract.schema import ForecastRequest
from shared.engine import grouped_job
from shared.engine.grouped import StaticLineSource
from shared.sources.lines import LineBuilder, lines_from_rows
from shared.stores.grouped_store import GroupedStore
from shared.stores.jobs import RedisResultCache
from tests.shared.test_grouped import TODAY, lines

GROUP_BY = ["store_id", "product_id"]


@pytest.fixture
def parts(web_redis):
    cols = lines_from_rows(lines(), GROUP_BY)
    source = StaticLineSource(lambda fields: cols, "mem")
    store = GroupedStore(web_redis, ttl_seconds=600)
    cache = RedisResultCache(web_redis, ttl_seconds=600)
    return source, store, cache


def _plan(parts, job_id: str, **settings):
    source, store, cache = parts
    request = ForecastRequest.parse({"group_by": GROUP_BY, "model": "seasonal_naive", "horizon": 2}).resolved(TODAY)
    return grouped_job.plan_job(
        job_id, request, source=source, settings=Settings(**settings), store=store, cache=cache,
        today=TODAY, progress=None, deadline=None,
    )


def test_more_series_than_max_series_is_refused_before_anything_is_stored(parts, web_redis):
    with pytest.raises(TooManySeries) as err:
        _plan(parts, "job-big", max_series=3)
    assert err.value.code == ErrorCode.PAYLOAD_TOO_LARGE and isinstance(err.value, PayloadTooLarge)
    assert "MAX_SERIES (3)" in str(err.value)
    assert not web_redis.keys("*"), "a refused job leaves nothing in Redis"


def test_max_series_defaults_to_50000():
    assert Settings().max_series == 50_000
    assert Settings.from_env({"MAX_SERIES": "70000"}).max_series == 70_000


def test_the_line_builder_refuses_too_many_groups_page_by_page_before_the_last_page():
    builder = LineBuilder(GROUP_BY, max_series=101)
    page = [{"id": i, "sale_id": i, "created_at": "2025-01-05T10:00:00Z", "line_total": "1.00", "quantity": 1,
             "store_id": i % 2, "product_id": i} for i in range(60)]
    builder.add_rows(page)  # 60 groups: 61 series at least, under 101
    later = [{**r, "id": r["id"] + 60, "product_id": r["product_id"] + 60} for r in page]
    with pytest.raises(TooManySeries) as err:
        builder.add_rows(later)  # 120 groups at the last level: refused on this page
    assert "MAX_SERIES (101)" in str(err.value)
    same = LineBuilder(GROUP_BY, max_series=101)
    for _ in range(5):
        same.add_rows(page)  # repeated groups count once
    assert len(same.finish()) == 300


def test_a_chunk_start_that_never_ended_is_counted(parts):
    _, store, _ = parts
    assert store.begin_chunk("job-k", 3) == 1
    store.end_chunk("job-k", 3)
    assert store.begin_chunk("job-k", 3) == 1  # the last run ended: not a death
    assert store.begin_chunk("job-k", 3) == 2  # no end: its process died, this is the retry
    assert store.begin_chunk("job-k", 3) == 3  # died again: the task ends the job


def test_the_fan_in_claim_is_one_chunks_and_that_chunk_may_claim_it_again(parts):
    _, store, _ = parts
    assert store.claim_finalize("job-f", 4)
    assert not store.claim_finalize("job-f", 2)  # another chunk: the fan-in is taken
    assert store.claim_finalize("job-f", 4)  # chunk 4 redelivered: its killed run held the claim
    store.release_finalize("job-f")
    assert store.claim_finalize("job-f", 2)


def test_a_run_that_ends_after_its_job_was_cleared_leaves_no_tally(parts, web_redis):
    _, store, _ = parts
    store.begin_chunk("job-c", 0)
    store.clear_work("job-c")  # the run did the fan-in (or ended the job), then its end is recorded
    store.end_chunk("job-c", 0)
    assert not web_redis.keys("*job-c*"), "no tally left behind without an expiry"


def test_a_job_is_planned_run_chunk_by_chunk_once_and_then_answered_from_the_cache(parts):
    source, store, cache = parts
    planned = _plan(parts, "job-1", chunk_size=2)
    plan = planned.plan
    assert planned.document is None and plan.n_chunks == -(-plan.n_series // 2)
    claims = [grouped_job.run_chunk(store, plan, k) for k in range(plan.n_chunks)]
    assert claims == [False] * (plan.n_chunks - 1) + [True]
    assert grouped_job.run_chunk(store, plan, 0) is False  # a redelivered chunk counts once, claims nothing
    grouped = grouped_job.fan_in(store, cache, plan)
    assert len(grouped.series) == plan.n_series
    grouped_job.forget(store, plan.job_id)

    again = _plan(parts, "job-2", chunk_size=2)
    assert again.plan is None
    meta = again.document["data"]["meta"]
    assert (meta["task_id"], meta["cached"]) == ("job-2", True)
    assert again.document["data"]["hierarchy"]["series_url"] == "/api/v1/forecasts/job-2/series"


def test_stock_travels_from_the_plan_to_the_fan_in_and_keys_the_cache(web_redis):
    """A job with inventory reads stock once, at its plan; the fan-in uses it; other stock is
    another result (the cache does not answer with yesterday's suggested orders)."""
    from shared.sources.stock import stock_from_rows

    cols = lines_from_rows([{**r, "quantity": r["quantity"]} for r in lines()], GROUP_BY)
    store = GroupedStore(web_redis, ttl_seconds=600)
    cache = RedisResultCache(web_redis, ttl_seconds=600)
    request = ForecastRequest.parse({"group_by": GROUP_BY, "measure": "units", "model": "seasonal_naive", "horizon": 2,
                                     "inventory": {"lead_time": 1}}).resolved(TODAY)

    def plan(job_id: str, on_hand: int):
        source = StaticLineSource(lambda fields: cols, "mem", stock_from_rows([{"product_id": "tea", "on_hand": on_hand}]))
        return grouped_job.plan_job(job_id, request, source=source, settings=Settings(chunk_size=3), store=store,
                                    cache=cache, today=TODAY, progress=None, deadline=None)

    first = plan("job-s1", 0).plan
    assert store.stock("job-s1")["rows_used"] == 1
    for k in range(first.n_chunks):
        grouped_job.run_chunk(store, first, k)
    grouped = grouped_job.fan_in(store, cache, first)
    tea = [s["inventory"] for s in grouped.series if s["key"].get("product_id") == "tea"]
    assert tea and all(t["on_hand"] == 0 and t["suggested_order"] == t["order_up_to"] for t in tea)
    assert grouped.document["data"]["hierarchy"]["inventory"]["csv_url"].endswith("/job-s1/series.csv?view=inventory")
    grouped_job.forget(store, "job-s1")
    assert store.stock("job-s1") is None

    assert plan("job-s2", 0).document is not None  # the same sales and stock: the cached result
    assert plan("job-s3", 5).plan is not None  # other stock: computed again


def test_packed_series_read_back_as_built_and_publish_as_the_plain_ones(parts, monkeypatch):
    import json

    from shared.contract.series_documents import SeriesDocuments
    from shared.stores import grouped_store

    _, store, _ = parts
    docs = [{"key": {}, "level": 0, "forecast": {"next_period_forecast": 3.5}, "actual": [{"period": "2026-01", "value": 1.25}]}]
    docs += [{"key": {"store_id": f"S{i % 2}", "product_id": f"P{i}", "note": "é"}, "level": 1 + i % 2,
              "forecast": {"next_period_forecast": float(i)}} for i in range(7)]
    packed = SeriesDocuments(docs)
    assert len(packed) == len(docs) and list(packed) == docs and packed[-1] == docs[-1] and packed[2:4] == docs[2:4]
    assert packed.json(3) == json.dumps(docs[3], separators=(",", ":"))
    packed[0]["level"] = 9  # a read is a copy: the kept document does not change
    assert packed[0] == docs[0]

    monkeypatch.setattr(grouped_store, "SERIES_BATCH", 2)  # several batches a level
    store.publish("plain", "fp-plain", docs)
    store.publish("packed", "fp-packed", packed)
    for fp in ("fp-plain", "fp-packed"):
        assert store.level_counts(fp) == {0: 1, 1: 4, 2: 3}
    for level, count in store.level_counts("fp-plain").items():
        plain = store.series_at("fp-plain", level, range(count))
        assert plain == store.series_at("fp-packed", level, range(count))
        assert [json.loads(b) for b in plain] == [d for d in docs if d["level"] == level]
        assert store.index("fp-plain", level) == store.index("fp-packed", level)
    assert store.fingerprint_of("packed") == "fp-packed"
