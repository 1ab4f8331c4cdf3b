"""Writing and reading the forecast history (docs/api.md §9), on SQLite or PostgreSQL.

Writing: :meth:`HistoryRepository.record` stores one publication in one transaction: all its
series' horizon rows in bulk (PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT
... ON CONFLICT DO NOTHING; SQLite: one executemany), then the actuals of the complete months it
saw, for the months that past forecasts are still waiting on, and fills in those forecasts'
actual, error and inside (PostgreSQL: one UPDATE ... FROM the COPYed actuals).

Reading: :meth:`history` (newest first) and :meth:`track_record` (per periods ahead and level), each
of one frequency (docs/api.md §10: monthly and weekly forecasts of a series are separate records).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    Float,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url

from shared.contract.errors import HistoryRejected, HistoryUnavailable
from shared.contract.metrics import wape_from_sums
from shared.history.alerts import Alert, Published, drop_alerts, range_alerts
from shared.history.models import TOTAL_KEY, ActualRow, AlertRow, ForecastRow
from shared.history.records import DEFAULT_MEASURE, Publication

log = logging.getLogger(__name__)

FORECASTS = ForecastRow.__table__
ACTUALS = ActualRow.__table__
ALERTS = AlertRow.__table__
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
MAX_HISTORY_LIMIT = 1000

# Errors that say something about the rows, not about the database being reachable: retrying the
# same publication would fail the same way.
_REJECTED = (sa_exc.IntegrityError, sa_exc.DataError)


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(
    url: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    pool_size: int = 2,
    create_dir: bool = True,
) -> Engine:
    """An engine whose every wait is bounded: connecting, each statement, SQLite's locks.
    ``create_dir``: make a SQLite file's directory (the writers do; the web tier only reads)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        if create_dir and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": connect_timeout})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL: the web tier reads while a worker writes; busy_timeout bounds a lock wait.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(connect_timeout * 1000)}")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": max(1, int(connect_timeout)),
            "options": f"-c statement_timeout={int(statement_timeout_ms)}",
            "application_name": f"sales-forecast-{os.getpid()}",
        }
    return create_engine(
        parsed,
        connect_args=connect_args,
        pool_pre_ping=True,  # a pooled connection from before a database restart is replaced
        pool_size=pool_size,
        max_overflow=2,
        pool_timeout=connect_timeout,
    )


@dataclass(frozen=True)
class RecordOutcome:
    """What :meth:`HistoryRepository.record` wrote: the counts say whether a retried publication added
    anything (``forecast_rows`` 0 when the job was already recorded)."""

    forecast_rows: int  # horizon rows inserted (0 when the job was already recorded)
    actuals: int  # (series, month) actuals recorded
    filled: int  # past forecasts that got their actual
    alerts: tuple[Alert, ...] = ()  # alerts raised for the first time (shared.history.alerts)


FORECAST_COLUMNS = (
    "task_id", "created_at", "source", "status", "measure", "series_key", "model", "level", "fingerprint",
    "origin", "period", "months_ahead", "forecast", "low", "high", "frequency",
)
FORECAST_TYPES = (
    "varchar(255)", "timestamptz", "varchar(255)", "varchar(32)", "varchar(16)", "text", "varchar(64)", "float8",
    "varchar(64)", "varchar(10)", "varchar(10)", "smallint", "float8", "float8", "float8", "varchar(8)",
)


def _copy(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows into a table, on the connection's own transaction (psycopg 3)."""
    dbapi = conn.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _copy_then_insert(
    conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...], rows: list[tuple[Any, ...]],
    conflict: str,
) -> int:
    """PostgreSQL's fastest idempotent bulk insert: COPY into a temporary table, then one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING (COPY itself cannot skip duplicates)."""
    staging = f"{table}_in"
    definition = ", ".join(f"{c} {t}" for c, t in zip(columns, types))
    conn.exec_driver_sql(f"CREATE TEMP TABLE {staging} ({definition}) ON COMMIT DROP")
    _copy(conn, staging, columns, rows)
    cols = ", ".join(columns)
    result = conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {conflict}")
    return max(result.rowcount, 0)


def _alert_from_row(row: Any) -> Alert:
    created_at = row["created_at"]
    if created_at.tzinfo is None:  # SQLite keeps no zone: the rows are written in UTC
        created_at = created_at.replace(tzinfo=timezone.utc)
    return Alert(**{**dict(row), "created_at": created_at})


