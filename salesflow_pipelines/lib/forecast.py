"""Revenue forecasts for the next days, for the whole shop and per product.

Every strategy forecasts a panel of daily revenue series at once: the shop's total and one
series per product (zero on a day without sales, from the product's first sale on):

- `linear`: a straight trend on the day index, per series (the old service's default);
- `random_forest`: one multi-output forest on the day index and the weekday, every series
  scaled by its mean so the big total does not drown the products (leaves of at least a week
  of days, so one spike does not become the forecast);
- `gradient_boosting`: one global `HistGradientBoostingRegressor` over every series (scaled)
  with the weekday and same-weekday lags of at least the horizon, so the whole horizon is
  predicted directly, without feeding predictions back in;
- `seasonal_naive`: the last observed week repeated, the baseline every strategy is scored
  against.

`auto` runs a rolling-origin backtest (the last folds x horizon days, each predicted from the
days before it) and keeps the model strategy with the lowest MASE on the total series; the
baseline is scored beside them but not chosen by `auto`, since repeating last week also repeats
last week's spike or closed day (ask for `seasonal_naive` by name to get it). The 80% interval
is the 10th to 90th percentile of the chosen strategy's backtest errors per series.

A series with fewer than `MIN_HISTORY_DAYS` days of history gets a fallback instead: the
seasonal naive forecast with at least a week, else its mean (`model` says which), and a series
that never changed gets a flat forecast. Revenue is never forecast below zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression

from salesflow_pipelines.lib.money import round_money

AUTO = "auto"
LINEAR = "linear"
RANDOM_FOREST = "random_forest"
GRADIENT_BOOSTING = "gradient_boosting"
SEASONAL_NAIVE = "seasonal_naive"
STRATEGIES = (LINEAR, RANDOM_FOREST, GRADIENT_BOOSTING)
SCORED = (*STRATEGIES, SEASONAL_NAIVE)
FALLBACK_SEASONAL_NAIVE = "fallback_seasonal_naive"
FALLBACK_MEAN = "fallback_mean"
FLAT = "flat"

DEFAULT_HORIZON = 14
HISTORY_DAYS = 180
MIN_HISTORY_DAYS = 14
SEASON = 7
BACKTEST_FOLDS = 3
INTERVAL_QUANTILES = (0.1, 0.9)
TREND_THRESHOLD = 0.05
TOTAL = -1  # the series key of all products together (NULL product_id in the table)
SEED = 0

FORECAST_COLUMNS = ["forecast_date", "product_id", "predicted_revenue", "lower", "upper", "model", "generated_at"]
SUMMARY_COLUMNS = [
    "generated_at",
    "horizon_days",
    "trend",
    "total",
    "daily_average",
    "peak_value",
    "peak_day",
    "model",
    "backtest_mape",
    "backtest_mase",
    "strategy",
    *[f"{metric}_{name}" for name in SCORED for metric in ("mape", "mase")],
]


@dataclass(frozen=True)
class Score:
    """Backtest errors of one strategy: MAPE (%) and MASE of the total series, mean MASE of the products."""

    mape: float
    mase: float
    product_mase: float


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
    """Daily revenue, one column per series (TOTAL first), zero-filled, and each series' age in days."""

    values: pd.DataFrame
    history_days: pd.Series
    missing_days: int


