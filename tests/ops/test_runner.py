"""`make run` (stack/runner.py) as an operator starts it from a script: in the background.

A non-interactive shell starts background jobs with SIGINT ignored, and Python keeps it ignored
unless told otherwise; before, `kill -INT` did nothing to the runner. It must stop the whole
stack, and Flower, like the web tier, must listen on 127.0.0.1 only unless configured otherwise
(before, it listened on every interface).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from local.redis_server import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def listening(port: int) -> set[str]:
    """The addresses something listens on at ``port``."""
    return {c.laddr.ip for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def test_runner_in_the_background_binds_flower_to_loopback_and_stops_on_sigint(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_", "LARAVEL_", "FLOWER_", "WEB_"))}
    web_port, flower_port = free_port(), free_port()
    env.update(PYTHONPATH=str(ROOT), WEB_PORT=str(web_port), FLOWER_PORT=str(flower_port), SECRET_KEY="runner-test-key")
    runner = subprocess.Popen(
        [sys.executable, "-m", "stack.runner", "--concurrency", "1"],
        cwd=tmp_path,  # var/ (embedded Redis, demo source) goes here, not into the repository
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # what `make run &` in a script gets: SIGINT ignored from the start
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(runner.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        wait_for("the runner's banner", lambda: any(b"Ctrl-C stops everything" in line for line in output), timeout=180)
        wait_for("Flower listening", lambda: listening(flower_port), timeout=60)
        assert listening(flower_port) == {"127.0.0.1"}
        assert any(f"http://127.0.0.1:{flower_port}".encode() in line for line in output)
        children = [p.pid for p in psutil.Process(runner.pid).children(recursive=True)]
        assert children

        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=90) == 0
        reader.join(5)
        text = b"".join(output).decode(errors="replace")
        assert "stopping..." in text and "stopped." in text
        wait_for("every process it started gone", lambda: not [p for p in children if psutil.pid_exists(p)
                                                              and psutil.Process(p).status() != psutil.STATUS_ZOMBIE], 30)
        assert not listening(web_port) and not listening(flower_port)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
