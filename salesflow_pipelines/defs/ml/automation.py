"""Jobs over the ML tables, for people and `salesflow demo`; the daemon follows the daily tables
by the assets' automation conditions (see `defs/automation.py`), not by these jobs."""

import dagster as dg

from salesflow_pipelines.defs.partitions import daily_partitions

ml_daily_job = dg.define_asset_job(
    "ml_daily_job",
    selection=dg.AssetSelection.assets("sales_anomalies", "stock_alerts"),
    partitions_def=daily_partitions,
    description="Find the revenue anomalies and the LOW / OUT / STOCKOUT_RISK products of a day (or a range).",
)
forecast_job = dg.define_asset_job(
    "forecast_job",
    selection=dg.AssetSelection.assets("sales_forecast", "sales_forecast_summary", "forecast_accuracy"),
    partitions_def=daily_partitions,
    description=(
        "Forecast the days after each as-of day of a range from the KPI tables up to it, and score the "
        "forecasts of those days made before them; one run per range. A year of forecasts after a year of KPIs: "
        "`dagster asset materialize -m salesflow_pipelines.definitions --select "
        "sales_forecast,sales_forecast_summary,forecast_accuracy --partition-range 2025-01-01...2025-12-31`."
    ),
)
