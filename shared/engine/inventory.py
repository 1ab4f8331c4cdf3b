"""Order-up-to levels from demand paths (docs/api.md §12; docs/inventory.md for buyers).

A buyer who reviews a product every ``review_period`` periods and waits ``lead_time`` periods
for an order to arrive must hold enough to cover the demand of the next
``K = lead_time + review_period`` periods. That demand is a *sum* of K periods whose errors are
correlated (a forecast that is too low this month is usually too low next month too), so its
quantile is not the sum of per-period quantiles. It is read from simulated paths:

* regular series (the general models): ``K``-step forecasts of the fitted model, each step's
  spread taken from the model's own (calibrated) interval at the service level, tied together by
  the error structure of simple exponential smoothing: step k's error is
  ``e_k = ε_k + a·(ε_1 + … + ε_{k-1})``, the persistence ``a`` read off how the model's own
  interval widens with the horizon (``σ_k² = σ_1²(1 + (k-1)a²)``). One path keeps one draw of
  the innovations ε, so a level that turns out high stays high along it. Each step is rescaled to
  the model's spread, so a one-period order-up-to level is exactly the interval's upper bound.
  Paths are clipped at 0 period by period (demand is never negative).
* intermittent, lumpy and obsolete series: each period has demand with probability ``p`` and
  then a size drawn from the series' own non-zero demands (the bootstrap of demand sizes and
  intervals, Willemain et al. 2004), ``p`` set so that the mean is the method's forecast.

``order_up_to`` is the service-level quantile of the path sums; ``lead_time_demand`` their mean;
``safety_stock`` the difference (never below 0). For units, whole units (``order_up_to`` rounded
up: covering 17.2 units needs 18).

:func:`achieved_service_level` is the honest figure next to the nominal one: at past origins
the method is refitted on the history before it, sets its level, and the share of origins whose
realised demand over the next K periods did not exceed it is reported.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy.stats import norm

from shared.engine.intermittent import point_forecast

__all__ = [
    "CALIBRATION",
    "N_PATHS",
    "InventoryFigures",
    "achieved_service_level",
    "check_supported",
    "figures",
    "intermittent_paths",
    "model_paths",
    "model_paths_from",
    "regressor_fit",
    "suggested_order",
]

N_PATHS = 4000
SEED = 20261226  # fixed: the same series and settings give the same levels, job after job
MAX_ORIGINS = 12
MIN_TRAIN = 6
# The history must be at least this many times the periods covered: a level for 30 months ahead
# read off 36 months of history would be an extrapolated guess, not a quantile.
HISTORY_PER_PERIOD = 2
# Scales the spread of the paths of the general models. 1.0: the models' own calibrated
# intervals as they are; benchmarks/inventory.py measures what that achieves.
CALIBRATION = 1.0

Fit = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class InventoryFigures:
    """One series' §12 figures, in the measure's unit."""

    lead_time_demand: float
    order_up_to: float
    safety_stock: float
    service_level: float

    def to_dict(self) -> dict[str, float]:
        """The figures under their result-document field names (docs/api.md §12)."""
        return {
            "lead_time_demand": self.lead_time_demand,
            "order_up_to": self.order_up_to,
            "safety_stock": self.safety_stock,
            "service_level": self.service_level,
        }


def _rng(seed: int | None = None) -> np.random.Generator:
    return np.random.default_rng(SEED if seed is None else seed)


def check_supported(n: int, periods: int) -> str | None:
    """Why a history of ``n`` periods does not support levels over ``periods`` periods, or None."""
    if periods * HISTORY_PER_PERIOD > n:
        return (
            f"lead_time + review_period is {periods} period(s), but {n} period(s) of history support "
            f"at most {n // HISTORY_PER_PERIOD}: a level that far ahead would be extrapolated, not estimated"
        )
    return None


# ------------------------------------------------------------------------------------ paths


def _persistence(sigma: np.ndarray) -> float:
    """``a`` of ``σ_k² = σ_1²(1 + (k-1)a²)``, least squares over the steps; 0 for one step."""
    k = sigma.size
    if k < 2 or sigma[0] <= 0:
        return 0.0
    steps = np.arange(k, dtype=float)
    growth = np.maximum(sigma**2 / sigma[0] ** 2 - 1.0, 0.0)
    a2 = float(np.sum(steps * growth) / np.sum(steps**2))
    return float(min(1.0, math.sqrt(max(a2, 0.0))))


def model_paths(
    mean: np.ndarray, sigma: np.ndarray, n_paths: int = N_PATHS, rng: np.random.Generator | None = None
) -> np.ndarray:
    """(n_paths, K) demand paths around ``mean`` with per-step spread ``sigma`` (see module doc)."""
    mean = np.asarray(mean, dtype=float)
    sigma = np.maximum(np.nan_to_num(np.asarray(sigma, dtype=float)), 0.0) * CALIBRATION
    k = mean.size
    rng = rng or _rng()
    a = _persistence(sigma)
    eps = rng.standard_normal((n_paths, k))
    # e_k = ε_k + a·Σ_{j<k} ε_j, and its standard deviation sqrt(1 + (k-1)a²).
    before = np.cumsum(eps, axis=1) - eps
    errors = eps + a * before
    errors /= np.sqrt(1.0 + np.arange(k) * a * a)
    return np.maximum(mean + sigma * errors, 0.0)


def model_paths_from(
    fitted: Any, periods: int, service_level: float, n_paths: int = N_PATHS, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Paths from a fitted :class:`~shared.engine.models.Forecaster` (its ``predict(h, level)``).

    Each step's spread is read from the model's interval whose upper end is the service-level
    quantile of that step (a central interval of 2·service_level − 100 %, at least 50 %), so a
    one-period level reproduces the model's own calibrated bound.
    """
    central = min(99.8, max(50.0, 2.0 * service_level - 100.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prediction = fitted.predict(periods, level=central)
    mean = np.asarray(prediction.mean, dtype=float)
    z = float(norm.ppf(0.5 + central / 200.0))
    sigma = (np.asarray(prediction.high, dtype=float) - mean) / z
    return model_paths(np.maximum(mean, 0.0), sigma, n_paths, rng)


def intermittent_paths(
    y: np.ndarray, mean: np.ndarray, n_paths: int = N_PATHS, rng: np.random.Generator | None = None
) -> np.ndarray:
    """(n_paths, K): demand in a period with probability p, its size one of the history's own."""
    y = np.asarray(y, dtype=float)
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    sizes = y[y > 0]
    rng = rng or _rng()
    if sizes.size == 0 or not np.any(mean > 0):
        return np.zeros((n_paths, mean.size))
    size_mean = float(sizes.mean())
    p = np.minimum(mean / size_mean, 1.0)
    # Above one demand a period on average, sizes grow instead: the mean stays the forecast.
    stretch = np.where(p >= 1.0, mean / size_mean, 1.0)
    occurs = rng.random((n_paths, mean.size)) < p
    drawn = sizes[rng.integers(0, sizes.size, (n_paths, mean.size))]
    return np.where(occurs, drawn * stretch, 0.0)


def series_paths(
    method: str,
    y: np.ndarray,
    periods: int,
    service_level: float,
    fit: Fit,
    *,
    fitted: Any | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Paths for a series forecast by ``method`` (``model``, ``naive``, or an intermittent one)."""
    y = np.asarray(y, dtype=float)
    if method == "zero" or not np.any(y != 0):
        return np.zeros((N_PATHS, periods))
    if method in ("model", "naive"):
        model = fitted if fitted is not None else fit(y)
        return model_paths_from(model, periods, service_level, rng=rng)
    mean = point_forecast(method, y, periods)
    return intermittent_paths(y, mean, rng=rng)


class WithRegressors:
    """A weekly or daily model fitted with known-effect rows (holidays, events), predicting with the
    rows that follow its history. Past the rows known (a lead time beyond the job's horizon), a period
    is taken to have no holiday or event."""

    def __init__(self, fitted: Any, future: np.ndarray | None) -> None:
        self.fitted = fitted
        self.future = future
        self.description_ = getattr(fitted, "description_", None)

    def predict(self, h: int, level: float) -> Any:
        if self.future is None:
            return self.fitted.predict(h, level=level)
        rows = self.future[:h]
        if rows.shape[0] < h:
            rows = np.vstack([rows, np.zeros((h - rows.shape[0], rows.shape[1]))])
        return self.fitted.predict(h, level=level, X_future=rows)


def regressor_fit(unfitted: Callable[[], Any], rows: np.ndarray | None) -> Fit:
    """``fit(history)`` for a series whose periods have the regressor ``rows`` (its history's, then
    the horizon's): a history of t periods is fitted with rows[:t] and forecast with rows[t:]."""

    def fit(history: np.ndarray) -> Any:
        t = history.size
        if rows is None or rows.shape[1] == 0:
            return unfitted().fit(history)
        return WithRegressors(unfitted().fit(history, rows[:t]), rows[t:])

    return fit


# ------------------------------------------------------------------------------------ figures


def figures(paths: np.ndarray, service_level: float, *, whole: bool = False) -> InventoryFigures:
    """The §12 figures of the path sums: mean, service-level quantile, their difference."""
    sums = np.asarray(paths, dtype=float).sum(axis=1)
    mean = float(sums.mean())
    level = float(np.quantile(sums, service_level / 100.0, method="higher"))
    if whole:
        mean = float(round(mean))
        level = float(math.ceil(level - 1e-9))
    else:
        mean, level = round(mean, 2), round(level, 2)
    level = max(level, mean)
    return InventoryFigures(
        lead_time_demand=mean,
        order_up_to=level,
        safety_stock=round(level - mean, 2),
        service_level=float(service_level),
    )


def suggested_order(
    order_up_to: float, on_hand: float, on_order: float, min_order: float | None = None, pack_size: float | None = None
) -> float:
    """max(0, order_up_to − on_hand − on_order) in whole units, then up to min_order and pack_size.

    Nothing to order stays 0 (a minimum order applies to an order, not to none).
    """
    need = max(0.0, float(order_up_to) - float(on_hand) - float(on_order))
    qty = float(math.ceil(need - 1e-9))
    if qty <= 0:
        return 0.0
    if min_order:
        qty = max(qty, float(math.ceil(min_order - 1e-9)))
    if pack_size and pack_size > 0:
        qty = float(math.ceil(qty / pack_size - 1e-9) * pack_size)
    return qty


# ------------------------------------------------------------------------------------ honesty


@dataclass(frozen=True)
class ServiceBacktest:
    """Whether the realised demand stayed within the level set, at each origin."""

    covered: list[bool]

    @property
    def origins(self) -> int:
        return len(self.covered)

    @property
    def achieved(self) -> float | None:
        return round(100.0 * sum(self.covered) / len(self.covered), 2) if self.covered else None


def achieved_service_level(
    y: np.ndarray,
    method: str,
    periods: int,
    service_level: float,
    fit: Fit,
    *,
    max_origins: int = MAX_ORIGINS,
    min_train: int = MIN_TRAIN,
    whole: bool = False,
    origins: Sequence[int] | None = None,
) -> ServiceBacktest:
    """At the last ``max_origins`` origins t (with t + periods ≤ n), refit on y[:t], set the
    order-up-to level, and record whether y[t:t+periods].sum() did not exceed it."""
    y = np.asarray(y, dtype=float)
    n = y.size
    last = n - periods
    if origins is None:
        first = max(min_train, last - max_origins + 1)
        origins = range(first, last + 1) if last >= first else range(0)
    covered = []
    for t in origins:
        train = y[:t]
        try:
            paths = series_paths(method, train, periods, service_level, fit, rng=_rng(SEED + t))
        except Exception:  # a fit that fails at one origin says nothing about the level
            continue
        level = figures(paths, service_level, whole=whole).order_up_to
        covered.append(bool(y[t : t + periods].sum() <= level + 1e-9))
    return ServiceBacktest(covered)


# ------------------------------------------------------------------------------------ documents


def stock_fields() -> dict[str, None]:
    """The stock figures of a series Laravel's stock does not list (or without a stock endpoint)."""
    return {"on_hand": None, "on_order": None, "suggested_order": None}


def series_inventory(
    method: str,
    y: np.ndarray,
    settings: Any,
    fit: Fit,
    *,
    whole: bool,
    fitted: Any | None = None,
    origins: int = 1,
) -> dict[str, Any]:
    """One series' §12 figures and its backtest: ``settings`` is the request's InventoryRequest.

    ``origins``: how many past origins the achieved service level is measured at (the last ones
    the history allows); the figures are in the result, the origins' outcomes in ``covered``.
    """
    periods = int(settings.periods)
    level = float(settings.service_level)
    paths = series_paths(method, y, periods, level, fit, fitted=fitted)
    backtest = achieved_service_level(y, method, periods, level, fit, whole=whole, max_origins=origins)
    return {
        **figures(paths, level, whole=whole).to_dict(),
        **stock_fields(),
        "achieved_service_level": backtest.achieved,
        "backtest_origins": backtest.origins,
        "covered": backtest.covered,
    }


def scaled_inventory(parent: dict[str, Any], share: float, *, whole: bool) -> dict[str, Any]:
    """A share-of-parent series' figures: its parent's, times its share (quantiles scale)."""
    mean = float(parent["lead_time_demand"]) * share
    level = float(parent["order_up_to"]) * share
    if whole:
        mean, level = float(round(mean)), float(math.ceil(level - 1e-9))
    else:
        mean, level = round(mean, 2), round(level, 2)
    level = max(level, mean)
    return {
        "lead_time_demand": mean,
        "order_up_to": level,
        "safety_stock": round(level - mean, 2),
        "service_level": parent["service_level"],
        **stock_fields(),
        "achieved_service_level": None,
        "backtest_origins": 0,
        "covered": [],
    }


def pooled(covered: Sequence[Sequence[bool]]) -> dict[str, Any]:
    """The achieved service level over many series' origins: share of origins covered, in %."""
    flat = [c for series in covered for c in series]
    return {
        "achieved_service_level": round(100.0 * sum(flat) / len(flat), 2) if flat else None,
        "backtest_origins": len(flat),
    }
