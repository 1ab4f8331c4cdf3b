"""A real Laravel application for the tests: tests/laravel/shop, booted from Debian's Laravel.

:func:`build_shop` copies the app into a temporary directory and installs the sales-forecast
package into it as its docs tell a user to (a Composer path repository, then
``composer require``), offline, with the runtime's own composer (tests/laravel/runtimes.py: this
machine's Laravel 8.83, or Laravel 10 or 13 in a Debian chroot). The app's composer.json
``provide``s the framework at the runtime's exact version, which Debian's php-laravel-framework
supplies under /usr/share/php, so Composer resolves the package's ``illuminate/*`` ranges against
the Laravel that really runs. Then ``vendor:publish`` and ``migrate``, as a user would.
:class:`Shop` runs artisan, seeds the SQLite database and serves the app with PHP's built-in
server. Without the Debian packages the tests skip locally and fail in CI.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from local.redis_server import free_port
from shared.contract.schema import months_before
from tests.laravel.runtimes import Runtime

ROOT = Path(__file__).resolve().parents[2]
SHOP_SOURCE = ROOT / "tests" / "laravel" / "shop"
PACKAGE = ROOT / "packages" / "laravel-sales-forecast"
SHOP_TOKEN = "shop-sales-api-token"
@dataclass
class Sale:
    id: int
    status: str
    grand_total: str
    created_at: str  # "YYYY-MM-DD HH:MM:SS", UTC: how Eloquent stores a timestamp
    items: list[dict[str, Any]] = field(default_factory=list)


def shop_history(today: date, months: int = 38, per_month: int = 12, seed: int = 11) -> list[Sale]:
    """Sales for ``months`` months up to ``today``: trend, a December peak, some pending, 1-3 lines each."""
    rng = np.random.default_rng(seed)
    sales: list[Sale] = []
    line_id = 1
    categories = ["Shoes", "Bags", None]
    for back in range(months, -1, -1):
        first = months_before(today, back)
        days = 28 if back else max(today.day - 1, 1)
        level = 1000 * (1 + 0.01 * (months - back)) * (1.4 if first.month == 12 else 1.0)
        for _ in range(per_month):
            when = datetime(first.year, first.month, 1) + timedelta(
                days=int(rng.integers(0, days)), seconds=int(rng.integers(0, 86400))
            )
            stamp = when.strftime("%Y-%m-%d %H:%M:%S")
            status = "pending" if rng.random() < 0.1 else "completed"
            cents = [int(level / per_month * float(rng.lognormal(0, 0.3)) * 100 / 2) for _ in range(int(rng.integers(1, 4)))]
            sale = Sale(len(sales) + 1, status, f"{sum(cents) / 100:.2f}", stamp)
            for c in cents:
                product = int(rng.integers(1, 5))
                sale.items.append({
                    "id": line_id, "sale_id": sale.id, "product_id": str(product), "sku": f"SKU-{product}",
                    "category": categories[product % 3], "store_id": 1 + product % 2, "channel": "web",
                    "quantity": int(rng.integers(1, 4)), "line_total": f"{c / 100:.2f}", "created_at": stamp,
                })
                line_id += 1
            sales.append(sale)
    return sales


def shop_stock() -> list[dict[str, Any]]:
    """The shop's stock (tests/laravel/shop's stock_levels, served at /api/stock): plenty of product 1,
    a little of 2 (and a minimum order), none of 3 (sold in packs of 12, at least 30); product 4 is
    not listed, and one row names a SKU that no sale line has."""
    return [
        {"product_id": "1", "sku": "SKU-1", "on_hand": "500.00", "on_order": "0.00", "min_order": None, "pack_size": None},
        {"product_id": "2", "sku": "SKU-2", "on_hand": "3.00", "on_order": "2.00", "min_order": "10.00", "pack_size": None},
        {"product_id": "3", "sku": "SKU-3", "on_hand": "0.00", "on_order": "0.00", "min_order": "30.00", "pack_size": "12.00"},
        {"product_id": None, "sku": "SKU-99", "on_hand": "7.00", "on_order": "0.00", "min_order": None, "pack_size": None},
    ]


def monthly_totals(sales: list[Sale], status: str = "completed") -> dict[str, float]:
    """{"YYYY-MM": total} of ``sales`` with ``status``: what the forecast's actual_sales must show."""
    totals: dict[str, float] = {}
    for sale in sales:
        if sale.status == status:
            month = sale.created_at[:7]
            totals[month] = round(totals.get(month, 0.0) + float(sale.grand_total), 2)
    return totals