def revenue_panel(daily: pd.DataFrame, products: pd.DataFrame, history_days: int = HISTORY_DAYS) -> Panel:
    """The trailing `history_days` up to the last day in `daily` (daily_sales_kpis), with
    per-product revenue (product_daily_sales). Days absent from `daily` count as zero and are
    reported in `missing_days`; a product's history starts on its first sale in the window."""
    if daily.empty:
        return Panel(pd.DataFrame(columns=pd.Index([TOTAL])), pd.Series({TOTAL: 0}), 0)
    days_seen = pd.DatetimeIndex(pd.to_datetime(daily["sale_date"]).dt.normalize())
    last = days_seen.max()
    days = pd.date_range(max(days_seen.min(), last - pd.Timedelta(days=history_days - 1)), last, freq="D")
    total = daily.assign(sale_date=days_seen).groupby("sale_date")["revenue"].sum().reindex(days)
    recent = products[(products["sale_date"] >= days[0]) & (products["sale_date"] <= days[-1])]
    per_product = recent.pivot_table(index="sale_date", columns="product_id", values="revenue", aggfunc="sum")
    per_product = per_product.reindex(days)
    first_sale = per_product.notna().to_numpy().argmax(axis=0)
    series = [total.rename(TOTAL), per_product] if per_product.shape[1] else [total.rename(TOTAL)]
    values = pd.concat(series, axis=1).astype("float64").fillna(0.0)
    ages = np.concatenate([[len(days)], len(days) - first_sale]).astype("int64")
    return Panel(values, pd.Series(ages, index=values.columns), int(total.isna().sum()))


# ---------------------------------------------------------------- strategies
# Each takes the history (days x series, no NaN) and the horizon and returns horizon x series.


def _scale(history: np.ndarray) -> np.ndarray:
    scale = history.mean(axis=0)
    return np.where(scale > 0, scale, 1.0)


def _future_index(n_days: int, horizon: int) -> np.ndarray:
    return np.arange(n_days, n_days + horizon)


def predict_linear(history: np.ndarray, horizon: int) -> np.ndarray:
    n_days = len(history)
    model = LinearRegression().fit(np.arange(n_days).reshape(-1, 1), history)
    return model.predict(_future_index(n_days, horizon).reshape(-1, 1)).reshape(horizon, -1)


def _calendar(day_numbers: np.ndarray, first_weekday: int) -> np.ndarray:
    weekday = (day_numbers + first_weekday) % SEASON
    return np.column_stack([day_numbers, np.eye(SEASON)[weekday]])


def predict_random_forest(history: np.ndarray, horizon: int, first_weekday: int = 0) -> np.ndarray:
    n_days = len(history)
    scale = _scale(history)
    forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=7, random_state=SEED, n_jobs=-1)
    target = history / scale
    forest.fit(_calendar(np.arange(n_days), first_weekday), target[:, 0] if target.shape[1] == 1 else target)
    predicted = forest.predict(_calendar(_future_index(n_days, horizon), first_weekday))
    return predicted.reshape(horizon, -1) * scale


