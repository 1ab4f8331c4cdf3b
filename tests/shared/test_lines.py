"""Sale lines → columns (shared/sources/lines.py): exact cents, category codes, rejection reasons."""
from __future__ import annotations

import numpy as np

from shared.sources.lines import LineBuilder, lines_from_rows, read_lines_csv


def line(i, **over):
    row = {"id": i, "sale_id": 100 + (i or 0) // 2, "created_at": "2025-01-05T10:00:00.000000Z",
           "line_total": "10.05", "quantity": 2, "category": "Shoes", "product_id": 17}
    row.update(over)
    return row


def test_columns_and_codes():
    rows = [line(1), line(2, product_id="17"), line(3, product_id=18, line_total=0.1),
            line(4, category=None), line(5, category=""), line(6, category="  Shoes "),
            {k: v for k, v in line(7).items() if k != "category"}]
    cols = lines_from_rows(rows, ["category", "product_id"], page_size=3)
    assert len(cols) == 7 and cols.rows_fetched == 7
    assert cols.cents.tolist() == [1005, 1005, 10, 1005, 1005, 1005, 1005]
    assert cols.quantity.tolist() == [2.0] * 7
    assert cols.categories["product_id"] == ["17", "18"]  # 17 and "17" are one product
    assert cols.codes["product_id"].tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert cols.categories["category"] == ["Shoes"]
    assert cols.codes["category"].tolist() == [0, 0, 0, -1, -1, 0, -1]  # null, empty and missing: the null group
    assert cols.present == {"category": 6, "product_id": 7}
    assert cols.codes["category"].dtype == np.int32


def test_rejections_are_counted_once_by_reason():
    rows = [line(1), line(2, sale_id=None), line(3, quantity="x"), line(4, line_total="abc"),
            line(5, created_at="yesterday"), line(6, quantity=None), "not a line", line(None), line(8, quantity="1.5")]
    cols = lines_from_rows(rows, ["category"])
    assert len(cols) == 2 and cols.quantity.tolist() == [2.0, 1.5]
    assert cols.rows_fetched == 9
    assert cols.rejected == {"missing_sale_id": 1, "bad_quantity": 1, "bad_line_total": 1, "bad_created_at": 1,
                             "missing_quantity": 1, "not_an_object": 1, "missing_id": 1}
    assert len(cols) + sum(cols.rejected.values()) == cols.rows_fetched


def test_builder_feeds_pages_and_finishes_once():
    b = LineBuilder(["product_id"])
    b.add_rows([line(1), line(2)])
    b.add_rows([])
    b.add_rows([line(3, product_id=None)])
    cols = b.finish()
    assert cols.ids.tolist() == [1, 2, 3] and cols.codes["product_id"].tolist() == [0, 0, -1]


def test_csv(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text("id,sale_id,created_at,line_total,quantity,category\n"
                    "1,10,2025-01-05 10:00:00,1.10,1,A\n2,10,2025-01-05 10:00:00,2.205,3,\n3,11,bad,1,1,B\n")
    cols = read_lines_csv(path, ["category"])
    assert cols.cents.tolist() == [110, 220]  # 2.205 → round half even
    assert cols.codes["category"].tolist() == [0, -1]
    assert cols.rejected == {"bad_created_at": 1}
