"""The commands that start each process: one source of truth.

The local runner, the end-to-end tests and docker-compose start the same commands (a test reads
docker-compose.yml and compares), so what the tests exercise is what operators run.
"""
from __future__ import annotations

from shared.contract.config import Settings

CELERY_APP = "worker.main"
WEB_APP = "web.app:create_app()"


# Defaults: the settings' (shared/contract/config.py), except the addresses, which are the containers':
# compose publishes the ports on the host's loopback only; the local runner passes 127.0.0.1.
CONTAINER_ADDRESS = "0.0.0.0"


# A worker's numeric libraries run one thread per pool process. The weekly and daily models solve
# least squares through numpy's BLAS (OpenBLAS in the wheels; MKL or OpenMP builds read the other
# two), which otherwise starts a thread per core in every pool process: two pool processes on 2 cores
# make 4 busy threads contending for 2 cores. The pool's processes are the parallelism; BLAS adds
# none. Dockerfile.worker and docker-compose.yml set the same values (tests/ops compares them); the
# local runner sets them unless the environment already does.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def web(host: str = CONTAINER_ADDRESS, port: int = Settings.web_port, workers: int = 2, connections: int = 1000) -> list[str]:
    """The gunicorn command for the web tier on ``host:port``: ``workers`` processes of gevent
    workers, each serving up to ``connections`` connections at once, access log on stdout."""
    # gevent: status polls are short I/O-bound requests, and a live-update stream (Server-Sent
    # Events) stays open for a whole job. Each connection is a greenlet, so the streams (at most
    # MAX_EVENT_STREAMS a process) never hold a request worker that an API call needs.
    return [
        "gunicorn",
        "--bind", f"{host}:{port}",
        "--worker-class", "gevent",
        "--workers", str(workers),
        "--worker-connections", str(connections),
        "--access-logfile", "-",
        WEB_APP,
    ]


def worker(queue: str = Settings.forecast_queue, concurrency: int = 2) -> list[str]:
    """The Celery worker command for ``queue``: ``concurrency`` pool processes, with task events on so
    Flower can follow jobs live."""
    return [
        "celery", "-A", CELERY_APP, "worker",
        "--queues", queue,
        "--concurrency", str(concurrency),
        "--events",
        "--loglevel", "INFO",
    ]


def beat(schedule_file: str = "var/celerybeat-schedule") -> list[str]:
    """The Celery beat command (the scheduled refresh); ``schedule_file`` is where beat keeps its state.
    Run exactly one beat per deployment, or the refresh runs twice."""
    return ["celery", "-A", CELERY_APP, "beat", "--loglevel", "INFO", "--schedule", schedule_file]


def flower(port: int = Settings.flower_port, address: str = CONTAINER_ADDRESS) -> list[str]:
    """The Flower command on ``address:port``; its basic auth is read from FLOWER_BASIC_AUTH in the
    environment, so credentials never appear in a process list."""
    # Basic auth comes from FLOWER_BASIC_AUTH in the environment (Flower reads FLOWER_* itself),
    # so the credentials never show in a process list. All interfaces is for containers (compose
    # publishes the port on the host's loopback only); the local runner binds 127.0.0.1.
    return ["celery", "-A", CELERY_APP, "flower", f"--port={port}", f"--address={address}"]
