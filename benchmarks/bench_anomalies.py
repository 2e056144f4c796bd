"""The anomaly pass over a year of demo sales: seconds, and anomalies by severity and label.

    python benchmarks/bench_anomalies.py             # 200 products, a year of days checked
    python benchmarks/bench_anomalies.py --quick     # CI: proves it runs (a few seconds)

Every day of the year is checked against its trailing 28 days, for the whole shop, each product
and each region, as a single-run backfill of `sales_anomalies` over the year would. Demo
generation is timed apart.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import pandas as pd

from salesflow_pipelines.lib.analytics import anomalies, kpis
from salesflow_pipelines.lib.dates import Window

try:
    from benchmarks.bench_forecast import END, demo_lines
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_forecast import END, demo_lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--days", type=int, default=365, help="days checked (28 more are read before them)")
    parser.add_argument("--orders-per-day", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20 products x 30 days: only proves the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.days, args.orders_per_day = 20, 30, 60

    started = time.perf_counter()
    history = args.days + anomalies.LOOKBACK_DAYS
    lines = demo_lines(args.products, history, args.orders_per_day)
    days = pd.date_range(END - timedelta(days=history - 1), END)
    daily, products, regions = kpis.daily_sales(lines, days), kpis.product_daily(lines), kpis.region_daily(lines)
    generated = time.perf_counter() - started
    print(f"demo: {len(products):,} product-days, {len(regions):,} region-days (generated in {generated:.2f} s)")

    window = Window(END - timedelta(days=args.days - 1), END + timedelta(days=1))
    started = time.perf_counter()
    found = anomalies.detect(daily, products, regions, window, detected_at=pd.Timestamp.now().floor("s"))
    seconds = time.perf_counter() - started
    series = 1 + products["product_id"].nunique() + regions["region"].nunique()
    rate = args.days * series / seconds
    print(f"anomaly pass: {args.days} days x {series} series in {seconds:.2f} s ({rate:,.0f} series-days/s)")
    table = found.groupby(["severity", "label"]).size().unstack(fill_value=0)
    print(table.reindex(list(anomalies.SEVERITIES)[::-1]).fillna(0).astype(int).to_string())


if __name__ == "__main__":
    main()
