"""docs/laravel.md shows only code that runs: each PHP snippet is in the shop app or the package
(which the other tests here run), each setting is read by the published config, each command is
one the tests run."""
from __future__ import annotations

import re
from pathlib import Path

from tests.laravel.shop import PACKAGE, ROOT, SHOP_SOURCE

DOCS = ROOT / "docs" / "laravel.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(DOCS.read_text()) if kind == lang]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _sources(*roots: Path) -> str:
    return "\n".join(_flat(p.read_text()) for root in roots for p in sorted(root.rglob("*.php")) if "vendor" not in p.parts)


def test_every_php_snippet_is_code_the_tests_run() -> None:
    code = _sources(SHOP_SOURCE, PACKAGE)
    snippets = _blocks("php")
    assert len(snippets) >= 7
    for snippet in snippets:
        assert _flat(snippet) in code, f"not in tests/laravel/shop or the package:\n{snippet}"


def test_every_setting_shown_is_read_by_the_published_config() -> None:
    config = (PACKAGE / "config" / "sales-forecast.php").read_text()
    [dotenv] = _blocks("dotenv")
    names = [line.split("=", 1)[0] for line in dotenv.splitlines() if line.strip()]
    assert names and all(f"env('{name}'" in config for name in names), names
    assert "env(" not in "".join(p.read_text() for p in (PACKAGE / "src").rglob("*.php")), "env() only in the config file"


def test_every_command_shown_is_one_the_tests_run() -> None:
    tests = (ROOT / "tests" / "laravel" / "shop.py").read_text()
    signature = (PACKAGE / "src" / "Console" / "DispatchCommand.php").read_text()
    package_tests = (ROOT / "tests" / "laravel" / "in_laravel" / "test_package.py").read_text()
    alerts_signature = (PACKAGE / "src" / "Console" / "AlertsCommand.php").read_text()
    alerts_tests = (ROOT / "tests" / "laravel" / "in_laravel" / "test_alerts.py").read_text()
    for line in (line for block in _blocks("sh") for line in block.splitlines() if line.strip()):
        words = line.split()
        if words[:2] == ["composer", "config"]:
            assert '"composer", "config", "repositories.sales-forecast", "path"' in tests
        elif words[:2] == ["composer", "require"]:
            assert f'"composer", "require", "{words[2]}"' in tests
        elif words[:3] == ["php", "artisan", "vendor:publish"]:
            assert f'"vendor:publish", "{words[3]}"' in tests
        elif words[:3] == ["php", "artisan", "sales-forecast:dispatch"]:
            for option in words[3:]:
                assert "{" + option.split("=")[0] in signature, option
                assert f'"{option.split("=")[0]}' in package_tests, f"{option}: no test passes it"
        elif words[:3] == ["php", "artisan", "sales-forecast:check"]:
            assert '"sales-forecast:check"' in package_tests
        elif words[:3] == ["php", "artisan", "sales-forecast:alerts"]:
            for option in words[3:]:
                assert "{" + option.split("=")[0] in alerts_signature, option
                assert f'"{option.split("=")[0]}' in alerts_tests, f"{option}: no test passes it"
        elif words[:3] == ["php", "artisan", "sales-forecast:orders"]:
            orders_signature = (PACKAGE / "src" / "Console" / "OrdersCommand.php").read_text()
            orders_tests = (ROOT / "tests" / "laravel" / "in_laravel" / "test_orders.py").read_text()
            for option in (w for w in words[3:] if w.startswith("--")):
                assert "{" + option.split("=")[0] in orders_signature, option
                assert f'"{option.split("=")[0]}' in orders_tests, f"{option}: no test passes it"
        else:
            raise AssertionError(f"a command no test runs: {line}")
