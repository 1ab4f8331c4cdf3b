"""GET /api/v1/alerts (docs/api.md §11): the alerts the history raised, newest first, filtered,
paged by cursor; bad filters are 422 naming the field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.history import migrate
from shared.history.records import HorizonMonth, Publication, SeriesForecast, series_key
from shared.history.repository import HistoryRepository

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)
YEAR = tuple((f"2024-{m:02d}", 100.0) for m in range(1, 13))


@pytest.fixture
def db_url(tmp_path):
    """Three products whose outlook falls (forecast_drop), then the total's March below its range."""
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    migrate.upgrade(url)
    repo = HistoryRepository.from_url(url)
    products = tuple(
        SeriesForecast(series_key({"product_id": f"p{k}"}), "ets", (HorizonMonth("2025-01", 50, 40, 60),), YEAR)
        for k in range(3)
    )
    total = SeriesForecast("{}", "ets", (HorizonMonth("2025-01", 100, 90, 110),), YEAR)
    for k, product in enumerate(products):
        repo.record(Publication(f"job-{k}", NOW + timedelta(hours=k), "laravel:http://shop", "completed", "units",
                                90.0, f"fp-{k}", "2024-12", (total, product)), drop_pct=10, now=NOW + timedelta(hours=k))
    seen = SeriesForecast("{}", "ets", (HorizonMonth("2025-02", 100, 90, 110),), (*YEAR, ("2025-01", 60.0)))
    repo.record(Publication("job-seen", NOW + timedelta(days=30), "laravel:http://shop", "completed", "units", 90.0,
                            "fp-seen", "2025-01", (seen,)), drop_pct=10, now=NOW + timedelta(days=30))
    repo.engine.dispose()
    return url


@pytest.fixture
def client(make_web_app, db_url):
    return make_web_app(database_url=db_url).test_client()


def test_alerts_are_listed_newest_first(client):
    body = client.get("/api/v1/alerts").json
    kinds = [(a["kind"], a["series"], a["period"]) for a in body["alerts"]]
    assert kinds == [
        ("below_range", {}, "2025-01"),
        ("forecast_drop", {"product_id": "p2"}, "2025-01"),
        ("forecast_drop", {"product_id": "p1"}, "2025-01"),
        ("forecast_drop", {"product_id": "p0"}, "2025-01"),
    ]
    below = body["alerts"][0]
    assert (below["actual"], below["low"], below["high"], below["level"], below["task_id"]) == (60.0, 90.0, 110.0, 90.0, "job-seen")
    assert body["alerts"][1]["change_pct"] == -50.0
    assert body["next_cursor"] is None


def test_filters_and_the_cursor(client):
    assert [a["kind"] for a in client.get("/api/v1/alerts?kind=below_range").json["alerts"]] == ["below_range"]
    assert [a["series"] for a in client.get('/api/v1/alerts?group={"product_id":"p1"}').json["alerts"]] == [
        {"product_id": "p1"}
    ]
    since = (NOW + timedelta(hours=1)).isoformat()
    assert len(client.get("/api/v1/alerts", query_string={"since": since}).json["alerts"]) == 3
    first = client.get("/api/v1/alerts?limit=2").json
    rest = client.get("/api/v1/alerts", query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    ids = [a["id"] for a in first["alerts"] + rest["alerts"]]
    assert ids == [a["id"] for a in client.get("/api/v1/alerts").json["alerts"]] and len(set(ids)) == 4


@pytest.mark.parametrize(("query", "field"), [
    ("kind=falling", "kind"), ("since=yesterday", "since"), ("limit=0", "limit"), ("cursor=%%%", "cursor"),
    ("group=[1]", "group"),
])
def test_filters_that_do_not_parse_are_422_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/alerts?{query}")
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_request" and response.json["error"]["field"] == field


def test_the_alerts_are_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    op = spec["paths"]["/api/v1/alerts"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"since", "kind", "group", "limit", "cursor"}
    assert "Alert" in spec["components"]["schemas"] and "AlertList" in spec["components"]["schemas"]
