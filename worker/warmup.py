"""The first job after a worker starts costs what later ones cost (docs/scaling.md).

statsforecast 2 is compiled C++ (no numba in the lock, nothing to compile at run time), but a
fresh process still pays for importing the modelling stack (statsforecast, scipy, pandas,
hierarchicalforecast) and for its lazy first calls: ~10-30 s on a busy 2-core machine, which a
job's first chunk would otherwise pay and which made first calls time out for statsforecast's
users. :func:`warm_up` pays it once in the worker's main process on ``worker_init``, before the
pool forks its processes and before any job is taken: every pool process inherits the warm
modules.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import worker_init

log = logging.getLogger(__name__)

# A smooth monthly series (auto, with its backtest) and an intermittent one (SBA): every model
# family a grouped job reaches, and the single-series pipeline's models.
_SMOOTH = [100.0, 92, 110, 121, 130, 142, 150, 139, 127, 118, 104, 98] * 3
_SLOW = [0.0, 0, 3, 0, 0, 1, 0, 0, 0, 2, 0, 0] * 3


def warm_up() -> float:
    """Import the modelling stack and forecast two tiny series through it; the seconds it took."""
    started = time.perf_counter()
    from hierarchicalforecast.methods import BottomUpSparse, MinTraceSparse  # noqa: F401  (imported to warm)

    from shared.engine.hierarchy import forecast_chunk

    items = [{"index": 0, "y": _SMOOTH, "is_total": True}, {"index": 1, "y": _SLOW, "is_total": False}]
    forecast_chunk(items, horizon=3, level=90.0, model="auto")
    return time.perf_counter() - started


def _on_worker_init(**_: Any) -> None:
    try:
        log.info("modelling stack warmed in %.1f s, before the first job", warm_up())
    except Exception:  # a worker that cannot warm up still works; its first job pays instead
        log.exception("warm-up failed; the first job pays the imports")


def install() -> None:
    """Warm up in every worker's main process at start-up (connected once)."""
    worker_init.connect(_on_worker_init, weak=False, dispatch_uid="sales-forecast-warm-up")
