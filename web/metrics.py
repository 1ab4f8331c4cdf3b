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
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class WebMetrics:
    """The web tier's Prometheus metrics on their own registry (one per app): HTTP requests and latency
    by route, submissions by outcome, and jobs first seen finished. With ``multiproc_dir`` set,
    :meth:`exposition` sums every gunicorn process's values."""

    multiproc_dir: str | None = None
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

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
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
