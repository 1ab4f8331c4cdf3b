"""worker/upstream.py: the one decision on re-running a job after a Laravel outage (unit tests;
the end-to-end behaviour is in tests/reliability/test_deadline.py)."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery.exceptions import Retry

from shared.contract.config import Settings
from shared.contract.errors import LaravelDeadlinePassed, UpstreamUnavailable
from shared.sources.deadline import Deadline
from worker.upstream import SINCE_HEADER, job_deadline, retry_or_end

SETTINGS = Settings(laravel_deadline_seconds=60, upstream_task_retries=2, upstream_retry_delay_seconds=10)


class FakeTask:
    """What retry_or_end reads of a bound task, and what it asks of Task.retry."""

    name = "forecast.sales"

    def __init__(self, retries: int = 0, headers: dict | None = None) -> None:
        self.request = SimpleNamespace(retries=retries, headers=headers)
        self.retried: dict | None = None

    def retry(self, **options):
        self.retried = options
        return Retry(exc=options["exc"], when=options["countdown"])


def test_a_first_run_starts_the_deadline_now():
    deadline = job_deadline(FakeTask(), SETTINGS)
    assert deadline.seconds == 60 and abs(deadline.started - time.time()) < 5


def test_a_re_run_keeps_the_first_start_and_carries_it_on():
    since = time.time() - 25
    task = FakeTask(retries=1, headers={SINCE_HEADER: since, "other": "kept"})
    deadline = job_deadline(task, SETTINGS)
    assert deadline.started == pytest.approx(since)
    retry = retry_or_end(task, UpstreamUnavailable("down"), deadline, SETTINGS)
    assert isinstance(retry, Retry)
    assert task.retried["countdown"] == 20  # 10 s, doubled for the second re-run
    assert task.retried["headers"] == {SINCE_HEADER: pytest.approx(since), "other": "kept"}
    assert task.retried["throw"] is False


@pytest.mark.parametrize("carried", ["soon", None, float("nan"), True, [1]])
def test_an_unusable_carried_start_starts_now(carried):
    deadline = job_deadline(FakeTask(headers={SINCE_HEADER: carried}), SETTINGS)
    assert abs(deadline.started - time.time()) < 5


def test_a_start_in_the_future_cannot_stretch_the_budget():
    deadline = job_deadline(FakeTask(headers={SINCE_HEADER: time.time() + 3600}), SETTINGS)
    assert deadline.at <= time.time() + 60


def test_no_re_run_when_the_deadline_leaves_no_time_for_it():
    task = FakeTask(retries=0)
    deadline = Deadline.starting(60, since=time.time() - 55)  # 5 s left, the re-run waits 10
    with pytest.raises(LaravelDeadlinePassed, match="down; the deadline would pass before the next attempt in 10s"):
        retry_or_end(task, UpstreamUnavailable("down"), deadline, SETTINGS)
    assert task.retried is None


def test_the_clients_deadline_error_ends_the_job_as_it_is():
    error = Deadline.starting(60).passed("Laravel unavailable")
    with pytest.raises(LaravelDeadlinePassed) as raised:
        retry_or_end(FakeTask(), error, Deadline.starting(60), SETTINGS)
    assert raised.value is error


def test_no_re_run_left():
    error = UpstreamUnavailable("down")
    with pytest.raises(UpstreamUnavailable) as raised:
        retry_or_end(FakeTask(retries=2), error, Deadline.starting(60), SETTINGS)
    assert raised.value is error
