"""The panel (shared/engine/panel.py): levels, measures, exact sums, own history starts; property tests."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contract.errors import InvalidRequest
from shared.engine.aggregate import aggregate_monthly
from shared.engine.panel import build_panel
from shared.sources.lines import lines_from_rows
from shared.sources.transactions import TransactionColumns

TODAY = date(2025, 7, 10)
START, END = date(2025, 1, 1), TODAY
GROUP = ["category", "product_id"]


def row(i, month, cents, qty=1, sale=None, cat="A", prod="p1"):
    return {"id": i, "sale_id": sale if sale is not None else i, "created_at": f"2025-{month:02d}-03T12:00:00Z",
            "line_total": f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}",
            "quantity": qty, "category": cat, "product_id": prod}


def panel_of(rows, group=GROUP, measure="revenue", page_size=10_000):
    cols = lines_from_rows(rows, group, page_size=page_size)
    return build_panel(cols, group, measure, timezone="UTC", today=TODAY, start_date=START, end_date=END)


def test_levels_keys_and_parents():
    rows = [row(1, 1, 100, cat="A", prod="p1"), row(2, 2, 250, cat="A", prod="p2"),
            row(3, 3, 999, cat=None, prod="p3"), row(4, 7, 5)]  # July is the month in progress
    p = panel_of(rows)
    assert p.periods == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    assert p.keys == [{}, {"category": None}, {"category": "A"},
                      {"category": None, "product_id": "p3"},
                      {"category": "A", "product_id": "p1"}, {"category": "A", "product_id": "p2"}]
    assert p.level.tolist() == [0, 1, 1, 2, 2, 2]
    assert p.parent.tolist() == [-1, 0, 0, 1, 2, 2]
    assert p.cents[0].tolist() == [100, 250, 999, 0, 0, 0]
    assert p.start.tolist() == [0, 2, 0, 2, 0, 1]  # each series from its own first sale
    assert p.history(5).tolist() == [2.5, 0, 0, 0, 0]  # a product that stopped keeps its zeros
    assert p.data_quality["partial_month"]["period"] == "2025-07"
    assert p.summing_matrix().toarray().tolist()[0] == [1, 1, 1]


def test_measures():
    rows = [row(1, 1, 100, qty=2, sale=7), row(2, 1, 300, qty=1, sale=7), row(3, 1, 50, qty=4, sale=8, prod="p2")]
    units = panel_of(rows, measure="units")
    orders = panel_of(rows, measure="orders")
    assert units.values[:, 0].tolist() == [7, 7, 3, 4]
    # Sale 7 has two lines of p1: one order of p1, one of the shop.
    assert orders.values[:, 0].tolist() == [2, 2, 1, 1]
    assert orders.total_orders[0] == 2 and units.cents is None


def test_duplicates_and_rejections_as_the_sales_count_them():
    rows = [row(1, 1, 100), row(2, 2, 100), row(1, 1, 100), row(3, 12 - 11, 100) | {"created_at": "2024-12-30T00:00:00Z"}]
    p = panel_of(rows)
    assert p.data_quality["duplicates"] == 1
    assert p.data_quality["rows_rejected"] == {"out_of_range": 1}
    assert p.cents[0, :2].tolist() == [100, 100]


def test_a_field_no_line_has_is_named():
    rows = [{k: v for k, v in row(1, 1, 100).items() if k != "category"}]
    with pytest.raises(InvalidRequest) as err:
        panel_of(rows)
    assert err.value.field == "group_by" and "category" in str(err.value)


def test_total_revenue_is_the_sales_series():
    rng = np.random.default_rng(3)
    rows = [row(i, int(rng.integers(1, 8)), int(rng.integers(-500, 90_000)), cat=str(rng.integers(0, 3)), prod=int(rng.integers(0, 9)))
            for i in range(500)]
    p = panel_of(rows)
    cols = lines_from_rows(rows, GROUP)
    sales = aggregate_monthly(TransactionColumns(cols.ids, cols.ts_ns, cols.cents, cols.rows_fetched),
                              timezone="UTC", today=TODAY, start_date=START, end_date=END)
    assert np.array_equal(p.cents[0], np.rint(sales.totals * 100).astype(np.int64))


line_strategy = st.fixed_dictionaries({
    "month": st.integers(1, 7),
    "cents": st.integers(-10_000, 10**9),
    "qty": st.integers(-1, 5),
    "sale": st.integers(0, 30),
    "cat": st.sampled_from(["A", "B", None, 7]),
    "prod": st.sampled_from(["p1", "p2", 3, None, ""]),
    "store": st.sampled_from([1, 2, None]),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(line_strategy, min_size=1, max_size=60), st.integers(1, 25), st.sampled_from(["revenue", "units", "orders"]))
def test_any_pages_give_the_same_panel_and_parents_are_sums(specs, page_size, measure):
    rows = [row(i, s["month"], s["cents"], s["qty"], s["sale"], s["cat"], s["prod"]) | {"store_id": s["store"]}
            for i, s in enumerate(specs)]
    rows += rows[: len(rows) // 3]  # repeated across pages: counted once
    group = ["category", "product_id", "store_id"]
    one = panel_of(rows, group, measure, page_size=10_000)
    paged = panel_of(rows, group, measure, page_size=page_size)
    assert one.keys == paged.keys and np.array_equal(one.values, paged.values)
    assert np.array_equal(one.start, paged.start) and one.data_quality == paged.data_quality
    # Every parent equals the sum of its children, exactly (to the cent for revenue). Orders are
    # distinct sales: an order of two products is one order of their category.
    exact = one.cents if measure == "revenue" else one.values
    for i in range(len(one)):
        kids = one.children(i)
        if kids.size and measure == "orders":
            assert np.all(exact[kids].sum(axis=0) >= exact[i]) and np.all(exact[kids].max(axis=0) <= exact[i])
        elif kids.size:
            assert np.array_equal(exact[kids].sum(axis=0), exact[i])


@pytest.mark.parametrize("measure", ["revenue", "units", "orders"])
def test_a_panel_built_consuming_its_lines_is_the_same_panel_and_lets_them_go(measure):
    rows = [row(1, 1, 100, qty=2, sale=7), row(2, 1, 300, sale=7), row(3, 2, 50, qty=4, sale=8, prod="p2"),
            row(3, 2, 50, qty=4, sale=8, prod="p2"),  # a duplicate id
            row(4, 3, -20, cat=None, prod="p3"), row(5, 7, 5)]
    kept = panel_of(rows, measure=measure)
    cols = lines_from_rows(rows, GROUP)
    consumed = build_panel(cols, GROUP, measure, timezone="UTC", today=TODAY, start_date=START, end_date=END,
                           consume=True)
    for name in ("level", "parent", "values", "start", "lines", "total_orders"):
        assert np.array_equal(getattr(consumed, name), getattr(kept, name)), name
    assert (consumed.cents is None) == (kept.cents is None)
    assert consumed.cents is None or np.array_equal(consumed.cents, kept.cents)
    assert (consumed.keys, consumed.periods, consumed.data_quality) == (kept.keys, kept.periods, kept.data_quality)
    assert len(cols) == 0 and all(c.size == 0 for c in cols.codes.values())


def test_the_panel_goes_to_redis_deflated_and_comes_back_whole():
    import zlib

    from shared.engine.panel import Panel

    rows = [row(i, 1 + i % 6, 100 * i, qty=i % 3, prod=f"p{i % 4}") for i in range(1, 60)]
    for measure in ("revenue", "units"):
        panel = panel_of(rows, measure=measure)
        blob = panel.to_bytes()
        archive = zlib.decompress(blob)
        assert archive.startswith(b"PK") and len(blob) < len(archive)  # an npz archive, deflated
        for stored in (blob, archive):  # an archive stored before the panel was deflated still loads
            back = Panel.from_bytes(stored)
            assert np.array_equal(back.values, panel.values) and back.keys == panel.keys
            assert (back.cents is None) == (panel.cents is None)
            assert back.cents is None or np.array_equal(back.cents, panel.cents)
            assert back.data_quality == panel.data_quality and back.periods == panel.periods
