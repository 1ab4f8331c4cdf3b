"""Fetch + aggregate benchmark: a million transactions over 36 months from a fake Laravel.

The server runs in its own process (spawned, so it shares neither the GIL nor the memory of the
client) and serves the rows as a length-aware paginator, 1,000 rows a page, with ``decimal:2``
string totals and Laravel's ``…000000Z`` timestamps, 0.1 % of rows repeated a page later.

Printed figures (benchmarks print, they do not assert; targets in brackets):
* fetch and aggregate wall time, rows/s fetched end to end        [≥ 100k rows/s]
* peak RSS of the client process                                   [< 400 MB]
* aggregate_monthly time against a plain numpy monthly bincount    [within 3×]
  (baseline: UTC month via ``datetime64[M]`` + ``np.bincount`` on the same arrays, i.e. the
  least code that yields monthly sums, without time zone, dedup or data-quality accounting)

    python benchmarks/pipeline.py [--rows 1000000] [--per-page 1000]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.engine.aggregate import aggregate_monthly
from shared.sources.laravel_client import LaravelClient
from shared.sources.transactions import TransactionColumns

TIMEZONE = "Europe/Berlin"
START, END, TODAY = date(2022, 11, 1), date(2025, 10, 31), date(2025, 11, 15)


def make_columns(n_rows: int, seed: int = 1) -> TransactionColumns:
    """n_rows sales spread over START..END (UTC), ids by time, with 0.1 % repeated later."""
    rng = np.random.default_rng(seed)
    lo = np.datetime64(START.isoformat(), "ns").astype(np.int64)
    hi = np.datetime64(END.isoformat(), "ns").astype(np.int64) + 86_400 * 10**9 - 2 * 3600 * 10**9
    n_unique = n_rows - n_rows // 1000
    ts = np.sort(rng.integers(lo, hi, n_unique)) // 1000 * 1000  # µs precision, as Laravel gives
    cents = np.maximum(np.rint(rng.lognormal(np.log(4800), 0.7, n_unique)), 99).astype(np.int64)
    cents[rng.random(n_unique) < 0.015] *= -1
    ids = np.arange(1, n_unique + 1, dtype=np.int64)
    # Repeats: a row shows up again ~1.5 pages later (offset pagination under concurrent inserts).
    src = np.sort(rng.choice(n_unique - 2000, n_rows - n_unique, replace=False))
    order = np.argsort(np.concatenate([np.arange(n_unique), src + 1500]), kind="stable")
    pick = np.concatenate([np.arange(n_unique), src])[order]
    return TransactionColumns(ids=ids[pick], ts_ns=ts[pick], cents=cents[pick], rows_fetched=n_rows)


def serve(n_rows: int, per_page: int, port_queue: "mp.Queue[int]") -> None:
    from local.fake_laravel import FakeLaravel

    fake = FakeLaravel(make_columns(n_rows), paginator="length_aware", per_page=per_page, token="bench")
    fake.serve_forever(lambda url: port_queue.put(fake.port))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=1000)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    port_queue: "mp.Queue[int]" = ctx.Queue()
    server = ctx.Process(target=serve, args=(args.rows, args.per_page, port_queue), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=120)
        rss_before = peak_rss_mb()
        client = LaravelClient(f"http://127.0.0.1:{port}", token="bench", timezone=TIMEZONE, timeout=30)

        t0 = time.perf_counter()
        cols = client.fetch_sales(START, END)
        t1 = time.perf_counter()
        series = aggregate_monthly(cols, timezone=TIMEZONE, today=TODAY, start_date=START, end_date=END)
        t2 = time.perf_counter()
    finally:
        server.terminate()
        server.join(timeout=10)

    # Aggregation vs the plainest monthly bincount; best of several runs for both.
    def best(fn, repeat: int = 7) -> float:
        times = []
        for _ in range(repeat):
            s = time.perf_counter()
            fn()
            times.append(time.perf_counter() - s)
        return min(times)

    def baseline() -> np.ndarray:
        month = cols.ts_ns.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
        return np.bincount(month - month.min(), weights=cents_f)

    cents_f = cols.cents.astype(np.float64)
    agg = best(lambda: aggregate_monthly(cols, timezone=TIMEZONE, today=TODAY, start_date=START, end_date=END))
    base = best(baseline)
    month_idx = cols.ts_ns.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    month_idx -= month_idx.min()
    bare = best(lambda: np.bincount(month_idx, weights=cents_f))

    fetch_s, agg_s = t1 - t0, t2 - t1
    dq = series.data_quality
    print(f"rows fetched           {cols.rows_fetched:,} ({args.per_page}/page, {len(series.periods)} complete months)")
    print(f"rows used / duplicates {dq['rows_used']:,} / {dq['duplicates']:,}; rejected {dq['rows_rejected']}")
    print(f"fetch                  {fetch_s:6.2f} s   {cols.rows_fetched / fetch_s:,.0f} rows/s   [target >= 100,000]")
    print(f"aggregate (first run)  {agg_s * 1000:6.1f} ms")
    print(f"fetch + aggregate      {fetch_s + agg_s:6.2f} s   {cols.rows_fetched / (fetch_s + agg_s):,.0f} rows/s")
    print(f"peak RSS (client)      {peak_rss_mb():6.1f} MB  (after imports, before fetch: {rss_before:.1f} MB)   [target < 400]")
    print(f"aggregate_monthly      {agg * 1000:6.1f} ms (best of 7)")
    print(f"baseline bincount      {base * 1000:6.1f} ms (UTC datetime64[M] + np.bincount)   ratio {agg / base:.2f}x   [target <= 3x]")
    print(f"bare np.bincount       {bare * 1000:6.1f} ms (month index precomputed)           ratio {agg / bare:.2f}x")
    print(f"total of all months    {series.totals.sum():,.2f} (exact: {int(cols.cents.sum()):,} cents incl. repeats)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
