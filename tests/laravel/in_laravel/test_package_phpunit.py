"""The package's own PHPUnit suite (packages/laravel-sales-forecast/tests): signatures against the
Standard Webhooks specification's example, result reading, the Http client under Http::fake(),
the message and predis' prefix check. Debian's phpunit; skipped locally without it, a failure in CI."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.laravel.shop import PACKAGE, require_laravel


def test_the_packages_phpunit_suite_passes() -> None:
    require_laravel()
    phpunit = shutil.which("phpunit")
    if phpunit is None:
        if os.environ.get("CI"):
            pytest.fail("phpunit is required (apt-get install phpunit): CI must not skip these tests")
        pytest.skip("phpunit is required (apt-get install phpunit)")
    done = subprocess.run([phpunit, "--configuration", "phpunit.xml.dist", "--do-not-cache-result"], cwd=PACKAGE, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "OK (" in done.stdout
