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

Calibration (:func:`calibrate_level`): paths are a model's idea of its errors, and models are
often too sure (a level shift, a season too short to see), sometimes too unsure. At past origins
the method is refitted on the history before it and its uncorrected level ``mean + spread`` is
set; the factor on the spread that would just have covered the realised demand is the origin's
score. Origins lie K periods apart over the history, and the series of a level take turns over
them, so that the level's scores are not one shared week's shock. Per level of the hierarchy
(each series' own when it is its level, as the total), the split-conformal quantile of the scores,
shrunk toward 1 by the number of distinct dates it rests on, is the factor applied to the safety
stock. The achieved service level reported next
to the nominal one is measured at later origins than those the factor was learnt from (calibrate
on earlier origins, judge on later), so it is what the published method achieved on data it had
not seen, not a figure fitted to itself.
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
    "N_PATHS",
    "InventoryFigures",
    "Outcome",
    "achieved_service_level",
    "backtest_origins",
    "calibrate_level",
    "check_supported",
    "correction",
    "distinct_dates",
    "figures",
    "figures_from",
    "intermittent_paths",
    "model_paths",
    "model_paths_from",
    "outcomes_at",
    "regressor_fit",
    "series_inventory",
    "spaced_origins",
    "spread_of",
    "suggested_order",
]

N_PATHS = 4000
SEED = 20261226  # fixed: the same series and settings give the same levels, job after job
MAX_ORIGINS = 12
MIN_TRAIN = 6
# The history must be at least this many times the periods covered: a level for 30 months ahead
# read off 36 months of history would be an extrapolated guess, not a quantile.
HISTORY_PER_PERIOD = 2

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
    sigma = np.maximum(np.nan_to_num(np.asarray(sigma, dtype=float)), 0.0)
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


def spread_of(paths: np.ndarray, service_level: float) -> tuple[float, float]:
    """(mean, spread) of the path sums: their mean, and how far their service-level quantile lies
    above it (never below 0). The uncorrected order-up-to level is ``mean + spread``."""
    sums = np.asarray(paths, dtype=float).sum(axis=1)
    mean = float(sums.mean())
    level = float(np.quantile(sums, service_level / 100.0, method="higher"))
    return mean, max(level - mean, 0.0)


def figures_from(
    mean: float, spread: float, service_level: float, *, factor: float = 1.0, whole: bool = False
) -> InventoryFigures:
    """The §12 figures of a lead-time demand with ``mean`` and ``spread`` (see :func:`spread_of`),
    the safety stock scaled by the calibration ``factor`` (:func:`correction`)."""
    level = mean + factor * spread
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


def figures(paths: np.ndarray, service_level: float, *, whole: bool = False) -> InventoryFigures:
    """The §12 figures of the path sums, uncorrected: mean, service-level quantile, their difference."""
    mean, spread = spread_of(paths, service_level)
    return figures_from(mean, spread, service_level, whole=whole)


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

# Outcomes a level of the hierarchy needs (summed over its series): the correction is learnt from
# CALIBRATION_OUTCOMES origins and judged at EVALUATION_OUTCOMES later ones. A level of many series
# has one of each per series; a level of few series (the total: one) gives each series more
# origins, as far as its history allows.
CALIBRATION_OUTCOMES = 24
EVALUATION_OUTCOMES = 12
# Origins lie K = lead_time + review_period periods apart (their demand windows do not overlap),
# going back from the end as far as the history allows: the latest EVALUATION_DATES dates (at most
# a third of them) are judged on, up to CALIBRATION_DATES before those are learnt from. The series
# of a level take turns over the dates, so that the level's outcomes are not one shared week's shock.
EVALUATION_DATES = 12
CALIBRATION_DATES = 24
# The correction is shrunk toward 1 by its evidence, the number of distinct calibration dates
# n_eff (not series x dates: series of one date share its shock): 1 + (f - 1)·n_eff / (n_eff + SHRINK_DATES).
SHRINK_DATES = 48.0  # chosen on the tune half of benchmarks/inventory.py (36-96 tied; 24 and none worse)
# A realised demand above a level whose paths have no spread at all: beyond any correction.
RATIO_CAP = 1000.0
# The largest factor a correction applies to the safety stock: past it the paths, not their
# spread, are wrong (a product that changed), and the achieved level says so.
MAX_FACTOR = 4.0


