"""The forecast history (docs/api.md §9) on SQLite or PostgreSQL: one object the worker and the web use.

:class:`HistoryRepository` holds the engine and opens each transaction or connection; what runs
inside is in its own module by job: the engine and what its failures mean (``engine``), bulk COPY
(``bulk``), writing a publication and pruning (``writes``), reading the history, the track record
and the alerts (``reads``). Every database failure is translated in one place,
:func:`shared.history.engine.database_failures`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from shared.history import reads, writes
from shared.history.alerts import Alert
from shared.history.engine import database_failures, dialect_insert, make_engine, normalise_url
from shared.history.models import TOTAL_KEY
from shared.history.reads import MAX_HISTORY_LIMIT
from shared.history.records import DEFAULT_MEASURE, Publication
from shared.history.writes import RecordOutcome

__all__ = ["MAX_HISTORY_LIMIT", "HistoryRepository", "RecordOutcome", "make_engine", "normalise_url"]


class HistoryRepository:
    """The forecast history on one engine (SQLite or PostgreSQL only, else ``ValueError``): writes are
    idempotent per job, and database failures come out as HistoryUnavailable or HistoryRejected."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = dialect_insert(engine)
        self._dbapi = engine.dialect.loaded_dbapi

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> "HistoryRepository":
        """A repository on :func:`make_engine` (``engine_options``: its timeouts, pool size,
        ``create_dir``)."""
        return cls(make_engine(url, **engine_options))

    def ping(self) -> bool:
        """Whether the database answers now (a connection and ``SELECT 1``, within the engine's
        bounds). For readiness probes: never raises."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except (sa_exc.SQLAlchemyError, self._dbapi.Error, OSError):
            return False

    # -- writing ----------------------------------------------------------------------------
    def record(
        self, publication: Publication, *, now: datetime | None = None, drop_pct: float | None = None
    ) -> RecordOutcome:
        """Store a publication, idempotently, and the alerts it raises (``drop_pct``: ALERT_DROP_PCT;
        None raises none). Raises HistoryUnavailable (try again later) or HistoryRejected (these rows
        will never go in)."""
        now = now or datetime.now(timezone.utc)
        with database_failures(self._dbapi, job=publication.task_id), self.engine.begin() as conn:
            return writes.write_publication(conn, self._insert, publication, now, drop_pct)

    def prune(self, retention_days: int, *, now: datetime | None = None) -> int:
        """Delete what is older than the retention: forecasts by when they were made, actuals by
        when they were recorded. 0 keeps everything. Returns the forecast rows deleted."""
        if retention_days <= 0:
            return 0
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
        with database_failures(self._dbapi), self.engine.begin() as conn:
            return writes.prune_before(conn, cutoff)

    # -- reading ----------------------------------------------------------------------------
    def alerts(
        self,
        *,
        since: datetime | None = None,
        kind: str | None = None,
        series_key: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts newest first: raised at or after ``since``, of ``kind``, of one series, older than
        the ``before`` cursor (created_at, id); at most ``limit``."""
        with database_failures(self._dbapi), self.engine.connect() as conn:
            return reads.read_alerts(conn, since=since, kind=kind, series_key=series_key, before=before, limit=limit)

    def history(
        self,
        series_key: str = TOTAL_KEY,
        *,
        measure: str = DEFAULT_MEASURE,
        source: str | None = None,
        limit: int = 100,
        frequency: str = "month",
    ) -> list[dict[str, Any]]:
        """Past forecasts of one series, newest first (each job's months in order)."""
        with database_failures(self._dbapi), self.engine.connect() as conn:
            return reads.read_history(
                conn, series_key, measure=measure, source=source, limit=limit, frequency=frequency
            )

    def track_record(
        self, series_key: str = TOTAL_KEY, *, measure: str = DEFAULT_MEASURE, source: str | None = None,
        frequency: str = "month",
    ) -> dict[str, Any]:
        """Realised accuracy of one series' published forecasts, per periods ahead and level
        (:func:`shared.history.reads.read_track_record`)."""
        with database_failures(self._dbapi), self.engine.connect() as conn:
            return reads.read_track_record(conn, series_key, measure=measure, source=source, frequency=frequency)
