"""Models for weekly and daily sales, with holidays and events as known effects.

:func:`make_model` is the entry point for every frequency: ``make_model(name, "month")`` is
exactly :func:`shared.engine.models.make_model` (monthly code paths are not touched), ``"week"`` and
``"day"`` give the models below. They follow the same interface as the monthly ones, with the
regressors added: ``fit(y, X=None)``, ``predict(h, level, X_future=None)`` -> Prediction.

How ``auto`` forecasts a weekly or daily series (:class:`CalendarForecaster`):

1. Season and effects out. :class:`shared.engine.seasonality.SeasonalAdjustment` regresses the series
   (its logarithm when positive: multiplicative season and effects) on a trend with a knot a year,
   Fourier terms of the year (52.18 weeks; 365.25 days) and of the week (7 days), their numbers
   chosen by BIC (0 = no such season), and the holiday/event columns of ``X``
   (:mod:`shared.engine.effects`), the per-name ones shrunk towards the pooled ones.
2. A median of unlike non-seasonal models forecasts the adjusted series (recent history only):
   ETS with a damped trend, the Dynamic Optimised Theta Method, Complex Exponential Smoothing,
   ARIMA and the naive forecast (statsforecast's numba-compiled models; the median keeps one
   member going astray from moving the forecast, as for the monthly ``auto``).
3. Season and effects of the horizon back in: a promotion next week lifts next week.

Daily series add two rules. A closed day: a holiday or event column (``closable``) on which the
series sold nothing every past time it occurred (and that this is not chance: the share of zero
days elsewhere, to the power of the occurrences, is below 5 %) marks a closed day; those days are
left out of the fit and forecast as 0 with a [0, 0] interval. Intermittent demand (most single
products a day, classified as in :mod:`shared.engine.intermittent`): the rate of SBA, IMAPA or TSB,
times the series' own day-of-week profile and its pooled holiday/event multipliers (both shrunk
towards 1 when the series has sold little), with the interval of "demand with probability p,
gamma-distributed size" for each day's mean.

Intervals of the regular path are calibrated as the monthly ``auto``'s are: the scale sigma_h
from the ETS and Theta members' own intervals, widened by A·h^B and Student-t quantiles with DF
degrees of freedom; A, B, DF per frequency were fitted on out-of-sample errors (weekly: the
odd-numbered half of M4 weekly, each series' last 13 training weeks held out; daily: a sample shop
of another seed than the one reported). ``benchmarks/accuracy.py`` prints their coverage.
"""
from __future__ import annotations

import warnings
from typing import Any, ClassVar, Sequence

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from shared.engine import anomalies
from shared.engine import models as monthly
from shared.engine.anomalies import CLEANED_MODELS, clean_history, cleaned_label
from shared.engine.effects import Effects
from shared.engine.intermittent import METHOD_FOR, DemandPattern, classify, mixture_interval, point_forecast
from shared.engine.models import MAX_LEVEL, MIN_LEVEL, Forecaster, Prediction, SeasonalNaiveForecaster
from shared.engine.seasonality import DAYS_PER_YEAR, WEEKS_PER_YEAR, Frequency, SeasonalAdjustment

__all__ = [
    "CALENDAR_MODEL_NAMES",
    "CalendarForecaster",
    "attribute",
    "closed_columns",
    "make_model",
]

CALENDAR_MODEL_NAMES: tuple[str, ...] = ("auto", "linear", "seasonal_naive", "ets", "theta", "arima")
MIN_HISTORY = 3
# Below this many points the members' parameters are mostly noise: naive it is.
MIN_MEMBER_HISTORY = 7
# A closed day must be unlikely to be a run of chance zeros (see the module docstring).
CLOSED_CHANCE = 0.05


def _z(level: float) -> float:
    return float(norm.ppf(0.5 + level / 200.0))


def _check_horizon(h: int) -> int:
    if isinstance(h, bool) or int(h) != h or h < 1:
        raise ValueError(f"h must be a positive integer, got {h!r}")
    return int(h)


def _check_level(level: float) -> float:
    level = float(level)
    if not (MIN_LEVEL <= level <= MAX_LEVEL):
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL}, got {level}")
    return level


