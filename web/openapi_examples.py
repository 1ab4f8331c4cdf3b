"""Example requests and answers for /openapi.json, as a client would see them.

tests/web/test_openapi.py checks each against the model that describes it, so an example
cannot drift from the schema beside it.
"""
from __future__ import annotations

from typing import Any

TASK_ID = "5f0c6d2e-8a4b-4f7e-9c1d-2b3a4c5d6e7f"
STATUS_URL = f"/api/v1/forecasts/{TASK_ID}"

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "defaults": {
        "summary": "The default forecast",
        "description": "The 36 complete months before today, 3 months ahead, 90 % intervals, the best model.",
        "value": {},
    },
    "single": {
        "summary": "A chosen window, horizon, level and model",
        "value": {
            "start_date": "2023-01-01",
            "end_date": "2025-10-31",
            "horizon": 6,
            "level": 80,
            "model": "ets",
        },
    },
    "weekly": {
        "summary": "Weekly, with holidays and events",
        "description": "ISO weeks (Monday to Sunday) in SALES_TIMEZONE: the 156 complete weeks before today, "
        "13 weeks ahead; California's public holidays and the shop's own promotion as known effects, "
        "named in the horizon entries they fall in.",
        "value": {
            "frequency": "week",
            "holidays": "US-CA",
            "events": [{"name": "Black Friday sale", "start": "2025-11-28", "end": "2025-11-30"}],
        },
    },
}

SUBMITTED: dict[str, Any] = {"task_id": TASK_ID, "status": "PENDING", "status_url": STATUS_URL}

_ACTUALS = [
    ("Jan", "2025-01", 12000.0, 45),
    ("Feb", "2025-02", 11850.5, 43),
    ("Mar", "2025-03", 13210.0, 51),
    ("Apr", "2025-04", 12980.25, 48),
    ("May", "2025-05", 14100.0, 55),
    ("Jun", "2025-06", 14520.0, 56),
    ("Jul", "2025-07", 13990.0, 52),
    ("Aug", "2025-08", 14830.0, 57),
    ("Sep", "2025-09", 15010.0, 58),
    ("Oct", "2025-10", 15400.0, 60),
]

RESULT: dict[str, Any] = {
    "status": "success",
    "data": {
        "actual_sales": [
            {"month": m, "period": p, "total_sales": t, "transaction_count": n} for m, p, t, n in _ACTUALS
        ],
        "forecast": {
            "next_month_forecast": 15620.0,
            "confidence_level": 90.0,
            "expected_range_low": 14480.0,
            "expected_range_high": 16760.0,
            "growth_rate": 2.6,
            "model_accuracy": 95.8,
            "period": "2025-11",
            "model": "ets",
            "forecast_growth_rate": 1.43,
            "horizon": [
                {"period": "2025-11", "forecast": 15620.0, "low": 14480.0, "high": 16760.0},
                {"period": "2025-12", "forecast": 15790.0, "low": 14390.0, "high": 17190.0},
                {"period": "2026-01", "forecast": 15950.0, "low": 14320.0, "high": 17580.0},
            ],
            "metrics": {
                "mae": 612.4,
                "mape": 4.3,
                "smape": 4.2,
                "mase": 0.71,
                "wape": 4.2,
                "backtest_origins": 6,
                "interval_coverage": 83.3,
            },
            "next_period_forecast": 15620.0,
            "frequency": "month",
        },
        "data_quality": {
            "rows_fetched": 532,
            "rows_used": 530,
            "rows_rejected": {"unparseable_total": 1},
            "duplicates": 1,
            "negative_totals": 0,
            "months_zero_filled": [],
            "partial_month": {"period": "2025-11", "total_sales": 4210.0, "transaction_count": 16},
            "partial_period": {"period": "2025-11", "start": "2025-11-01", "end": "2025-11-30", "total_sales": 4210.0,
                               "transaction_count": 16, "days_elapsed": 8, "days_in_period": 30},
        },
        "meta": {
            "task_id": TASK_ID,
            "data_fingerprint": "3f9a1c0e5b7d2a64",
            "model_version": "ets-2.1.1",
            "generated_at": "2025-11-08T09:30:12Z",
            "cached": False,
            "source": "laravel",
        },
    },
}

STATUS_SUCCESS: dict[str, Any] = {
    "task_id": TASK_ID,
    "status": "SUCCESS",
    "progress": {"stage": "done", "percent": 100},
    "submitted_at": "2025-11-08T09:30:04Z",
    "finished_at": "2025-11-08T09:30:12Z",
    "result": RESULT,
    "error": None,
}

JOB_LIST: dict[str, Any] = {
    "jobs": [
        {
            "task_id": TASK_ID,
            "status": "SUCCESS",
            "progress": {"stage": "done", "percent": 100},
            "submitted_at": "2025-11-08T09:30:04Z",
            "finished_at": "2025-11-08T09:30:12Z",
            "error": None,
            "params": {
                "start_date": "2023-01-01",
                "end_date": "2025-10-31",
                "status": "completed",
                "horizon": 3,
                "level": 90.0,
                "model": "ets",
                "callback_url": None,
                "refresh": False,
            },
            "forecast": {
                "period": "2025-11",
                "model": "ets",
                "next_month_forecast": 15620.0,
                "expected_range_low": 14480.0,
                "expected_range_high": 16760.0,
                "confidence_level": 90.0,
                "model_accuracy": 95.8,
            },
        }
    ],
    "limit": 20,
}


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"status": "error", "error": error}


# One typical answer for each error status the operations list.
ERRORS: dict[int, dict[str, Any]] = {
    400: _error("invalid_request", "the body is not valid JSON"),
    401: _error("unauthorized", "an API key is required (Authorization: Bearer <key> or X-API-Key)"),
    404: _error("not_found", "no job with this id"),
    409: _error("already_finished", "the job has already finished"),
    413: _error("payload_too_large", "the request body is too large"),
    422: _error("invalid_request", "horizon: Input should be less than or equal to 24", "horizon"),
    502: _error("upstream_unavailable", "Laravel could not be reached"),
    503: _error("broker_unavailable", "the job queue is unreachable; try again shortly"),
}
