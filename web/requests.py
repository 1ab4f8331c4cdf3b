"""Reading a request: the JSON body and the Idempotency-Key header, strictly.

What the fields mean and which values are allowed is :class:`shared.contract.schema.ForecastRequest`'s
business (the worker checks a message put straight into Redis with the same model).
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

from flask import request

from shared.contract.errors import InvalidRequest, MalformedBody
from shared.contract.schema import ForecastRequest

# Idempotency-Key: 1-255 visible ASCII characters, as HTTP tokens go. The one rule: checked
# here, and published as the header's pattern in /openapi.json (web/openapi.py).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IDEMPOTENCY_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("non-finite number")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json_body() -> Any:
    """The request body as parsed JSON; an empty body means "all defaults" ({})."""
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH applies: 413 past it
    if not raw.strip():
        return {}
    if not request.is_json:
        raise MalformedBody("the body must be JSON (Content-Type: application/json)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the body is not valid UTF-8") from None
    try:
        return json.loads(text, parse_float=_finite_float, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise MalformedBody("the body is not valid JSON") from None


def parse_request(data: Any, callback_hosts: Iterable[str]) -> ForecastRequest:
    """The body as a validated request: the schema checks every field, control characters and
    the callback host too (a callback outside CALLBACK_ALLOWED_HOSTS is a 422 now, not a failed job)."""
    if not isinstance(data, dict):  # an empty body was read as {}; JSON null is not an object
        raise MalformedBody("the body must be a JSON object")
    return ForecastRequest.parse(data, callback_hosts=callback_hosts)


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header, or None without one; :class:`InvalidRequest` unless it is 1-255
    visible ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1-255 visible ASCII characters", field="Idempotency-Key"
        )
    return key
