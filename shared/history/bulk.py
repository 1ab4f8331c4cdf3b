"""PostgreSQL bulk writes: COPY, and COPY into a staging table then one idempotent INSERT.

Both run on the caller's connection and transaction (psycopg 3's cursor ``copy``). SQLite has no
COPY: its writers use one ``executemany`` instead (shared/history/writes.py).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

# forecast_history's columns as the writer COPYs them, and their types for the staging table.
FORECAST_COLUMNS = (
    "task_id", "created_at", "source", "status", "measure", "series_key", "model", "level", "fingerprint",
    "origin", "period", "months_ahead", "forecast", "low", "high", "frequency",
)
FORECAST_TYPES = (
    "varchar(255)", "timestamptz", "varchar(255)", "varchar(32)", "varchar(16)", "text", "varchar(64)", "float8",
    "varchar(64)", "varchar(10)", "varchar(10)", "smallint", "float8", "float8", "float8", "varchar(8)",
)


def copy_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows into a table, on the connection's own transaction (psycopg 3)."""
    dbapi = conn.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def copy_then_insert(
    conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...], rows: list[tuple[Any, ...]],
    conflict: str,
) -> int:
    """PostgreSQL's fastest idempotent bulk insert: COPY into a temporary table, then one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING (COPY itself cannot skip duplicates)."""
    staging = f"{table}_in"
    definition = ", ".join(f"{c} {t}" for c, t in zip(columns, types))
    conn.exec_driver_sql(f"CREATE TEMP TABLE {staging} ({definition}) ON COMMIT DROP")
    copy_rows(conn, staging, columns, rows)
    cols = ", ".join(columns)
    result = conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {conflict}")
    return max(result.rowcount, 0)
