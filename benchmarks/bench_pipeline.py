"""Cleaning + every KPI frame over N demo sale lines in one process: lines/s and peak RSS.

    python benchmarks/bench_pipeline.py                 # 1,000,000 lines
    python benchmarks/bench_pipeline.py --lines 10000000
    python benchmarks/bench_pipeline.py --quick         # CI: proves it runs (small N)

Generation of the demo lines is timed apart; lines/s counts cleaning and the KPI frames only.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date, timedelta

import pandas as pd

from salesflow_pipelines.lib import cleaning, kpis, stock
from salesflow_pipelines.lib.demo import DemoData
from salesflow_pipelines.lib.payloads import inventory_to_payload, products_from_payload, products_to_payload

DAYS = 30
LINES_PER_ORDER = 1.8  # the demo's average, measured
END = date(2026, 10, 31)


def demo_lines(target_lines: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = DemoData(orders_per_day=max(1, round(target_lines / DAYS / LINES_PER_ORDER)))
    start = END - timedelta(days=DAYS - 1)
    lines = data.sales_lines(start, END)
    products = products_from_payload(
        products_to_payload(data.products(END)), inventory_to_payload(data.inventory(END)), END
    )
    return lines, products


def run_pipeline(raw: pd.DataFrame, products: pd.DataFrame) -> dict[str, float]:
    """Every transformation the daily graph applies, timed step by step."""
    timings: dict[str, float] = {}
    days = pd.date_range(END - timedelta(days=DAYS - 1), END)

    def timed(name, fn, *args):
        started = time.perf_counter()
        value = fn(*args)
        timings[name] = time.perf_counter() - started
        return value

    cleaned = timed("clean_sales", cleaning.clean_sales, raw, cleaning.category_lookup(products))
    lines = cleaned.lines
    timed("daily_sales_kpis", kpis.daily_sales, lines, days)
    timed("product_daily_sales", kpis.product_daily, lines)
    timed("region_daily_sales", kpis.region_daily, lines)
    timed("category_daily_sales", kpis.category_daily, lines)
    timed("customer_daily_kpis", kpis.customer_daily, lines, days)
    snapshot = timed("stock_snapshot", stock.stock_snapshot, products, lines)
    timed("stock_kpis", stock.stock_kpis, snapshot)
    return timings


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 lines: only proves the script runs")
    args = parser.parse_args(argv)
    target = 20_000 if args.quick else args.lines

    started = time.perf_counter()
    raw, products = demo_lines(target)
    generated = time.perf_counter() - started
    timings = run_pipeline(raw, products)
    elapsed = sum(timings.values())

    print(f"lines: {len(raw):,} (generated in {generated:.2f} s)")
    for step, seconds in timings.items():
        print(f"  {step:<22} {seconds:8.3f} s")
    print(f"cleaning + KPIs: {elapsed:.2f} s = {len(raw) / elapsed:,.0f} lines/s")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
