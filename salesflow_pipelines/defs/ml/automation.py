"""After the daily graph: the same days' anomalies and stock alerts, and a fresh forecast.

`daily_sales_job` (its schedule, or a launch for a range of days) writes the KPI tables; when a
run of it succeeds, `ml_after_daily_sales` asks for `ml_daily_job` over the same day or range,
and for `forecast_job` when the run reached the newest day; once per daily run (run keys). The
alert sensors then read what they wrote.
"""

import dagster as dg

from salesflow_pipelines.defs.jobs import daily_sales_job
from salesflow_pipelines.defs.partitions import daily_partitions

PARTITION_TAGS = ("dagster/partition", "dagster/asset_partition_range_start", "dagster/asset_partition_range_end")

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


@dg.run_status_sensor(
    name="ml_after_daily_sales",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_sales_job],
    request_jobs=[ml_daily_job, forecast_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When daily_sales_job succeeds: anomalies and stock alerts of its days, and a new forecast.",
)
def ml_after_daily_sales(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    partition = {name: value for name, value in run.tags.items() if name in PARTITION_TAGS}
    if not partition:
        return dg.SkipReason(f"run {run.run_id} has no partition: nothing to follow up")
    requests = [dg.RunRequest(run_key=f"ml:{run.run_id}", job_name=ml_daily_job.name, tags=partition)]
    last_day = partition.get("dagster/partition") or partition.get("dagster/asset_partition_range_end")
    if last_day == daily_partitions.get_last_partition_key():
        # Only a run that brings the newest day moves the forecast; a backfill of old days does not.
        requests.append(dg.RunRequest(run_key=f"forecast:{run.run_id}", job_name=forecast_job.name))
    return requests
