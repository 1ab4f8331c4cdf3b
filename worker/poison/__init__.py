"""The poison-message guard: every message is checked, raw, before Celery sees it (docs/api.md §6).

Anything that can LPUSH onto the forecast queue can hand the worker a message. Stock Celery 5.7
with kombu's Redis transport, measured against this project's configuration:

- invalid JSON, a missing content-type, or a body that is not ``[args, kwargs, embed]`` raise out
  of the consumer as an "Unrecoverable error" and stop the worker (the last two are restored to
  the queue first, so every restart stops again);
- a missing ``delivery_tag`` or ``delivery_info`` is reported as a lost connection, and the
  message is gone;
- a missing ``headers.id`` is restored and redelivered forever, and nothing else is consumed;
- a pickle is refused (``accept_content=["json"]``) but discarded, so no operator can see it.

So the check runs one level below Celery: :class:`GuardedTransport` is kombu's Redis transport
with a Channel that validates each raw message the moment ``BRPOP``/``RPOP`` returns it, before
``json.loads`` and before kombu builds a Message from it. A message that fails is never handed
on: it is logged, pushed with its reason onto the dead-letter list ``<queue>.dead`` (where an
operator can inspect it; see docs/laravel.md), and, when it names a task id, that id gets a
FAILURE result with code ``invalid_request`` so the producer learns at once instead of waiting
out its timeout. Messages that pass are delivered exactly as stock kombu would.

The package holds the two halves: ``checks`` (what makes a message malformed; pure, tests call
:func:`inspect_message` directly on bytes) and ``transport`` (how a message is popped, refused,
dead-lettered and answered). The names below are the ones the worker and the tests import.
"""
from shared.contract.errors import RefusalReason, Refused
from worker.poison.checks import MAX_MESSAGE_BYTES, TaskLookup, TimeLimits, inspect_message
from worker.poison.transport import (
    COPIED_UPSTREAM_SHA256,
    DEAD_LETTER_MAX_ENTRIES,
    DEAD_LETTER_SUFFIX,
    GUARDED_SENTINEL_TRANSPORT,
    GUARDED_TRANSPORT,
    GuardedChannel,
    GuardedSentinelChannel,
    GuardedSentinelTransport,
    GuardedTransport,
    dead_letter_entry,
    install,
)

__all__ = [
    "COPIED_UPSTREAM_SHA256",
    "DEAD_LETTER_MAX_ENTRIES",
    "DEAD_LETTER_SUFFIX",
    "GUARDED_SENTINEL_TRANSPORT",
    "GUARDED_TRANSPORT",
    "MAX_MESSAGE_BYTES",
    "GuardedChannel",
    "GuardedSentinelChannel",
    "GuardedSentinelTransport",
    "GuardedTransport",
    "RefusalReason",
    "Refused",
    "TaskLookup",
    "TimeLimits",
    "dead_letter_entry",
    "inspect_message",
    "install",
]
