"""Revenue and unit forecasts for the days after an as-of day, for the whole shop and per product.

A forecast made *as of* day d uses the sales up to and including d only (the trailing
`history_days`), so the forecast of a day is the same however its days were run, and every
day's forecast can be kept and scored against the actuals later (`forecast_accuracy`).

Every strategy forecasts a panel of daily revenue series at once: the shop's total and one series
per product (zero on a day without sales, from the product's first sale in the window on):

- `linear`: per series, a straight trend on the day index plus a level per weekday (the old
  service's default, now with the weekday);
- `random_forest` and `gradient_boosting`: scikit-learn's forest and histogram gradient boosting,
  one global model over every product and one over the shop's total, on the features a retail
  forecaster expects, each series scaled by its own recent level: the weekday, the same-weekday
  lags (7/14/21/28 days and their median), the 7-day and 28-day means, the fortnight-on-fortnight
  trend, the share of days without sales and, from 12 weeks of history on, the day of the month
  and the days to its end (pay-day effects). The horizon is predicted directly, one lag group per week ahead (the days
  1-7 ahead from data at least 7 days old, 8-14 from data at least 14 days old, ...), never
  feeding predictions back in;
- `weekday_profile`: each series' recent level (the median of its last four weekly means, so a
  spike or a closed day does not move it) times the weekday profile of the whole shop (the median
  of each weekday over the last eight weeks); the same weekday profile shapes the demand forecast
  of `stock_alerts`;
- `seasonal_naive`: the last observed week repeated: the baseline.

`auto` runs a rolling-origin backtest (the last folds x horizon days, each predicted from the days
before it) of `AUTO_CANDIDATES` and keeps the one with the lowest MASE on the total series, the
baseline included: `auto` never ships a model that did worse than repeating last week on the same
folds. The summary says which won and by how much (`improvement_over_baseline_pct`). The forest is
backtested only when asked for by name: it costs the most and did no better than gradient boosting
in `benchmarks/bench_forecast.py`. The models learn from the history with one-off spikes capped
(`tamed`); the baseline repeats last week as it was.

Intervals are calibrated on the backtest (split conformal): the errors of the chosen strategy,
each divided by its series' MASE scale (the in-sample seasonal naive error), give per horizon day
the 10th and 90th percentiles, pooled for the total and across the products; the interval of a
series is its prediction plus those percentiles times its own scale. The backtest's coverage is
measured honestly, each fold's interval calibrated on the other folds only.

Units are forecast next to revenue: each series' revenue forecast times its units per unit of
revenue over the last 28 days (a product sold at price 0 gets its mean daily units).

A series with fewer than `MIN_HISTORY_DAYS` days of history gets a fallback instead: the
seasonal naive forecast with at least a week, else its mean (`model` says which), and a series
that never changed gets a flat forecast. Nothing is ever forecast below zero.
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from threadpoolctl import threadpool_limits

from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines.lib.schemas import SalesForecast, SalesForecastSummary, column_names

AUTO = "auto"
LINEAR = "linear"
RANDOM_FOREST = "random_forest"
GRADIENT_BOOSTING = "gradient_boosting"
WEEKDAY_PROFILE = "weekday_profile"
SEASONAL_NAIVE = "seasonal_naive"
STRATEGIES = (LINEAR, RANDOM_FOREST, GRADIENT_BOOSTING, WEEKDAY_PROFILE)  # the models
SCORED = (*STRATEGIES, SEASONAL_NAIVE)  # every strategy that can be asked for by name
# What `auto` backtests and chooses among, the baseline included. The forest is left out: it did no better
# than gradient boosting on the demo shop or the seasonal shop and costs the most (bench_forecast.py).
AUTO_CANDIDATES = (LINEAR, GRADIENT_BOOSTING, WEEKDAY_PROFILE, SEASONAL_NAIVE)
FALLBACK_SEASONAL_NAIVE = "fallback_seasonal_naive"
FALLBACK_MEAN = "fallback_mean"
FLAT = "flat"

DEFAULT_HORIZON = 14
HISTORY_DAYS = 180
MIN_HISTORY_DAYS = 14
SEASON = 7
BACKTEST_FOLDS = 3
INTERVAL_QUANTILES = (0.1, 0.9)
MIN_CALIBRATION_ERRORS = 20  # per horizon day; fewer pool the horizon's week, then the whole horizon
TREND_THRESHOLD = 0.05
TOTAL = -1  # the series key of all products together (NULL product_id in the table)
SEED = 0

LEVEL_DAYS = 28  # the recent level features and targets are scaled by
MIN_LEVEL_DAYS = 7
SAME_WEEKDAY_LAGS = 4
MONTH_FEATURES_FROM_DAYS = 84  # day-of-month features need a few months to mean anything
PROFILE_WEEKS = 8
UNIT_RATIO_DAYS = 28
MIN_DAYS_PER_WORKER = 8  # a process costs seconds to start: worth it for a backfill, not for a day
MAX_TARGET_RATIO = 20.0  # a product's one big day is at most 20x its level to the learner
SPIKE_CAP = 5.0  # a day above 5x the series' median day with sales is a one-off to the models
TOTAL_FEATURE = SAME_WEEKDAY_LAGS + 5  # the design column that is 1 on the total's rows

FORECAST_COLUMNS = column_names(SalesForecast)
SUMMARY_COLUMNS = column_names(SalesForecastSummary)


@dataclass(frozen=True)
class Score:
    """Backtest of one strategy: MAPE (%) and MASE of the total series, mean MASE of the products,
    and the share of actuals inside the 80% interval (total, products); NaN when not measurable."""

    mape: float
    mase: float
    product_mase: float
    coverage: float = float("nan")
    product_coverage: float = float("nan")


NO_SCORE = Score(float("nan"), float("nan"), float("nan"))


@dataclass
class ForecastResult:
    forecast: pd.DataFrame
    summary: pd.DataFrame
    model: str
    scores: dict[str, Score] = field(default_factory=dict)
    folds: int = 0
    history_days: int = 0
    missing_days: int = 0


# ---------------------------------------------------------------- the panel of series


@dataclass(frozen=True)
class Panel:
    """Daily revenue and units, one column per series (TOTAL first), zero-filled, over the days up to
    the as-of day; each series' age in days; the days missing from daily_sales_kpis (counted 0)."""

    revenue: pd.DataFrame
    units: pd.DataFrame
    history_days: pd.Series
    missing_days: int

    @property
    def days(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.revenue.index)


