"""Exponential back-off: the one formula every retry in the service waits by.

The Laravel client's page retries, a job's re-runs while Laravel is down, webhook deliveries, the
history outbox's drain and a grouped job's failing chunk all wait ``base * 2**attempt`` seconds,
capped; the Laravel client adds full jitter, so many workers retrying one shop do not hit it in
lockstep.
"""
from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float = float("inf"), jitter: bool = False) -> float:
    """The wait before retry ``attempt`` (0 for the first): ``base * 2**attempt``, at most ``cap``;
    with ``jitter``, drawn uniformly from 0 to that ("full jitter")."""
    delay = min(cap, base * (2 ** max(attempt, 0)))
    return random.uniform(0.0, delay) if jitter else delay
