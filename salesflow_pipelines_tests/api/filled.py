"""A warehouse filled the way users fill it: the daily graph and the daily ML assets (forecasts of
each as-of day included) over eleven weeks of demo sales in one backfill run, and the weekly and
monthly report files of some of those days; shared by every API test of a session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.kpis import assets as kpi_assets
from salesflow_pipelines.defs.ml import assets as ml_assets
from salesflow_pipelines.defs.ml.resources import AnomalySettings, ForecastSettings, StockAlertSettings
from salesflow_pipelines.defs.reports.assets import monthly_sales_report, weekly_sales_report
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, ReportStore, SalesSource

ASSETS = dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets, ml_assets])
FIRST_DAY, LAST_DAY = date(2026, 8, 3), date(2026, 10, 18)  # a Monday to a Sunday
HORIZON_DAYS = 14
REPORTS = (
    (weekly_sales_report, "2026-10-05"),
    (weekly_sales_report, "2026-10-12"),
    (monthly_sales_report, "2026-09-01"),
)


def fill(warehouse_url: str, work_dir: Path, reports_dir: Path) -> None:
    """Materialize FIRST_DAY..LAST_DAY (with their forecasts) and the REPORTS into the warehouse and `reports_dir`."""
    resources = {
        "sales_source": SalesSource(kind="demo", demo=DemoSource(orders_per_day=40), java=JavaApi()),
        "data_quality": DataQuality(),
        "parquet_io_manager": ParquetIOManager(base_path=str(work_dir / "frames")),
        "warehouse_io_manager": WarehouseIOManager(url=warehouse_url),
        "forecast_settings": ForecastSettings(horizon_days=HORIZON_DAYS, strategy="linear"),
        "anomaly_settings": AnomalySettings(),
        "stock_alert_settings": StockAlertSettings(),
        "report_store": ReportStore(base_dir=str(reports_dir)),
    }
    instance = dg.DagsterInstance.ephemeral()
    days = {
        "dagster/asset_partition_range_start": FIRST_DAY.isoformat(),
        "dagster/asset_partition_range_end": LAST_DAY.isoformat(),
    }
    # Every asset is daily-partitioned: the backfill also makes each as-of day's forecast and scores them.
    assert all(asset.partitions_def is not None for asset in ASSETS)
    assert dg.materialize(ASSETS, resources=resources, instance=instance, tags=days).success
    for report, partition_key in REPORTS:
        result = dg.materialize(
            [report, *ASSETS], selection=[report], partition_key=partition_key, resources=resources, instance=instance
        )
        assert result.success
