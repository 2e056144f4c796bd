"""Revenue and unit forecast: strategies, backtest scores, intervals, fallbacks, the summary and the
accuracy of past forecasts, without Dagster."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from salesflow_pipelines.dev import seasonal
from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.lib.analytics import cleaning, forecast, forecast_accuracy, kpis
from salesflow_pipelines.lib.schemas import ForecastAccuracy, SalesForecast, SalesForecastSummary

GENERATED_AT = pd.Timestamp("2026-11-01 02:00:00")
MODEL_STRATEGIES = {forecast.LINEAR, forecast.GRADIENT_BOOSTING, forecast.WEEKDAY_PROFILE, forecast.SEASONAL_NAIVE}


def demo_shop(start: date, end: date, orders_per_day: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = DemoData(orders_per_day=orders_per_day).sales_lines(start, end)
    lines = cleaning.clean_sales(raw, pd.Series(dtype="string")).lines
    return kpis.daily_sales(lines, pd.date_range(start, end)), kpis.product_daily(lines)


@pytest.fixture(scope="module")
def demo_kpis() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four months of the demo shop's daily and per-product sales."""
    return demo_shop(date(2026, 7, 1), date(2026, 10, 31))


def seasonal_shop(days: int, products: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seasonal shop with busier products than the benchmark's and no spike days."""
    return seasonal.seasonal_shop(days, products, seed=1, base_demand=(1.5, 0.8))


def daily_frame(revenue, start: str = "2026-09-01") -> pd.DataFrame:
    revenue = np.asarray(revenue, float)
    return pd.DataFrame(
        {"sale_date": pd.date_range(start, periods=len(revenue), freq="D"), "revenue": revenue, "units": revenue / 10}
    )


def product_frame(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["sale_date", "product_id", "revenue"])
    return frame.assign(sale_date=pd.to_datetime(frame["sale_date"]), units=frame["revenue"] / 5)


NO_PRODUCTS = product_frame([])


# ---------------------------------------------------------------- never worse than the baseline


def test_auto_backtests_the_baseline_too_and_never_ships_a_worse_model(demo_kpis):
    daily, products = demo_kpis
    result = forecast.forecast_sales(daily, products, GENERATED_AT)

    assert set(result.scores) == set(forecast.AUTO_CANDIDATES) == MODEL_STRATEGIES
    best = min(result.scores, key=lambda name: result.scores[name].mase)
    assert result.model == best
    assert result.scores[best].mase <= result.scores[forecast.SEASONAL_NAIVE].mase
    assert result.folds == forecast.BACKTEST_FOLDS

    summary = result.summary.iloc[0]
    assert summary["strategy"] == "auto" and summary["model"] == best
    assert summary["as_of_date"] == pd.Timestamp("2026-10-31")
    assert summary["backtest_mase"] == pytest.approx(result.scores[best].mase, abs=1e-4)
    baseline = result.scores[forecast.SEASONAL_NAIVE].mase
    assert summary["improvement_over_baseline_pct"] == pytest.approx(
        (1 - summary["backtest_mase"] / baseline) * 100, abs=0.02
    )
    assert summary["improvement_over_baseline_pct"] >= 0
    for name in forecast.AUTO_CANDIDATES:
        assert summary[f"mape_{name}"] == pytest.approx(result.scores[name].mape, abs=0.01)
    assert np.isnan(summary["mase_random_forest"])  # asked for by name only
    SalesForecastSummary.validate(result.summary)
    SalesForecast.validate(result.forecast)


def test_seasonal_naive_ships_when_nothing_beats_it():
    # Sales tripled two weeks ago: the models' levels lag behind, repeating last week does not.
    week = np.array([50.0, 60, 70, 80, 120, 160, 30])
    noise = 1 + 0.03 * np.random.default_rng(1).standard_normal(56)
    revenue = np.concatenate([np.tile(week, 6), np.tile(week * 3, 2)]) * noise
    result = forecast.forecast_sales(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, horizon=7)
    scores = result.scores
    assert result.model == forecast.SEASONAL_NAIVE
    assert all(scores[forecast.SEASONAL_NAIVE].mase <= score.mase for score in scores.values())
    assert result.summary.iloc[0]["improvement_over_baseline_pct"] == 0


# ---------------------------------------------------------------- learned models earn their place


def test_the_demo_shops_forecast_clearly_beats_the_baseline_with_calibrated_intervals(demo_kpis):
    daily, products = demo_kpis
    result = forecast.forecast_sales(daily, products, GENERATED_AT)
    chosen = result.scores[result.model]
    assert chosen.mase <= 0.9
    assert chosen.mase <= 0.6 * result.scores[forecast.SEASONAL_NAIVE].mase
    assert 0.65 <= chosen.coverage <= 0.95 and 0.65 <= chosen.product_coverage <= 0.95
    assert result.summary.iloc[0]["backtest_coverage"] == pytest.approx(chosen.coverage, abs=1e-4)


def test_gradient_boosting_learns_a_trend_and_pay_days_the_baseline_cannot():
    daily, products = seasonal_shop(240)
    result = forecast.forecast_sales(daily, products, GENERATED_AT)
    boosting, naive = result.scores[forecast.GRADIENT_BOOSTING], result.scores[forecast.SEASONAL_NAIVE]
    assert boosting.mase <= 0.9 and boosting.mase <= 0.7 * naive.mase
    assert result.scores[result.model].mase <= 0.9
    assert 0.65 <= result.scores[result.model].coverage <= 0.95


def test_held_out_forecasts_cover_about_80_percent_of_what_then_sold():
    """Forecasts as of every 7th day, scored on the days after them as forecast_accuracy does."""
    daily, products = seasonal_shop(230)
    as_of_days = pd.date_range(end="2026-10-17", periods=6, freq="7D")
    made = forecast.forecast_as_of_days(daily, products, as_of_days, GENERATED_AT, strategy="gradient_boosting")
    scored = forecast_accuracy.score(
        pd.concat([result.forecast for result in made]), daily, products, pd.date_range("2026-09-06", "2026-10-31")
    )
    figures = forecast_accuracy.headline(scored)
    assert figures["shop_forecasts"] == 6 * 14
    assert figures["shop_mase"] < 0.9
    assert 0.65 <= figures["shop_coverage"] <= 0.95 and 0.65 <= figures["product_coverage"] <= 0.95


# ---------------------------------------------------------------- rows, units, strategies


def test_forecast_rows_cover_the_horizon_for_the_total_and_each_product_with_units(demo_kpis):
    daily, products = demo_kpis
    result = forecast.forecast_sales(daily, products, GENERATED_AT, horizon=7, strategy="linear")
    frame = result.forecast
    total = frame[frame["product_id"].isna()]
    assert list(total["forecast_date"]) == list(pd.date_range("2026-11-01", "2026-11-07"))
    assert list(total["horizon_day"]) == list(range(1, 8))
    assert (frame["as_of_date"] == pd.Timestamp("2026-10-31")).all()
    assert len(frame) == 7 * (1 + products["product_id"].nunique())
    assert (frame["lower"] <= frame["predicted_revenue"]).all()
    assert (frame["predicted_revenue"] <= frame["upper"]).all()
    assert (frame["lower"] >= 0).all()
    assert set(frame["model"]) == {"linear"}
    assert (frame["generated_at"] == GENERATED_AT).all()
    # Units: the revenue forecast at each series' units per unit of revenue of its last 28 days.
    last_28 = daily[daily["sale_date"] > pd.Timestamp("2026-10-03")]
    ratio = last_28["units"].sum() / last_28["revenue"].sum()
    assert total["predicted_units"].to_numpy() == pytest.approx(total["predicted_revenue"].to_numpy() * ratio, rel=1e-3)
    assert (total["units_lower"] <= total["predicted_units"]).all() and (
        total["predicted_units"] <= total["units_upper"]
    ).all()
    assert (frame["mase_scale"] > 0).all()

    summary = result.summary.iloc[0]
    assert summary["horizon_days"] == 7
    assert summary["total"] == pytest.approx(total["predicted_revenue"].sum(), abs=0.01)
    assert summary["total_units"] == pytest.approx(total["predicted_units"].sum(), abs=0.01)
    assert summary["daily_average"] == pytest.approx(summary["total"] / 7, abs=0.01)
    assert summary["peak_value"] == total["predicted_revenue"].max()
    assert summary["peak_day"] == total.loc[total["predicted_revenue"].idxmax(), "forecast_date"]
    # A fixed strategy is scored with the baseline only.
    assert not np.isnan(summary["mase_linear"]) and not np.isnan(summary["mase_seasonal_naive"])
    assert np.isnan(summary["mase_random_forest"]) and np.isnan(summary["mase_gradient_boosting"])


def test_a_product_sold_at_price_zero_gets_its_mean_daily_units():
    revenue = np.tile([80, 90, 100, 110, 130, 150, 60], 5)
    days = pd.date_range("2026-09-01", periods=len(revenue))
    products = product_frame([(day.isoformat(), 1, value) for day, value in zip(days.date, revenue, strict=True)])
    free = pd.DataFrame({"sale_date": days[::2], "product_id": 2, "revenue": 0.0, "units": 3.0})
    result = forecast.forecast_sales(daily_frame(revenue), pd.concat([products, free]), GENERATED_AT, horizon=5)
    giveaway = result.forecast[result.forecast["product_id"] == 2]
    assert (giveaway["predicted_revenue"] == 0).all()
    # Three units every other day: 14 of its last 28 days.
    assert giveaway["predicted_units"].to_numpy() == pytest.approx(np.full(5, 14 * 3 / 28), abs=0.01)


@pytest.mark.parametrize("strategy", forecast.SCORED)
def test_every_strategy_forecasts_a_trend_and_a_week(strategy):
    weekly = np.tile([80, 90, 100, 110, 130, 150, 60], 12)
    revenue = weekly * (1 + 0.004 * np.arange(len(weekly)))
    result = forecast.forecast_sales(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, strategy=strategy)
    predicted = result.forecast["predicted_revenue"].to_numpy()
    assert result.model == strategy
    assert predicted.min() >= 0
    assert predicted.mean() == pytest.approx(revenue[-14:].mean(), rel=0.25)
    # The weekday shape survives: the forecast's Sundays (150 a week from 1 September) beat its Mondays (60).
    weekdays = result.forecast["forecast_date"].dt.weekday.to_numpy()
    assert predicted[weekdays == 6].mean() > 1.5 * predicted[weekdays == 0].mean()


def test_linear_continues_a_straight_line():
    revenue = 100 + 5 * np.arange(60)
    result = forecast.forecast_sales(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, horizon=3, strategy="linear")
    assert list(result.forecast["predicted_revenue"]) == pytest.approx([400, 405, 410], abs=0.01)
    # 14 days ahead average 19% above the last 14 days: upward.
    fortnight = forecast.forecast_sales(daily_frame(revenue), NO_PRODUCTS, GENERATED_AT, strategy="linear")
    assert fortnight.summary.iloc[0]["trend"] == "upward"
    falling = forecast.forecast_sales(daily_frame(revenue[::-1] + 200), NO_PRODUCTS, GENERATED_AT, strategy="linear")
    assert falling.summary.iloc[0]["trend"] == "downward"


def test_the_weekday_profile_shrugs_off_a_spike_and_a_closed_day():
    days = pd.date_range("2026-09-07", periods=56)  # a Monday
    week = np.array([80.0, 90, 100, 110, 130, 150, 60])
    pooled = np.tile(week, 8)
    pooled[19] *= 6  # a Saturday spike
    pooled[30] = 0  # a Wednesday closed
    assert forecast.weekday_profile(pooled, days) == pytest.approx(week / week.mean())
    assert forecast.recent_level(pooled[:, None], days, forecast.weekday_profile(pooled, days)) == pytest.approx(
        [week.mean()]
    )


# ---------------------------------------------------------------- intervals


def test_conformal_quantiles_widen_for_few_errors():
    errors = np.arange(1.0, 10.0)  # nine errors: the 1st and the 9th smallest bound 80% of a tenth
    assert forecast.conformal_quantiles(errors) == (1.0, 9.0)
    many = np.linspace(-1, 1, 1001)
    low, high = forecast.conformal_quantiles(many)
    assert low == pytest.approx(-0.8, abs=0.01) and high == pytest.approx(0.8, abs=0.01)


def test_intervals_pool_the_products_per_horizon_day_and_the_total_over_its_week():
    rng = np.random.default_rng(0)
    folds = [rng.normal(size=(14, 31)) * np.r_[np.ones(7), 3 * np.ones(7)][:, None] for _ in range(3)]
    low, high = forecast.interval_quantiles(folds, 14, 31)
    assert low.shape == high.shape == (14, 31)
    assert (low <= 0).all() and (high >= 0).all()
    # Products: 90 errors per horizon day; the second week's errors are three times wider.
    assert high[7:, 1:].mean() > 2 * high[:7, 1:].mean()
    assert len(np.unique(high[:, 1])) == 14
    # The total: 3 errors a day pool over the horizon's week.
    assert len(np.unique(high[:7, 0])) == 1 and high[7, 0] > high[0, 0]


# ---------------------------------------------------------------- as of a day


def test_a_forecast_as_of_a_day_ignores_every_later_day(demo_kpis):
    daily, products = demo_kpis
    as_of = pd.Timestamp("2026-10-10")
    whole = forecast.forecast_sales(daily, products, GENERATED_AT, as_of=as_of, horizon=7)
    cut = forecast.forecast_sales(
        daily[daily["sale_date"] <= as_of], products[products["sale_date"] <= as_of], GENERATED_AT, horizon=7
    )
    assert_frame_equal(whole.forecast, cut.forecast)
    assert_frame_equal(whole.summary, cut.summary)
    assert whole.forecast["forecast_date"].min() == pd.Timestamp("2026-10-11")


def test_a_backfill_in_worker_processes_gives_the_same_forecasts():
    daily, products = seasonal_shop(60, products=4)
    days = pd.date_range("2026-10-14", "2026-10-31")
    alone = forecast.forecast_as_of_days(daily, products, days, GENERATED_AT, horizon=7)
    shared = forecast.forecast_as_of_days(daily, products, days, GENERATED_AT, horizon=7, workers=2)
    assert [result.model for result in shared] == [result.model for result in alone]
    for one, other in zip(alone, shared, strict=True):
        assert_frame_equal(one.forecast, other.forecast)


# ---------------------------------------------------------------- any history


def shop_history(days: int, shape: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`days` days up to 2026-10-31 of a two-product shop with a weekly pattern and a trend, shaped:
    `gaps` (every third day missing), `one_sale` (a third product sold once), `zeros` (nothing sold),
    `spike` (one day 50x)."""
    dates = pd.date_range(end="2026-10-31", periods=days)
    revenue = np.array([80, 90, 100, 110, 130, 150, 60.0])[dates.weekday] * (1 + 0.002 * np.arange(days))
    if shape == "zeros":
        revenue = revenue * 0
    if shape == "spike" and days:
        revenue[days // 2] *= 50
    kept = np.ones(days, bool)
    if shape == "gaps":
        kept[1::3] = False
    rows = [
        (day, product, value * share, value * share / 10)
        for product, share in ((1, 0.6), (2, 0.4))
        for day, value in zip(dates[kept], revenue[kept], strict=True)
        if value > 0
    ]
    if shape == "one_sale" and days:
        rows.append((dates[-min(days, 5)], 3, 12.5, 1.0))
    products = pd.DataFrame(rows, columns=["sale_date", "product_id", "revenue", "units"])
    daily = pd.DataFrame({"sale_date": dates[kept], "revenue": revenue[kept], "units": revenue[kept] / 10})
    return daily, products


@pytest.mark.parametrize("shape", ["regular", "gaps", "one_sale", "zeros", "spike"])
@pytest.mark.parametrize("days", [0, 1, 2, 6, 7, 13, 14, 27, 28, 29, 56, 365])
def test_any_history_length_and_shape_gives_a_valid_forecast(days, shape):
    daily, products = shop_history(days, shape)
    result = forecast.forecast_sales(daily, products, GENERATED_AT, as_of=pd.Timestamp("2026-10-31"))
    SalesForecast.validate(result.forecast)
    SalesForecastSummary.validate(result.summary)
    frame = result.forecast
    assert len(result.summary) == 1
    series = 0 if not days else 1 + products["product_id"].nunique()
    assert len(frame) == series * forecast.DEFAULT_HORIZON
    numbers = ["predicted_revenue", "lower", "upper", "predicted_units", "units_lower", "units_upper"]
    assert np.isfinite(frame[numbers].to_numpy()).all()
    assert (frame["lower"] <= frame["predicted_revenue"]).all() and (frame["predicted_revenue"] <= frame["upper"]).all()
    if shape == "zeros":
        assert (frame["predicted_revenue"] == 0).all()
    if days >= 28 and shape in ("regular", "spike"):
        total = frame[frame["product_id"].isna()]
        # Not thrown by the spike: within half of a normal fortnight either way.
        assert total["predicted_revenue"].sum() == pytest.approx(14 * 103 * (1 + 0.002 * days), rel=0.5)


def test_short_history_falls_back_and_says_so():
    five_days = forecast.forecast_sales(daily_frame([10, 20, 30, 40, 50]), NO_PRODUCTS, GENERATED_AT, horizon=3)
    assert set(five_days.forecast["model"]) == {forecast.FALLBACK_MEAN}
    assert list(five_days.forecast["predicted_revenue"]) == [30.0, 30.0, 30.0]
    assert np.isnan(five_days.summary.iloc[0]["backtest_mape"])

    ten_days = [10, 20, 30, 40, 50, 60, 70, 11, 21, 31]
    result = forecast.forecast_sales(daily_frame(ten_days), NO_PRODUCTS, GENERATED_AT, horizon=8)
    assert result.model == forecast.FALLBACK_SEASONAL_NAIVE
    # The last observed week, repeated from the weekday after the last day.
    assert list(result.forecast["predicted_revenue"]) == [40, 50, 60, 70, 11, 21, 31, 40]


def test_zero_variance_gives_a_flat_forecast():
    result = forecast.forecast_sales(daily_frame([250.0] * 60), NO_PRODUCTS, GENERATED_AT, horizon=5)
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
    result = forecast.forecast_sales(daily_frame(revenue), products, GENERATED_AT, horizon=4)
    by_product = result.forecast.set_index("product_id", drop=False)
    assert set(result.forecast["product_id"].dropna()) == {1, 2, 3}
    assert by_product.loc[2, "predicted_revenue"].min() >= 0  # one sale five weeks ago: forecast from the models
    assert set(by_product.loc[3, "model"]) == {forecast.FLAT}  # one sale yesterday: a single value
    assert list(by_product.loc[3, "predicted_revenue"]) == [12.5] * 4


def test_no_history_gives_an_empty_forecast_and_a_summary_row():
    result = forecast.forecast_sales(daily_frame([]), NO_PRODUCTS, GENERATED_AT)
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
    assert forecast.backtest_origins(21, 14) == [(14, 7)]
    assert forecast.backtest_origins(20, 14) == []  # six days would judge the models on noise


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="forecast strategy"):
        forecast.forecast_sales(daily_frame([1.0] * 30), NO_PRODUCTS, GENERATED_AT, strategy="prophet")


# ---------------------------------------------------------------- accuracy of past forecasts


def test_accuracy_scores_each_forecast_against_what_the_day_then_sold():
    revenue = np.tile([80, 90, 100, 110, 130, 150, 60.0], 6) * (1 + 0.05 * np.random.default_rng(2).random(42))
    daily = daily_frame(revenue)
    days = daily["sale_date"]
    products = pd.DataFrame({"sale_date": days, "product_id": 1, "revenue": revenue * 0.7, "units": revenue / 20})
    made = forecast.forecast_sales(daily, products, GENERATED_AT, as_of=days.iloc[29], horizon=7, strategy="linear")
    product_two = made.forecast[made.forecast["product_id"] == 1].assign(product_id=pd.array([2] * 7, dtype="Int64"))
    forecasts = pd.concat([made.forecast, product_two], ignore_index=True)
    scored = forecast_accuracy.score(forecasts, daily.iloc[:35], products, pd.DatetimeIndex(days.iloc[30:40]))
    ForecastAccuracy.validate(scored)

    # Days 31-35 are known (the last two forecast days are not yet): shop, product 1, product 2 each.
    assert list(scored["sale_date"].unique()) == list(days.iloc[30:35])
    assert len(scored) == 5 * 3
    shop = scored[scored["product_id"].isna()]
    assert list(shop["horizon_day"]) == [1, 2, 3, 4, 5]
    assert list(shop["actual_revenue"]) == list(revenue[30:35])
    expected = np.abs(revenue[30:35] - shop["predicted_revenue"].to_numpy())
    assert shop["abs_pct_error"].to_numpy() == pytest.approx(expected / revenue[30:35] * 100, abs=1e-3)
    scale = made.forecast["mase_scale"].iloc[0]
    assert shop["scaled_error"].to_numpy() == pytest.approx(expected / scale, abs=1e-3)
    never_sold = scored[scored["product_id"] == 2]
    assert (never_sold["actual_revenue"] == 0).all() and never_sold["abs_pct_error"].isna().all()
    assert (never_sold["covered"] == (never_sold["lower"] <= 0.005).astype(int)).all()

    table = forecast_accuracy.by_horizon(scored)
    assert list(table["scope"].unique()) == ["shop", "products"]
    shop_day_one = table[(table["scope"] == "shop") & (table["horizon_day"] == 1)].iloc[0]
    assert shop_day_one["forecasts"] == 1
    assert shop_day_one["mape"] == pytest.approx(shop["abs_pct_error"].iloc[0])
    figures = forecast_accuracy.headline(scored)
    assert figures["shop_forecasts"] == 5 and figures["product_forecasts"] == 10
    assert figures["shop_coverage"] == pytest.approx(shop["covered"].mean())
    assert "| 1 |" in forecast_accuracy.markdown(table)


def test_nothing_to_score_gives_an_empty_table_of_the_right_shape():
    scored = forecast_accuracy.score(forecast.empty_forecast(), daily_frame([1.0]), NO_PRODUCTS, pd.DatetimeIndex([]))
    assert scored.empty and list(scored.columns) == list(forecast_accuracy.ACCURACY_COLUMNS)
    ForecastAccuracy.validate(scored)
    assert forecast_accuracy.markdown(forecast_accuracy.by_horizon(scored)) == "No forecast of these days to score yet."
