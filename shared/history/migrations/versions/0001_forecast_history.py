"""The forecast history and the actuals (docs/api.md §9).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``forecast_history`` (one row per job, series and month ahead; actual filled in later) and
    ``series_actuals``, with the two indexes :mod:`shared.history.models` declares."""
    op.create_table(
        "forecast_history",
        sa.Column("task_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(7), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("months_ahead", sa.SmallInteger(), nullable=False),
        sa.Column("forecast", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("actual", sa.Float(), nullable=True),
        sa.Column("error_pct", sa.Float(), nullable=True),
        sa.Column("inside", sa.Boolean(), nullable=True),
        sa.Column("actual_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("task_id", "series_key", "months_ahead", name="pk_forecast_history"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page, so filling in an actual (no indexed column changes) is a HOT update
        # that touches no index: a grouped job fills 10,000 rows a month.
        op.execute("ALTER TABLE forecast_history SET (fillfactor = 70)")
    op.create_index("ix_forecast_history_series_period", "forecast_history", ["series_key", "measure", "period"])
    op.create_index("ix_forecast_history_created_at", "forecast_history", ["created_at"])
    op.create_table(
        "series_actuals",
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("source", "status", "measure", "series_key", "period", name="pk_series_actuals"),
    )


def downgrade() -> None:
    """Drop both tables and their indexes: every recorded forecast and actual is lost."""
    op.drop_table("series_actuals")
    op.drop_index("ix_forecast_history_created_at", table_name="forecast_history")
    op.drop_index("ix_forecast_history_series_period", table_name="forecast_history")
    op.drop_table("forecast_history")
