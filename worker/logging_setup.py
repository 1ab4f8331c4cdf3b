"""JSON log lines for the worker and beat, each carrying the task id where there is one.

:func:`install` (called by :func:`worker.celery_app.create_celery`) connects to Celery's
``setup_logging`` signal. A receiver on that signal makes Celery leave logging alone: it neither
installs its own handlers nor sends ``after_setup_logger``/``after_setup_task_logger``, so this
one hook covers the root logger and the task loggers (which propagate to it) alike.

``task_prerun``/``task_postrun`` bind the task's id and name for every line logged while it runs,
in whichever pool process runs it. Celery's own lines about a task ("received", "succeeded in",
"raised", "retry") are logged with the id in their arguments, outside that window; the formatter
reads it from there.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import current_app, signals

from shared.contract.logs import JsonFormatter, bind, configure_json_logging, secrets_of, unbind


class WorkerJsonFormatter(JsonFormatter):
    """The worker's JSON formatter: also finds the task id and name in Celery's own lines about a task,
    which are logged outside the task's bound context."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """``task_id`` and ``task_name`` from a record whose args are Celery's dict of ``id`` and
        ``name`` (``celery.app.trace``, ``celery.worker.strategy``); nothing for any other record."""
        # celery.app.trace and celery.worker.strategy log with a dict of {"id", "name", ...}
        args = record.args
        if isinstance(args, dict) and "id" in args and "name" in args:
            return {"task_id": str(args["id"]), "task_name": str(args["name"])}
        return {}


def install() -> None:
    """Make the worker and beat log JSON lines (connects signals once; idempotent)."""
    # weak=False with module-level receivers and fixed uids: connecting twice is a no-op.
    signals.setup_logging.connect(_setup_logging, weak=False, dispatch_uid="sales-forecast-json-logs")
    signals.task_prerun.connect(_bind_task, weak=False, dispatch_uid="sales-forecast-bind-task")
    signals.task_postrun.connect(_unbind_task, weak=False, dispatch_uid="sales-forecast-unbind-task")


def _setup_logging(loglevel: int | str | None = None, logfile: str | None = None, **_: Any) -> None:
    # The app the command runs (-A worker.main) is the current one: create_celery sets it so.
    settings = getattr(current_app, "settings", None)
    configure_json_logging(
        loglevel or logging.INFO,
        formatter=WorkerJsonFormatter(secrets_of(settings) if settings is not None else ()),
        handler=logging.FileHandler(logfile) if logfile else None,
    )


_tokens: dict[str, dict] = {}


def _bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id:
        _tokens[task_id] = bind(task_id=task_id, task_name=getattr(task, "name", None))


def _unbind_task(task_id: str | None = None, **_: Any) -> None:
    tokens = _tokens.pop(task_id, None) if task_id else None
    if tokens:
        try:
            unbind(tokens)
        except ValueError:  # bound in another context (a thread pool): clear instead
            bind(task_id=None, task_name=None)
