"""BLAS threads in a worker's pool: two processes fitting daily models at once, one BLAS thread each
(stack/commands.py WORKER_ENV) against OpenBLAS's default (a thread per core in each process).

Prints each run's wall time and the ratio to the single-thread baseline measured in the same run,
with the machine's load average. Nothing is asserted.

    .venv/bin/python benchmarks/worker_threads.py [--fits 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# One pool process's work: the weekly/daily engine's "auto" model on a synthetic shop's daily total,
# with its holiday and event regressors (the least squares WORKER_ENV is about), ``fits`` times.
CHILD = """
import sys, time
from shared.engine.effects import calendar_effects
from shared.engine.frequency_models import make_model
from local.daily_shop import daily_shop
shop = daily_shop()
y = shop.units.sum(axis=0)[: shop.n_history]
eff = calendar_effects("day", shop.days, shop.holidays, shop.events)
X, X_future = eff.split(shop.n_history)
make_model("auto", "day", effects=eff).fit(y, X)  # warm: imports and first calls
t0 = time.perf_counter()
for _ in range(int(sys.argv[1])):
    make_model("auto", "day", effects=eff).fit(y, X).predict(28, 90.0, X_future)
print(time.perf_counter() - t0)
"""


def run_pair(fits: int, one_thread: bool) -> tuple[float, list[float]]:
    """Two processes at once (a worker's --concurrency 2); the wall time of the pair's fitting and each's."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if one_thread:
        env.update({k: "1" for k in THREAD_VARS})
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(fits)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return max(outs), outs


def main() -> None:
    """Alternate the two settings ``rounds`` times and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}; load average at start {os.getloadavg()[0]:.2f}")
    base, other = [], []
    for r in range(args.rounds):
        for one in (True, False):
            wall, each = run_pair(args.fits, one)
            (base if one else other).append(wall)
            label = "1 BLAS thread a process " if one else "OpenBLAS default threads"
            print(f"round {r + 1}  {label}  {wall:6.1f} s  (processes {each[0]:.1f} s, {each[1]:.1f} s)", flush=True)
    b, o = sum(base) / len(base), sum(other) / len(other)
    print(f"default threads / one thread: {o / b:.2f}x the wall time; load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
