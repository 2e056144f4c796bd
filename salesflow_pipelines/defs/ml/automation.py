"""Jobs over the ML tables, for people and `salesflow demo`; the daemon follows the daily tables
by the assets' automation conditions (see `defs/automation.py`), not by these jobs."""

import dagster as dg

from salesflow_pipelines.defs.partitions import daily_partitions

ml_daily_job = dg.define_asset_job(
    "ml_daily_job",
    selection=dg.AssetSelection.assets("sales_anomalies", "stock_alerts"),
    partitions_def=daily_partitions,
    description="Find the revenue anomalies and the LOW / OUT products of a day (or a range).",
)
forecast_job = dg.define_asset_job(
    "forecast_job",
    selection=dg.AssetSelection.assets("sales_forecast", "sales_forecast_summary"),
    description="Forecast the next days' revenue from the KPI tables.",
)
