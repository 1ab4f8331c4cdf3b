from datetime import date

import pytest

from shared.contract.errors import ErrorCode, ForecastError, InsufficientHistory, InvalidRequest
from shared.contract.schema import ForecastRequest, month_label, months_before


def test_defaults_are_36_complete_months_plus_month_to_date():
    request = ForecastRequest.parse({}).resolved(date(2026, 11, 24))
    assert request.start_date == date(2023, 11, 1)
    assert request.end_date == date(2026, 11, 24)
    assert (request.horizon, request.level, request.model) == (3, 90.0, "auto")


def test_params_key_ignores_callback_and_refresh():
    a = ForecastRequest.parse({"horizon": 4}).resolved(date(2026, 1, 5))
    b = ForecastRequest.parse({"horizon": 4, "refresh": True, "callback_url": "https://x.test/h"}).resolved(date(2026, 1, 5))
    c = ForecastRequest.parse({"horizon": 5}).resolved(date(2026, 1, 5))
    assert a.params_key() == b.params_key() != c.params_key()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": 25}, "horizon"),
        ({"horizon": True}, "horizon"),
        ({"horizon": 2.5}, "horizon"),
        ({"level": 49.9}, "level"),
        ({"level": 100}, "level"),
        ({"level": "high"}, "level"),
        ({"model": "prophet"}, "model"),
        ({"start_date": "2025-02-30"}, "start_date"),
        ({"start_date": "2025-03-01", "end_date": "2025-01-01"}, None),
        ({"refresh": "yes"}, "refresh"),
        ({"callback_url": "javascript:alert(1)"}, "callback_url"),
        ({"status": "paid; DROP TABLE sales"}, "status"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_bodies_name_the_field(body, field):
    with pytest.raises(InvalidRequest) as info:
        ForecastRequest.parse(body)
    assert info.value.code == ErrorCode.INVALID_REQUEST
    if field:
        assert info.value.field == field


def test_non_object_body():
    for body in ([], "x", 3):
        with pytest.raises(InvalidRequest):
            ForecastRequest.parse(body)


def test_error_args_carry_the_stable_code_first():
    exc = InsufficientHistory("only 2 months")
    assert exc.args == ("insufficient_history", "only 2 months")
    assert str(exc) == "only 2 months"
    assert ForecastError("boom").code == ErrorCode.INTERNAL_ERROR


def test_month_helpers():
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 1)
    assert month_label("2025-01") == "Jan"
