"""Frequencies, and seasonality with non-integer periods (weeks in a year) by Fourier terms.

A year has 365.25 / 7 = 52.18 weeks: a seasonal model that repeats the value of 52 weeks ago
slips by a day a year, and by Christmas week within six years. Fourier terms of period 52.18
(sines and cosines of the time index, Harvey & Shephard; Hyndman's "dynamic harmonic
regression") describe the yearly cycle at its true length, and a day gets two cycles at once
(the week, 7, and the year, 365.25), which a single seasonal lag cannot.

:class:`SeasonalAdjustment` fits, by one least-squares regression, a piecewise-linear trend, the
Fourier terms of each period and the known effects (holidays, events: :mod:`shared.engine.effects`),
and returns the series with season and effects taken out. A non-seasonal model then forecasts
that adjusted series and the season and effects of the horizon are put back
(:mod:`shared.engine.frequency_models`). For positive series the regression is on the logarithm, so that
season and effects are multiplicative (a December that is 40 % above the year's mean stays 40 %
above it when sales double); a series with zeros gets additive ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from shared.contract.calendar import Frequency  # the one enum of frequencies

__all__ = [
    "DAYS_PER_YEAR",
    "WEEKS_PER_YEAR",
    "Frequency",
    "SeasonalAdjustment",
    "fourier_terms",
    "mase_lag",
    "season_lengths",
]

DAYS_PER_YEAR = 365.25
WEEKS_PER_YEAR = DAYS_PER_YEAR / 7.0  # 52.1786




_SEASONS: dict[Frequency, tuple[float, ...]] = {
    Frequency.MONTH: (12.0,),
    Frequency.WEEK: (WEEKS_PER_YEAR,),
    Frequency.DAY: (7.0, DAYS_PER_YEAR),
}


def season_lengths(frequency: Frequency | str) -> tuple[float, ...]:
    """The seasonal periods of a frequency, shortest first: (12,), (52.18,), (7, 365.25)."""
    return _SEASONS[Frequency(frequency)]


def mase_lag(frequency: Frequency | str) -> int:
    """The seasonal-naive lag that scales MASE in a job's metrics: 12 months, 52 weeks, 7 days."""
    return {Frequency.MONTH: 12, Frequency.WEEK: 52, Frequency.DAY: 7}[Frequency(frequency)]