def sales_panel(
    daily: pd.DataFrame, products: pd.DataFrame, as_of: date | pd.Timestamp, history_days: int = HISTORY_DAYS
) -> Panel:
    """The trailing `history_days` up to `as_of` of daily_sales_kpis (`daily`: sale_date, revenue,
    units) and product_daily_sales (`products`), nothing after `as_of`. Days absent from `daily`
    count as zero and are reported in `missing_days`; a product's history starts on its first sale
    in the window; the window starts on the first day `daily` has."""
    as_of = pd.Timestamp(as_of).normalize()
    dates = pd.to_datetime(daily["sale_date"]).dt.normalize() if len(daily) else pd.Series(dtype="datetime64[ns]")
    known = daily[(dates <= as_of).to_numpy()]
    if known.empty:
        empty = pd.DataFrame(columns=pd.Index([TOTAL]), dtype="float64")
        return Panel(empty, empty.copy(), pd.Series({TOTAL: 0}), 0)
    seen = dates[dates <= as_of]
    days = pd.date_range(max(seen.min(), as_of - pd.Timedelta(days=history_days - 1)), as_of, freq="D")
    by_day = known.assign(sale_date=seen.to_numpy(), units=known.get("units", 0.0)).groupby("sale_date")
    total_revenue = by_day["revenue"].sum().reindex(days)
    total_units = by_day["units"].sum().reindex(days)
    product_dates = pd.to_datetime(products["sale_date"]).dt.normalize().to_numpy() if len(products) else None
    inside = (product_dates >= days[0]) & (product_dates <= days[-1]) if len(products) else None
    recent = products[inside].assign(sale_date=product_dates[inside]) if len(products) else products
    revenue, units = [total_revenue.rename(TOTAL)], [total_units.rename(TOTAL)]
    ages = [len(days)]
    if len(recent):
        per_revenue = recent.pivot_table(index="sale_date", columns="product_id", values="revenue", aggfunc="sum")
        per_units = recent.pivot_table(index="sale_date", columns="product_id", values="units", aggfunc="sum")
        per_revenue = per_revenue.reindex(days)
        per_units = per_units.reindex(index=days, columns=per_revenue.columns)
        first_sale = (per_revenue.notna() | per_units.notna()).to_numpy().argmax(axis=0)
        revenue.append(per_revenue)
        units.append(per_units)
        ages += list(len(days) - first_sale)
    revenue_frame = pd.concat(revenue, axis=1).astype("float64").fillna(0.0)
    units_frame = pd.concat(units, axis=1).astype("float64").fillna(0.0)
    return Panel(
        revenue_frame,
        units_frame,
        pd.Series(np.asarray(ages, dtype="int64"), index=revenue_frame.columns),
        int(total_revenue.isna().sum()),
    )


# ---------------------------------------------------------------- strategies
# Each takes the history (days x series, no NaN), the horizon and the history's days, and returns
# horizon x series.

Predictor = Callable[[np.ndarray, int, pd.DatetimeIndex], np.ndarray]


