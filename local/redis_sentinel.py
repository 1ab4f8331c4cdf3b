"""A Redis Sentinel group of the tests' own: one master, one replica, three sentinels, on loopback.

Real ``redis-server`` processes (the binary the project ships, local/redis_server.py) and real
``redis-server --sentinel`` ones, each on a free port with its own directory. The failover test
kills the master and watches the sentinels promote the replica; the timings are a test's (the
sentinels call a master down after ``down_after_ms``), compose's are production's.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from local.redis_server import RedisServer, free_port, redis_server_binary

QUORUM = 2  # of three sentinels: one down still leaves a quorum, and a majority to authorise


class SentinelGroup:
    """``with SentinelGroup() as g: g.sentinels`` -- ``(host, port)`` of each sentinel."""

    def __init__(
        self,
        master_name: str = "mymaster",
        *,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 10000,
        root: str | Path | None = None,
    ) -> None:
        self.master_name = master_name
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.root = Path(root or tempfile.mkdtemp(prefix="sf-sentinel-"))
        self._own_root = root is None
        self.master = RedisServer(free_port(), appendonly=True, data_dir=self.root / "master",
                                  extra_args=self._server_args())
        self.replica = RedisServer(
            free_port(), appendonly=True, data_dir=self.root / "replica",
            extra_args=[*self._server_args(), "--replicaof", "127.0.0.1", str(self.master.port)],
        )
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinel_processes: list[subprocess.Popen] = []

    @staticmethod
    def _server_args() -> list[str]:
        # Only the master is ever used (clients ask the sentinels for it): a replica that has
        # lost its master refuses reads rather than answer with stale data.
        return ["--replica-serve-stale-data", "no"]

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``(host, port)`` of each sentinel, all on loopback: what a client is given to find the master."""
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    @property
    def sentinels_env(self) -> str:
        """The value of REDIS_SENTINELS for this group."""
        return ",".join(f"{host}:{port}" for host, port in self.sentinels)

    def _sentinel_conf(self, port: int) -> Path:
        directory = self.root / f"sentinel-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "sentinel.conf"  # the sentinel rewrites it: what it learnt survives it
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {directory}\nloglevel notice\n"
            f"logfile {directory / 'sentinel.log'}\n"
            f"sentinel monitor {self.master_name} 127.0.0.1 {self.master.port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.master_name} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.master_name} 1\n"
        )
        return conf

    def start(self, timeout: float = 30.0) -> "SentinelGroup":
        """Start the master, its replica and the sentinels, and wait up to ``timeout`` seconds until the replica
        is in sync and every sentinel knows the others; on failure stop what was started and raise. Returns the group."""
        try:
            self.master.start()
            self.replica.start()
            for port in self.sentinel_ports:
                process = subprocess.Popen(
                    [redis_server_binary(), str(self._sentinel_conf(port)), "--sentinel"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                )
                self.sentinel_processes.append(process)
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, timeout: float) -> None:
        """Until the replica is in sync and every sentinel knows the replica and the others."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._settled():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the sentinel group did not settle within {timeout}s (logs under {self.root})")

    def _settled(self) -> bool:
        try:
            replica = redis.Redis(port=self.replica.port, socket_timeout=1)
            if replica.info("replication").get("master_link_status") != "up":
                return False
            for _, port in self.sentinels:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
                client = redis.Redis(port=port, socket_timeout=1)
                master = client.sentinel_master(self.master_name)
                if int(master.get("num-slaves", 0)) < 1 or int(master.get("num-other-sentinels", 0)) < len(self.sentinels) - 1:
                    return False
            return True
        except (OSError, redis.RedisError):
            return False

    def master_address(self) -> tuple[str, int] | None:
        """The master as the sentinels name it now (the first that answers)."""
        for _, port in self.sentinels:
            try:
                client = redis.Redis(port=port, socket_timeout=0.5, decode_responses=True)
                host, master_port = client.sentinel_get_master_addr_by_name(self.master_name)
                return host, int(master_port)
            except (OSError, redis.RedisError, TypeError):
                continue
        return None

    def stop(self) -> None:
        """Stop the sentinels, then the replica and the master; their data directories stay."""
        for process in self.sentinel_processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.sentinel_processes = []
        self.replica.stop()
        self.master.stop()

    def cleanup(self) -> None:
        """Stop everything and remove the data directories when the group made them (no ``root`` given)."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "SentinelGroup":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
