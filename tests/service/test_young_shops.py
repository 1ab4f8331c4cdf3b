"""Young shops and empty windows, end to end (docs/api.md §5): history starts at the first sale.

The Laravel-like server is given each shop's rows in turn (and the package's own rows back
afterwards); jobs go through the web API, the queue and a real worker, as a frontend sends them.
Before this, a window reaching back before the first sale was zero-filled and trained on: an
empty Laravel gave SUCCESS with a 0.0 forecast, two months of sales gave SUCCESS on 33 zeros.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest

from shared.contract.schema import months_before
from tests.service.conftest import sales_rows

pytestmark = pytest.mark.slow

TODAY = date.today()
THREE_YEARS_BACK = months_before(TODAY, 35).isoformat()  # "current year to present", as the old frontend asks


@contextmanager
def shop(service, rows: list[dict]):
    laravel = service.laravel
    original = laravel.rows
    laravel.stop()
    laravel.rows = rows
    laravel.start()
    try:
        yield
    finally:
        laravel.stop()
        laravel.rows = original
        laravel.start()


def run(service, body: dict) -> dict:
    response = service.submit({**body, "refresh": True})
    assert response.status_code == 202, response.text
    return service.wait(response.json()["task_id"])


def period(months_back: int) -> str:
    return months_before(TODAY, months_back).isoformat()[:7]


@pytest.mark.parametrize("complete_months", [0, 2], ids=["no rows at all", "two complete months"])
def test_too_little_history_is_insufficient_for_a_three_year_window(service, complete_months):
    rows = sales_rows(TODAY, months=complete_months) if complete_months else []
    with shop(service, rows):
        final = run(service, {"start_date": THREE_YEARS_BACK, "model": "linear"})
    assert final["status"] == "FAILURE", final
    assert final["error"]["code"] == "insufficient_history"
    print(f"\n{complete_months} complete months, 35-month window: {final['status']} {final['error']['message']}")


def test_a_window_before_the_first_sale_changes_nothing(service):
    with shop(service, sales_rows(TODAY, months=12)):  # the first sale was 12 months ago
        wide = run(service, {"start_date": THREE_YEARS_BACK})
        narrow = run(service, {"start_date": months_before(TODAY, 12).isoformat()})
    assert wide["status"] == narrow["status"] == "SUCCESS", (wide, narrow)
    wide_data, narrow_data = wide["result"]["data"], narrow["result"]["data"]
    assert wide_data["forecast"] == narrow_data["forecast"]  # the same forecast, the same backtest
    assert wide_data["forecast"]["metrics"]["backtest_origins"] == narrow_data["forecast"]["metrics"]["backtest_origins"]
    assert wide_data["meta"]["data_fingerprint"] == narrow_data["meta"]["data_fingerprint"]
    assert wide_data["actual_sales"] == narrow_data["actual_sales"]
    assert wide_data["actual_sales"][0]["period"] == period(12)
    leading = wide_data["data_quality"]["leading_empty_months"]
    assert leading == [period(back) for back in range(35, 12, -1)]  # the 23 months before the first sale
    assert narrow_data["data_quality"]["leading_empty_months"] == []
    print(f"\nfirst sale 12 months ago: forecast {wide_data['forecast']['next_month_forecast']} with either window, "
          f"{wide_data['forecast']['metrics']['backtest_origins']} backtest origins, {len(leading)} leading empty months")


def test_an_empty_month_after_the_first_sale_is_a_real_zero(service):
    gap = period(6)
    rows = [r for r in sales_rows(TODAY, months=14) if r["created_at"][:7] != gap]
    with shop(service, rows):
        final = run(service, {"start_date": THREE_YEARS_BACK, "model": "linear"})
    assert final["status"] == "SUCCESS", final
    data = final["result"]["data"]
    by_period = {m["period"]: m for m in data["actual_sales"]}
    assert data["actual_sales"][0]["period"] == period(14)
    assert by_period[gap]["total_sales"] == 0 and by_period[gap]["transaction_count"] == 0
    assert data["data_quality"]["months_zero_filled"] == [gap]
    assert len(data["data_quality"]["leading_empty_months"]) == 35 - 14
