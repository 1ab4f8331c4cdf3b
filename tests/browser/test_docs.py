"""/docs in a real headless Chromium: Swagger UI, served from here, runs a call with the API key.

The stack is the browser tests' shared one (tests/browser/conftest.py), with API keys on: a
submitted job is accepted and runs. The browser is Debian's
chromium driven by Playwright, as in test_dashboard.py (tests/browser/conftest.py's fixtures).
"""
from __future__ import annotations

import json

import pytest
import requests

from tests.browser.conftest import API_KEY, ARTIFACTS

pytestmark = pytest.mark.slow

SUBMIT = "#operations-forecasts-submitForecast"


@pytest.fixture(scope="module")
def docs_stack(stack):
    """The browser tests' shared stack (API keys on)."""
    return stack


def _open_submit(page) -> None:
    operation = page.locator(SUBMIT)
    operation.wait_for()
    if not operation.locator(".opblock-body").count():
        operation.locator(".opblock-summary").first.click()
    operation.locator("textarea.body-param__text").wait_for()


def _execute(page, body: dict) -> str:
    """Run POST /api/v1/forecasts from the page with ``body``; the status Swagger UI shows."""
    operation = page.locator(SUBMIT)
    textarea = operation.locator("textarea.body-param__text")
    textarea.fill(json.dumps(body))
    with page.expect_response(lambda r: r.url.endswith("/api/v1/forecasts") and r.request.method == "POST") as info:
        operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith(str(info.value.status))
    return str(info.value.status)


def _task_id(page) -> str:
    text = page.locator(f"{SUBMIT} .live-responses-table .response-col_description pre").first.inner_text()
    return json.loads(text)["task_id"]


def test_a_forecast_is_submitted_from_the_docs_with_the_key(docs_stack, page):
    page.goto(docs_stack.web_url + "/docs")
    page.locator(".information-container .title").wait_for()
    assert "Sales forecast service" in page.locator(".information-container .title").inner_text()
    assert API_KEY not in page.content(), "the server must never hand a key to the browser"
    for tag in ("forecasts", "legacy", "operations"):
        assert page.locator(f"#operations-tag-{tag}").count() == 1, tag

    # Without a key: the server refuses, and the page shows it.
    _open_submit(page)
    assert _execute(page, {"horizon": 2}) == "401"

    # The key, through Swagger UI's Authorize dialog (the X-API-Key scheme).
    page.click(".auth-wrapper button.authorize")
    dialog = page.locator(".modal-ux")
    dialog.wait_for()
    scheme = dialog.locator(".auth-container").filter(has_text="apiKeyHeader")
    scheme.locator("input").fill(API_KEY)
    scheme.locator("button.authorize").click()
    dialog.locator("button.close-modal").click()
    assert page.evaluate("() => sessionStorage.getItem('sales-forecast.api-key')") == API_KEY

    assert _execute(page, {"horizon": 4, "model": "linear"}) == "202"
    task_id = _task_id(page)
    status = requests.get(
        f"{docs_stack.web_url}/api/v1/forecasts/{task_id}", headers={"X-API-Key": API_KEY}, timeout=10
    ).json()
    assert status["status"] in {"PENDING", "STARTED", "PROGRESS", "SUCCESS"}, status  # accepted, a real job
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=True)

    page.recorder.assert_loopback_only()
    errors = [e for e in page.recorder.errors if "401" not in e]  # the refused call is logged
    assert not errors, errors


def test_the_key_typed_on_the_dashboard_is_used_by_the_docs(docs_stack, page):
    page.goto(docs_stack.web_url + "/")
    page.evaluate(f"() => sessionStorage.setItem('sales-forecast.api-key', {json.dumps(API_KEY)})")
    page.goto(docs_stack.web_url + "/docs")  # same tab: the same sessionStorage
    _open_submit(page)
    assert page.locator(".auth-wrapper button.authorize.locked").count() == 1  # shown as authorized
    assert _execute(page, {"horizon": 3}) == "202"
    page.recorder.assert_loopback_only()
    assert not page.recorder.errors, page.recorder.errors
