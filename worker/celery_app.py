"""The Celery application factory of the worker, beat and Flower.

The web tier builds its own sender-only app (web/celery_client.py) from the same wire settings
(shared/contract/protocol.py) and imports nothing from here.
"""
from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from shared.contract.config import Settings
from shared.contract.protocol import celery_conf
from worker import consumer, logging_setup, poison, warmup
from worker.schedule import beat_schedule


def create_celery(settings: Settings) -> Celery:
    """The app of every process that runs the service's tasks or schedule: worker, beat, Flower.

    The only place that adds the poison guard, the beat schedule, the worker's logging and its
    warm-up.
    """
    app = Celery("sales_forecast", set_as_current=True)
    queue = settings.forecast_queue
    app.conf.update(celery_conf(settings))
    app.conf.update(
        worker_send_task_events=True,
        # A job is acknowledged when it finishes: a worker killed mid-job leaves it to another.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A lost broker (a restart, a Sentinel failover) is retried every few seconds from the
        # first attempt, not on kombu's 2-4-6 ... 30 s schedule (worker/consumer.py).
        worker_consumer=consumer.CONSUMER,
        broker_connection_max_retries=consumer.RECONNECT_MAX_RETRIES,
        # Nothing runs forever: a job stuck in a model or a library ends at the soft limit
        # (worker/tasks.py reports it), or is killed at the hard one (0 in the settings: none).
        task_soft_time_limit=settings.task_soft_time_limit_seconds or None,
        task_time_limit=settings.task_time_limit_seconds or None,
        # A message a worker took and never acked (the whole worker died) is redelivered after
        # the visibility timeout; it must exceed the longest job, or a slow job would also run
        # elsewhere. kombu looks for such messages every interval x throttle seconds (10 x 10 by
        # default), so a dead worker's job waited up to 100 s past the timeout: look every
        # few seconds instead (one ZRANGE on the unacked index), scaled to the timeout.
        broker_transport_options={
            **app.conf.broker_transport_options,
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_seconds // 5)),
            "unacked_restore_throttle": 1,
            # The poison guard caps a message's timelimit header at these (worker/poison/transport.py).
            "max_soft_time_limit": settings.task_soft_time_limit_seconds or None,
            "max_time_limit": settings.task_time_limit_seconds or None,
        },
        task_queues=[Queue(queue, Exchange(queue, type="direct"), routing_key=queue)],
        worker_hijack_root_logger=False,
    )
    # The poison-message guard (worker/poison/transport.py): kombu's Redis transport with every raw
    # message checked before Celery decodes it; refused ones go to `<queue>.dead`, never to
    # a task.
    poison.install(app.conf, settings.celery_broker_url)
    # Beat's schedule (worker/schedule.py): `forecast.refresh` on FORECAST_REFRESH_CRON. Parsed
    # here, so a malformed cron expression stops the worker and beat at start-up.
    app.conf.beat_schedule = beat_schedule(settings)
    # JSON log lines with the task id for the worker and beat (they send Celery's setup_logging).
    logging_setup.install()
    # The modelling stack imported and run once in the worker's main process before its pool
    # forks and before it takes a job (worker/warmup.py): the first job costs what later ones do.
    warmup.install()
    app.settings = settings  # read by the tasks: configuration is read once, by the entry point
    # worker.tasks: `forecast.sales`; worker.webhooks: `forecast.webhook`, the signed completion
    # callbacks; worker.refresh: `forecast.refresh`, which beat sends.
    app.conf.include = ["worker.tasks", "worker.grouped", "worker.webhooks", "worker.refresh"]
    return app
