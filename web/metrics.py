"""Prometheus metrics of the web tier (GET /metrics).

Each app gets its own registry, so tests can build many apps in one process. Under gunicorn with
several worker processes, set PROMETHEUS_MULTIPROC_DIR (an empty, writable directory, before
gunicorn starts): every process then writes its values there and /metrics sums them over all
processes (prometheus_client's multiprocess mode; gunicorn's ``child_exit`` hook should call
``prometheus_client.multiprocess.mark_process_dead(worker.pid)``).

Jobs finished are counted by the web tier the first time any web process observes a job in a
terminal state (a status read, the legacy endpoint's wait), deduplicated across processes by a
Redis marker. Jobs whose outcome no one asks the web tier about (e.g. dispatched by Laravel
straight into Redis and read from the result key) are not counted here; Flower's task events
cover those.

What the workers do out of the web's sight is read from Redis at each scrape
(:class:`WorkerFigures`): the history outbox (items pending and dead, written, failed writes,
rejected) and completion webhook deliveries by outcome. Those counters are the workers' own,
kept in Redis, so they are the same whichever web process answers.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterator

import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from shared.history.alerts import ALERT_STATS_KEY, AlertKind
from shared.history.outbox import HistoryOutbox
from shared.stores.webhook_stats import WebhookStats

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerFigures:
    """A collector: the history outbox's and the webhooks' counters, read from Redis at each scrape.
    Redis unreachable: these figures are left out of that scrape (the rest is still answered)."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None

    def describe(self) -> list[Metric]:
        """Nothing: the figures are read only at a scrape (prometheus_client's collector protocol)."""
        return []  # nothing to read before a scrape (the registry would otherwise call collect)

    def collect(self) -> Iterator[Metric]:
        """The history outbox's, webhooks' and alerts' counters from Redis; none when Redis is unreachable."""
        if self.client is None:
            return
        try:
            outbox = HistoryOutbox(self.client).stats()
            webhooks = WebhookStats(self.client).read()
            alerts = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in self.client.hgetall(ALERT_STATS_KEY).items()}
        except redis.RedisError as exc:
            log.warning("metrics: the workers' figures are left out, Redis unreachable (%s)", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "sf_history_outbox_pending", "Finished jobs waiting in the history outbox for the database.",
            value=outbox.get("pending", 0),
        )
        yield GaugeMetricFamily(
            "sf_history_outbox_dead", "Outbox items the database refused for good, kept for an operator.",
            value=outbox.get("dead", 0),
        )
        items = CounterMetricFamily(
            "sf_history_outbox_items",
            "History outbox drain: jobs written to the database, write attempts failed (database "
            "unreachable; the item stays and is tried again), items rejected (moved to the dead list).",
            labels=["outcome"],
        )
        for outcome, key in (("written", "written"), ("failed", "write_failures"), ("rejected", "rejected")):
            items.add_metric([outcome], outbox.get(key, 0))
        yield items
        deliveries = CounterMetricFamily(
            "sf_webhook_deliveries",
            "Completion webhook delivery attempts by outcome: delivered (2xx), retried (failed, tried "
            "again later), failed (no retry left), refused (3xx or 410: final).",
            labels=["outcome"],
        )
        for outcome, count in webhooks.items():
            deliveries.add_metric([outcome], count)
        yield deliveries
        raised = CounterMetricFamily(
            "sf_alerts_raised", "Alerts raised (docs/api.md §11), each once, by kind.", labels=["kind"]
        )
        for kind in AlertKind:
            raised.add_metric([kind.value], alerts.get(kind.value, 0))
        yield raised


@dataclass
class WebMetrics:
    """The web tier's Prometheus metrics on their own registry (one per app): HTTP requests and latency
    by route, submissions by outcome, and jobs first seen finished. With ``multiproc_dir`` set,
    :meth:`exposition` sums every gunicorn process's values."""

    multiproc_dir: str | None = None
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))
    worker_figures: WorkerFigures = field(default_factory=WorkerFigures)

    def __post_init__(self) -> None:
        reg = self.registry
        self.requests = Counter(
            "sf_http_requests_total",
            "HTTP requests by method, route (URL rule, not raw path) and status.",
            ["method", "route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "sf_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.jobs_submitted = Counter(
            "sf_jobs_submitted_total",
            "Forecast submissions: created (a new job), joined (an identical in-flight job), "
            "replayed (same Idempotency-Key and body).",
            ["outcome"],
            registry=reg,
        )
        self.jobs_finished = Counter(
            "sf_jobs_finished_total",
            "Jobs first observed in a terminal state, by status and error code ('' on success).",
            ["status", "code"],
            registry=reg,
        )
        reg.register(self.worker_figures)

    def read_workers_figures_from(self, client: redis.Redis) -> None:
        """Read the history outbox's and the webhooks' counters from this Redis at each scrape."""
        self.worker_figures.client = client

    def observe_request(self, method: str, route: str, status: int, started: float) -> None:
        """Count one answered request and its latency in seconds since ``started`` (a
        ``time.perf_counter()`` reading); ``route`` is the URL rule, so label values stay few."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(max(time.perf_counter() - started, 0.0))

    def exposition(self) -> tuple[bytes, str]:
        """The ``/metrics`` body and its content type: this process's registry, or, in multiprocess
        mode, all processes' values merged from ``multiproc_dir``."""
        if self.multiproc_dir:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=self.multiproc_dir)
            merged.register(self.worker_figures)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
