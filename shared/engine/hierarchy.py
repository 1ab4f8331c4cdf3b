"""Forecasting many series and making them coherent (docs/api.md §8).

Three pure steps, so that a job can fan the middle one out over workers in chunks:

1. :func:`series_inputs` — the panel's series as JSON-safe items (``{"index", "y", "is_total"}``);
2. :func:`forecast_chunk` — base forecasts, intervals and a one-origin backtest for a list of items
   (lists of floats in, lists of floats out: no DataFrames, nothing to pickle);
3. :func:`reconcile` — on all collected base forecasts: shares for the too-short series, then
   Nixtla ``hierarchicalforecast`` reconciliation, then exact rounding so that every parent is
   the sum of its children to the cent.

Which model a series gets (``forecast.model`` says it):

* fewer than ``MIN_OWN_HISTORY`` months since its first sale (and not the total): its share of its
  parent's forecast (its share of the parent over the months it has existed);
* no demand at all: 0; smooth or erratic demand: the model asked for (``auto`` by default, through
  :func:`shared.engine.models.make_model`); intermittent, lumpy or obsolete demand: SBA, IMAPA or TSB
  (:mod:`shared.engine.intermittent`). The total always gets the model asked for.
* anything that fails falls back to the naive forecast: a group never fails the job.

Backtest (accuracy without refitting): each series' model is fitted once, on its whole history,
for the forecast; the fitted model is then run forward (statsforecast's ``forward``: states
recomputed, nothing re-estimated) over the history without its last ``k = min(12, n // 3)``
months and forecasts them ``1..k`` months ahead from that origin; the metrics compare those ``k``
forecasts with what happened. So a bottom series costs one fit, not two; it is refitted on the
shorter history where that gives the model another form, and the total and the parent levels
(a few series, the figures read first) keep a refitted holdout (docs/models.md). Those holdout errors also give MinTrace its error covariance. See
docs/grouped.md for what the figures mean.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Sequence

import numpy as np

from shared.engine.backtest import NO_BACKTEST, BacktestReport, interval_coverage, mae, mape, mase, smape, wape
from shared.engine.intermittent import METHOD_FOR, DemandPattern, classify, mixture_interval, point_forecast
from shared.engine.panel import Panel

log = logging.getLogger(__name__)

MIN_OWN_HISTORY = 6
BACKTEST_MAX = 12
BACKTEST_MIN_TRAIN = 6
# Dense MinTrace keeps an n×n covariance: beyond this many series the sparse variant is used.
DENSE_LIMIT = 2000
# An item without its level's size (queued by an older web tier): a level of many series.
BIG_LEVEL = 1000


class Reconciliation(StrEnum):
    """How :func:`reconcile` makes base forecasts coherent (the values are hierarchicalforecast's method
    names). ``auto`` is :func:`auto_reconciliation`'s choice; a method that fails falls back to
    wls_struct, then bottom_up."""

    BOTTOM_UP = "bottom_up"
    # Top-down by forecast proportions (Athanasopoulos, Ahmed & Hyndman 2009; hierarchicalforecast's
    # TopDown(method="forecast_proportions")): the total's own forecast, split level by level in
    # the proportions of the children's own forecasts, horizon period by horizon period.
    TOP_DOWN = "top_down"
    OLS = "ols"
    WLS_STRUCT = "wls_struct"
    WLS_VAR = "wls_var"
    MINT_SHRINK = "mint_shrink"
    # The default (auto_reconciliation): bottom_up, chosen by benchmarks/grouped.py on the M3
    # hierarchy, where it is the only method at least as accurate (MASE) as the base forecasts at
    # every level (wls_var: +0.1 % at the bottom; mint_shrink with 12 holdout errors a series:
    # +14 %, and minutes of CPU); top_down when most bottom series have intermittent demand
    # (benchmarks/m5.py daily: docs/models.md).
    AUTO = "auto"


# Intermittent demand at the bottom: the methods made for it (SBA's debiasing, TSB's decay) are
# a few per cent low on purpose or by lag, and a few thousand such biases add up at the total.
INTERMITTENT_PATTERNS = (DemandPattern.INTERMITTENT.value, DemandPattern.LUMPY.value, DemandPattern.OBSOLETE.value)


SHARE = "share_of_parent"


# ------------------------------------------------------------------------------------ step 1


def series_inputs(panel: Panel, indices: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """JSON-safe items for :func:`forecast_chunk` (the series' histories from their first sale)."""
    idx = range(len(panel)) if indices is None else indices
    bottom = panel.n_levels - 1
    sizes = np.bincount(panel.level, minlength=panel.n_levels)
    # A series' place in its level (its turn at the level's backtest dates) and its level's longest
    # history (the level's dates are counted from it: shorter series share them).
    places = np.zeros(len(panel), dtype=int)
    lengths = np.array([panel.history(i).size for i in range(len(panel))], dtype=int)
    spans = np.zeros(panel.n_levels, dtype=int)
    for k in range(panel.n_levels):
        rows = panel.level_indices(k)
        places[rows] = np.arange(rows.size)
        spans[k] = int(lengths[rows].max()) if rows.size else 0
    return [
        {"index": int(i), "y": panel.history(int(i)).tolist(), "is_total": bool(panel.level[int(i)] == 0),
         "refit_backtest": bool(panel.level[int(i)] < bottom), "level_size": int(sizes[panel.level[int(i)]]),
         "level_position": int(places[int(i)]), "level_span": int(spans[panel.level[int(i)]])}
        for i in idx
    ]


# ------------------------------------------------------------------------------------ step 2


def _naive(y: np.ndarray, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from shared.engine.models import make_model

    if y.size >= 3:
        p = make_model("seasonal_naive", season_length=1).fit(y).predict(h, level=level)
        return p.mean, p.low, p.high
    last = float(y[-1]) if y.size else 0.0
    return np.full(h, last), np.full(h, last), np.full(h, last)


Components = dict[str, Any] | None  # a model's additive parts of its mean (Prediction.components)


def _fit_predict(
    method: str, y: np.ndarray, h: int, level: float, model: str, season_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, Components]:
    """(mean, low, high, label, components); intervals not yet clipped for the general models."""
    if method == "model":
        mean, low, high, label, _, parts = _model_with_holdout(y, None, h, level, model, season_length)
        return mean, low, high, label, parts
    mean = point_forecast(method, y, h)
    low, high = mixture_interval(y, mean, level)
    return mean, low, high, method, None


def _json_components(parts: Components) -> dict[str, list[float]] | None:
    """A chunk result's ``components``: JSON-safe lists, None when the model does not decompose."""
    if parts is None:
        return None
    return {k: np.nan_to_num(np.asarray(v, dtype=float)).tolist() for k, v in parts.items()}


def _clean(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    mean = np.maximum(np.nan_to_num(np.asarray(mean, dtype=float)), 0.0)
    low = np.minimum(np.maximum(np.nan_to_num(np.asarray(low, dtype=float)), 0.0), mean)
    high = np.maximum(np.nan_to_num(np.asarray(high, dtype=float), posinf=0.0), mean)
    return mean.tolist(), low.tolist(), high.tolist()


def _model_with_holdout(
    y: np.ndarray, k: int | None, h: int, level: float, model: str, season_length: int, refit: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, tuple[np.ndarray, np.ndarray, np.ndarray] | None, Components]:
    """The model asked for, fitted once, on the whole history, for the forecast; with a holdout
    (``k``), the same fitted model is run forward over the history without its last ``k`` points
    and forecasts those ``k`` for the backtest (statsforecast's ``forward``, as its
    ``cross_validation(refit=False)`` does). ``forward`` refits where the shorter history would
    give the model another form (fewer than two seasons); ``refit`` refits the holdout anyway
    (the total and the parent levels: docs/models.md says why)."""
    from shared.engine.models import make_model

    if y.size < 3:
        mean, low, high = _naive(y, h, level)
        return mean, low, high, "naive (short history)", None, None
    fitted = make_model(model, season_length=season_length).fit(y)
    p = fitted.predict(h, level=level)
    backtest = None
    if k is not None:
        trained = make_model(model, season_length=season_length).fit(y[:-k]) if refit else fitted.forward(y[:-k])
        b = trained.predict(k, level=level)
        backtest = (b.mean, b.low, b.high)
    return p.mean, p.low, p.high, getattr(fitted, "description_", model), backtest, p.components


def forecast_one(
    item: dict[str, Any],
    *,
    horizon: int,
    level: float,
    model: str = "auto",
    season_length: int = 12,
    frequency: str = "month",
    effects: Any = None,
    closed: np.ndarray | None = None,
    inventory: Any | None = None,
) -> dict[str, Any]:
    """Base forecast and backtest for one item of :func:`series_inputs` (see the module docstring);
    with ``inventory`` (the request's InventoryRequest), its §12 figures too (:func:`_with_inventory`).

    Weekly and daily series (``frequency``): see :func:`forecast_one_calendar`.
    """
    if frequency != "month":
        out = forecast_one_calendar(
            item, horizon=horizon, level=level, model=model, frequency=frequency, effects=effects, closed=closed
        )
    else:
        out = _forecast_monthly(item, horizon, level, model, season_length)
    if inventory is not None:
        _with_inventory(out, item, inventory, model, season_length, frequency, effects, closed, horizon)
    return out


def _with_inventory(
    out: dict[str, Any],
    item: dict[str, Any],
    settings: Any,
    model: str,
    season_length: int,
    frequency: str = "month",
    effects: Any = None,
    closed: np.ndarray | None = None,
    horizon: int = 0,
) -> None:
    """Adds ``out["inventory"]``: the series' uncorrected lead-time demand from paths of its own
    method, and its backtest outcomes at past origins (as many as its level's size calls for,
    :func:`shared.engine.inventory.origins_for`); the fan-in calibrates them per level and publishes
    whole units. A series too short for levels of its own gets its parent's, times its share, at
    fan-in (``None`` here). Weekly and daily series are fitted with their rows
    of the known effects, as :func:`forecast_one_calendar` fits them."""
    from shared.engine import inventory as inventory_engine
    from shared.engine.models import make_model

    y = np.asarray(item["y"], dtype=float)
    method = out.get("method", SHARE)
    total = bool(item.get("is_total"))
    if method == SHARE or (not total and inventory_engine.check_supported(y.size, settings.periods)):
        out["inventory"] = None
        return

    fit: Any
    if frequency != "month":
        from shared.engine.frequency_models import make_model as make_calendar_model

        def unfitted() -> Any:
            if method == "naive":
                return make_calendar_model("seasonal_naive", frequency)
            return make_calendar_model(model, frequency, effects=effects, closed=closed)

        rows = None
        if effects is not None:
            history_end = effects.X.shape[0] - horizon
            rows = effects.X[history_end - y.size :]
        fit = inventory_engine.regressor_fit(unfitted, rows)
    else:
        def fit(history: np.ndarray) -> Any:
            if method == "naive":
                return make_model("seasonal_naive", season_length=1).fit(history)
            return make_model(model, season_length=season_length).fit(history)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["inventory"] = inventory_engine.series_inventory(
                method, y, settings, fit, level_size=int(item.get("level_size") or (1 if total else BIG_LEVEL)),
                position=int(item.get("level_position", item["index"])), span=item.get("level_span"),
            )
    except Exception as exc:  # a series never fails the job: its parent's share instead
        log.warning("series %s: inventory failed (%s); share of parent", item["index"], exc)
        out["inventory"] = None


def _forecast_monthly(item: dict[str, Any], horizon: int, level: float, model: str, season_length: int) -> dict[str, Any]:
    """:func:`forecast_one` for a monthly series, without the inventory figures."""
    y = np.asarray(item["y"], dtype=float)
    n = int(y.size)
    out: dict[str, Any] = {"index": item["index"], "n": n}
    if n < MIN_OWN_HISTORY and not item.get("is_total"):
        out.update(method=SHARE, pattern=None, label=f"{SHARE} ({n} month{'s' if n != 1 else ''} of history)")
        return out
    pattern = classify(y)
    method = "model" if item.get("is_total") or pattern in (DemandPattern.SMOOTH, DemandPattern.ERRATIC) else METHOD_FOR[pattern]
    k = min(BACKTEST_MAX, n // 3)
    holdout = k if k >= 1 and n - k >= BACKTEST_MIN_TRAIN else None
    backtest = None
    parts: Components = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "model":
                mean, low, high, label, backtest, parts = _model_with_holdout(
                    y, holdout, horizon, level, model, season_length, refit=bool(item.get("refit_backtest"))
                )
            else:
                mean, low, high, label, parts = _fit_predict(method, y, horizon, level, model, season_length)
    except Exception as exc:
        log.warning("series %s: %s failed (%s); naive forecast", item["index"], method, exc)
        mean, low, high = _naive(y, horizon, level)
        label, method, parts = "naive (model failed)", "naive", None
    if method == "zero":
        label = "zero (no demand)"
    elif method not in ("model", "naive"):
        label = f"{label} ({pattern.value})"
    out.update(method=method, pattern=pattern.value, label=label)
    out["mean"], out["low"], out["high"] = _clean(mean, low, high)
    out["components"] = _json_components(parts)

    out["backtest"] = None
    if holdout is not None:
        if backtest is None:
            # The intermittent methods are cheap (a few smoothing passes): refitted on the holdout;
            # a failed model's series is scored as the model it asked for, or naive.
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    bm, bl, bh, _, _ = _fit_predict(method if method != "naive" else "model", y[:-holdout], holdout, level, model, season_length)
            except Exception:
                bm, bl, bh = _naive(y[:-holdout], holdout, level)
            backtest = (bm, bl, bh)
        f, lo, hi = _clean(*backtest)
        out["backtest"] = {"forecast": f, "low": lo, "high": hi}
    return out


# Fewer periods than this since a series' first sale (and not the total): share of its parent.
MIN_OWN_HISTORY_CALENDAR = {"week": 6, "day": 28}


def forecast_one_calendar(
    item: dict[str, Any],
    *,
    horizon: int,
    level: float,
    model: str = "auto",
    frequency: str = "week",
    effects: Any = None,
    closed: np.ndarray | None = None,
) -> dict[str, Any]:
    """:func:`forecast_one` for a weekly or daily series (shared/frequency_models.py).

    ``effects`` (:func:`shared.engine.effects.calendar_effects` over the panel's periods then the
    horizon's, the same for every series) gives each series its regressor rows: a history from the
    first sale is the last ``len(y)`` periods before the horizon. ``closed`` (per column, e.g.
    :func:`shared.engine.frequency_models.closed_columns` on the total's history) tells every series which
    holidays and events close the shop. The model handles intermittent demand itself, so every
    series with history enough gets ``model``; shorter ones their parent's share, as monthly.
    """
    from shared.engine.frequency_models import make_model as make_calendar_model

    y = np.asarray(item["y"], dtype=float)
    n = int(y.size)
    out: dict[str, Any] = {"index": item["index"], "n": n}
    unit = "week" if frequency == "week" else "day"
    if n < MIN_OWN_HISTORY_CALENDAR.get(frequency, 6) and not item.get("is_total"):
        out.update(method=SHARE, pattern=None, label=f"{SHARE} ({n} {unit}{'s' if n != 1 else ''} of history)")
        return out
    if effects is not None:
        total = effects.X.shape[0] - horizon
        X, X_future = effects.X[total - n : total], effects.X[total : total + horizon]
    else:
        X = X_future = None

    fits: list[Any] = []

    def run(
        hist: np.ndarray, Xh: np.ndarray | None, Xf: np.ndarray | None, h: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, Components]:
        if hist.size < 3:
            mean, low, high = _naive(hist, h, level)
            return mean, low, high, "naive (short history)", None
        fitted = make_calendar_model(model, frequency, effects=effects, closed=closed).fit(hist, Xh)
        fits.append(fitted)
        p = fitted.predict(h, level=level, X_future=Xf)
        return p.mean, p.low, p.high, getattr(fitted, "description_", model), p.components

    method = "model"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean, low, high, label, parts = run(y, X, X_future, horizon)
    except Exception as exc:
        log.warning("series %s: %s failed (%s); naive forecast", item["index"], model, exc)
        mean, low, high = _naive(y, horizon, level)
        label, method, parts = "naive (model failed)", "naive", None
    # The bottom level's backtest runs the forecast's fit forward where the model allows it
    # (CalendarForecaster.forward); the total and the parents refit, as monthly (docs/models.md).
    forward = fits[0] if method == "model" and fits and hasattr(fits[0], "forward") and not item.get("refit_backtest") else None
    out.update(method=method, pattern=classify(y, frequency).value, label=label)
    out["mean"], out["low"], out["high"] = _clean(mean, low, high)
    out["components"] = _json_components(parts)

    k = min(BACKTEST_MAX, n // 3)
    out["backtest"] = None
    if k >= 1 and n - k >= BACKTEST_MIN_TRAIN:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if forward is not None:
                    b = forward.forward(y[:-k], None if X is None else X[:-k]).predict(
                        k, level=level, X_future=None if X is None else X[n - k :])
                    bm, bl, bh = b.mean, b.low, b.high
                else:
                    bm, bl, bh, _, _ = run(y[:-k], None if X is None else X[:-k], None if X is None else X[n - k :], k)
        except Exception:
            bm, bl, bh = _naive(y[:-k], k, level)
        f, lo, hi = _clean(bm, bl, bh)
        out["backtest"] = {"forecast": f, "low": lo, "high": hi}
    return out


def forecast_chunk(
    items: Sequence[dict[str, Any]],
    *,
    horizon: int,
    level: float,
    model: str = "auto",
    season_length: int = 12,
    frequency: str = "month",
    effects: Any = None,
    closed: np.ndarray | None = None,
    inventory: Any | None = None,
) -> list[dict[str, Any]]:
    """:func:`forecast_one` over a chunk: the unit of work a worker would take.

    Linear algebra runs on one BLAS thread here: a worker process forecasts one series at a time
    on small matrices (a daily series' seasonal regression is 730 × ~50), and the workers already
    use every core with one process each. OpenBLAS's own threads on top of that only contend: on
    two busy cores one `lstsq` of that size took ~50 ms with them and 0.8 ms without (docs/scaling.md §1c).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return [
            forecast_one(it, horizon=horizon, level=level, model=model, season_length=season_length,
                         frequency=frequency, effects=effects, closed=closed, inventory=inventory)
            for it in items
        ]


# ------------------------------------------------------------------------------------ step 3


@dataclass
class Reconciled:
    """Coherent forecasts for every series of a panel, plus what each series' model was."""

    mean: np.ndarray  # (n, h), rounded to the cent, children sum to parents exactly
    low: np.ndarray
    high: np.ndarray
    base_mean: np.ndarray  # (n, h), before reconciliation
    labels: list[str]
    method: str
    backtests: list[dict[str, Any] | None]
    # Per series, the additive parts of ``mean`` (in the measure, not yet rounded), or None.
    components: list[dict[str, np.ndarray] | None] = field(default_factory=list)


def _share(panel: Panel, i: int) -> float:
    p = int(panel.parent[i])
    s = int(panel.start[i])
    if s >= panel.values.shape[1]:
        return 0.0
    mine = float(panel.values[i, s:].sum())
    theirs = float(panel.values[p, s:].sum())
    if theirs <= 0 or mine <= 0:
        return 0.0
    return min(1.0, mine / theirs)


def share_of_parent(panel: Panel, i: int) -> float:
    """Series ``i``'s share of its parent over the periods it has existed (0 when it has none)."""
    return _share(panel, i)


def resolve_shares(panel: Panel, results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill in the share-of-parent series from their parents (parents come first in a panel)."""
    by_index = {int(r["index"]): dict(r) for r in results}
    for i in range(len(panel)):
        r = by_index.get(i)
        if r is None or r["method"] != SHARE:
            continue
        parent = by_index[int(panel.parent[i])]
        share = _share(panel, i)
        r["share"] = share
        for key in ("mean", "low", "high"):
            r[key] = (np.asarray(parent[key]) * share).tolist()
        # Its parent's forecast times a share: so are the parts of it (None stays None).
        parts = parent.get("components")
        r["components"] = None if parts is None else {k: (np.asarray(v) * share).tolist() for k, v in parts.items()}
        bt = parent.get("backtest")
        n = int(r["n"])
        if bt is not None and n >= 1:
            k = min(len(bt["forecast"]), n)
            r["backtest"] = {key: (np.asarray(bt[key][-k:]) * share).tolist() for key in ("forecast", "low", "high")}
        else:
            r["backtest"] = None
        by_index[i] = r
    return [by_index[i] for i in range(len(panel))]


def _residuals(panel: Panel, results: Sequence[dict[str, Any]]) -> np.ndarray:
    """(n, BACKTEST_MAX) holdout errors aligned on the last months; NaN where a series has none."""
    n, T = panel.values.shape
    R = np.full((n, BACKTEST_MAX), np.nan)
    for i, r in enumerate(results):
        bt = r.get("backtest")
        if not bt:
            continue
        f = np.asarray(bt["forecast"], dtype=float)
        k = f.size
        R[i, BACKTEST_MAX - k :] = panel.values[i, T - k :] - f
    # A series with (almost) no errors of its own borrows its parent's, scaled by its share, plus
    # noise of its own (a fixed seed): exact copies would make the error covariance singular.
    noise = np.random.default_rng(12345).standard_normal(R.shape)
    for i in range(n):
        if np.count_nonzero(np.isfinite(R[i])) < 2 and panel.parent[i] >= 0:
            borrowed = R[int(panel.parent[i])] * _share(panel, i)
            R[i] = borrowed * (1.0 + 0.2 * noise[i])
    # Exactly predicted series (all-zero products) would make W singular too: a tiny floor.
    var = np.nanvar(R, axis=1)
    flat = ~(var > 1e-6)
    if flat.any():
        R[flat] = np.where(np.isfinite(R[flat]), R[flat], 0.0) + 1e-3 * noise[flat]
    # Months a series had no holdout forecast for count as error 0: a covariance estimated pairwise
    # over different months is not positive definite, and MinTrace needs one that is.
    R[~np.isfinite(R)] = 0.0
    return R


def auto_reconciliation(panel: Panel, results: Sequence[dict[str, Any]]) -> Reconciliation:
    """What ``auto`` means for this job: ``top_down`` when more than half of the bottom series
    forecast by a model of their own have intermittent, lumpy or obsolete demand (their sum
    carries their methods' biases to the total, whose own model sees the level and the season
    directly), else ``bottom_up`` (docs/models.md, "Which reconciliation")."""
    by_index = {int(r["index"]): r for r in results}
    own = [by_index[int(i)].get("pattern") for i in panel.bottom if by_index[int(i)].get("method") != SHARE]
    sparse = sum(1 for pattern in own if pattern in INTERMITTENT_PATTERNS)
    return Reconciliation.TOP_DOWN if own and 2 * sparse > len(own) else Reconciliation.BOTTOM_UP


def _top_down(panel: Panel, y_hat: np.ndarray) -> np.ndarray:
    """Top-down by forecast proportions: each child gets its parent's reconciled forecast times
    its own base forecast's share of its siblings' (clipped at 0; an equal split where they are all 0)."""
    base = np.maximum(y_hat, 0.0)
    out = base.copy()
    for k in range(1, panel.n_levels):
        rows = panel.level_indices(k)
        parents = panel.parent[rows]
        sums = np.zeros_like(base)
        np.add.at(sums, parents, base[rows])
        counts = np.zeros(len(panel))
        np.add.at(counts, parents, 1.0)
        theirs = sums[parents]
        share = np.where(theirs > 0, base[rows] / np.where(theirs > 0, theirs, 1.0), 1.0 / counts[parents][:, None])
        out[rows] = out[parents] * share
    return out


def _run_reconciler(method: Reconciliation, panel: Panel, y_hat: np.ndarray, R: np.ndarray | None) -> np.ndarray:
    """One hierarchicalforecast method on arrays. The non-negative variant is a quadratic program
    per horizon month (seconds each at a few thousand series), so it is solved only when the
    closed-form reconciliation has a negative forecast somewhere; otherwise the two are the same.
    """
    from hierarchicalforecast.methods import BottomUpSparse, MinTrace, MinTraceSparse

    S_sparse = panel.summing_matrix()
    zeros = None if R is None else np.zeros_like(R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method is Reconciliation.TOP_DOWN:
            return _top_down(panel, y_hat)
        if method is Reconciliation.BOTTOM_UP:
            out = BottomUpSparse().fit_predict(S=S_sparse, y_hat=np.maximum(y_hat, 0.0))
            return np.asarray(out["mean"], dtype=float)
        dense = len(panel) <= DENSE_LIMIT
        if not dense and method is Reconciliation.MINT_SHRINK:
            raise ValueError(f"mint_shrink needs an n×n covariance: at most {DENSE_LIMIT} series")
        S = S_sparse.toarray() if dense else S_sparse
        cls = MinTrace if dense else MinTraceSparse
        kwargs = {"y_insample": R, "y_hat_insample": zeros} if R is not None else {}
        out = np.asarray(cls(method=method.value).fit_predict(S=S, y_hat=y_hat, **kwargs)["mean"], dtype=float)
        if np.all(out[panel.bottom] >= -1e-9):
            return out
        out = cls(method=method.value, nonnegative=True).fit_predict(S=S, y_hat=np.maximum(y_hat, 0.0), **kwargs)
        return np.asarray(out["mean"], dtype=float)


def reconcile(
    panel: Panel, results: Sequence[dict[str, Any]], method: Reconciliation | str = Reconciliation.AUTO
) -> Reconciled:
    """Coherent, non-negative forecasts to the cent from the collected base forecasts."""
    method = Reconciliation(method)
    results = resolve_shares(panel, results)
    n = len(panel)
    y_hat = np.array([r["mean"] for r in results], dtype=float)
    low = np.array([r["low"] for r in results], dtype=float)
    high = np.array([r["high"] for r in results], dtype=float)
    h = y_hat.shape[1]

    if method is Reconciliation.AUTO:
        method = auto_reconciliation(panel, results)
    tried = [method] + [m for m in (Reconciliation.WLS_STRUCT, Reconciliation.BOTTOM_UP) if m is not method]
    rec = None
    used = method
    R = _residuals(panel, results) if n > 1 else None
    for m in tried:
        if n == 1:
            rec, used = y_hat.copy(), Reconciliation.BOTTOM_UP
            break
        try:
            rec = _run_reconciler(m, panel, y_hat, R if m in (Reconciliation.WLS_VAR, Reconciliation.MINT_SHRINK) else None)
        except Exception as exc:
            log.warning("reconciliation %s failed (%s); trying the next", m.value, exc)
            continue
        if np.all(np.isfinite(rec)):
            used = m
            break
        rec = None
    if rec is None:  # cannot happen with bottom_up, but never fail the job over it
        rec, used = y_hat.copy(), Reconciliation.BOTTOM_UP

    # Exact coherence: the bottom level rounded to the cent, every parent its children's sum.
    cents = np.zeros((n, h), dtype=np.int64)
    bottom = panel.bottom
    cents[bottom] = np.rint(np.maximum(rec[bottom], 0.0) * 100).astype(np.int64)
    for k in range(panel.n_levels - 1, 0, -1):
        rows = panel.level_indices(k)
        np.add.at(cents, panel.parent[rows], cents[rows])
    mean = cents / 100.0

    # Each interval stays the series' own, moved with its point forecast and clipped at 0. Top-down
    # scales every forecast by a factor, and its interval with it: an intermittent series' low end of
    # 0 (a day without a sale is likely) stays 0 instead of moving up by the few cents added.
    ratio = np.where(y_hat > 0, rec / np.where(y_hat > 0, y_hat, 1.0), 0.0)
    if used is Reconciliation.TOP_DOWN:
        low, high = low * ratio, high * ratio
        delta = mean - rec
    else:
        delta = mean - y_hat
    low_r = np.minimum(np.maximum(np.round(low + delta, 2), 0.0), mean)
    high_r = np.maximum(np.round(high + delta, 2), mean)
    return Reconciled(
        mean=mean,
        low=low_r,
        high=high_r,
        base_mean=y_hat,
        labels=[r["label"] for r in results],
        method=used.value,
        backtests=[r.get("backtest") for r in results],
        components=reconciled_components(panel, results, used, ratio),
    )


def reconciled_components(
    panel: Panel, results: Sequence[dict[str, Any]], method: Reconciliation, ratio: np.ndarray | None = None
) -> list[dict[str, np.ndarray] | None]:
    """Per series, the parts of its reconciled forecast (docs/models.md).

    Bottom-up: a bottom series publishes its own model's forecast, so its own parts; a parent
    publishes the sum of its children, so the sum of their parts (None when a child's model does
    not decompose: a sum with an unknown term is not a split). Top-down: every series publishes its
    own model's forecast times a factor (``ratio``, reconciled / base, per horizon period), so its
    own parts times that factor. Other reconciliations mix every series' model into each forecast:
    None for every series but a lone total. The trend takes up the cents of rounding and clipping
    (result.published_components).
    """
    n = len(panel)
    own = [None if r.get("components") is None else {k: np.asarray(v, dtype=float) for k, v in r["components"].items()}
           for r in results]
    if n == 1:
        return own
    if method is Reconciliation.TOP_DOWN and ratio is not None:
        return [None if parts is None else {k: v * ratio[i] for k, v in parts.items()} for i, parts in enumerate(own)]
    if method is not Reconciliation.BOTTOM_UP:
        return [None] * n
    out: list[dict[str, np.ndarray] | None] = [None] * n
    known = np.ones(n, dtype=bool)
    for i in panel.bottom:
        out[int(i)] = own[int(i)]
        known[int(i)] = own[int(i)] is not None
    sums: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    for k in range(panel.n_levels - 1, 0, -1):
        for i in panel.level_indices(k):
            i = int(i)
            p = int(panel.parent[i])
            known[p] &= known[i]
            if known[i] and out[i] is not None:
                for name, v in out[i].items():  # type: ignore[union-attr]
                    sums[p][name] = sums[p].get(name, 0.0) + v
        for p in np.unique(panel.parent[panel.level_indices(k)]):
            p = int(p)
            out[p] = sums[p] if known[p] and sums[p] else None
    return out


# ------------------------------------------------------------------------------------ accuracy


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), 4)


def series_metrics(panel: Panel, i: int, backtest: dict[str, Any] | None, season_length: int = 12) -> dict[str, Any]:
    """The §5 ``metrics`` block of series ``i`` from its one-origin holdout backtest."""
    if not backtest:
        return NO_BACKTEST.to_dict()
    f = np.asarray(backtest["forecast"], dtype=float)
    k = f.size
    y = panel.history(i)
    actual = y[-k:]
    insample = y[:-k]
    return BacktestReport(
        mae=_finite(mae(actual, f)),
        mape=_finite(mape(actual, f)),
        smape=_finite(smape(actual, f)),
        mase=_finite(mase(actual, f, insample, season_length)) if insample.size else None,
        wape=_finite(wape(actual, f)),
        backtest_origins=1,
        interval_coverage=_finite(interval_coverage(actual, np.asarray(backtest["low"]), np.asarray(backtest["high"]))),
    ).to_dict()
