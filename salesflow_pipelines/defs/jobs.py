"""Jobs: named selections of the asset graph that schedules and people launch."""

from __future__ import annotations

import dagster as dg

from salesflow_pipelines.defs.partitions import daily_partitions

DAILY_GROUPS = ("ingestion", "cleaning", "kpis")

daily_sales_job = dg.define_asset_job(
    "daily_sales_job",
    selection=dg.AssetSelection.groups(*DAILY_GROUPS),
    partitions_def=daily_partitions,
    description="Pull a day (or a range) of sales and stock, clean them and write the KPI tables.",
)
