"""The dashboard's progress bar over Server-Sent Events, in a real Chromium against the real stack.

While the job's stream is open the page makes no status polls; when the stream is cut mid-job
(here: the server's real first events handed to the page, then the connection ends before
``done``), the page polls the status URL and the bar still completes.
"""
from __future__ import annotations

import json
import re

import pytest

from local.sse_client import Stream
from tests.browser.conftest import API_KEY, JOB_TIMEOUT_MS

pytestmark = pytest.mark.slow

STATUS_URL = re.compile(r"/api/v1/forecasts/[0-9a-f-]{36}$")


@pytest.fixture
def slow_job(stack):
    stack.laravel.faults.delay_seconds = 0.1  # a job of a few seconds: the bar has time to move
    yield
    stack.laravel.faults.delay_seconds = 0.0


def watch_bar(page) -> None:
    page.evaluate(
        """() => {
            window.__bar = [];
            const bar = document.getElementById('progress');
            new MutationObserver(() => window.__bar.push(bar.value))
                .observe(document.getElementById('progress-text'), {childList: true, characterData: true, subtree: true});
        }"""
    )


def submit(page, stack, horizon: int) -> None:
    page.goto(stack.web_url + "/")
    watch_bar(page)
    page.fill("#api-key", API_KEY)
    page.fill("#horizon", str(horizon))
    page.check("#refresh")
    page.click("#submit")


def test_the_bar_follows_the_stream_with_no_status_polls(stack, page, slow_job):
    submit(page, stack, 5)
    page.wait_for_selector("#results:not([hidden])", timeout=JOB_TIMEOUT_MS)
    urls = page.recorder.urls
    assert any("/events?token=" in url for url in urls), urls
    polls = [url for url in urls if STATUS_URL.search(url)]
    assert polls == [], f"status polls while the stream was open: {polls}"
    bar = page.evaluate("() => window.__bar")
    assert bar[-1] == 100 and any(0 < value < 100 for value in bar), bar  # it moved, then filled
    assert page.locator("#status").inner_text() == "Forecast ready."
    assert not page.recorder.errors, page.recorder.errors


def test_a_stream_cut_mid_job_falls_back_to_polling(stack, page, slow_job):
    cut: list[str] = []

    def cut_after_the_first_progress(route):
        # The server's own stream, read until its first progress event past the current state,
        # then the page gets just that much: the connection ends with the job still running.
        text = []
        with Stream(route.request.url) as stream:
            for event in stream:
                text.append(f"id: {event.id}\nevent: {event.event}\ndata: {json.dumps(event.data)}\n\n")
                if event.event == "progress" and len(text) > 2:
                    break
        cut.append(route.request.url)
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
                      body="".join(text))

    page.route("**/events?token=*", cut_after_the_first_progress)
    submit(page, stack, 4)
    page.wait_for_selector("#results:not([hidden])", timeout=JOB_TIMEOUT_MS)
    assert len(cut) == 1  # one stream, cut; never reopened for this job
    polls = [url for url in page.recorder.urls if STATUS_URL.search(url)]
    assert polls, "after the cut the page polls the status URL"
    bar = page.evaluate("() => window.__bar")
    assert bar[-1] == 100
    assert page.locator("#status").inner_text() == "Forecast ready."
