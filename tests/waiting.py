"""Polling for a condition in tests that drive real processes."""
from __future__ import annotations

import time
from typing import Any, Callable

import redis
import requests


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """``probe()``'s first truthy value; errors of a process still starting count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except (OSError, ValueError, KeyError, requests.RequestException, redis.RedisError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
