"""The ml domain's Dagster definitions: forecast, anomalies and stock alerts, their jobs and settings."""

import dagster as dg

from salesflow_pipelines.defs.ml import assets, automation
from salesflow_pipelines.defs.ml.resources import ml_settings_from_env

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[automation.ml_daily_job, automation.forecast_job],
    resources=ml_settings_from_env(),
)