def _as_history(y: Any) -> np.ndarray:
    series = np.asarray(y, dtype=float).ravel()
    if series.size < MIN_HISTORY:
        raise ValueError(f"need at least {MIN_HISTORY} observations, got {series.size}")
    if not np.all(np.isfinite(series)):
        raise ValueError("y must contain only finite numbers")
    return series


class _RandomWalk:
    """The (seasonal) naive forecast with its textbook intervals: the monthly seasonal naive model."""

    def __init__(self, y: np.ndarray, m: int) -> None:
        self.model = SeasonalNaiveForecaster(season_length=m).fit(y)

    def predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.model.predict(h, level)
        return p.mean, p.low, p.high


class _Settings:
    """Per-frequency settings of the decomposition, the members and the interval calibration."""

    def __init__(
        self,
        periods: tuple[float, ...],
        terms: tuple[tuple[int, ...], ...],
        knot_every: float,
        window: int,
        member_window: int,
        min_cycles: float,
        seasonal_naive: int,
        scale: float,
        growth: float,
        df: float,
        effects_scale: float = 1.0,
    ) -> None:
        self.periods = periods
        self.terms = terms
        self.knot_every = knot_every
        self.window = window
        self.member_window = member_window
        self.min_cycles = min_cycles
        self.seasonal_naive = seasonal_naive
        self.scale = scale
        self.growth = growth
        self.df = df
        self.effects_scale = effects_scale


SETTINGS: dict[Frequency, _Settings] = {
    # Five years of weeks: older years describe a season and level that no longer are (M4 weekly
    # odd half: 6.57 sMAPE on 260 weeks, 6.55 on 365, 6.60 on 520; 0.16 s against 0.24 s).
    Frequency.WEEK: _Settings(
        periods=(WEEKS_PER_YEAR,),
        terms=((0, 1, 2, 3, 5, 8, 12),),
        knot_every=WEEKS_PER_YEAR,
        window=260,
        member_window=260,
        # A yearly cycle is tried from 1.75 years of weeks (BIC still decides). With 2.0 a shop with
        # two years of weeks (104 < 2 × 52.18) never had one: its stores' December peak was forecast
        # flat and levels set in the autumn ran short (weekly sample shop stores 63.9-77.8 % achieved
        # at nominal 90/95). 1.5 (as for days) fits one to M4's 80-week series too, and worse: odd
        # half test sMAPE 6.861 against 6.573; all M4 weekly series are 80 weeks or longer than 110,
        # so at 1.75 M4 is as before.
        min_cycles=1.75,
        seasonal_naive=52,
        # Fitted on the odd half's holdout (80 % and 95 % intervals: 80.0 / 95.0 % there).
        scale=0.905,
        growth=-0.05,
        df=5.0,
        # With holiday/event columns the adjusted series is quieter than M4's were, and the members'
        # intervals narrower than the errors: x1.13 (80 %: 1.16, 95 %: 1.11), fitted on the weekly
        # sample shops of seeds 7-10 at three origins (816 series), not the seeds reported.
        effects_scale=1.13,
    ),
    # Three years of days for the season (the service's default window is two; a year and a half
    # is enough to try a yearly cycle); the week may have all six terms (every day-of-week pattern),
    # the year up to ten pairs (about a month's resolution). The members see the last half year of
    # the adjusted series: the level now is what they forecast, and ETS, CES and ARIMA on 730
    # points cost 0.4 s against 0.12 s on 182.
    Frequency.DAY: _Settings(
        periods=(7.0, DAYS_PER_YEAR),
        terms=((0, 3), (0, 2, 4, 6, 10)),
        knot_every=DAYS_PER_YEAR,
        window=1096,
        member_window=182,
        min_cycles=1.5,
        seasonal_naive=7,
        # Fitted on the sample shops of seeds 7-10 at three origins (December, September, April):
        # 135 regular-path series (stores, totals, the few smooth products), 80.0 / 95.0 % there
        # (A 1.05 before the effects' own uncertainty was added to the interval, 0.975 after).
        scale=0.975,
        growth=-0.075,
        df=4.0,
    ),
}


def _statsforecast(kind: str) -> Any:
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, DynamicOptimizedTheta

    if kind == "ets":
        return AutoETS(model="ZZN", damped=True)
    if kind == "theta":
        return DynamicOptimizedTheta(season_length=1)
    if kind == "ces":
        return AutoCES(season_length=1)
    if kind == "arima":
        return AutoARIMA(season_length=1, approximation=True)
    raise ValueError(f"unknown member {kind!r}")


