"""Start and stop the whole stack as local processes: used by `make run` and the end-to-end tests.

Each process is started with the command from :mod:`stack.commands`, in its own process group,
so stopping the stack stops everything it started, children included.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from local.redis_server import RedisServer, free_port
from shared.contract.config import Settings
from stack import commands


def _resolve(argv: list[str]) -> list[str]:
    """Run console scripts (gunicorn, celery) from this interpreter's environment."""
    candidate = Path(sys.executable).parent / argv[0]
    return [str(candidate), *argv[1:]] if candidate.exists() else argv


@dataclass
class Managed:
    """One process the stack started: its name, its ``Popen`` (leader of its own process group), and its
    log file when the stack logs to files (else its output is echoed, prefixed by name)."""

    name: str
    process: subprocess.Popen
    log_path: Path | None = None
    _pump: threading.Thread | None = field(default=None, repr=False)


class LocalStack:
    """Redis (embedded unless REDIS_URL or REDIS_SENTINELS is set), the demo source (unless LARAVEL_API_URL is set),
    worker, web, and optionally Flower and beat."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        root: Path | str = ".",
        log_dir: Path | str | None = None,
        web: bool = True,
        worker: bool = True,
        worker_concurrency: int = 2,
        flower: bool = False,
        beat: bool = False,
        demo_today: str | None = None,
        migrate: bool = True,
        worker_app: str = commands.CELERY_APP,
        web_app: str = commands.WEB_APP,
        web_workers: int = 2,
    ) -> None:
        self.env = dict(env)
        # The apps the processes load: other entry points (the tests' clocked ones) may stand in.
        self.apps = {commands.CELERY_APP: worker_app, commands.WEB_APP: web_app}
        self.root = Path(root).resolve()
        self.log_dir = Path(log_dir) if log_dir else None
        self.want = {"web": web, "worker": worker, "flower": flower, "beat": beat}
        self.worker_concurrency = worker_concurrency
        self.web_workers = web_workers  # gunicorn processes (benchmarks/events.py measures one)
        self.demo_today = demo_today
        self.migrate = migrate
        self.redis: RedisServer | None = None
        self.processes: dict[str, Managed] = {}
        self.embedded_redis = False
        self.demo_source = False

    # -- start ------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 60.0) -> "LocalStack":
        """Start everything wanted and wait until it answers (web's ``/healthz``, then ``/readyz`` once
        a worker is up); on any failure, or after ``ready_timeout`` seconds for a step, stop what was
        started and raise. Returns the stack, for chaining."""
        try:
            self._start_all(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self, ready_timeout: float) -> None:
        env = self.env
        env.setdefault("PYTHONUNBUFFERED", "1")
        if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):
            data_dir = self.root / "var" / "redis"
            self.redis = RedisServer(data_dir=data_dir, appendonly=True).start()
            env["REDIS_URL"] = self.redis.url
            self.embedded_redis = True
        if not env.get("LARAVEL_API_URL"):
            port = free_port()
            argv = [sys.executable, "-m", "local.fake_laravel", "--demo", "--port", str(port),
                    "--timezone", env.get("SALES_TIMEZONE", "UTC")]
            if self.demo_today:
                argv += ["--today", self.demo_today]
            self._spawn("demo-laravel", argv)
            env["LARAVEL_API_URL"] = f"http://127.0.0.1:{port}"
            self.demo_source = True
            self._wait_http(f"http://127.0.0.1:{port}/", "demo-laravel", ready_timeout, any_status=True)
        settings = Settings.from_env(env)  # the one set of defaults
        env.setdefault("WEB_PORT", str(settings.web_port))
        env.setdefault("FLOWER_PORT", str(settings.flower_port))
        if self.migrate:
            self._migrate_history()
        if self.want["worker"]:
            self._spawn("worker", self._argv(commands.worker(settings.forecast_queue, self.worker_concurrency)),
                        env=self.worker_env())
        if self.want["beat"]:
            schedule = self.root / "var" / "celerybeat-schedule"
            schedule.parent.mkdir(parents=True, exist_ok=True)
            self._spawn("beat", _resolve(commands.beat(str(schedule))))
        if self.want["flower"]:
            # Like the web tier: loopback only unless FLOWER_ADDRESS says otherwise (Flower can
            # revoke jobs, and its /metrics has no auth).
            env.setdefault("FLOWER_ADDRESS", settings.flower_address)
            self._spawn("flower", _resolve(commands.flower(settings.flower_port, env["FLOWER_ADDRESS"])))
        if self.want["web"]:
            self._spawn("web", self._argv(commands.web(settings.web_host, settings.web_port, workers=self.web_workers)))
            self._wait_http(f"{self.web_url}/healthz", "web", ready_timeout)
            if self.want["worker"]:
                self._wait_http(f"{self.web_url}/readyz", "worker", ready_timeout)

    def _argv(self, argv: list[str]) -> list[str]:
        return _resolve([self.apps.get(a, a) for a in argv])

    def add_worker(self, name: str, concurrency: int = 1) -> Managed:
        """One more Celery worker, started on its own with node name ``<name>@<host>`` and logging
        to ``<log_dir>/<name>.log``: as another machine's worker would join (Redis the only link)."""
        argv = self._argv(commands.worker(self.env.get("FORECAST_QUEUE", Settings.forecast_queue), concurrency))
        return self._spawn(name, argv + ["--hostname", f"{name}@%h"], env=self.worker_env())

    def worker_env(self) -> dict[str, str]:
        """The environment a worker starts with: the stack's, with BLAS and OpenMP on one thread per pool
        process (:data:`stack.commands.WORKER_ENV`) unless the stack's environment sets them itself."""
        return {**commands.WORKER_ENV, **self.env}

    def _migrate_history(self) -> None:
        """The history database's migrations (DATABASE_URL; unset: var/history.sqlite3), run once,
        here, before any process that uses the database starts: never by several at once."""
        result = subprocess.run(
            [sys.executable, "-m", "shared.history", "upgrade"],
            env=self.env, cwd=self.root, capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"history migrations failed:\n{result.stdout}{result.stderr}")

    @property
    def web_url(self) -> str:
        """The web tier's base URL as the processes were configured (WEB_HOST and WEB_PORT of the
        stack's environment)."""
        settings = Settings.from_env(self.env)
        return f"http://{settings.web_host}:{settings.web_port}"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Managed:
        out: int | IO[bytes]
        log_path = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            out = open(log_path, "ab")
        else:
            out = subprocess.PIPE
        process = subprocess.Popen(
            argv,
            env=self.env if env is None else env,
            cwd=self.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals every child too
        )
        managed = Managed(name, process, log_path)
        if out is subprocess.PIPE:
            managed._pump = threading.Thread(target=self._prefix_output, args=(name, process), daemon=True)
            managed._pump.start()
        else:
            out.close()
        self.processes[name] = managed
        return managed

    @staticmethod
    def _prefix_output(name: str, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, b""):
            sys.stdout.write(f"{name:>12} | {line.decode(errors='replace')}")
            sys.stdout.flush()

    def _wait_http(self, url: str, what: str, timeout: float, any_status: bool = False) -> None:
        deadline = time.monotonic() + timeout
        last_error: object = None
        while time.monotonic() < deadline:
            for managed in self.processes.values():
                if managed.process.poll() is not None:
                    raise RuntimeError(f"{managed.name} exited with {managed.process.returncode}{self._tail(managed)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                if any_status:  # it answered: it is up
                    return
                last_error = exc
            except Exception as exc:  # not up yet
                last_error = exc
            time.sleep(0.2)
        raise RuntimeError(f"{what} not ready at {url} after {timeout}s: {last_error}")

    @staticmethod
    def _tail(managed: Managed) -> str:
        if managed.log_path and managed.log_path.exists():
            return "\n" + "\n".join(managed.log_path.read_text(errors="replace").splitlines()[-30:])
        return ""

    # -- control ----------------------------------------------------------------------------
    def signal(self, name: str, sig: int) -> None:
        """Send ``sig`` to process ``name``'s whole process group (its children too); ``KeyError`` for a
        name the stack is not running."""
        os.killpg(self.processes[name].process.pid, sig)

    def restart(self, name: str, argv: list[str] | None = None) -> None:
        """Stop process ``name`` (SIGTERM, then SIGKILL to its group after a grace period) and start it
        again, with ``argv`` or its previous command line and the stack's current environment."""
        old = self.processes.pop(name)
        self._terminate(old)
        self._spawn(name, argv or list(old.process.args))

    def _terminate(self, managed: Managed, grace: float = 10.0) -> None:
        process = managed.process
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # whatever is left of the group (a worker's pool children), however the leader ended
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if process.poll() is None:
            process.wait()

    def stop(self) -> None:
        """Stop every process (web first so no new jobs arrive, then Flower, beat, the workers and the
        demo source, then any others) and the embedded Redis; safe to call twice."""
        # web first (no new jobs), then the workers, then what they depend on
        order = ["web", "flower", "beat", "worker", "demo-laravel"]
        for name in order + [n for n in self.processes if n not in order]:
            managed = self.processes.pop(name, None)
            if managed:
                self._terminate(managed)
        if self.redis:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
