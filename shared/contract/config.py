"""Settings: read once, from the environment, into one typed object (docs/api.md §2).

Nothing reads ``os.environ`` at import time: processes call :meth:`Settings.from_env` in their
factory, tests build :class:`Settings` explicitly.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from shared.contract import calendar


def _split_csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def redact_url(url: str | None) -> str:
    """The URL with any password replaced by ``***``, for logs and banners."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


DEFAULT_DATABASE_URL = "sqlite:///var/history.sqlite3"
DEFAULT_SENTINEL_MASTER = "mymaster"


def _split_sentinels(value: str | None) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port`` (port 26379 when left out) -> ((host, port), ...)."""
    sentinels = []
    for part in _split_csv(value):
        host, sep, port = part.rpartition(":")
        if not sep:
            host, port = part, "26379"
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_SENTINELS: {part!r} is not host:port")
        sentinels.append((host.strip("[]"), int(port)))
    return tuple(sentinels)


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, immutable; build with :meth:`from_env` in a process's factory or
    explicitly in tests. Secrets are kept out of ``repr`` so a logged Settings leaks none."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis behind Sentinel: the sentinels to ask (host, port) and the name of the master they
    # watch. Set, every client (Celery's broker and result backend, the stores, the caches) asks
    # them for the master and follows a failover; REDIS_URL then gives only the master's
    # password, user and database number (its host and port are not used).
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = DEFAULT_SENTINEL_MASTER
    # The sentinels' own password (``requirepass`` in sentinel.conf), when they have one.
    redis_sentinel_password: str | None = field(default=None, repr=False)
    broker_url: str | None = None
    result_backend: str | None = None

    laravel_api_url: str | None = None
    laravel_api_token: str | None = field(default=None, repr=False)
    laravel_sales_path: str = "/sales"
    laravel_timeout_seconds: float = 10.0
    # All of one job's time on Laravel: pages, the client's retries and back-offs, and the
    # queue's re-runs of the job together. Past it the job ends upstream_unavailable.
    laravel_deadline_seconds: float = 60.0
    laravel_items_path: str = "/sales/items"  # sale lines, for grouped forecasts (docs/api.md §3, §8)
    laravel_stock_path: str = "/stock"  # stock on hand, for suggested orders (docs/api.md §3, §12)

    sales_timezone: str = "UTC"
    # Public holidays of this country (and subdivision: "US", "US-CA", "DE-BY") are known effects of
    # every job that does not say otherwise (docs/api.md §10); None: no holidays unless a job asks.
    holiday_country: str | None = None

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    flower_port: int = 5555
    # Where Flower listens: loopback, like the web tier, unless set (compose sets 0.0.0.0 inside
    # its container and publishes the port on the host's loopback only).
    flower_address: str = "127.0.0.1"
    flower_basic_auth: str | None = field(default=None, repr=False)

    api_keys: tuple[str, ...] = field(default=(), repr=False)

    forecast_queue: str = "forecasts"
    result_ttl_seconds: int = 86400
    model_dir: Path = Path("var/models")
    secret_key: str = field(default="", repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    callback_allowed_hosts: tuple[str, ...] = ()
    forecast_refresh_cron: str = "0 2 1 * *"
    # Which frequencies' default forecasts the scheduled refresh recomputes (docs/api.md §10): months
    # on FORECAST_REFRESH_CRON, weeks at 02:00 each Monday, days at 02:00 each day.
    forecast_refresh_frequencies: tuple[str, ...] = ("month",)
    max_body_bytes: int = 64 * 1024
    # The Laravel client retries within a fetch; a job whose fetch still failed is retried this
    # many more times by the queue, after UPSTREAM_RETRY_DELAY_SECONDS, doubling.
    upstream_task_retries: int = 2
    upstream_retry_delay_seconds: float = 10.0
    # acks_late: a job whose worker died unacked is redelivered after this many seconds. Longer
    # than any job (a million rows with auto and its backtest take a few minutes).
    visibility_timeout_seconds: int = 1800
    legacy_wait_seconds: float = 20.0
    # Grouped forecasts (docs/api.md §8): series per chunk task, and the most series one job may have.
    # 100 series are a few seconds of work: small enough that the workers finish a job together
    # (the last chunk is the only one some worker waits for), big enough that a chunk's own cost
    # (a message, the panel read once per process, its results in Redis) stays under 1 %.
    chunk_size: int = 100
    max_series: int = 50000
    # Set by the process manager (gunicorn's runner) when the web tier runs several processes:
    # where prometheus_client keeps the per-process metric files.
    prometheus_multiproc_dir: str | None = None
    # Celery's time limits for one job (0: none). At the soft limit the job is stopped and ends
    # FAILURE internal_error, its worker process unharmed; the hard limit kills a process that
    # does not return (stuck in native code). Far above any single-series job (a million rows
    # with auto take a few minutes); the hard one stays below VISIBILITY_TIMEOUT_SECONDS, so a
    # slow job is never redelivered while it still runs.
    task_soft_time_limit_seconds: float = 1200.0
    task_time_limit_seconds: float = 1500.0
    # The forecast history (§9): unset, a SQLite file under var/ (relative to the working
    # directory, as MODEL_DIR is); compose points every container at its PostgreSQL.
    database_url: str | None = field(default=None, repr=False)
    # Forecasts made longer ago than this are deleted from the history (0: kept for ever).
    history_retention_days: int = 1095
    # Alerts (docs/api.md §11): a forecast this many percent below a year before raises
    # forecast_drop; every new alert is also POSTed to ALERT_WEBHOOK_URL when it is set.
    alert_drop_pct: float = 10.0
    alert_webhook_url: str | None = None
    # Live updates (Server-Sent Events): the most streams one web process holds open at once. Past
    # it a new stream is answered 503 with Retry-After and clients poll the status URL instead.
    max_event_streams: int = 500

    @property
    def service_redis_url(self) -> str:
        """The service's Redis as Celery names it: REDIS_URL, or with sentinels
        ``sentinel://[:password@]host:port/db;sentinel://...`` (kombu's and Celery's form)."""
        if not self.redis_sentinels:
            return self.redis_url
        parts = urlsplit(self.redis_url)
        auth = ""
        if parts.password is not None:
            auth = f"{parts.username or ''}:{parts.password}@"
        db = parts.path.lstrip("/") or "0"
        return ";".join(f"sentinel://{auth}{_netloc(host, port)}/{db}" for host, port in self.redis_sentinels)

    @property
    def celery_broker_url(self) -> str:
        """CELERY_BROKER_URL, or the service's Redis (REDIS_URL, or the sentinels) when unset."""
        return self.broker_url or self.service_redis_url

    @property
    def celery_result_backend(self) -> str:
        """CELERY_RESULT_BACKEND, or the service's Redis when unset: where ``celery-task-meta-<id>`` keys live."""
        return self.result_backend or self.service_redis_url

    @property
    def redis_description(self) -> str:
        """Where Redis is, for logs and banners (never a password)."""
        if self.redis_sentinels:
            sentinels = ",".join(_netloc(host, port) for host, port in self.redis_sentinels)
            return f"sentinel master {self.redis_sentinel_master!r} via {sentinels}"
        return redact_url(self.redis_url)

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the SQLite file ``var/history.sqlite3`` (relative to the working directory)."""
        return self.database_url or DEFAULT_DATABASE_URL

    @property
    def effective_webhook_secret(self) -> bytes:
        """WEBHOOK_SECRET, or a key derived from SECRET_KEY (never SECRET_KEY itself)."""
        if self.webhook_secret:
            return self.webhook_secret.encode()
        return hmac.new(self.secret_key.encode(), b"webhook-signing", hashlib.sha256).digest()

    @property
    def events_token_key(self) -> bytes:
        """Signs the tokens of live-update URLs: derived from SECRET_KEY (never SECRET_KEY itself)."""
        return hmac.new(self.secret_key.encode(), b"event-stream-token", hashlib.sha256).digest()

    @property
    def effective_callback_hosts(self) -> tuple[str, ...]:
        """CALLBACK_ALLOWED_HOSTS, or by default the Laravel API's own host."""
        if self.callback_allowed_hosts:
            return self.callback_allowed_hosts
        if self.laravel_api_url:
            host = urlsplit(self.laravel_api_url).hostname
            return (host,) if host else ()
        return ()

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with ``changes`` applied (field names as keyword arguments); the original is frozen,
        so this is how the CLI and tests derive variants."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings read from ``environ`` (default ``os.environ``), an empty value counting as unset.
        Numbers are converted here, so a malformed one raises ``ValueError`` at start-up, not
        mid-job."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else default

        return cls(
            redis_url=get("REDIS_URL", defaults.redis_url),
            redis_sentinels=_split_sentinels(get("REDIS_SENTINELS")),
            redis_sentinel_master=get("REDIS_SENTINEL_MASTER", defaults.redis_sentinel_master),
            redis_sentinel_password=get("REDIS_SENTINEL_PASSWORD"),
            broker_url=get("CELERY_BROKER_URL"),
            result_backend=get("CELERY_RESULT_BACKEND"),
            laravel_api_url=get("LARAVEL_API_URL"),
            laravel_api_token=get("LARAVEL_API_TOKEN"),
            laravel_sales_path=get("LARAVEL_SALES_PATH", defaults.laravel_sales_path),
            laravel_timeout_seconds=float(get("LARAVEL_TIMEOUT_SECONDS", "10")),
            laravel_deadline_seconds=float(
                get("LARAVEL_DEADLINE_SECONDS", str(defaults.laravel_deadline_seconds))
            ),
            laravel_items_path=get("LARAVEL_ITEMS_PATH", defaults.laravel_items_path),
            laravel_stock_path=get("LARAVEL_STOCK_PATH", defaults.laravel_stock_path),
            sales_timezone=get("SALES_TIMEZONE", defaults.sales_timezone),
            holiday_country=_holiday_country(get("HOLIDAY_COUNTRY")),
            web_host=get("WEB_HOST", defaults.web_host),
            web_port=int(get("WEB_PORT", str(defaults.web_port))),
            flower_port=int(get("FLOWER_PORT", str(defaults.flower_port))),
            flower_address=get("FLOWER_ADDRESS", defaults.flower_address),
            flower_basic_auth=get("FLOWER_BASIC_AUTH"),
            api_keys=_split_csv(get("API_KEYS")),
            forecast_queue=get("FORECAST_QUEUE", defaults.forecast_queue),
            result_ttl_seconds=int(get("RESULT_TTL_SECONDS", str(defaults.result_ttl_seconds))),
            model_dir=Path(get("MODEL_DIR", str(defaults.model_dir))),
            secret_key=get("SECRET_KEY", "") or "",
            webhook_secret=get("WEBHOOK_SECRET"),
            callback_allowed_hosts=_split_csv(get("CALLBACK_ALLOWED_HOSTS")),
            forecast_refresh_cron=get("FORECAST_REFRESH_CRON", defaults.forecast_refresh_cron),
            forecast_refresh_frequencies=_frequencies(get("FORECAST_REFRESH_FREQUENCIES")),
            max_body_bytes=int(get("MAX_BODY_BYTES", str(defaults.max_body_bytes))),
            upstream_task_retries=int(get("UPSTREAM_TASK_RETRIES", str(defaults.upstream_task_retries))),
            visibility_timeout_seconds=int(
                get("VISIBILITY_TIMEOUT_SECONDS", str(defaults.visibility_timeout_seconds))
            ),
            upstream_retry_delay_seconds=float(
                get("UPSTREAM_RETRY_DELAY_SECONDS", str(defaults.upstream_retry_delay_seconds))
            ),
            legacy_wait_seconds=float(get("LEGACY_WAIT_SECONDS", str(defaults.legacy_wait_seconds))),
            chunk_size=int(get("CHUNK_SIZE", str(defaults.chunk_size))),
            max_series=int(get("MAX_SERIES", str(defaults.max_series))),
            prometheus_multiproc_dir=get("PROMETHEUS_MULTIPROC_DIR"),
            task_soft_time_limit_seconds=float(
                get("TASK_SOFT_TIME_LIMIT_SECONDS", str(defaults.task_soft_time_limit_seconds))
            ),
            task_time_limit_seconds=float(get("TASK_TIME_LIMIT_SECONDS", str(defaults.task_time_limit_seconds))),
            database_url=get("DATABASE_URL"),
            history_retention_days=int(get("HISTORY_RETENTION_DAYS", str(defaults.history_retention_days))),
            alert_drop_pct=float(get("ALERT_DROP_PCT", str(defaults.alert_drop_pct))),
            alert_webhook_url=get("ALERT_WEBHOOK_URL"),
            max_event_streams=int(get("MAX_EVENT_STREAMS", str(defaults.max_event_streams))),
        )


def _frequencies(value: str | None) -> tuple[str, ...]:
    """FORECAST_REFRESH_FREQUENCIES: month, week, day, comma-separated (unset: month)."""
    names = _split_csv(value) or ("month",)
    unknown = [n for n in names if n not in tuple(calendar.Frequency)]
    if unknown:
        raise ValueError(f"FORECAST_REFRESH_FREQUENCIES: unknown frequency {unknown[0]!r} (month, week, day)")
    return tuple(dict.fromkeys(names))


def _holiday_country(value: str | None) -> str | None:
    """HOLIDAY_COUNTRY, canonical (``de-by`` → ``DE-BY``); an unknown code stops start-up."""
    if value is None:
        return None
    try:
        return calendar.holiday_code(value)
    except ValueError as exc:
        raise ValueError(f"HOLIDAY_COUNTRY: {exc}") from None
