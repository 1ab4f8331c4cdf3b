"""The history tables. The migrations in ``migrations/versions`` create them; keep both in step.

Periods are the labels of the job's frequency (``2025-01``, ``2025-W03``, ``2025-01-15``): a
forecast row says its ``frequency``, and readers ask for one, so monthly and weekly forecasts of the
same series never mix; an actual's period label alone tells which frequency it belongs to.

One row per (job, series, horizon period), denormalised: a grouped job's 10,000 series x horizon
rows go in with one bulk INSERT, and the track record reads one table without joins.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, MetaData, SmallInteger, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

TOTAL_KEY = "{}"  # the series key of the total (no group fields)


class Base(DeclarativeBase):
    """The declarative base of the history tables, with :data:`NAMING` so constraint names are the same
    on SQLite and PostgreSQL and migrations can refer to them."""

    metadata = MetaData(naming_convention=NAMING)


class ForecastRow(Base):
    """One horizon period of one series of one published forecast."""

    __tablename__ = "forecast_history"

    # The key: a job recorded twice (an outbox item retried after a lost acknowledgement) adds nothing.
    task_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What was forecast: the source (scheme://host:port of the Laravel API, never credentials),
    # the sale status filter, the measure, and the series key (canonical JSON of the group
    # fields, "{}" for the total).
    source: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    measure: Mapped[str] = mapped_column(String(16))
    series_key: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    level: Mapped[float] = mapped_column(Float)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # month, week or day (docs/api.md §10); every period below is a label of it.
    frequency: Mapped[str] = mapped_column(String(8), server_default="month")
    origin: Mapped[str] = mapped_column(String(10))  # the last complete period the model saw
    period: Mapped[str] = mapped_column(String(10))  # the period forecast: 2025-01, 2025-W03, 2025-01-15
    # Periods ahead of the origin (the column keeps its first name: months were all there was).
    months_ahead: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    forecast: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    # Filled in by the first later job that sees ``period`` complete.
    actual: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_pct: Mapped[float | None] = mapped_column(Float, nullable=True)  # (actual - forecast) / |actual|, %
    inside: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    actual_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    # Few indexes, as every one costs the bulk insert of a grouped job: one series' rows by month
    # (history, track record, filling actuals), and by age (retention).
    __table_args__ = (
        Index("ix_forecast_history_series_period", "series_key", "measure", "period"),
        Index("ix_forecast_history_created_at", "created_at"),
    )


class ActualRow(Base):
    """A complete period's actual, as the job that first saw it complete fetched it."""

    __tablename__ = "series_actuals"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    measure: Mapped[str] = mapped_column(String(16), primary_key=True)
    series_key: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    task_id: Mapped[str] = mapped_column(String(255))


class AlertRow(Base):
    """One alert (docs/api.md §11): a series' actual outside the interval published for it, or its
    outlook falling more than ALERT_DROP_PCT below a year before. Kept once: the id is a hash of
    what the alert is about, so a rerun, a second job over the same data or an outbox item written
    twice raises no duplicate."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    measure: Mapped[str] = mapped_column(String(16))
    frequency: Mapped[str] = mapped_column(String(8))
    series_key: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # below_range, above_range, forecast_drop
    period: Mapped[str] = mapped_column(String(10))
    actual: Mapped[float | None] = mapped_column(Float, nullable=True)
    low: Mapped[float | None] = mapped_column(Float, nullable=True)
    high: Mapped[float | None] = mapped_column(Float, nullable=True)
    level: Mapped[float | None] = mapped_column(Float, nullable=True)
    change_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    task_id: Mapped[str] = mapped_column(String(255))  # the job that saw it

    __table_args__ = (Index("ix_alerts_created_at", "created_at"),)


# The tables themselves, for Core queries (shared/history/writes.py, reads.py).
FORECASTS = ForecastRow.__table__
ACTUALS = ActualRow.__table__
ALERTS = AlertRow.__table__
