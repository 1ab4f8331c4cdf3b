"""Fixtures: the shop (a real Laravel app with the package installed), served by `php -S`, and
the forecast service (Redis, gunicorn, a Celery worker; started by tests/stacks.py) reading its
sales from that shop.

One of each for the package and Laravel runtime (``laravel``, tests/laravel/conftest.py: this
machine's Laravel 8.83 for every module; test_package.py and test_package_phpunit.py also run on
Laravel 10 and 13 in Debian chroots): building the shop runs composer and migrations, and the
stack takes a few seconds to start. Tests use fresh task ids, so they do not disturb one another.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import redis
import requests

from stack.local import LocalStack
from tests.laravel.runtimes import Runtime
from tests.laravel.shop import SHOP_TOKEN, Sale, Shop, ShopServer, build_shop, shop_history, shop_stock
from tests.stacks import running_stack, stack_env

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
    """The forecast service whose LARAVEL_API_URL is the shop (tests/stacks.py); the shop's .env points back at it."""
    root = tmp_path_factory.mktemp("service")
    env = stack_env(
        root, f"{shop_server.url}/api", API_KEY, LARAVEL_API_TOKEN=SHOP_TOKEN,
        # The shop's sale lines for grouped forecasts: routes/api.php's /sales/items (the default, said here).
        LARAVEL_ITEMS_PATH="/sales/items",
        SECRET_KEY="shop-tests-secret", WEBHOOK_SECRET=WEBHOOK_SECRET, CALLBACK_ALLOWED_HOSTS="127.0.0.1",
    )
    with running_stack(root, env, worker_concurrency=1) as stack:
        shop.write_dotenv(
            REDIS_HOST="127.0.0.1", REDIS_PORT=str(urlsplit(env["REDIS_URL"]).port),  # the app's own connections, prefixed as Laravel's are
            SALES_FORECAST_REDIS_URL=env["REDIS_URL"],  # the package makes its own connection, unprefixed
            SALES_FORECAST_API_URL=stack.web_url, SALES_FORECAST_API_KEY=API_KEY,
            SALES_FORECAST_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        yield Service(stack, env["REDIS_URL"], redis.Redis.from_url(env["REDIS_URL"]))
