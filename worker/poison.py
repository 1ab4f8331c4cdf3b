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

The checks (:func:`inspect_message`) are pure: tests call them directly on bytes.
"""
from __future__ import annotations

import base64
import binascii
import inspect
import json
import logging
import re
import time
from datetime import datetime
from typing import Any, Callable

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str

from shared.contract.errors import InvalidRequest, RefusalReason, Refused
from shared.contract.protocol import CeleryState
from shared.contract.status import read_meta

log = logging.getLogger(__name__)

# Our own messages are a few hundred bytes; a megabyte is already absurd for a forecast request,
# and bounds what a hostile producer can make the worker parse.
MAX_MESSAGE_BYTES = 1024 * 1024
DEAD_LETTER_SUFFIX = ".dead"
# The dead-letter list keeps the newest entries only, so a flood cannot fill Redis.
DEAD_LETTER_MAX_ENTRIES = 1000
# An oversized message is dead-lettered with only its head: enough to see what sent it.
OVERSIZED_HEAD_BYTES = 64 * 1024
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
# Celery's own ids are UUIDs; anything printable up to this length is a usable result key.
TASK_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
GUARDED_TRANSPORT = "worker.poison:GuardedTransport"
GUARDED_SENTINEL_TRANSPORT = "worker.poison:GuardedSentinelTransport"
# kombu names remote-control reply queues "<uuid>.reply.<app>.pidbox".
PIDBOX_SUFFIX = ".pidbox"


# A task name -> the callable that runs it (``Task.run``), or None when no such task is registered.
TaskLookup = Callable[[str], Callable[..., Any] | None]


def _is_opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _check_iso(name: str, value: Any, task_id: str | None) -> None:
    if value is None:
        return
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
            return
        except ValueError:
            pass
    raise Refused(RefusalReason.MALFORMED_HEADERS, f"headers.{name} is not an ISO-8601 time", task_id=task_id)


def _check_headers(headers: dict[str, Any], task_id: str | None) -> None:
    """The headers Celery's strategy and Request read: a wrong type there raises in the consumer."""
    for name in ("root_id", "parent_id", "group", "shadow", "argsrepr", "kwargsrepr", "origin", "lang"):
        if not _is_opt_str(headers.get(name)):
            raise Refused(RefusalReason.MALFORMED_HEADERS, f"headers.{name} must be a string or null", task_id=task_id)
    retries = headers.get("retries")
    if retries is None:
        headers["retries"] = 0  # celery-for-php sends null; Task.retry() compares it with a number
    elif isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.retries must be a whole number", task_id=task_id)
    _check_iso("eta", headers.get("eta"), task_id)
    _check_iso("expires", headers.get("expires"), task_id)
    limit = headers.get("timelimit")
    if limit is not None and not (
        isinstance(limit, list)
        and len(limit) == 2
        and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0) for v in limit)
    ):
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.timelimit must be [soft, hard]", task_id=task_id)
    stamped = headers.get("stamped_headers")
    stamps = headers.get("stamps")
    if stamped is not None and not (isinstance(stamped, list) and all(isinstance(s, str) for s in stamped)):
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.stamped_headers must be a list", task_id=task_id)
    if stamps not in (None, []) and not isinstance(stamps, dict):  # [] is what celery-for-php sends
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.stamps must be an object", task_id=task_id)
    if stamped and not isinstance(stamps, dict):
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.stamps must name the stamped headers", task_id=task_id)
    if headers.get("ignore_result") not in (None, True, False):  # Celery itself sends null
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.ignore_result must be true or false", task_id=task_id)


def _decode_body(payload: dict[str, Any], properties: dict[str, Any], task_id: str | None) -> Any:
    body = payload.get("body")
    if not isinstance(body, str):
        raise Refused(RefusalReason.MALFORMED_BODY, "body must be a string", task_id=task_id)
    encoding = properties.get("body_encoding")
    if encoding == "base64":
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(RefusalReason.MALFORMED_BODY, "body is not valid base64", task_id=task_id) from None
    elif encoding is None:
        data = body.encode("utf-8", "surrogatepass")
    else:
        raise Refused(RefusalReason.MALFORMED_BODY, f"unsupported body_encoding {encoding!r}", task_id=task_id)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(RefusalReason.MALFORMED_BODY, "body is not UTF-8 JSON", task_id=task_id) from None


