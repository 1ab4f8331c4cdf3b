"""The poison-message transport: kombu's Redis transport with the checks between pop and decode.

:class:`GuardedChannel` calls :func:`worker.poison.checks.inspect_message` on each raw message the
moment ``BRPOP``/``RPOP`` returns it. A refused message is logged, pushed with its reason onto the
dead-letter list ``<queue>.dead``, and, when it names a task id, that id gets a FAILURE result
(``invalid_request``). :func:`install` selects the guarded transport for a Redis broker.
"""
from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any, Callable

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str

from shared.contract.errors import InvalidRequest, RefusalReason, Refused
from shared.contract.protocol import CeleryState
from shared.contract.status import read_meta
from worker.poison.checks import MAX_MESSAGE_BYTES, TaskLookup, inspect_message

log = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = ".dead"
# The dead-letter list keeps the newest entries only, so a flood cannot fill Redis.
DEAD_LETTER_MAX_ENTRIES = 1000
# An oversized message is dead-lettered with only its head: enough to see what sent it.
OVERSIZED_HEAD_BYTES = 64 * 1024
GUARDED_TRANSPORT = "worker.poison.transport:GuardedTransport"
GUARDED_SENTINEL_TRANSPORT = "worker.poison.transport:GuardedSentinelTransport"
# kombu names remote-control reply queues "<uuid>.reply.<app>.pidbox".
PIDBOX_SUFFIX = ".pidbox"


