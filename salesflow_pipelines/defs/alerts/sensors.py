"""Alert sensors: they decide which emails to send; a `send_alert_email` run sends each one.

- `high_anomaly_sensor`: each new HIGH row of `sales_anomalies` -> one email (run key
  `anomaly:<anomaly_id>`, the id being stable across re-runs of the day); product and region
  anomalies that share the whole shop's label that day are listed in the shop's email instead
  (`lib.notifications.emails.email_groups`), so a busy day is one email, not one per product;
- `stock_alert_sensor`: a product whose `stock_alerts` status turned LOW or OUT on a day (it was
  not in that status the day before) -> one email (run key `stock:<product_id>:<day>`);
- `run_failure_alert_sensor`: a failed run -> one email to the ops recipients (run key
  `run-failure:<run id>`).

The first two read new materializations of their asset after a cursor, then the warehouse rows of
those days. A request whose run key already has a run is dropped here, and Dagster itself never
launches a sensor's run key twice: a restarted daemon (cursor lost) or a re-materialized day asks
again with the same keys and nothing is sent twice. Days older than
`AlertSource.max_age_days` are not emailed, so that backfilling last year does not flood inboxes.
"""

import os
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from salesflow_pipelines.defs.alerts.email import AlertEmailConfig, send_alert_email
from salesflow_pipelines.defs.partitions import daily_partitions
from salesflow_pipelines.defs.resources import Mailer
from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.analytics import anomalies
from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.notifications import emails
from salesflow_pipelines.lib.warehouse.tables import TABLES

EVENTS_PER_TICK = 200
RUN_KEY_TAG = "dagster/run_key"
SALES_ANOMALIES = dg.AssetKey("sales_anomalies")
STOCK_ALERTS = dg.AssetKey("stock_alerts")


class AlertSource(dg.ConfigurableResource):
    """What the alert sensors read: the warehouse tables, and how recent an alert must be to be emailed."""

    warehouse_url: str = Field(description="SALESFLOW_WAREHOUSE_URL: the warehouse the IO manager writes")
    max_age_days: int = Field(
        default=7, description="SALESFLOW_ALERT_MAX_AGE_DAYS: alerts dated longer ago are not emailed (backfills)"
    )

    def read(self, table: str, first_day: date, last_day: date) -> pd.DataFrame:
        window = Window(first_day, last_day + timedelta(days=1))
        return warehouse.connect(self.warehouse_url).read(TABLES[table], window)

    def oldest_emailed_day(self) -> date:
        return pd.Timestamp.now(tz=daily_partitions.timezone).date() - timedelta(days=self.max_age_days)


def alert_source_from_env(warehouse_url: str) -> AlertSource:
    return AlertSource(warehouse_url=warehouse_url, max_age_days=int(os.environ.get("SALESFLOW_ALERT_MAX_AGE_DAYS", 7)))


def email_request(run_key: str, email: emails.Email, recipients: list[str], **tags: str) -> dg.RunRequest:
    config = AlertEmailConfig(recipients=recipients, subject=email.subject, body=email.body)
    return dg.RunRequest(
        run_key=run_key,
        run_config=dg.RunConfig(ops={"send_alert": config}),
        tags={f"salesflow/{name}": value for name, value in tags.items()},
    )


def not_yet_requested(instance: dg.DagsterInstance, requests: list[dg.RunRequest]) -> list[dg.RunRequest]:
    """The requests whose run key has no run yet."""
    keys = [request.run_key for request in requests]
    if not keys:
        return []
    existing = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: keys}))
    seen = {run.tags.get(RUN_KEY_TAG) for run in existing}
    return [request for request in requests if request.run_key not in seen]


def new_days(context: dg.SensorEvaluationContext, asset_key: dg.AssetKey) -> tuple[list[date], int | None]:
    """Days (partitions) materialized since the cursor, and the storage id to move the cursor to."""
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, after_storage_id=after), limit=EVENTS_PER_TICK, ascending=True
    ).records
    days = sorted({date.fromisoformat(record.partition_key) for record in records if record.partition_key})
    return days, (records[-1].storage_id if records else None)


def _result(
    context: dg.SensorEvaluationContext, requests: list[dg.RunRequest], cursor: int, what: str
) -> dg.SensorResult:
    requests = not_yet_requested(context.instance, requests)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=str(cursor))
    return dg.SensorResult(skip_reason=f"no new {what} to email", cursor=str(cursor))


def _recent(days: list[date], source: AlertSource, context: dg.SensorEvaluationContext) -> list[date]:
    oldest = source.oldest_emailed_day()
    recent = [day for day in days if day >= oldest]
    if len(recent) < len(days):
        context.log.info(f"{len(days) - len(recent)} days before {oldest} are not emailed (older than max_age_days)")
    return recent