class HistoryRepository:
    """The forecast history on one engine (SQLite or PostgreSQL only, else ``ValueError``): writes are
    idempotent per job, and database failures come out as HistoryUnavailable or HistoryRejected."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = self._dialect_insert()
        self._dbapi = engine.dialect.loaded_dbapi

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> "HistoryRepository":
        """A repository on :func:`make_engine` (``engine_options``: its timeouts, pool size,
        ``create_dir``)."""
        return cls(make_engine(url, **engine_options))

    def _dialect_insert(self) -> Any:
        name = self.engine.dialect.name
        if name == "postgresql":
            return postgresql.insert
        if name == "sqlite":
            return sqlite.insert
        raise ValueError(f"the history supports SQLite and PostgreSQL, not {name}")

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
        try:
            with self.engine.begin() as conn:
                inserted = self._insert_forecasts(conn, publication)
                actuals, filled, completed = self._fill_actuals(conn, publication, now)
                alerts = () if drop_pct is None else self._raise_alerts(conn, publication, completed, drop_pct, now)
        except _REJECTED as exc:
            raise HistoryRejected(f"job {publication.task_id}: {type(exc).__name__}: {exc.orig}") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
        except self._dbapi.Error as exc:  # raised by COPY, which talks to the driver directly
            if isinstance(exc, (self._dbapi.DataError, self._dbapi.IntegrityError)):
                raise HistoryRejected(f"job {publication.task_id}: {type(exc).__name__}: {exc}") from exc
            raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
        return RecordOutcome(inserted, actuals, filled, alerts)

    def _insert_forecasts(self, conn: Connection, pub: Publication) -> int:
        rows = [
            (
                pub.task_id, pub.created_at, pub.source, pub.status, pub.measure, series.key, series.model[:64],
                pub.level, pub.fingerprint, pub.origin, month.period, step, month.forecast, month.low, month.high,
                pub.frequency,
            )
            for series in pub.series
            for step, month in enumerate(series.horizon, start=1)
        ]
        if not rows:
            return 0
        if self.engine.dialect.name == "postgresql":
            return _copy_then_insert(
                conn, "forecast_history", FORECAST_COLUMNS, FORECAST_TYPES, rows,
                "ON CONFLICT (task_id, series_key, months_ahead) DO NOTHING",
            )
        statement = self._insert(FORECASTS).on_conflict_do_nothing(
            index_elements=["task_id", "series_key", "months_ahead"]
        )
        return max(conn.execute(statement, [dict(zip(FORECAST_COLUMNS, row)) for row in rows]).rowcount, 0)

    def _fill_actuals(self, conn: Connection, pub: Publication, now: datetime) -> tuple[int, int, set[str]]:
        """Record the actuals of the periods past forecasts still wait on, and fill those forecasts in:
        (actuals recorded, forecasts filled, the periods this job saw complete first)."""
        seen = sorted({period for series in pub.series for period, _ in series.actuals})
        if not seen:
            return 0, 0, set()
        F = FORECASTS.c
        # Only the months some past forecast of this source and measure still waits for: a
        # grouped job sees 36 months x 10,000 series, and usually one month has just closed.
        # Every job publishes the total, and fills all its series' months in one transaction, so
        # the total's open months are every series' (a series missing from the job's data stays open).
        waiting = set(
            conn.execute(
                select(F.period)
                .where(
                    F.series_key == TOTAL_KEY,
                    F.measure == pub.measure,
                    F.frequency == pub.frequency,
                    F.period.in_(seen),
                    F.source == pub.source,
                    F.status == pub.status,
                    F.actual.is_(None),
                )
                .distinct()
            ).scalars()
        )
        actuals = [
            (series.key, period, value)
            for series in pub.series
            for period, value in series.actuals
            if period in waiting
        ]
        if not actuals:
            return 0, 0, set()
        if self.engine.dialect.name == "postgresql":
            return len(actuals), self._fill_actuals_postgresql(conn, pub, now, actuals), waiting
        params = [{"b_key": key, "b_period": period, "b_value": value} for key, period, value in actuals]
        conn.execute(
            self._insert(ACTUALS).on_conflict_do_nothing(
                index_elements=["source", "status", "measure", "series_key", "period"]
            ),
            [
                {
                    "source": pub.source,
                    "status": pub.status,
                    "measure": pub.measure,
                    "series_key": p["b_key"],
                    "period": p["b_period"],
                    "value": p["b_value"],
                    "recorded_at": now,
                    "task_id": pub.task_id,
                }
                for p in params
            ],
        )
        value = bindparam("b_value", type_=Float)
        fill = (
            update(FORECASTS)
            .where(
                F.source == literal(pub.source),
                F.status == literal(pub.status),
                F.measure == literal(pub.measure),
                F.frequency == literal(pub.frequency),
                F.series_key == bindparam("b_key"),
                F.period == bindparam("b_period"),
                F.actual.is_(None),
            )
            .values(
                actual=value,
                error_pct=case((value == 0, None), else_=(value - F.forecast) * 100.0 / func.abs(value)),
                inside=and_(F.low <= value, value <= F.high),
                actual_at=literal(now, type_=FORECASTS.c.actual_at.type),
            )
        )
        result = conn.execute(fill, params)
        return len(params), max(result.rowcount, 0), waiting

    def _raise_alerts(
        self, conn: Connection, pub: Publication, completed: set[str], drop_pct: float, now: datetime
    ) -> tuple[Alert, ...]:
        """The alerts ``pub`` raises that were not raised before, stored (shared.history.alerts)."""
        candidates = drop_alerts(pub, drop_pct, now)
        if completed:
            actuals = {(s.key, period): value for s in pub.series for period, value in s.actuals if period in completed}
            candidates += range_alerts(pub, self._published(conn, pub, completed), actuals, now)
        if not candidates:
            return ()
        known = set()
        ids = [a.id for a in candidates]
        for lo in range(0, len(ids), 500):
            known.update(conn.execute(select(ALERTS.c.id).where(ALERTS.c.id.in_(ids[lo : lo + 500]))).scalars())
        new = tuple({a.id: a for a in candidates if a.id not in known}.values())
        if new:
            conn.execute(self._insert(ALERTS).on_conflict_do_nothing(index_elements=["id"]), [a.row() for a in new])
        return new

    def _published(self, conn: Connection, pub: Publication, periods: set[str]) -> list[Published]:
        """Per series and period of ``periods``: the interval of the forecast made nearest before it
        (the latest made by another job)."""
        F = FORECASTS.c
        rows = conn.execute(
            select(F.series_key, F.period, F.low, F.high, F.level, F.created_at)
            .where(
                F.source == pub.source, F.status == pub.status, F.measure == pub.measure,
                F.frequency == pub.frequency, F.period.in_(sorted(periods)), F.task_id != pub.task_id,
            )
        ).all()
        latest: dict[tuple[str, str], Any] = {}
        for row in rows:
            key = (row.series_key, row.period)
            if key not in latest or row.created_at > latest[key].created_at:
                latest[key] = row
        return [Published(r.series_key, r.period, float(r.low), float(r.high), float(r.level)) for r in latest.values()]

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
        A = ALERTS.c
        query = select(ALERTS)
        if since is not None:
            query = query.where(A.created_at >= since)
        if kind is not None:
            query = query.where(A.kind == kind)
        if series_key is not None:
            query = query.where(A.series_key == series_key)
        if before is not None:
            at, last_id = before
            query = query.where((A.created_at < at) | ((A.created_at == at) & (A.id < last_id)))
        query = query.order_by(A.created_at.desc(), A.id.desc()).limit(max(1, min(limit, MAX_HISTORY_LIMIT)))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except sa_exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
        return [_alert_from_row(row) for row in rows]

    @staticmethod
    def _fill_actuals_postgresql(
        conn: Connection, pub: Publication, now: datetime, actuals: list[tuple[str, str, float]]
    ) -> int:
        """The actuals COPYed into a temporary table, then one INSERT and one UPDATE ... FROM."""
        conn.exec_driver_sql(
            "CREATE TEMP TABLE history_actuals_in (series_key text, period varchar(10), value float8) ON COMMIT DROP"
        )
        _copy(conn, "history_actuals_in", ("series_key", "period", "value"), actuals)
        bound = {
            "source": pub.source, "status": pub.status, "measure": pub.measure, "now": now, "task_id": pub.task_id,
            "frequency": pub.frequency,
        }
        conn.execute(
            text(
                "INSERT INTO series_actuals (source, status, measure, series_key, period, value, recorded_at, task_id) "
                "SELECT :source, :status, :measure, series_key, period, value, :now, :task_id FROM history_actuals_in "
                "ON CONFLICT DO NOTHING"
            ),
            bound,
        )
        result = conn.execute(
            text(
                "UPDATE forecast_history AS f SET actual = a.value, "
                "error_pct = CASE WHEN a.value = 0 THEN NULL ELSE (a.value - f.forecast) * 100.0 / abs(a.value) END, "
                "inside = (f.low <= a.value AND a.value <= f.high), actual_at = :now "
                "FROM history_actuals_in AS a "
                "WHERE f.series_key = a.series_key AND f.measure = :measure AND f.period = a.period "
                "AND f.frequency = :frequency "
                "AND f.source = :source AND f.status = :status AND f.actual IS NULL"
            ),
            bound,
        )
        return max(result.rowcount, 0)

    def prune(self, retention_days: int, *, now: datetime | None = None) -> int:
        """Delete what is older than the retention: forecasts by when they were made, actuals by
        when they were recorded. 0 keeps everything. Returns the forecast rows deleted."""
        if retention_days <= 0:
            return 0
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
        try:
            with self.engine.begin() as conn:
                deleted = conn.execute(delete(FORECASTS).where(FORECASTS.c.created_at < cutoff)).rowcount
                conn.execute(delete(ACTUALS).where(ACTUALS.c.recorded_at < cutoff))
        except sa_exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
        return max(deleted, 0)

    # -- reading ----------------------------------------------------------------------------
    def _filters(self, series_key: str, measure: str, source: str | None, frequency: str) -> list[Any]:
        F = FORECASTS.c
        filters = [F.series_key == series_key, F.measure == measure, F.frequency == frequency]
        if source:
            filters.append(F.source == source)
        return filters

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
        F = FORECASTS.c
        query = (
            select(
                F.task_id, F.created_at, F.source, F.origin, F.period, F.months_ahead, F.forecast, F.low,
                F.high, F.level, F.model, F.actual, F.error_pct, F.inside,
            )
            .where(*self._filters(series_key, measure, source, frequency))
            .order_by(F.created_at.desc(), F.task_id, F.months_ahead)
            .limit(max(1, min(int(limit), MAX_HISTORY_LIMIT)))
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except sa_exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
        out = []
        for row in rows:
            created = row["created_at"]
            if created.tzinfo is None:  # SQLite keeps no offset: what went in was UTC
                created = created.replace(tzinfo=timezone.utc)
            out.append(
                {
                    "task_id": row["task_id"],
                    "created_at": created.isoformat(),
                    "source": row["source"],
                    "origin": row["origin"],
                    "period": row["period"],
                    "months_ahead": row["months_ahead"],
                    "forecast": row["forecast"],
                    "low": row["low"],
                    "high": row["high"],
                    "level": row["level"],
                    "model": row["model"],
                    "actual": row["actual"],
                    "error_pct": None if row["error_pct"] is None else round(row["error_pct"], 2),
                    "inside": row["inside"],
                }
            )
        return out

    def track_record(
        self, series_key: str = TOTAL_KEY, *, measure: str = DEFAULT_MEASURE, source: str | None = None,
        frequency: str = "month",
    ) -> dict[str, Any]:
        """Realised accuracy of one series' published forecasts, per periods ahead and level.

        A forecast published twice on the same data (a cached result under another job id, same
        fingerprint) counts once: the record is of distinct forecasts, not of how often they
        were asked for.
        """
        F = FORECASTS.c
        closed = (
            select(F.fingerprint, F.months_ahead, F.level, F.forecast, F.actual, F.inside)
            .where(*self._filters(series_key, measure, source, frequency), F.actual.is_not(None))
            .distinct()
            .subquery()
        )
        c = closed.c
        abs_error = func.abs(c.actual - c.forecast)
        query = (
            select(
                c.months_ahead,
                c.level,
                func.count().label("count"),
                func.sum(case((c.inside, 1), else_=0)).label("inside"),
                func.avg(case((c.actual != 0, abs_error * 100.0 / func.abs(c.actual)), else_=None)).label("mape"),
                func.sum(abs_error).label("abs_error"),
                func.sum(func.abs(c.actual)).label("abs_actual"),
            )
            .group_by(c.months_ahead, c.level)
            .order_by(c.months_ahead, c.level)
        )
        pending_query = select(func.count()).where(
            *self._filters(series_key, measure, source, frequency), F.actual.is_(None)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
                pending = conn.execute(pending_query).scalar_one()
        except sa_exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(f"the history database failed: {type(exc).__name__}") from exc
        horizons = []
        for row in rows:
            count = int(row["count"])
            inside = int(row["inside"] or 0)
            wape = wape_from_sums(row["abs_error"], row["abs_actual"])
            horizons.append(
                {
                    "months_ahead": int(row["months_ahead"]),
                    "level": float(row["level"]),
                    "count": count,
                    "inside": inside,
                    "coverage": round(inside * 100.0 / count, 2) if count else None,
                    "mape": None if row["mape"] is None else round(float(row["mape"]), 2),
                    "wape": None if wape is None else round(wape, 2),
                }
            )
        return {"horizons": horizons, "pending": int(pending)}
