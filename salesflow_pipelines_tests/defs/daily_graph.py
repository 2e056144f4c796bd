"""The daily graph (ingestion, cleaning, KPIs) materialized the ways users run it, against a
contract-speaking server and a real warehouse; shared by the pipeline and run-shape tests."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import psycopg

from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.kpis import assets as kpi_assets
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, SalesSource
from salesflow_pipelines.dev.standin_server import StandinServer

DAILY_ASSETS = dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets])
WAREHOUSE_TABLES = (
    "daily_sales_kpis",
    "product_daily_sales",
    "region_daily_sales",
    "category_daily_sales",
    "customer_daily_kpis",
    "stock_snapshot",
    "stock_kpis",
    "product_inventory_kpis",
    "sales_rejects",
)


def materialize(
    server: StandinServer,
    warehouse_url: str,
    frames_dir: str,
    start: date,
    end: date,
    selection: list[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """One in-process run of the daily graph (or the `selection` of its assets) over [start, end]."""
    resources = {
        "sales_source": SalesSource(
            kind="java",
            demo=DemoSource(),
            java=JavaApi(base_url=server.base_url, phone="0000000000", password="admin123", backoff_seconds=0.01),
        ),
        "data_quality": DataQuality(),
        "parquet_io_manager": ParquetIOManager(base_path=frames_dir),
        "warehouse_io_manager": WarehouseIOManager(url=warehouse_url),
    }
    return dg.materialize(
        DAILY_ASSETS,
        selection=selection,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
    )


def warehouse_table(url: str, table: str) -> pd.DataFrame:
    with psycopg.connect(url) as connection:
        rows = connection.execute(f"SELECT * FROM analytics.{table}").fetchall()
        columns = [column.name for column in connection.execute(f"SELECT * FROM analytics.{table} LIMIT 0").description]
    return pd.DataFrame(rows, columns=columns)


def warehouse_tables(url: str) -> dict[str, pd.DataFrame]:
    """Every table of the daily graph, rows in key order, for comparing row for row."""
    tables = {}
    for name in WAREHOUSE_TABLES:
        table = warehouse_table(url, name)
        tables[name] = table.sort_values(list(table.columns)).reset_index(drop=True)
    return tables
