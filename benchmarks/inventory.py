"""Honest service levels (docs/api.md §12): what a nominal 90 % or 95 % order-up-to level achieves.

    python benchmarks/inventory.py m3 [--every 1] [--model auto]
    python benchmarks/inventory.py shop [--seeds 5] [--origins 12]

A level "achieves" s % when the realised demand over the ``K = lead_time + review_period``
periods after an origin does not exceed it in s % of the origins. Targets (issue 26): a nominal
95 % achieves 92-97 %, a nominal 90 % 87-93 %. Nothing here is tuned on these figures: the
engine's paths have no constant fitted to them (``shared.engine.inventory.CALIBRATION`` is 1.0).

**m3** — M3 monthly (1,428 series): each series' model is fitted on its published training part,
and the level for its first K test months is checked against what happened (one origin per
series). K = 1, 3 and 6 (lead time 0, 2 and 5 months, review every month). Beside the engine's
figure, the level a buyer would get by adding up the per-month interval bounds (the "sum of
quantiles" shortcut the issue rules out), to show what keeping the correlation between periods
is worth. ± is the 95 % binomial margin of the share.

**shop** — the demo shop of ``local/demo.py`` (a few dozen products, seasonal, intermittent,
launched and discontinued ones), in units, by category and product, for several seeds. Each
series gets the engine's own method (the model asked for on smooth series, SBA/IMAPA/TSB on
sparse ones: :func:`shared.engine.hierarchy.forecast_one`'s choice) and is checked at its last
``--origins`` rolling origins, as the service's own backtest does; the figures are pooled per
level of the hierarchy.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.engine import inventory as inv
from shared.engine.models import make_model

LEVELS = (90.0, 95.0)
TARGETS = {90.0: (87.0, 93.0), 95.0: (92.0, 97.0)}


def _share(hits: list[bool]) -> str:
    n = len(hits)
    if not n:
        return "   -   "
    p = sum(hits) / n
    margin = 1.96 * math.sqrt(max(p * (1 - p), 1e-9) / n)
    return f"{100 * p:5.1f} ±{100 * margin:.1f}"


def _verdict(level: float, hits: list[bool]) -> str:
    if not hits:
        return ""
    lo, hi = TARGETS[level]
    return "ok" if lo <= 100 * sum(hits) / len(hits) <= hi else "OUT"


def run_m3(every: int, model: str) -> None:
    from benchmarks.accuracy import load_dataset

    series, _ = load_dataset("m3", every=every)
    ks = (1, 3, 6)
    engine = {(k, s): [] for k in ks for s in LEVELS}
    shortcut = {(k, s): [] for k in ks for s in LEVELS}
    started = time.process_time()
    for x, xx in series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = make_model(model, 12).fit(x)
        for k in ks:
            actual = float(xx[:k].sum())
            for s in LEVELS:
                level = inv.figures(inv.model_paths_from(fitted, k, s), s).order_up_to
                engine[(k, s)].append(actual <= level)
                bounds = fitted.predict(k, level=2 * s - 100).high
                shortcut[(k, s)].append(actual <= float(np.maximum(bounds, 0).sum()))
    seconds = time.process_time() - started
    print(f"M3 monthly, {len(series)} series, model {model}: achieved service level, % of series (one origin each)")
    print(f"{'K':>3} {'nominal':>8} {'engine':>13} {'target':>8} {'':>4} {'sum of quantiles':>17}")
    for k in ks:
        for s in LEVELS:
            lo, hi = TARGETS[s]
            print(f"{k:>3} {s:>8.0f} {_share(engine[(k, s)]):>13} {f'{lo:.0f}-{hi:.0f}':>8} "
                  f"{_verdict(s, engine[(k, s)]):>4} {_share(shortcut[(k, s)]):>17}")
    print(f"CPU {seconds:.0f} s ({seconds / max(len(series), 1):.2f} s a series, fit included)")


def _shop_panel(seed: int, today: date):
    from local.demo import demo_lines, demo_rows
    from shared.engine.panel import build_panel
    from shared.sources.lines import lines_from_rows

    group_by = ("category", "product_id")
    rows = demo_rows(today, seed)
    lines = lines_from_rows(demo_lines(today, seed, rows=rows), group_by)
    start = date(today.year - 3, today.month, 1)
    return build_panel(lines, group_by, "units", timezone="UTC", today=today, start_date=start, end_date=today)


def _method(y: np.ndarray, is_total: bool) -> str | None:
    """The engine's method for a series (hierarchy.forecast_one's choice); None: share of parent."""
    from shared.engine.hierarchy import MIN_OWN_HISTORY
    from shared.engine.intermittent import METHOD_FOR, DemandPattern, classify

    if y.size < MIN_OWN_HISTORY and not is_total:
        return None
    pattern = classify(y)
    return "model" if is_total or pattern in (DemandPattern.SMOOTH, DemandPattern.ERRATIC) else METHOD_FOR[pattern]


def run_shop(seeds: int, origins: int, model: str, ks: tuple[int, ...]) -> None:
    today = date(2026, 11, 24)
    names = {0: "total", 1: "category", 2: "product"}
    hits = {(lv, k, s): [] for lv in names for k in ks for s in LEVELS}
    methods: dict[str, int] = {}
    started = time.process_time()
    for seed in range(1, seeds + 1):
        panel = _shop_panel(seed, today)
        for i in range(len(panel)):
            y = panel.history(i)
            lv = int(panel.level[i])
            method = _method(y, lv == 0)
            if method is None:
                continue
            methods[method] = methods.get(method, 0) + 1

            def fit(history: np.ndarray):
                return make_model(model, 12).fit(history)

            for k in ks:
                if inv.check_supported(y.size, k):
                    continue
                for s in LEVELS:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        backtest = inv.achieved_service_level(y, method, k, s, fit, whole=True, max_origins=origins)
                    hits[(lv, k, s)].extend(backtest.covered)
    seconds = time.process_time() - started
    print(f"Demo shop (local/demo.py), {seeds} seeds, units by category and product, model {model}, "
          f"{origins} rolling origins a series")
    print("methods: " + ", ".join(f"{m} {n}" for m, n in sorted(methods.items())))
    print(f"{'level':>9} {'K':>3} {'nominal':>8} {'achieved':>13} {'origins':>8} {'target':>8}")
    for lv, name in names.items():
        for k in ks:
            for s in LEVELS:
                h = hits[(lv, k, s)]
                lo, hi = TARGETS[s]
                print(f"{name:>9} {k:>3} {s:>8.0f} {_share(h):>13} {len(h):>8} {f'{lo:.0f}-{hi:.0f}':>8} {_verdict(s, h)}")
    print(f"CPU {seconds:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m3 = sub.add_parser("m3")
    m3.add_argument("--every", type=int, default=1, help="every n-th series (a quick look)")
    m3.add_argument("--model", default="auto")
    shop = sub.add_parser("shop")
    shop.add_argument("--seeds", type=int, default=5)
    shop.add_argument("--origins", type=int, default=12)
    shop.add_argument("--model", default="auto")
    shop.add_argument("--k", default="1,3", help="periods covered (lead time + review period), comma-separated")
    args = parser.parse_args(argv)
    if args.command == "m3":
        run_m3(args.every, args.model)
    else:
        run_shop(args.seeds, args.origins, args.model, tuple(int(k) for k in args.k.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
