"""GET /api/v1/forecasts/{id}/series and .../series.csv over series a worker published
(shared.stores.grouped_store on the test Redis): paging, sorting, searching, cursors, expiry, errors."""
from __future__ import annotations

import csv
import io

import pytest

from shared.stores.grouped_store import GroupedStore

JOB = "4b1f0c7e-5a6d-4d51-9f4e-0a1b2c3d4e5f"
FP = "fp-test"


def _series(level: int, key: dict, forecast: float | None, growth: float | None = None, accuracy: float | None = None) -> dict:
    horizon = [{"period": "2026-01", "forecast": forecast or 0.0, "low": 0.0, "high": (forecast or 0.0) * 2},
               {"period": "2026-02", "forecast": forecast or 0.0, "low": 0.0, "high": (forecast or 0.0) * 2}]
    return {"key": key, "level": level, "actual": [{"period": "2025-12", "value": 1.0}],
            "forecast": {"next_month_forecast": forecast, "forecast_growth_rate": growth, "model_accuracy": accuracy,
                         "horizon": horizon},
            "data_quality": {}}


PRODUCTS = [
    _series(2, {"category": "Bags", "product_id": "1"}, 30.0, 5.0, 80.0),
    _series(2, {"category": "Bags", "product_id": "2"}, 10.0, None, 90.0),
    _series(2, {"category": "Shoes", "product_id": "17"}, 50.0, -2.0, None),
    _series(2, {"category": "Shoes", "product_id": "170"}, 10.0, 1.0, 70.0),
    _series(2, {"category": None, "product_id": "9"}, 20.0, 0.0, 60.0),
]
CATEGORIES = [_series(1, {"category": "Bags"}, 40.0), _series(1, {"category": "Shoes"}, 60.0),
              _series(1, {"category": None}, 20.0)]
TOTAL = _series(0, {}, 120.0)


@pytest.fixture
def store(web_redis):
    store = GroupedStore(web_redis, ttl_seconds=600)
    store.publish(JOB, FP, [TOTAL, *CATEGORIES, *PRODUCTS])
    return store


@pytest.fixture
def client(make_web_app, store):
    return make_web_app().test_client()


def _keys(body: dict) -> list:
    return [s["key"].get("product_id", s["key"].get("category")) for s in body["series"]]


def test_the_store_keeps_each_level_in_order_with_its_index(store):
    assert store.fingerprint_of(JOB) == FP and store.fingerprint_of("other") is None
    assert store.level_counts(FP) == {0: 1, 1: 3, 2: 5}
    assert [b.count(b'"level":2') for b in store.iter_level(FP, 2, 5)] == [1] * 5
    index = store.index(FP, 2)
    assert index["text"][4] == "null 9" and index["forecast"] == [30.0, 10.0, 50.0, 10.0, 20.0]
    assert index["growth"][1] is None and index["accuracy"][2] is None
    assert store.series_at(FP, 2, [4, 0, 99])[2] is None


def test_an_identical_job_reuses_the_series(store):
    assert store.reuse("job-2", FP) is True
    assert store.fingerprint_of("job-2") == FP
    assert store.reuse("job-3", "unknown-fp") is False


