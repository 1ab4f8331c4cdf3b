"""How completion webhooks fared, counted in Redis: the workers deliver them, the web's /metrics
reports them (web/metrics.py), so the counts live where both can reach them.
"""
from __future__ import annotations

from enum import StrEnum

import redis

STATS_KEY = "sf:webhooks:stats"


class DeliveryOutcome(StrEnum):
    """One delivery attempt's outcome (the `outcome` label of sf_webhook_deliveries_total)."""

    DELIVERED = "delivered"  # 2xx
    RETRIED = "retried"  # failed (connection, timeout, 5xx, most 4xx); tried again later
    FAILED = "failed"  # failed, and no retry left: given up
    REFUSED = "refused"  # a 3xx or 410: final, not retried


class WebhookStats:
    """The webhook delivery outcomes counted over every worker, in one Redis hash (the web's /metrics reads it)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def count(self, outcome: DeliveryOutcome) -> None:
        """Count one delivery attempt's ``outcome``."""
        self.redis.hincrby(STATS_KEY, outcome.value, 1)

    def read(self) -> dict[str, int]:
        """Every outcome's count (0 for those not seen yet)."""
        raw = self.redis.hgetall(STATS_KEY)
        counted = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
        return {outcome.value: counted.get(outcome.value, 0) for outcome in DeliveryOutcome}
