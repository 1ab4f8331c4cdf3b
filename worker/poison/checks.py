"""The poison-message checks: what makes a raw queue entry unfit to hand to Celery (docs/api.md §6).

Pure: :func:`inspect_message` takes the bytes ``BRPOP`` returned and either returns the envelope to
deliver or raises :class:`~shared.contract.errors.Refused` with a reason. Nothing here touches
Redis or kombu; worker/poison/transport.py calls it on every popped message, and tests call it
directly on bytes.
"""
from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
from datetime import datetime
from typing import Any, Callable

from shared.contract.errors import RefusalReason, Refused

# Our own messages are a few hundred bytes; a megabyte is already absurd for a forecast request,
# and bounds what a hostile producer can make the worker parse.
MAX_MESSAGE_BYTES = 1024 * 1024
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
# Celery's own ids are UUIDs; anything printable up to this length is a usable result key.
TASK_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


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


TimeLimits = tuple[float | None, float | None]


def _capped(value: float | None, cap: float | None) -> float | None:
    return value if value is None or not cap else min(value, cap)


def _cap_time_limits(headers: dict[str, Any], caps: TimeLimits) -> None:
    """A message's ``timelimit`` may lower the worker's configured limits, never raise them: a
    producer (a Laravel app writing the header itself) could otherwise give a job hours. The
    header is [hard, soft] (Celery's protocol 2 order), ``caps`` (soft, hard). None stays None:
    Celery then applies the configured limit."""
    limit = headers.get("timelimit")
    if limit:
        soft_cap, hard_cap = caps
        headers["timelimit"] = [_capped(limit[0], hard_cap), _capped(limit[1], soft_cap)]


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
        raise Refused(RefusalReason.MALFORMED_HEADERS, "headers.timelimit must be [hard, soft]", task_id=task_id)
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


def inspect_message(
    raw: bytes, *, lookup: TaskLookup, max_bytes: int = MAX_MESSAGE_BYTES, time_limits: TimeLimits = (None, None)
) -> dict[str, Any]:
    """Check one raw queue entry; return the envelope to deliver, or raise :class:`Refused`.

    The envelope is returned as parsed, except that a null ``headers.retries`` becomes 0 and a
    ``headers.timelimit`` above ``time_limits`` (the worker's configured (soft, hard)) is capped.
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
    _cap_time_limits(headers, time_limits)

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
