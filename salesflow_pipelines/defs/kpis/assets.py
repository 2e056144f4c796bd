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
from salesflow_pipelines.lib.analytics import kpis, stock
from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.schemas import (
    CategoryDailySales,
    CustomerDailyKpis,
    DailySalesKpis,
    ProductDailySales,
    ProductInventoryKpis,
    RegionDailySales,
    StockKpis,
)

KPI = dict(
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="kpis",
    io_manager_key="warehouse_io_manager",
    kinds={"pandas", "sql"},
)


def _output(context: dg.AssetExecutionContext, frame: pd.DataFrame, **metadata) -> dg.Output:
    return dg.Output(frame, metadata={**row_metadata(context, len(frame)), **metadata})


def _missing_costs(frame: pd.DataFrame, rows: str) -> dict:
    """How many rows have no cost of goods (a product without a known cost that day), and their revenue."""
    uncosted = frame["cost_of_goods"].isna()
    return {
        f"{rows}_without_cost": int(uncosted.sum()),
        "revenue_without_cost": float(frame.loc[uncosted, "revenue"].sum().round(2)),
    }


def _with_history(window: Window, days: int) -> pd.DatetimeIndex:
    return window_days(Window(window.start - timedelta(days=days), window.end))


@dg.asset(
    **KPI,
    **boundary(DailySalesKpis),
    ins={"sales_lines": dg.AssetIn(partition_mapping=lookback(kpis.GROWTH_LAG_DAYS))},
)
def daily_sales_kpis(
    context: dg.AssetExecutionContext, sales_lines: pd.DataFrame, raw_products: pd.DataFrame
) -> dg.Output:
    """One row per day: revenue, orders, units, average order value and identified customers
    of completed sales, refunded amount, revenue growth against the same weekday one week
    earlier (null when that day has no revenue or was never materialized), and cost of goods at
    the day's unit costs with the gross margin (null when a product sold has no known cost)."""
    window = partition_window(context)
    history = _with_history(window, kpis.GROWTH_LAG_DAYS)
    daily = in_window(kpis.daily_sales(sales_lines, history, stock.unit_costs(raw_products)), "sale_date", window)
    return _output(context, daily, **_missing_costs(daily, "days"))


@dg.asset(**KPI, **boundary(ProductDailySales))
def product_daily_sales(
    context: dg.AssetExecutionContext, sales_lines: pd.DataFrame, raw_products: pd.DataFrame
) -> dg.Output:
    """One row per product per day with completed sales: revenue, units, orders, cost of goods at
    the day's unit cost and gross margin, the product named as that day's catalogue (`/products`)
    names it. A product without a known cost that day has a null cost and margin."""
    table = kpis.product_daily(sales_lines, stock.unit_costs(raw_products))
    table = stock.named_from_catalog(table, raw_products)
    uncosted = table.loc[table["cost_of_goods"].isna(), "product_id"]
    return _output(context, table, **_missing_costs(table, "rows"), products_without_cost=int(uncosted.nunique()))


@dg.asset(**KPI, **boundary(RegionDailySales))
def region_daily_sales(context: dg.AssetExecutionContext, sales_lines: pd.DataFrame) -> dg.Output:
    """One row per region per day with completed sales (`Unassigned` when the backend sends no
    region): revenue, orders, units and identified customers."""
    return _output(context, kpis.region_daily(sales_lines))


@dg.asset(**KPI, **boundary(CategoryDailySales))
def category_daily_sales(
    context: dg.AssetExecutionContext, sales_lines: pd.DataFrame, raw_products: pd.DataFrame
) -> dg.Output:
    """One row per category per day with completed sales: revenue, units, discount rate (discount
    given over list value), cost of goods and gross margin (null when a product sold that day has
    no known cost)."""
    table = kpis.category_daily(sales_lines, stock.unit_costs(raw_products))
    return _output(context, table, **_missing_costs(table, "rows"))


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


@dg.asset(
    **KPI,
    **boundary(ProductInventoryKpis),
    ins={
        "stock_snapshot": dg.AssetIn(partition_mapping=lookback(stock.INVENTORY_WINDOW_DAYS)),
        "product_daily_sales": dg.AssetIn(partition_mapping=lookback(stock.INVENTORY_WINDOW_DAYS)),
    },
)
def product_inventory_kpis(
    context: dg.AssetExecutionContext, stock_snapshot: pd.DataFrame, product_daily_sales: pd.DataFrame
) -> dg.Output:
    """One row per product per day in that day's stock snapshot: units and revenue of the trailing
    28 and 90 days, sell-through, inventory turnover (annualised cost of goods over average stock
    value at cost), days of cover and since the last sale, ABC class by trailing revenue (80/15/5),
    slow-mover flag and the revenue lost while out of stock."""
    table = stock.inventory_kpis(stock_snapshot, product_daily_sales, window_days(partition_window(context)))
    classes = table["abc_class"].value_counts()
    return _output(
        context,
        table,
        **{f"abc_{name.lower()}_products": int(classes.get(name, 0)) for name in stock.ABC_CLASSES},
        slow_movers=int(table["slow_mover"].sum()),
        products_without_cost=int(table["cost_of_goods_90d"].isna().sum()),
        products_without_turnover=int(table["inventory_turnover"].isna().sum()),
    )


@dg.asset(**KPI, **boundary(StockKpis))
def stock_kpis(
    context: dg.AssetExecutionContext, stock_snapshot: pd.DataFrame, product_inventory_kpis: pd.DataFrame
) -> dg.Output:
    """One row per day: products, total stock value at cost, LOW / OUT / DEAD counts, median
    days of cover, how many products should be reordered (LOW or OUT), inventory turnover, the
    value of slow-moving and of dead stock, the revenue share of A products and lost sales."""
    return _output(context, stock.stock_kpis(stock_snapshot, product_inventory_kpis))
