"""The daily pipeline across domains: `daily_sales_job` (ingestion, cleaning, KPIs) and its schedule."""

import dagster as dg

from salesflow_pipelines.defs.partitions import daily_partitions

DAILY_GROUPS = ("ingestion", "cleaning", "kpis")

daily_sales_job = dg.define_asset_job(
    "daily_sales_job",
    selection=dg.AssetSelection.groups(*DAILY_GROUPS),
    partitions_def=daily_partitions,
    description="Pull a day (or a range) of sales and stock, clean them and write the KPI tables.",
)

# 01:00 shop time: the day is closed and late syncs from the tills have landed.
DAILY_HOUR = 1

daily_sales_schedule = dg.build_schedule_from_partitioned_job(
    daily_sales_job,
    name="daily_sales_schedule",
    description="Every day at 01:00 (SALESFLOW_TZ): yesterday's partition of the daily graph.",
    hour_of_day=DAILY_HOUR,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(jobs=[daily_sales_job], schedules=[daily_sales_schedule])
