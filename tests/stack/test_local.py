"""The local runner's worker environment: one BLAS/OpenMP thread per pool process (stack.commands.WORKER_ENV)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stack import commands, local
from stack.local import LocalStack


class _Popen:
    """Stands in for subprocess.Popen: records what a process would have been started with."""

    started: list[tuple[list[str], dict[str, str]]] = []

    def __init__(self, argv: list[str], env: dict[str, str], **kwargs: Any) -> None:
        _Popen.started.append((argv, env))
        self.returncode = None

    def poll(self) -> None:
        return None


@pytest.fixture
def popen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    _Popen.started = []
    monkeypatch.setattr(local.subprocess, "Popen", _Popen)
    return _Popen.started


def test_worker_environment_has_one_math_thread() -> None:
    env = LocalStack({"REDIS_URL": "redis://127.0.0.1:1/0"}).worker_env()
    assert {k: env[k] for k in commands.WORKER_ENV} == {
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"
    }
    assert env["REDIS_URL"] == "redis://127.0.0.1:1/0"


def test_an_explicit_setting_wins() -> None:
    assert LocalStack({"OPENBLAS_NUM_THREADS": "2"}).worker_env()["OPENBLAS_NUM_THREADS"] == "2"


def test_workers_are_started_with_it_and_the_web_without(popen, tmp_path: Path) -> None:
    env = {"REDIS_URL": "redis://127.0.0.1:1/0", "LARAVEL_API_URL": "http://127.0.0.1:1", "SECRET_KEY": "k" * 32}
    stack = LocalStack(env, root=tmp_path, log_dir=tmp_path / "logs", web=False, migrate=False)
    stack._start_all(ready_timeout=1)  # the worker only: no web to wait for
    stack.add_worker("second")
    stack._spawn("web", ["gunicorn"])
    (worker_argv, worker_env), (second_argv, second_env), (_, web_env) = popen
    assert "worker" in worker_argv and "second@%h" in second_argv
    for started in (worker_env, second_env):
        assert all(started[k] == v for k, v in commands.WORKER_ENV.items())
    assert "OPENBLAS_NUM_THREADS" not in web_env
