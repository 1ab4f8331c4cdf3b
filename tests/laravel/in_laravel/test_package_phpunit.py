"""The package's own PHPUnit suite (packages/laravel-sales-forecast/tests), on every Laravel runtime
with that runtime's Debian phpunit (9 with Laravel 8, 11 with 10, 13 with 13): signatures against
the Standard Webhooks specification's example, result reading, the Http client under Http::fake(),
the message and predis' prefix check. Skipped locally without them, a failure in CI."""
from __future__ import annotations

import os

import pytest

from tests.laravel.runtimes import NAMES, Runtime
from tests.laravel.shop import PACKAGE

LARAVEL_RUNTIMES = NAMES


def test_the_packages_phpunit_suite_passes(laravel: Runtime, tmp_path) -> None:
    if "phpunit" not in laravel.versions:
        message = f"phpunit is required in the {laravel.name} runtime (apt-get install phpunit)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must not skip these tests")
        pytest.skip(message)
    # No result cache in the checkout; the option's name changed with PHPUnit 10.
    cache = ["--cache-result-file", str(tmp_path / "cache")] if laravel.versions["phpunit"].startswith("9.") \
        else ["--cache-directory", str(tmp_path / "cache")]
    done = laravel.run(["phpunit", "--configuration", "phpunit.xml.dist", *cache], cwd=PACKAGE, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "OK (" in done.stdout, done.stdout[-4000:]
