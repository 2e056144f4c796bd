"""The code location: every domain's assets and checks, with resources from the environment."""

from __future__ import annotations

import os

import dagster as dg

from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.jobs import daily_sales_job
from salesflow_pipelines.defs.kpis import assets as kpi_assets
from salesflow_pipelines.defs.resources import (
    data_dir,
    data_quality_from_env,
    env_or,
    sales_source_from_env,
)


def default_warehouse_url() -> str:
    return f"sqlite:///{os.path.join(data_dir(), 'warehouse.db')}"


def resources() -> dict:
    return {
        "sales_source": sales_source_from_env(),
        "data_quality": data_quality_from_env(),
        "parquet_io_manager": ParquetIOManager(base_path=os.path.join(data_dir(), "frames")),
        "warehouse_io_manager": WarehouseIOManager(url=env_or("SALESFLOW_WAREHOUSE_URL", default_warehouse_url())),
    }


defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets]),
    jobs=[daily_sales_job],
    resources=resources(),
)
