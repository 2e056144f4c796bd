"""The ml domain's Dagster definitions: forecast, anomalies and stock alerts, their settings, and
the sensor that runs them after the daily graph."""

import dagster as dg

from salesflow_pipelines.defs.ml import assets, automation
from salesflow_pipelines.defs.ml.resources import ml_settings_from_env

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[automation.ml_daily_job, automation.forecast_job],
    sensors=[automation.ml_after_daily_sales],
    resources=ml_settings_from_env(),
)
