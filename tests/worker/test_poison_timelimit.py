"""A message's `timelimit` header may lower the worker's time limits, never raise them."""
from __future__ import annotations

import json

import pytest

from worker.poison import inspect_message

CAPS = (1200.0, 1500.0)  # (soft, hard), as configured; the header is [hard, soft] (Celery's order)


def _message(timelimit) -> bytes:
    from tests.laravel.conftest import celery_message

    _, envelope = celery_message({"horizon": 3})
    envelope["headers"]["timelimit"] = timelimit
    return json.dumps(envelope).encode()


def _lookup(name: str):
    def forecast_sales(**kwargs) -> None: ...

    return forecast_sales if name == "forecast.sales" else None


@pytest.mark.parametrize(
    "sent, delivered",
    [
        ([90000, 86400], [1500.0, 1200.0]),  # a Laravel producer asking for a day: capped
        ([90, 60], [90, 60]),  # lower limits stand
        ([99999, None], [1500.0, None]),  # None: Celery applies the configured limit
        ([None, 99999], [None, 1200.0]),
        ([None, None], [None, None]),
        (None, None),
    ],
)
def test_the_timelimit_header_is_capped_at_the_configured_limits(sent, delivered):
    payload = inspect_message(_message(sent), lookup=_lookup, time_limits=CAPS)
    assert payload["headers"]["timelimit"] == delivered


def test_without_configured_limits_the_header_stands():
    payload = inspect_message(_message([86400, 90000]), lookup=_lookup, time_limits=(None, None))
    assert payload["headers"]["timelimit"] == [86400, 90000]


def test_the_worker_passes_its_configured_limits_to_the_guard():
    from shared.contract.config import Settings
    from worker.celery_app import create_celery

    app = create_celery(Settings(task_soft_time_limit_seconds=30, task_time_limit_seconds=45, redis_url="redis://127.0.0.1:1/0"))
    options = app.conf.broker_transport_options
    assert (options["max_soft_time_limit"], options["max_time_limit"]) == (30, 45)
