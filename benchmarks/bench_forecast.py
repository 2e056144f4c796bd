"""Forecast quality and cost: every strategy on the demo shop and on a seasonal shop, then a year's backfill.

    python benchmarks/bench_forecast.py                    # both shops, 12 held-out weeks, a year's backfill
    python benchmarks/bench_forecast.py --backfill-days 0  # the quality tables only
    python benchmarks/bench_forecast.py --quick            # CI: proves it runs (well under a minute)

For each shop (the demo shop of `dev/demo.py`, which the stand-in server serves too, and the seasonal
shop of `dev/seasonal.py` with a trend, pay-day weeks and spike days, unseen while the models were
tuned) and each strategy, `auto` included:

- backtest: the rolling-origin backtest of the forecast as of the last day (3 folds x horizon): MAPE
  (%) and MASE of the shop's total, and the share of actuals inside the 80% interval (each fold's
  interval calibrated on the other folds only);
- held-out: forecasts made as of every 7th day of the last weeks, each from the days up to it
  only, scored against what then sold exactly as the `forecast_accuracy` asset scores them: MAPE,
  MASE (errors over the forecast's own in-sample seasonal naive error) and coverage, for the shop and
  pooled over the products; `vs naive` is the strategy's held-out MASE over seasonal naive's.

Then the backfill: a year of daily forecasts (one per as-of day, each from the 180 days before it)
after a year and a half of KPIs, as `forecast_job` runs it over a year's range, timed.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date, timedelta

import pandas as pd

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.seasonal import seasonal_shop
from salesflow_pipelines.lib.analytics import cleaning, forecast, forecast_accuracy, kpis

END = date(2026, 10, 31)
GENERATED_AT = pd.Timestamp("2026-11-01 02:00:00")
STRATEGIES = (*forecast.SCORED, forecast.AUTO)


def demo_lines(products: int, days: int, orders_per_day: int, end: date = END) -> pd.DataFrame:
    """The demo shop's clean sale lines of `days` days up to `end`."""
    raw = DemoData(orders_per_day=orders_per_day, product_count=products).sales_lines(end - timedelta(days - 1), end)
    return cleaning.clean_sales(raw, pd.Series(dtype="string")).lines


def demo_kpis(products: int, days: int, orders_per_day: int, end: date = END) -> tuple[pd.DataFrame, pd.DataFrame]:
    """daily_sales_kpis and product_daily_sales of the demo shop's `days` days up to `end`."""
    lines = demo_lines(products, days, orders_per_day, end)
    return kpis.daily_sales(lines, pd.date_range(end - timedelta(days - 1), end)), kpis.product_daily(lines)


def held_out(
    daily: pd.DataFrame, products: pd.DataFrame, as_of_days: pd.DatetimeIndex, horizon: int, strategy: str
) -> tuple[dict[str, float], float]:
    """Held-out figures of the strategy's forecasts as of `as_of_days`, and seconds per forecast."""
    started = time.perf_counter()
    results = forecast.forecast_as_of_days(daily, products, as_of_days, GENERATED_AT, horizon, strategy)
    seconds = (time.perf_counter() - started) / len(as_of_days)
    made = pd.concat([result.forecast for result in results], ignore_index=True)
    days = pd.date_range(as_of_days[0] + pd.Timedelta(days=1), as_of_days[-1] + pd.Timedelta(days=horizon))
    scored = forecast_accuracy.score(made, daily, products, days)
    return forecast_accuracy.headline(scored), seconds


