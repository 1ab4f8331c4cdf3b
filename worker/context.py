"""What a worker process builds once from its settings, and the one place a task runs the pipeline.

Both tasks that forecast (`forecast.sales` in worker/tasks.py, `forecast.refresh` in
worker/refresh.py) take their context here: the settings, the job store, the result cache, the
signed model store and the Laravel source.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import redis
from celery import Celery

from shared.contract import clock
from shared.contract.config import Settings
from shared.contract.errors import JobTimeLimit, UpstreamUnavailable
from shared.contract.schema import ForecastRequest
from shared.engine.grouped import LaravelLineSource, LineSource
from shared.engine.model_store import ModelStore
from shared.engine.pipeline import LaravelSource, ProgressCallback, SalesSource, run_forecast
from shared.sources.deadline import Deadline
from shared.stores.jobs import JobStore, RedisResultCache
from shared.stores.redis_client import Purpose, connect

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """What a worker process builds once from the settings and reuses for every job."""

    settings: Settings
    jobs: JobStore
    cache: RedisResultCache
    models: ModelStore | None
    source: SalesSource | None
    line_source: LineSource | None = None

    def today(self) -> date:
        """Today's date in SALES_TIMEZONE, through shared.clock (tests can move it)."""
        return clock.today(self.settings.sales_timezone)


@lru_cache(maxsize=4)
def redis_client(app: Celery) -> redis.Redis:
    """This process's one Redis client (one connection pool) for ``app``: the jobs, the caches, the
    grouped stores, the history outbox and the webhooks all use it."""
    return connect(app.settings, purpose=Purpose.WORKER)


@lru_cache(maxsize=4)
def context(app: Celery) -> WorkerContext:
    """This process's context for ``app`` (built once, on the first job)."""
    settings: Settings = app.settings
    client = redis_client(app)
    source = LaravelSource.from_settings(settings) if settings.laravel_api_url else None
    models = ModelStore(settings.model_dir, settings.secret_key) if settings.secret_key else None
    if models is None:
        log.warning("SECRET_KEY is unset: fitted models are not stored (they could not be signed)")
    return WorkerContext(
        settings=settings,
        jobs=JobStore(client, ttl_seconds=settings.result_ttl_seconds),
        cache=RedisResultCache(client, ttl_seconds=settings.result_ttl_seconds),
        models=models,
        source=source,
        line_source=LaravelLineSource.from_settings(settings) if settings.laravel_api_url else None,
    )


@dataclass
class CacheUnlessCancelled:
    """The result cache as a job sees it: a job cancelled by now caches nothing (it stops here)."""

    cache: Any
    deadline: Deadline

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached document under ``key``, or None."""
        return self.cache.get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Cache ``value`` under ``key``, unless the job has been cancelled: then Cancelled is raised and
        nothing is kept."""
        self.deadline.check_cancelled()
        self.cache.set(key, value)


def forecast_for(
    ctx: WorkerContext,
    request: ForecastRequest,
    *,
    task_id: str | None,
    deadline: Deadline,
    today: date | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """The one place a task runs the pipeline: this worker's source, models, cache and time zone."""
    if ctx.source is None:
        raise UpstreamUnavailable("LARAVEL_API_URL is not configured on the worker")
    return run_forecast(
        request,
        ctx.source,
        timezone=ctx.settings.sales_timezone,
        today=today,
        task_id=task_id,
        model_store=ctx.models,
        cache=CacheUnlessCancelled(ctx.cache, deadline) if deadline.cancelled else ctx.cache,
        progress=progress,
        deadline=deadline,
    )


def time_limit_error(settings: Settings) -> JobTimeLimit:
    """The error a job ends with at TASK_SOFT_TIME_LIMIT_SECONDS (``internal_error``, naming the limit)."""
    return JobTimeLimit(
        f"the job ran past TASK_SOFT_TIME_LIMIT_SECONDS ({settings.task_soft_time_limit_seconds:g} s) "
        "and was stopped"
    )
