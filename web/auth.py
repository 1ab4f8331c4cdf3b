"""API keys for every /api/ route (docs/api.md §2: API_KEYS).

No keys configured: no auth, and a warning at start-up. Keys configured: a request needs
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The presented key is compared with every
configured key in constant time (no early exit), so timing tells nothing about which or how much
of a key matched. CORS preflights (OPTIONS) carry no credentials by design and are let through:
they only describe what the real request may send.
"""
from __future__ import annotations

import hmac
import logging

from flask import Flask, request

from shared.contract.errors import Unauthorized
from web.event_tokens import TOKEN_PARAM

log = logging.getLogger(__name__)

PROTECTED_PREFIX = "/api/"


def presented_key() -> str | None:
    """The API key the request presents: a non-empty ``Authorization: Bearer`` token first, else
    ``X-API-Key``; None when it carries neither (other schemes are ignored)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = request.headers.get("X-API-Key", "").strip()
    return key or None


def key_matches(candidate: str, keys: tuple[str, ...]) -> bool:
    """Whether ``candidate`` equals any of ``keys``, comparing with every key in constant time so the
    timing does not tell which key, or how much of one, matched (a key's length may still show)."""
    given = candidate.encode("utf-8", "surrogateescape")
    matched = False
    for key in keys:
        # `|` not `or`: every key is compared, whatever matched before.
        matched |= hmac.compare_digest(given, key.encode("utf-8", "surrogateescape"))
    return matched


def init_auth(app: Flask, api_keys: tuple[str, ...], token_endpoints: set[str] | frozenset[str] = frozenset()) -> None:
    """Require a valid API key on every ``/api/`` route (CORS preflights excepted) when ``api_keys`` is
    non-empty; with none, only log a warning and leave the API open. Other paths (dashboard,
    ``/healthz``, ``/metrics``) are never checked here. ``token_endpoints``: routes that a request
    carrying ``?token=`` may reach without a key; the route itself checks the token (web/events.py:
    a job's live-update stream)."""
    if not api_keys:
        log.warning("API_KEYS is not set: the /api/ routes accept requests without a key")
        return
    keys = tuple(api_keys)

    @app.before_request
    def require_api_key() -> None:
        if not request.path.startswith(PROTECTED_PREFIX) or request.method == "OPTIONS":
            return None
        if request.endpoint in token_endpoints and TOKEN_PARAM in request.args:
            return None
        candidate = presented_key()
        if candidate is None:
            raise Unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
        if not key_matches(candidate, keys):
            raise Unauthorized("the API key is not valid")
        return None
