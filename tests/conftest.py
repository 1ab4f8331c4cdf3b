

# ---- web tier (tests/web): one real Redis for the session, flushed around each test ----------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def web_redis_server():
    from stack.redis_server import RedisServer

    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def web_celery(web_redis_server):
    """A Celery app on the test Redis; no worker: sent tasks just sit on the queue."""
    from shared.config import Settings
    from worker.celery_app import create_celery

    return create_celery(Settings(redis_url=web_redis_server.url), include_tasks=False)


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
    from shared.config import Settings

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