def quality_table(name: str, daily: pd.DataFrame, products: pd.DataFrame, weeks: int, horizon: int) -> None:
    last = pd.Timestamp(daily["sale_date"].max())
    as_of_days = pd.date_range(end=last - pd.Timedelta(days=horizon), periods=weeks, freq="7D")
    print(
        f"\n{name}: {products['product_id'].nunique()} products x {len(daily)} days; held-out: forecasts as of "
        f"{weeks} days every 7 days, {as_of_days[0]:%Y-%m-%d}..{as_of_days[-1]:%Y-%m-%d}, {horizon} days ahead each"
    )
    print(
        f"{'strategy':<28} {'s/forecast':>10} | {'backtest MAPE %':>15} {'MASE':>6} {'coverage':>8} | "
        f"{'held-out MAPE %':>15} {'MASE':>6} {'vs naive':>8} {'coverage':>8} {'product MASE':>12} {'coverage':>8}"
    )
    rows = {}
    for strategy in STRATEGIES:
        latest = forecast.forecast_sales(daily, products, GENERATED_AT, as_of=last, horizon=horizon, strategy=strategy)
        figures, seconds = held_out(daily, products, as_of_days, horizon, strategy)
        rows[strategy] = (latest, figures, seconds)
    naive = rows[forecast.SEASONAL_NAIVE][1]["shop_mase"]
    for strategy, (latest, figures, seconds) in rows.items():
        score = latest.scores.get(latest.model, forecast.NO_SCORE)
        label = strategy if strategy != forecast.AUTO else f"auto -> {latest.model}"
        print(
            f"{label:<28} {seconds:10.2f} | {score.mape:15.1f} {score.mase:6.3f} {score.coverage:8.0%} | "
            f"{figures['shop_mape']:15.1f} {figures['shop_mase']:6.3f} {figures['shop_mase'] / naive:8.2f} "
            f"{figures['shop_coverage']:8.0%} {figures['product_mase']:12.3f} {figures['product_coverage']:8.0%}"
        )
    auto = rows[forecast.AUTO][0]
    summary = auto.summary.iloc[0]
    print(
        f"auto as of {last:%Y-%m-%d} chose {auto.model}: backtest MASE {summary['backtest_mase']:.3f}, "
        f"{summary['improvement_over_baseline_pct']:.1f}% below seasonal naive's on the same folds"
    )


def backfill(daily: pd.DataFrame, products: pd.DataFrame, days: int, horizon: int, workers: int) -> None:
    last = pd.Timestamp(daily["sale_date"].max())
    as_of_days = pd.date_range(end=last, periods=days)
    started = time.perf_counter()
    results = forecast.forecast_as_of_days(daily, products, as_of_days, GENERATED_AT, horizon, workers=workers)
    seconds = time.perf_counter() - started
    rows = sum(len(result.forecast) for result in results)
    models = pd.Series([result.model for result in results]).value_counts().to_dict()
    print(
        f"\nbackfill: {days} as-of days ({as_of_days[0]:%Y-%m-%d}..{last:%Y-%m-%d}) after {len(daily)} days of KPIs, "
        f"auto, {workers} worker(s): {seconds:.1f} s ({seconds / days:.2f} s per day), {rows:,} forecast rows; "
        f"models chosen: {models}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=40)
    parser.add_argument("--days", type=int, default=240, help="days of history of the quality tables")
    parser.add_argument("--orders-per-day", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=12, help="held-out as-of days, one a week")
    parser.add_argument("--horizon", type=int, default=forecast.DEFAULT_HORIZON)
    parser.add_argument("--backfill-days", type=int, default=365, help="as-of days of the timed backfill (0: none)")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    parser.add_argument("--quick", action="store_true", help="10 products x 70 days, 2 weeks, a 10-day backfill")
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.days, args.orders_per_day, args.weeks, args.backfill_days = 10, 70, 60, 2, 10

    started = time.perf_counter()
    daily, products = demo_kpis(args.products, args.days, args.orders_per_day)
    print(f"demo shop generated in {time.perf_counter() - started:.2f} s")
    quality_table(
        "demo shop (dev/demo.py, as the stand-in server serves it)", daily, products, args.weeks, args.horizon
    )
    daily, products = seasonal_shop(args.days, max(args.products // 2, 5), seed=3, spike_share=0.02, end=END)
    quality_table("seasonal shop (trend, pay days)", daily, products, args.weeks, args.horizon)
    if args.backfill_days:
        history = args.backfill_days + forecast.HISTORY_DAYS
        daily, products = demo_kpis(args.products, history, args.orders_per_day)
        backfill(daily, products, args.backfill_days, args.horizon, args.workers)


if __name__ == "__main__":
    main()
