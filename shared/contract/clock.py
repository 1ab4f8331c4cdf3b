"""What day it is, for the service: the business's calendar date in SALES_TIMEZONE.

Production always reads the system clock. A test or local harness that needs the service to live
on another date (the history tests move "today" forward month by month) installs a clock from its
own entry point, before the app is built: :func:`install`. Nothing here reads the environment, so
no production setting can move the date.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """What :func:`install` accepts: anything with ``today(timezone)``; the seam that lets a harness
    move the service's date."""

    def today(self, timezone: str) -> date:
        """The calendar date it is now in ``timezone`` (an IANA name such as ``Europe/Paris``)."""


class SystemClock:
    """Production's clock, and the default: the machine's clock read in the sales time zone."""

    def today(self, timezone: str) -> date:
        """Today's date in ``timezone`` (IANA name), so a sale just after midnight local time falls on
        the business's day rather than UTC's."""
        return datetime.now(ZoneInfo(timezone)).date()


class FileClock:
    """Today's date read from a file (``YYYY-MM-DD``) at every call, so a test can move it while the
    processes run; the system date while the file is missing or empty."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def today(self, timezone: str) -> date:
        """The file's date when it holds one (``timezone`` then ignored), else the system date in
        ``timezone``; a malformed file raises ``ValueError`` rather than silently using the real
        date."""
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            text = ""
        return date.fromisoformat(text) if text else SystemClock().today(timezone)


_clock: Clock = SystemClock()


def install(clock: Clock) -> None:
    """Replace the process's clock (harness entry points only)."""
    global _clock
    _clock = clock


def today(timezone: str = "UTC") -> date:
    """Today's date in ``timezone``, by the process's clock."""
    return _clock.today(timezone)
