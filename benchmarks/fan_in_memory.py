"""Peak RSS of a grouped job's fan-in (reconcile + documents + the JSON it publishes) against the series count.

    .venv/bin/python benchmarks/fan_in_memory.py [--series 250,500,1000] [--days 730] [--horizon 28]
                                                 [--frequency day|month] [--trace 15] [--replicate 500]

For each N, the daily panel of benchmarks/grouped.py (total → categories → N products, M5-like rates;
``--frequency month`` sums its days into calendar months) is forecast in one child process (the
chunks' results, kept as the JSON a chunk record is), and the fan-in runs in a fresh child process
that reads them: ``assemble`` as :func:`shared.engine.grouped_job.fan_in` calls it, then every series
encoded as ``GroupedStore.publish`` encodes it and the history outbox's item built as the worker
builds them (``outbox_items``, part by part; no Redis: the figure is the process's own memory). The
peak RSS it prints is the fan-in's rise (reading the chunks' results included) above the process's RSS
once the panel is built (the kernel's high-water mark is reset there, so building the panel does not count),
and its slope per series between the sizes run; ``--trace K`` prints tracemalloc's top K lines of the
largest N's fan-in. ``--replicate K`` forecasts the total, the categories and the first K products only
and gives every other product a copy of one of those K base forecasts (its own index): the fan-in's
memory depends on the series' count and history, not on their forecasts' values, and so a fan-in the
size of the M5's (``--series 30490 --days 1941``) is measured in minutes rather than forecast for an
hour. Figures are this machine's at its load (printed); they are not asserted anywhere.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    """The process's peak RSS since start, or since :func:`_reset_peak` (Linux's VmHWM)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Start the peak RSS afresh (Linux: clear_refs 5), so what came before does not count."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _panel(n: int, days: int, frequency: str):
    """The benchmark's daily panel of ``n`` products, or the same sales summed by calendar month."""
    from grouped import _daily_panel

    from shared.contract.calendar import Frequency

    panel = replace(_daily_panel(n, days), data_quality={
        "rows_fetched": 0, "rows_used": 0, "rows_rejected": {}, "duplicates": 0, "negative_totals": 0})
    if frequency == "day":
        return panel
    months = [p[:7] for p in panel.periods]
    labels = sorted(set(months))
    if not panel.periods[0].endswith("-01"):  # a partial first month: dropped (complete periods only)
        labels = labels[1:]
    cols = np.array([labels.index(m) if m in labels else -1 for m in months])
    values = np.zeros((len(panel), len(labels)))
    for j in range(len(labels)):
        values[:, j] = panel.values[:, cols == j].sum(axis=1)
    start = np.array([int(np.argmax(v > 0)) if v.any() else len(labels) for v in values])

    return replace(panel, periods=labels, values=values, start=start, frequency=Frequency.MONTH,
                   total_orders=np.zeros(len(labels), dtype=np.int64))


def _request(frequency: str, horizon: int):
    from shared.contract.schema import ForecastRequest

    body = {"group_by": ["category", "product_id"], "measure": "units", "frequency": frequency, "horizon": horizon}
    if frequency == "day":
        body["holidays"] = "US"
    return ForecastRequest.parse(body).resolved(date(2026, 12, 1))


def _forecast(n: int, days: int, frequency: str, horizon: int, out: str, replicate: int = 0) -> None:
    """Child: every series' base forecast in chunks of 100, written as the chunk records' JSON
    (``replicate`` > 0: the first ``replicate`` products' only, copied to the others)."""
    from shared.engine.grouped import chunk_options
    from shared.engine.hierarchy import forecast_chunk, series_inputs

    panel = _panel(n, days, frequency)
    options = chunk_options(panel, _request(frequency, horizon))
    items = series_inputs(panel)
    bottom = int(np.flatnonzero(panel.level == panel.n_levels - 1)[0])
    run = items if not replicate else items[: bottom + replicate]
    del items
    records = [r for lo in range(0, len(run), 100) for r in forecast_chunk(run[lo : lo + 100], **options)]
    products = records[bottom:]
    for i in range(len(records), len(panel)):
        records.append({**products[(i - bottom) % len(products)], "index": i})
    blobs = [json.dumps(records[lo : lo + 100], separators=(",", ":")) for lo in range(0, len(records), 100)]
    with open(out, "wb") as fh:
        pickle.dump(blobs, fh)


