"""Reading the forecast history back: a series' past forecasts, its track record, the alerts.

Each function runs its queries on the caller's connection and shapes the documents of docs/api.md
§9 and §11 (shared/contract/history_documents.py); the caller (shared/history/repository.py)
translates failures. Every read is of one frequency (docs/api.md §10: monthly and weekly forecasts
of a series are separate records).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from shared.contract.metrics import wape_from_sums
from shared.history.alerts import Alert
from shared.history.models import ALERTS, FORECASTS

MAX_HISTORY_LIMIT = 1000


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no offset: what went in was UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _filters(series_key: str, measure: str, source: str | None, frequency: str) -> list[Any]:
    F = FORECASTS.c
    filters = [F.series_key == series_key, F.measure == measure, F.frequency == frequency]
    if source:
        filters.append(F.source == source)
    return filters


def read_history(
    conn: Connection, series_key: str, *, measure: str, source: str | None, limit: int, frequency: str
) -> list[dict[str, Any]]:
    """Past forecasts of one series, newest first (each job's months in order)."""
    F = FORECASTS.c
    query = (
        select(
            F.task_id, F.created_at, F.source, F.origin, F.period, F.months_ahead, F.forecast, F.low,
            F.high, F.level, F.model, F.actual, F.error_pct, F.inside,
        )
        .where(*_filters(series_key, measure, source, frequency))
        .order_by(F.created_at.desc(), F.task_id, F.months_ahead)
        .limit(max(1, min(int(limit), MAX_HISTORY_LIMIT)))
    )
    rows = conn.execute(query).mappings().all()
    return [
        {
            "task_id": row["task_id"],
            "created_at": _utc(row["created_at"]).isoformat(),
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
        for row in rows
    ]


def read_track_record(
    conn: Connection, series_key: str, *, measure: str, source: str | None, frequency: str
) -> dict[str, Any]:
    """Realised accuracy of one series' published forecasts, per periods ahead and level.

    A forecast published twice on the same data (a cached result under another job id, same
    fingerprint) counts once: the record is of distinct forecasts, not of how often they
    were asked for.
    """
    F = FORECASTS.c
    closed = (
        select(F.fingerprint, F.months_ahead, F.level, F.forecast, F.actual, F.inside)
        .where(*_filters(series_key, measure, source, frequency), F.actual.is_not(None))
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
    pending_query = select(func.count()).where(*_filters(series_key, measure, source, frequency), F.actual.is_(None))
    rows = conn.execute(query).mappings().all()
    pending = conn.execute(pending_query).scalar_one()
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


def read_alerts(
    conn: Connection,
    *,
    since: datetime | None,
    kind: str | None,
    series_key: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
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
    rows = conn.execute(query).mappings().all()
    return [Alert(**{**dict(row), "created_at": _utc(row["created_at"])}) for row in rows]
