"""The reports domain's Dagster definitions: report assets, their jobs and schedules.

`email_defs` (the report email sensor and job) need the `mailer` resource, the Mailer on yagmail;
merge them into the code location next to it.
"""

import dagster as dg

from salesflow_pipelines.defs.reports import assets, automation, email

defs = dg.Definitions(
    assets=[assets.weekly_sales_report, assets.monthly_sales_report],
    jobs=[automation.weekly_report_job, automation.monthly_report_job],
    schedules=[automation.weekly_report_schedule, automation.monthly_report_schedule],
)

email_defs = dg.Definitions(jobs=[email.send_report_email], sensors=[email.report_email_sensor])
