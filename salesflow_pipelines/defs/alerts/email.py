"""The alert email job: one run sends one message, retried with backoff while SMTP is down.

Sensors decide what to send and put the recipients, subject and body in the run config; the
run key they give each request makes Dagster launch at most one run per alert, so an email is
never sent twice, whatever restarts or re-materializations happen.
"""

import dagster as dg

from salesflow_pipelines.defs.resources import Mailer

# 30 s, 1, 2, 4 and 8 min: an SMTP outage of up to ~15 minutes delays the email; a longer one fails
# the run (visible in the UI, re-executable from there), and the sensor does not ask again.
ALERT_RETRY_POLICY = dg.RetryPolicy(max_retries=5, delay=30, backoff=dg.Backoff.EXPONENTIAL)


class AlertEmailConfig(dg.Config):
    recipients: list[str]
    subject: str
    body: str


@dg.op(retry_policy=ALERT_RETRY_POLICY, out=dg.Out(dg.Nothing))
def send_alert(context: dg.OpExecutionContext, config: AlertEmailConfig, mailer: Mailer) -> dg.Output:
    """Send the alert; without an SMTP host or recipients, write it to the run log and say so."""
    delivered = mailer.send(to=config.recipients, subject=config.subject, contents=config.body)
    metadata = {
        "delivered": delivered,
        "recipients": ", ".join(config.recipients) or "(none)",
        "subject": config.subject,
        "body": dg.MetadataValue.text(config.body),
    }
    if not delivered:
        metadata["not_sent_because"] = (
            "no SMTP host configured (SALESFLOW_SMTP_HOST): the message is in this run's log"
            if not mailer.configured
            else "no recipients configured: the message is in this run's log"
        )
    return dg.Output(None, metadata=metadata)


def build_send_alert_email(retry_policy: dg.RetryPolicy = ALERT_RETRY_POLICY) -> dg.JobDefinition:
    """The job; tests pass a retry policy with a short delay."""

    @dg.job(
        name="send_alert_email",
        description="Send one alert email (anomaly, stock or failed run), retried while SMTP is down.",
        tags={"salesflow/kind": "alert-email"},
    )
    def send_alert_email():
        send_alert.with_retry_policy(retry_policy)()

    return send_alert_email


send_alert_email = build_send_alert_email()
