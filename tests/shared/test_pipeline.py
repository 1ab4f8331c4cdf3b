"""shared.engine.pipeline.run_forecast on in-memory transactions: stages, reuse, cache, honest fields."""
from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest

from shared.contract.errors import InsufficientHistory
from shared.contract.schema import ForecastRequest, months_before
from shared.engine.model_store import ModelStore
from shared.engine.pipeline import Stage, StaticSource, run_forecast
from shared.sources.transactions import columns_from_rows

TODAY = date(2026, 11, 24)


def rows(months: int, today: date = TODAY, seed: int = 5) -> list[dict]:
    rng = np.random.default_rng(seed)
    out, next_id = [], 1
    for back in range(months, -1, -1):
        first = months_before(today, back)
        level = 1000 + 20 * (months - back) + (300 if first.month == 12 else 0)
        for day in (3, 11, 19):
            when = datetime(first.year, first.month, day, 12, tzinfo=timezone.utc)
            out.append({"id": next_id, "created_at": when.isoformat(), "grand_total": f"{level / 3 * rng.uniform(0.9, 1.1):.2f}"})
            next_id += 1
    return out


def source(months: int = 40) -> StaticSource:
    return StaticSource(columns_from_rows(rows(months)), "test")


class DictCache:
    def __init__(self) -> None:
        self.data: dict = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = value


def run(request: dict | None = None, **kwargs):
    return run_forecast(ForecastRequest.parse(request or {}).resolved(TODAY), kwargs.pop("src", None) or source(), today=TODAY, **kwargs)


def test_document_fields_mean_what_they_say():
    document = run({"horizon": 4, "level": 80})
    data = document["data"]
    actual = data["actual_sales"]
    assert len(actual) == 36 and actual[0]["period"] == "2023-11" and actual[-1]["period"] == "2026-10"
    assert actual[-1]["month"] == "Oct"
    forecast = data["forecast"]
    assert forecast["period"] == "2026-11" and [h["period"] for h in forecast["horizon"]] == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert forecast["confidence_level"] == 80
    last, previous = actual[-1]["total_sales"], actual[-2]["total_sales"]
    assert forecast["growth_rate"] == pytest.approx((last - previous) / previous * 100, abs=0.01)
    assert forecast["forecast_growth_rate"] == pytest.approx((forecast["next_month_forecast"] - last) / last * 100, abs=0.01)
    assert forecast["model_accuracy"] == pytest.approx(100 - forecast["metrics"]["wape"], abs=0.01)
    for point in forecast["horizon"]:
        assert 0 <= point["low"] <= point["forecast"] <= point["high"]
    assert data["data_quality"]["partial_month"]["period"] == "2026-11"
    assert data["meta"]["cached"] is False and data["meta"]["source"] == "test"


def test_stages_are_reported_in_order():
    seen: list[tuple[Stage, int]] = []
    run(progress=lambda stage, percent: seen.append((stage, percent)))
    stages = [stage for stage, _ in seen]
    order = [Stage.FETCHING, Stage.AGGREGATING, Stage.TRAINING, Stage.BACKTESTING, Stage.PREDICTING]
    assert [s for s in order if s in stages] == order
    percents = [p for _, p in seen]
    assert percents == sorted(percents)


def test_fitted_models_are_reused_while_the_data_is_unchanged(tmp_path, monkeypatch):
    store = ModelStore(tmp_path, "k")
    first = run(model_store=store)
    fits = []
    import shared.engine.pipeline as pipeline

    original = pipeline.model_for
    monkeypatch.setattr(pipeline, "model_for", lambda name, frequency, **kw: fits.append(name) or original(name, frequency, **kw))
    second = run(model_store=store)
    assert fits == []  # loaded from the signed file, not re-fitted
    assert second["data"]["forecast"] == first["data"]["forecast"]
    run({"refresh": True}, model_store=store)
    assert fits == ["auto"]  # refresh re-fits


