"""What the service benchmarks share: waiting for a server they started, and wrk's figures.

Imported by the benchmark scripts beside it (``python benchmarks/<name>.py`` puts this folder
first on ``sys.path``).
"""
from __future__ import annotations

import re
import subprocess
import time

import requests

_SCALE_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wait_answering(url: str, timeout: float, what: str) -> None:
    """Until ``url`` answers anything (any status), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not answer at {url} within {timeout:.0f} s")
            time.sleep(0.2)


def wrk(url: str, seconds: int, connections: int = 32, headers: dict[str, str] | None = None) -> dict[str, float]:
    """One wrk round (2 threads): requests/s, p50 and p99 in ms, and non-2xx answers."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for q in ("50", "99"):
        m = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", out)
        figures[f"p{q}"] = float(m.group(1)) * _SCALE_MS[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["errors"] = float(errors.group(1)) if errors else 0.0
    return figures
