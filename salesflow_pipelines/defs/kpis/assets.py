"""KPI tables of the warehouse contract, one asset per table."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.partitions import (
    boundary,
    daily_partitions,
    in_window,
    lookback,
    partition_window,
    row_metadata,
    single_run,
    window_days,
)
from salesflow_pipelines.lib import kpis, stock
from salesflow_pipelines.lib.schemas import (
    CategoryDailySales,
    CustomerDailyKpis,
    DailySalesKpis,
    ProductDailySales,
    RegionDailySales,
    StockKpis,
)
from salesflow_pipelines.lib.warehouse import Window

KPI = dict(
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="kpis",
    io_manager_key="warehouse_io_manager",
    kinds={"pandas", "sql"},
)


def _output(context: dg.AssetExecutionContext, frame: pd.DataFrame) -> dg.Output:
    return dg.Output(frame, metadata=row_metadata(context, len(frame)))


def _with_history(window: Window, days: int) -> pd.DatetimeIndex:
    return window_days(Window(window.start - timedelta(days=days), window.end))


@dg.asset(
    **KPI,
    **boundary(DailySalesKpis),
    ins={"sales_lines": dg.AssetIn(partition_mapping=lookback(kpis.GROWTH_LAG_DAYS))},
)
def daily_sales_kpis(context: dg.AssetExecutionContext, sales_lines: pd.DataFrame) -> dg.Output:
    """One row per day: revenue, orders, units, average order value and identified customers
    of completed sales, refunded amount, and revenue growth against the same weekday one week
    earlier (null when that day has no revenue or was never materialized)."""
    window = partition_window(context)
    daily = kpis.daily_sales(sales_lines, _with_history(window, kpis.GROWTH_LAG_DAYS))
    return _output(context, in_window(daily, "sale_date", window))


@dg.asset(**KPI, **boundary(ProductDailySales))
def product_daily_sales(
    context: dg.AssetExecutionContext, sales_lines: pd.DataFrame, raw_products: pd.DataFrame
) -> dg.Output:
    """One row per product per day with completed sales: revenue, units and orders, the product
    named as that day's catalogue (`/products`) names it."""
    return _output(context, stock.named_from_catalog(kpis.product_daily(sales_lines), raw_products))


@dg.asset(**KPI, **boundary(RegionDailySales))
def region_daily_sales(context: dg.AssetExecutionContext, sales_lines: pd.DataFrame) -> dg.Output:
    """One row per region per day with completed sales (`Unassigned` when the backend sends no
    region): revenue, orders, units and identified customers."""
    return _output(context, kpis.region_daily(sales_lines))


@dg.asset(**KPI, **boundary(CategoryDailySales))
def category_daily_sales(context: dg.AssetExecutionContext, sales_lines: pd.DataFrame) -> dg.Output:
    """One row per category per day with completed sales: revenue, units and discount rate
    (discount given over list value)."""
    return _output(context, kpis.category_daily(sales_lines))


@dg.asset(
    **KPI,
    **boundary(CustomerDailyKpis),
    ins={"sales_lines": dg.AssetIn(partition_mapping=lookback(kpis.RETURNING_LOOKBACK_DAYS))},
)
def customer_daily_kpis(context: dg.AssetExecutionContext, sales_lines: pd.DataFrame) -> dg.Output:
    """One row per day: identified customers buying for the first time in the last 90 days
    (new) or again (returning), and the returning share (repeat rate). Walk-ins do not count."""
    window = partition_window(context)
    history = _with_history(window, kpis.RETURNING_LOOKBACK_DAYS)
    table = kpis.customer_daily(sales_lines, history)
    return _output(context, in_window(table, "sale_date", window))


@dg.asset(**KPI, **boundary(StockKpis))
def stock_kpis(context: dg.AssetExecutionContext, stock_snapshot: pd.DataFrame) -> dg.Output:
    """One row per day: products, total stock value at cost, LOW / OUT / DEAD counts, median
    days of cover, and how many products should be reordered (LOW or OUT)."""
    return _output(context, stock.stock_kpis(stock_snapshot))
