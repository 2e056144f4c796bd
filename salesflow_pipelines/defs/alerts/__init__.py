"""The alerts domain's Dagster definitions: the alert email job and the sensors that request it.

They need the `mailer` resource and an `alert_source` (see `sensors.alert_source_from_env`), which
the code location provides next to the warehouse IO manager.
"""

import dagster as dg

from salesflow_pipelines.defs.alerts import email, sensors

defs = dg.Definitions(
    jobs=[email.send_alert_email],
    sensors=[sensors.high_anomaly_sensor, sensors.stock_alert_sensor, sensors.run_failure_alert_sensor],
)
