"""Grouped forecasts end to end in one process: sale lines over real HTTP, documents, the CLI."""
from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from local.fake_laravel import FakeLaravel, Faults
from shared.contract.errors import InvalidRequest, UpstreamInvalid
from shared.contract.schema import ForecastRequest
from shared.engine.grouped import LaravelLineSource, StaticLineSource, run_grouped_forecast
from shared.sources.laravel_client import LaravelClient
from shared.sources.lines import LineBuilder, LineColumns, lines_from_rows
from stack.cli import main

TODAY = date(2026, 1, 10)


def lines(n_months=24):
    rows, i = [], 1
    for m in range(n_months):
        y, mo = 2024 + m // 12, m % 12 + 1
        for k in range(12):
            store = 1 + k % 2
            prod = ["tea", "cake", None][k % 3]
            rows.append({"id": i, "sale_id": 1000 + i // 2, "created_at": f"{y}-{mo:02d}-{1 + k:02d} 09:30:00",
                         "line_total": f"{10 + k + m}.{k:02d}", "quantity": 1 + k % 3, "store_id": store,
                         "product_id": prod, "status": "completed"})
            i += 1
    rows.append({"id": i, "sale_id": 1, "created_at": "2025-12-01 10:00:00", "line_total": None, "quantity": 1,
                 "store_id": 1, "product_id": "tea", "status": "completed"})
    return rows


@pytest.mark.parametrize("paginator", ["length_aware", "simple", "cursor", "plain"])
def test_lines_come_through_every_paginator(paginator):
    rows = lines()
    with FakeLaravel([], items=rows, paginator=paginator, per_page=37) as base:
        client = LaravelClient(base)
        cols = client.fetch_pages(LineBuilder(["store_id"]), date(2024, 1, 1), TODAY, path="/sales/items")
    assert isinstance(cols, LineColumns)
    assert cols.rows_fetched == len(rows) and cols.rejected == {"missing_line_total": 1}
    assert cols.categories["store_id"] == ["1", "2"]


def test_the_items_path_is_its_own_endpoint():
    with FakeLaravel([], items=lines(), faults=Faults()) as base:
        client = LaravelClient(base)
        with pytest.raises(UpstreamInvalid):
            client.fetch_pages(LineBuilder([]), date(2024, 1, 1), TODAY, path="/nope")


def test_grouped_job_over_http():
    request = ForecastRequest.parse({"group_by": ["store_id", "product_id"], "measure": "revenue", "model": "seasonal_naive"})
    with FakeLaravel([], items=lines(), per_page=50) as base:
        source = LaravelLineSource(LaravelClient(base), base, "/sales/items")
        result = run_grouped_forecast(request.resolved(TODAY), source, today=TODAY, task_id="t-1")
    data = result.document["data"]
    h = data["hierarchy"]
    assert h["group_by"] == ["store_id", "product_id"] and h["coherent"] is True
    assert [lv["fields"] for lv in h["levels"]] == [["store_id"], ["store_id", "product_id"]]
    assert h["series"] == len(result.series) == 1 + 2 + 6
    assert h["series_url"] == "/api/v1/forecasts/t-1/series"
    assert data["data_quality"]["rows_rejected"] == {"missing_line_total": 1}
    assert len(data["actual_sales"]) == 24
    # The total's document is the top of the hierarchy; children add up to it per month ahead.
    top = [s for s in result.series if s["level"] == 1]
    for k in range(3):
        assert round(sum(s["forecast"]["horizon"][k]["forecast"] for s in top), 2) == data["forecast"]["horizon"][k]["forecast"]
    nulls = [s for s in result.series if s["key"].get("product_id", "x") is None]
    assert len(nulls) == 2 and all(s["forecast"]["horizon"] for s in nulls)
    assert json.loads(json.dumps(list(result.series))) == list(result.series)


def test_units_and_orders_measures_only_total():
    rows = lines()
    cols = lines_from_rows(rows, [])
    src = StaticLineSource(lambda fields: cols, "mem")
    for measure in ("units", "orders"):
        res = run_grouped_forecast(ForecastRequest.parse({"measure": measure, "model": "seasonal_naive"}).resolved(TODAY), src, today=TODAY)
        assert res.document["data"]["hierarchy"]["measure"] == measure and len(res.series) == 1


def test_a_field_no_line_carries_fails_naming_it():
    cols = lines_from_rows(lines(), ["channel"])
    with pytest.raises(InvalidRequest) as err:
        run_grouped_forecast(ForecastRequest.parse({"group_by": ["channel"]}).resolved(TODAY), StaticLineSource(lambda f: cols, "mem"), today=TODAY)
    assert "channel" in str(err.value)


# ---- the command line ------------------------------------------------------------------------


def test_cli_demo_grouped_units(capsys):
    code = main(["forecast", "--demo", "--group-by", "category,product_id", "--measure", "units", "--today", "2026-11-20"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    h = doc["data"]["hierarchy"]
    assert h["measure"] == "units" and h["coherent"] and doc["data"]["meta"]["source"] == "demo"
    models = {json.dumps(s["key"]): s["forecast"]["model"] for s in doc["series"]}
    assert any("share_of_parent" in m for m in models.values())  # the product launched 4 months ago
    assert any(m.startswith(("croston_sba", "imapa", "tsb")) for m in models.values())  # slow movers
    assert any('"category": null' in k for k in models)
    assert doc["data"]["data_quality"]["duplicates"] > 0


def test_cli_csv_out_and_csv_in(tmp_path, capsys):
    path = tmp_path / "lines.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "sale_id", "created_at", "line_total", "quantity", "store_id"])
    for r in lines():
        w.writerow([r["id"], r["sale_id"], r["created_at"], r["line_total"] or "", r["quantity"], r["store_id"]])
    path.write_text(buf.getvalue())
    code = main(["forecast", "--csv", str(path), "--group-by", "store_id", "--model", "seasonal_naive",
                 "--format", "csv", "--today", TODAY.isoformat(), "--horizon", "2"])
    assert code == 0
    out = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(out[0]) == ["level", "store_id", "period", "forecast", "low", "high"]
    assert len(out) == 3 * 2  # total + 2 stores, 2 months each
    for period in ("2026-01", "2026-02"):
        total = [r for r in out if r["level"] == "0" and r["period"] == period][0]
        stores = [r for r in out if r["level"] == "1" and r["period"] == period]
        assert round(sum(float(r["forecast"]) for r in stores), 2) == float(total["forecast"])


def test_cli_errors(capsys):
    assert main(["forecast", "--demo", "--group-by", "a,b,c,d", "--today", "2026-11-20"]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["field"] == "group_by"
    assert main(["forecast", "--demo", "--format", "csv", "--today", "2026-11-20"]) == 2
