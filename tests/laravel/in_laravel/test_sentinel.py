"""The package's own connection through Redis Sentinel (SALES_FORECAST_REDIS_SENTINELS), with phpredis
and predis, on every Laravel runtime (phpredis 5 and 6 take RedisSentinel's arguments differently): a real sentinel (redis-server --sentinel) monitors the
service's Redis, and the URL's host is one that does not exist, so the job can only get through
if the master's address came from the sentinel."""
from __future__ import annotations

import socket
import subprocess
import time
from typing import Iterator

import pytest

from local.redis_server import free_port, redis_server_binary
from tests.laravel.in_laravel.conftest import Service
from tests.laravel.runtimes import NAMES
from tests.laravel.shop import Shop

pytestmark = pytest.mark.slow
LARAVEL_RUNTIMES = NAMES
CLIENTS = {"phpredis": "Redis", "predis": "Predis\\Client"}


@pytest.fixture(scope="module")
def sentinel(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sentinel that names the service's Redis master 'forecasts-master'; its "host:port"."""
    port = free_port()
    conf = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    redis_port = service.redis.connection_pool.connection_kwargs["port"]
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsentinel monitor forecasts-master 127.0.0.1 {redis_port} 1\n")
    process = subprocess.Popen([redis_server_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the sentinel did not start"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_dispatch_through_a_sentinel(client: str, shop: Shop, service: Service, sentinel: str) -> None:
    env = {"REDIS_CLIENT": client, "SALES_FORECAST_REDIS_URL": "redis://no-such-host.invalid:1/0",
           "SALES_FORECAST_REDIS_SENTINELS": f"127.0.0.1:1,{sentinel}",   # the first answers nothing: the next is asked
           "SALES_FORECAST_REDIS_SENTINEL_MASTER": "forecasts-master"}
    code, out, log = shop.artisan_json("shop:forecast", '--kwargs={"model": "linear", "horizon": 2}', env=env)
    assert code == 0, log
    assert out["status"] == "SUCCESS" and out["client"] == CLIENTS[client]

    done = shop.artisan("sales-forecast:dispatch", "--horizon=2", env={**env, "SALES_FORECAST_REDIS_SENTINEL_MASTER": "unknown"})
    assert done.returncode == 69, done.stdout + done.stderr
    assert "unavailable" in done.stdout + done.stderr