@dataclass(frozen=True)
class Outcome:
    """One backtest origin: the uncorrected ``mean`` and ``spread`` (:func:`spread_of`) the method
    set there, the demand realised over the ``K`` periods after it, and the origin's ``lag``, its
    distance in periods from the end of the history (series of one job that share a lag share a
    date; -1: not known)."""

    mean: float
    spread: float
    actual: float
    lag: int = -1

    @property
    def ratio(self) -> float:
        """The conformity score: the realised excess over the mean, in spreads. The level
        ``mean + f·spread`` covered the demand exactly when ratio ≤ f."""
        excess = self.actual - self.mean
        if self.spread <= 1e-9:
            return 0.0 if excess <= 1e-9 else RATIO_CAP
        return float(min(RATIO_CAP, excess / self.spread))

    def score(self, *, whole: bool) -> float:
        """The smallest factor whose published level covers the realised demand: :attr:`ratio`, or
        in whole units (a level rounded up to a whole unit already covers a demand up to it) the
        factor that just lifts ``mean + f·spread`` past ``demand − 1``. Never below 0."""
        if not whole:
            return max(0.0, self.ratio)
        demand = math.ceil(self.actual - 1e-9)
        if self.covered(0.0, 50.0, whole=True):
            return 0.0
        if self.spread <= 1e-9:
            return RATIO_CAP
        return float(min(RATIO_CAP, max(0.0, (demand - 1 - self.mean) / self.spread) + 1e-6))

    def covered(self, factor: float, service_level: float, *, whole: bool) -> bool:
        """Whether the level published with correction ``factor`` covered the realised demand."""
        level = figures_from(self.mean, self.spread, service_level, factor=factor, whole=whole).order_up_to
        return bool(self.actual <= level + 1e-9)

    def to_list(self) -> list[float]:
        """JSON-safe (a chunk's result carries its outcomes to the fan-in)."""
        return [self.mean, self.spread, self.actual, self.lag]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> "Outcome":
        """The inverse of :meth:`to_list` (a list of three, from an older worker: lag unknown)."""
        lag = int(values[3]) if len(values) > 3 else -1
        return cls(float(values[0]), float(values[1]), float(values[2]), lag)


def distinct_dates(outcomes: Sequence[Outcome]) -> int:
    """The evidence of a set of outcomes: how many distinct dates they were set at (an outcome of
    unknown date counts as a date of its own)."""
    known = {o.lag for o in outcomes if o.lag >= 0}
    return len(known) + sum(1 for o in outcomes if o.lag < 0)


def correction(
    outcomes: Sequence[Outcome], service_level: float, *, whole: bool = False, shrink: float | None = None
) -> float | None:
    """The factor on the safety stock: the split-conformal ⌈(n+1)·s⌉-th smallest score
    (:meth:`Outcome.score`, in whole units when the level is published so) of the n
    outcomes (the largest when n is too small for that order statistic, fewer than s / (100 − s):
    19 at 95 %, 9 at 90 %), shrunk toward 1 by the evidence, 1 + (f − 1)·d / (d + ``shrink``)
    with d the outcomes' :func:`distinct_dates` (``shrink`` defaults to SHRINK_DATES). None
    without outcomes: the level is then left uncorrected."""
    n = len(outcomes)
    if n == 0:
        return None
    k = min(n, math.ceil((n + 1) * service_level / 100.0 - 1e-9))
    raw = min(MAX_FACTOR, sorted(o.score(whole=whole) for o in outcomes)[k - 1])
    d = distinct_dates(outcomes)
    n0 = SHRINK_DATES if shrink is None else float(shrink)
    return float(1.0 + (raw - 1.0) * d / (d + n0))