def alert_sensor(name: str, asset_key: dg.AssetKey, kind: str, emails, description: str) -> dg.SensorDefinition:
    """A sensor that, for the days of `asset_key` materialized since its cursor (and recent enough),
    asks for one send per (run key, day, email) that `emails(alert_source, days, ui_url)` returns."""

    @dg.sensor(
        name=name,
        job=send_alert_email,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, alert_source: AlertSource, mailer: Mailer):
        days, cursor = new_days(context, asset_key)
        if cursor is None:
            return dg.SkipReason(f"no new {asset_key.to_user_string()} materialization")
        if reason := mailer.nobody_to_email(mailer.alert_recipient_list(), "SALESFLOW_ALERT_RECIPIENTS"):
            return dg.SensorResult(skip_reason=reason, cursor=str(cursor))
        days = _recent(days, alert_source, context)
        found = emails(alert_source, days, mailer.ui_url) if days else []
        requests = [
            email_request(run_key, email, mailer.alert_recipient_list(), alert=kind, day=day)
            for run_key, day, email in found
        ]
        return _result(context, requests, cursor, f"{kind} alert")

    return _sensor


def anomaly_emails(source: AlertSource, days: list[date], ui_url: str) -> list[tuple[str, str, emails.Email]]:
    found = source.read("sales_anomalies", days[0], days[-1])
    high = found[(found["severity"] == anomalies.HIGH) & found["sale_date"].dt.date.isin(days)]
    return [
        (
            f"anomaly:{anomaly['anomaly_id']}",
            f"{anomaly['sale_date']:%Y-%m-%d}",
            emails.anomaly_email(anomaly, ui_url, covered),
        )
        for anomaly, covered in emails.email_groups(high)
    ]


def turned(alerts_table: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """Rows of `days` whose product was not in the same status the day before."""
    previous = alerts_table[["snapshot_date", "product_id", "status"]].assign(
        snapshot_date=alerts_table["snapshot_date"] + pd.Timedelta(days=1)
    )
    merged = alerts_table.merge(previous, on=["snapshot_date", "product_id"], how="left", suffixes=("", "_before"))
    changed = merged["status_before"].isna() | (merged["status_before"] != merged["status"])
    return merged[changed.fillna(True) & merged["snapshot_date"].dt.date.isin(days)].drop(columns="status_before")


def stock_emails(source: AlertSource, days: list[date], ui_url: str) -> list[tuple[str, str, emails.Email]]:
    table = source.read("stock_alerts", days[0] - timedelta(days=1), days[-1])
    rows = turned(table, days).sort_values(["snapshot_date", "product_id"]).to_dict("records")
    return [
        (
            f"stock:{row['product_id']}:{row['snapshot_date']:%Y-%m-%d}",
            f"{row['snapshot_date']:%Y-%m-%d}",
            emails.stock_email(row, ui_url),
        )
        for row in rows
    ]


high_anomaly_sensor = alert_sensor(
    "high_anomaly_sensor",
    SALES_ANOMALIES,
    "anomaly",
    anomaly_emails,
    "A new HIGH revenue anomaly: email it to SALESFLOW_ALERT_RECIPIENTS, once per anomaly.",
)
stock_alert_sensor = alert_sensor(
    "stock_alert_sensor",
    STOCK_ALERTS,
    "stock",
    stock_emails,
    "A product turned LOW or OUT of stock: email SALESFLOW_ALERT_RECIPIENTS, once per product per day.",
)


def error_text(context: dg.RunFailureSensorContext) -> str:
    """The run's failure message and, per failed step, its error and causes (no stack traces)."""
    parts = [context.failure_event.message or "the run failed"]
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        messages = []
        while error is not None:
            messages.append(error.message.strip())
            error = error.cause
        parts.append(f"step {event.step_key}: " + "\n  caused by: ".join(messages))
    return "\n".join(parts)


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    request_job=send_alert_email,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A run failed: email SALESFLOW_OPS_RECIPIENTS with the run id, the error and a link.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, mailer: Mailer):
    run = context.dagster_run
    if reason := mailer.nobody_to_email(mailer.ops_recipient_list(), "SALESFLOW_OPS_RECIPIENTS"):
        return dg.SkipReason(reason)
    if run.job_name == send_alert_email.name:
        # An alert that could not be sent: emailing about it would fail the same way.
        return dg.SkipReason(f"run {run.run_id} sends alerts itself; see it in the UI")
    email = emails.run_failure_email(run.run_id, run.job_name, error_text(context), mailer.ui_url)
    return email_request(f"run-failure:{run.run_id}", email, mailer.ops_recipient_list(), alert="run-failure")
