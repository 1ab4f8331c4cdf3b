"""GET /api/v1/history and /api/v1/track-record: answers, bad input, auth, the database down."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from local.redis_server import free_port
from shared.history import migrate
from shared.history.records import HorizonMonth, Publication, SeriesForecast, series_key
from shared.history.repository import HistoryRepository

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    migrate.upgrade(url)
    repo = HistoryRepository.from_url(url)
    shoes = series_key({"category": "Shoes"})
    for n, (origin, period, actual) in enumerate([("2025-01", "2025-02", 95.0), ("2025-02", "2025-03", 130.0)]):
        grouped = SeriesForecast(shoes, "share", (HorizonMonth(period, 40, 35, 45),), ((origin, 41.0),))
        total = SeriesForecast("{}", "ets", (HorizonMonth(period, 100, 90, 110),), ((origin, actual),))
        repo.record(Publication(f"job-{n}", NOW + timedelta(days=30 * n), "laravel:http://shop", "completed",
                                "revenue", 90.0, f"fp-{n}", origin, (total, grouped)))
    repo.engine.dispose()
    return url


@pytest.fixture
def client(make_web_app, db_url):
    return make_web_app(database_url=db_url).test_client()


def test_history_lists_past_forecasts_newest_first_with_their_actuals(client):
    response = client.get("/api/v1/history")
    assert response.status_code == 200
    body = response.json
    assert body["series"] == {"group": {}, "measure": "revenue", "frequency": "month"}
    first, second = body["forecasts"]
    assert (first["task_id"], first["period"], first["actual"], first["inside"]) == ("job-1", "2025-03", None, None)
    assert (second["task_id"], second["period"], second["actual"], second["inside"]) == ("job-0", "2025-02", 130.0, False)
    assert second["error_pct"] == pytest.approx(23.08, abs=0.01)
    assert set(second) >= {"task_id", "created_at", "period", "forecast", "low", "high", "level", "model",
                           "actual", "error_pct", "inside"}
    assert len(client.get("/api/v1/history?limit=1").json["forecasts"]) == 1


def test_a_group_is_named_by_its_fields(client):
    rows = client.get('/api/v1/history?group={"category":"Shoes"}').json["forecasts"]
    assert [r["model"] for r in rows] == ["share", "share"]
    assert client.get('/api/v1/history?group={"category":"Socks"}').json["forecasts"] == []


def test_track_record_per_months_ahead(client):
    body = client.get("/api/v1/track-record").json
    assert body["horizons"] == [
        {"months_ahead": 1, "level": 90.0, "count": 1, "inside": 0, "coverage": 0.0, "mape": 23.08, "wape": 23.08}
    ]
    assert body["pending"] == 1


@pytest.mark.parametrize(
    "query, field",
    [
        ("group=nope", "group"),
        ("group=[1]", "group"),
        ('group={"a":{"b":1}}', "group"),
        ("measure=weight", "measure"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=100000", "limit"),
        ("source=", "source"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, query, field):
    for path in ("/api/v1/history", "/api/v1/track-record"):
        if field == "limit" and path.endswith("track-record"):
            continue
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query, response.json)
        assert response.json["error"]["code"] == "invalid_request"
        assert response.json["error"]["field"] == field


def test_the_same_auth_as_the_rest_of_the_api(make_web_app, db_url):
    client = make_web_app(database_url=db_url, api_keys=("k",)).test_client()
    for path in ("/api/v1/history", "/api/v1/track-record"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"X-API-Key": "k"}).status_code == 200


def test_the_database_down_is_a_503_history_unavailable(make_web_app):
    client = make_web_app(database_url=f"postgresql://app@127.0.0.1:{free_port()}/history").test_client()
    for path in ("/api/v1/history", "/api/v1/track-record"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "history_unavailable"


def test_the_routes_are_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    assert {"/api/v1/history", "/api/v1/track-record"} <= set(spec["paths"])
    assert "history_unavailable" in spec["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
    assert {"HistoryList", "TrackRecord"} <= set(spec["components"]["schemas"])


def test_the_dashboard_has_the_track_record_panel(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="track-record"' in page and 'data-track-api="/api/v1/track-record"' in page
    assert "/static/track_record.js" in page
    script = client.get("/static/track_record.js")
    assert script.status_code == 200 and b"innerHTML" not in script.data
