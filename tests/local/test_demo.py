"""The bundled demo history (local/demo.py) and the demo server entry point."""
from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from local.demo import demo_columns, demo_rows, demo_start
from shared.engine.aggregate import aggregate_monthly
from shared.sources.laravel_client import LaravelClient

TODAY = date(2025, 11, 20)
TZ = "Europe/Berlin"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return demo_rows(TODAY, timezone=TZ)


@pytest.fixture(scope="module")
def series(rows):
    cols = demo_columns(TODAY, timezone=TZ)
    return aggregate_monthly(cols, timezone=TZ, today=TODAY, start_date=demo_start(TODAY), end_date=TODAY)


def test_deterministic(rows) -> None:
    assert demo_rows(TODAY, timezone=TZ) == rows
    assert demo_rows(TODAY, seed=8, timezone=TZ) != rows


def test_size_and_span(rows, series) -> None:
    assert 30_000 <= len(rows) <= 80_000
    assert len(series.periods) >= 48  # at least four complete years
    assert series.periods[-1] == "2025-10"
    assert series.data_quality["partial_month"]["period"] == "2025-11"
    assert series.data_quality["partial_month"]["transaction_count"] > 0


def test_shape(series) -> None:
    totals = dict(zip(series.periods, series.totals))
    for year in (2022, 2023, 2024):
        months = [totals[f"{year}-{m:02d}"] for m in range(1, 13)]
        assert months[11] == max(months)  # December peak
        assert months[11] > 1.2 * np.mean(months)
        assert np.mean(months[6:8]) < np.mean(months)  # summer dip
    yearly = [sum(totals[f"{y}-{m:02d}"] for m in range(1, 13)) for y in (2021, 2022, 2023, 2024)]
    assert yearly == sorted(yearly)  # growing


def test_exercises_data_quality(rows, series) -> None:
    dq = series.data_quality
    assert dq["duplicates"] > 0
    assert dq["negative_totals"] > 0
    assert len(dq["months_zero_filled"]) == 1
    assert 0.002 < sum(dq["rows_rejected"].values()) / dq["rows_fetched"] < 0.01
    created = [r.get("created_at") for r in rows if isinstance(r.get("created_at"), str)]
    assert any(c.endswith("Z") for c in created) and any(len(c) == 19 and " " in c for c in created)
    assert any(isinstance(r.get("grand_total"), str) for r in rows)
    assert any(isinstance(r.get("grand_total"), float) for r in rows)
    assert {r["status"] for r in rows} >= {"completed", "cancelled"}


def test_demo_server_entry_point() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.fake_laravel", "--demo", "--port", "0", "--today", TODAY.isoformat(),
         "--timezone", TZ, "--token", "t0k"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "DEMO" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.strip().rsplit(" ", 1)[-1]
        base, _, _ = url.rpartition("/sales")
        assert base.startswith("http://127.0.0.1:")
        cols = LaravelClient(base, token="t0k", timezone=TZ).fetch_sales(date(2025, 1, 1), TODAY)
        s = aggregate_monthly(cols, timezone=TZ, today=TODAY, start_date=date(2025, 1, 1), end_date=TODAY)
        assert len(s.periods) == 10 and s.counts.min() > 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
