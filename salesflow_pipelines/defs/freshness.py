"""Freshness: a daemon that is down, or a day that never ran, shows red in the UI.

- The daily tables' newest day (yesterday) must be in by 03:00 shop time (the schedule runs at
  01:00 and takes seconds; two hours leave room for a retry).
- The forecast must be at most 26 hours old (it follows the newest day).
- Last week's reports by Monday 09:00, last month's by the 1st at 09:00 (schedules at 07:00).
- `no_gap_in_dates`: every day between the first and the newest materialized day of
  `daily_sales_kpis` is materialized (a backfill that skipped days).

The freshness sensor evaluates the freshness checks without launching runs.
"""

from datetime import timedelta

import dagster as dg

from salesflow_pipelines.defs.partitions import daily_partitions

TIMEZONE = daily_partitions.timezone
DAILY_TABLES = [
    "raw_sales",
    "sales_lines",
    "stock_snapshot",
    "daily_sales_kpis",
    "product_daily_sales",
    "region_daily_sales",
    "category_daily_sales",
    "customer_daily_kpis",
    "stock_kpis",
    "sales_anomalies",
    "stock_alerts",
]
GAP_EXAMPLES = 10

freshness_checks = [
    *dg.build_time_partition_freshness_checks(assets=DAILY_TABLES, deadline_cron="0 3 * * *", timezone=TIMEZONE),
    *dg.build_last_update_freshness_checks(
        assets=["sales_forecast", "sales_forecast_summary"], lower_bound_delta=timedelta(hours=26)
    ),
    *dg.build_time_partition_freshness_checks(
        assets=["weekly_sales_report_pdf", "weekly_sales_report_xlsx"], deadline_cron="0 9 * * 1", timezone=TIMEZONE
    ),
    *dg.build_time_partition_freshness_checks(
        assets=["monthly_sales_report_pdf", "monthly_sales_report_xlsx"], deadline_cron="0 9 1 * *", timezone=TIMEZONE
    ),
]
freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks, default_status=dg.DefaultSensorStatus.RUNNING
)


def missing_days(materialized: set[str], partitions: dg.TimeWindowPartitionsDefinition) -> list[str]:
    """Partition keys between the first and the last of `materialized` that are not in it."""
    if not materialized:
        return []
    span = dg.PartitionKeyRange(min(materialized), max(materialized))
    return [key for key in partitions.get_partition_keys_in_range(span) if key not in materialized]


@dg.asset_check(
    asset="daily_sales_kpis",
    description="Every day between the first and the newest materialized day is materialized (no backfill hole).",
)
def no_gap_in_dates(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    materialized = context.instance.get_materialized_partitions(dg.AssetKey("daily_sales_kpis"))
    gaps = missing_days(set(materialized), daily_partitions)
    return dg.AssetCheckResult(
        passed=not gaps,
        description=(
            f"{len(gaps)} days missing between the first and the newest day, e.g. {', '.join(gaps[:GAP_EXAMPLES])}: "
            "backfill them (daily_sales_job with that range)"
            if gaps
            else "no day missing"
        ),
        metadata={"missing_days": len(gaps), "days_materialized": len(materialized)},
    )


defs = dg.Definitions(asset_checks=[*freshness_checks, no_gap_in_dates], sensors=[freshness_sensor])
