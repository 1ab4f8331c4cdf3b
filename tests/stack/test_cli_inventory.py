"""`sales-forecast forecast` with --lead-time, --review-period, --service-level (docs/api.md §12)."""
from __future__ import annotations

import csv
import io
import json

from stack.cli import main

TODAY = "2026-11-24"


def test_demo_inventory_csv_one_line_per_product(capsys):
    code = main(["forecast", "--demo", "--group-by", "category,product_id", "--measure", "units", "--model",
                 "seasonal_naive", "--lead-time", "2", "--review-period", "1", "--service-level", "90",
                 "--format", "inventory", "--today", TODAY])
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(r["service_level"] == "90" for r in rows)
    listed = [r for r in rows if r["on_hand"] != ""]
    assert listed and any(r["on_hand"] == "" for r in rows)  # the demo stock lists most products, not all
    for r in listed:
        need = int(r["order_up_to"]) - int(r["on_hand"]) - int(r["on_order"])
        assert int(r["suggested_order"]) >= max(0, need)


def test_stock_csv_with_a_lines_csv(tmp_path, capsys):
    lines = tmp_path / "lines.csv"
    out = ["id,sale_id,created_at,line_total,quantity,product_id"]
    for m in range(24):
        for k in range(3):
            out.append(f"{m * 10 + k},{m * 10 + k},{2024 + m // 12}-{m % 12 + 1:02d}-0{k + 1} 10:00:00,5.00,{2 + k},p{k}")
    lines.write_text("\n".join(out) + "\n")
    stock = tmp_path / "stock.csv"
    stock.write_text("product_id,on_hand,on_order,min_order,pack_size\np0,1,0,10,5\np1,x,,,\n")
    code = main(["forecast", "--csv", str(lines), "--group-by", "product_id", "--measure", "units", "--model",
                 "seasonal_naive", "--lead-time", "1", "--stock-csv", str(stock), "--today", "2026-01-10"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    by_product = {s["key"]["product_id"]: s["inventory"] for s in document["series"] if s["level"] == 1}
    assert by_product["p0"]["on_hand"] == 1 and by_product["p0"]["suggested_order"] % 5 == 0
    assert by_product["p0"]["suggested_order"] >= 10
    assert by_product["p1"]["on_hand"] is None and by_product["p2"]["on_hand"] is None
    assert document["data"]["data_quality"]["stock"]["rows_rejected"] == {"bad_on_hand": 1}


def test_bad_inventory_arguments_are_invalid_requests(capsys):
    assert main(["forecast", "--demo", "--lead-time", "53", "--today", TODAY]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["field"] == "inventory.lead_time"
    assert main(["forecast", "--demo", "--group-by", "category", "--lead-time", "1", "--today", TODAY]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["field"] == "inventory"
    assert main(["forecast", "--demo", "--format", "inventory", "--group-by", "category", "--measure", "units",
                 "--today", TODAY]) == 2
