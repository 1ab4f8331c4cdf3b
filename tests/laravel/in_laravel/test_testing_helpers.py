"""The package's testing helpers and typed API inside the booted shop, on every Laravel runtime: the
shop's own PHPUnit suite (tests/laravel/shop/tests), written as an app's tests are, on Laravel's
TestCase: SalesForecast::fake() and its assertions, shouldReceive()/spy()/mock() on the contract,
Http::fake() reaching a client made before it, wait() through a faked Sleep (Laravel 10+), signed
test webhooks becoming ForecastSucceeded/ForecastFailed, dispatch after commit, the queued job, and
an unreachable Redis wrapped. Redis is the service's (a queue no worker reads)."""
from __future__ import annotations

import pytest

from tests.laravel.in_laravel.conftest import Service
from tests.laravel.runtimes import NAMES, Runtime
from tests.laravel.shop import Shop

pytestmark = pytest.mark.slow
LARAVEL_RUNTIMES = NAMES


def test_the_shops_own_tests_of_the_package_pass(laravel: Runtime, shop: Shop, service: Service, tmp_path) -> None:
    cache = ["--cache-result-file", str(tmp_path / "cache")] if laravel.versions.get("phpunit", "").startswith("9.") \
        else ["--cache-directory", str(tmp_path / "cache")]
    done = laravel.run(["phpunit", "--configuration", "phpunit.xml", *cache], cwd=shop.root, env=shop.env, timeout=180)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "OK" in done.stdout, done.stdout[-4000:]
