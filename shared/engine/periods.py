"""Placing instants into the calendar's periods, DST-exact, for whole arrays at once.

The periods themselves (indices, labels, first and last days) are the contract's
(:mod:`shared.contract.calendar`); this module turns a run of them into the UTC instants at which
each starts in the business's time zone, and places every transaction with one
``np.searchsorted``. A day is 23 or 25 hours long when the clocks change: its bounds are its two
local midnights, so it is, and every week and month around it too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import numpy as np

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.sources.transactions import validate_timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def local_midnight_ns(day: date, tz: ZoneInfo) -> int:
    """The UTC instant (ns) at which ``day`` starts in ``tz``.

    Where midnight does not exist (zones that switch DST at 00:00) zoneinfo reads it with the
    pre-transition offset, which lands exactly on the transition: still the first instant of the day.
    """
    delta = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(dt_timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@dataclass(frozen=True)
class PeriodGrid:
    """``len(bounds) - 1`` consecutive periods from index ``first``, as instants in ``timezone``."""

    frequency: Frequency
    first: int
    bounds: np.ndarray  # int64 ns: bounds[k] is where period first + k starts, bounds[-1] where the last ends
    timezone: str

    @classmethod
    def spanning(cls, first: int, count: int, frequency: Frequency | str, timezone: str) -> "PeriodGrid":
        """The grid of ``count`` periods from index ``first``, bounded at local midnight in ``timezone``."""
        frequency = Frequency(frequency)
        tz = validate_timezone(timezone)
        count = max(count, 0)
        # One zoneinfo conversion a period (~2 µs): 731 for two years of days.
        bounds = np.array(
            [local_midnight_ns(calendar.period_start(first + k, frequency), tz) for k in range(count + 1)],
            dtype=np.int64,
        )
        return cls(frequency, first, bounds, timezone)

    def __len__(self) -> int:
        return int(self.bounds.size - 1)

    def sub(self, lo: int, hi: int) -> "PeriodGrid":
        """Periods ``lo .. hi - 1`` of this grid (positions, not indices)."""
        return PeriodGrid(self.frequency, self.first + lo, self.bounds[lo : hi + 1].copy(), self.timezone)

    def place(self, ts_ns: np.ndarray) -> np.ndarray:
        """Each instant's position in the grid; callers keep only those inside (``inside``)."""
        if len(self) == 0:
            return np.zeros(ts_ns.shape[0], dtype=np.int64)
        return np.searchsorted(self.bounds, ts_ns, side="right") - 1

    def inside(self, ts_ns: np.ndarray) -> np.ndarray:
        """Per timestamp (ns since the epoch, UTC): True when it falls within the grid's periods."""
        if len(self) == 0:
            return np.zeros(ts_ns.shape[0], dtype=bool)
        return (ts_ns >= self.bounds[0]) & (ts_ns < self.bounds[-1])

    def labels(self) -> list[str]:
        """The label of each of the grid's periods (``2025-01``, ``2025-W03``, ``2025-01-15``)."""
        return calendar.labels(self.first, len(self), self.frequency)
