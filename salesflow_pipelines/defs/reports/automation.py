"""Report jobs and their schedules: last week's reports every Monday at 07:00, last month's on the
1st at 07:00, in the shop's time zone (SALESFLOW_TZ, the partitions' time zone)."""

from datetime import date

import dagster as dg

from salesflow_pipelines.defs.reports.assets import PARTITIONS, monthly_sales_report, weekly_sales_report
from salesflow_pipelines.lib.reports.periods import ended_periods_overlapping

REPORT_HOUR = 7

weekly_report_job = dg.define_asset_job(
    "weekly_report_job",
    selection=dg.AssetSelection.assets(weekly_sales_report),
    partitions_def=PARTITIONS["weekly"],
    description="Render last week's (Monday to Sunday) sales report as PDF and Excel.",
)
monthly_report_job = dg.define_asset_job(
    "monthly_report_job",
    selection=dg.AssetSelection.assets(monthly_sales_report),
    partitions_def=PARTITIONS["monthly"],
    description="Render last month's sales report as PDF and Excel.",
)


def report_schedule(job, description: str, **when: int) -> dg.ScheduleDefinition:
    """Run `job` for the period that just ended, at 07:00 shop time on the given day."""
    return dg.build_schedule_from_partitioned_job(
        job,
        name=job.name.replace("_job", "_schedule"),
        description=description,
        hour_of_day=REPORT_HOUR,
        minute_of_hour=0,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        **when,
    )


weekly_report_schedule = report_schedule(
    weekly_report_job, "Every Monday at 07:00: the week that ended on Sunday.", day_of_week=1
)
monthly_report_schedule = report_schedule(
    monthly_report_job, "On the 1st of each month at 07:00: the month that just ended.", day_of_month=1
)


def report_runs(first_day: date, last_day: date) -> list[tuple[str, str, str]]:
    """(job, first partition, last partition) rendering every ended week and month that shares a
    day with [first_day, last_day]: what `salesflow demo` runs after loading those days."""
    runs = []
    for kind, job in (("weekly", weekly_report_job), ("monthly", monthly_report_job)):
        periods = ended_periods_overlapping(kind, first_day, last_day)
        if periods:
            runs.append((job.name, periods[0].partition_key, periods[-1].partition_key))
    return runs
