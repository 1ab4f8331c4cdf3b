"""`celery -A tests.harness.held_chunk_worker worker ...`: worker.main, with one grouped chunk held.

A chunk of a few series forecasts in about a second, so a test that looks for it with Celery's
``inspect`` and then kills its process may kill it after it finished (the process then dies idle or
in another chunk). To kill a chunk mid-run every time, this entry point holds one step: when a pool
process starts forecasting chunk ``SALES_FORECAST_TEST_HOLD_CHUNK`` (0-based), or starts the fan-in
when that is ``fan_in`` (whichever chunk completes the set runs it), it appends its pid to the file
named by ``SALES_FORECAST_TEST_HOLD_FILE`` and, for the first ``SALES_FORECAST_TEST_HOLD_RUNS`` runs
(every run when unset), waits there to be killed, like a chunk that outgrows its memory. Later runs
go on as usual. Each line of the file is one run that got past the worker's start bookkeeping
(``GroupedStore.begin_chunk``), so the test kills a process inside the step.

Only this test entry point reads those variables; the worker is otherwise worker.main's.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from shared.engine import grouped_job

HOLD_CHUNK_ENV = "SALES_FORECAST_TEST_HOLD_CHUNK"
HOLD_FILE_ENV = "SALES_FORECAST_TEST_HOLD_FILE"
HOLD_RUNS_ENV = "SALES_FORECAST_TEST_HOLD_RUNS"
FAN_IN = "fan_in"  # HOLD_CHUNK_ENV's value that holds the fan-in (run by the chunk completing the set)
HOLD_SECONDS = 300  # bounded: a held run nobody kills fails its chunk instead of hanging the worker

_run_chunk = grouped_job.run_chunk
_fan_in = grouped_job.fan_in


def _hold(what: str) -> None:
    """Record this run of the held step; hold it until killed while runs are to be held."""
    path = Path(os.environ[HOLD_FILE_ENV])
    runs_before = len(path.read_text().split()) if path.exists() else 0
    with path.open("a") as file:  # one short append a run: whole lines, in order
        file.write(f"{os.getpid()}\n")
    held = os.environ.get(HOLD_RUNS_ENV)
    if held is None or runs_before < int(held):
        time.sleep(HOLD_SECONDS)
        raise RuntimeError(f"{what} was held {HOLD_SECONDS} s and nobody killed its process")


def _held_run_chunk(store: Any, plan: Any, k: int) -> bool:
    """:func:`shared.engine.grouped_job.run_chunk`, recording (and holding) runs of the held chunk."""
    if os.environ.get(HOLD_CHUNK_ENV) == str(k):
        _hold(f"chunk {k}")
    return _run_chunk(store, plan, k)


def _held_fan_in(*args: Any, **kwargs: Any) -> Any:
    """:func:`shared.engine.grouped_job.fan_in`, recording (and holding) its runs."""
    if os.environ.get(HOLD_CHUNK_ENV) == FAN_IN:
        _hold("the fan-in")
    return _fan_in(*args, **kwargs)


def __getattr__(name: str) -> Any:
    """``app`` for ``celery -A``: the held steps are patched in only then, in the worker's process
    (its pool processes inherit them), never in a test process that imports this module's names."""
    if name != "app":
        raise AttributeError(name)
    grouped_job.run_chunk = _held_run_chunk
    grouped_job.fan_in = _held_fan_in
    from worker.main import app

    return app
