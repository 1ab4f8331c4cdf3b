"""The tokens in live-update URLs: ``events_url`` opens one job's stream, and nothing else.

A browser's ``EventSource`` cannot send headers, so the stream's URL carries its own credential:
``<expires>.<signature>``, the HMAC-SHA256 (with a key derived from SECRET_KEY) of the job's id
and the expiry time. It is good for that job's stream only, until it expires; with API_KEYS set
it reads no other job and no other endpoint (web/auth.py lets it through on that one route, and
the route checks it). A token is handed out with every submit answer and status document, so a
client that polls gets a fresh one.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

TOKEN_SECONDS = 3600  # long enough for a queued job to start and end; an open stream outlives it
TOKEN_PARAM = "token"


def _signature(key: bytes, task_id: str, expires: int) -> str:
    mac = hmac.new(key, f"events\x00{task_id}\x00{expires}".encode("utf-8", "surrogateescape"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def make_token(key: bytes, task_id: str, *, now: float | None = None, seconds: int = TOKEN_SECONDS) -> str:
    """A token ``<expiry>.<signature>`` that opens ``task_id``'s live-update stream without the API key, for
    ``seconds`` from ``now`` (an EventSource cannot send headers)."""
    expires = int((time.time() if now is None else now) + seconds)
    return f"{expires}.{_signature(key, task_id, expires)}"


def token_valid(key: bytes, task_id: str, token: str, *, now: float | None = None) -> bool:
    """True for an unexpired token made for ``task_id`` with ``key``; anything else is False."""
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or not signature:
        return False
    expires = int(expires_text)
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature.encode(), _signature(key, task_id, expires).encode())


def events_url(key: bytes, task_id: str) -> str:
    """The path of ``task_id``'s stream, with a fresh token."""
    return f"/api/v1/forecasts/{quote(task_id, safe='')}/events?{TOKEN_PARAM}={make_token(key, task_id)}"
