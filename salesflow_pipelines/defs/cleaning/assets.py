"""Cleaning: valid sale lines, their rejects, and the typed stock snapshot."""

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.cleaning import checks
from salesflow_pipelines.defs.partitions import (
    boundary,
    daily_partitions,
    days_label,
    lookback,
    partition_window,
    row_metadata,
    single_run,
)
from salesflow_pipelines.defs.resources import DataQuality
from salesflow_pipelines.lib.analytics import cleaning, stock
from salesflow_pipelines.lib.schemas import SalesLine, SalesReject, StockSnapshot

CLEANING = dict(partitions_def=daily_partitions, backfill_policy=single_run, group_name="cleaning")


@dg.multi_asset(
    **CLEANING,
    outs={
        "sales_lines": dg.AssetOut(
            io_manager_key="parquet_io_manager",
            **boundary(SalesLine, partition_column="sale_date"),
            kinds={"pandas", "parquet"},
            description=(
                "One row per valid sale line: deduplicated, text normalized, defaults filled, "
                "with `gross_amount` and `revenue` = quantity x unit_price x (1 - discount). "
                "Includes refunded and cancelled sales; KPIs filter on `status`."
            ),
        ),
        "sales_rejects": dg.AssetOut(
            io_manager_key="warehouse_io_manager",
            **boundary(SalesReject),
            kinds={"pandas", "sql"},
            description=(
                "One row per rejected sale line with its reason code (DUPLICATE_SALE, "
                "BAD_QUANTITY, BAD_PRICE, BAD_DISCOUNT, BAD_STATUS, MISSING_PRODUCT, MISSING_SALE_ID) and a detail."
            ),
        ),
    },
    check_specs=[
        dg.AssetCheckSpec(
            "reject_rate_below_threshold",
            asset="sales_lines",
            description=(
                "Share of rejected lines at most SALESFLOW_MAX_REJECT_RATE (warns). A day above "
                "SALESFLOW_REJECT_RATE_CEILING fails cleaning before any table is written."
            ),
        ),
    ],
)
def clean_sales(
    context: dg.AssetExecutionContext, raw_sales: pd.DataFrame, raw_products: pd.DataFrame, data_quality: DataQuality
):
    """Apply the cleaning rules of docs/design.md (section 3) to a window of raw sales, day by day."""
    window = partition_window(context)
    # raw_sales was loaded for this step alone: its memory is reused for the valid lines.
    cleaned = cleaning.clean_sales(raw_sales, cleaning.category_lookup(raw_products), overwrite_raw=True)
    checks.stop_above_reject_ceiling(cleaning.reject_rates_by_day(cleaned), data_quality.reject_rate_ceiling)
    by_reason = cleaned.rejects["reason"].value_counts().to_dict()
    yield dg.Output(
        cleaned.lines,
        output_name="sales_lines",
        metadata={**row_metadata(context, len(cleaned.lines)), "days": days_label(window)},
    )
    yield dg.Output(
        cleaned.rejects,
        output_name="sales_rejects",
        metadata={
            **row_metadata(context, len(cleaned.rejects)),
            **{f"rejected_{reason.lower()}": int(count) for reason, count in by_reason.items()},
        },
    )
    yield checks.reject_rate_check(len(cleaned.lines), by_reason, data_quality.max_reject_rate)


@dg.asset(
    **CLEANING,
    io_manager_key="warehouse_io_manager",
    **boundary(StockSnapshot),
    kinds={"pandas", "sql"},
    ins={"sales_lines": dg.AssetIn(partition_mapping=lookback(stock.LOOKBACK_DAYS))},
    check_specs=[
        dg.AssetCheckSpec(
            "one_row_per_product_per_day",
            asset="stock_snapshot",
            description="No product appears twice in one day's snapshot (the backend sent it twice).",
        )
    ],
)
def stock_snapshot(context: dg.AssetExecutionContext, raw_products: pd.DataFrame, sales_lines: pd.DataFrame):
    """One row per product per day: stock on hand, its value at cost (price when the cost is
    unknown), days of cover from the last 28 days' units, and status OK / LOW / OUT / DEAD
    (LOW at or below the backend's low-stock threshold, DEAD when nothing sold in 90 days)."""
    snapshot = stock.stock_snapshot(raw_products, sales_lines)
    yield dg.Output(
        snapshot,
        metadata={
            **row_metadata(context, len(snapshot)),
            **{f"status_{s.lower()}": int(n) for s, n in snapshot["status"].value_counts().items()},
        },
    )
    yield checks.unique_rows_check(snapshot, ["snapshot_date", "product_id"])
