"""Revenue forecast: strategies, backtest scores, fallbacks and the summary, without Dagster."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from salesflow_pipelines.lib import cleaning, forecast, kpis
from salesflow_pipelines.lib.demo import DemoData
from salesflow_pipelines.lib.schemas import SalesForecast, SalesForecastSummary

GENERATED_AT = pd.Timestamp("2026-11-01 02:00:00")


@pytest.fixture(scope="module")
def demo_kpis() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four months of the demo shop's daily and per-product revenue."""
    start, end = date(2026, 7, 1), date(2026, 10, 31)
    lines = cleaning.clean_sales(DemoData(orders_per_day=40).sales_lines(start, end), pd.Series(dtype="string")).lines
    return kpis.daily_sales(lines, pd.date_range(start, end)), kpis.product_daily(lines)


def daily_frame(revenue, start: str = "2026-09-01") -> pd.DataFrame:
    return pd.DataFrame(
        {"sale_date": pd.date_range(start, periods=len(revenue), freq="D"), "revenue": np.asarray(revenue, float)}
    )


def product_frame(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["sale_date", "product_id", "revenue"])
    return frame.assign(sale_date=pd.to_datetime(frame["sale_date"]))


NO_PRODUCTS = product_frame([])


def test_auto_picks_the_best_backtested_strategy_and_records_every_score(demo_kpis):
    daily, products = demo_kpis
    result = forecast.forecast_revenue(daily, products, GENERATED_AT)

    assert set(result.scores) == set(forecast.SCORED)
    best = min(forecast.STRATEGIES, key=lambda name: result.scores[name].mase)
    assert result.model == best
    assert result.folds == forecast.BACKTEST_FOLDS
    # The models learn the weekly pattern: the chosen one beats repeating last week.
    assert result.scores[best].mase < result.scores[forecast.SEASONAL_NAIVE].mase

    summary = result.summary.iloc[0]
    assert summary["strategy"] == "auto" and summary["model"] == best
    assert summary["backtest_mase"] == pytest.approx(result.scores[best].mase, abs=1e-4)
    for name in forecast.SCORED:
        assert summary[f"mape_{name}"] == pytest.approx(result.scores[name].mape, abs=0.01)
    SalesForecastSummary.validate(result.summary)
    SalesForecast.validate(result.forecast)


def test_forecast_rows_cover_the_horizon_for_the_total_and_each_product(demo_kpis):
    daily, products = demo_kpis
    result = forecast.forecast_revenue(daily, products, GENERATED_AT, horizon=7, strategy="linear")
    frame = result.forecast
    total = frame[frame["product_id"].isna()]
    assert list(total["forecast_date"]) == list(pd.date_range("2026-11-01", "2026-11-07"))
    assert len(frame) == 7 * (1 + products["product_id"].nunique())
    assert (frame["lower"] <= frame["predicted_revenue"]).all()
    assert (frame["predicted_revenue"] <= frame["upper"]).all()
    assert (frame["lower"] >= 0).all()
    assert set(frame["model"]) == {"linear"}
    assert (frame["generated_at"] == GENERATED_AT).all()

    summary = result.summary.iloc[0]
    assert summary["horizon_days"] == 7
    assert summary["total"] == pytest.approx(total["predicted_revenue"].sum(), abs=0.01)
    assert summary["daily_average"] == pytest.approx(summary["total"] / 7, abs=0.01)
    assert summary["peak_value"] == total["predicted_revenue"].max()
    assert summary["peak_day"] == total.loc[total["predicted_revenue"].idxmax(), "forecast_date"]
    # A fixed strategy is scored with the baseline only.
    assert not np.isnan(summary["mase_linear"]) and not np.isnan(summary["mase_seasonal_naive"])
    assert np.isnan(summary["mase_random_forest"]) and np.isnan(summary["mase_gradient_boosting"])


@pytest.mark.parametrize("strategy", forecast.SCORED)
def test_every_strategy_forecasts_a_trend_and_a_week(strategy):
    weekly = np.tile([80, 90, 100, 110, 130, 150, 60], 12)
    revenue = weekly * (1 + 0.004 * np.arange(len(weekly)))
    result = forecast.forecast_revenue(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, strategy=strategy)
    predicted = result.forecast["predicted_revenue"].to_numpy()
    assert result.model == strategy
    assert predicted.min() >= 0
    assert predicted.mean() == pytest.approx(revenue[-14:].mean(), rel=0.25)


