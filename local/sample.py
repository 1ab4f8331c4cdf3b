"""Sample shops for tests and benchmarks: synthetic sales, and a Laravel-like server around them.

Shared by tests/ and benchmarks/ (which must not import the tests' conftest modules).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np

from local.fake_laravel import FakeLaravel, Faults
from local.redis_server import free_port
from shared.contract.schema import months_before


def sales_rows(today: date, months: int = 40, per_month: int = 25, seed: int = 3) -> list[dict]:
    """Transactions for ``months`` months up to ``today``: trend, a December peak, noise."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    next_id = 1
    for back in range(months, -1, -1):
        first = months_before(today, back)
        days = 28 if back else max(today.day - 1, 1)
        level = 1000 * (1 + 0.01 * (months - back)) * (1.4 if first.month == 12 else 1.0)
        for _ in range(per_month):
            when = datetime(first.year, first.month, 1, tzinfo=timezone.utc) + timedelta(
                days=int(rng.integers(0, days)), seconds=int(rng.integers(0, 86400))
            )
            total = level / per_month * float(rng.lognormal(0, 0.3))
            rows.append(
                {
                    "id": next_id,
                    "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                    "grand_total": f"{total:.2f}",
                    "status": "completed",
                }
            )
            next_id += 1
    return rows


@dataclass
class Laravel:
    """The Laravel-like server; it can be stopped and brought back on the same port."""

    rows: list[dict]
    port: int = field(default_factory=free_port)
    server: FakeLaravel | None = None

    @property
    def url(self) -> str:
        """Base URL of the server (no path); stays the same across :meth:`stop` and :meth:`start`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def faults(self) -> Faults:
        """The running server's fault switches; a restart makes a new server, so faults set before it
        are gone."""
        assert self.server is not None
        return self.server.faults

    def start(self) -> None:
        """Serve ``rows`` on ``port`` (length-aware pagination, 200 a page) in a background thread."""
        self.server = FakeLaravel(self.rows, paginator="length_aware", per_page=200, port=self.port)
        self.server.start()

    def stop(self) -> None:
        """Stop serving, so clients see the source down, until :meth:`start` again; safe when stopped."""
        if self.server:
            self.server.stop()
            self.server = None

    def page_one_requests(self, start_date: str) -> int:
        """How many fetches from ``start_date`` the running server has seen begin (first-page requests):
        how a test tells whether a job re-fetched. Counts since the last :meth:`start` only."""
        assert self.server is not None
        return sum(1 for r in self.server.requests if r.query.get("start_date") == start_date and r.query.get("page") in (None, "1"))
