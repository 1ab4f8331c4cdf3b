import time

from web.finished import FinishedBodies


def test_keeps_the_newest_entries():
    cache = FinishedBodies(max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # a is now the most recently used
    cache.put("c", b"3")
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (b"1", b"3")


def test_entries_expire():
    cache = FinishedBodies(ttl_seconds=0.05)
    cache.put("a", b"1")
    assert cache.get("a") == b"1"
    time.sleep(0.08)
    assert cache.get("a") is None


def test_a_finished_status_is_served_again_without_redis(web_client, web_celery, web_redis):
    web_celery.backend.store_result("t-1", {"status": "success"}, "SUCCESS")
    first = web_client.get("/api/v1/forecasts/t-1")
    assert first.status_code == 200 and first.json["status"] == "SUCCESS"
    web_redis.flushdb()  # even with Redis emptied, the finished body is served from memory
    again = web_client.get("/api/v1/forecasts/t-1")
    assert again.status_code == 200 and again.get_data() == first.get_data()
