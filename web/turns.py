"""Connections take turns under gevent: each request first lets every other ready one be served.

gunicorn's gevent workers serve each connection in a greenlet, and a greenlet gives the others a
turn only when it would block. Under saturating load, a kept-alive connection whose next request
is already in its socket's buffer is read and served without a switch, again and again, while
the other connections of the process wait: with 20 readers, /healthz answered in 0.7–3 ms at the
median and in 260–1,100 ms at p99 (benchmarks/readers.py; docs/scaling.md §4). Waiting, before
each request, until the event loop has run every other ready greenlet (``gevent.idle()``) serves
the connections in turn: the same throughput, and a p99 near the mean that the throughput sets
(20 connections at ~2,300 requests/s is ~9 ms, Little's law). Outside gevent (the Flask test
client, a threaded server) the middleware is a plain call.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable


def _under_gevent() -> bool:
    """True when gevent has patched the socket module (gunicorn's gevent worker does, before it
    loads the app)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("socket"))


class TakeTurns:
    """WSGI middleware: ``gevent.idle()`` before each request, when gevent serves it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._idle: Callable[[], Any] | None = None
        if _under_gevent():
            import gevent

            self._idle = gevent.idle

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Wait for the other ready connections' turn, then serve this request."""
        if self._idle is not None:
            self._idle()
        return self.app(environ, start_response)
