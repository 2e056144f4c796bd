"""Ingestion: sales and the product snapshot, pulled from the configured source."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.cleaning.checks import reconciliation_check
from salesflow_pipelines.defs.partitions import (
    boundary_type,
    daily_partitions,
    days_label,
    frame_metadata,
    partition_window,
    single_run,
    window_days,
)
from salesflow_pipelines.defs.resources import DataQuality, SalesSource
from salesflow_pipelines.lib.schemas import RawProduct, RawSaleLine

INGESTION = dict(
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="ingestion",
    io_manager_key="parquet_io_manager",
)


@dg.asset(
    **INGESTION,
    kinds={"pandas", "parquet"},
    dagster_type=boundary_type(RawSaleLine),
    metadata={"partition_column": "sale_date"},
    check_specs=[
        dg.AssetCheckSpec(
            "total_amount_reconciles",
            asset="raw_sales",
            description="Each sale's totalAmount equals the sum of its lines' q x p x (1 - d).",
        )
    ],
)
def raw_sales(context: dg.AssetExecutionContext, sales_source: SalesSource, data_quality: DataQuality):
    """One row per sale line as the source delivered it, for each day: duplicates, stray
    spellings and bad values included. Read through `/sales/range` pages when the Java backend
    offers them, else `/sales/history`; a backfill reads its whole window in one pull."""
    window = partition_window(context)
    delivered = sales_source.active().fetch_sales(window.start, window.end - timedelta(days=1))
    undated = delivered["sale_date"].isna()
    if undated.any():
        context.log.warning(
            f"{int(undated.sum())} lines have no parseable saleDate (sale ids "
            f"{delivered.loc[undated, 'sale_id'].dropna().unique()[:10].tolist()}) and belong to no day; "
            "they are left out of every partition. Fix their saleDate in the backend."
        )
    lines = delivered[~undated].reset_index(drop=True)
    yield dg.Output(
        lines,
        metadata={
            **frame_metadata(RawSaleLine, lines),
            "days": days_label(window),
            "sales": int(lines["sale_id"].nunique()),
            "lines_without_sale_date": int(undated.sum()),
            "source": sales_source.kind,
        },
    )
    yield reconciliation_check(lines, data_quality.reconcile_tolerance)


@dg.asset(
    **INGESTION,
    kinds={"pandas", "parquet"},
    dagster_type=boundary_type(RawProduct),
    metadata={"partition_column": "snapshot_date"},
)
def raw_products(context: dg.AssetExecutionContext, sales_source: SalesSource) -> pd.DataFrame:
    """One row per product per day: `GET /products` (price, stock, low-stock threshold) joined
    with `GET /inventory` (category, cost) on SKU. The Java backend only knows its current
    stock, so a day's snapshot is the stock at the time that day's run pulled it."""
    window = partition_window(context)
    source = sales_source.active()
    snapshots = [source.fetch_products(day.date()) for day in window_days(window)]
    products = pd.concat(snapshots, ignore_index=True)
    context.add_output_metadata(
        {
            **frame_metadata(RawProduct, products),
            "days": days_label(window),
            "products_without_inventory": int(products["category"].isna().sum()),
        }
    )
    return products