def _lag_features(scaled: np.ndarray, horizon: int, first_weekday: int) -> np.ndarray:
    """Features per (day, series), all from days at least `horizon` before the day: the latest
    same-weekday value, the median of the last four same-weekday values, the 7-day mean and the
    28-day median up to that day; plus the weekday. Medians keep a closed day or a one-day spike
    from echoing into the forecast; there is no day index, which trees cannot extrapolate."""
    lag = SEASON * int(np.ceil(horizon / SEASON))
    frame = pd.DataFrame(scaled)
    lagged = frame.shift(lag)
    same_weekday = np.stack([frame.shift(lag + k * SEASON).to_numpy() for k in range(4)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN at the start of the history
        weekday_median = np.nanmedian(same_weekday, axis=0)
    rows, series = scaled.shape
    weekday = (np.repeat(np.arange(rows), series) + first_weekday) % SEASON
    return np.column_stack(
        [
            lagged.to_numpy().ravel(),
            weekday_median.ravel(),
            lagged.rolling(SEASON, min_periods=1).mean().to_numpy().ravel(),
            lagged.rolling(4 * SEASON, min_periods=1).median().to_numpy().ravel(),
            weekday,
        ]
    )


def predict_gradient_boosting(history: np.ndarray, horizon: int, first_weekday: int = 0) -> np.ndarray:
    n_days, series = history.shape
    scale = _scale(history)
    extended = np.vstack([history / scale, np.full((horizon, series), np.nan)])
    features = _lag_features(extended, horizon, first_weekday)
    target = extended.ravel()
    known = ~np.isnan(target)
    # A lag longer than the history has no value on any training row; binning such a column fails
    # in scikit-learn 1.9 ("window shape cannot be larger than input array shape"): leave it out.
    usable = ~np.isnan(features[known]).all(axis=0)
    features = features[:, usable]
    model = HistGradientBoostingRegressor(
        max_iter=100,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        categorical_features=[features.shape[1] - 1],  # the weekday, never missing, stays last
        early_stopping=False,
        random_state=SEED,
    )
    model.fit(features[known], target[known])
    return model.predict(features[~known]).reshape(horizon, series) * scale


def predict_seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    last_week = history[-SEASON:]
    return last_week[np.arange(horizon) % len(last_week)]


def predict_mean(history: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(history.mean(axis=0, keepdims=True), horizon, axis=0)


def _predictor(name: str, first_weekday: int) -> Callable[[np.ndarray, int], np.ndarray]:
    if name == RANDOM_FOREST:
        return lambda history, horizon: predict_random_forest(history, horizon, first_weekday)
    if name == GRADIENT_BOOSTING:
        return lambda history, horizon: predict_gradient_boosting(history, horizon, first_weekday)
    return {LINEAR: predict_linear, SEASONAL_NAIVE: predict_seasonal_naive}[name]


# ---------------------------------------------------------------- backtest


def backtest_origins(n_days: int, horizon: int, folds: int = BACKTEST_FOLDS) -> list[tuple[int, int]]:
    """(origin, days predicted) of each fold, oldest first: train on [0, origin), test the next days."""
    origins = [n_days - k * horizon for k in range(folds, 0, -1)]
    origins = [(origin, horizon) for origin in origins if origin >= MIN_HISTORY_DAYS]
    if not origins and n_days > MIN_HISTORY_DAYS:
        origins = [(MIN_HISTORY_DAYS, n_days - MIN_HISTORY_DAYS)]
    return origins


def _seasonal_scale(history: np.ndarray) -> np.ndarray:
    """Mean absolute error of the in-sample seasonal naive forecast, per series (the MASE scale)."""
    if len(history) <= SEASON:
        return np.full(history.shape[1], np.nan)
    scale = np.abs(history[SEASON:] - history[:-SEASON]).mean(axis=0)
    return np.where(scale > 0, scale, np.nan)


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    positive = actual > 0
    if not positive.any():
        return float("nan")
    return float(np.mean(np.abs(actual[positive] - predicted[positive]) / actual[positive]) * 100)


@dataclass
class Backtest:
    scores: dict[str, Score]
    residuals: dict[str, np.ndarray]  # strategy -> (days tested x series) actual - predicted
    folds: int


def backtest(values: np.ndarray, horizon: int, strategies: tuple[str, ...], first_weekday: int) -> Backtest:
    """Score each strategy on rolling origins; column 0 of `values` is the total series."""
    origins = backtest_origins(len(values), horizon)
    errors: dict[str, list[np.ndarray]] = {name: [] for name in strategies}
    mase_parts: dict[str, list[np.ndarray]] = {name: [] for name in strategies}
    actuals = []
    for origin, days in origins:
        train, actual = values[:origin], values[origin : origin + days]
        actuals.append(actual)
        scale = _seasonal_scale(train)
        for name in strategies:
            predicted = np.clip(_predictor(name, first_weekday)(train, days), 0, None)
            errors[name].append(actual - predicted)
            mase_parts[name].append(np.abs(actual - predicted).mean(axis=0) / scale)
    scores, residuals = {}, {}
    for name in strategies:
        if not origins:
            scores[name] = Score(float("nan"), float("nan"), float("nan"))
            continue
        residual, actual = np.vstack(errors[name]), np.vstack(actuals)
        mase = _finite_mean(np.vstack(mase_parts[name]))
        scores[name] = Score(
            mape=_mape(actual[:, 0], actual[:, 0] - residual[:, 0]),
            mase=float(mase[0]),
            product_mase=float(_finite_mean(mase[1:, None])[0]),
        )
        residuals[name] = residual
    return Backtest(scores, residuals, len(origins))


def _finite_mean(values: np.ndarray) -> np.ndarray:
    """Column means over the finite entries; NaN for a column without any."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    sums = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def choose(scores: dict[str, Score]) -> str:
    """The strategy with the lowest total-series MASE (then MAPE); `linear` when nothing was scored."""
    ranked = [
        (score.mase, score.mape if np.isfinite(score.mape) else np.inf, name)
        for name, score in scores.items()
        if np.isfinite(score.mase)
    ]
    return min(ranked)[2] if ranked else LINEAR


# ---------------------------------------------------------------- the forecast


def forecast_revenue(
    daily: pd.DataFrame,
    products: pd.DataFrame,
    generated_at: pd.Timestamp,
    horizon: int = DEFAULT_HORIZON,
    strategy: str = AUTO,
    history_days: int = HISTORY_DAYS,
) -> ForecastResult:
    """The next `horizon` days of revenue after the last day of `daily`, total and per product,
    with the summary row; `strategy` is `auto` or one of `SCORED`."""
    if strategy != AUTO and strategy not in SCORED:
        raise ValueError(f"forecast strategy must be {AUTO!r} or one of {SCORED}, got {strategy!r}")
    if horizon < 1:
        raise ValueError(f"forecast horizon must be at least one day, got {horizon}")
    panel = revenue_panel(daily, products, history_days)
    values = panel.values.to_numpy()
    if len(values) < MIN_HISTORY_DAYS:
        forecast = _assemble(panel, None, None, FALLBACK_MEAN, horizon, generated_at)
        return _result(panel, forecast, generated_at, horizon, strategy, None)
    first_weekday = panel.values.index[0].weekday()
    candidates = SCORED if strategy == AUTO else tuple(dict.fromkeys((strategy, SEASONAL_NAIVE)))
    tested = backtest(values, horizon, candidates, first_weekday)
    chosen = choose({name: tested.scores[name] for name in STRATEGIES}) if strategy == AUTO else strategy
    predicted = np.clip(_predictor(chosen, first_weekday)(values, horizon), 0, None)
    forecast = _assemble(panel, predicted, tested.residuals.get(chosen), chosen, horizon, generated_at)
    return _result(panel, forecast, generated_at, horizon, strategy, tested)


def _fallback(series: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Prediction, in-sample residuals and model name for a series too short to backtest."""
    if len(series) >= SEASON:
        prediction = predict_seasonal_naive(series[:, None], horizon)[:, 0]
        return prediction, series[SEASON:] - series[:-SEASON], FALLBACK_SEASONAL_NAIVE
    return predict_mean(series[:, None], horizon)[:, 0], series - series.mean(), FALLBACK_MEAN


def _bounds(residuals: np.ndarray | None) -> tuple[float, float]:
    finite = residuals[np.isfinite(residuals)] if residuals is not None else np.array([])
    if finite.size == 0:
        return 0.0, 0.0
    low, high = np.quantile(finite, INTERVAL_QUANTILES)
    return float(min(low, 0.0)), float(max(high, 0.0))


def _assemble(
    panel: Panel,
    predicted: np.ndarray | None,
    residuals: np.ndarray | None,
    chosen: str,
    horizon: int,
    generated_at: pd.Timestamp,
) -> pd.DataFrame:
    if panel.values.empty:
        return _empty_forecast()
    values = panel.values.to_numpy()
    last_day = panel.values.index[-1]
    dates = pd.date_range(last_day + pd.Timedelta(days=1), periods=horizon, freq="D")
    frames = []
    for position, key in enumerate(panel.values.columns):
        age = int(panel.history_days[key])
        series = values[len(values) - age :, position]
        if np.ptp(series) == 0:
            prediction, low, high, model = np.full(horizon, series[0]), 0.0, 0.0, FLAT
        elif age < MIN_HISTORY_DAYS or predicted is None:
            prediction, in_sample, model = _fallback(series, horizon)
            low, high = _bounds(in_sample)
        else:
            prediction, model = predicted[:, position], chosen
            low, high = _bounds(residuals[:, position] if residuals is not None else None)
        prediction = np.clip(prediction, 0, None)
        frames.append(
            pd.DataFrame(
                {
                    "forecast_date": dates,
                    "product_id": pd.array([pd.NA if key == TOTAL else key] * horizon, dtype="Int64"),
                    "predicted_revenue": round_money(prediction),
                    "lower": round_money(np.clip(prediction + low, 0, None)),
                    "upper": round_money(prediction + high),
                    "model": pd.array([model] * horizon, dtype="string"),
                }
            )
        )
    forecast = pd.concat(frames, ignore_index=True)
    forecast["generated_at"] = generated_at
    return forecast[FORECAST_COLUMNS]


def _empty_forecast() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "forecast_date": pd.Series(dtype="datetime64[ns]"),
            "product_id": pd.Series(dtype="Int64"),
            "predicted_revenue": pd.Series(dtype="float64"),
            "lower": pd.Series(dtype="float64"),
            "upper": pd.Series(dtype="float64"),
            "model": pd.Series(dtype="string"),
            "generated_at": pd.Series(dtype="datetime64[ns]"),
        }
    )


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


def _result(
    panel: Panel,
    forecast: pd.DataFrame,
    generated_at: pd.Timestamp,
    horizon: int,
    strategy: str,
    tested: Backtest | None,
) -> ForecastResult:
    total = forecast[forecast["product_id"].isna()]
    model = str(total["model"].iloc[0]) if len(total) else FALLBACK_MEAN
    recent = panel.values[TOTAL].iloc[-horizon:] if len(panel.values) else pd.Series(dtype="float64")
    scores = tested.scores if tested else {}
    chosen_score = scores.get(model, Score(np.nan, np.nan, np.nan))
    peak = total.loc[total["predicted_revenue"].idxmax()] if len(total) else None
    row = {
        "generated_at": generated_at,
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
    }
    for name in SCORED:
        score = scores.get(name, Score(np.nan, np.nan, np.nan))
        row[f"mape_{name}"] = _rounded(score.mape)
        row[f"mase_{name}"] = _rounded(score.mase, 4)
    summary = pd.DataFrame([row])
    summary["peak_day"] = pd.to_datetime(summary["peak_day"])
    for text in ("trend", "model", "strategy"):
        summary[text] = summary[text].astype("string")
    for number in SUMMARY_COLUMNS:
        if number.startswith(("mape_", "mase_", "backtest_")) or number in ("total", "daily_average", "peak_value"):
            summary[number] = summary[number].astype("float64")
    return ForecastResult(
        forecast=forecast,
        summary=summary[SUMMARY_COLUMNS],
        model=model,
        scores=scores,
        folds=tested.folds if tested else 0,
        history_days=len(panel.values),
        missing_days=panel.missing_days,
    )


def _rounded(value: float, digits: int = 2) -> float:
    return round(float(value), digits) if np.isfinite(value) else np.nan


def scores_table(scores: dict[str, Score]) -> pd.DataFrame:
    """One row per strategy: its backtest MAPE and MASE, best MASE first (for metadata and reports)."""
    table = pd.DataFrame(
        [
            {"strategy": name, "mape": score.mape, "mase": score.mase, "product_mase": score.product_mase}
            for name, score in scores.items()
        ]
    )
    return table.sort_values("mase", na_position="last").reset_index(drop=True) if len(table) else table
