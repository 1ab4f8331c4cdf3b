"""The package's ForecastRequest refuses what the service's ForecastRequest.parse refuses, naming the
same field, and accepts what it accepts: the same bodies through both (this machine's PHP).

Only the fields the service has today are compared; frequency, holidays, events and inventory are
checked in the package's own PHPUnit tests until the service has them.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from shared.contract.errors import InvalidRequest
from shared.contract.schema import ForecastRequest
from tests.laravel.conftest import require_php

SCRIPT = Path(__file__).with_name("request_rules.php")
CASES: list[dict[str, Any]] = [
    {}, {"horizon": 1}, {"horizon": 24}, {"horizon": 25}, {"horizon": 0}, {"horizon": -3}, {"horizon": "6"},
    {"horizon": 6.0}, {"horizon": 6.5}, {"horizon": True}, {"horizon": "six"}, {"horizon": None},
    {"level": 50}, {"level": 99.9}, {"level": 99.95}, {"level": 49.9}, {"level": "80"}, {"level": False},
    {"model": "ets"}, {"model": "arima"}, {"model": "prophet"}, {"model": " ets "}, {"model": "ETS"}, {"model": 3},
    {"measure": "units"}, {"measure": "orders"}, {"measure": "profit"},
    {"start_date": "2024-01-01", "end_date": "2025-12-31"}, {"start_date": "2025-12-31", "end_date": "2024-01-01"},
    {"start_date": "2025-02-30"}, {"start_date": "2025-13-01"}, {"end_date": "1969-12-31"}, {"end_date": "2201-01-01"},
    {"end_date": "2200-12-31"}, {"start_date": "yesterday"},
    {"status": "completed"}, {"status": "paid-in_full"}, {"status": " completed "}, {"status": "paid now"},
    {"status": "x" * 33}, {"status": ""}, {"status": "a\u0007b"},
    {"refresh": True}, {"refresh": "yes"}, {"refresh": 1},
    {"group_by": ["category"]}, {"group_by": ["category", "product_id", "store_id"]}, {"group_by": ["a", "b", "c", "d"]},
    {"group_by": []}, {"group_by": ["category", "1x"]}, {"group_by": ["sku", "sku"]}, {"group_by": [" category"]},
    {"group_by": ["x" * 65]}, {"group_by": "category"},
    {"callback_url": "https://shop.test/hook"}, {"callback_url": "ftp://shop.test/hook"}, {"callback_url": "/hook"},
    {"callback_url": "https://u:p@shop.test/hook"}, {"callback_url": "https://shop.test/" + "x" * 2100},
    {"callback_url": 5},
    {"horizn": 3}, {"horizon": 3, "extra": True},
]


def _service(body: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = ForecastRequest.parse(body)
    except InvalidRequest as exc:
        return {"ok": False, "field": exc.field}
    return {"ok": True, "body": parsed.model_dump(mode="json", exclude_unset=True)}


def test_the_builder_and_the_service_agree() -> None:
    php = require_php()
    done = subprocess.run([php, str(SCRIPT)], input=json.dumps(CASES), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    for case, package in zip(CASES, json.loads(done.stdout), strict=True):
        service = _service(case)
        assert package["ok"] == service["ok"], (case, package, service)
        if service["ok"]:
            assert package["body"] == {k: v for k, v in service["body"].items() if case.get(k) is not None}, case
        else:
            assert package["field"] == service["field"], (case, package, service)
