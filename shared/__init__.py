"""The code both the web tier and the workers need, in tiers whose imports only point down.

- :mod:`shared.contract`: what the service promises (settings, named errors, the request, result and
  status documents, the wire protocol, webhook signing, log redaction, the clock). The standard
  library and pydantic only: the web process imports it without the modelling stack.
- :mod:`shared.stores`: the service's own Redis records (jobs, grouped work and published series).
  Imports ``contract`` and redis-py.
- :mod:`shared.history`: the forecast history's database (SQLAlchemy, Alembic). Imports ``contract``.
- :mod:`shared.sources`: reading the shop (the Laravel client, its deadline, the row parsers).
  Imports ``contract``, requests, numpy and pandas.
- :mod:`shared.engine`: the forecasting engine (calendar, aggregation, models, backtest, the
  single-series and grouped pipelines). Imports every tier above and the modelling stack.

``tests/test_architecture.py`` enforces these arrows. See docs/architecture.md.
"""