def fourier_terms(t: np.ndarray, period: float, k: int) -> np.ndarray:
    """(len(t), 2k) matrix: cos and sin of 2πjt/period for j = 1..k (columns cos1, sin1, cos2, ...).

    k is capped at period/2 (higher harmonics alias onto lower ones); for period 7 and k = 3 the six
    columns span every day-of-week pattern, like six day dummies.
    """
    t = np.asarray(t, dtype=float).ravel()
    k = min(int(k), int(period // 2))
    if k <= 0:
        return np.empty((t.size, 0))
    angles = 2.0 * np.pi * np.outer(t, np.arange(1, k + 1)) / period
    out = np.empty((t.size, 2 * k))
    out[:, 0::2] = np.cos(angles)
    out[:, 1::2] = np.sin(angles)
    if 2 * k == period:  # the sine of the Nyquist harmonic is identically 0: drop it
        out = out[:, :-1]
    return out


def _trend_basis(t: np.ndarray, knots: np.ndarray) -> np.ndarray:
    cols = [np.ones_like(t), t] + [np.maximum(t - k, 0.0) for k in knots]
    return np.column_stack(cols)


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    rss: float
    params: int


def _solve(A: np.ndarray, b: np.ndarray, penalty: np.ndarray) -> _Fit:
    """Least squares with a ridge penalty per column (0 for none); see _coef_cov for its covariance."""
    rows = np.flatnonzero(penalty > 0)
    if rows.size:
        P = np.zeros((rows.size, A.shape[1]))
        P[np.arange(rows.size), rows] = np.sqrt(penalty[rows])
        A_aug, b_aug = np.vstack([A, P]), np.r_[b, np.zeros(rows.size)]
    else:
        A_aug, b_aug = A, b
    beta, *_ = np.linalg.lstsq(A_aug, b_aug, rcond=None)
    resid = b - A @ beta
    return _Fit(beta, float(resid @ resid), A.shape[1] - rows.size)


class SeasonalAdjustment:
    """Season (Fourier terms) and known effects estimated jointly with a trend, then removed.

    Settings: ``periods`` (e.g. (52.18,) or (7, 365.25)); ``max_terms``, the candidate numbers of
    Fourier pairs per period (each chosen by BIC, with 0 meaning "not seasonal at that period");
    ``knot_every``, the spacing of the trend's knots (a knot a year: a trend that bends no faster
    than the slowest season cannot be confused with it); ``min_cycles``, how many full cycles of a
    period the history must hold before it may be estimated; ``penalty``, the ridge penalty
    (in observations' worth) on each regressor column, so that an effect seen once or twice is
    shrunk towards 0 (or towards its pooled column) rather than fitted to that day's noise.

    After ``fit(y, X, exclude)``: ``adjusted_`` (y without season and effects, on every row;
    excluded rows are interpolated), ``multiplicative_``, ``terms_`` (Fourier pairs per period),
    and ``component(t, X)`` gives the season-and-effects factor (multiplicative) or term
    (additive) at any time index t, past or future.
    """

    def __init__(
        self,
        periods: Sequence[float],
        max_terms: Sequence[Sequence[int]],
        knot_every: float,
        min_cycles: float = 2.0,
        penalty: np.ndarray | None = None,
    ) -> None:
        self.periods = tuple(float(p) for p in periods)
        self.max_terms = tuple(tuple(int(k) for k in ks) for ks in max_terms)
        self.knot_every = float(knot_every)
        self.min_cycles = float(min_cycles)
        self.penalty = penalty

    def fit(self, y: np.ndarray, X: np.ndarray | None = None, exclude: np.ndarray | None = None) -> "SeasonalAdjustment":
        """Estimate trend, seasons and the effects of regressors ``X`` on ``y``, leaving the rows flagged in
        ``exclude`` out of the estimate; sets the fitted attributes and returns self."""
        y = np.asarray(y, dtype=float)
        n = y.size
        t = np.arange(n, dtype=float)
        keep = np.ones(n, dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
        X = np.empty((n, 0)) if X is None else np.asarray(X, dtype=float).reshape(n, -1)
        # Columns with no variation over the kept rows cannot be estimated (an event never seen).
        active = np.flatnonzero(np.ptp(X[keep], axis=0) > 0) if keep.any() and X.shape[1] else np.empty(0, int)
        self.n_ = n
        self.regressors_ = active
        self.multiplicative_ = bool(keep.any() and np.all(y[keep] > 0))
        target = np.log(y[keep]) if self.multiplicative_ else y[keep]
        knots = np.arange(self.knot_every, n - self.knot_every / 2, self.knot_every)
        self.knots_ = knots
        base = _trend_basis(t, knots)[keep]
        Xk = X[keep][:, active]
        pen_x = np.zeros(active.size) if self.penalty is None else np.asarray(self.penalty, float)[active]
        span = float(keep.sum())
        # Terms per period, chosen one period at a time (shortest first) by BIC.
        chosen: list[int] = []
        for period, candidates in zip(self.periods, self.max_terms):
            allowed = [k for k in candidates if k == 0 or span >= self.min_cycles * period]
            best_k, best_bic = 0, math.inf
            for k in sorted(set(allowed) | {0}):
                F = self._fourier(t[keep], chosen + [k])
                A = np.column_stack([base, F, Xk])
                pen = np.r_[np.zeros(base.shape[1] + F.shape[1]), pen_x]
                fit = _solve(A, target, pen)
                m = target.size
                bic = m * math.log(max(fit.rss, 1e-300) / m) + fit.params * math.log(m)
                if bic < best_bic - 1e-9:
                    best_k, best_bic = k, bic
            chosen.append(best_k)
        self.terms_ = tuple(chosen)
        F = self._fourier(t[keep], chosen)
        A = np.column_stack([base, F, Xk])
        pen = np.r_[np.zeros(base.shape[1] + F.shape[1]), pen_x]
        fit = _solve(A, target, pen)
        nb, nf = base.shape[1], F.shape[1]
        self.fourier_beta_ = fit.beta[nb : nb + nf]
        self.effect_beta_ = fit.beta[nb + nf :]
        self.n_kept_ = int(keep.sum())
        # What the effects add to a forecast's uncertainty: their estimates' own variance, and how
        # much noisier the periods with an effect were than the others (a Christmas week is).
        self.effect_cov_ = np.zeros((active.size, active.size))
        self.effect_excess_var_ = 0.0
        if active.size:
            resid = target - A @ fit.beta
            dof = max(target.size - fit.params, 1)
            sigma2 = float(resid @ resid) / dof
            try:
                inv = np.linalg.pinv(A.T @ A + np.diag(pen))
                self.effect_cov_ = sigma2 * inv[nb + nf :, nb + nf :]
            except np.linalg.LinAlgError:
                pass
            on = np.any(Xk != 0, axis=1)
            if on.sum() >= 2 and (~on).sum() >= 2:
                self.effect_excess_var_ = max(0.0, float(np.var(resid[on]) - np.var(resid[~on])))
        comp = self.component(t, X)
        adjusted = y - comp if not self.multiplicative_ else y / comp
        if not keep.all():
            # Excluded rows (closed days) carry no information: interpolate the adjusted series.
            idx = np.flatnonzero(keep)
            adjusted = np.interp(t, t[idx], adjusted[idx]) if idx.size else np.zeros(n)
        self.adjusted_ = adjusted
        return self

    def _fourier(self, t: np.ndarray, terms: Sequence[int]) -> np.ndarray:
        blocks = [fourier_terms(t, p, k) for p, k in zip(self.periods, terms)]
        return np.column_stack(blocks) if blocks else np.empty((t.size, 0))

    @property
    def seasonal(self) -> bool:
        """True when at least one seasonal period got Fourier terms (the history held enough cycles of it)."""
        return any(k > 0 for k in self.terms_)

    @property
    def has_effects(self) -> bool:
        """True when some known-effect column was estimated, with an effect other than 0."""
        return self.regressors_.size > 0 and bool(np.any(self.effect_beta_ != 0))

    def effect_std(self, X: np.ndarray | None) -> np.ndarray:
        """Per row of X: the standard deviation the effects add (log scale when multiplicative)."""
        if X is None or not self.regressors_.size:
            return np.zeros(0 if X is None else np.asarray(X).shape[0])
        Xa = np.asarray(X, dtype=float)[:, self.regressors_]
        var = np.einsum("ij,jk,ik->i", Xa, self.effect_cov_, Xa)
        var = var + np.where(np.any(Xa != 0, axis=1), self.effect_excess_var_, 0.0)
        return np.sqrt(np.maximum(var, 0.0))

    def parts(self, t: np.ndarray, X: np.ndarray | None, groups: Sequence[str] | None) -> dict[str, np.ndarray]:
        """What :meth:`component` is made of, on its own scale (log when multiplicative): ``seasonal``
        (the Fourier terms) when the fit found a season, and the effects summed per group of their
        columns (``groups`` per column of X, e.g. holidays/events; None: all ``events``), for the
        groups with an estimated column. The parts add up to log(component) or to component."""
        t = np.asarray(t, dtype=float)
        out: dict[str, np.ndarray] = {}
        if self.seasonal:
            out["seasonal"] = self._fourier(t, self.terms_) @ self.fourier_beta_
        if self.regressors_.size and X is not None:
            X = np.asarray(X, dtype=float).reshape(t.size, -1)
            names = np.asarray(["events"] * X.shape[1] if groups is None else list(groups)[: X.shape[1]], dtype=object)
            active = names[self.regressors_]
            for group in dict.fromkeys(active):
                mask = active == group
                out[str(group)] = X[:, self.regressors_[mask]] @ self.effect_beta_[mask]
        return out

    def component(self, t: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Season and effects at time indices t (0 = the first fitted point): a factor if
        multiplicative, a term if additive. X holds the regressor rows for those times."""
        t = np.asarray(t, dtype=float)
        value = self._fourier(t, self.terms_) @ self.fourier_beta_
        if self.regressors_.size:
            if X is None:
                raise ValueError("the model was fitted with regressors: X_future is needed")
            X = np.asarray(X, dtype=float).reshape(t.size, -1)
            value = value + X[:, self.regressors_] @ self.effect_beta_
        return np.exp(value) if self.multiplicative_ else value
