"""Cleaning + every KPI frame over N demo sale lines in one process: lines/s and peak RSS.

    python benchmarks/bench_pipeline.py                      # 1,000,000 lines (1.15 M after the demo's mess)
    python benchmarks/bench_pipeline.py --lines 10000000     # the issue's figure
    python benchmarks/bench_pipeline.py --lines 10000000 --repeat 3
    python benchmarks/bench_pipeline.py --quick              # CI: proves it runs (small N)

The input is the raw frame as the `raw_sales` asset hands it on (text columns categorical) and
the product catalogue with its unit costs (the same every day, as the stand-in server serves it);
generating it is timed apart, and lines/s counts cleaning and the KPI frames only: the same
library calls the assets make (cleaning overwrites the raw frame, as the asset does with the
frame it loaded). The raw frame is dropped after cleaning, as the KPI steps of a run never hold
it; each of the `--repeat` runs generates its own, so every run does the same work. Each run
prints wall time and the process's user and system CPU: on a VM, first touches of fresh memory
can cost more system time than the computation itself.

The headline is the first run: it pays for those first touches, as a Dagster run does (every
run is a new process). The best of the runs, with memory the process touched before, is
printed too.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

import pandas as pd

from salesflow_pipelines.dev.demo import MEAN_LINES_PER_SALE, DemoData
from salesflow_pipelines.lib.analytics import cleaning, kpis, stock
from salesflow_pipelines.lib.backend.payloads import inventory_to_payload, products_from_payload, products_to_payload

DAYS = 30
END = date(2026, 10, 31)


def demo_lines(target_lines: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """About `target_lines` clean-able lines over `DAYS` days (more after duplicates), and the products."""
    data = DemoData(orders_per_day=max(1, round(target_lines / DAYS / MEAN_LINES_PER_SALE)))
    start = END - timedelta(days=DAYS - 1)
    lines = data.sales_lines(start, END)
    products = products_from_payload(
        products_to_payload(data.products(END)), inventory_to_payload(data.inventory(END)), END
    )
    return lines, products


def unit_costs_of_every_day(products: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """The catalogue's unit costs on each of `days` (the margins of every day's sales)."""
    return stock.unit_costs(pd.concat([products.assign(snapshot_date=day) for day in days], ignore_index=True))


@dataclass
class Timings:
    """Per step: wall seconds, and user and system CPU seconds of the process."""

    wall: dict[str, float] = field(default_factory=dict)
    user: dict[str, float] = field(default_factory=dict)
    system: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.wall.values())


def run_pipeline(raw: list[pd.DataFrame], products: pd.DataFrame) -> Timings:
    """Every transformation the daily graph applies, timed step by step.

    `raw` holds the raw frame; it is emptied after cleaning, so the frame can be freed.
    """
    timings = Timings()
    days = pd.date_range(END - timedelta(days=DAYS - 1), END)

    def timed(name, fn, *args):
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        value = fn(*args)
        after = resource.getrusage(resource.RUSAGE_SELF)
        timings.wall[name] = time.perf_counter() - started
        timings.user[name] = after.ru_utime - before.ru_utime
        timings.system[name] = after.ru_stime - before.ru_stime
        return value

    categories = cleaning.category_lookup(products)
    costs = unit_costs_of_every_day(products, days)
    lines = timed("clean_sales", partial(cleaning.clean_sales, overwrite_raw=True), raw.pop(), categories).lines
    timed("daily_sales_kpis", kpis.daily_sales, lines, days, costs)
    product_daily = timed("product_daily_sales", kpis.product_daily, lines, costs)
    timed("region_daily_sales", kpis.region_daily, lines)
    timed("category_daily_sales", kpis.category_daily, lines, costs)
    timed("customer_daily_kpis", kpis.customer_daily, lines, days)
    snapshot = timed("stock_snapshot", stock.stock_snapshot, products, lines)
    inventory = timed("product_inventory_kpis", stock.inventory_kpis, snapshot, product_daily, days[-1:])
    timed("stock_kpis", stock.stock_kpis, snapshot, inventory)
    return timings


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs, each over freshly generated lines")
    parser.add_argument("--quick", action="store_true", help="20,000 lines: only proves the script runs")
    args = parser.parse_args(argv)
    target = 20_000 if args.quick else args.lines

    runs = []
    for run in range(args.repeat):
        started = time.perf_counter()
        raw, products = demo_lines(target)
        line_count = len(raw)
        print(
            f"run {run + 1}: {line_count:,} lines over {DAYS} days generated in {time.perf_counter() - started:.2f} s "
            f"(peak RSS so far {peak_rss_mb():,.0f} MB)"
        )
        source = [raw]
        del raw  # cleaning drops it, as the KPI steps never hold it
        timings = run_pipeline(source, products)
        del products
        gc.collect()
        runs.append(timings)
        report_run(run + 1, line_count, timings)
    first, best = runs[0], min(runs, key=lambda timings: timings.total)
    print(f"first run (cold memory): {first.total:.2f} s = {line_count / first.total:,.0f} lines/s")
    print(f"best of {len(runs)} run(s): {best.total:.2f} s = {line_count / best.total:,.0f} lines/s")
    print(f"cleaning + KPIs: {line_count / first.total:,.0f} lines/s (headline: the first run), {line_count:,} lines")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")


def report_run(number: int, line_count: int, timings: Timings) -> None:
    user, system = sum(timings.user.values()), sum(timings.system.values())
    print(
        f"  {timings.total:.2f} s = {line_count / timings.total:,.0f} lines/s "
        f"(CPU user {user:.2f} s, system {system:.2f} s)"
    )
    for step, seconds in timings.wall.items():
        print(f"    {step:<22} {seconds:7.3f} s  (user {timings.user[step]:.2f}, system {timings.system[step]:.2f})")


if __name__ == "__main__":
    main()
