"""Settings of the forecast, the anomaly rules and the stock alerts, from the environment."""

import os

import dagster as dg
from pydantic import Field

from salesflow_pipelines.defs.resources import env_or
from salesflow_pipelines.lib.analytics import forecast, reorder
from salesflow_pipelines.lib.analytics.anomalies import AnomalyRules


class ForecastSettings(dg.ConfigurableResource):
    """How far ahead the revenue forecast looks and which strategy makes it."""

    horizon_days: int = Field(default=forecast.DEFAULT_HORIZON, description="SALESFLOW_FORECAST_HORIZON")
    strategy: str = Field(
        default=forecast.AUTO,
        description="SALESFLOW_FORECAST_STRATEGY: auto (the best in backtest, seasonal naive included), linear, "
        "random_forest, gradient_boosting, weekday_profile or seasonal_naive",
    )
    history_days: int = Field(
        default=forecast.HISTORY_DAYS,
        description=f"Trailing days the models learn from, at most {forecast.HISTORY_DAYS} (what the asset loads).",
    )
    workers: int = Field(
        default=1,
        description="SALESFLOW_FORECAST_WORKERS: processes a backfill of many as-of days shares them among "
        "(each day is still forecast alone, so the rows are the same)",
    )


class AnomalySettings(dg.ConfigurableResource):
    """Thresholds of the anomaly rules (lib/analytics/anomalies.py says what each does)."""

    window_days: int = Field(default=28, description="SALESFLOW_ANOMALY_WINDOW_DAYS: trailing days, at most 28")
    z_medium: float = Field(default=2.0, description="|z| from which a day is a MEDIUM anomaly")
    z_high: float = Field(default=3.0, description="|z| from which a day is a HIGH anomaly (emailed)")
    variance_ratio: float = Field(default=2.0, description="7-day over 21-day standard deviation that is a shift")

    def rules(self) -> AnomalyRules:
        return AnomalyRules(
            window_days=self.window_days,
            z_medium=self.z_medium,
            z_high=self.z_high,
            variance_ratio=self.variance_ratio,
        )


class StockAlertSettings(dg.ConfigurableResource):
    """Days of demand a suggested reorder covers: the supplier's lead time plus safety stock."""

    lead_time_days: int = Field(default=reorder.DEFAULT_LEAD_DAYS, description="SALESFLOW_REORDER_LEAD_DAYS")
    safety_stock_days: int = Field(default=reorder.DEFAULT_SAFETY_DAYS, description="SALESFLOW_SAFETY_STOCK_DAYS")


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def ml_settings_from_env() -> dict[str, dg.ConfigurableResource]:
    return {
        "forecast_settings": ForecastSettings(
            horizon_days=_int_env("SALESFLOW_FORECAST_HORIZON", forecast.DEFAULT_HORIZON),
            strategy=env_or("SALESFLOW_FORECAST_STRATEGY", forecast.AUTO),
            workers=_int_env("SALESFLOW_FORECAST_WORKERS", min(os.cpu_count() or 1, 4)),
        ),
        "anomaly_settings": AnomalySettings(window_days=_int_env("SALESFLOW_ANOMALY_WINDOW_DAYS", 28)),
        "stock_alert_settings": StockAlertSettings(
            lead_time_days=_int_env("SALESFLOW_REORDER_LEAD_DAYS", reorder.DEFAULT_LEAD_DAYS),
            safety_stock_days=_int_env("SALESFLOW_SAFETY_STOCK_DAYS", reorder.DEFAULT_SAFETY_DAYS),
        ),
    }
