"""Forecasting models for monthly sales totals, behind one interface.

Every model follows the statsforecast/sktime habit: the constructor stores settings only,
`fit(y)` returns the model with its fitted state in attributes ending in "_", and
`predict(h, level)` returns point forecasts with an interval. Intervals are raw (they may go below
0); the caller clips them, because sales cannot be negative but the models do not know that.

`auto`, the default, is the one meant for users: see `AutoForecaster` for why it is built the way
it is and how its intervals are calibrated. The other models are there to compare against and for
callers who ask for a specific method; `linear` is the service's original method, kept so the
benchmark can show how much the change matters.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from shared.schema import MODEL_NAMES  # the public names live with the request schema

__all__ = [
    "MODEL_NAMES",
    "MODEL_VERSION",
    "AutoForecaster",
    "ETSForecaster",
    "ArimaForecaster",
    "Forecaster",
    "LinearForecaster",
    "Prediction",
    "SeasonalNaiveForecaster",
    "ThetaForecaster",
    "make_model",
]

# Part of the keys under which fitted models are persisted: bump it whenever a model's code
# changes what a fitted model means, so that models fitted by older code are not reused.
MODEL_VERSION: str = "2026.11-1"

MIN_HISTORY = 3
MIN_LEVEL, MAX_LEVEL = 50.0, 99.9


@dataclass(frozen=True)
class Prediction:
    """Point forecasts and a central interval of nominal coverage `level` (%), h steps ahead."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float


def _as_history(y: Any) -> np.ndarray:
    series = np.asarray(y, dtype=float).ravel()
    if series.size < MIN_HISTORY:
        raise ValueError(f"need at least {MIN_HISTORY} observations, got {series.size}")
    if not np.all(np.isfinite(series)):
        raise ValueError("y must contain only finite numbers")
    return series


def _check_level(level: float) -> float:
    level = float(level)
    if not (MIN_LEVEL <= level <= MAX_LEVEL):
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL}, got {level}")
    return level


def _check_horizon(h: int) -> int:
    if isinstance(h, bool) or int(h) != h or h < 1:
        raise ValueError(f"h must be a positive integer, got {h!r}")
    return int(h)


def _z(level: float) -> float:
    """Two-sided normal quantile for a central interval of `level` %."""
    return float(norm.ppf(0.5 + level / 200.0))


