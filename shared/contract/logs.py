"""JSON log lines: one object a line, carrying the task id and request id where there is one.

Pure: no Flask, no Celery. The worker (``worker/logging_setup.py``) and the web tier
(``web/logging_setup.py``) bind the ids through the context variables below and install
:func:`configure_json_logging`; every process then writes lines such as::

    {"time": "2025-11-01T02:00:00.123Z", "level": "INFO", "logger": "worker.tasks",
     "message": "...", "process": "ForkPoolWorker-1", "task_id": "9f0c..."}

No secret reaches a line: passwords in URLs, Bearer tokens and ``token=``/``password=``-style
values are masked wherever they appear, and so is every configured secret value, verbatim.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, TextIO

MASK = "***"

# The ids a line is about. Context variables, so each thread (gunicorn's gthread workers) and
# each task (a Celery pool process runs one at a time) sees only its own.
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)
task_name_var: ContextVar[str | None] = ContextVar("task_name", default=None)
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_CONTEXT_VARS: dict[str, ContextVar[str | None]] = {
    "task_id": task_id_var,
    "task_name": task_name_var,
    "request_id": request_id_var,
}


def bind(**ids: str | None) -> dict[str, Token]:
    """Set ``task_id``/``task_name``/``request_id`` for what this thread logs next.

    Returns the tokens for :func:`unbind`, which puts the previous values back.
    """
    return {name: _CONTEXT_VARS[name].set(value) for name, value in ids.items()}


def unbind(tokens: Mapping[str, Token]) -> None:
    """Restore the ids that :func:`bind` replaced, from the tokens it returned (in any order: each token
    resets its own variable)."""
    for name, token in tokens.items():
        _CONTEXT_VARS[name].reset(token)


# ---- secrets ---------------------------------------------------------------------------------

# scheme://user:password@host -> scheme://user:***@host (redis, http, amqp... any scheme)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^@\s]+@")
# Authorization: Bearer <token> / Basic <credentials>
_AUTH_SCHEME = re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
# key=value and "key": "value" for names that hold secrets (query strings, kwargs reprs, headers)
# (names ending so: api_key, x-api-key, laravel_api_token, webhook_secret, secret_key, ...)
_SECRET_NAME = r"[\w\-]*(?:password|passwd|pwd|secret|secret[_\-]?key|token|api[_\-]?key|signature)"
_SECRET_ASSIGN = re.compile(
    r"(?P<head>(?<![\w\-])" + _SECRET_NAME + r"['\"]?\s*(?:=|:)\s*['\"]?)(?P<value>[^&\s'\",;}]+)",
    re.IGNORECASE,
)
_SECRET_KEY = re.compile(_SECRET_NAME + "$", re.IGNORECASE)
# Cheap tests that must pass before each pattern can match (on the case-folded text): most of
# what is logged (paths, ids, numbers, times) passes none, and skips the three regexes. A log
# line is formatted on every request, so this is on the web tier's hot path.
_AUTH_HINT = re.compile("bearer|basic|token")
_SECRET_HINT = re.compile("pass|pwd|secret|token|api|signature")
# Values shorter than this are not masked verbatim: "1" or "user" would mask half of every line.
_MIN_SECRET_LENGTH = 6


class Redactor:
    """Masks secrets in text: by shape (URL passwords, tokens) and by value (configured ones)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
        # longest first, so a secret that contains another is masked whole
        self.values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with configured secret values masked verbatim first, then URL passwords, auth-scheme
        tokens and secret-named ``key=value`` pairs by shape; cheap substring checks skip the regexes
        on most lines."""
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        if "://" in text:
            text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
        folded = text.casefold()  # as the patterns' IGNORECASE folds (ſ is s, K is k)
        if _AUTH_HINT.search(folded):
            text = _AUTH_SCHEME.sub(lambda m: m.group("head") + MASK, text)
        if ("=" in text or ":" in text) and _SECRET_HINT.search(folded):
            text = _SECRET_ASSIGN.sub(lambda m: m.group("head") + MASK, text)
        return text

    def scrub(self, value: Any) -> Any:
        """``value`` with every string in it redacted, and values under secret-named keys masked."""
        if isinstance(value, str):
            return self(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, Mapping):
            return {str(k): MASK if _secret_key(str(k)) and v else self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.scrub(v) for v in value]
        return self(str(value))


@functools.lru_cache(maxsize=1024)
def _secret_key(name: str) -> bool:
    """Whether a field named so holds a secret (the same few names come back on every line)."""
    return bool(_SECRET_KEY.match(name))


def secrets_of(settings: Any) -> list[str]:
    """The secret values in a :class:`shared.contract.config.Settings` (duck-typed: any object will do)."""
    from urllib.parse import urlsplit

    found: list[str | None] = [
        getattr(settings, "laravel_api_token", None),
        getattr(settings, "secret_key", None),
        getattr(settings, "webhook_secret", None),
        getattr(settings, "redis_sentinel_password", None),
        *(getattr(settings, "api_keys", None) or ()),
    ]
    auth = getattr(settings, "flower_basic_auth", None) or ""
    for pair in auth.split(","):
        found.append(pair.partition(":")[2])
    for name in ("redis_url", "broker_url", "result_backend", "laravel_api_url"):
        url = getattr(settings, name, None)
        if url:
            try:
                found.append(urlsplit(url).password)
            except ValueError:  # an unparseable URL: masked by shape, if at all
                pass
    return [s for s in found if s]


# ---- the formatter ---------------------------------------------------------------------------

# Attributes every LogRecord has: anything else on a record came from ``extra=`` and is logged.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Stamps each record with the bound ids when it is made (before any handler formats it).

    Installed on handlers, not loggers, so records propagated from any logger get it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Fill each context id the record does not already carry from the bound context variables;
        never drops a record (always True)."""
        for name, var in _CONTEXT_VARS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, process, ids, extras, exception."""

    def __init__(self, secrets: Iterable[str | None] = (), static: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.redact = Redactor(secrets)
        self.static = dict(static or {})

    def format(self, record: logging.LogRecord) -> str:
        """The record as one redacted JSON line: fixed fields, the static ones, bound ids, ``extra=``
        attributes (bar ``_private`` ones), :meth:`fields` and any exception or stack; an
        unformattable message is logged as its repr rather than lost."""
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!r} % {record.args!r}"
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "process": record.processName,
            **self.static,
        }
        for name, var in _CONTEXT_VARS.items():
            value = getattr(record, name, None) or var.get()
            if value:
                payload[name] = value
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in _CONTEXT_VARS and key not in payload and key[0] != "_":
                payload[key] = value
        payload.update(self.fields(record))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(self.redact.scrub(payload), ensure_ascii=False)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """More fields for this record: the hook the web and worker formatters override."""
        return {}


# ---- set-up ----------------------------------------------------------------------------------

_MARK = "_sales_forecast_json"


def configure_json_logging(
    level: int | str = logging.INFO,
    *,
    secrets: Iterable[str | None] = (),
    formatter: logging.Formatter | None = None,
    stream: TextIO | None = None,
    handler: logging.Handler | None = None,
) -> logging.Handler:
    """Send the root logger's records, as JSON lines, to ``stream`` (stderr) or ``handler``.

    Idempotent: a second call replaces the handler the first installed and leaves any other
    (pytest's capture, for one) alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    handler = handler or logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(formatter or JsonFormatter(secrets))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler
