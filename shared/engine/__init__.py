"""The engine tier: from fetched rows to a forecast document.

Aggregation into periods (``aggregate``, ``panel``), the models (``models``, ``intermittent``), the
rolling-origin backtest (``backtest``), coherent grouped forecasts (``hierarchy``), fitted models on
disk (``model_store``), and the two pipelines: one series (``pipeline``) and a grouped job
(``grouped``).

May import: every other tier of ``shared`` and the modelling stack (numpy, pandas, scipy,
statsforecast, hierarchicalforecast, scikit-learn, joblib). Only workers and the command line
import it.
"""
