"""The request fields of docs/api.md §10 end to end from the shop, on this machine's Laravel: a weekly
job with holidays and events, and a daily one, built with ForecastRequest (docs/laravel.md's
snippet, the shop's shop:forecast-calendar), dispatched through Redis with phpredis or predis, run
by the real worker on the shop's sales, and read back as a ForecastResult."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from tests.laravel.in_laravel.conftest import Service
from tests.laravel.shop import Shop

pytestmark = pytest.mark.slow
LABEL = {"week": re.compile(r"^\d{4}-W\d{2}$"), "day": re.compile(r"^\d{4}-\d{2}-\d{2}$")}


@pytest.mark.parametrize(("frequency", "client", "horizon"), [("week", "phpredis", 8), ("day", "predis", 14)])
def test_a_calendar_job_from_the_builder_runs_and_reads_back(frequency: str, client: str, horizon: int, shop: Shop, service: Service) -> None:
    code, out, log = shop.artisan_json("shop:forecast-calendar", f"--frequency={frequency}", "--timeout=240",
                                       env={"REDIS_CLIENT": client}, timeout=300)
    assert code == 0, log[-4000:] + service.log()[-4000:]
    request = out["request"]
    assert request["frequency"] == frequency and request["holidays"] == "US" and request["horizon"] == horizon
    assert [e["name"] for e in request["events"]] == ["Spring sale", "Next promo"]
    # The worker ran what was sent: the message's kwargs are the builder's fields.
    assert json.loads(service.redis.get(f"celery-task-meta-{out['task_id']}"))["status"] == "SUCCESS"
    document = out["document"]
    forecast = document["data"]["forecast"]
    assert out["status"] == "SUCCESS" and out["error"] is None
    assert forecast["frequency"] == frequency and "next_period_forecast" in forecast and "next_month_forecast" not in forecast
    periods = [h["period"] for h in forecast["horizon"]]
    assert len(periods) == horizon and all(LABEL[frequency].match(p) for p in periods), periods
    assert all(LABEL[frequency].match(a["period"]) for a in document["data"]["actual_sales"])
    # Each horizon entry names the holidays and events in it: the promo, ten days from today, is in one.
    promo = (date.today() + timedelta(days=10))
    label = promo.isoformat() if frequency == "day" else f"{promo.isocalendar()[0]}-W{promo.isocalendar()[1]:02d}"
    by_period = {h["period"]: h for h in forecast["horizon"]}
    assert "Next promo" in by_period[label]["events"], by_period[label]
    assert all(isinstance(h["events"], list) for h in forecast["horizon"])
