"""The one place a Redis client is built from the settings: plain, or through Redis Sentinel.

Web, worker and the stores ask :func:`connect` for their client, naming what it is for; the
purpose decides the waits (the web answers clients, so it gives up sooner than a job does).

With ``REDIS_SENTINELS`` set, the client is redis-py's ``Sentinel(...).master_for(...)``: each new
connection asks the sentinels where the master is, and a connection that finds the old master
gone (refused, or demoted to a read-only replica) is dropped, so the next command reaches the
promoted one. Nothing here retries for long: a command during the switch fails like any outage
(the web answers 503, a job is put back on the queue), and the one after it finds the new master.
"""
from __future__ import annotations

from enum import StrEnum
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from shared.contract.config import Settings
from shared.contract.protocol import sentinel_kwargs


class Purpose(StrEnum):
    """Who the client serves, which decides how long it waits."""

    WEB = "web"  # answers an HTTP client: 2 s a call, one quick retry, then 503
    WORKER = "worker"  # a job's calls: patient, 5 s a call


# An outage must answer 503 within a bound, not hang a request: every Redis call of the web tier
# gives up after this, with one quick retry (a pooled connection may be stale after a restart or
# a failover).
WEB_TIMEOUT_SECONDS = 2.0
WORKER_TIMEOUT_SECONDS = 5.0
HEALTH_CHECK_SECONDS = 30


def _options(purpose: Purpose) -> dict[str, object]:
    if purpose is Purpose.WEB:
        return {
            "socket_timeout": WEB_TIMEOUT_SECONDS,
            "socket_connect_timeout": WEB_TIMEOUT_SECONDS,
            "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
            "health_check_interval": HEALTH_CHECK_SECONDS,
        }
    return {"socket_timeout": WORKER_TIMEOUT_SECONDS, "socket_connect_timeout": WORKER_TIMEOUT_SECONDS}


def _master_credentials(url: str) -> dict[str, object]:
    """Password, user and database of REDIS_URL: what the master asks of its clients."""
    parts = urlsplit(url)
    credentials: dict[str, object] = {"db": int(parts.path.lstrip("/") or 0)}
    if parts.password is not None:
        credentials["password"] = unquote(parts.password)
    if parts.username:
        credentials["username"] = unquote(parts.username)
    return credentials


def sentinel(settings: Settings, *, purpose: Purpose = Purpose.WORKER) -> Sentinel:
    """A client of the sentinels themselves (REDIS_SENTINELS), for :func:`connect` and probes."""
    return Sentinel(
        list(settings.redis_sentinels),
        sentinel_kwargs=sentinel_kwargs(settings),
        **_master_credentials(settings.redis_url),
        **_options(purpose),
    )


def connect(settings: Settings, *, purpose: Purpose) -> redis.Redis:
    """The service's Redis for ``purpose``: REDIS_URL, or the master the sentinels name."""
    if not settings.redis_sentinels:
        return redis.Redis.from_url(settings.redis_url, **_options(purpose))
    return sentinel(settings, purpose=purpose).master_for(settings.redis_sentinel_master, redis_class=redis.Redis)
