"""Writing the forecast history: one publication in one transaction, and pruning.

:func:`write_publication` stores a job's horizon rows in bulk (PostgreSQL: COPY into a temporary
table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING; SQLite: one executemany), then the
actuals of the complete periods it saw, for the periods that past forecasts are still waiting on,
and fills in those forecasts' actual, error and inside (PostgreSQL: one UPDATE ... FROM the COPYed
actuals); last, the alerts it raises. Every function runs on the caller's connection and
transaction; the caller (shared/history/repository.py) translates failures.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, bindparam, case, delete, func, literal, select, text, update
from sqlalchemy.engine import Connection

from shared.history.alerts import Alert, Published, drop_alerts, range_alerts
from shared.history.bulk import FORECAST_COLUMNS, FORECAST_TYPES, copy_rows, copy_then_insert
from shared.history.models import ACTUALS, ALERTS, FORECASTS, TOTAL_KEY
from shared.history.records import Publication


@dataclass(frozen=True)
class RecordOutcome:
    """What :meth:`HistoryRepository.record` wrote: the counts say whether a retried publication added
    anything (``forecast_rows`` 0 when the job was already recorded)."""

    forecast_rows: int  # horizon rows inserted (0 when the job was already recorded)
    actuals: int  # (series, month) actuals recorded
    filled: int  # past forecasts that got their actual
    alerts: tuple[Alert, ...] = ()  # alerts raised for the first time (shared.history.alerts)


def write_publication(
    conn: Connection, insert: Any, pub: Publication, now: datetime, drop_pct: float | None
) -> RecordOutcome:
    """Store ``pub`` on ``conn`` (``insert``: the dialect's insert), idempotently, and the alerts it
    raises (``drop_pct`` None raises none)."""
    inserted = insert_forecasts(conn, insert, pub)
    actuals, filled, completed = fill_actuals(conn, insert, pub, now)
    alerts = () if drop_pct is None else raise_alerts(conn, insert, pub, completed, drop_pct, now)
    return RecordOutcome(inserted, actuals, filled, alerts)


def insert_forecasts(conn: Connection, insert: Any, pub: Publication) -> int:
    """Insert every series' horizon rows of ``pub``; the rows inserted (0 when already recorded)."""
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
    if conn.dialect.name == "postgresql":
        return copy_then_insert(
            conn, "forecast_history", FORECAST_COLUMNS, FORECAST_TYPES, rows,
            "ON CONFLICT (task_id, series_key, months_ahead) DO NOTHING",
        )
    statement = insert(FORECASTS).on_conflict_do_nothing(
        index_elements=["task_id", "series_key", "months_ahead"]
    )
    return max(conn.execute(statement, [dict(zip(FORECAST_COLUMNS, row)) for row in rows]).rowcount, 0)


def fill_actuals(conn: Connection, insert: Any, pub: Publication, now: datetime) -> tuple[int, int, set[str]]:
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
    if conn.dialect.name == "postgresql":
        return len(actuals), _fill_actuals_postgresql(conn, pub, now, actuals), waiting
    params = [{"b_key": key, "b_period": period, "b_value": value} for key, period, value in actuals]
    conn.execute(
        insert(ACTUALS).on_conflict_do_nothing(
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


def _fill_actuals_postgresql(
    conn: Connection, pub: Publication, now: datetime, actuals: list[tuple[str, str, float]]
) -> int:
    """The actuals COPYed into a temporary table, then one INSERT and one UPDATE ... FROM."""
    conn.exec_driver_sql(
        "CREATE TEMP TABLE history_actuals_in (series_key text, period varchar(10), value float8) ON COMMIT DROP"
    )
    copy_rows(conn, "history_actuals_in", ("series_key", "period", "value"), actuals)
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


def raise_alerts(
    conn: Connection, insert: Any, pub: Publication, completed: set[str], drop_pct: float, now: datetime
) -> tuple[Alert, ...]:
    """The alerts ``pub`` raises that were not raised before, stored (shared.history.alerts)."""
    candidates = drop_alerts(pub, drop_pct, now)
    if completed:
        actuals = {(s.key, period): value for s in pub.series for period, value in s.actuals if period in completed}
        candidates += range_alerts(pub, _published(conn, pub, completed), actuals, now)
    if not candidates:
        return ()
    known = set()
    ids = [a.id for a in candidates]
    for lo in range(0, len(ids), 500):
        known.update(conn.execute(select(ALERTS.c.id).where(ALERTS.c.id.in_(ids[lo : lo + 500]))).scalars())
    new = tuple({a.id: a for a in candidates if a.id not in known}.values())
    if new:
        conn.execute(insert(ALERTS).on_conflict_do_nothing(index_elements=["id"]), [a.row() for a in new])
    return new


def _published(conn: Connection, pub: Publication, periods: set[str]) -> list[Published]:
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


def prune_before(conn: Connection, cutoff: datetime) -> int:
    """Delete forecasts made before ``cutoff`` and actuals recorded before it; the forecast rows deleted."""
    deleted = conn.execute(delete(FORECASTS).where(FORECASTS.c.created_at < cutoff)).rowcount
    conn.execute(delete(ACTUALS).where(ACTUALS.c.recorded_at < cutoff))
    return max(deleted, 0)
