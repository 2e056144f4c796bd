"""Report emails: each week's and month's files sent once to SALESFLOW_REPORT_RECIPIENTS.

A sensor watches the report assets' materializations and asks for one `send_report_email` run
per period and kind, with run key `report-email:<kind>:<partition>`. Dagster never launches two
runs with the same run key from a sensor, so a re-materialized or backfilled period is not sent
again; the sensor's cursor (the last event it read) keeps it from re-reading old events. The send
itself retries with backoff when the SMTP server is down.
"""

from typing import Any

import dagster as dg

from salesflow_pipelines.defs.reports.assets import FORMATS, report_key
from salesflow_pipelines.defs.resources import Mailer, ReportStore
from salesflow_pipelines.lib.reports import files
from salesflow_pipelines.lib.reports.periods import PERIOD_KINDS, ReportPeriod

EVENTS_PER_TICK = 100
KIND_OF = {report_key(kind, extension): kind for kind in PERIOD_KINDS for extension in FORMATS}
WATCHED = list(KIND_OF)


class ReportEmailConfig(dg.Config):
    kind: str
    partition_key: str


@dg.op(retry_policy=dg.RetryPolicy(max_retries=4, delay=30, backoff=dg.Backoff.EXPONENTIAL))
def email_report(
    context: dg.OpExecutionContext,
    config: ReportEmailConfig,
    report_store: ReportStore,
    mailer: dg.ResourceParam[Any],
) -> None:
    """Send the period's PDF and workbook as attachments to the report recipients."""
    period = ReportPeriod.from_partition_key(config.kind, config.partition_key)
    attachments = [
        path
        for extension in FORMATS
        if (path := files.report_path(report_store.directory(), period, extension)).exists()
    ]
    if not attachments:
        raise dg.Failure(f"no report files for {period.label} in {report_store.directory() / period.kind}")
    recipients = report_store.recipient_list()
    mailer.send(
        to=recipients,
        subject=f"SalesFlow sales report · {period.title}",
        contents=report_email_body(period),
        attachments=[str(path) for path in attachments],
    )
    context.log.info(f"sent {', '.join(path.name for path in attachments)} to {len(recipients)} recipients")


def report_email_body(period: ReportPeriod) -> str:
    return (
        f"Attached: the SalesFlow sales report for {period.title} ({period.span}), as PDF to print and "
        "as an Excel workbook with the daily, product, region and category figures, margins, stock health "
        "and customers.\n\n"
        "This email is sent once per period by the SalesFlow pipelines."
    )


@dg.job(description="Email one period's report files (PDF and Excel) to SALESFLOW_REPORT_RECIPIENTS.")
def send_report_email():
    email_report()


@dg.sensor(
    job=send_report_email,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A weekly or monthly report was written: email it, once per period and kind.",
)
def report_email_sensor(context: dg.SensorEvaluationContext, report_store: ReportStore, mailer: Mailer):
    after = int(context.cursor) if context.cursor else None
    batches = [
        context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=EVENTS_PER_TICK, ascending=True
        ).records
        for key in WATCHED
    ]
    events = [record for batch in batches for record in batch]
    if not events:
        return dg.SkipReason("no new report files")
    # A full batch may have more behind it: stop at the earliest full batch's end, read on next tick.
    full = [batch[-1].storage_id for batch in batches if len(batch) == EVENTS_PER_TICK]
    horizon = min(full) if full else max(record.storage_id for record in events)
    events = [record for record in events if record.storage_id <= horizon]
    context.update_cursor(str(horizon))
    if reason := mailer.nobody_to_email(report_store.recipient_list(), "SALESFLOW_REPORT_RECIPIENTS"):
        return dg.SkipReason(f"reports are written but not emailed: {reason}")
    periods = sorted({(KIND_OF[record.asset_key], record.partition_key) for record in events if record.partition_key})
    return [
        dg.RunRequest(
            run_key=f"report-email:{kind}:{partition_key}",
            run_config=dg.RunConfig(ops={"email_report": ReportEmailConfig(kind=kind, partition_key=partition_key)}),
            tags={"salesflow/report": ReportPeriod.from_partition_key(kind, partition_key).label},
        )
        for kind, partition_key in periods
    ]
