"""A PostgreSQL server of the tests' own: initdb into a temporary directory, pg_ctl on a free port.

Debian's ``postgresql`` package (in .ci/run's APT_PACKAGES) ships initdb and pg_ctl under
/usr/lib/postgresql/<version>/bin. The tests never use a server the machine may already run.
PostgreSQL refuses to run as root: as root, the cluster is owned by, and run as, the ``postgres``
user (runuser), in a directory under the system temp dir that it owns.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from local.redis_server import free_port

RUN_AS = "postgres"


def postgres_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: Debian's newest ``/usr/lib/postgresql/<n>/bin``
    (newest by name), else wherever ``initdb`` is on ``PATH``; None when PostgreSQL is not installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """``with PostgresServer() as pg: pg.url`` -- stop() and start() again keep the data."""

    def __init__(self, *, port: int | None = None, fsync: bool = False, database: str = "history") -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql)")
        self.bindir = bindir
        self.port = port or free_port()
        self.fsync = fsync
        self.database = database
        self.user = "app"
        self.root = Path(tempfile.mkdtemp(prefix="sf-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_other = os.geteuid() == 0
        self._initialised = False

    @property
    def url(self) -> str:
        """A libpq URL for the test database as the ``app`` superuser, no password (the cluster trusts
        local connections)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = list(argv)
        if self._as_other:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)

    def _init(self) -> None:
        if self._as_other:
            entry = pwd.getpwnam(RUN_AS)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )
        self._initialised = True

    def start(self, timeout: float = 60) -> "PostgresServer":
        """Create the cluster on first use, start it on 127.0.0.1 (without fsync unless asked: test data
        is disposable) and create the database if missing; waits up to ``timeout`` seconds for the
        server."""
        if not self._initialised:
            self._init()
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10,
        )
        self._ensure_database()
        return self

    def _ensure_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True, connect_timeout=5
                ) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are cut) if it is running; the cluster's data
        is kept, so :meth:`start` brings it back as it was."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        """Stop the server and delete the whole temporary directory, data included, even if stopping
        fails."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
