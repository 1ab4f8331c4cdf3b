"""Demand patterns and the methods made for intermittent series (most single products).

Classification (Syntetos, Boylan & Croston 2005, the usual ADI/CV² scheme), on the series' own
history from its first sale:

* ``ADI`` = months / months with demand (average inter-demand interval), ``CV²`` = squared
  coefficient of variation of the non-zero demand sizes; cut-offs 1.32 and 0.49.
* smooth (ADI < 1.32, CV² < 0.49) and erratic (ADI < 1.32, CV² ≥ 0.49): demand nearly every month,
  so the general models (``auto`` or the model asked for) apply;
* intermittent (ADI ≥ 1.32, CV² < 0.49): Croston with the Syntetos-Boylan bias correction (SBA);
* lumpy (ADI ≥ 1.32, CV² ≥ 0.49): IMAPA (multiple temporal aggregation, Petropoulos & Kourentzes
  2015), which copes with irregular sizes better than one smoothing constant;
* obsolete (no demand in the last ``max(6, 2·ADI)`` months after earlier demand; six months
  in weekly and daily periods too): TSB
  (Teunter, Syntetos & Babai 2011), whose demand probability decays towards 0, unlike Croston's;
* zero (no demand at all): a forecast of 0 with a [0, 0] interval.

The point forecasts come from statsforecast's implementations. None of these methods has a
predictive distribution of its own, so intervals are built from the series' own demand sizes: a
month has demand with probability p and then a size drawn from a gamma distribution fitted (by
moments) to the non-zero sizes seen, with p set so that the mean equals the method's forecast.
The interval is the central ``level`` % of that mixture: it never goes below 0, and it is 0 at the
low end whenever a month without demand is likely enough. For whole-number series (units, orders)
the bounds are whole numbers. ``benchmarks/grouped.py`` measures how
well it covers.
"""
from __future__ import annotations

import math
import warnings
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.stats import gamma

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
OBSOLETE_MIN_MONTHS = 6
# The same six months in each frequency's own periods: six *days* without a sale say nothing
# about a product that sells every third day (it happens one time in ten), six months do.
OBSOLETE_MIN_PERIODS: dict[str, int] = {"month": OBSOLETE_MIN_MONTHS, "week": 26, "day": 183}


class DemandPattern(StrEnum):
    """The demand patterns :func:`classify` tells apart (ADI/CV², see the module docstring);
    :data:`METHOD_FOR` gives the intermittent, lumpy, obsolete and zero ones their own method,
    while smooth and erratic series keep the general models."""

    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"
    OBSOLETE = "obsolete"
    ZERO = "zero"


# The method each intermittent pattern gets (the label shown in forecast.model).
METHOD_FOR: dict[DemandPattern, str] = {
    DemandPattern.INTERMITTENT: "croston_sba",
    DemandPattern.LUMPY: "imapa",
    DemandPattern.OBSOLETE: "tsb",
    DemandPattern.ZERO: "zero",
}
INTERMITTENT_METHODS = ("croston", "croston_sba", "tsb", "adida", "imapa", "zero")


def classify(y: np.ndarray, frequency: str = "month") -> DemandPattern:
    """The demand pattern of ``y`` (a history from the first sale on; see the module docstring).

    ``frequency`` (month, week or day) is the periods' length: obsolete means no demand in the
    last ``max(six months, 2·ADI periods)`` (:data:`OBSOLETE_MIN_PERIODS`)."""
    y = np.asarray(y, dtype=float)
    demand = y > 0
    k = int(demand.sum())
    if k == 0:
        return DemandPattern.ZERO
    adi = y.size / k
    last = int(np.flatnonzero(demand)[-1])
    trailing = y.size - 1 - last
    if trailing >= max(OBSOLETE_MIN_PERIODS[str(frequency)], math.ceil(2 * adi)):
        return DemandPattern.OBSOLETE
    sizes = y[demand]
    mean = float(sizes.mean())
    cv2 = float(sizes.var() / (mean * mean)) if k > 1 else 0.0
    if adi < ADI_CUTOFF:
        return DemandPattern.SMOOTH if cv2 < CV2_CUTOFF else DemandPattern.ERRATIC
    return DemandPattern.INTERMITTENT if cv2 < CV2_CUTOFF else DemandPattern.LUMPY


def _statsforecast_model(method: str) -> Any:
    from statsforecast.models import ADIDA, IMAPA, TSB, CrostonClassic, CrostonSBA

    if method == "croston":
        return CrostonClassic()
    if method == "croston_sba":
        return CrostonSBA()
    if method == "tsb":
        # Demand probability updated faster than sizes: obsolescence shows within a few months.
        return TSB(alpha_d=0.1, alpha_p=0.2)
    if method == "adida":
        return ADIDA()
    if method == "imapa":
        return IMAPA()
    raise ValueError(f"unknown intermittent method {method!r}")


def point_forecast(method: str, y: np.ndarray, h: int) -> np.ndarray:
    """h flat point forecasts of ``method`` on ``y`` (never negative)."""
    y = np.asarray(y, dtype=float)
    if method == "zero" or not np.any(y > 0):
        return np.zeros(h)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _statsforecast_model(method).fit(np.maximum(y, 0.0)).predict(h)
    mean = np.asarray(out["mean"], dtype=float)
    if not np.all(np.isfinite(mean)):  # degenerate histories: the mean demand is a safe answer
        mean = np.full(h, float(np.maximum(y, 0).mean()))
    return np.maximum(mean, 0.0)


def mixture_interval(y: np.ndarray, mean: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` % interval of "demand with probability p, gamma-distributed size"."""
    y = np.asarray(y, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sizes = y[y > 0]
    if sizes.size == 0:
        return np.zeros_like(mean), np.zeros_like(mean)
    m = float(sizes.mean())
    # Few sizes say little about their spread: never assume less than Poisson-like dispersion.
    v = max(float(sizes.var(ddof=1)) if sizes.size > 1 else 0.0, m, 1e-12)
    shape, scale = m * m / v, v / m
    alpha = (1.0 - level / 100.0) / 2.0
    low = np.zeros_like(mean)
    high = np.zeros_like(mean)
    for j, mu in enumerate(mean):
        p = min(1.0, max(mu, 0.0) / m)
        if p <= 0:
            continue
        size_scale = scale * max(mu / (p * m), 1.0) if p >= 1.0 else scale
        for q, out in ((alpha, low), (1.0 - alpha, high)):
            # P(Y <= y) = (1 - p) + p·F(y): the quantile is 0 while (1 - p) already covers q.
            if q > 1.0 - p:
                out[j] = float(gamma.ppf((q - (1.0 - p)) / p, shape, scale=size_scale))
    if np.all(y == np.round(y)):
        # Counts (units, orders): P(Y <= 5.7) = P(Y <= 5), so the bounds move to whole numbers
        # without changing what they cover.
        low, high = np.ceil(low - 1e-9), np.floor(high + 1e-9)
    return low, np.maximum(high, mean)
