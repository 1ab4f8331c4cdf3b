"""docs/api.md §10, rule by rule: the calendar (labels, ISO weeks, windows, limits), the periods the
aggregation builds for weeks and days (DST days, the period in progress, history from the first
sale), the request's new fields and their 422s, insufficient_history per frequency."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.contract.errors import InsufficientHistory, InvalidRequest
from shared.contract.schema import ForecastRequest
from shared.engine.aggregate import aggregate, from_first_sale
from shared.engine.periods import PeriodGrid
from shared.engine.pipeline import StaticSource, run_forecast
from shared.sources.transactions import columns_from_rows

W, D, M = Frequency.WEEK, Frequency.DAY, Frequency.MONTH


# ---- labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day,frequency,label",
    [
        (date(2025, 1, 15), M, "2025-01"),
        (date(2025, 1, 15), W, "2025-W03"),
        (date(2025, 1, 15), D, "2025-01-15"),
        # ISO weeks across the year boundary: a week belongs to the ISO year of its Thursday.
        (date(2024, 12, 30), W, "2025-W01"),
        (date(2025, 1, 5), W, "2025-W01"),
        (date(2021, 1, 3), W, "2020-W53"),
        (date(2027, 1, 3), W, "2026-W53"),
        (date(2027, 1, 4), W, "2027-W01"),
    ],
)
def test_labels(day, frequency, label):
    index = calendar.period_index(day, frequency)
    assert calendar.label(index, frequency) == label
    assert calendar.parse_label(label, frequency) == index
    assert calendar.period_start(index, frequency) <= day <= calendar.period_end(index, frequency)


def test_weeks_run_monday_to_sunday():
    for day in (date(2020, 12, 31), date(2025, 6, 1), date(2026, 3, 29)):
        i = calendar.period_index(day, W)
        assert calendar.period_start(i, W).weekday() == 0 and calendar.period_end(i, W).weekday() == 6
        assert calendar.period_days(i, W) == 7


@pytest.mark.parametrize("year,has_53", [(2020, True), (2026, True), (2015, True), (2021, False), (2025, False)])
def test_week_53_years(year, has_53):
    label = f"{year}-W53"
    if has_53:
        i = calendar.parse_label(label, W)
        assert calendar.next_labels(f"{year}-W52", 2, W) == [label, f"{year + 1}-W01"]
        assert calendar.label(i, W) == label
    else:
        with pytest.raises(ValueError):
            calendar.parse_label(label, W)
        assert calendar.next_labels(f"{year}-W52", 1, W) == [f"{year + 1}-W01"]


def test_stepping_over_year_ends():
    assert calendar.next_labels("2025-12", 2, M) == ["2026-01", "2026-02"]
    assert calendar.next_labels("2024-12-31", 2, D) == ["2025-01-01", "2025-01-02"]
    assert calendar.next_labels("2024-02-28", 2, D) == ["2024-02-29", "2024-03-01"]


@pytest.mark.parametrize("text,frequency", [("2025-13", M), ("2025-W00", W), ("2025-W3", W), ("2025-1-5", D), ("x", M)])
def test_malformed_labels_are_refused(text, frequency):
    with pytest.raises(ValueError):
        calendar.parse_label(text, frequency)


# ---- windows ------------------------------------------------------------------------------------

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    "frequency,start,periods",
    [(M, date(2023, 11, 1), 36), (W, date(2023, 11, 27), 156), (D, date(2024, 11, 25), 730)],
)
def test_default_window_is_the_complete_periods_before_today_plus_the_one_in_progress(frequency, start, periods):
    request = ForecastRequest.parse({"frequency": str(frequency)}).resolved(TODAY)
    assert (request.start_date, request.end_date) == (start, TODAY)
    first = calendar.period_index(start, frequency)
    assert calendar.period_index(TODAY, frequency) - first == periods
    assert request.horizon == calendar.spec(frequency).default_horizon == {M: 3, W: 13, D: 28}[frequency]


@pytest.mark.parametrize(
    "frequency,end,window",
    [
        # A month's last day: 36 complete months up to it ("the forecast as of June 2024").
        (M, date(2024, 6, 30), (date(2021, 7, 1), date(2024, 6, 30))),
        # Cut short: the window ends on the last day of the last complete month.
        (M, date(2024, 6, 15), (date(2021, 6, 1), date(2024, 5, 31))),
        (M, date(2015, 2, 28), (date(2012, 3, 1), date(2015, 2, 28))),
        # A Sunday ends its week; a Wednesday falls back to the Sunday before.
        (W, date(2024, 6, 30), (date(2021, 7, 5), date(2024, 6, 30))),
        (W, date(2024, 7, 3), (date(2021, 7, 5), date(2024, 6, 30))),
        (D, date(2024, 6, 30), (date(2022, 7, 2), date(2024, 6, 30))),  # 730 days, 29 February 2024 among them
    ],
)
def test_an_end_date_alone_ends_the_window_on_a_periods_last_day(frequency, end, window):
    request = ForecastRequest.parse({"frequency": str(frequency), "end_date": end.isoformat()}).resolved(TODAY)
    assert (request.start_date, request.end_date) == window
    last = calendar.period_index(request.end_date, frequency)
    assert calendar.period_end(last, frequency) == request.end_date
    first = calendar.period_index(request.start_date, frequency)
    assert last - first + 1 == calendar.spec(frequency).default_window


def test_an_end_date_in_the_period_in_progress_keeps_it():
    request = ForecastRequest.parse({"end_date": "2026-11-20"}).resolved(TODAY)
    assert (request.start_date, request.end_date) == (date(2023, 11, 1), date(2026, 11, 20))


def test_a_resolved_request_resolves_to_itself():
    request = ForecastRequest.parse({"frequency": "week", "events": [{"name": "x", "start": "2026-01-02"}]}).resolved(TODAY)
    assert request.resolved(date(2030, 1, 1)) == request
    assert request.events[0].end == date(2026, 1, 2)


# ---- the request's fields and their 422s -----------------------------------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        ({"frequency": "quarter"}, "frequency"),
        ({"horizon": 25}, "horizon"),
        ({"frequency": "week", "horizon": 105}, "horizon"),
        ({"frequency": "day", "horizon": 367}, "horizon"),
        ({"frequency": "day", "horizon": 0}, "horizon"),
        ({"holidays": "XX"}, "holidays"),
        ({"holidays": "US-ZZ"}, "holidays"),
        ({"holidays": [3]}, "holidays.0"),
        ({"holidays": ["US", "DE"]}, "holidays"),
        ({"events": {"name": "x"}}, "events"),
        ({"events": [{"start": "2025-01-01"}]}, "events.0.name"),
        ({"events": [{"name": "", "start": "2025-01-01"}]}, "events.0.name"),
        ({"events": [{"name": "x" * 101, "start": "2025-01-01"}]}, "events.0.name"),
        ({"events": [{"name": "x", "start": "2025-13-01"}]}, "events.0.start"),
        ({"events": [{"name": "x", "start": "2025-02-01", "end": "2025-01-31"}]}, "events.0"),
        ({"events": [{"name": "x", "start": "2025-01-01", "end": "2026-06-01"}]}, "events.0"),
        ({"events": [{"name": "x", "start": "2025-01-01", "colour": "red"}]}, "events.0.colour"),
        ({"events": [{"name": "x", "start": "2025-01-01"}] * 501}, "events"),
    ],
)
def test_bad_input_is_invalid_request_naming_the_field(body, field):
    with pytest.raises(InvalidRequest) as caught:
        ForecastRequest.parse(body)
    assert caught.value.code == "invalid_request" and caught.value.field == field


@pytest.mark.parametrize("frequency,limit", [("month", 24), ("week", 104), ("day", 366)])
def test_horizon_limits_per_frequency(frequency, limit):
    assert ForecastRequest.parse({"frequency": frequency, "horizon": limit}).horizon == limit


def test_holiday_codes_are_canonical_and_default_to_the_setting():
    assert ForecastRequest.parse({"holidays": "us-ca"}).holidays == ["US-CA"]
    assert ForecastRequest.parse({"holidays": ["de-by"]}).holidays == ["DE-BY"]
    assert ForecastRequest.parse({}).resolved(TODAY, "GB").holidays == ["GB"]
    assert ForecastRequest.parse({"holidays": []}).resolved(TODAY, "GB").holidays == []  # [] turns them off
    assert ForecastRequest.parse({}).resolved(TODAY).holidays == []


def test_500_events_are_fine():
    events = [{"name": f"promo {k}", "start": "2025-01-01"} for k in range(500)]
    assert len(ForecastRequest.parse({"events": events}).events) == 500


def test_monthly_requests_keep_their_keys():
    plain = ForecastRequest.parse({}).resolved(TODAY)
    assert set(plain.cache_params()) == {"start_date", "end_date", "status", "horizon", "level", "model"}
    weekly = ForecastRequest.parse({"frequency": "week", "holidays": "US"}).resolved(TODAY)
    assert weekly.cache_params()["frequency"] == "week" and weekly.cache_params()["holidays"] == ["US"]
    assert weekly.params_key() != ForecastRequest.parse({"frequency": "week"}).resolved(TODAY).params_key()


def test_the_holiday_code_list_is_the_packages():
    holidays = pytest.importorskip("holidays")
    listed = {k: sorted(v) for k, v in holidays.list_supported_countries(include_aliases=False).items()}
    copy = json.loads(calendar._HOLIDAY_CODES_FILE.read_text())
    assert copy["holidays_version"] == holidays.__version__
    assert copy["countries"] == listed


# ---- periods of weeks and days in the aggregation ------------------------------------------------


def row(i: int, created_at: str, total: str = "10.00") -> dict:
    return {"id": i, "created_at": created_at, "grand_total": total}


def agg(rows, frequency, *, tz="UTC", today, start, end=None):
    return aggregate(
        columns_from_rows(rows, tz), frequency=frequency, timezone=tz, today=today, start_date=start, end_date=end or today
    )


def test_dst_days_are_23_and_25_hours_long_in_berlin():
    grid = PeriodGrid.spanning(calendar.period_index(date(2025, 3, 29), D), 3, D, "Europe/Berlin")
    hours = [(b - a) / 3.6e12 for a, b in zip(grid.bounds[:-1], grid.bounds[1:])]
    assert hours == [24, 23, 24]  # 30 March 2025: the clocks go forward
    grid = PeriodGrid.spanning(calendar.period_index(date(2025, 10, 25), D), 3, D, "Europe/Berlin")
    assert [(b - a) / 3.6e12 for a, b in zip(grid.bounds[:-1], grid.bounds[1:])] == [24, 25, 24]
    rows = [
        row(1, "2025-03-29T23:00:00Z"),  # 00:00 CET, 30 March: the short day's first instant
        row(2, "2025-03-30T21:59:59Z"),  # 23:59:59 CEST, 30 March: its last
        row(3, "2025-03-30T22:00:00Z"),  # 00:00 CEST, 31 March
        row(4, "2025-10-26 02:30:00"),  # the repeated hour, naive local time: 26 October
        row(5, "2025-10-26T22:59:59Z"),  # 23:59:59 CET, 26 October: the long day's last instant
        row(6, "2025-10-26T23:00:00Z"),  # 00:00 CET, 27 October
    ]
    s = agg(rows, D, tz="Europe/Berlin", today=date(2025, 11, 1), start=date(2025, 3, 29))
    by = dict(zip(s.periods, s.counts.tolist()))
    assert (by["2025-03-29"], by["2025-03-30"], by["2025-03-31"]) == (0, 2, 1)
    assert (by["2025-10-25"], by["2025-10-26"], by["2025-10-27"]) == (0, 2, 1)
    # ...and the weeks around them are whole weeks of local days.
    w = agg(rows, W, tz="Europe/Berlin", today=date(2025, 11, 10), start=date(2025, 3, 24))
    byw = dict(zip(w.periods, w.counts.tolist()))
    assert (byw["2025-W13"], byw["2025-W14"], byw["2025-W43"], byw["2025-W44"]) == (2, 1, 2, 1)


def test_partial_week_is_reported_never_trained_on():
    rows = [row(i, f"2026-11-{d:02d}T12:00:00Z") for i, d in enumerate((2, 9, 16, 23, 24, 25, 26), start=1)]
    s = agg(rows, W, today=TODAY, start=date(2026, 11, 2))
    assert s.periods == ["2026-W45", "2026-W46", "2026-W47"]
    assert s.data_quality["partial_period"] == {
        "period": "2026-W48", "start": "2026-11-23", "end": "2026-11-29", "total_sales": 30.0,
        "transaction_count": 3, "days_elapsed": 3, "days_in_period": 7,
    }
    assert s.data_quality["rows_rejected"] == {"out_of_range": 1}  # after today, past end_date (today)
    assert "partial_month" not in s.data_quality  # a monthly field only


def test_partial_day_is_today():
    rows = [row(1, "2026-11-24T12:00:00Z"), row(2, "2026-11-25T08:00:00Z"), row(3, "2026-11-25T09:00:00Z")]
    s = agg(rows, D, today=TODAY, start=date(2026, 11, 23))
    assert s.periods == ["2026-11-23", "2026-11-24"]
    partial = s.data_quality["partial_period"]
    assert (partial["period"], partial["total_sales"], partial["days_elapsed"], partial["days_in_period"]) == ("2026-11-25", 20.0, 1, 1)


def test_a_week_started_in_its_middle_is_left_out():
    rows = [row(1, "2026-11-04T12:00:00Z"), row(2, "2026-11-10T12:00:00Z")]
    s = agg(rows, W, today=TODAY, start=date(2026, 11, 4))  # a Wednesday
    assert s.periods[0] == "2026-W46"
    assert s.data_quality["rows_rejected"] == {"incomplete_first_period": 1}


def test_weekly_history_starts_at_the_first_sale():
    rows = [row(1, "2026-10-14T12:00:00Z"), row(2, "2026-11-04T12:00:00Z")]
    s = from_first_sale(agg(rows, W, today=TODAY, start=date(2026, 9, 28)))
    assert s.periods == ["2026-W42", "2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert s.data_quality["leading_empty_months"] == ["2026-W40", "2026-W41"]
    assert s.counts.tolist() == [1, 0, 0, 1, 0, 0]  # empty weeks after the first sale are real zeros
    assert s.grid is not None and len(s.grid) == len(s.periods)


def test_a_window_ending_on_a_sunday_ends_with_that_week():
    rows = [row(1, "2026-11-08T20:00:00Z")]
    s = agg(rows, W, today=TODAY, start=date(2026, 10, 26), end=date(2026, 11, 8))
    assert s.periods[-1] == "2026-W45" and s.counts[-1] == 1 and s.data_quality["partial_period"] is None


# ---- insufficient history, per frequency ----------------------------------------------------------


def daily_rows(first: date, days: int) -> list[dict]:
    return [
        row(k + 1, datetime(d.year, d.month, d.day, 12, tzinfo=timezone.utc).isoformat())
        for k, d in enumerate(first + timedelta(days=i) for i in range(days))
    ]


@pytest.mark.parametrize(
    "frequency,days,enough",
    [
        ("week", 2 * 7 + 2, False),  # two complete weeks from the first sale (a Monday) to today's week
        ("week", 3 * 7 + 2, True),
        ("day", 27, False),  # 27 complete days
        ("day", 28, True),
    ],
)
def test_insufficient_history_per_frequency(frequency, days, enough):
    first = TODAY - timedelta(days=days)
    if frequency == "week":
        first = TODAY - timedelta(days=TODAY.weekday()) - timedelta(days=7 * (days // 7))
    source = StaticSource(columns_from_rows(daily_rows(first, (TODAY - first).days + 1)), "t")
    request = ForecastRequest.parse({"frequency": frequency, "model": "seasonal_naive"}).resolved(TODAY)
    if enough:
        document = run_forecast(request, source, today=TODAY)
        assert len(document["data"]["actual_sales"]) == calendar.spec(frequency).min_history
    else:
        with pytest.raises(InsufficientHistory, match=f"complete {frequency}"):
            run_forecast(request, source, today=TODAY)
