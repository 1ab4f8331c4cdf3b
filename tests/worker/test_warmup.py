"""The worker warms the modelling stack up before its first job (worker/warmup.py)."""
from __future__ import annotations

from celery.signals import worker_init

from shared.contract.config import Settings
from worker import warmup
from worker.celery_app import create_celery


def test_warm_up_runs_the_models_and_says_how_long():
    assert warmup.warm_up() > 0


def test_the_worker_app_warms_up_on_worker_init():
    create_celery(Settings())
    # Celery keys a receiver connected with a dispatch_uid by it.
    assert any("sales-forecast-warm-up" in repr(key) for key, *_ in worker_init.receivers)
