"""A grouped job's steps (shared.engine.grouped_job) on a real Redis, without workers: the plan,
the MAX_SERIES refusal before anything is stored, a chunk counted once, the fan-in and the cache."""
from __future__ import annotations

import pytest

from shared.contract.config import Settings
from shared.contract.errors import InvalidRequest
from shared.contract.schema import ForecastRequest
from shared.engine import grouped_job
from shared.engine.grouped import StaticLineSource
from shared.sources.lines import lines_from_rows
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
    with pytest.raises(InvalidRequest) as err:
        _plan(parts, "job-big", max_series=3)
    assert err.value.field == "group_by" and "MAX_SERIES (3)" in str(err.value)
    assert not web_redis.keys("*"), "a refused job leaves nothing in Redis"


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
