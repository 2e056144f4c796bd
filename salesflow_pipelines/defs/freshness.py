"""Freshness: a daemon that is down, or a day that never ran, shows red in the UI.

Freshness policies (evaluated by Dagster itself, no sensor):
- the daily tables must have been materialized in the 24 hours before 03:00 shop time (the
  schedule runs at 01:00 and takes seconds; two hours leave room for a retry);
- the forecast at most 26 hours old (it follows the newest day);
- last week's reports by Monday 09:00, last month's by the 1st at 09:00 (schedules at 07:00).

`no_gap_in_dates` checks that every day between the first and the newest materialized day of
`daily_sales_kpis` is materialized (a backfill that skipped days).
"""

from datetime import timedelta

import dagster as dg

from salesflow_pipelines.defs.partitions import daily_partitions

TIMEZONE = daily_partitions.timezone
DAILY_TABLES = dg.AssetSelection.groups("ingestion", "cleaning", "kpis") | dg.AssetSelection.assets(
    "sales_anomalies", "stock_alerts"
)
POLICIES: dict[dg.FreshnessPolicy, dg.AssetSelection | list[str]] = {
    dg.FreshnessPolicy.cron(deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=24), timezone=TIMEZONE): (
        DAILY_TABLES
    ),
    dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26)): ["sales_forecast", "sales_forecast_summary"],
    dg.FreshnessPolicy.cron(deadline_cron="0 9 * * 1", lower_bound_delta=timedelta(days=7), timezone=TIMEZONE): [
        "weekly_sales_report_pdf",
        "weekly_sales_report_xlsx",
    ],
    dg.FreshnessPolicy.cron(deadline_cron="0 9 1 * *", lower_bound_delta=timedelta(days=28), timezone=TIMEZONE): [
        "monthly_sales_report_pdf",
        "monthly_sales_report_xlsx",
    ],
}
GAP_EXAMPLES = 10


def with_freshness(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with each asset's freshness policy (see the module docstring) attached."""
    for policy, assets in POLICIES.items():
        defs = defs.map_resolved_asset_specs(
            func=lambda spec, policy=policy: dg.apply_freshness_policy(spec, policy), selection=assets
        )
    return defs


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


defs = dg.Definitions(asset_checks=[no_gap_in_dates])
