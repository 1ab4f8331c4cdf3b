"""Forecasts of every frequency (docs/api.md §10): a ``frequency`` column, and periods as long as a
day's label (``2025-01-15``; a week's is ``2025-W03``).

Existing rows are monthly forecasts: the column's default says so. The actuals need no column of
their own: a period's label names its frequency, so a month's actual and a week's never share a key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``frequency`` to the history (existing rows are monthly) and widen ``origin`` and ``period``
    to hold week and day labels."""
    with op.batch_alter_table("forecast_history") as batch:
        batch.add_column(sa.Column("frequency", sa.String(8), nullable=False, server_default="month"))
        batch.alter_column("origin", type_=sa.String(10), existing_type=sa.String(7), existing_nullable=False)
        batch.alter_column("period", type_=sa.String(10), existing_type=sa.String(7), existing_nullable=False)
    with op.batch_alter_table("series_actuals") as batch:
        batch.alter_column("period", type_=sa.String(10), existing_type=sa.String(7), existing_nullable=False)


def downgrade() -> None:
    """Back to months only: weekly and daily rows are deleted, the labels narrowed, ``frequency`` dropped."""
    op.execute("DELETE FROM forecast_history WHERE frequency <> 'month'")
    op.execute("DELETE FROM series_actuals WHERE length(period) <> 7")
    with op.batch_alter_table("series_actuals") as batch:
        batch.alter_column("period", type_=sa.String(7), existing_type=sa.String(10), existing_nullable=False)
    with op.batch_alter_table("forecast_history") as batch:
        batch.alter_column("period", type_=sa.String(7), existing_type=sa.String(10), existing_nullable=False)
        batch.alter_column("origin", type_=sa.String(7), existing_type=sa.String(10), existing_nullable=False)
        batch.drop_column("frequency")
