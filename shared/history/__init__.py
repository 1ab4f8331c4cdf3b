"""The forecast history (docs/api.md §9): every published forecast kept in a database, with the
actual filled in once its month closes, and the realised track record read back.

- :mod:`shared.history.models`: the tables (SQLAlchemy 2), which the Alembic migrations create;
- :mod:`shared.history.records`: a finished job's result document -> rows to write;
- :mod:`shared.history.repository`: the one object the worker and the web use, over
  :mod:`~shared.history.engine` (connecting, and the one translation of database failures),
  :mod:`~shared.history.bulk` (PostgreSQL COPY), :mod:`~shared.history.writes` (a publication,
  pruning) and :mod:`~shared.history.reads` (history, track record, alerts);
- :mod:`shared.history.migrate`: running the migrations, once per deployment step.

Pure: no Flask, no Celery. The worker feeds it through a Redis outbox (worker/history.py), the
web tier reads it (web/history.py).
"""
