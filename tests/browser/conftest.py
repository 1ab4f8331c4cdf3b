"""What the browser tests share: Debian's chromium under Playwright, and one real stack.

The stack is a Laravel-like server in this process, serving sales and their sale lines (so a job
can be single or grouped), then Redis, a Celery worker and gunicorn started by
stack.local.LocalStack, as ``make run`` starts them, with API keys on. It is started once for the
package (the dashboard's modules share it; a stack start is the slowest step of these tests).
The browser is Debian's chromium driven by Playwright (``playwright install`` is never run: the
system browser is the one CI has). Screenshots go to ``artifacts/browser/``. Without chromium
these tests skip locally; in CI (``CI`` set) they fail instead, so a missing browser can never
pass unnoticed.
"""
from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests

from local.demo import demo_lines, demo_stock
from local.fake_laravel import FakeLaravel
from shared.contract.schema import months_before
from stack.local import LocalStack
from tests.service.conftest import sales_rows as service_sales_rows
from tests.stacks import base_env, start_stack

API_KEY = "browser-key-5d1e"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
JOB_TIMEOUT_MS = 45_000


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests (apt-get install chromium)")
    pytest.skip(reason)


# ---- the stack ------------------------------------------------------------------------------


def sales_rows(today: date) -> list[dict]:
    """The end-to-end suite's history, plus an unreadable row and a row repeated on another page."""
    rows = service_sales_rows(today, months=30, per_month=12, seed=7)
    last = months_before(today, 2).isoformat() + "T10:00:00.000000Z"
    rows.append({"id": 900001, "created_at": last, "grand_total": "n/a", "status": "completed"})
    rows.append(dict(rows[5]))  # the same id again, on another page: counted once
    return rows


# A dense block of daily sales, years before any default window (36 months, 156 weeks, 730 days back),
# for the weekly and daily jobs of test_frequency_dashboard.py, which ask for it by start_date/end_date
# (the other tests never see it): a weekly pattern, noise, and one spike day, an anomaly.
DENSE_START = date(2015, 1, 1)
DENSE_END = date(2016, 6, 30)
SPIKE_DAY = date(2016, 3, 9)  # a Wednesday: no holiday, no event
WEEKDAY_SHAPE = (0.8, 0.9, 1.0, 1.0, 1.2, 1.6, 1.3)


def dense_daily_rows(first_id: int = 5_000_000, per_day: int = 6, seed: int = 11) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    day = DENSE_START
    while day <= DENSE_END:
        level = 100.0 * (1 + 0.2 * (day - DENSE_START).days / 365) * WEEKDAY_SHAPE[day.weekday()]
        level *= 8.0 if day == SPIKE_DAY else 1.0
        for i in range(per_day):
            total = level / per_day * float(rng.lognormal(0, 0.2))
            rows.append({"id": first_id + len(rows), "created_at": f"{day.isoformat()}T{9 + i:02d}:15:00.000000Z",
                         "grand_total": f"{total:.2f}", "status": "completed"})
        day += timedelta(days=1)
    return rows


@pytest.fixture(scope="package")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed")
    if not Path(CHROMIUM).is_file():
        _missing(f"no chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="package")
def stack(tmp_path_factory, chromium_path):
    """Sales for a single forecast and, split from the same sales, the sale lines of the demo
    shop's catalogue (categories, products, stores) for a grouped one, and its stock."""
    root = tmp_path_factory.mktemp("browser-stack")
    today = date.today()
    rows = sales_rows(today)
    # The sale lines are the recent sales' only; the dense daily block is sales alone. The demo's
    # stock list too (docs/api.md §12), for the inventory columns; other tests ask for none.
    laravel = FakeLaravel(rows + dense_daily_rows(), items=demo_lines(today, rows=rows), stock=demo_stock(),
                          paginator="length_aware", per_page=100)
    laravel.start()
    env = base_env(root, LARAVEL_API_URL=laravel.base_url, API_KEYS=f"someone-elses-key,{API_KEY}")
    try:
        local = start_stack(root, env, root=root, worker_concurrency=1)
        local.laravel = laravel  # type: ignore[attr-defined]  # its faults slow a job down (test_live_updates.py)
    except BaseException:
        laravel.stop()
        raise
    try:
        yield local
    finally:
        local.stop()
        laravel.stop()


@pytest.fixture(scope="package")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Recorder:
    """Every request a page makes, and every console error or uncaught exception it reports."""

    def __init__(self, page) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def assert_loopback_only(self) -> None:
        assert self.urls, "the page made no requests at all"
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            assert parts.hostname in LOOPBACK, f"the page fetched {url}"


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.recorder = Recorder(tab)
    yield tab
    # The page as the test left it, pass or fail: the first thing to look at when one fails.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"), full_page=True)
    context.close()


def api_get(stack: LocalStack, path: str, **params) -> requests.Response:
    """A GET on the stack's API with the key, as a client other than the page."""
    return requests.get(f"{stack.web_url}{path}", headers={"X-API-Key": API_KEY}, params=params, timeout=30)


def api_status(stack: LocalStack, task_id: str) -> dict:
    response = api_get(stack, f"/api/v1/forecasts/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def chart_traces(page, chart: str = "chart") -> dict[str, dict]:
    """A chart's data as plotly.js holds it, by trace (each trace's `meta` names it)."""
    traces = page.evaluate(
        """(id) => Array.from(document.getElementById(id).data || [], t => ({
            meta: t.meta, name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))""",
        chart,
    )
    return {trace["meta"]: trace for trace in traces}
