"""Alembic's environment: migrations run on the connection that shared.history.migrate hands over."""
from __future__ import annotations

from alembic import context

from shared.history.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with `python -m shared.history upgrade` (it takes the lock)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