class Forecaster:
    """Base of every model: settings in the constructor, state from `fit`, forecasts from `predict`."""

    name: ClassVar[str] = "base"

    def __init__(self, season_length: int = 12, **settings: Any) -> None:
        if isinstance(season_length, bool) or int(season_length) != season_length or season_length < 1:
            raise ValueError(f"season_length must be a positive integer, got {season_length!r}")
        self.season_length = int(season_length)
        self.settings = dict(settings)

    def fit(self, y: np.ndarray) -> "Forecaster":
        series = _as_history(y)
        self._fit(series)
        self.n_obs_ = int(series.size)
        return self

    def predict(self, h: int, level: float = 90.0) -> Prediction:
        if not hasattr(self, "n_obs_"):
            raise ValueError(f"the {self.name!r} model is not fitted: call fit(y) first")
        h = _check_horizon(h)
        level = _check_level(level)
        mean, low, high = self._predict(h, level)
        return Prediction(
            mean=np.asarray(mean, dtype=float).copy(),
            low=np.asarray(low, dtype=float).copy(),
            high=np.asarray(high, dtype=float).copy(),
            level=level,
        )

    # Subclasses implement these two on validated input.
    def _fit(self, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = f", description_={self.description_!r}" if hasattr(self, "description_") else ""
        return f"{type(self).__name__}(season_length={self.season_length}{state})"


# --------------------------------------------------------------------------------------------
# Simple models, in numpy: also the fallbacks when a statistical model cannot be fitted.


class _RandomWalk:
    """Naive (m=1) or seasonal naive forecasts with the textbook normal intervals.

    sigma is the root mean square of the in-sample naive errors; the interval at step h widens
    with the number of seasons (or steps) since the value being repeated.
    """

    def __init__(self, y: np.ndarray, m: int) -> None:
        self.m = m
        self.last = y[-m:].copy()
        diffs = y[m:] - y[:-m]
        self.sigma = float(np.sqrt(np.mean(diffs**2))) if diffs.size else 0.0

    def predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        steps = np.arange(h)
        mean = self.last[steps % self.m]
        half = _z(level) * self.sigma * np.sqrt(steps // self.m + 1.0)
        return mean, mean - half, mean + half


class SeasonalNaiveForecaster(Forecaster):
    """Repeats the last season; with fewer than two seasons of history, repeats the last value."""

    name = "seasonal_naive"

    def _fit(self, y: np.ndarray) -> None:
        m = self.season_length
        if m > 1 and y.size >= 2 * m:
            self.model_ = _RandomWalk(y, m)
            self.description_ = "seasonal_naive"
        else:
            self.model_ = _RandomWalk(y, 1)
            self.description_ = "seasonal_naive: naive (short history)"

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.model_.predict(h, level)


class LinearForecaster(Forecaster):
    """The service's original method: a straight line through time, fitted by least squares.

    Kept only for comparison. Its interval is mean ± z·(residual std): that ignores both the
    uncertainty of the line and the autocorrelation of sales, so it covers far less than its
    nominal level, and the benchmark shows by how much.
    """

    name = "linear"

    def _fit(self, y: np.ndarray) -> None:
        # Imported here: only this comparison model needs scikit-learn.
        from sklearn.linear_model import LinearRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        t = np.arange(y.size, dtype=float).reshape(-1, 1)
        self.model_ = make_pipeline(StandardScaler(), LinearRegression()).fit(t, y)
        resid = y - self.model_.predict(t)
        self.sigma_ = float(np.std(resid, ddof=2)) if y.size > 2 else 0.0
        self.description_ = "linear"

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.arange(self.n_obs_, self.n_obs_ + h, dtype=float).reshape(-1, 1)
        mean = self.model_.predict(t)
        half = _z(level) * self.sigma_
        return mean, mean - half, mean + half


# --------------------------------------------------------------------------------------------
# Statistical models (statsforecast), used on numpy arrays directly: no DataFrame overhead.


def _seasonal_factors(y: np.ndarray, m: int) -> np.ndarray | None:
    """Multiplicative seasonal indices (mean 1) when y shows seasonality, else None.

    The test is the one the Theta method uses (Assimakopoulos & Nikolopoulos; Fiorucci et al.):
    the lag-m autocorrelation must exceed 1.645 times its standard error under the hypothesis of
    no seasonality (a 90% one-sided test). Indices come from a classical decomposition (centred
    2×m moving average). Sales are positive and their seasonal swings grow with their level, so the
    decomposition is multiplicative; with zeros or negatives it is not defined, and we skip it.
    """
    n = y.size
    if m < 2 or n < 2 * m or np.any(y <= 0):
        return None
    centred = y - y.mean()
    denom = float(np.sum(centred**2))
    if denom <= 0:
        return None
    acf = np.array([np.sum(centred[k:] * centred[: n - k]) for k in range(1, m + 1)]) / denom
    limit = 1.645 * math.sqrt((1 + 2 * float(np.sum(acf[:-1] ** 2))) / n)
    if abs(acf[-1]) <= limit:
        return None
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, weights, mode="valid")
    ratios = y[m // 2 : m // 2 + trend.size] / trend
    positions = (np.arange(trend.size) + m // 2) % m
    factors = np.array([ratios[positions == p].mean() for p in range(m)])
    return factors / factors.mean()


def _build_statsforecast(kind: str, m: int) -> Any:
    """One unfitted statsforecast model. Imported lazily: statsforecast loads numba, which is slow."""
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, DynamicOptimizedTheta

    if kind == "ets":
        return AutoETS(season_length=m)
    if kind == "ets_damped":
        # Forcing a damped trend is the long-standing lesson of the M competitions: undamped
        # trends extrapolated 18 months out are the largest source of error (M3: 13.9 vs 14.2 sMAPE).
        return AutoETS(season_length=m, damped=True)
    if kind == "theta":
        # The Dynamic Optimised Theta Method (Fiorucci et al. 2016). statsforecast's AutoTheta picks
        # among four theta variants by in-sample fit, which overfits: 15.0 sMAPE on M3 monthly
        # against 13.7 for DOTM alone.
        return DynamicOptimizedTheta(season_length=m)
    if kind == "ces":
        return AutoCES(season_length=m)
    if kind == "arima":
        # The exact likelihood search costs ~0.6 s per fit on 10 years of monthly data, and a
        # backtest refits 12 times; the approximation costs ~0.2 s for +0.5 sMAPE on M3.
        return AutoARIMA(season_length=m, approximation=True)
    raise ValueError(f"unknown statsforecast model kind {kind!r}")


class _Component:
    """One fitted statsforecast model, optionally on seasonally adjusted data.

    `fit` returns None when the model cannot be fitted or gives a forecast that is not usable
    (statsforecast raises on tiny samples, and a few models return infinite or inverted intervals
    on degenerate series): callers then fall back to a simpler model instead of failing the job.
    """

    def __init__(self, kind: str, m: int, model: Any, factors: np.ndarray | None, n: int) -> None:
        self.kind = kind
        self.m = m
        self.model = model
        self.factors = factors
        self.n = n

    @classmethod
    def fit(
        cls, kind: str, y: np.ndarray, m: int, adjust: bool = False, intervals: bool = True
    ) -> "_Component | None":
        factors = _seasonal_factors(y, m) if adjust else None
        target = y / factors[np.arange(y.size) % m] if factors is not None else y
        model_m = 1 if adjust else m
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = _build_statsforecast(kind, model_m).fit(target)
            component = cls(kind, m, model, factors, int(y.size))
            if not intervals:
                mean = component.predict_mean(24)
                return component if np.all(np.isfinite(mean)) else None
            mean, low, high = component.predict(24, 95.0)
        except Exception:  # noqa: BLE001 - any failure of the library means "use a fallback"
            return None
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            return None
        if np.any(low > mean + 1e-9 * (1 + np.abs(mean))) or np.any(high < mean - 1e-9 * (1 + np.abs(mean))):
            return None
        return component

    def _future_factors(self, h: int) -> np.ndarray:
        if self.factors is None:
            return np.ones(h)
        return self.factors[(self.n + np.arange(h)) % self.m]

    def predict_mean(self, h: int) -> np.ndarray:
        # Without a level: CES simulates its intervals (~50 ms a call), the mean alone is instant.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.model.predict(h)
        return np.asarray(out["mean"], dtype=float) * self._future_factors(h)

    def predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.model.predict(h, level=[level])
        # One level was asked for, so there is one "lo-*" and one "hi-*" key; their spelling of
        # the level ("90" or "90.0") differs between models.
        low_key = next(k for k in out if k.startswith("lo-"))
        high_key = next(k for k in out if k.startswith("hi-"))
        mean = np.asarray(out["mean"], dtype=float)
        low = np.asarray(out[low_key], dtype=float)
        high = np.asarray(out[high_key], dtype=float)
        future = self._future_factors(h)
        return mean * future, low * future, high * future


class _StatsForecastForecaster(Forecaster):
    """A single statsforecast model with its own (native, normal-theory) intervals.

    Seasonal models need two full seasons to estimate seasonal states; with less history the
    non-seasonal variant is used, and when even that cannot be fitted (statsforecast refuses some
    models on fewer than ~7 points), the naive forecast is, as `description_` says.
    """

    kind: ClassVar[str] = ""

    def _fit(self, y: np.ndarray) -> None:
        m = self.season_length
        attempts = [m, 1] if m > 1 and y.size >= 2 * m else [1]
        self.component_: _Component | None = None
        self.fallback_: _RandomWalk | None = None
        for season in attempts:
            self.component_ = _Component.fit(self.kind, y, season)
            if self.component_ is not None:
                if season > 1 or m == 1:
                    self.description_ = self.name
                elif y.size >= 2 * m:  # the seasonal variant failed on a long enough history
                    self.description_ = f"{self.name} (non-seasonal)"
                else:
                    self.description_ = f"{self.name} (non-seasonal, short history)"
                return
        self.fallback_ = _RandomWalk(y, 1)
        self.description_ = f"{self.name}: naive (history too short for {self.name})"

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.component_ is not None:
            return self.component_.predict(h, level)
        assert self.fallback_ is not None
        return self.fallback_.predict(h, level)


class ETSForecaster(_StatsForecastForecaster):
    """Exponential smoothing state-space model, form chosen by AICc (statsforecast AutoETS)."""

    name = "ets"
    kind = "ets"


class ThetaForecaster(_StatsForecastForecaster):
    """Dynamic Optimised Theta Method (statsforecast DynamicOptimizedTheta)."""

    name = "theta"
    kind = "theta"


class ArimaForecaster(_StatsForecastForecaster):
    """Seasonal ARIMA, orders chosen stepwise by AICc (statsforecast AutoARIMA, approximated)."""

    name = "arima"
    kind = "arima"


# --------------------------------------------------------------------------------------------
# The default model.


class AutoForecaster(Forecaster):
    """Equal-weight mean of three different model families, with calibrated intervals.

    Point forecast. Combining forecasts of unlike models is the most robust gain known from the
    M competitions: no single model is best on most series, and the mean cancels part of their
    errors. The members, chosen on M3 monthly (1,428 series) for accuracy within ~0.1 s a fit:
      - ETS with a damped trend (AutoETS, seasonal when there are two seasons of history),
      - the Dynamic Optimised Theta Method,
      - Complex Exponential Smoothing on seasonally adjusted data (CES's own seasonal forms do
        worse: 15.4 sMAPE against 13.8).
    Their mean scores sMAPE 13.4 / MASE 0.83 on M3 monthly (h=1..18), against 13.7 for the best
    member. AutoARIMA was tried as a fourth member: it did not improve the mean and cost ~0.2 s.

    Intervals. The members' own intervals assume their model is the true one and are too narrow
    (their 95% intervals cover 80-90% of M3 outcomes), increasingly so at longer horizons. We keep
    what they know about the series -- its noise level and how uncertainty grows with the horizon
    for that series -- as a scale, sigma_h = mean of the standard deviations implied by the ETS and
    Theta members' 95% intervals (CES's are simulated and too slow to ask for), and
    replace the normal quantile by a calibrated one:
        half-width(h, level) = sigma_h · A · h**B · t_quantile(level, df=DF)
    A widens every interval, h**B adds the growth the models miss, and Student-t's heavier tails
    fit the error distribution at 50-99% levels better than the normal one. The three constants
    were fitted on pseudo out-of-sample errors: each M3 series with its last 18 training months
    held out (so never the M3 test data). On the M3 test set they then cover 53.0/82.1/92.1/96.5/
    99.4% at nominal 50/80/90/95/99%. Past the calibrated range (h > 18, level > 99) the same
    formula extrapolates smoothly.
    """

    name = "auto"

    MEMBERS: ClassVar[tuple[tuple[str, str, bool, bool], ...]] = (
        # (label in description_, statsforecast kind, fit on seasonally adjusted data,
        #  its native intervals give the scale sigma_h)
        ("ets", "ets_damped", False, True),
        ("theta", "theta", False, True),
        # CES's intervals are simulated, ~50 ms a call: it contributes its mean only.
        ("ces", "ces", True, False),
    )
    MIN_MEMBER_HISTORY: ClassVar[int] = 7
    INTERVAL_SCALE: ClassVar[float] = 0.9385
    INTERVAL_GROWTH: ClassVar[float] = 0.0252
    INTERVAL_DF: ClassVar[float] = 4.156

    def _fit(self, y: np.ndarray) -> None:
        m = self.season_length
        seasonal = m > 1 and y.size >= 2 * m
        season = m if seasonal else 1
        self.components_: list[_Component] = []
        self.scales_: list[bool] = []
        labels = []
        # Below MIN_MEMBER_HISTORY points the members' parameters are mostly noise (statsforecast
        # refuses ETS there; CES fitted to 3 points extrapolates a made-up downturn): naive it is.
        members = self.MEMBERS if y.size >= self.MIN_MEMBER_HISTORY else ()
        for label, kind, adjust, scale in members:
            component = _Component.fit(kind, y, season, adjust=adjust, intervals=scale)
            if component is not None:
                self.components_.append(component)
                self.scales_.append(scale)
                labels.append(label)
        # The naive model gives the forecast when no member can be fitted, and the scale when
        # no member with interval duty can (both only happen on very short or odd histories).
        self.fallback_ = _RandomWalk(y, 1)
        suffix = "" if seasonal or m == 1 else ", short history"
        if len(labels) > 1:
            self.description_ = f"auto: {'+'.join(labels)} (mean{suffix})"
        elif labels:
            self.description_ = f"auto: {labels[0]}{' (short history)' if suffix else ''}"
        else:
            self.description_ = "auto: naive (short history)"

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The members' native 95% intervals are only used for their width; any level would do.
        reference = 95.0
        z_ref = _z(reference)
        sigmas: list[np.ndarray] = []
        if self.components_:
            means = []
            for component, scale in zip(self.components_, self.scales_):
                if scale:
                    mean, low, high = component.predict(h, reference)
                    sigmas.append((high - low) / (2 * z_ref))
                else:
                    mean = component.predict_mean(h)
                means.append(mean)
            mean = np.mean(means, axis=0)
        if not sigmas:
            naive_mean, low, high = self.fallback_.predict(h, reference)
            sigmas.append((high - low) / (2 * z_ref))
            if not self.components_:
                mean = naive_mean
        sigma = np.mean(sigmas, axis=0)
        steps = np.arange(1, h + 1, dtype=float)
        quantile = float(student_t.ppf(0.5 + level / 200.0, self.INTERVAL_DF))
        half = sigma * self.INTERVAL_SCALE * steps**self.INTERVAL_GROWTH * quantile
        return mean, mean - half, mean + half


_MODELS: dict[str, type[Forecaster]] = {
    "auto": AutoForecaster,
    "linear": LinearForecaster,
    "seasonal_naive": SeasonalNaiveForecaster,
    "ets": ETSForecaster,
    "theta": ThetaForecaster,
    "arima": ArimaForecaster,
}
assert tuple(_MODELS) == MODEL_NAMES


def make_model(name: str, season_length: int = 12) -> Forecaster:
    """An unfitted model by its public name (one of MODEL_NAMES)."""
    try:
        cls = _MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}") from None
    return cls(season_length=season_length)