class _Member:
    """One non-seasonal model fitted to the adjusted series; None from `fit` when it cannot be."""

    def __init__(self, kind: str, model: Any, last: float) -> None:
        self.kind = kind
        self.model = model
        self.last = last

    @classmethod
    def fit(cls, kind: str, a: np.ndarray) -> "_Member | None":
        if kind == "naive":
            return cls(kind, _RandomWalk(a, 1), float(a[-1]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = _statsforecast(kind).fit(a)
                mean = np.asarray(model.predict(1)["mean"], dtype=float)
        except Exception:
            return None
        return cls(kind, model, float(a[-1])) if np.all(np.isfinite(mean)) else None

    def forward(self, a: np.ndarray) -> "_Member | None":
        """This member's fitted parameters run over the adjusted series ``a`` (statsforecast's
        ``forward``); None when it cannot be (the caller refits)."""
        if self.kind == "naive":
            return type(self)(self.kind, _RandomWalk(a, 1), float(a[-1]))
        if not hasattr(self.model, "forward"):
            return None
        moved = type(self)(self.kind, monthly.Forwarded(self.model, a), float(a[-1]))
        try:
            mean, _ = moved.predict(1, None)
        except Exception:
            return None
        return moved if np.all(np.isfinite(mean)) else None

    def predict(self, h: int, level: float | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(mean, sigma_h or None): sigma_h is the std implied by the member's own `level` interval."""
        if self.kind == "naive":
            mean, low, high = self.model.predict(h, level or 95.0)
            return mean, ((high - low) / (2 * _z(level)) if level else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.model.predict(h, level=[level]) if level else self.model.predict(h)
        mean = np.asarray(out["mean"], dtype=float)
        if not level:
            return mean, None
        low = np.asarray(out[next(k for k in out if k.startswith("lo-"))], dtype=float)
        high = np.asarray(out[next(k for k in out if k.startswith("hi-"))], dtype=float)
        sigma = (high - low) / (2 * _z(level))
        return mean, (sigma if np.all(np.isfinite(sigma)) and np.all(sigma >= 0) else None)


class CalendarForecaster(Forecaster):
    """Weekly or daily forecasts with season and known effects (see the module docstring).

    Settings: ``frequency`` ("week" or "day"); ``members``, the models combined on the adjusted
    series (``auto``: ets, theta, ces, arima, naive by their median; a single name gives that model
    with its own, uncalibrated, intervals); ``penalty``, ``closable`` and ``groups`` (the component
    each column drives: holidays or events), per regressor column, as
    :class:`shared.engine.effects.Effects` gives them (defaults: no penalty, no column closes a day,
    every column an event).

    Its predictions carry ``components`` (trend, seasonal, holidays, events: see :func:`attribute`),
    except on the naive path (too short a history), which does not decompose.
    """

    name = "auto"
    AUTO_MEMBERS: ClassVar[tuple[str, ...]] = ("ets", "theta", "ces", "arima", "naive")
    # Members whose own intervals give the scale sigma_h (CES simulates its intervals: slow).
    SCALE_MEMBERS: ClassVar[tuple[str, ...]] = ("ets", "theta")

    def __init__(
        self,
        frequency: Frequency | str = Frequency.WEEK,
        members: Sequence[str] | None = None,
        penalty: np.ndarray | None = None,
        closable: np.ndarray | None = None,
        closed: np.ndarray | None = None,
        name: str = "auto",
        groups: Sequence[str] | None = None,
        clean: bool = False,
    ) -> None:
        freq = Frequency(frequency)
        if freq is Frequency.MONTH:
            raise ValueError("monthly series use shared.engine.models (make_model(name, 'month'))")
        self.frequency = freq
        self.members = tuple(members) if members else self.AUTO_MEMBERS
        self.penalty = None if penalty is None else np.asarray(penalty, dtype=float)
        self.closable = None if closable is None else np.asarray(closable, dtype=bool)
        self.closed = None if closed is None else np.asarray(closed, dtype=bool)
        self.name = name
        self.groups = None if groups is None else tuple(groups)
        super().__init__(season_length=SETTINGS[freq].seasonal_naive, **({"clean": True} if clean else {}))

    # ---------------------------------------------------------------------------- fit

    def fit(self, y: Any, X: np.ndarray | None = None) -> "CalendarForecaster":  # type: ignore[override]
        """Fit on the history ``y`` (n,) and, optionally, its regressor rows ``X`` (n, columns)."""
        series = _as_history(y)
        n = series.size
        if X is not None:
            X = np.asarray(X, dtype=float)
            if X.ndim != 2 or X.shape[0] != n:
                raise ValueError(f"X must have one row per observation: shape (n={n}, columns), got {X.shape}")
            if not np.all(np.isfinite(X)):
                raise ValueError("X must contain only finite numbers")
            if X.shape[1] == 0:
                X = None
        self.n_columns_ = 0 if X is None else X.shape[1]
        self.cleaned_ = 0
        if self.settings.get("clean"):
            # Periods with a holiday or event are the regressors' to explain, never cleaned.
            known = None if X is None else (X != 0).any(axis=1)
            series, self.cleaned_ = clean_history(series, self.season_length, known)
        self._fit_calendar(series, X)
        self.description_ = cleaned_label(self.description_, self.cleaned_)
        self.n_obs_ = n
        return self

    def _structure(self, n: int) -> tuple[bool, int, tuple[bool, ...]]:
        """What decides the regular path's form for n points: members or naive, the trend's knots,
        and which seasons the window is long enough to estimate (SeasonalAdjustment's rules)."""
        s = SETTINGS[self.frequency]
        w = min(n, s.window)
        knots = len(np.arange(s.knot_every, w - s.knot_every / 2, s.knot_every))
        return n >= MIN_MEMBER_HISTORY, knots, tuple(w >= s.min_cycles * p for p in s.periods)

    def forward(self, y: Any, X: np.ndarray | None = None) -> "CalendarForecaster":
        """This fit applied to ``y``, the fitted history without its last k points (and its rows of X).

        For the backtest of a grouped job's bottom level, as :meth:`shared.engine.models.Forecaster.forward`
        is for the monthly ones: on the regular path the season and effects stay as estimated
        (the adjusted series is the fitted one, cut k points earlier) and each member runs
        forward over it (statsforecast's ``forward``: states recomputed, nothing re-estimated),
        so the backtest costs a filter pass, not a fit. Refitted instead (``refit_`` True) where
        the shorter history would give the model another form or path (under two cycles of a
        season, another knot of the trend, a demand pattern that is not smooth or erratic), on
        the intermittent and naive paths (a few smoothing passes: nothing to save), or when a
        member cannot be run forward. docs/models.md says where the backtest refits.
        """
        if not hasattr(self, "n_obs_"):
            raise ValueError(f"the {self.name!r} model is not fitted: call fit(y) first")
        series = _as_history(y)
        k = self.n_obs_ - series.size
        forwarded = None
        if self.path_ == "regular" and self.members_ and 1 <= k and self.window_ - k >= MIN_MEMBER_HISTORY:
            forwarded = self._forward_regular(series, X, k)
        if forwarded is None:
            forwarded = type(self)(
                self.frequency, self.members, self.penalty, self.closable, self.closed, self.name,
                groups=self.groups, clean=bool(self.settings.get("clean")),
            )
            forwarded.fit(series, X)
            forwarded.refit_ = True
        return forwarded

    def _forward_regular(self, y: np.ndarray, X: np.ndarray | None, k: int) -> "CalendarForecaster | None":
        s = SETTINGS[self.frequency]
        if self._structure(y.size) != self._structure(self.n_obs_):
            return None
        Xy = None if X is None or self.n_columns_ == 0 else np.asarray(X, dtype=float)
        if (Xy is None) != (self.n_columns_ == 0) or (Xy is not None and Xy.shape != (y.size, self.n_columns_)):
            return None
        closed_rows = (Xy[:, self.closed_columns_] > 0).any(axis=1) if Xy is not None and self.closed_columns_.any() else np.zeros(y.size, bool)
        open_y = y[~closed_rows]
        if not open_y.size or (self.members == self.AUTO_MEMBERS and classify(open_y, self.frequency.value) not in (DemandPattern.SMOOTH, DemandPattern.ERRATIC)):
            return None
        adj = self.adjustment_
        assert adj is not None
        a = adj.adjusted_[:-k][-s.member_window :]
        members = []
        for member in self.members_:
            moved = member.forward(a)
            if moved is None:
                return None
            members.append(moved)
        out = type(self)(self.frequency, self.members, self.penalty, self.closable, self.closed, self.name)
        out.n_columns_ = self.n_columns_
        out.closed_columns_ = self.closed_columns_
        out.path_ = "regular"
        out.pattern_ = self.pattern_
        out.adjustment_ = adj
        out.window_ = self.window_ - k  # the horizon's time index within the fitted window
        out.members_ = members
        out.fallback_ = _RandomWalk(y, 1)
        out.description_ = self.description_
        out.n_obs_ = int(y.size)
        out.refit_ = False
        return out

    def _closed_columns(self, y: np.ndarray, X: np.ndarray | None) -> np.ndarray:
        if X is None or self.frequency is not Frequency.DAY:
            return np.zeros(0 if X is None else X.shape[1], dtype=bool)
        if self.closed is not None:
            return _fit_width(self.closed, X.shape[1])
        if self.closable is None:
            return np.zeros(X.shape[1], dtype=bool)
        return closed_columns(y, X, self.closable)

    def _fit_calendar(self, y: np.ndarray, X: np.ndarray | None) -> None:
        s = SETTINGS[self.frequency]
        self.closed_columns_ = self._closed_columns(y, X)
        closed_rows = (X[:, self.closed_columns_] > 0).any(axis=1) if self.closed_columns_.any() else np.zeros(y.size, bool)
        self.path_ = "regular"
        self.adjustment_: SeasonalAdjustment | None = None
        self.members_: list[_Member] = []
        self.fallback_ = _RandomWalk(y, 1)
        labels: list[str] = []
        open_y = y[~closed_rows]
        pattern = classify(open_y, self.frequency.value) if open_y.size else DemandPattern.ZERO
        self.pattern_ = pattern
        if self.members == self.AUTO_MEMBERS and pattern not in (DemandPattern.SMOOTH, DemandPattern.ERRATIC):
            self._fit_intermittent(y, X, closed_rows, pattern)
            return
        if y.size < MIN_MEMBER_HISTORY:
            self.description_ = f"{self.name}: naive (short history)"
            self.path_ = "naive"
            return
        w = min(y.size, s.window)
        yw, Xw, cw = y[-w:], (None if X is None else X[-w:]), closed_rows[-w:]
        penalty = None if self.penalty is None or X is None else self.penalty[: X.shape[1]]
        adj = SeasonalAdjustment(s.periods, s.terms, s.knot_every, s.min_cycles, penalty=penalty).fit(yw, Xw, exclude=cw)
        self.adjustment_ = adj
        self.window_ = w
        for kind in self.members:
            member = _Member.fit(kind, adj.adjusted_[-s.member_window :])
            if member is not None:
                self.members_.append(member)
                labels.append(kind)
        parts = []
        if adj.seasonal:
            parts.append("season " + "+".join(f"{p:g}×{k}" for p, k in zip(s.periods, adj.terms_) if k))
        if adj.has_effects:
            parts.append("effects")
        if self.closed_columns_.any():
            parts.append("closed days")
        combo = "+".join(labels) if labels else "naive"
        if len(labels) > 1:
            combo += " (median)"
        self.description_ = f"{self.name}: {combo}" + (f", {', '.join(parts)}" if parts else "")

    def _fit_intermittent(self, y: np.ndarray, X: np.ndarray | None, closed_rows: np.ndarray, pattern: DemandPattern) -> None:
        self.path_ = "intermittent"
        self.method_ = METHOD_FOR[pattern]
        open_y = y[~closed_rows]
        self.open_y_ = open_y
        self.rate_ = point_forecast(self.method_, open_y, 1)[0] if open_y.size >= 2 else float(np.mean(open_y) if open_y.size else 0.0)
        # A multiplicative profile (day of week, pooled effects), each factor shrunk towards 1 by
        # PRIOR units of demand: a product that sold 5 units has no day-of-week profile to speak of.
        prior = 5.0
        t = np.flatnonzero(~closed_rows)
        base = max(float(open_y.mean()) if open_y.size else 0.0, 1e-12)
        self.dow_ = np.ones(7)
        if self.frequency is Frequency.DAY and open_y.sum() > 0:
            pos = t % 7
            for d in range(7):
                on = pos == d
                expected = base * on.sum()
                self.dow_[d] = (open_y[on].sum() + prior * base) / (expected + prior * base) if expected > 0 else 1.0
            self.dow_ /= self.dow_.mean()
        self.effect_cols_ = np.empty(0, dtype=int)
        self.effect_mult_ = np.empty(0)
        if X is not None and open_y.sum() > 0 and self.penalty is not None:
            pooled = np.flatnonzero(self.penalty[: X.shape[1]] == 0)
            Xo = X[~closed_rows]
            fitted = base * self.dow_[t % 7] if self.frequency is Frequency.DAY else np.full(t.size, base)
            mults = []
            for j in pooled:
                on = Xo[:, j] > 0
                if not on.any():
                    mults.append(1.0)
                    continue
                expected = float(fitted[on].sum())
                ratio = (open_y[on].sum() + prior * base) / (expected + prior * base)
                # Per unit of the column (days of the period it covers): a weekly column counts days.
                mults.append(float(ratio ** (1.0 / max(float(Xo[on, j].mean()), 1.0))))
            self.effect_cols_ = pooled
            self.effect_mult_ = np.asarray(mults)
        self.description_ = f"{self.name}: {self.method_} ({pattern.value})" + (
            ", closed days" if self.closed_columns_.any() else "")

    # ---------------------------------------------------------------------------- predict

    def predict(self, h: int, level: float = 90.0, X_future: np.ndarray | None = None) -> Prediction:  # type: ignore[override]
        """h forecasts and a central ``level`` % interval; ``X_future`` (h, columns) when fitted with X."""
        if not hasattr(self, "n_obs_"):
            raise ValueError(f"the {self.name!r} model is not fitted: call fit(y) first")
        h = _check_horizon(h)
        level = _check_level(level)
        if self.n_columns_:
            if X_future is None:
                raise ValueError("the model was fitted with X: X_future (h, columns) is needed")
            X_future = np.asarray(X_future, dtype=float)
            if X_future.shape != (h, self.n_columns_):
                raise ValueError(f"X_future must have shape ({h}, {self.n_columns_}), got {X_future.shape}")
        else:
            X_future = None
        parts: dict[str, np.ndarray] | None = None
        if self.path_ == "intermittent":
            mean, low, high, parts = self._predict_intermittent(h, level, X_future)
        elif self.path_ == "naive" or not self.members_:
            mean, low, high = self.fallback_.predict(h, level)
        else:
            mean, low, high, parts = self._predict_regular(h, level, X_future)
        if X_future is not None and self.closed_columns_.any():
            closed = (X_future[:, self.closed_columns_] > 0).any(axis=1)
            mean, low, high = (np.where(closed, 0.0, v) for v in (mean, low, high))
            if parts is not None and closed.any():
                parts = self._close(parts, X_future, closed)
        return Prediction(mean=np.asarray(mean, float).copy(), low=np.asarray(low, float).copy(),
                          high=np.asarray(high, float).copy(), level=level, components=parts)

    def _group(self, column: int) -> str:
        return self.groups[column] if self.groups is not None and column < len(self.groups) else "events"

    def _close(self, parts: dict[str, np.ndarray], X_future: np.ndarray, closed: np.ndarray) -> dict[str, np.ndarray]:
        """On a closed day the forecast is 0: the holiday (or event) that closes the shop takes
        away what the other parts would have sold, so the parts still add up to the forecast."""
        parts = {k: v.copy() for k, v in parts.items()}
        columns = np.flatnonzero(self.closed_columns_)
        for row in np.flatnonzero(closed):
            on = [self._group(int(j)) for j in columns if X_future[row, j] > 0]
            group = "holidays" if "holidays" in on else "events"
            if group not in parts:
                parts[group] = np.zeros(X_future.shape[0])
            parts[group][row] -= sum(float(v[row]) for v in parts.values())
        return parts

    def _predict_regular(
        self, h: int, level: float, X_future: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        s = SETTINGS[self.frequency]
        adj = self.adjustment_
        assert adj is not None
        single = len(self.members) == 1
        reference = level if single else 95.0
        means, sigmas = [], []
        for member in self.members_:
            want = single or member.kind in self.SCALE_MEMBERS
            mean, sigma = member.predict(h, reference if want else None)
            means.append(mean)
            if sigma is not None:
                sigmas.append(sigma)
        if not sigmas:
            _, lo, hi = _RandomWalk(adj.adjusted_, 1).predict(h, reference)
            sigmas.append((hi - lo) / (2 * _z(reference)))
        centre = np.median(means, axis=0)
        sigma = np.mean(sigmas, axis=0)
        t = np.arange(self.window_, self.window_ + h, dtype=float)
        comp = adj.component(t, X_future)
        if single:
            quantile = _z(level)
            half = quantile * sigma
        else:
            steps = np.arange(1, h + 1, dtype=float)
            quantile = s.scale * float(student_t.ppf(0.5 + level / 200.0, s.df))
            if adj.regressors_.size:
                quantile *= s.effects_scale
            half = sigma * steps**s.growth * quantile
        if X_future is not None:
            # The effects' own uncertainty, on the same quantile (relative when multiplicative).
            extra = quantile * adj.effect_std(X_future) * (np.abs(centre) if adj.multiplicative_ else 1.0)
            half = np.sqrt(half**2 + extra**2)
        parts = attribute(centre, adj.parts(t, X_future, self.groups), adj.multiplicative_)
        if adj.multiplicative_:
            return centre * comp, (centre - half) * comp, (centre + half) * comp, parts
        return centre + comp, centre - half + comp, centre + half + comp, parts

    def _predict_intermittent(
        self, h: int, level: float, X_future: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        t = np.arange(self.n_obs_, self.n_obs_ + h)
        rate = np.full(h, self.rate_)
        logs: dict[str, np.ndarray] = {}
        mean = rate
        if self.frequency is Frequency.DAY:
            mean = mean * self.dow_[t % 7]
            logs["seasonal"] = np.log(np.maximum(self.dow_[t % 7], 1e-300))
        if X_future is not None and self.effect_cols_.size:
            mean = mean * np.prod(self.effect_mult_[None, :] ** X_future[:, self.effect_cols_], axis=1)
            contributions = X_future[:, self.effect_cols_] * np.log(np.maximum(self.effect_mult_, 1e-300))[None, :]
            for k, j in enumerate(self.effect_cols_):
                group = self._group(int(j))
                logs[group] = logs.get(group, np.zeros(h)) + contributions[:, k]
        low, high = mixture_interval(self.open_y_, mean, level)
        return mean, low, high, attribute(rate, logs, multiplicative=True)


def attribute(level: np.ndarray, parts: dict[str, np.ndarray], multiplicative: bool) -> dict[str, np.ndarray]:
    """The forecast's additive components in the series' units: ``trend`` (``level``, the forecast
    of the series without season and effects) and each part of ``parts``.

    Additive models: the parts are already in units. Multiplicative ones (fitted on the logarithm,
    forecast = level * exp(sum of parts)): the forecast's difference from the level is shared out in
    proportion to each part's logarithm (the logarithmic-mean Divisia index, LMDI): part_i =
    (forecast - level) * log_i / sum(log). It adds up exactly, does not depend on the order of the
    parts, gives a part that lifts sales a positive share and one that lowers them a negative one,
    and tends to level * log_i as the sum of logs tends to 0 (docs/models.md).
    """
    level = np.asarray(level, dtype=float)
    out = {"trend": level.copy()}
    if not multiplicative:
        out.update({k: np.asarray(v, dtype=float).copy() for k, v in parts.items()})
        return out
    total = np.zeros_like(level)
    for v in parts.values():
        total = total + v
    small = np.abs(total) < 1e-12
    weight = np.where(small, level, level * np.expm1(total) / np.where(small, 1.0, total))
    out.update({k: weight * np.asarray(v, dtype=float) for k, v in parts.items()})
    return out


def _fit_width(flags: np.ndarray, width: int) -> np.ndarray:
    flags = np.asarray(flags, dtype=bool)
    return flags[:width] if flags.size >= width else np.r_[flags, np.zeros(width - flags.size, bool)]


def closed_columns(y: np.ndarray, X: np.ndarray, closable: np.ndarray) -> np.ndarray:
    """Per column of X: does it mark a day the shop is closed, judging by the history y?

    A ``closable`` column is closed when y was 0 on every past day it was set and that is not
    chance: (share of zero days elsewhere) ** (days it was set) < CLOSED_CHANCE. On a shop's total
    one closed Christmas is enough; a product that sells one day in two needs five. The grouped
    engine should decide on the total (or a store) and pass the answer to every series below it
    (``make_model(..., closed=...)``): a single product cannot tell a closed day from a quiet one.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    out = np.zeros(X.shape[1], dtype=bool)
    for j in np.flatnonzero(_fit_width(closable, X.shape[1])):
        on = X[:, j] > 0
        k = int(on.sum())
        if k == 0 or on.all() or np.any(y[on] != 0):
            continue
        zero_share = float(np.mean(y[~on] == 0))
        out[j] = zero_share**k < CLOSED_CHANCE
    return out


class _SeasonalNaive(Forecaster):
    """Repeats the last week (days) or the last 52 weeks (weeks): the planner's "same day last week"."""

    name = "seasonal_naive"

    def _fit(self, y: np.ndarray) -> None:
        m = self.season_length
        self.model_ = _RandomWalk(y, m if y.size >= 2 * m else 1)
        self.description_ = "seasonal_naive" if y.size >= 2 * m else "seasonal_naive: naive (short history)"

    def _predict(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.model_.predict(h, level)

    def fit(self, y: Any, X: np.ndarray | None = None) -> "_SeasonalNaive":  # type: ignore[override]
        return super().fit(y)  # type: ignore[return-value]

    def predict(self, h: int, level: float = 90.0, X_future: np.ndarray | None = None) -> Prediction:  # type: ignore[override]
        return super().predict(h, level)


class _Linear(monthly.LinearForecaster):
    def fit(self, y: Any, X: np.ndarray | None = None) -> "_Linear":  # type: ignore[override]
        return super().fit(y)  # type: ignore[return-value]

    def predict(self, h: int, level: float = 90.0, X_future: np.ndarray | None = None) -> Prediction:  # type: ignore[override]
        return super().predict(h, level)


def make_model(
    name: str,
    frequency: Frequency | str = Frequency.MONTH,
    *,
    effects: Effects | None = None,
    penalty: np.ndarray | None = None,
    closable: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    season_length: int = 12,
    clean: bool | None = None,
) -> Forecaster:
    """An unfitted model by its public name for a frequency.

    ``"month"``: :func:`shared.engine.models.make_model` itself (``season_length`` is passed on), fitted
    with ``fit(y)`` and ``predict(h, level)``. ``"week"``/``"day"``: ``fit(y, X=None)`` and
    ``predict(h, level, X_future=None)``; ``effects`` (from :func:`shared.engine.effects.calendar_effects`)
    supplies the per-column ``penalty`` and ``closable`` flags (or give them directly). The names:
    ``auto`` (the calibrated median), ``ets``/``theta``/``arima`` (that model alone on the same
    seasonally adjusted series, with its own intervals), ``seasonal_naive`` (same day last week;
    same week 52 weeks ago) and ``linear``; these last two ignore X. ``closed`` (per column) overrides
    the model's own closed-day detection (see :func:`closed_columns`). ``clean``: clean the
    history's anomalies (holiday and event periods excepted) before fitting, for ``auto``, ``ets``,
    ``theta`` and ``arima`` (None: the default of :mod:`shared.engine.anomalies`; docs/models.md).
    """
    freq = Frequency(frequency)
    if freq is Frequency.MONTH:
        return monthly.make_model(name, season_length=season_length, clean=clean)
    clean = (anomalies.CLEAN_BY_DEFAULT if clean is None else clean) and name in CLEANED_MODELS
    if name not in CALENDAR_MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(CALENDAR_MODEL_NAMES)}")
    groups = None
    if effects is not None:
        penalty, closable, groups = effects.penalty, effects.closable, effects.groups
    if name == "auto":
        return CalendarForecaster(freq, penalty=penalty, closable=closable, closed=closed, groups=groups, clean=clean)
    if name in ("ets", "theta", "arima"):
        return CalendarForecaster(
            freq, members=(name,), penalty=penalty, closable=closable, closed=closed, name=name, groups=groups, clean=clean
        )
    if name == "seasonal_naive":
        return _SeasonalNaive(season_length=SETTINGS[freq].seasonal_naive)
    return _Linear(season_length=SETTINGS[freq].seasonal_naive)
