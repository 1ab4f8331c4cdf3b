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


def test_the_laravel_deadline_bounds_the_command_line_too(monkeypatch, capsys):
    """Every answer comes after the request timeout: without a deadline the client's retries and
    back-offs add up to many seconds; with --laravel-deadline (or LARAVEL_DEADLINE_SECONDS) the
    command gives up when it passes, saying so, as a worker's job does."""
    import time

    import shared.engine.models
    import shared.engine.pipeline  # noqa: F401
    from local.fake_laravel import FakeLaravel, Faults
    from local.sample import sales_rows
    from shared.contract.schema import months_before

    monkeypatch.setenv("LARAVEL_TIMEOUT_SECONDS", "0.8")  # 5 attempts: 4 s and more without a deadline
    rows = sales_rows(months_before(__import__("datetime").date.fromisoformat(TODAY), 0))
    with FakeLaravel(rows, faults=Faults(delay_seconds=2.0)) as base:
        for argv, env_deadline, bound in (
            (["--laravel-deadline", "1.2"], None, "LARAVEL_DEADLINE_SECONDS=1.2"),
            ([], "1.5", "LARAVEL_DEADLINE_SECONDS=1.5"),
        ):
            if env_deadline:
                monkeypatch.setenv("LARAVEL_DEADLINE_SECONDS", env_deadline)
            began = time.monotonic()
            code = main(["forecast", "--laravel", base, "--model", "linear", "--today", TODAY, *argv])
            took = time.monotonic() - began
            error = json.loads(capsys.readouterr().err)["error"]
            assert code == 1 and error["code"] == "upstream_unavailable", error
            assert "deadline" in error["message"] and bound in error["message"], error
            assert took < float(bound.rsplit("=", 1)[1]) + 0.8 + 0.5, took  # + one request timeout
    assert main(["forecast", "--demo", "--laravel-deadline", "0", "--today", TODAY]) == 2


def test_in_an_image_without_the_demo_or_the_modelling_stack_it_says_so(tmp_path):
    """The worker image leaves local/ out (so --demo cannot run there), the web image the modelling
    stack: a clear error with exit 2, not an ImportError (tests/ops/test_dockerfiles.py checks the
    images' imports)."""
    for absent, argv, says in (
        ("local", ["--demo"], "--demo needs the development checkout"),
        ("numpy", ["--csv", str(tmp_path / "sales.csv")], "needs the modelling stack (numpy is not installed)"),
    ):
        code = (
            "import sys\n"
            f"sys.modules[{absent!r}] = None  # as in an image without it\n"
            "from stack.cli import main\n"
            f"sys.exit(main(['forecast', *{argv!r}, '--today', {TODAY!r}]))\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr[-2000:]
        error = json.loads(done.stderr.strip().splitlines()[-1])["error"]
        assert error["code"] == "invalid_request" and says in error["message"], error
