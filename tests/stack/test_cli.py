"""The `sales-forecast` command: demo source through the real client, CSV input, errors."""
from __future__ import annotations

import json
import subprocess
import sys

from stack.cli import main

TODAY = "2026-11-24"


def test_demo_runs_through_the_laravel_path(capsys):
    assert main(["forecast", "--demo", "--horizon", "2", "--model", "ets", "--today", TODAY]) == 0
    document = json.loads(capsys.readouterr().out)
    data = document["data"]
    assert data["meta"]["source"] == "demo"
    assert len(data["actual_sales"]) == 36
    assert len(data["forecast"]["horizon"]) == 2
    assert sum(data["data_quality"]["rows_rejected"].values()) > 0  # the demo has broken rows


def test_csv(tmp_path, capsys):
    path = tmp_path / "sales.csv"
    lines = ["id,created_at,grand_total"]
    for i in range(12):
        lines.append(f"{i},2026-{i % 10 + 1:02d}-15 10:00:00,{100 + i}.50")
    lines.append("99,not a date,1.00")
    path.write_text("\n".join(lines) + "\n")
    code = main(["forecast", "--csv", str(path), "--start-date", "2026-01-01", "--model", "linear", "--today", TODAY])
    assert code == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["meta"]["source"] == "csv:sales.csv"
    assert data["data_quality"]["rows_rejected"]["bad_created_at"] == 1
    assert data["actual_sales"][0] == {"month": "Jan", "period": "2026-01", "total_sales": 100.5 + 110.5, "transaction_count": 2}


def test_errors_are_json_with_codes(tmp_path, capsys):
    assert main(["forecast", "--demo", "--horizon", "99", "--today", TODAY]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["field"] == "horizon"
    assert main(["forecast", "--laravel", "http://127.0.0.1:9", "--today", TODAY]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "upstream_unavailable"


def test_installed_console_script():
    out = subprocess.run([sys.executable, "-m", "stack.cli", "--help"], capture_output=True, text=True, check=True)
    assert "forecast" in out.stdout


def test_weekly_with_holidays_and_events(tmp_path, capsys):
    events = tmp_path / "events.json"
    events.write_text(json.dumps([{"name": "Black Friday", "start": "2026-11-27"}]))
    code = main(["forecast", "--demo", "--frequency", "week", "--horizon", "2", "--holidays", "us-ca",
                 "--events", str(events), "--model", "seasonal_naive", "--today", TODAY])
    assert code == 0
    forecast = json.loads(capsys.readouterr().out)["data"]["forecast"]
    assert forecast["frequency"] == "week" and forecast["period"] == "2026-W48"
    assert forecast["horizon"][0]["events"] == ["Thanksgiving Day", "Day After Thanksgiving", "Black Friday"]


def test_daily_grouped_csv_and_holidays_off(capsys):
    code = main(["forecast", "--demo", "--frequency", "day", "--horizon", "3", "--holidays", "none",
                 "--group-by", "category", "--model", "seasonal_naive", "--format", "csv", "--today", TODAY])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "level,category,period,forecast,low,high"
    assert {line.split(",")[2] for line in lines[1:]} == {"2026-11-24", "2026-11-25", "2026-11-26"}


def test_bad_holidays_and_events_are_invalid_request(tmp_path, capsys):
    assert main(["forecast", "--demo", "--holidays", "XX", "--today", TODAY]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["field"] == "holidays"
    events = tmp_path / "events.json"
    events.write_text(json.dumps([{"name": "x"}]))
    assert main(["forecast", "--demo", "--events", str(events), "--today", TODAY]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["field"] == "events.0.start"
