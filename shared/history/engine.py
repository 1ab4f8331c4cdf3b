"""The history's database engine: connecting with every wait bounded, and what its failures mean.

:func:`make_engine` builds the engine (SQLite or PostgreSQL); :func:`database_failures` is the one
place a database error becomes a named one: :class:`HistoryUnavailable` (try again later) or, for a
write, :class:`HistoryRejected` (these rows will never go in).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from shared.contract.errors import HistoryRejected, HistoryUnavailable

DEFAULT_CONNECT_TIMEOUT_SECONDS = 5
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000

# Errors that say something about the rows, not about the database being reachable: retrying the
# same publication would fail the same way.
_REJECTED = (sa_exc.IntegrityError, sa_exc.DataError)


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(
    url: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    pool_size: int = 2,
    create_dir: bool = True,
) -> Engine:
    """An engine whose every wait is bounded: connecting, each statement, SQLite's locks.
    ``create_dir``: make a SQLite file's directory (the writers do; the web tier only reads)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        if create_dir and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": connect_timeout})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL: the web tier reads while a worker writes; busy_timeout bounds a lock wait.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(connect_timeout * 1000)}")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": max(1, int(connect_timeout)),
            "options": f"-c statement_timeout={int(statement_timeout_ms)}",
            "application_name": f"sales-forecast-{os.getpid()}",
        }
    return create_engine(
        parsed,
        connect_args=connect_args,
        pool_pre_ping=True,  # a pooled connection from before a database restart is replaced
        pool_size=pool_size,
        max_overflow=2,
        pool_timeout=connect_timeout,
    )


def dialect_insert(engine: Engine) -> Any:
    """The engine's dialect ``insert`` (it has ``on_conflict_do_nothing``); ``ValueError`` for a
    database other than SQLite and PostgreSQL."""
    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise ValueError(f"the history supports SQLite and PostgreSQL, not {name}")


@contextmanager
def database_failures(dbapi: Any, *, job: str | None = None) -> Iterator[None]:
    """Translate what the database raises inside the block into the history's named errors.

    Any failure is :class:`HistoryUnavailable`. When the block writes ``job``'s rows, an error about
    the rows themselves (integrity, data) is :class:`HistoryRejected` instead: retrying would fail
    the same way. ``dbapi`` is the engine's driver module: COPY talks to it directly, so its errors
    arrive unwrapped.
    """
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        if job is not None and isinstance(exc, _REJECTED):
            raise HistoryRejected(f"job {job}: {type(exc).__name__}: {exc.orig}") from exc
        raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
    except dbapi.Error as exc:
        if job is not None and isinstance(exc, (dbapi.DataError, dbapi.IntegrityError)):
            raise HistoryRejected(f"job {job}: {type(exc).__name__}: {exc}") from exc
        raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
