"""Entry points that start the real worker and web app on a date the test chooses.

The end-to-end history tests move "today" forward month by month. The service reads the date
through shared.contract.clock, which is the system clock unless an entry point installs another; these
entry points install a :class:`shared.contract.clock.FileClock` on the file named by
SALES_FORECAST_TEST_CLOCK_FILE, then build the app exactly as worker.main and web.app do. Only
these test entry points read that variable, so no production configuration can move the date.
"""
from __future__ import annotations

import os

from shared.contract import clock

CLOCK_FILE_ENV = "SALES_FORECAST_TEST_CLOCK_FILE"


def install_clock() -> None:
    path = os.environ.get(CLOCK_FILE_ENV)
    if not path:
        raise RuntimeError(f"{CLOCK_FILE_ENV} must name the file that holds the test's date")
    clock.install(clock.FileClock(path))