def test_a_tampered_model_file_is_refitted(tmp_path):
    store = ModelStore(tmp_path, "k")
    run(model_store=store)
    [path] = list(tmp_path.rglob("*.joblib"))
    path.write_bytes(b"\x00" * 40 + path.read_bytes()[40:])
    assert run(model_store=store)["status"] == "success"


def test_cached_forecast_is_reused_with_fresh_data_quality():
    cache = DictCache()
    first = run(cache=cache)
    second = run({"start_date": "2023-11-01"}, cache=cache)  # other dates, same months: same key
    assert second["data"]["meta"]["cached"] is True
    assert second["data"]["forecast"] == first["data"]["forecast"]
    assert run({"level": 95}, cache=cache)["data"]["meta"]["cached"] is False
    assert run({"refresh": True}, cache=cache)["data"]["meta"]["cached"] is False


def test_insufficient_history():
    with pytest.raises(InsufficientHistory):
        run({"start_date": months_before(TODAY, 2).isoformat()})


def test_three_months_is_enough_for_every_model():
    for model in ("auto", "linear", "seasonal_naive", "ets", "theta", "arima"):
        document = run({"start_date": months_before(TODAY, 3).isoformat(), "model": model})
        assert len(document["data"]["actual_sales"]) == 3
        assert document["data"]["forecast"]["expected_range_low"] >= 0


def test_series_key_depends_on_the_cents():
    src = source()
    cols = src.columns
    a = run(src=src)["data"]["meta"]["data_fingerprint"]
    cols.cents[-10] += 1  # one cent, in a complete month of the default range
    b = run(src=StaticSource(cols, "test"))["data"]["meta"]["data_fingerprint"]
    assert a != b


def young_shop(first_sale_months_ago: int, today: date = TODAY) -> StaticSource:
    """A shop whose first sale was ``first_sale_months_ago`` complete months before ``today``."""
    return StaticSource(columns_from_rows(rows(first_sale_months_ago, today)), "young")


@pytest.mark.parametrize("complete_months", [0, 1, 2])
def test_too_young_a_shop_is_insufficient_history_for_any_window(complete_months):
    src = young_shop(complete_months) if complete_months else StaticSource(columns_from_rows([]), "empty")
    for start in (months_before(TODAY, 35), months_before(TODAY, 12), None):
        body = {"start_date": start.isoformat()} if start else {}
        with pytest.raises(InsufficientHistory, match="from the first sale|no complete month with a sale"):
            run(body, src=src)


def test_a_window_before_the_first_sale_gives_the_same_forecast_and_backtest():
    src = young_shop(12)
    first_sale = months_before(TODAY, 12)
    wide = run({"start_date": months_before(TODAY, 35).isoformat(), "refresh": True}, src=src)["data"]
    narrow = run({"start_date": first_sale.isoformat(), "refresh": True}, src=src)["data"]
    assert wide["forecast"] == narrow["forecast"]
    assert wide["actual_sales"] == narrow["actual_sales"]
    assert wide["actual_sales"][0]["period"] == first_sale.isoformat()[:7]
    assert wide["meta"]["data_fingerprint"] == narrow["meta"]["data_fingerprint"]
    leading = wide["data_quality"]["leading_empty_months"]
    assert len(leading) == 23 and leading[-1] == months_before(TODAY, 13).isoformat()[:7]
    assert narrow["data_quality"]["leading_empty_months"] == []


def test_a_job_that_cleans_anomalies_says_so_and_reports_them(monkeypatch):
    from shared.engine import anomalies

    monkeypatch.setattr(anomalies, "CLEAN_BY_DEFAULT", True)
    sales = rows(40)
    bulk = {"id": 10_000, "created_at": datetime(2025, 3, 5, 12, tzinfo=timezone.utc).isoformat(), "grand_total": "2500.00"}
    document = run({"refresh": True}, src=StaticSource(columns_from_rows(sales + [bulk]), "test"))
    data = document["data"]
    assert [(a["period"], a["kind"]) for a in data["anomalies"]] == [("2025-03", "spike")]
    assert data["forecast"]["model"].endswith(", 1 anomaly cleaned")
