"""The time one job may spend waiting on Laravel: LARAVEL_DEADLINE_SECONDS (docs/api.md §2).

One budget for everything the job does against Laravel: every page, the client's retries and
back-offs, and the queue's re-runs of the job after an outage. It is a point in wall-clock time
(epoch seconds), not a monotonic one, because a re-run may start in another worker process or on
another machine; the worker carries the job's first start across re-runs (worker/upstream.py).

A job can also be cancelled while it waits: a deadline may carry a ``cancelled`` check, which
the client asks before every page and attempt and during every back-off, so that a cancelled
job stops there (raising :class:`~shared.contract.errors.Cancelled`) instead of waiting on.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from shared.contract.errors import Cancelled, LaravelDeadlinePassed

# How often a back-off looks at the cancel check: a cancelled job waits at most this long more.
CANCEL_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Deadline:
    """Waiting on Laravel ends at ``at`` (epoch seconds), ``seconds`` after the job first started."""

    at: float
    seconds: float
    cancelled: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def starting(cls, seconds: float, since: float | None = None) -> "Deadline":
        """The deadline of a job that first started waiting at ``since`` (default: now)."""
        start = time.time() if since is None else since
        return cls(at=start + seconds, seconds=seconds)

    def cancellable(self, cancelled: Callable[[], bool]) -> "Deadline":
        """The same deadline, for a job that ``cancelled()`` says has been cancelled."""
        return replace(self, cancelled=cancelled)

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` when the job has been cancelled."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled("the job was cancelled")

    def sleep(self, seconds: float) -> None:
        """A back-off: ``seconds`` of sleep that a cancel ends early (raising :class:`Cancelled`)."""
        end = time.monotonic() + max(seconds, 0.0)
        while True:
            self.check_cancelled()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, CANCEL_POLL_SECONDS) if self.cancelled is not None else left)

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.at - time.time())

    def allows(self, wait: float) -> bool:
        """Whether ``wait`` more seconds still end before the deadline."""
        return time.time() + wait < self.at

    @property
    def started(self) -> float:
        """When the job first started waiting on Laravel (epoch seconds): what a re-run carries."""
        return self.at - self.seconds

    def passed(self, detail: str) -> LaravelDeadlinePassed:
        """The error a job ends with once the deadline has passed."""
        return LaravelDeadlinePassed(f"{detail}; the deadline passed ({self._budget()})")

    def too_close(self, detail: str, wait: float) -> LaravelDeadlinePassed:
        """The error a job ends with when the next attempt would only start past the deadline."""
        return LaravelDeadlinePassed(
            f"{detail}; the deadline would pass before the next attempt in {wait:.3g}s ({self._budget()})"
        )

    def _budget(self) -> str:
        return f"LARAVEL_DEADLINE_SECONDS={self.seconds:g}, all of one job's time on Laravel"


def parse_since(value: object) -> float | None:
    """A first-start time carried by a re-run (epoch seconds), or None when absent or unusable."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        since = float(value)
    except ValueError:
        return None
    if not math.isfinite(since):
        return None
    return min(since, time.time())  # a start in the future would stretch the budget