def future_days(days: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    return pd.date_range(days[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")


def predict_linear(history: np.ndarray, horizon: int, days: pd.DatetimeIndex) -> np.ndarray:
    """Least squares per series on the day index and one level per weekday."""
    n_days = len(history)
    calendar = days.append(future_days(days, horizon))
    design = np.column_stack([np.arange(n_days + horizon), np.eye(SEASON)[calendar.weekday]])
    coefficients, *_ = np.linalg.lstsq(design[:n_days], history, rcond=None)
    return design[n_days:] @ coefficients


def predict_seasonal_naive(history: np.ndarray, horizon: int, days: pd.DatetimeIndex | None = None) -> np.ndarray:
    last_week = history[-SEASON:]
    return last_week[np.arange(horizon) % len(last_week)]


def predict_mean(history: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(history.mean(axis=0, keepdims=True), horizon, axis=0)


def weekday_profile(pooled: np.ndarray, days: pd.DatetimeIndex, weeks: int = PROFILE_WEEKS) -> np.ndarray:
    """Seven factors (Monday first, mean 1): each weekday's median over the last `weeks` weeks of the
    `pooled` series (the means when the medians are all zero); ones without a full week or sales."""
    if len(pooled) < SEASON:
        return np.ones(SEASON)
    recent, weekday = pooled[-weeks * SEASON :], days[-weeks * SEASON :].weekday.to_numpy()
    for typical in (np.median, np.mean):
        factors = np.array([typical(recent[weekday == day]) for day in range(SEASON)])
        if factors.sum() > 0:
            return factors / factors.mean()
    return np.ones(SEASON)


def recent_level(history: np.ndarray, days: pd.DatetimeIndex, profile: np.ndarray) -> np.ndarray:
    """Per series, the median of the means of its last four whole weeks (fewer with less history);
    under a week, the mean of its days each divided by its weekday's factor."""
    whole_weeks = min(len(history) // SEASON, LEVEL_DAYS // SEASON)
    if whole_weeks == 0:
        factors = profile[days.weekday.to_numpy()]
        with np.errstate(divide="ignore", invalid="ignore"):
            adjusted = np.where(factors[:, None] > 0, history / factors[:, None], 0.0)
        return adjusted.mean(axis=0) if len(history) else np.zeros(history.shape[1])
    weeks = history[len(history) - whole_weeks * SEASON :].reshape(whole_weeks, SEASON, -1).mean(axis=1)
    return np.median(weeks, axis=0)


def predict_weekday_profile(
    history: np.ndarray, horizon: int, days: pd.DatetimeIndex, pooled: np.ndarray | None = None
) -> np.ndarray:
    """Recent level x the weekday profile of `pooled` (by default the first column: the total)."""
    profile = weekday_profile(history[:, 0] if pooled is None else pooled, days)
    level = recent_level(history, days, profile)
    return profile[future_days(days, horizon).weekday.to_numpy()][:, None] * level[None, :]


def _lag_groups(horizon: int) -> list[int]:
    """The minimum data age (days) of each week of the horizon: 7 for days 1-7, 14 for 8-14, ..."""
    return [SEASON * week for week in range(1, math.ceil(horizon / SEASON) + 1)]


def _design(values: np.ndarray, calendar: pd.DatetimeIndex, lag: int, month_features: bool) -> tuple[np.ndarray, ...]:
    """Features of every (day, series) cell of `values` (days x series, NaN = not known yet) from the
    days at least `lag` before it, relative to the series' level then (the mean of its `LEVEL_DAYS`
    days up to `lag` days before); the level; raveled day-major. The weekday is the last column."""
    frame = pd.DataFrame(values)
    known = frame.shift(lag)
    level = known.rolling(LEVEL_DAYS, min_periods=MIN_LEVEL_DAYS).mean()
    scale = level.where(level > 0)
    same_weekday = np.stack([(frame.shift(lag + SEASON * k) / scale).to_numpy() for k in range(SAME_WEEKDAY_LAGS)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN at the start of the history
        weekday_median = np.nanmedian(same_weekday, axis=0)
    fortnight = known.rolling(2 * SEASON, min_periods=2 * SEASON).mean()
    quiet = known.eq(0).astype("float64").where(known.notna())
    rows, series = values.shape
    columns = [
        *(lagged.ravel() for lagged in same_weekday),
        weekday_median.ravel(),
        (known.rolling(SEASON, min_periods=SEASON).mean() / scale).to_numpy().ravel(),
        ((fortnight - fortnight.shift(2 * SEASON)) / scale).to_numpy().ravel(),
        quiet.rolling(LEVEL_DAYS, min_periods=MIN_LEVEL_DAYS).mean().to_numpy().ravel(),
        np.log1p(level.to_numpy()).ravel(),
        np.tile(np.arange(series) == 0, rows).astype("float64"),  # TOTAL_FEATURE
        np.full(rows * series, lag / SEASON),
    ]
    if month_features:
        columns += [
            np.repeat(calendar.day.to_numpy(), series),
            np.repeat(calendar.days_in_month - calendar.day, series),
        ]
    columns.append(np.repeat(calendar.weekday.to_numpy(), series))
    return np.column_stack(columns).astype("float64"), level.to_numpy().ravel()


@dataclass(frozen=True)
class _Training:
    features: np.ndarray
    target: np.ndarray  # the day's value over the series' level then, clipped


@dataclass(frozen=True)
class _Wanted:
    features: np.ndarray
    level: np.ndarray
    cells: np.ndarray  # (horizon day - 1, series) of each row


def _learning_rows(history: np.ndarray, horizon: int, days: pd.DatetimeIndex) -> tuple[_Training, _Wanted]:
    """Training rows (every known day with a positive level) and the rows to predict (the horizon's
    days), of every lag group."""
    n_days, series = history.shape
    calendar = days.append(future_days(days, horizon))
    extended = np.vstack([history, np.full((horizon, series), np.nan)])
    month_features = n_days >= MONTH_FEATURES_FROM_DAYS
    day = np.repeat(np.arange(n_days + horizon), series)
    column = np.tile(np.arange(series), n_days + horizon)
    step = day - n_days + 1
    train: list[tuple[np.ndarray, ...]] = []
    wanted: list[tuple[np.ndarray, ...]] = []
    for lag in _lag_groups(horizon):
        features, level = _design(extended, calendar, lag, month_features)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.clip(extended.ravel() / level, 0, MAX_TARGET_RATIO)
        learnable = (day < n_days) & (level > 0)
        in_group = (step > lag - SEASON) & (step <= lag)
        train.append((features[learnable], ratio[learnable]))
        wanted.append((features[in_group], level[in_group], np.column_stack([step[in_group] - 1, column[in_group]])))
    return (
        _Training(*(np.concatenate(parts) for parts in zip(*train, strict=True))),
        _Wanted(*(np.concatenate(parts) for parts in zip(*wanted, strict=True))),
    )


def _global_model(name: str, rows: int, categorical: int):
    leaf = int(np.clip(rows // 200, 5, 40))
    if name == GRADIENT_BOOSTING:
        return HistGradientBoostingRegressor(
            loss="absolute_error",  # the median: one spike day should not lift the forecast
            max_iter=60,
            learning_rate=0.15,
            max_leaf_nodes=15,
            min_samples_leaf=leaf,
            l2_regularization=1.0,
            categorical_features=[categorical],
            early_stopping=False,
            random_state=SEED,
        )
    return RandomForestRegressor(
        n_estimators=30,
        min_samples_leaf=leaf,
        max_features=0.6,
        max_samples=0.6,
        max_depth=12,
        random_state=SEED,
        n_jobs=1,
    )


def _fit_predict(name: str, features: np.ndarray, target: np.ndarray, future: np.ndarray) -> np.ndarray:
    if name == RANDOM_FOREST:  # older scikit-learn forests refuse NaN
        features, future = np.nan_to_num(features, nan=-1.0), np.nan_to_num(future, nan=-1.0)
    else:
        # A lag longer than the history has no value on any training row; binning such a column fails
        # in scikit-learn 1.9 ("window shape cannot be larger than input array shape"): leave it out.
        usable = ~np.isnan(features).all(axis=0)
        features, future = features[:, usable], future[:, usable]
    model = _global_model(name, len(target), features.shape[1] - 1)  # the weekday, never missing, stays last
    with threadpool_limits(limits=1):  # OpenMP spinning on a busy 2-core machine costs 10x
        model.fit(features, target)
        return model.predict(future)


def predict_global(name: str, history: np.ndarray, horizon: int, days: pd.DatetimeIndex) -> np.ndarray:
    """`gradient_boosting` or `random_forest`: one model over every product's scaled days, and one
    over the total's (the products' noise would drown its smooth series; weighting it instead makes
    scikit-learn's binning ten times slower)."""
    train, wanted = _learning_rows(history, horizon, days)
    if len(train.target) < 2 * SEASON:
        return predict_weekday_profile(history, horizon, days)  # too little to learn from
    cells = wanted.cells
    trained_total = train.features[:, TOTAL_FEATURE] == 1
    wanted_total = cells[:, 1] == 0
    ratio = np.zeros(len(cells))
    for fitted, predicted in ((trained_total, wanted_total), (~trained_total, ~wanted_total)):
        if not predicted.any():
            continue
        if fitted.sum() < 2 * SEASON:
            fitted = np.ones_like(fitted)  # a young shop: learn from every series
        ratio[predicted] = _fit_predict(name, train.features[fitted], train.target[fitted], wanted.features[predicted])
    level = np.where(np.isfinite(wanted.level), wanted.level, 0.0)
    forecast = np.zeros((horizon, history.shape[1]))
    forecast[cells[:, 0], cells[:, 1]] = np.clip(ratio, 0, None) * level
    return forecast


def tamed(history: np.ndarray) -> np.ndarray:
    """The history with each series' days capped at `SPIKE_CAP` times its median day with sales: a
    one-off 50x day would otherwise lift the level, a weekday or the trend every model learns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series without sales
        typical = np.nanmedian(np.where(history > 0, history, np.nan), axis=0)
    cap = np.where(np.isfinite(typical), SPIKE_CAP * typical, np.inf)
    return np.minimum(history, cap[None, :])


def predictor(name: str) -> Predictor:
    """The strategy's forecast; the models learn from the tamed history, the baseline repeats last week as it was."""
    if name == SEASONAL_NAIVE:
        return predict_seasonal_naive
    if name in (RANDOM_FOREST, GRADIENT_BOOSTING):
        return lambda history, horizon, days: predict_global(name, tamed(history), horizon, days)
    model = {LINEAR: predict_linear, WEEKDAY_PROFILE: predict_weekday_profile}[name]
    return lambda history, horizon, days: model(tamed(history), horizon, days)


# ---------------------------------------------------------------- backtest and intervals


def backtest_origins(n_days: int, horizon: int, folds: int = BACKTEST_FOLDS) -> list[tuple[int, int]]:
    """(origin, days predicted) of each fold, oldest first: train on [0, origin), test the next days.
    Too short for one whole fold, a single fold tests the days after the minimum history if they
    make at least a week (judging a model on fewer days is noise)."""
    origins = [n_days - k * horizon for k in range(folds, 0, -1)]
    origins = [(origin, horizon) for origin in origins if origin >= MIN_HISTORY_DAYS]
    if not origins and n_days >= MIN_HISTORY_DAYS + SEASON:
        origins = [(MIN_HISTORY_DAYS, n_days - MIN_HISTORY_DAYS)]
    return origins


def mase_scale(history: np.ndarray) -> np.ndarray:
    """Mean absolute error of the in-sample seasonal naive forecast, per series (the MASE scale);
    NaN for a series with no more than a week or one that repeats itself exactly."""
    if len(history) <= SEASON:
        return np.full(history.shape[1], np.nan)
    scale = np.abs(history[SEASON:] - history[:-SEASON]).mean(axis=0)
    return np.where(scale > 0, scale, np.nan)


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    positive = actual > 0
    if not positive.any():
        return float("nan")
    return float(np.mean(np.abs(actual[positive] - predicted[positive]) / actual[positive]) * 100)


def _finite_mean(values: np.ndarray) -> np.ndarray:
    """Column means over the finite entries; NaN for a column without any."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    sums = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def interval_quantiles(scaled_errors: Iterable[np.ndarray], horizon: int, series: int) -> tuple[np.ndarray, ...]:
    """(low, high), each horizon x series: the 10th and 90th percentiles of the scaled errors
    (actual - predicted) / scale of the folds given (each days x series, days <= horizon), for
    the total alone and the products pooled; per horizon day when it has `MIN_CALIBRATION_ERRORS`,
    else over its week of the horizon, else over the whole horizon; 0 without any error."""
    stacked = np.full((0, horizon, series), np.nan)
    folds = [np.pad(errors, ((0, horizon - len(errors)), (0, 0)), constant_values=np.nan) for errors in scaled_errors]
    if folds:
        stacked = np.stack(folds)
    low, high = np.zeros((horizon, series)), np.zeros((horizon, series))
    steps = np.arange(horizon)
    for columns in (slice(0, 1), slice(1, series)):
        group = stacked[:, :, columns]
        if group.shape[2] == 0:
            continue
        for step in steps:
            for pooled in (steps == step, steps // SEASON == step // SEASON, steps >= 0):
                errors = group[:, pooled].ravel()
                errors = errors[np.isfinite(errors)]
                if len(errors) >= MIN_CALIBRATION_ERRORS or (pooled.all() and len(errors)):
                    low[step, columns], high[step, columns] = conformal_quantiles(errors)
                    break
    return np.minimum(low, 0.0), np.maximum(high, 0.0)


def conformal_quantiles(errors: np.ndarray) -> tuple[float, float]:
    """The 10th and 90th percentiles of `errors` with the split-conformal small-sample correction:
    the floor((n + 1) x 0.1)-th smallest and the ceil((n + 1) x 0.9)-th smallest of n errors (the
    extremes when n is too small), so that a new error falls between them at least 80% of the time."""
    ordered = np.sort(errors)
    n = len(ordered)
    low_rank = math.floor((n + 1) * INTERVAL_QUANTILES[0])
    high_rank = math.ceil((n + 1) * INTERVAL_QUANTILES[1])
    return float(ordered[max(low_rank, 1) - 1]), float(ordered[min(high_rank, n) - 1])


def interval(predicted: np.ndarray, low: np.ndarray, high: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, ...]:
    """(lower, upper) around `predicted` (days x series) from scaled quantiles and the series' scales."""
    scale = np.where(np.isfinite(scale), scale, 0.0)
    days = len(predicted)
    return np.clip(predicted + low[:days] * scale, 0, None), predicted + high[:days] * scale


@dataclass
class Backtest:
    scores: dict[str, Score]
    scaled_errors: dict[str, list[np.ndarray]]  # strategy -> per fold (days x series) error / scale
    folds: int


def backtest(values: np.ndarray, days: pd.DatetimeIndex, horizon: int, strategies: Iterable[str]) -> Backtest:
    """Score each strategy on rolling origins; column 0 of `values` is the total series."""
    origins = backtest_origins(len(values), horizon)
    scores, scaled_errors = {}, {}
    for name in strategies:
        if not origins:
            scores[name] = NO_SCORE
            continue
        actuals, predictions, scales = [], [], []
        for origin, length in origins:
            train = values[:origin]
            actuals.append(values[origin : origin + length])
            predictions.append(np.clip(predictor(name)(train, length, days[:origin]), 0, None))
            scales.append(mase_scale(train))
        errors = [
            (actual - predicted) / scale for actual, predicted, scale in zip(actuals, predictions, scales, strict=True)
        ]
        mase = _finite_mean(np.vstack([np.abs(error).mean(axis=0) for error in errors]))
        coverage = _coverage(actuals, predictions, scales, errors, horizon)
        total_actual, total_predicted = (
            np.concatenate([a[:, 0] for a in actuals]),
            np.concatenate([p[:, 0] for p in predictions]),
        )
        scores[name] = Score(
            mape=_mape(total_actual, total_predicted),
            mase=float(mase[0]),
            product_mase=float(_finite_mean(mase[1:, None])[0]) if len(mase) > 1 else float("nan"),
            coverage=coverage[0],
            product_coverage=coverage[1],
        )
        scaled_errors[name] = errors
    return Backtest(scores, scaled_errors, len(origins))


def _coverage(actuals, predictions, scales, errors, horizon: int) -> tuple[float, float]:
    """Share of actuals inside the 80% interval, each fold's calibrated on the other folds only."""
    if len(actuals) < 2:
        return float("nan"), float("nan")
    series = actuals[0].shape[1]
    inside: list[np.ndarray] = []
    for fold, (actual, predicted, scale) in enumerate(zip(actuals, predictions, scales, strict=True)):
        others = [error for other, error in enumerate(errors) if other != fold]
        low, high = interval_quantiles(others, horizon, series)
        lower, upper = interval(predicted, low, high, scale)
        hit = ((actual >= lower - 1e-9) & (actual <= upper + 1e-9)).astype("float64")
        inside.append(np.where(np.isfinite(scale), hit, np.nan))
    hits = np.vstack(inside)
    total = _finite_mean(hits[:, :1])[0]
    products = hits[:, 1:][np.isfinite(hits[:, 1:])]
    return float(total), float(products.mean()) if products.size else float("nan")


def choose(scores: dict[str, Score]) -> str:
    """The strategy with the lowest total-series MASE (then product MASE, then MAPE); seasonal naive
    wins a tie, being the simplest, and when nothing was scored."""

    def key(name: str) -> tuple:
        score = scores[name]
        return (
            score.mase,
            score.product_mase if np.isfinite(score.product_mase) else np.inf,
            score.mape if np.isfinite(score.mape) else np.inf,
            name != SEASONAL_NAIVE,
        )

    ranked = [name for name, score in scores.items() if np.isfinite(score.mase)]
    return min(ranked, key=key) if ranked else SEASONAL_NAIVE


# ---------------------------------------------------------------- the forecast


def forecast_sales(
    daily: pd.DataFrame,
    products: pd.DataFrame,
    generated_at: pd.Timestamp,
    as_of: date | pd.Timestamp | None = None,
    horizon: int = DEFAULT_HORIZON,
    strategy: str = AUTO,
    history_days: int = HISTORY_DAYS,
) -> ForecastResult:
    """Revenue and units of the `horizon` days after `as_of` (default: the last day of `daily`),
    total and per product, from the days up to `as_of` only, with the summary row; `strategy` is
    `auto` or one of `SCORED`."""
    if strategy != AUTO and strategy not in SCORED:
        raise ValueError(f"forecast strategy must be {AUTO!r} or one of {SCORED}, got {strategy!r}")
    if horizon < 1:
        raise ValueError(f"forecast horizon must be at least one day, got {horizon}")
    if as_of is None:
        as_of = pd.to_datetime(daily["sale_date"]).max() if len(daily) else pd.Timestamp(generated_at).normalize()
    as_of = pd.Timestamp(as_of).normalize().as_unit("ns")
    generated_at = pd.Timestamp(generated_at).as_unit("ns")
    panel = sales_panel(daily, products, as_of, history_days)
    values = panel.revenue.to_numpy()
    if len(values) < MIN_HISTORY_DAYS:
        forecast = _assemble(panel, as_of, None, None, FALLBACK_MEAN, horizon, generated_at)
        return _result(panel, as_of, forecast, generated_at, horizon, strategy, None)
    candidates = AUTO_CANDIDATES if strategy == AUTO else tuple(dict.fromkeys((strategy, SEASONAL_NAIVE)))
    tested = backtest(values, panel.days, horizon, candidates)
    if not tested.folds:  # exactly the minimum history: nothing to backtest on, every series falls back
        forecast = _assemble(panel, as_of, None, None, FALLBACK_SEASONAL_NAIVE, horizon, generated_at)
        return _result(panel, as_of, forecast, generated_at, horizon, strategy, tested)
    chosen = choose(tested.scores) if strategy == AUTO else strategy
    predicted = np.clip(predictor(chosen)(values, horizon, panel.days), 0, None)
    quantiles = interval_quantiles(tested.scaled_errors.get(chosen, []), horizon, values.shape[1])
    forecast = _assemble(panel, as_of, predicted, quantiles, chosen, horizon, generated_at)
    return _result(panel, as_of, forecast, generated_at, horizon, strategy, tested)


def forecast_as_of_days(
    daily: pd.DataFrame,
    products: pd.DataFrame,
    as_of_days: Iterable[date | pd.Timestamp],
    generated_at: pd.Timestamp,
    horizon: int = DEFAULT_HORIZON,
    strategy: str = AUTO,
    history_days: int = HISTORY_DAYS,
    workers: int = 1,
) -> list[ForecastResult]:
    """One forecast per as-of day, each from the days up to it only (a backfill's days), in order.

    With `workers` > 1 and at least `MIN_DAYS_PER_WORKER` days each, the days are shared among
    that many processes; every day is still forecast alone, so the results are the same.
    """
    days = [pd.Timestamp(day).normalize() for day in as_of_days]
    settings = {"horizon": horizon, "strategy": strategy, "history_days": history_days}
    if strategy != AUTO and strategy not in SCORED:  # fail here, not in a worker
        raise ValueError(f"forecast strategy must be {AUTO!r} or one of {SCORED}, got {strategy!r}")
    workers = min(workers, len(days) // MIN_DAYS_PER_WORKER)
    if workers <= 1:
        return [forecast_sales(daily, products, generated_at, as_of=day, **settings) for day in days]
    # Spawned, not forked: the parent (a Dagster run) has threads a fork would copy mid-lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_share, initargs=(daily, products)) as pool:
        return list(pool.map(_forecast_shared, days, [generated_at] * len(days), [settings] * len(days), chunksize=4))


_shared: dict[str, pd.DataFrame] = {}


def _share(daily: pd.DataFrame, products: pd.DataFrame) -> None:
    _shared.update(daily=daily, products=products)


def _forecast_shared(day: pd.Timestamp, generated_at: pd.Timestamp, settings: dict) -> ForecastResult:
    return forecast_sales(_shared["daily"], _shared["products"], generated_at, as_of=day, **settings)


def _fallback(series: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Prediction, in-sample residuals and model name for a series too short to backtest."""
    if len(series) >= SEASON:
        prediction = predict_seasonal_naive(series[:, None], horizon)[:, 0]
        return prediction, series[SEASON:] - series[:-SEASON], FALLBACK_SEASONAL_NAIVE
    return predict_mean(series[:, None], horizon)[:, 0], series - series.mean(), FALLBACK_MEAN


def _bounds(residuals: np.ndarray) -> tuple[float, float]:
    finite = residuals[np.isfinite(residuals)]
    if finite.size == 0:
        return 0.0, 0.0
    low, high = np.quantile(finite, INTERVAL_QUANTILES)
    return float(min(low, 0.0)), float(max(high, 0.0))


def units_per_revenue(panel: Panel, days: int = UNIT_RATIO_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Per series: units per unit of revenue over its last `days` days (NaN without revenue there),
    and its mean daily units then (for a series sold at price 0)."""
    revenue = panel.revenue.to_numpy()[-days:].sum(axis=0)
    units = panel.units.to_numpy()[-days:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(revenue > 0, units.sum(axis=0) / revenue, np.nan)
    return ratio, units.mean(axis=0) if len(units) else np.zeros(len(revenue))


def _assemble(
    panel: Panel,
    as_of: pd.Timestamp,
    predicted: np.ndarray | None,
    quantiles: tuple[np.ndarray, np.ndarray] | None,
    chosen: str,
    horizon: int,
    generated_at: pd.Timestamp,
) -> pd.DataFrame:
    if panel.revenue.empty:
        return empty_forecast()
    values = panel.revenue.to_numpy()
    scales = mase_scale(values)
    ratios, mean_units = units_per_revenue(panel)
    dates = pd.date_range(as_of + pd.Timedelta(days=1), periods=horizon, freq="D")
    frames = []
    for position, key in enumerate(panel.revenue.columns):
        age = int(panel.history_days[key])
        series = values[len(values) - age :, position]
        if np.ptp(series) == 0:
            prediction, model = np.full(horizon, series[0]), FLAT
            lower, upper = prediction, prediction
        elif age < MIN_HISTORY_DAYS or predicted is None:
            prediction, in_sample, model = _fallback(series, horizon)
            low, high = _bounds(in_sample)
            lower, upper = np.clip(prediction + low, 0, None), prediction + high
        else:
            prediction, model = predicted[:, position], chosen
            low, high = quantiles if quantiles is not None else (np.zeros((horizon, 1)),) * 2
            column = min(position, low.shape[1] - 1)
            lower, upper = interval(
                prediction[:, None],
                low[:, column : column + 1],
                high[:, column : column + 1],
                scales[position : position + 1],
            )
            lower, upper = lower[:, 0], upper[:, 0]
        prediction = np.clip(prediction, 0, None)
        lower, upper = np.minimum(np.clip(lower, 0, None), prediction), np.maximum(upper, prediction)
        ratio = ratios[position]
        if np.isfinite(ratio):
            units = (prediction * ratio, lower * ratio, upper * ratio)
        else:
            units = (np.full(horizon, mean_units[position]),) * 3
        frames.append(
            pd.DataFrame(
                {
                    "forecast_date": dates,
                    "product_id": pd.array([pd.NA if key == TOTAL else key] * horizon, dtype="Int64"),
                    "predicted_revenue": round_money(prediction),
                    "lower": round_money(lower),
                    "upper": round_money(upper),
                    "model": pd.array([model] * horizon, dtype="string"),
                    "generated_at": generated_at,
                    "as_of_date": as_of,
                    "horizon_day": np.arange(1, horizon + 1, dtype="int64"),
                    "predicted_units": np.round(units[0], 2),
                    "units_lower": np.round(units[1], 2),
                    "units_upper": np.round(units[2], 2),
                    "mase_scale": np.full(horizon, scales[position] if age > SEASON else np.nan),
                }
            )
        )
    forecast = pd.concat(frames, ignore_index=True)
    forecast["generated_at"] = pd.Timestamp(generated_at)
    return forecast[FORECAST_COLUMNS]


def empty_forecast() -> pd.DataFrame:
    dtypes = {
        "forecast_date": "datetime64[ns]",
        "product_id": "Int64",
        "model": "string",
        "generated_at": "datetime64[ns]",
        "as_of_date": "datetime64[ns]",
        "horizon_day": "int64",
    }
    return pd.DataFrame({column: pd.Series(dtype=dtypes.get(column, "float64")) for column in FORECAST_COLUMNS})


def empty_summary() -> pd.DataFrame:
    dtypes = {"generated_at": "datetime64[ns]", "peak_day": "datetime64[ns]", "as_of_date": "datetime64[ns]"}
    dtypes |= {"horizon_days": "int64", "trend": "string", "model": "string", "strategy": "string"}
    return pd.DataFrame({column: pd.Series(dtype=dtypes.get(column, "float64")) for column in SUMMARY_COLUMNS})


def trend(forecast_average: float, recent_average: float, threshold: float = TREND_THRESHOLD) -> str:
    """`upward` / `downward` when the forecast's daily average is more than `threshold` above /
    below the actual daily average of the same number of days just before; else `stable`."""
    if recent_average <= 0:
        return "upward" if forecast_average > 0 else "stable"
    change = forecast_average / recent_average - 1
    if change > threshold:
        return "upward"
    if change < -threshold:
        return "downward"
    return "stable"


def improvement_over_baseline(scores: dict[str, Score], model: str) -> float:
    """How much lower (%) the model's backtest MASE is than seasonal naive's on the same folds (0 for
    seasonal naive itself; NaN when either was not scored)."""
    chosen, baseline = scores.get(model, NO_SCORE).mase, scores.get(SEASONAL_NAIVE, NO_SCORE).mase
    if not (np.isfinite(chosen) and np.isfinite(baseline)):
        return float("nan")
    if model == SEASONAL_NAIVE or chosen == baseline:
        return 0.0
    return (1 - chosen / baseline) * 100 if baseline > 0 else float("nan")


def _result(
    panel: Panel,
    as_of: pd.Timestamp,
    forecast: pd.DataFrame,
    generated_at: pd.Timestamp,
    horizon: int,
    strategy: str,
    tested: Backtest | None,
) -> ForecastResult:
    total = forecast[forecast["product_id"].isna()]
    model = str(total["model"].iloc[0]) if len(total) else FALLBACK_MEAN
    recent = panel.revenue[TOTAL].iloc[-horizon:] if len(panel.revenue) else pd.Series(dtype="float64")
    scores = tested.scores if tested else {}
    chosen_score = scores.get(model, NO_SCORE)
    peak = total.loc[total["predicted_revenue"].idxmax()] if len(total) else None
    row = {
        "generated_at": pd.Timestamp(generated_at),
        "horizon_days": horizon,
        "trend": trend(float(total["predicted_revenue"].mean()) if len(total) else 0.0, float(recent.mean() or 0.0)),
        "total": float(round_money(total["predicted_revenue"].sum())),
        "daily_average": float(round_money(total["predicted_revenue"].mean())) if len(total) else 0.0,
        "peak_value": float(peak["predicted_revenue"]) if peak is not None else np.nan,
        "peak_day": peak["forecast_date"] if peak is not None else pd.NaT,
        "model": model,
        "backtest_mape": _rounded(chosen_score.mape),
        "backtest_mase": _rounded(chosen_score.mase, 4),
        "strategy": strategy,
        "as_of_date": as_of,
        "total_units": round(float(total["predicted_units"].sum()), 2),
        "improvement_over_baseline_pct": _rounded(improvement_over_baseline(scores, model)),
        "backtest_coverage": _rounded(chosen_score.coverage, 4),
        "backtest_product_coverage": _rounded(chosen_score.product_coverage, 4),
    }
    for name in SCORED:
        score = scores.get(name, NO_SCORE)
        row[f"mape_{name}"] = _rounded(score.mape)
        row[f"mase_{name}"] = _rounded(score.mase, 4)
    summary = pd.DataFrame([row])
    summary["peak_day"] = pd.to_datetime(summary["peak_day"])
    summary["as_of_date"] = pd.to_datetime(summary["as_of_date"])
    summary["horizon_days"] = summary["horizon_days"].astype("int64")
    for text in ("trend", "model", "strategy"):
        summary[text] = summary[text].astype("string")
    numbers = [
        name
        for name in SUMMARY_COLUMNS
        if name not in ("generated_at", "horizon_days", "trend", "peak_day", "model", "strategy", "as_of_date")
    ]
    summary[numbers] = summary[numbers].astype("float64")
    return ForecastResult(
        forecast=forecast,
        summary=summary[SUMMARY_COLUMNS],
        model=model,
        scores=scores,
        folds=tested.folds if tested else 0,
        history_days=len(panel.revenue),
        missing_days=panel.missing_days,
    )


def _rounded(value: float, digits: int = 2) -> float:
    return round(float(value), digits) if np.isfinite(value) else np.nan


def scores_table(scores: dict[str, Score]) -> pd.DataFrame:
    """One row per strategy: its backtest MAPE, MASE and interval coverage, best MASE first."""
    table = pd.DataFrame(
        [
            {
                "strategy": name,
                "mape": score.mape,
                "mase": score.mase,
                "product_mase": score.product_mase,
                "coverage": score.coverage,
                "product_coverage": score.product_coverage,
            }
            for name, score in scores.items()
        ]
    )
    return table.sort_values("mase", na_position="last").reset_index(drop=True) if len(table) else table