def dead_letter_entry(raw: bytes, refusal: Refused, queue: str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """The JSON kept on ``<queue>.dead``: the reason, and the raw message (its head, if oversized)."""
    kept = raw if len(raw) <= max_bytes else raw[:OVERSIZED_HEAD_BYTES]
    entry: dict[str, Any] = {
        "reason": str(refusal.reason),
        "detail": refusal.detail,
        "queue": queue,
        "task_id": refusal.task_id,
        "task": refusal.task,
        "size": len(raw),
        "truncated": len(kept) < len(raw),
        "refused_at": time.time(),
    }
    try:
        entry["raw"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        entry["raw_base64"] = base64.b64encode(kept).decode("ascii")
    return json.dumps(entry)


def _celery_lookup(name: str) -> Callable[..., Any] | None:
    # The worker's app is the current one (create_celery sets it); its registry is authoritative,
    # so a task another module registers (beat's refresh, the webhook) is known without a list.
    from celery import current_app

    task = current_app.tasks.get(name)
    return task.run if task is not None else None


# GuardedChannel overrides two kombu methods with copies that call the guard. These are the
# SHA-256 of the upstream methods' source (kombu 5.7.0, dedented) that the copies were made from:
# tests/worker/test_poison_upstream.py fails when a kombu upgrade changes either, so the copies
# are reviewed (and these digests updated) instead of silently bypassing or breaking the guard.
COPIED_UPSTREAM_SHA256 = {
    "_brpop_read": "f073dbcb18d71759b81a2ddefaeb09111dc3d9c02a85cba70499432f3d6449c4",
    "_get": "7fa9795f68f7a2b5b63a62f82c30064fa7f1d9a86e7f94f41f72e3c374de9705",
}


class GuardedChannel(kombu_redis.Channel):
    """kombu's Redis Channel, with every popped message checked before it is decoded."""

    max_message_bytes = MAX_MESSAGE_BYTES
    dead_letter_max_entries = DEAD_LETTER_MAX_ENTRIES
    # Settable through broker_transport_options, like kombu's own options.
    # The worker's configured time limits (TASK_SOFT_TIME_LIMIT_SECONDS, TASK_TIME_LIMIT_SECONDS):
    # a message's timelimit header is capped at them (create_celery passes them).
    max_soft_time_limit: float | None = None
    max_time_limit: float | None = None
    from_transport_options = kombu_redis.Channel.from_transport_options + (
        "max_message_bytes",
        "dead_letter_max_entries",
        "max_soft_time_limit",
        "max_time_limit",
    )
    task_lookup: TaskLookup = staticmethod(_celery_lookup)

    def _admit(self, queue: str, item: bytes) -> dict[str, Any] | None:
        """The envelope to deliver, or None once a refused message has been dead-lettered."""
        if queue.endswith(PIDBOX_SUFFIX):
            # Remote-control replies (inspect, ping: the web tier's /readyz) are not task
            # messages; they reach only the client that asked, on a queue named for it.
            return json.loads(item)
        try:
            return inspect_message(
                item,
                lookup=self.task_lookup,
                max_bytes=self.max_message_bytes,
                time_limits=(self.max_soft_time_limit, self.max_time_limit),
            )
        except Refused as refusal:
            self._refuse(queue, item, refusal)
        except Exception:  # a bug in the guard must not become a crash loop either
            log.exception("poison guard failed on a message from %r; dead-lettering it", queue)
            self._refuse(queue, item, Refused(RefusalReason.MALFORMED_ENVELOPE, "the guard could not check it"))
        return None

    def _refuse(self, queue: str, item: bytes, refusal: Refused) -> None:
        dead_key = queue + DEAD_LETTER_SUFFIX
        log.error(
            "refused a message from %r (%s: %s; task=%r id=%r, %d bytes); kept on %r",
            queue, refusal.reason, refusal.detail, refusal.task, refusal.task_id, len(item), dead_key,
        )
        try:
            entry = dead_letter_entry(item, refusal, queue, max_bytes=self.max_message_bytes)
            with self.conn_or_acquire() as client:
                with client.pipeline() as pipe:
                    pipe.lpush(dead_key, entry)
                    pipe.ltrim(dead_key, 0, self.dead_letter_max_entries - 1)
                    pipe.execute()
        except Exception:
            # the message has left the queue already: the log is the only copy left
            log.exception("could not dead-letter the refused message; its head: %r", item[:2048])
        if refusal.task_id:
            _store_refusal_result(refusal)

    # -- the two places kombu's Redis channel pops a message ------------------------------------
    def _brpop_read(self, **options: Any) -> bool:
        # kombu 5.7's Channel._brpop_read, with the guard between BRPOP and json.loads.
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if dest__item:
                dest, item = dest__item
                dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
                self._queue_cycle.rotate(dest)
                payload = self._admit(dest, item)
                if payload is not None:
                    self.connection._deliver(payload, dest)
                return True  # a refused message was still handled: poll again
            raise kombu_redis.Empty()
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _get(self, queue: str) -> dict[str, Any]:
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                item = client.rpop(self._q_for_pri(queue, pri))
                if item:
                    self._maybe_update_queues_expire(client, queue)
                    payload = self._admit(queue, item)
                    if payload is not None:
                        return payload
            self._maybe_update_queues_expire(client, queue)
            raise kombu_redis.Empty()


class GuardedTransport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`GuardedChannel`; selected by ``broker_transport``."""

    Channel = GuardedChannel


class GuardedSentinelChannel(GuardedChannel, kombu_redis.SentinelChannel):
    """kombu's Sentinel channel (the master found through the sentinels) with the same guard:
    the guard's methods come first, the Sentinel channel's pool and options after them."""

    from_transport_options = tuple(
        dict.fromkeys(GuardedChannel.from_transport_options + kombu_redis.SentinelChannel.from_transport_options)
    )


class GuardedSentinelTransport(kombu_redis.SentinelTransport):
    """kombu's Sentinel transport with :class:`GuardedSentinelChannel` (REDIS_SENTINELS)."""

    Channel = GuardedSentinelChannel


def _store_refusal_result(refusal: Refused) -> None:
    """Give the refused message's id a FAILURE result (invalid_request), unless it has one."""
    from celery import current_app

    try:
        backend = current_app.backend
        # A refused message may reuse the id of a real job: never overwrite that job's result.
        if read_meta(backend, refusal.task_id) is not None:
            return
        message = f"message refused ({refusal.reason}): {refusal.detail}"
        backend.store_result(refusal.task_id, InvalidRequest(message), CeleryState.FAILURE)
    except Exception:
        log.exception("could not store a FAILURE result for refused task %r", refusal.task_id)


def install(conf: Any, broker_url: str) -> None:
    """Select the guarded transport for a Redis broker (``app.conf``, the broker URL)."""
    scheme = broker_url.split("://", 1)[0].lower() if "://" in broker_url else ""
    if scheme in ("redis", "rediss"):
        conf.broker_transport = GUARDED_TRANSPORT
    elif scheme == "sentinel":
        conf.broker_transport = GUARDED_SENTINEL_TRANSPORT
    else:  # the guard is Redis-specific; another broker keeps stock kombu
        log.warning("broker %r is not Redis: the poison-message guard is not installed", scheme)
