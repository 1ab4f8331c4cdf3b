"""The Celery application factory, shared by the worker, beat, Flower and the web tier.

It imports nothing of the modelling stack: the web tier sends `forecast.sales` by name and
never imports the task's code, so its image can leave pandas and statsforecast out.
"""
from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from shared.config import Settings
from worker import logging_setup, poison
from worker.schedule import beat_schedule

FORECAST_TASK = "forecast.sales"


def create_celery(settings: Settings, *, include_tasks: bool = True) -> Celery:
    app = Celery("sales_forecast", set_as_current=True)
    queue = settings.forecast_queue
    app.conf.update(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_result_backend,
        # JSON only, in and out: a pickle on the queue is refused, never deserialised.
        accept_content=["json"],
        task_serializer="json",
        result_serializer="json",
        result_accept_content=["json"],
        event_serializer="json",
        task_track_started=True,
        task_send_sent_event=True,
        worker_send_task_events=True,
        result_extended=True,
        result_expires=settings.result_ttl_seconds,
        # A job is acknowledged when it finishes: a worker killed mid-job leaves it to another.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Nothing runs forever: a job stuck in a model or a library ends at the soft limit
        # (worker/tasks.py reports it), or is killed at the hard one (0 in the settings: none).
        task_soft_time_limit=settings.task_soft_time_limit_seconds or None,
        task_time_limit=settings.task_time_limit_seconds or None,
        # A message a worker took and never acked (the whole worker died) is redelivered after
        # this; it must exceed the longest job, or a slow job would also run elsewhere.
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            # kombu looks for such messages every interval x throttle seconds (10 x 10 by
            # default), so a dead worker's job waited up to 100 s past the timeout: look every
            # few seconds instead (one ZRANGE on the unacked index), scaled to the timeout.
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_seconds // 5)),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        task_default_queue=queue,
        task_queues=[Queue(queue, Exchange(queue, type="direct"), routing_key=queue)],
        task_routes={FORECAST_TASK: {"queue": queue, "routing_key": queue}},
        worker_hijack_root_logger=False,
        timezone=settings.sales_timezone,
        enable_utc=True,
    )
    if include_tasks:
        # The poison-message guard (worker/poison.py): kombu's Redis transport with every raw
        # message checked before Celery decodes it; refused ones go to `<queue>.dead`, never to
        # a task. Only apps that consume the queue need it: a sender-only app (the web tier)
        # reads nothing but replies to its own broadcasts.
        poison.install(app.conf, settings.celery_broker_url)
    # Beat's schedule (worker/schedule.py): `forecast.refresh` on FORECAST_REFRESH_CRON. Parsed
    # here, in every process, so a malformed cron expression stops them all at start-up.
    app.conf.beat_schedule = beat_schedule(settings)
    # JSON log lines with the task id for the worker and beat (they send Celery's setup_logging).
    logging_setup.install()
    app.settings = settings  # read by the tasks: configuration is read once, by the entry point
    if include_tasks:
        # worker.webhooks: the `forecast.webhook` task that delivers signed completion callbacks
        # worker.schedule: the `forecast.refresh` task that beat sends
        app.conf.include = ["worker.tasks", "worker.webhooks", "worker.schedule"]
    return app