def _fan_in(n: int, days: int, frequency: str, horizon: int, src: str, out: str, trace: int) -> None:
    """Child: the fan-in's assemble and publish encoding on the stored results; its memory."""
    import tracemalloc

    import hierarchicalforecast.methods  # noqa: F401  (its imports are the process's, not the fan-in's)

    from shared.engine.grouped import assemble

    panel = _panel(n, days, frequency)
    request = _request(frequency, horizon)
    import gc

    gc.collect()
    _reset_peak()
    base_rss = _rss_mb()
    base_peak = _peak_mb()
    if trace:
        tracemalloc.start(1)
    t0 = time.perf_counter()
    with open(src, "rb") as fh:
        blobs = pickle.load(fh)  # the chunk records, as Redis's MGET returns them
    results: list[dict[str, Any]] = []
    for blob in blobs:  # as GroupedStore.chunk_results reads them
        results.extend(json.loads(blob))
    del blobs
    grouped = assemble(panel, request, results, task_id="bench")
    assembled = time.perf_counter() - t0
    after_assemble = _rss_mb()
    encoded = 0
    packed = getattr(grouped.series, "json", None)
    for i, s in enumerate(grouped.series):  # what GroupedStore.publish reads of each series
        encoded += len(packed(i) if packed is not None else json.dumps(s, separators=(",", ":")))
    from shared.history.records import outbox_items

    parts = [len(item) for item in outbox_items("bench", grouped.document, status="completed", series=grouped.series)]
    outbox_mb = sum(parts) / 2**20
    top = []
    if trace:
        snap = tracemalloc.take_snapshot()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        top = [(str(st.traceback[0]), st.size / 2**20, st.count) for st in snap.statistics("lineno")[:trace]]
        top.append(("tracemalloc peak", traced_peak / 2**20, 0))
    with open(out, "wb") as fh:
        pickle.dump({"n": len(panel), "periods": len(panel.periods), "base_rss": base_rss, "base_peak": base_peak,
                     "peak": _peak_mb(), "after_assemble": after_assemble, "seconds": assembled,
                     "json_mb": encoded / 2**20, "outbox_mb": outbox_mb,
                     "outbox_parts": len(parts), "largest_part_mb": max(parts) / 2**20, "top": top, "sample": _sample(grouped)}, fh)


def _sample(grouped: Any) -> str:
    """A digest of the documents (every series, the total's document), to compare runs bit for bit."""
    import hashlib

    h = hashlib.sha256()
    document = {**grouped.document, "data": {**grouped.document["data"]}}
    document["data"]["meta"] = {k: v for k, v in document["data"]["meta"].items() if k != "generated_at"}
    h.update(json.dumps(document, sort_keys=True).encode())
    for s in grouped.series:
        h.update(json.dumps(s, sort_keys=True).encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", default="250,500,1000", help="products per run, comma-separated")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--frequency", choices=["day", "month"], default="day")
    parser.add_argument("--trace", type=int, default=0, help="tracemalloc's top lines of the largest run")
    parser.add_argument("--keep", default=None, help="a directory keeping the base forecasts between runs")
    parser.add_argument("--replicate", type=int, default=0,
                        help="forecast this many products and copy their base forecasts to the others")
    args = parser.parse_args(argv)
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    sizes = [int(s) for s in args.series.split(",")]
    keep = args.keep or tempfile.mkdtemp()
    rows = []
    print(f"load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    for n in sizes:
        src = os.path.join(keep, f"results-{args.frequency}-{n}-{args.days}-{args.horizon}-r{args.replicate}.pkl")
        if not os.path.exists(src):
            p = ctx.Process(target=_forecast, args=(n, args.days, args.frequency, args.horizon, src, args.replicate))
            p.start()
            p.join()
        out = os.path.join(keep, f"fan-in-{args.frequency}-{n}.pkl")
        if os.path.exists(out):
            os.remove(out)
        p = ctx.Process(target=_fan_in, args=(n, args.days, args.frequency, args.horizon, src, out, 0))
        p.start()
        p.join()
        with open(out, "rb") as fh:
            rows.append(pickle.load(fh))
    top: list = []
    if args.trace:  # a run of its own: tracemalloc's bookkeeping would inflate the RSS figures
        p = ctx.Process(target=_fan_in, args=(sizes[-1], args.days, args.frequency, args.horizon, src, out, args.trace))
        p.start()
        p.join()
        with open(out, "rb") as fh:
            top = pickle.load(fh)["top"]
    print(f"fan-in, {args.frequency}, {args.days} days, h = {args.horizon}:")
    print(f"{'series':>8} {'periods':>8} {'base MB':>8} {'peak MB':>8} {'rise MB':>8} {'KB/series':>10} "
          f"{'JSON MB':>8} {'outbox MB':>9} {'parts':>6} {'largest':>8} {'s':>6}  digest")
    for r in rows:
        rise = r["peak"] - max(r["base_rss"], 0.0)
        print(f"{r['n']:>8} {r['periods']:>8} {r['base_rss']:>8.0f} {r['peak']:>8.0f} {rise:>8.0f} "
              f"{1024 * rise / r['n']:>10.0f} {r['json_mb']:>8.1f} {r['outbox_mb']:>9.1f} "
              f"{r['outbox_parts']:>6} {r['largest_part_mb']:>8.1f} {r['seconds']:>6.1f}  {r['sample']}")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        slope = ((b["peak"] - b["base_rss"]) - (a["peak"] - a["base_rss"])) / (b["n"] - a["n"])
        print(f"slope of the rise: {1024 * slope:.0f} KB a series between {a['n']} and {b['n']} series "
              f"(ratio of rises {((b['peak'] - b['base_rss']) / max(a['peak'] - a['base_rss'], 1e-9)):.2f} "
              f"for {b['n'] / a['n']:.2f}x the series)")
    if top:
        print(f"tracemalloc, the {rows[-1]['n']}-series fan-in, held after assemble (MB, blocks):")
        for where, mb, count in top:
            print(f"  {mb:8.1f} {count:>9}  {where}")
    print(f"load (uptime) after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