def test_pages_in_key_order_every_series_once(client):
    seen, cursor = [], None
    while True:
        body = client.get(f"/api/v1/forecasts/{JOB}/series?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        assert body["level"] == 2 and body["matching"] == 5
        seen += _keys(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["1", "2", "17", "170", "9"]
    categories = client.get(f"/api/v1/forecasts/{JOB}/series?level=1").json
    assert _keys(categories) == ["Bags", "Shoes", None] and categories["next_cursor"] is None


@pytest.mark.parametrize("sort, expected", [
    ("forecast", ["2", "170", "9", "1", "17"]),  # ties keep the key order
    ("-forecast", ["17", "1", "9", "2", "170"]),
    ("growth", ["17", "9", "170", "1", "2"]),  # no figure: last, either way
    ("-growth", ["1", "170", "9", "17", "2"]),
    ("-accuracy", ["2", "1", "170", "9", "17"]),
])
def test_sorted_pages(client, sort, expected):
    first = client.get(f"/api/v1/forecasts/{JOB}/series?sort={sort}&limit=3").json
    rest = client.get(f"/api/v1/forecasts/{JOB}/series?sort={sort}&limit=3&cursor={first['next_cursor']}").json
    assert _keys(first) + _keys(rest) == expected and rest["next_cursor"] is None


def test_search_matches_key_values_case_insensitively(client):
    body = client.get(f"/api/v1/forecasts/{JOB}/series?q=17").json
    assert _keys(body) == ["17", "170"] and body["matching"] == 2
    assert _keys(client.get(f"/api/v1/forecasts/{JOB}/series?q=SHOES&sort=-forecast&limit=1").json) == ["17"]
    assert _keys(client.get(f"/api/v1/forecasts/{JOB}/series?q=null").json) == ["9"]
    assert client.get(f"/api/v1/forecasts/{JOB}/series?q=socks").json == {
        "series": [], "next_cursor": None, "level": 2, "matching": 0}


def test_a_cursor_is_a_position_and_every_one_the_document_allows_is_read(client):
    cursor = client.get(f"/api/v1/forecasts/{JOB}/series?limit=2").json["next_cursor"]
    assert cursor == "2"
    # cursor=0 is the first page, as /openapi.json's pattern allows (it was a 422 before)
    assert client.get(f"/api/v1/forecasts/{JOB}/series?cursor=0&limit=2").json["next_cursor"] == "2"
    past = client.get(f"/api/v1/forecasts/{JOB}/series?cursor=999999999").json
    assert past["series"] == [] and past["next_cursor"] is None
    for bad in ("-1", "01", "1.5", "bm90LWEtY3Vyc29y", "1234567890", " 1"):
        response = client.get(f"/api/v1/forecasts/{JOB}/series", query_string={"cursor": bad})
        assert response.status_code == 422 and response.json["error"]["field"] == "cursor", bad


@pytest.mark.parametrize("query, field", [("level=3", "level"), ("level=0", "level"), ("limit=0", "limit"),
                                          ("sort=price", "sort"), ("limit=1x", "limit")])
def test_bad_queries_are_422_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/forecasts/{JOB}/series?{query}")
    assert response.status_code == 422 and response.json["error"]["field"] == field


def test_no_series_is_404_saying_why(client, web_celery, web_redis):
    assert client.get("/api/v1/forecasts/never-submitted/series").status_code == 404
    web_celery.backend.store_result("single-job", {"status": "success", "data": {}}, "SUCCESS")
    response = client.get("/api/v1/forecasts/single-job/series")
    assert response.status_code == 404 and "not a grouped forecast" in response.json["error"]["message"]


@pytest.mark.parametrize("state, meta", [("PENDING", None), ("STARTED", {}), ("PROGRESS", {"stage": "training", "percent": 60})])
def test_series_of_a_job_not_finished_are_409_not_finished(client, make_web_app, web_celery, state, meta):
    task_id = client.post("/api/v1/forecasts", json={"group_by": ["category"]}).json["task_id"]
    if state != "PENDING":
        web_celery.backend.store_result(task_id, meta, state)
    for path in ("series", "series?level=1&limit=5", "series.csv"):
        response = client.get(f"/api/v1/forecasts/{task_id}/{path}")
        assert response.status_code == 409, (path, response.json)
        assert response.json["error"]["code"] == "not_finished"
        assert state in response.json["error"]["message"]
        assert response.headers["Retry-After"] == "1"


def test_series_of_a_failed_or_cancelled_job_are_404(client, web_celery):
    task_id = client.post("/api/v1/forecasts", json={"group_by": ["category"]}).json["task_id"]
    assert client.delete(f"/api/v1/forecasts/{task_id}").status_code == 202
    response = client.get(f"/api/v1/forecasts/{task_id}/series")
    assert response.status_code == 404 and "REVOKED" in response.json["error"]["message"]


def test_expired_series_are_404_even_when_this_process_kept_their_names(client, web_celery, web_redis):
    web_celery.backend.store_result(JOB, {"status": "success", "data": {}}, "SUCCESS")
    # This process now keeps the job's fingerprint, its level counts and the level's index (and
    # the page it answered, for a bounded time: another page is asked for below).
    assert client.get(f"/api/v1/forecasts/{JOB}/series?sort=-forecast&limit=3").status_code == 200
    for key in web_redis.scan_iter("*grouped:series:*"):
        web_redis.delete(key)
    for query in ("", "?sort=-forecast", "?q=1"):
        response = client.get(f"/api/v1/forecasts/{JOB}/series{query}")
        assert response.status_code == 404, (query, response.json)
    web_redis.flushdb()
    assert client.get(f"/api/v1/forecasts/{JOB}/series.csv").status_code == 404


def test_an_answered_page_is_kept_and_served_again(client, web_redis):
    first = client.get(f"/api/v1/forecasts/{JOB}/series?limit=2")
    web_redis.flushdb()  # even with Redis emptied, the same page is served from memory
    again = client.get(f"/api/v1/forecasts/{JOB}/series?limit=2")
    assert again.status_code == 200 and again.get_data() == first.get_data()
    assert client.get(f"/api/v1/forecasts/{JOB}/series?limit=3").status_code == 404


def test_the_csv_has_every_series_and_month(client):
    response = client.get(f"/api/v1/forecasts/{JOB}/series.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["level", "category", "product_id", "period", "forecast", "low", "high"]
    assert len(rows) - 1 == (1 + 3 + 5) * 2
    assert rows[1] == ["0", "", "", "2026-01", "120.00", "0.00", "240.00"]
    assert ["2", "null", "9", "2026-02", "20.00", "0.00", "40.00"] in rows


def test_a_client_that_accepts_gzip_gets_the_page_compressed(client):
    import gzip

    plain = client.get(f"/api/v1/forecasts/{JOB}/series?limit=4")
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    for _ in range(2):  # answered, then kept
        packed = client.get(f"/api/v1/forecasts/{JOB}/series?limit=4", headers={"Accept-Encoding": "gzip, deflate"})
        assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.get_data()) == plain.get_data()
    refused = client.get(f"/api/v1/forecasts/{JOB}/series?limit=4", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_a_client_that_accepts_gzip_gets_the_csv_compressed_as_it_streams(client):
    import gzip

    plain = client.get(f"/api/v1/forecasts/{JOB}/series.csv")
    packed = client.get(f"/api/v1/forecasts/{JOB}/series.csv", headers={"Accept-Encoding": "gzip"})
    assert packed.is_streamed and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and "Content-Encoding" not in plain.headers
    assert gzip.decompress(packed.get_data()) == plain.get_data()


def test_a_large_csv_is_streamed_in_bounded_memory(make_web_app, web_redis):
    """6,000 series × 28 days (~170,000 lines, 6.7 MB): written out batch by batch, so the web
    process never holds more than a batch, compressed or not."""
    import gzip
    import tracemalloc

    horizon = [{"period": f"2026-02-{d:02d}", "forecast": 12.5 + d, "low": 1.0, "high": 40.0} for d in range(1, 29)]
    big = [{"key": {"store_id": f"S{i % 10}", "product_id": f"P{i:05d}"}, "level": 2, "actual": [],
            "forecast": {"next_month_forecast": 13.5, "forecast_growth_rate": None, "model_accuracy": None,
                         "horizon": horizon}, "data_quality": {}} for i in range(6000)]
    GroupedStore(web_redis, ttl_seconds=600).publish(JOB, "fp-big", [{**TOTAL, "key": {}}, *big])
    client = make_web_app().test_client()
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        response = client.get(f"/api/v1/forecasts/{JOB}/series.csv", headers=headers, buffered=False)
        tracemalloc.start()
        size, chunks, largest = 0, 0, 0
        body = []
        for chunk in response.response:
            size += len(chunk)
            chunks += 1
            largest = max(largest, len(chunk))
            if headers:
                body.append(chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        response.close()
        text = gzip.decompress(b"".join(body)) if headers else None
        if not headers:
            assert size > 6_000_000 and chunks >= 10, (size, chunks)
            assert largest < 1_500_000 and peak < 6_000_000, (largest, peak)
        else:
            assert text.count(b"\n") == 1 + (1 + 6000) * 28 - 26  # the total has 2 months
            assert size < 2_000_000 and largest < 500_000


def test_the_store_keeps_every_sort_order_so_a_sorted_page_needs_no_index(store):
    from shared.stores.grouped_store import SORTS, sort_order

    index = store.index(FP, 2)
    for sort in SORTS:
        whole = sort_order(index[sort.lstrip("-")], descending=sort.startswith("-"))
        assert store.sorted_positions(FP, 2, sort, 0, 99) == whole
        assert store.sorted_positions(FP, 2, sort, 2, 2) == whole[2:4]
    assert store.sorted_positions(FP, 2, "-forecast", 0, 2) == [2, 0]  # 50, then 30
    assert store.sorted_positions("no-such-fingerprint", 2, "-forecast", 0, 2) is None


def test_sorted_pages_read_the_stored_order_and_fall_back_to_the_index(client, store, web_redis):
    stored = client.get(f"/api/v1/forecasts/{JOB}/series?sort=-forecast&limit=3").json
    for key in web_redis.scan_iter(match="*order:*"):  # series published before the orders were stored
        web_redis.delete(key)
    again = client.get(f"/api/v1/forecasts/{JOB}/series?sort=-forecast&limit=3&cursor=0").json
    assert _keys(stored) == _keys(again) and stored["matching"] == again["matching"] == 5
    assert stored["next_cursor"] == again["next_cursor"] == "3"
