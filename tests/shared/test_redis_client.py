"""REDIS_SENTINELS: the settings, Celery's Sentinel URLs and options, and the one client factory.

The last test runs a real Sentinel group (local/redis_sentinel.py): the client the factory builds
follows a failover by itself.
"""
from __future__ import annotations

import signal
import time

import pytest
import redis

from shared.contract.config import Settings
from shared.contract.logs import secrets_of
from shared.contract.protocol import celery_conf
from shared.stores.redis_client import Purpose, connect


def test_sentinels_are_read_from_the_environment():
    settings = Settings.from_env({
        "REDIS_SENTINELS": "s1:26379, s2:26380,s3",
        "REDIS_SENTINEL_MASTER": "sales",
        "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
        "REDIS_URL": "redis://:master-secret@ignored:6379/2",
    })
    assert settings.redis_sentinels == (("s1", 26379), ("s2", 26380), ("s3", 26379))
    assert settings.redis_sentinel_master == "sales"
    assert settings.service_redis_url == (
        "sentinel://:master-secret@s1:26379/2;sentinel://:master-secret@s2:26380/2;sentinel://:master-secret@s3:26379/2"
    )
    assert settings.celery_broker_url == settings.celery_result_backend == settings.service_redis_url
    assert "secret" not in settings.redis_description and "s2:26380" in settings.redis_description
    assert {"sentinel-secret", "master-secret"} <= set(secrets_of(settings))
    assert "sentinel-secret" not in repr(settings)


def test_without_sentinels_nothing_changes():
    settings = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6390/0"})
    assert settings.redis_sentinels == () and settings.redis_sentinel_master == "mymaster"
    assert settings.celery_broker_url == settings.service_redis_url == "redis://127.0.0.1:6390/0"
    conf = celery_conf(settings)
    assert "master_name" not in conf["broker_transport_options"]
    assert "master_name" not in conf["result_backend_transport_options"]


def test_a_malformed_sentinel_is_refused_at_start_up():
    with pytest.raises(ValueError, match="REDIS_SENTINELS"):
        Settings.from_env({"REDIS_SENTINELS": "s1:port"})


def test_celery_finds_the_master_through_the_sentinels():
    settings = Settings(redis_sentinels=(("s1", 26379),), redis_sentinel_master="sales", redis_sentinel_password="pw")
    conf = celery_conf(settings)
    for options in (conf["broker_transport_options"], conf["result_backend_transport_options"]):
        assert options["master_name"] == "sales"
        assert options["sentinel_kwargs"]["password"] == "pw"
        assert options["sentinel_kwargs"]["socket_timeout"] > 0
    assert conf["broker_url"].startswith("sentinel://s1:26379/0")


def test_the_worker_guards_a_sentinel_broker_too():
    from celery import Celery

    from worker import poison

    app = Celery(set_as_current=False)
    poison.install(app.conf, "sentinel://s1:26379/0;sentinel://s2:26379/0")
    assert app.conf.broker_transport == poison.GUARDED_SENTINEL_TRANSPORT
    channel = poison.GuardedSentinelChannel
    assert channel._brpop_read is poison.GuardedChannel._brpop_read  # the guard's, not kombu's
    assert {"master_name", "sentinel_kwargs", "max_message_bytes"} <= set(channel.from_transport_options)


def test_await_replicas_covers_writes_made_on_other_connections(tmp_path):
    """WAIT counts the caller's own last write: JobStore.await_replicas writes first, so the
    writes that other connections finished before it (a queued message) are covered too."""
    from local.redis_server import RedisServer
    from shared.stores.jobs import JobStore

    with RedisServer(data_dir=tmp_path / "alone") as alone:
        started = time.monotonic()
        assert JobStore(redis.Redis.from_url(alone.url)).await_replicas(1, 100) == 0  # no replica
        assert time.monotonic() - started < 2
    with RedisServer(data_dir=tmp_path / "master") as master:
        extra = ["--replicaof", "127.0.0.1", str(master.port)]
        with RedisServer(data_dir=tmp_path / "replica", extra_args=extra) as replica:
            replica_client = redis.Redis.from_url(replica.url)
            deadline = time.monotonic() + 10
            while replica_client.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            redis.Redis.from_url(master.url).lpush("forecasts", "a job")  # another connection
            assert JobStore(redis.Redis.from_url(master.url)).await_replicas(1, 2000) == 1
            assert replica_client.lrange("forecasts", 0, -1) == [b"a job"]


@pytest.mark.slow
def test_the_client_follows_a_failover(tmp_path):
    from local.redis_sentinel import SentinelGroup

    with SentinelGroup(down_after_ms=500, root=tmp_path / "sentinel") as group:
        settings = Settings(redis_sentinels=tuple(group.sentinels), redis_url="redis://127.0.0.1:9/0")
        client = connect(settings, purpose=Purpose.WORKER)
        client.set("before", "1")
        deadline = time.monotonic() + 5
        while int(redis.Redis(port=group.replica.port).exists("before")) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        group.master.process.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.set("after", "1")
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the client never found the promoted master"
                time.sleep(0.1)
        assert group.master_address() == ("127.0.0.1", group.replica.port)
        assert client.get("before") == b"1"  # replicated before the kill