def test_linear_continues_a_straight_line():
    revenue = 100 + 5 * np.arange(60)
    result = forecast.forecast_revenue(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, horizon=3, strategy="linear")
    assert list(result.forecast["predicted_revenue"]) == pytest.approx([400, 405, 410], abs=0.01)
    # 14 days ahead average 19% above the last 14 days: upward.
    fortnight = forecast.forecast_revenue(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, strategy="linear")
    assert fortnight.summary.iloc[0]["trend"] == "upward"
    falling = forecast.forecast_revenue(daily_frame(revenue[::-1] + 200), NO_PRODUCTS, GENERATED_AT, strategy="linear")
    assert falling.summary.iloc[0]["trend"] == "downward"


def test_short_history_falls_back_and_says_so():
    five_days = forecast.forecast_revenue(daily_frame([10, 20, 30, 40, 50]), NO_PRODUCTS, GENERATED_AT, horizon=3)
    assert set(five_days.forecast["model"]) == {forecast.FALLBACK_MEAN}
    assert list(five_days.forecast["predicted_revenue"]) == [30.0, 30.0, 30.0]
    assert np.isnan(five_days.summary.iloc[0]["backtest_mape"])

    ten_days = [10, 20, 30, 40, 50, 60, 70, 11, 21, 31]
    result = forecast.forecast_revenue(daily_frame(ten_days), NO_PRODUCTS, GENERATED_AT, horizon=8)
    assert result.model == forecast.FALLBACK_SEASONAL_NAIVE
    # The last observed week, repeated from the weekday after the last day.
    assert list(result.forecast["predicted_revenue"]) == [40, 50, 60, 70, 11, 21, 31, 40]


def test_zero_variance_gives_a_flat_forecast():
    result = forecast.forecast_revenue(daily_frame([250.0] * 60), NO_PRODUCTS, GENERATED_AT, horizon=5)
    frame = result.forecast
    assert set(frame["model"]) == {forecast.FLAT}
    assert (frame["predicted_revenue"] == 250).all() and (frame["lower"] == 250).all() and (frame["upper"] == 250).all()
    assert result.summary.iloc[0]["trend"] == "stable"


def test_a_product_with_one_sale_never_crashes_the_forecast():
    revenue = np.tile([80, 90, 100, 110, 130, 150, 60], 8)
    days = pd.date_range("2026-09-01", periods=len(revenue))
    products = product_frame(
        [(day.isoformat(), 1, value) for day, value in zip(days.date, revenue, strict=True)]
        + [("2026-09-20", 2, 35.0), (days[-1].date().isoformat(), 3, 12.5)]
    )
    result = forecast.forecast_revenue(daily_frame(revenue), products, GENERATED_AT, horizon=4)
    by_product = result.forecast.set_index("product_id", drop=False)
    assert set(result.forecast["product_id"].dropna()) == {1, 2, 3}
    assert by_product.loc[2, "predicted_revenue"].min() >= 0  # one sale five weeks ago: forecast from the models
    assert set(by_product.loc[3, "model"]) == {forecast.FLAT}  # one sale yesterday: a single value
    assert list(by_product.loc[3, "predicted_revenue"]) == [12.5] * 4


def test_no_history_gives_an_empty_forecast_and_a_summary_row():
    result = forecast.forecast_revenue(daily_frame([]), NO_PRODUCTS, GENERATED_AT)
    assert result.forecast.empty
    assert len(result.summary) == 1 and result.summary.iloc[0]["total"] == 0


@pytest.mark.parametrize(
    ("forecast_average", "recent_average", "expected"),
    [(110, 100, "upward"), (94, 100, "downward"), (104, 100, "stable"), (0, 0, "stable"), (5, 0, "upward")],
)
def test_trend_compares_the_forecast_with_the_days_just_before(forecast_average, recent_average, expected):
    assert forecast.trend(forecast_average, recent_average) == expected


def test_backtest_origins_roll_over_the_last_horizons():
    assert forecast.backtest_origins(100, 14) == [(58, 14), (72, 14), (86, 14)]
    assert forecast.backtest_origins(30, 14) == [(16, 14)]
    assert forecast.backtest_origins(20, 14) == [(14, 6)]
    assert forecast.backtest_origins(14, 14) == []


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="forecast strategy"):
        forecast.forecast_revenue(daily_frame([1.0] * 30), NO_PRODUCTS, GENERATED_AT, strategy="prophet")
