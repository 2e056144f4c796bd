"""Ingestion: sales and the product snapshot, pulled from the configured source."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.cleaning.checks import reconciliation_check
from salesflow_pipelines.defs.io_managers import PartitionedParquetIOManager
from salesflow_pipelines.defs.partitions import (
    boundary,
    daily_partitions,
    days_label,
    partition_window,
    row_metadata,
    single_run,
    window_days,
)
from salesflow_pipelines.defs.resources import DataQuality, SalesSource
from salesflow_pipelines.lib.dates import Window
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
    **boundary(RawSaleLine, partition_column="sale_date"),
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
    lines = delivered
    if undated.any():  # only then: filtering copies every line (a year's are 100 MB)
        context.log.warning(
            f"{int(undated.sum())} lines have no parseable saleDate (sale ids "
            f"{delivered.loc[undated, 'sale_id'].dropna().unique()[:10].tolist()}) and belong to no day; "
            "they are left out of every partition. Fix their saleDate in the backend."
        )
        lines = delivered[~undated].reset_index(drop=True)
    yield dg.Output(
        lines,
        metadata={
            **row_metadata(context, len(lines)),
            "days": days_label(window),
            "sales": int(lines["sale_id"].nunique()),
            "lines_without_sale_date": int(undated.sum()),
            "source": sales_source.kind,
        },
    )
    yield reconciliation_check(lines, data_quality.reconcile_tolerance)


def current_day() -> date:
    """Today in the partitions' timezone (SALESFLOW_TZ): days before it are history."""
    return datetime.now(ZoneInfo(daily_partitions.timezone)).date()


def stored_snapshots(
    asset_key: dg.AssetKey, days: list[date], store: PartitionedParquetIOManager
) -> dict[date, pd.DataFrame]:
    """The snapshots already stored for the past days among `days`; today and later are never reused.

    Read through the Parquet IO manager as a resource (`ResourceParam`, the value its factory
    creates): Dagster 1.13 has no input for an asset's own partition (a self-dependency maps only
    to earlier partitions), and an IO manager that silently kept old files would leave the run's
    metadata describing rows that were thrown away.
    """
    today = current_day()
    past = {day.strftime(daily_partitions.fmt): day for day in days if day < today}
    return {past[key]: frame for key, frame in store.stored_partitions(asset_key, list(past)).items()}


def days_text(days: list[date]) -> str:
    """Days as runs of consecutive days: "2026-10-01..2026-10-03, 2026-10-07"."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(days_label(Window(run[0], run[-1] + timedelta(days=1))) for run in runs)


@dg.asset(
    **INGESTION,
    kinds={"pandas", "parquet"},
    **boundary(RawProduct, partition_column="snapshot_date"),
)
def raw_products(
    context: dg.AssetExecutionContext,
    sales_source: SalesSource,
    parquet_io_manager: dg.ResourceParam[PartitionedParquetIOManager],
) -> pd.DataFrame:
    """One row per product per day: `GET /products` (price, stock, low-stock threshold) joined
    with `GET /inventory` (category, cost) on SKU. The Java backend only knows its current
    stock, so a day keeps the snapshot of its first successful pull: re-running a past day
    (before today in SALESFLOW_TZ) reuses its stored snapshot, and only today, later days and
    past days never stored are pulled (`days_reused` / `days_pulled`)."""
    window = partition_window(context)
    days = [day.date() for day in window_days(window)]
    stored = stored_snapshots(context.asset_key, days, parquet_io_manager)
    pulled = [day for day in days if day not in stored]
    snapshots = list(stored.values())
    if pulled:  # in one call: the demo source makes a range's snapshots at once, the backend is pulled once
        snapshots.append(sales_source.active().fetch_products_range(pulled))
    if stored:
        context.log.info(
            f"Reused the stored stock snapshot of {len(stored)} past day(s), not re-pulled (the backend "
            f"only knows today's stock): {days_text(list(stored))}"
        )
    products = pd.concat(snapshots, ignore_index=True).sort_values("snapshot_date", kind="stable", ignore_index=True)
    context.add_output_metadata(
        {
            **row_metadata(context, len(products)),
            "days": days_label(window),
            "days_reused": len(stored),
            "days_pulled": len(pulled),
            "reused": days_text(list(stored)) or "none",
            "products_without_inventory": int(products["category"].isna().sum()),
        }
    )
    return products
