

# ---- web tier (tests/web): one real Redis for the session, flushed around each test ----------
import pytest


@pytest.fixture(scope="session")
def web_redis_server():
    from local.redis_server import RedisServer

    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def web_celery(web_redis_server):
    """A Celery app on the test Redis; no worker: sent tasks just sit on the queue."""
    from shared.contract.config import Settings
    from web.celery_client import create_celery_client

    return create_celery_client(Settings(redis_url=web_redis_server.url), bounded=False)


@pytest.fixture
def web_redis(web_redis_server):
    import redis

    client = redis.Redis.from_url(web_redis_server.url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def web_settings(web_redis_server):
    from shared.contract.config import Settings

    return Settings(redis_url=web_redis_server.url, legacy_wait_seconds=0.3)


@pytest.fixture
def make_web_app(web_settings, web_celery, web_redis):
    """make_web_app(**settings_overrides) -> a Flask app on the test Redis and Celery app."""
    from web.app import create_app

    def make(**overrides):
        return create_app(web_settings.with_overrides(**overrides), celery_app=web_celery)

    return make


@pytest.fixture
def web_client(make_web_app):
    return make_web_app().test_client()


# ---- the `soak` marker: long runs for `make soak`, skipped unless asked for -----------------
def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true", default=False, help="also run tests marked soak (or SOAK=1)")


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: long reliability/load runs; skipped unless --soak or SOAK=1")


def pytest_collection_modifyitems(config, items):
    import os

    if config.getoption("--soak") or os.environ.get("SOAK", "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak or SOAK=1 (make soak)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


# ---- the forecast history's PostgreSQL: the tests' own server, started once per session ------
@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server on a free port (local/postgres_server.py); fails, never skips, when
    PostgreSQL is not installed (CI installs it)."""
    from local.postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.cleanup()
