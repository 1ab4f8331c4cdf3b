"""The M5-shaped benchmark shop (local/m5.py): its hierarchy, seeded lines drawn day by day, and
the fake Laravel server paging it to the real line client."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from local.m5 import DEPARTMENTS, M5Server, M5Shop
from shared.engine.grouped import LaravelLineSource
from shared.sources.laravel_client import LaravelClient

END = date(2025, 6, 30)


@pytest.fixture(scope="module")
def shop() -> M5Shop:
    return M5Shop(stores=2, days=40, lines=3_000_000, end=END)  # ~12k lines


def test_the_m5_hierarchy():
    assert sum(n for _, _, n in DEPARTMENTS) == 3049
    assert len({cat for cat, _, _ in DEPARTMENTS}) == 3 and len(DEPARTMENTS) == 7
    assert M5Shop(stores=1, days=3, lines=1e5, end=END).n_series == 3049


def test_lines_are_seeded_and_drawn_a_day_at_a_time(shop):
    again = M5Shop(stores=2, days=40, lines=3_000_000, end=END)
    assert len(again) == len(shop) and again.render(100, 200) == shop.render(100, 200)
    assert 8_000 < len(shop) < 16_000
    for i in range(0, len(shop), 997):
        shop.render(i, i + 1)
    assert len(shop._cache) <= 4, "no more than a few days of lines are ever held"
    full_rate = M5Shop(stores=1, days=40, end=END)  # the M5's ~20 M lines at full size
    assert 0.55 < full_rate.zero_share() < 0.85  # most product-store days have no sale, as in the M5


def test_the_server_pages_every_line_once_to_the_line_client_and_filters_by_day(shop):
    fields = ["store_id", "dept_id", "product_id"]
    with M5Server(shop, per_page=500) as url:
        source = LaravelLineSource(LaravelClient(url), url)
        cols = source.fetch_lines(shop.first_day, shop.end, "completed", fields)
        assert len(cols) == len(shop) and cols.rows_fetched == len(shop)
        assert np.array_equal(np.sort(cols.ids), np.arange(1, len(shop) + 1))
        assert set(cols.categories["store_id"]) == {"CA_1", "CA_2"}
        week = source.fetch_lines(shop.end - timedelta(days=6), shop.end, "completed", fields)
        assert len(week) == int(shop.day_lines[-7:].sum())
        assert len(source.fetch_lines(shop.first_day, shop.end, "cancelled", fields)) == 0
