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


# ---- types are refused, not coerced (issue 24 item 2) -------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"start_date": 0}, "start_date"),  # pydantic's lax mode read this as 1970-01-01
        ({"end_date": 20250101}, "end_date"),
        ({"start_date": "2025-01-01T00:00:00"}, "start_date"),
        ({"start_date": "2025-1-1"}, "start_date"),
        ({"start_date": " 2025-01-01"}, "start_date"),
        ({"start_date": True}, "start_date"),
        ({"end_date": ["2025-01-01"]}, "end_date"),
        ({"horizon": "3.0"}, "horizon"),
        ({"horizon": " 3"}, "horizon"),
        ({"horizon": "+3"}, "horizon"),
        ({"horizon": "03"}, "horizon"),
        ({"horizon": "0x3"}, "horizon"),
        ({"horizon": "٣"}, "horizon"),  # an Arabic-Indic digit: int() would take it
        ({"horizon": [3]}, "horizon"),
        ({"level": "9e1"}, "level"),
        ({"level": "90_0"}, "level"),
        ({"level": " 90"}, "level"),
        ({"level": "90."}, "level"),
        ({"level": "inf"}, "level"),
        ({"level": True}, "level"),
        ({"level": None}, "level"),
        ({"status": 1}, "status"),
        ({"model": 1}, "model"),
        ({"group_by": "category"}, "group_by"),
        ({"callback_url": 1}, "callback_url"),
    ],
)
def test_wrong_types_are_refused_not_coerced(body, field):
    with pytest.raises(InvalidRequest) as info:
        ForecastRequest.parse(body)
    assert info.value.field == field, info.value.message
    assert not info.value.message.startswith(f"{field}: Value error"), info.value.message


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"horizon": "6"}, {"horizon": 6}),
        ({"horizon": 6.0}, {"horizon": 6}),  # JSON's 6.0 is the integer 6
        ({"level": "90"}, {"level": 90.0}),
        ({"level": "97.5"}, {"level": 97.5}),
        ({"level": 80}, {"level": 80.0}),
        ({"start_date": "2025-01-01", "end_date": "2025-06-30"},
         {"start_date": date(2025, 1, 1), "end_date": date(2025, 6, 30)}),
    ],
)
def test_numbers_as_plain_decimal_strings_are_accepted(body, expected):
    request = ForecastRequest.parse(body)
    assert {name: getattr(request, name) for name in expected} == expected


def test_the_published_string_patterns_are_exactly_what_is_accepted():
    """/openapi.json publishes the strings `horizon` and `level` may be (a fuzzer sends them)."""
    import re

    document = ForecastRequest.model_json_schema()
    schema = document["properties"]
    # horizon's own bound for the default frequency (months): the allOf branch without a frequency
    monthly = next(c["then"]["properties"]["horizon"] for c in document["allOf"] if "not" in c["if"])
    patterns = {
        "horizon": next(b["pattern"] for b in monthly["anyOf"] if b["type"] == "string"),
        "level": next(b["pattern"] for b in schema["level"]["anyOf"] if b["type"] == "string"),
    }
    candidates = {
        "horizon": [str(n) for n in range(0, 40)] + ["06", "1.0", "24 ", "-1"],
        "level": ["49", "49.99", "50", "50.0", "65.25", "80", "98.999999", "99", "99.5", "99.9", "99.90",
                  "99.900000", "99.9000001", "53.33216841252874", "99.123456789012345678901", "99.91", "99.95", "100", "050", "5e1", "75.", ".5"],
    }
    for name, values in candidates.items():
        for value in values:
            try:
                ForecastRequest.parse({name: value})
                accepted = True
            except InvalidRequest:
                accepted = False
            assert accepted == bool(re.fullmatch(patterns[name], value)), (name, value, accepted)