def inspect_message(raw: bytes, *, lookup: TaskLookup, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """Check one raw queue entry; return the envelope to deliver, or raise :class:`Refused`.

    The envelope is returned as parsed, except that a null ``headers.retries`` becomes 0.
    """
    if len(raw) > max_bytes:  # checked first: nothing of an oversized message is parsed
        raise Refused(RefusalReason.TOO_LARGE, f"{len(raw)} bytes, over the {max_bytes}-byte bound")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(RefusalReason.INVALID_JSON, "the message is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise Refused(RefusalReason.MALFORMED_ENVELOPE, "the message is not a JSON object")

    headers = payload.get("headers")
    if not isinstance(headers, dict):
        raise Refused(RefusalReason.MALFORMED_ENVELOPE, "headers must be an object")
    raw_id = headers.get("id")
    task_id = raw_id if isinstance(raw_id, str) and TASK_ID_PATTERN.match(raw_id) else None
    name = headers.get("task")
    name = name if isinstance(name, str) else None

    properties = payload.get("properties")
    if not isinstance(properties, dict):
        raise Refused(RefusalReason.MALFORMED_ENVELOPE, "properties must be an object", task_id=task_id, task=name)
    content_type = payload.get("content-type")
    if content_type != CONTENT_TYPE:
        # Decided on the declared type alone: a pickle is never handed to any deserialiser.
        raise Refused(
            RefusalReason.UNSUPPORTED_CONTENT_TYPE,
            f"content-type {content_type!r}; only {CONTENT_TYPE} is accepted",
            task_id=task_id,
            task=name,
        )
    encoding = payload.get("content-encoding")
    if not isinstance(encoding, str) or encoding.lower() != CONTENT_ENCODING:
        raise Refused(
            RefusalReason.UNSUPPORTED_CONTENT_TYPE,
            f"content-encoding {encoding!r}; only {CONTENT_ENCODING} is accepted",
            task_id=task_id,
            task=name,
        )
    tag = properties.get("delivery_tag")
    if not isinstance(tag, str) or not 0 < len(tag) <= 255:
        raise Refused(RefusalReason.MISSING_DELIVERY_TAG, "properties.delivery_tag must be a string", task_id=task_id, task=name)
    info = properties.get("delivery_info")
    if not (isinstance(info, dict) and isinstance(info.get("exchange"), str) and isinstance(info.get("routing_key"), str)):
        raise Refused(
            RefusalReason.MISSING_DELIVERY_INFO,
            "properties.delivery_info must be {exchange, routing_key}",
            task_id=task_id,
            task=name,
        )
    priority = properties.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise Refused(RefusalReason.MALFORMED_ENVELOPE, "properties.priority must be a whole number", task_id=task_id, task=name)
    if task_id is None:
        raise Refused(RefusalReason.MISSING_TASK_ID, "headers.id must be a printable string", task=name)
    if name is None:
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.task must be a string", task_id=task_id)
    _check_headers(headers, task_id)

    body = _decode_body(payload, properties, task_id)
    if not (isinstance(body, list) and len(body) == 3):
        raise Refused(RefusalReason.MALFORMED_BODY, "body must be [args, kwargs, embed]", task_id=task_id, task=name)
    args, kwargs, embed = body
    if not isinstance(args, list) or not isinstance(kwargs, dict) or not (embed is None or isinstance(embed, dict)):
        raise Refused(
            RefusalReason.MALFORMED_BODY, "body must be [list, object, object|null]", task_id=task_id, task=name
        )

    run = lookup(name)
    if run is None:
        raise Refused(RefusalReason.UNKNOWN_TASK, f"no task named {name!r}", task_id=task_id, task=name)
    try:
        inspect.signature(run).bind(*args, **kwargs)
    except TypeError as exc:
        raise Refused(RefusalReason.ARGUMENTS_MISMATCH, str(exc), task_id=task_id, task=name) from None
    except ValueError:  # a callable without an introspectable signature: let Celery call it
        pass
    return payload


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
    from_transport_options = kombu_redis.Channel.from_transport_options + (
        "max_message_bytes",
        "dead_letter_max_entries",
    )
    task_lookup: TaskLookup = staticmethod(_celery_lookup)

    def _admit(self, queue: str, item: bytes) -> dict[str, Any] | None:
        """The envelope to deliver, or None once a refused message has been dead-lettered."""
        if queue.endswith(PIDBOX_SUFFIX):
            # Remote-control replies (inspect, ping: the web tier's /readyz) are not task
            # messages; they reach only the client that asked, on a queue named for it.
            return json.loads(item)
        try:
            return inspect_message(item, lookup=self.task_lookup, max_bytes=self.max_message_bytes)
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