@dataclass
class ShopServer:
    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self) -> None:
        """Stop the server and its PHP_CLI_SERVER_WORKERS children: its whole process group."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(10)
                time.sleep(0.2)  # the workers exit with their master; SIGKILL any straggler
            except subprocess.TimeoutExpired:
                continue


@dataclass
class Shop:
    """The installed app in ``root``; ``env`` is the environment artisan and the server run with."""

    runtime: Runtime
    root: Path
    env: dict[str, str]
    dotenv: dict[str, str] = field(default_factory=dict)

    def write_dotenv(self, **values: str) -> None:
        """Set ``values`` in the app's .env (as a user configures the app)."""
        self.dotenv.update(values)
        text = "".join(f"{k}={json.dumps(v) if ' ' in v else v}\n" for k, v in self.dotenv.items())
        (self.root / ".env").write_text(text)

    def artisan(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        return self.runtime.run(["php", "artisan", *args], cwd=self.root, timeout=timeout, env={**self.env, **(env or {})})

    def artisan_json(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> tuple[int, Any, str]:
        """(exit code, the JSON on stdout's last line or None, stderr + stdout for messages)."""
        done = self.artisan(*args, env=env, timeout=timeout)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        try:
            payload = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            payload = None
        return done.returncode, payload, done.stderr + done.stdout

    def seed(self, sales: list[Sale]) -> None:
        """Insert ``sales`` and their lines into the app's SQLite database, as the shop's checkout would."""
        db = sqlite3.connect(self.root / "database" / "database.sqlite")
        with db:
            db.executemany(
                "INSERT INTO sales (id, status, grand_total, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                [(s.id, s.status, s.grand_total, s.created_at, s.created_at) for s in sales],
            )
            db.executemany(
                "INSERT INTO sale_items (id, sale_id, product_id, sku, category, store_id, channel, quantity,"
                " line_total, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(i["id"], i["sale_id"], i["product_id"], i["sku"], i["category"], i["store_id"], i["channel"],
                  i["quantity"], i["line_total"], i["created_at"], i["created_at"]) for s in sales for i in s.items],
            )
        db.close()

    def seed_stock(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (:func:`shop_stock`'s shape) into the app's stock_levels table."""
        db = sqlite3.connect(self.root / "database" / "database.sqlite")
        with db:
            db.executemany(
                "INSERT INTO stock_levels (product_id, sku, on_hand, on_order, min_order, pack_size, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, datetime('now'), datetime('now'))",
                [(r["product_id"], r["sku"], r["on_hand"], r["on_order"], r["min_order"], r["pack_size"]) for r in rows],
            )
        db.close()

    def serve(self, env: dict[str, str] | None = None, workers: int = 4) -> ShopServer:
        """``php -S`` on a free port, routing everything through public/index.php, as `php artisan serve` does."""
        port = free_port()
        log_path = self.root / "storage" / "logs" / f"server-{port}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            self.runtime.argv(["php", "-S", f"127.0.0.1:{port}", "-t", "public", "public/index.php"], self.root),
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**self.env, "PHP_CLI_SERVER_WORKERS": str(workers), **(env or {})},
        )
        log.close()
        server = ShopServer(process, f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"php -S exited {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                urllib.request.urlopen(f"{server.url}/api/sales", timeout=2)
            except urllib.error.HTTPError:
                return server  # Laravel answered (401/422): up
            except OSError:
                time.sleep(0.1)
                continue
            return server
        server.stop()
        raise RuntimeError(f"php -S not answering after 30s: {log_path.read_text(errors='replace')[-2000:]}")

    def stored_webhook(self, task_id: str) -> dict[str, Any] | None:
        path = self.root / "storage" / "app" / "forecasts" / f"{task_id}.json"
        return json.loads(path.read_text()) if path.exists() else None


def _run(runtime: Runtime, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = runtime.run(argv, cwd=cwd, env=env, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def build_shop(runtime: Runtime, tmp: Path) -> Shop:
    """A fresh copy of the shop with the package installed, configured, migrated (see the module docstring)."""
    root = tmp / "shop"
    shutil.copytree(SHOP_SOURCE, root, ignore=shutil.ignore_patterns("vendor", "composer.lock", ".env", "storage", "*.sqlite"))
    composer_json = json.loads((root / "composer.json").read_text())
    composer_json["provide"] = {name: runtime.laravel for name in composer_json["provide"]}
    (root / "composer.json").write_text(json.dumps(composer_json, indent=4) + "\n")
    for sub in ("app/forecasts", "logs", "framework/cache/data", "framework/views", "framework/sessions"):
        (root / "storage" / sub).mkdir(parents=True, exist_ok=True)
    (root / "database" / "database.sqlite").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "SALES_FORECAST_", "APP_", "DB_"))}
    env.update(
        COMPOSER_HOME=str(tmp / "composer-home"), COMPOSER_NO_INTERACTION="1", COMPOSER_ALLOW_SUPERUSER="1",
        COMPOSER_DISABLE_NETWORK="1",  # offline: everything comes from the path repository and Debian
    )
    # docs/laravel.md, "Install": the two composer commands a user runs.
    _run(runtime, ["composer", "config", "repositories.sales-forecast", "path", str(PACKAGE)], root, env)
    _run(runtime, ["composer", "require", "sales-forecast/laravel:@dev"], root, env)
    shop = Shop(runtime, root, env)
    shop.write_dotenv(APP_NAME="Shop", APP_ENV="testing", APP_DEBUG="false",
                      APP_KEY="base64:c2hvcC10ZXN0cy1hcHAta2V5LTMyLWJ5dGVzLWxvbmc=", SHOP_API_TOKEN=SHOP_TOKEN)
    for argv in (["vendor:publish", "--tag=sales-forecast-config"], ["migrate", "--force"]):
        done = shop.artisan(*argv)
        if done.returncode != 0:
            raise RuntimeError(f"artisan {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return shop
