"""Completion webhooks, the pure part: Standard Webhooks signatures and the callback allowlist.

A job submitted with ``callback_url`` has its final status document POSTed there, signed as the
Standard Webhooks specification (standardwebhooks.com) describes, so any of its libraries (PHP,
JS, Python...) verifies it:

- ``webhook-id``: the message id (the same for every retry of one delivery: dedupe on it);
- ``webhook-timestamp``: Unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")); several
  space-separated signatures may appear (key rotation); one matching is enough.

The key: ``WEBHOOK_SECRET`` as ``whsec_<base64>`` (the specification's form) is the decoded bytes;
any other ``WEBHOOK_SECRET`` is its UTF-8 bytes; unset, a key derived from ``SECRET_KEY``
(:attr:`shared.contract.config.Settings.effective_webhook_secret`). docs/laravel.md shows the receiver.

No Celery, no HTTP here: the worker (worker/webhooks.py) and the web tier both use these.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from shared.contract.errors import InvalidRequest, WebhookVerificationError

SIGNATURE_VERSION = "v1"
WHSEC_PREFIX = "whsec_"
# Receivers reject a timestamp further than this from their clock (replay protection).
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


def signing_key(secret: bytes | str) -> bytes:
    """The HMAC key for a configured secret: ``whsec_<base64>`` decoded, else the raw bytes."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if raw.startswith(WHSEC_PREFIX.encode()):
        try:
            return base64.b64decode(raw[len(WHSEC_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    if not raw:
        raise ValueError("the webhook secret is empty")
    return raw


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{msg_id}.{timestamp}.{body}`` (``key`` from :func:`signing_key`)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_headers(key: bytes, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt of ``body``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {HEADER_ID: msg_id, HEADER_TIMESTAMP: str(ts), HEADER_SIGNATURE: sign(key, msg_id, ts, body)}


def verify(
    key: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = TIMESTAMP_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise :class:`WebhookVerificationError` unless ``body`` was signed with ``key`` recently."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get(HEADER_ID)
    stamp = lowered.get(HEADER_TIMESTAMP)
    signatures = lowered.get(HEADER_SIGNATURE)
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        ts = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a whole number") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    expected = sign(key, msg_id, ts, body)
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return
    raise WebhookVerificationError("no matching signature")


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("*."):  # a subdomain wildcard: *.example.com, not example.com itself
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def callback_url_pattern(allowed_hosts: Iterable[str]) -> str | None:
    """A regular expression (ECMA and Python alike) for callback URLs that :func:`check_callback_url`
    accepts with these hosts, for the published schema; None when no host is allowed.

    It states a part of what is accepted (lower-case hosts, ports up to 9999, no spaces (Unicode's
    too), no control characters, no surrogates, nothing beyond U+FFFD: a character class every regex
    engine reads alike), never more, so a URL it matches is always accepted.
    """
    hosts = []
    for entry in allowed_hosts:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("*."):
            hosts.append(r"([a-z0-9-]+\.)+" + re.escape(entry[2:]))
        elif ":" in entry:  # an IPv6 literal: bracketed in a URL
            hosts.append(r"\[" + re.escape(entry) + r"\]")
        else:
            hosts.append(re.escape(entry))
    if not hosts:
        return None
    return (
        r"^https?://(" + "|".join(hosts) + r")(:[1-9][0-9]{0,3})?"
        # no Unicode space either (U+00A0, U+1680, U+2000-200A, U+2028/9, U+202F, U+205F, U+3000):
        # the request's strings are stripped, so a URL ending in one would not come back unchanged
        r"([/?#][\x21-\x7e\u00a1-\u167f\u1681-\u1fff\u200b-\u2027\u202a-\u202e\u2030-\u205e"
        r"\u2060-\u2fff\u3001-\ud7ff\ue000-\ufffd]*)?$"
    )


def check_callback_shape(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL without credentials, else :class:`InvalidRequest`."""
    callback_host(url)
    return url


def callback_host(url: str | None) -> str | None:
    """The lower-cased host of a callback URL (None for None), after checking its shape only: absolute
    http(s), a valid port, no credentials; raises :class:`InvalidRequest` (field ``callback_url``).
    The allow-list is :func:`check_callback_url`'s job."""
    if url is None:
        return None
    if not isinstance(url, str):
        raise InvalidRequest("callback_url must be a string", field="callback_url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port
    except ValueError:
        raise InvalidRequest("callback_url is not a valid URL", field="callback_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidRequest("callback_url must be an absolute http(s) URL", field="callback_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("callback_url must not carry credentials", field="callback_url")
    return host


def check_callback_url(url: str | None, allowed_hosts: Iterable[str]) -> str | None:
    """``url`` if the service may POST to it, else :class:`InvalidRequest` (field ``callback_url``).

    Allowed: an absolute http(s) URL, without credentials, whose host is one of ``allowed_hosts``
    (``Settings.effective_callback_hosts``: CALLBACK_ALLOWED_HOSTS, by default the Laravel API's
    host). Entries are host names or IP literals matched exactly (any port), or ``*.domain`` for
    its subdomains. :meth:`shared.contract.schema.ForecastRequest.parse` applies it where a request
    enters: the web tier's POST, and the worker's task for a message put straight into Redis.
    """
    host = callback_host(url)
    if host is None:
        return None
    allowed = tuple(allowed_hosts)
    if not allowed:
        raise InvalidRequest(
            "callbacks are disabled: no callback host is allowed (set CALLBACK_ALLOWED_HOSTS)",
            field="callback_url",
        )
    if not _host_allowed(host, allowed):
        raise InvalidRequest(f"callback_url host {host!r} is not allowed", field="callback_url")
    return url
