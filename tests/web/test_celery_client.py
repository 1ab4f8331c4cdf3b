"""web/celery_client.py: the web's sender-only Celery app."""
from __future__ import annotations

from dataclasses import replace

from shared.contract.config import Settings
from web.celery_client import SenderRedisBackend, SenderSentinelBackend, create_celery_client


def test_sending_a_task_subscribes_to_no_result_channel():
    # The web reads results by key; Celery's Redis backend would subscribe to every sent task's
    # channel (subscriptions that only grow, and a RuntimeError out of send_task when the
    # subscribe's reconnect fails during a failover: a 500 for a submit).
    backend = create_celery_client(Settings()).backend
    assert isinstance(backend, SenderRedisBackend)
    assert backend.url.startswith("redis://")
    backend.on_task_call(None, "a-task-id")
    assert not backend.result_consumer.subscribed_to


def test_behind_sentinel_too():
    settings = replace(Settings(), redis_sentinels=(("127.0.0.1", 26379),))
    backend = create_celery_client(settings).backend
    assert isinstance(backend, SenderSentinelBackend)
    backend.on_task_call(None, "a-task-id")
    assert not backend.result_consumer.subscribed_to
