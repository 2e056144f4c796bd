"""The reports domain's Dagster definitions: report assets, their jobs and schedules, and the
sensor and job that email each period's files (with the code location's `mailer`)."""

import dagster as dg

from salesflow_pipelines.defs.reports import assets, automation, email

defs = dg.Definitions(
    assets=[assets.weekly_sales_report, assets.monthly_sales_report],
    jobs=[automation.weekly_report_job, automation.monthly_report_job, email.send_report_email],
    schedules=[automation.weekly_report_schedule, automation.monthly_report_schedule],
    sensors=[email.report_email_sensor],
)
