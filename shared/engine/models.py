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

from shared.contract import calendar
from shared.contract.calendar import Frequency
from shared.contract.schema import MODEL_NAMES  # the public names live with the request schema
from shared.engine import anomalies
from shared.engine.anomalies import CLEANED_MODELS, clean_history, cleaned_label

__all__ = [
    "COMPONENT_NAMES",
    "MODEL_NAMES",
    "MODEL_VERSION",
    "Forwarded",
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
# -2: weekly and daily models, forward-run grouped backtests; -3: predictions carry their
# components (a cached forecast block without them would read as "does not decompose"),
# and the weekly and daily bottom level's backtest runs forward too; -4: the
# anomalies (and what cleaning pulls in) are found by weekly positions of the year's true length
# and on the log scale where that fits better, so a cached grouped document's anomalies differ,
# and inventory levels are calibrated (docs/inventory.md).
# -5: daily and weekly series are obsolete after six months without a sale, not six periods
# (a daily product idle for six days got TSB), and a grouped job with mostly intermittent bottom
# series reconciles top-down.
MODEL_VERSION: str = "2026.12-5"

MIN_HISTORY = 3
MIN_LEVEL, MAX_LEVEL = 50.0, 99.9


# The additive parts a decomposing model splits its point forecast into (docs/models.md).
COMPONENT_NAMES: tuple[str, ...] = ("trend", "seasonal", "holidays", "events")


@dataclass(frozen=True)
class Prediction:
    """Point forecasts and a central interval of nominal coverage `level` (%), h steps ahead.

    ``components``: for a model that decomposes, its parts by name (of COMPONENT_NAMES; only those
    the fitted model has), each an array of h values in the series' units that add up to ``mean``;
    None for a model that does not decompose (the caller publishes null, never an invented split).
    """

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    components: dict[str, np.ndarray] | None = None


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
        """Estimate the model on history ``y`` (one value a period, oldest first); returns the fitted model."""
        series = _as_history(y)
        cleaned, self.cleaned_ = self._clean(series)
        self._fit(cleaned)
        self.n_obs_ = int(series.size)
        if self.cleaned_:
            self.description_ = cleaned_label(getattr(self, "description_", self.name), self.cleaned_)
        return self

    def _clean(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        """(history to fit, anomalies cleaned): with the setting ``clean``, ``y`` with its one-off
        anomalies pulled in (shared.engine.anomalies.clean_history), else ``y``."""
        if not self.settings.get("clean"):
            return y, 0
        return clean_history(y, self.season_length)

    def forward(self, y: np.ndarray) -> "Forecaster":
        """This model's fitted parameters applied to history ``y`` (the fitted history and more).

        statsforecast's ``forward``: the states are run over ``y`` again, nothing is re-estimated,
        so it costs a filter pass instead of a fit. The base class refits (a new model on ``y``);
        the statsforecast-backed models override it. ``refit_`` of the answer says which it was.
        """
        self._check_fitted()
        model = type(self)(season_length=self.season_length, **self.settings).fit(y)
        model.refit_ = True
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_obs_"):
            raise ValueError(f"the {self.name!r} model is not fitted: call fit(y) first")

    def predict(self, h: int, level: float = 90.0) -> Prediction:
        """The next ``h`` periods' mean and central ``level`` % interval; ValueError when the model is not
        fitted yet or ``h`` / ``level`` are out of range."""
        self._check_fitted()
        h = _check_horizon(h)
        level = _check_level(level)
        mean, low, high = self._predict(h, level)
        mean = np.asarray(mean, dtype=float).copy()
        return Prediction(
            mean=mean,
            low=np.asarray(low, dtype=float).copy(),
            high=np.asarray(high, dtype=float).copy(),
            level=level,
            components=self._components(mean),
        )

    # Subclasses implement these two on validated input.
    def _fit(self, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _components(self, mean: np.ndarray) -> dict[str, np.ndarray] | None:
        """The additive parts of ``mean``; None here: a model decomposes only where it says so."""
        return None

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

    def _components(self, mean: np.ndarray) -> dict[str, np.ndarray] | None:
        """A straight line is all trend."""
        return {"trend": mean.copy()}


# --------------------------------------------------------------------------------------------
# Statistical models (statsforecast), used on numpy arrays directly: no DataFrame overhead.


def _seasonal_factors(y: np.ndarray, m: int, recent_years: int | None = None) -> tuple[np.ndarray, bool] | None:
    """Seasonal indices and whether they are additive, when y shows seasonality; else None.

    The test is the one the Theta method uses (Assimakopoulos & Nikolopoulos; Fiorucci et al.):
    the lag-m autocorrelation must exceed 1.645 times its standard error under the hypothesis of
    no seasonality (a 90% one-sided test). Indices come from a classical decomposition (centred
    2×m moving average). Sales are positive and their seasonal swings grow with their level, so the
    decomposition is multiplicative (indices of mean 1); a series with a zero (or negative) month
    cannot be divided by its indices, so it gets additive ones (mean 0) instead of none: a shop
    closed in August still has a season. With `recent_years`, the indices are the mean ratios of
    the last that many years only, so that a season which evolves over a long history is described
    as it is now, not as it was on average.
    """
    n = y.size
    if m < 2 or n < 2 * m:
        return None
    centred = y - y.mean()
    denom = float(np.sum(centred**2))
    if denom <= 0:
        return None
    acf = np.array([np.sum(centred[k:] * centred[: n - k]) for k in range(1, m + 1)]) / denom
    limit = 1.645 * math.sqrt((1 + 2 * float(np.sum(acf[:-1] ** 2))) / n)
    if abs(acf[-1]) <= limit:
        return None
    additive = bool(np.any(y <= 0))
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, weights, mode="valid")
    if not additive and np.any(trend <= 0):
        return None
    values = y[m // 2 : m // 2 + trend.size]
    ratios = values - trend if additive else values / trend
    positions = (np.arange(trend.size) + m // 2) % m
    if recent_years is not None and trend.size > recent_years * m:
        ratios, positions = ratios[-recent_years * m :], positions[-recent_years * m :]
    factors = np.array([ratios[positions == p].mean() for p in range(m)])
    return (factors - factors.mean(), True) if additive else (factors / factors.mean(), False)


class _SeasonalNaiveModel:
    """Seasonal naive with statsforecast's fit/predict dictionary interface, to be a member of `auto`."""

    def __init__(self, season_length: int) -> None:
        self.season_length = season_length

    def fit(self, y: np.ndarray) -> "_SeasonalNaiveModel":
        self.walk_ = _RandomWalk(np.asarray(y, dtype=float), self.season_length)
        return self

    def forward_on(self, y: np.ndarray) -> "_SeasonalNaiveModel":
        return type(self)(self.season_length).fit(y)

    def predict(self, h: int, level: list[float] | None = None) -> dict[str, np.ndarray]:
        mean, low, high = self.walk_.predict(h, level[0] if level else 95.0)
        out = {"mean": mean}
        if level:
            out[f"lo-{level[0]}"], out[f"hi-{level[0]}"] = low, high
        return out


class Forwarded:
    """A fitted statsforecast model applied to a new history (its ``forward``), with the
    fit/predict dictionary interface of the others. The states are run over ``y`` once per call."""

    def __init__(self, model: Any, y: np.ndarray) -> None:
        self.model = model
        self.y = y

    def predict(self, h: int, level: list[float] | None = None) -> dict[str, np.ndarray]:
        """The fitted model's forecast of ``h`` periods after ``y``, with its interval at ``level``."""
        return self.model.forward(self.y, h, level=level)


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
    if kind == "seasonal_naive":
        return _SeasonalNaiveModel(m)
    if kind == "arima":
        # The exact likelihood search costs ~0.6 s per fit on 10 years of monthly data, and a
        # backtest refits 12 times; the approximation costs ~0.2 s for +0.5 sMAPE on M3.
        return AutoARIMA(season_length=m, approximation=True)
    raise ValueError(f"unknown statsforecast model kind {kind!r}")


_AHEAD = 24  # steps a component forecasts when it is fitted, to check it and to answer from
_REFERENCE_LEVEL = 95.0  # the level whose interval widths give auto its scale (AutoForecaster._predict)


class _Component:
    """One fitted statsforecast model, optionally on seasonally adjusted data.

    `fit` returns None when the model cannot be fitted or gives a forecast that is not usable
    (statsforecast raises on tiny samples, and a few models return infinite or inverted intervals
    on degenerate series): callers then fall back to a simpler model instead of failing the job.
    """

    def __init__(
        self, kind: str, m: int, model: Any, factors: np.ndarray | None, n: int, additive: bool = False
    ) -> None:
        self.kind = kind
        self.m = m
        self.model = model
        self.factors = factors
        self.n = n
        self.additive = additive
        # How it was fitted (set by `fit`), so that `forward` prepares a new history the same way.
        self.options: dict[str, Any] = {}
        # (level or None, mean, low, high) of the first 24 steps, kept by `_usable`.
        self.ahead: tuple[float | None, np.ndarray, np.ndarray | None, np.ndarray | None] | None = None

    @staticmethod
    def _prepare(
        y: np.ndarray, m: int, adjust: bool, window: int | None, recent_years: int | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
        """(history used, model target, seasonal factors or None, additive) for one fit."""
        if window is not None and y.size > window:
            y = y[-window:]
        found = _seasonal_factors(y, m, recent_years) if adjust else None
        factors, additive = found if found is not None else (None, False)
        if factors is None:
            target = y
        elif additive:
            target = y - factors[np.arange(y.size) % m]
        else:
            target = y / factors[np.arange(y.size) % m]
        return y, target, factors, additive

    def _usable(self, intervals: bool) -> bool:
        """Whether this component's forecasts can be used (finite, intervals around the mean).

        The 24 steps it computes are kept (``ahead``): a forecast's first h steps do not depend on
        how many more are asked for, so `predict` and `predict_mean` answer from them for h <= 24
        at the reference level instead of running the model again (a second interval computation
        was ~15 % of a grouped series' cost).
        """
        try:
            if not intervals:
                mean = self.predict_mean(_AHEAD)
                self.ahead = (None, mean, None, None)
                return bool(np.all(np.isfinite(mean)))
            mean, low, high = self.predict(_AHEAD, _REFERENCE_LEVEL)
        except Exception:
            return False
        self.ahead = (_REFERENCE_LEVEL, mean, low, high)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            return False
        tol = 1e-9 * (1 + np.abs(mean))
        return not (np.any(low > mean + tol) or np.any(high < mean - tol))

    def forward(self, y: np.ndarray) -> "_Component | None":
        """This component's fitted parameters run over history ``y`` (statsforecast's ``forward``).

        The seasonal factors are taken again from ``y`` (a classical decomposition, not an
        estimate worth saving). None when the result is unusable: the caller then refits.
        """
        opts = self.options
        used, target, factors, additive = self._prepare(
            y, self.m, opts.get("adjust", False), opts.get("window"), opts.get("recent_years")
        )
        if isinstance(self.model, _SeasonalNaiveModel):
            model: Any = self.model.forward_on(target)
        else:
            inner = self.model.model if isinstance(self.model, Forwarded) else self.model
            if not hasattr(inner, "forward"):
                return None
            model = Forwarded(inner, target)
        component = type(self)(self.kind, self.m, model, factors, int(used.size), additive)
        component.options = opts
        return component if component._usable(opts.get("intervals", True)) else None

    @classmethod
    def fit(
        cls,
        kind: str,
        y: np.ndarray,
        m: int,
        adjust: bool = False,
        intervals: bool = True,
        window: int | None = None,
        recent_years: int | None = None,
    ) -> "_Component | None":
        """Fit `kind`: with `adjust`, on seasonally adjusted data; with `window`, on the last points only."""
        used, target, factors, additive = cls._prepare(y, m, adjust, window, recent_years)
        model_m = 1 if adjust else m
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = _build_statsforecast(kind, model_m).fit(target)
        except Exception:
            return None
        component = cls(kind, m, model, factors, int(used.size), additive)
        component.options = {"adjust": adjust, "window": window, "recent_years": recent_years, "intervals": intervals}
        return component if component._usable(intervals) else None

    def _reseason(self, values: np.ndarray, h: int) -> np.ndarray:
        """Puts the season back into forecasts of the adjusted series."""
        if self.factors is None:
            return values
        future = self.factors[(self.n + np.arange(h)) % self.m]
        return values + future if self.additive else values * future

    def predict_mean(self, h: int) -> np.ndarray:
        # Without a level: CES simulates its intervals (~50 ms a call), the mean alone is instant.
        ahead = getattr(self, "ahead", None)
        if ahead is not None and h <= ahead[1].size:
            return ahead[1][:h].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.model.predict(h)
        return self._reseason(np.asarray(out["mean"], dtype=float), h)

    def predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ahead = getattr(self, "ahead", None)
        if ahead is not None and ahead[0] == level and h <= ahead[1].size:
            return ahead[1][:h].copy(), ahead[2][:h].copy(), ahead[3][:h].copy()
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
        return self._reseason(mean, h), self._reseason(low, h), self._reseason(high, h)


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

    def forward(self, y: np.ndarray) -> Forecaster:
        """The fitted model run over ``y``; refitted when ``y`` would get another form (seasonal
        or not) or the fitted one cannot be applied."""
        self._check_fitted()
        series = _as_history(y)
        m = self.season_length
        if self.component_ is None or (self.component_.m > 1) != (m > 1 and series.size >= 2 * m):
            return super().forward(series)
        cleaned, count = self._clean(series)
        component = self.component_.forward(cleaned)
        if component is None:
            return super().forward(series)
        model = type(self)(season_length=m, **self.settings)
        model.component_, model.fallback_, model.cleaned_ = component, None, count
        model.description_ = self.description_
        model.n_obs_, model.refit_ = int(series.size), False
        return model


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
    """Median of five unlike models, with calibrated intervals: the default, meant for users.

    The members (damped ETS on the last 72 months, DOTM, CES on recent-season adjusted data,
    seasonal CES, seasonal naive; the first three by their mean below two seasons, naive below
    MIN_MEMBER_HISTORY points), the interval formula
    sigma_h · INTERVAL_SCALE · h**INTERVAL_GROWTH · t_quantile(level, INTERVAL_DF), why each
    choice, the accuracy and coverage figures and the references are in docs/models.md.
    """

    name = "auto"

    MEMBERS: ClassVar[tuple[tuple[str, str, bool, bool, bool, int | None], ...]] = (
        # (label in description_, model kind, fit on seasonally adjusted data, its native
        #  intervals give the scale sigma_h, used with less than two seasons, history window)
        ("ets", "ets_damped", False, True, True, 72),
        ("theta", "theta", False, True, True, None),
        # CES's intervals are simulated, ~50 ms a call: the CES members contribute their means only.
        ("ces", "ces", True, False, True, None),
        ("ces_seasonal", "ces", False, False, False, None),
        ("seasonal_naive", "seasonal_naive", False, False, False, None),
    )
    SEASON_YEARS: ClassVar[int] = 5
    MIN_MEMBER_HISTORY: ClassVar[int] = 7
    INTERVAL_SCALE: ClassVar[float] = 0.901
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
        for label, kind, adjust, scale, short_too, window in members:
            if not (seasonal or short_too):
                continue
            component = _Component.fit(
                kind, y, season, adjust=adjust, intervals=scale, window=window, recent_years=self.SEASON_YEARS
            )
            if component is not None:
                self.components_.append(component)
                self.scales_.append(scale)
                labels.append(label)
        self.combine_ = "median" if seasonal else "mean"
        # The naive model gives the forecast when no member can be fitted, and the scale when
        # no member with interval duty can (both only happen on very short or odd histories).
        self.fallback_ = _RandomWalk(y, 1)
        suffix = "" if seasonal or m == 1 else ", short history"
        if len(labels) > 1:
            self.description_ = f"auto: {'+'.join(labels)} ({self.combine_}{suffix})"
        elif labels:
            self.description_ = f"auto: {labels[0]}{' (short history)' if suffix else ''}"
        else:
            self.description_ = "auto: naive (short history)"

    def _structure(self, n: int) -> tuple[bool, bool]:
        """(seasonal, members fitted) for a history of n points: what decides the model's form."""
        m = self.season_length
        return m > 1 and n >= 2 * m, n >= self.MIN_MEMBER_HISTORY

    def forward(self, y: np.ndarray) -> Forecaster:
        """The fitted members run over ``y`` (statsforecast's ``forward``: nothing re-estimated).

        Refitted instead when ``y`` would give the model another form: seasonal (two full seasons)
        on one history and not on the other, or members on one and naive on the other; or when a
        member cannot be applied. docs/models.md says when this is used.
        """
        self._check_fitted()
        series = _as_history(y)
        if self._structure(series.size) != self._structure(self.n_obs_):
            return super().forward(series)
        cleaned, count = self._clean(series)
        components = [c.forward(cleaned) for c in self.components_]
        if any(c is None for c in components):
            return super().forward(series)
        model = type(self)(season_length=self.season_length, **self.settings)
        model.components_ = components  # type: ignore[assignment]
        model.scales_ = list(self.scales_)
        model.combine_ = self.combine_
        model.fallback_, model.cleaned_ = _RandomWalk(cleaned, 1), count
        model.description_ = self.description_
        model.n_obs_, model.refit_ = int(series.size), False
        return model

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The members' native 95% intervals are only used for their width; any level would do.
        reference = _REFERENCE_LEVEL
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
            mean = np.median(means, axis=0) if self.combine_ == "median" else np.mean(means, axis=0)
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


def season_length_for(frequency: Frequency | str) -> int:
    """The seasonal lag of a frequency: 12 months, 52 weeks, 7 days (the monthly models' season,
    the seasonal-naive lag and MASE's scale). Weekly and daily models have seasons of their own
    (52.18 weeks; 7 and 365.25 days): shared.engine.frequency_models.make_model, the seam."""
    return calendar.spec(frequency).season_length


def make_model(name: str, season_length: int = 12, clean: bool | None = None) -> Forecaster:
    """An unfitted model by its public name (one of MODEL_NAMES). ``clean``: clean the history's
    anomalies before fitting (models of CLEANED_MODELS only; None: CLEAN_BY_DEFAULT; docs/models.md)."""
    try:
        cls = _MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}") from None
    if (anomalies.CLEAN_BY_DEFAULT if clean is None else clean) and name in CLEANED_MODELS:
        return cls(season_length=season_length, clean=True)
    return cls(season_length=season_length)
