"""Revenue forecast over N products x D days of demo sales: seconds and backtest scores per strategy.

    python benchmarks/bench_forecast.py                          # 200 products x 365 days
    python benchmarks/bench_forecast.py --products 40 --days 180 --orders-per-day 200   # the demo shop
    python benchmarks/bench_forecast.py --quick                  # CI: proves it runs (a few seconds)

Each strategy runs alone (its rolling-origin backtest, 3 folds of the horizon, then the final fit);
`auto` runs them all and keeps the best. MASE below 1 beats the in-sample seasonal naive forecast;
the `seasonal_naive` row is that baseline scored out of sample. Demo generation is timed apart.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import pandas as pd

from salesflow_pipelines.lib import cleaning, forecast, kpis
from salesflow_pipelines.lib.demo import DemoData

END = date(2026, 10, 31)
GENERATED_AT = pd.Timestamp("2026-11-01 02:00:00")


def demo_kpis(products: int, days: int, orders_per_day: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """daily_sales_kpis, product_daily_sales and region_daily_sales of the demo shop's last `days` days."""
    start = END - timedelta(days=days - 1)
    raw = DemoData(orders_per_day=orders_per_day, product_count=products).sales_lines(start, END)
    lines = cleaning.clean_sales(raw, pd.Series(dtype="string")).lines
    return kpis.daily_sales(lines, pd.date_range(start, END)), kpis.product_daily(lines), kpis.region_daily(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=forecast.DEFAULT_HORIZON)
    parser.add_argument("--quick", action="store_true", help="20 products x 60 days: only proves the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.days, args.orders_per_day = 20, 60, 60

    started = time.perf_counter()
    daily, products, _ = demo_kpis(args.products, args.days, args.orders_per_day)
    print(
        f"demo: {products['product_id'].nunique()} products x {len(daily)} days, "
        f"{len(products):,} product-days (generated in {time.perf_counter() - started:.2f} s)"
    )
    print(f"{'strategy':<28} {'seconds':>8} {'MAPE %':>8} {'MASE':>7} {'product MASE':>13}")
    for strategy in (*forecast.SCORED, forecast.AUTO):
        started = time.perf_counter()
        result = forecast.forecast_revenue(
            daily, products, GENERATED_AT, horizon=args.horizon, strategy=strategy, history_days=args.days
        )
        seconds = time.perf_counter() - started
        name = strategy if strategy != forecast.AUTO else f"auto -> {result.model}"
        score = result.scores.get(result.model)
        print(f"{name:<28} {seconds:8.2f} {score.mape:8.1f} {score.mase:7.3f} {score.product_mase:13.3f}")
    print(f"backtest: {result.folds} folds of {args.horizon} days; forecast rows: {len(result.forecast):,}")


if __name__ == "__main__":
    main()
