"""Fixtures: the shop (a real Laravel app with the package installed), served by `php -S`, and
the forecast service (Redis, gunicorn, a Celery worker) reading its sales from that shop.

One of each for the package and Laravel runtime (``laravel``, tests/laravel/conftest.py: this
machine's Laravel 8.83 for every module; test_package.py and test_package_phpunit.py also run on
Laravel 10 and 13 in Debian chroots): building the shop runs composer and migrations, and the
stack takes a few seconds to start. Tests use fresh task ids, so they do not disturb one another.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest
import redis
import requests

from local.redis_server import RedisServer, free_port
from stack.local import LocalStack
from tests.laravel.runtimes import Runtime
from tests.laravel.shop import SHOP_TOKEN, Sale, Shop, ShopServer, build_shop, shop_history, shop_stock

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "shop-forecast-api-key"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"shop-tests-webhook-key-32-bytes!").decode()
PER_PAGE = 25  # small pages: the service walks many of them


@pytest.fixture(scope="package")
def history() -> list[Sale]:
    return shop_history(date.today())


@pytest.fixture(scope="package")
def shop(laravel: Runtime, history: list[Sale], tmp_path_factory: pytest.TempPathFactory) -> Shop:
    shop = build_shop(laravel, tmp_path_factory.mktemp(f"laravel-{laravel.name}"))
    shop.seed(history)
    shop.seed_stock(shop_stock())  # read only by jobs with inventory (test_orders.py)
    shop.write_dotenv(SHOP_PER_PAGE=str(PER_PAGE))
    return shop


@pytest.fixture(scope="package")
def shop_server(shop: Shop) -> Iterator[ShopServer]:
    server = shop.serve()
    yield server
    server.stop()


@dataclass
class Service:
    stack: LocalStack
    redis_url: str
    redis: redis.Redis

    @property
    def url(self) -> str:
        return self.stack.web_url

    def log(self, name: str = "worker") -> str:
        """A process's log so far: "worker", or "web" (gunicorn's access log among it)."""
        path = self.stack.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def status(self, task_id: str) -> dict:
        answer = requests.get(f"{self.url}/api/v1/forecasts/{task_id}", headers={"X-API-Key": API_KEY}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="package")
def service(shop: Shop, shop_server: ShopServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The forecast service whose LARAVEL_API_URL is the shop; the shop's .env points back at it."""
    root = tmp_path_factory.mktemp("service")
    with RedisServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "FORECAST_", "LARAVEL_", "API_KEYS"))}
        env.update(
            REDIS_URL=server.url, PYTHONPATH=str(ROOT), WEB_PORT=str(free_port()),
            LARAVEL_API_URL=f"{shop_server.url}/api", LARAVEL_API_TOKEN=SHOP_TOKEN,
            # The shop's sale lines for grouped forecasts: routes/api.php's /sales/items (the default, said here).
            LARAVEL_ITEMS_PATH="/sales/items",
            API_KEYS=API_KEY, SECRET_KEY="shop-tests-secret", WEBHOOK_SECRET=WEBHOOK_SECRET,
            CALLBACK_ALLOWED_HOSTS="127.0.0.1", MODEL_DIR=str(root / "models"), UPSTREAM_TASK_RETRIES="0",
            DATABASE_URL=f"sqlite:///{root / 'history.sqlite3'}",  # the forecast history, not the checkout's var/
        )
        stack = LocalStack(env, root=ROOT, log_dir=root / "logs", worker_concurrency=1)
        stack.start(ready_timeout=120)
        try:
            port = str(server.port)
            shop.write_dotenv(
                REDIS_HOST="127.0.0.1", REDIS_PORT=port,  # the app's own connections, prefixed as Laravel's are
                SALES_FORECAST_REDIS_URL=server.url,  # the package makes its own connection, unprefixed
                SALES_FORECAST_API_URL=stack.web_url, SALES_FORECAST_API_KEY=API_KEY,
                SALES_FORECAST_WEBHOOK_SECRET=WEBHOOK_SECRET,
            )
            yield Service(stack, server.url, redis.Redis.from_url(server.url))
        finally:
            stack.stop()
