"""Warehouse writes into the real PostgreSQL: rows/s for a KPI table and the line-level table.

    python benchmarks/bench_warehouse.py                       # 1,000,000 rows per table
    python benchmarks/bench_warehouse.py --rows 3000000
    python benchmarks/bench_warehouse.py --admin-url postgresql://postgres@db:5432/postgres
    python benchmarks/bench_warehouse.py --quick               # CI: 5,000 rows, proves it runs

Each table is written as the warehouse IO manager writes a single-run backfill: one
`Warehouse.replace` over the whole window, in one transaction. Both tables are partitioned by
month, so each of the year's months is loaded into a fresh table by binary COPY, indexed once and
swapped in for the old partition. It is written first into the empty table, as a first backfill
does, then again over its own rows, as a re-run does. `product_daily_sales` (a KPI
table: 8 columns, 3 of them text, a two-column primary key) gets a year of days x N / 365
products; `sales_rejects` (one row per rejected line, a long text detail, no key) N rows over
the same year. Frames are built apart, shaped as the pipeline's. The client's share, encoding
the rows into binary COPY data, is timed apart too: the rest is the server's.
The database is created for the run and dropped after it; the admin connection comes from
--admin-url, else SALESFLOW_TEST_PG_URL, else postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.schemas import REJECT_REASONS
from salesflow_pipelines.lib.warehouse import copy_binary
from salesflow_pipelines.lib.warehouse.tables import TABLES

try:
    from benchmarks.scratch_db import DEFAULT_ADMIN_URL, scratch_postgres
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from scratch_db import DEFAULT_ADMIN_URL, scratch_postgres

FIRST_DAY = date(2025, 1, 1)
DAYS = 365
CATEGORIES = np.array(["Grocery", "Beverages", "Household", "Personal Care", "Snacks"])


def product_daily_sales(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """About `rows` product-days: every product on every day of the year."""
    products = max(1, rows // DAYS)
    product_id = np.tile(np.arange(1, products + 1), DAYS)
    sku = pd.Series([f"SKU-{number:05d}" for number in range(1, products + 1)])
    names = pd.Series([f"Demo product {number} {CATEGORIES[number % 5].lower()} 500g" for number in range(products)])
    revenue = np.round(rng.gamma(2.0, 40.0, len(product_id)), 2)
    cost_of_goods = np.round(revenue * rng.uniform(0.45, 0.75, len(product_id)), 2)
    return pd.DataFrame(
        {
            "sale_date": np.repeat(pd.date_range(FIRST_DAY, periods=DAYS).to_numpy(), products),
            "product_id": product_id,
            "sku": pd.array(np.tile(sku.to_numpy(), DAYS), dtype="string"),
            "product_name": pd.array(np.tile(names.to_numpy(), DAYS), dtype="string"),
            "category": pd.array(CATEGORIES[product_id % 5], dtype="string"),
            "revenue": revenue,
            "units": rng.integers(1, 40, len(product_id)).astype("float64"),
            "orders": rng.integers(1, 30, len(product_id)),
            "cost_of_goods": cost_of_goods,
            "gross_margin": np.round(revenue - cost_of_goods, 2),
            "margin_pct": np.round((revenue - cost_of_goods) / revenue * 100, 2),
        }
    )


def sales_rejects(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """`rows` rejected lines over the year, with the cleaning step's reason codes and details."""
    reason = np.array(REJECT_REASONS, dtype=object)[rng.integers(0, len(REJECT_REASONS), rows)]
    quantity = rng.integers(-5, 1, rows).astype("float64")
    detail = np.where(reason == "BAD_QUANTITY", "quantity must be > 0, got ", reason)
    detail = detail + np.where(reason == "BAD_QUANTITY", quantity.astype(str), "")
    sale_id = pd.array(rng.integers(1, 10**9, rows), dtype="Int64")
    sale_id[reason == "MISSING_SALE_ID"] = pd.NA
    return pd.DataFrame(
        {
            "sale_date": pd.Timestamp(FIRST_DAY) + pd.to_timedelta(np.sort(rng.integers(0, DAYS, rows)), unit="D"),
            "sale_id": sale_id,
            "line_no": rng.integers(1, 7, rows),
            "reason": pd.array(reason, dtype="string"),
            "detail": pd.array(detail, dtype="string"),
        }
    )


def write(store: warehouse.Warehouse, name: str, frame: pd.DataFrame) -> list[float]:
    """Seconds of `replace` over the year: into the empty table, then over its own rows."""
    table = TABLES[name]
    year = Window(FIRST_DAY, FIRST_DAY + timedelta(days=DAYS))
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        store.replace(table, frame, year)
        seconds.append(time.perf_counter() - started)
    return seconds


def encoding_seconds(name: str, frame: pd.DataFrame) -> float:
    """Seconds the client spends encoding `frame` for binary COPY (what a write adds to the server's work)."""
    started = time.perf_counter()
    for _ in copy_binary.encode(frame, TABLES[name].columns):
        pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="creates and drops the scratch database")
    parser.add_argument("--quick", action="store_true", help="5,000 rows per table: only proves the script runs")
    args = parser.parse_args(argv)
    rows = 5_000 if args.quick else args.rows
    rng = np.random.default_rng(7)
    frames = {"product_daily_sales": product_daily_sales(rows, rng), "sales_rejects": sales_rejects(rows, rng)}
    with scratch_postgres(args.admin_url) as url:
        store = warehouse.connect(url)
        seconds = {name: write(store, name, frame) for name, frame in frames.items()}
    for name, (into_empty, over_own) in seconds.items():
        rows = len(frames[name])
        print(
            f"{name}: {rows:,} rows, into the empty table {into_empty:.2f} s ({rows / into_empty:,.0f} rows/s), "
            f"replacing them {over_own:.2f} s ({rows / over_own:,.0f} rows/s); "
            f"client-side encoding {encoding_seconds(name, frames[name]):.2f} s of each"
        )
    rows = sum(len(frame) for frame in frames.values())
    fresh, again = (sum(pair[run] for pair in seconds.values()) for run in (0, 1))
    print(
        f"warehouse writes: {rows / fresh:,.0f} rows/s into new windows of both tables ({rows:,} rows in {fresh:.2f} s)"
    )
    print(f"re-run over the same windows: {rows / again:,.0f} rows/s ({again:.2f} s)")


if __name__ == "__main__":
    main()
