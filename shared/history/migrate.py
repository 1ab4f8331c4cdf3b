"""Run the history's Alembic migrations: once per deployment step, never from two processes at once.

Who runs them: the local runner before it starts any process, and the one-shot ``migrate``
service in docker-compose.yml that web and worker wait for (``python -m shared.history upgrade``).
No web or worker process migrates on start: with several replicas they would race.

As a second guard, the upgrade holds a lock while it runs (a PostgreSQL advisory lock; an
exclusive file lock beside a SQLite file), so two operators running it at once take turns.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from shared.history.engine import make_engine, normalise_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 0x5F0E_C457  # any constant: the one lock all upgrades of this app take


def alembic_config() -> Config:
    """An Alembic config for this package's migrations, built in code (no ``alembic.ini``); callers hand
    it the connection through ``config.attributes["connection"]``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """SQLite: an exclusive file lock beside the database, taken before connecting (connecting
    sets WAL mode, which waits on a migration running in another process's transaction)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(url: str, conn: Connection) -> Iterator[None]:
    """PostgreSQL: the advisory lock every upgrade of this app takes, held on ``conn``."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        conn.commit()


def upgrade(database_url: str, revision: str = "head") -> str | None:
    """Bring the database to ``revision``; returns the revision it is at afterwards."""
    url = normalise_url(database_url)
    engine = make_engine(url, pool_size=1)
    try:
        with _migration_lock(url), engine.connect() as conn, _advisory_lock(url, conn):
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def current(database_url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    engine = make_engine(normalise_url(database_url), pool_size=1)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision among the migration scripts (what :func:`upgrade` brings a database to);
    compare with :func:`current` to see whether a database is behind."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