def spaced_origins(n: int, periods: int) -> list[int]:
    """The origins t of a history of ``n`` periods whose ``periods`` after them have been seen,
    ``periods`` apart from the last one back (latest first), each with a history that supports the
    periods (:func:`check_supported`) and at least MIN_TRAIN periods."""
    step = max(1, int(periods))
    first = max(MIN_TRAIN, HISTORY_PER_PERIOD * periods)
    return list(range(n - periods, first - 1, -step))


def _turns(dates: Sequence[int], count: int, position: int, level_size: int) -> list[int]:
    """``count`` of ``dates`` for the series at ``position`` of a level of ``level_size``: the r-th
    is dates[(position + r·level_size) mod len(dates)], so the level's series take turns over them."""
    if not dates or count <= 0:
        return []
    picked = {dates[(position + r * level_size) % len(dates)] for r in range(min(count, len(dates)))}
    return sorted(picked)


def backtest_origins(
    n: int, periods: int, level_size: int = 1, position: int = 0, span: int | None = None
) -> tuple[list[int], list[int]]:
    """(calibration, evaluation) origins of one series of ``n`` periods, at ``position`` in a level
    of ``level_size`` series whose longest history is ``span`` periods (all end at the same period;
    default ``n``). The level's dates are :func:`spaced_origins` of ``span``: the latest (up to
    EVALUATION_DATES, at most a third of them, at least one) are judged on, up to CALIBRATION_DATES
    before them are learnt from, so that what the correction learns from never overlaps what any
    series of the level is judged on. Each series takes :func:`origins_for` of each, in turns with
    its level's other series, and keeps those its own history supports."""
    span = n if span is None else max(int(span), n)
    dates = spaced_origins(span, periods)
    if not dates:
        return [], []
    e = min(EVALUATION_DATES, max(1, len(dates) // 3))
    judged, learnt = dates[:e], dates[e : e + CALIBRATION_DATES]
    evaluation, calibration = origins_for(level_size)
    size, pos = max(1, int(level_size)), max(0, int(position))
    shift, first = span - n, max(MIN_TRAIN, HISTORY_PER_PERIOD * periods)

    def own(ts: list[int]) -> list[int]:
        return [t - shift for t in ts if t - shift >= first]

    return own(_turns(learnt, calibration, pos, size)), own(_turns(judged, evaluation, pos, size))


def outcomes_at(
    y: np.ndarray, method: str, periods: int, service_level: float, fit: Fit, origins: Sequence[int]
) -> list[Outcome]:
    """At each origin t, the method refitted on y[:t] and its uncorrected level, with the demand
    realised over y[t:t+periods]. A fit that fails at one origin says nothing about the level: skipped."""
    y = np.asarray(y, dtype=float)
    out = []
    for t in origins:
        try:
            paths = series_paths(method, y[:t], periods, service_level, fit, rng=_rng(SEED + t))
        except Exception:  # any model failure at one origin says nothing about the level
            continue
        mean, spread = spread_of(paths, service_level)
        out.append(Outcome(mean, spread, float(y[t : t + periods].sum()), int(y.size - t)))
    return out


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
    whole: bool = False,
) -> ServiceBacktest:
    """The uncorrected paths' record: at the last ``max_origins`` origins t (t + periods ≤ n,
    ``periods`` apart, :func:`spaced_origins`), refit on y[:t], set the level without correction,
    and record whether y[t:t+periods].sum() stayed within it."""
    judged = sorted(spaced_origins(np.asarray(y).size, periods)[:max_origins])
    found = outcomes_at(y, method, periods, service_level, fit, judged)
    return ServiceBacktest([o.covered(1.0, service_level, whole=whole) for o in found])


# ------------------------------------------------------------------------------------ documents


def stock_fields() -> dict[str, None]:
    """The stock figures of a series Laravel's stock does not list (or without a stock endpoint)."""
    return {"on_hand": None, "on_order": None, "suggested_order": None}


def origins_for(level_size: int) -> tuple[int, int]:
    """(evaluation, calibration) origins for each series of a level of ``level_size`` series."""
    size = max(1, int(level_size))
    return math.ceil(EVALUATION_OUTCOMES / size), math.ceil(CALIBRATION_OUTCOMES / size)


def series_inventory(
    method: str,
    y: np.ndarray,
    settings: Any,
    fit: Fit,
    *,
    fitted: Any | None = None,
    level_size: int = 1,
    position: int = 0,
    span: int | None = None,
) -> dict[str, Any]:
    """One series' uncorrected lead-time demand and its backtest outcomes: ``settings`` is the
    request's InventoryRequest, ``level_size`` the number of series of its level and ``position``
    the series' place in it and ``span`` the level's longest history (they set how many origins
    each series is backtested at, :func:`origins_for`, and at which of the level's dates,
    :func:`backtest_origins`). JSON-safe;
    the published figures come from :func:`calibrate_level` over the whole level."""
    y = np.asarray(y, dtype=float)
    periods = int(settings.periods)
    level = float(settings.service_level)
    mean, spread = spread_of(series_paths(method, y, periods, level, fit, fitted=fitted), level)
    learn, judge = backtest_origins(y.size, periods, level_size, position, span)
    return {
        "mean": mean,
        "spread": spread,
        "service_level": level,
        "calibration": [o.to_list() for o in outcomes_at(y, method, periods, level, fit, learn)],
        "evaluation": [o.to_list() for o in outcomes_at(y, method, periods, level, fit, judge)],
    }


def calibrate_level(
    raw: Sequence[dict[str, Any] | None], *, whole: bool, shrink: float | None = None
) -> tuple[list[dict[str, Any] | None], dict[str, Any]]:
    """The published figures of one level's series (None stays None) from their
    :func:`series_inventory` blocks, and the level's calibration.

    The factor on the safety stock is the :func:`correction` of the level's outcomes pooled
    (split-conformal, shrunk toward 1 by the number of distinct dates; ``shrink``: SHRINK_DATES).
    Each series' ``achieved_service_level`` (its ``covered`` outcomes) is measured at its evaluation origins with the factor learnt from the calibration origins alone
    (never from the origins it is judged on); the published ``order_up_to`` uses the factor learnt
    from all of them. Without calibration origins the level is published uncorrected (factor 1)
    and judged so."""
    blocks = [b for b in raw if b is not None]
    if not blocks:
        return list(raw), {"calibration_factor": 1.0, "calibration_origins": 0}
    level = float(blocks[0]["service_level"])
    learn = [Outcome.from_list(o) for b in blocks for o in b["calibration"]]
    judge = [Outcome.from_list(o) for b in blocks for o in b["evaluation"]]
    learnt = correction(learn, level, whole=whole, shrink=shrink)
    if learnt is None:
        learnt = factor = 1.0
    else:
        factor = correction(learn + judge, level, whole=whole, shrink=shrink) or 1.0  # more outcomes than learn: never None
    published: list[dict[str, Any] | None] = []
    for b in raw:
        if b is None:
            published.append(None)
            continue
        covered = [Outcome.from_list(o).covered(learnt, level, whole=whole) for o in b["evaluation"]]
        published.append({
            **figures_from(b["mean"], b["spread"], level, factor=factor, whole=whole).to_dict(),
            **stock_fields(),
            "achieved_service_level": round(100.0 * sum(covered) / len(covered), 2) if covered else None,
            "backtest_origins": len(covered),
            "covered": covered,
        })
    return published, {"calibration_factor": round(factor, 4), "calibration_origins": len(learn)}


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
