"""Forecast, anomaly set and stock alerts: what the KPI tables say is coming or wrong."""

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.automation import follows_its_days, follows_the_newest_day
from salesflow_pipelines.defs.ml.resources import AnomalySettings, ForecastSettings, StockAlertSettings
from salesflow_pipelines.defs.partitions import (
    boundary,
    daily_partitions,
    days_label,
    lookback,
    partition_window,
    row_metadata,
    single_run,
)
from salesflow_pipelines.lib import alerts, anomalies, forecast
from salesflow_pipelines.lib.schemas import SalesAnomaly, SalesForecast, SalesForecastSummary, StockAlert
from salesflow_pipelines.lib.stock import COVER_WINDOW_DAYS

WAREHOUSE = dict(io_manager_key="warehouse_io_manager", kinds={"pandas", "sql"})
DAILY_ML = dict(
    **WAREHOUSE,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="ml",
    automation_condition=follows_its_days,
)
LOW_EXAMPLES = 5


def utc_now() -> pd.Timestamp:
    """This run's timestamp, UTC without a zone (the warehouse's `timestamp` type), to the second."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


@dg.multi_asset(
    group_name="ml",
    outs={
        "sales_forecast": dg.AssetOut(
            **WAREHOUSE,
            **boundary(SalesForecast),
            automation_condition=follows_the_newest_day,
            description=(
                "One row per day of the next SALESFLOW_FORECAST_HORIZON days (14 by default), for all "
                "products together (product_id null) and per product: predicted revenue, the 80% interval "
                "(lower, upper) and the model that made it (a strategy, or fallback_seasonal_naive / "
                "fallback_mean for less than 14 days of history, flat for a series that never changed). "
                "Replaced whole at each run."
            ),
        ),
        "sales_forecast_summary": dg.AssetOut(
            **WAREHOUSE,
            **boundary(SalesForecastSummary),
            automation_condition=follows_the_newest_day,
            description=(
                "One row, the latest all-products forecast: total and daily average over the horizon, the "
                "peak day and value, and the trend: upward / downward when the forecast's daily average is "
                "more than 5% above / below the actual daily average of the same number of days just before, "
                "else stable. Also the chosen model and every strategy's rolling-origin backtest MAPE (%) and "
                "MASE (below 1 beats the seasonal naive baseline)."
            ),
        ),
    },
)
def revenue_forecast(
    context: dg.AssetExecutionContext,
    daily_sales_kpis: pd.DataFrame,
    product_daily_sales: pd.DataFrame,
    forecast_settings: ForecastSettings,
):
    """Forecast the next days' revenue from the trailing daily and per-product revenue."""
    result = forecast.forecast_revenue(
        daily_sales_kpis,
        product_daily_sales,
        generated_at=utc_now(),
        horizon=forecast_settings.horizon_days,
        strategy=forecast_settings.strategy,
        history_days=forecast_settings.history_days,
    )
    if result.missing_days:
        context.log.warning(
            f"{result.missing_days} days of the history are missing from daily_sales_kpis; counted as 0"
        )
    scores = {
        f"{metric}_{name}": dg.MetadataValue.float(float(getattr(score, metric)))
        for name, score in result.scores.items()
        for metric in ("mape", "mase")
    }
    yield dg.Output(
        result.forecast,
        output_name="sales_forecast",
        metadata={
            **row_metadata(context, len(result.forecast)),
            "model": result.model,
            "models_used": dg.MetadataValue.json(result.forecast["model"].value_counts().to_dict()),
        },
    )
    yield dg.Output(
        result.summary,
        output_name="sales_forecast_summary",
        metadata={
            **row_metadata(context, len(result.summary)),
            "model": result.model,
            "strategy": forecast_settings.strategy,
            "trend": str(result.summary["trend"].iloc[0]),
            "history_days": result.history_days,
            "backtest_folds": result.folds,
            "backtest": dg.MetadataValue.md(_scores_markdown(result.scores)),
            **scores,
        },
    )


def _scores_markdown(scores: dict[str, forecast.Score]) -> str:
    if not scores:
        return "No backtest: fewer than 14 days of history."
    lines = ["| strategy | MAPE % | MASE | product MASE |", "|---|---|---|---|"]
    for row in forecast.scores_table(scores).itertuples():
        lines.append(f"| {row.strategy} | {row.mape:.1f} | {row.mase:.3f} | {row.product_mase:.3f} |")
    return "\n".join(lines)


@dg.asset(
    **DAILY_ML,
    **boundary(SalesAnomaly),
    ins={
        name: dg.AssetIn(partition_mapping=lookback(anomalies.LOOKBACK_DAYS))
        for name in ("daily_sales_kpis", "product_daily_sales", "region_daily_sales")
    },
)
def sales_anomalies(
    context: dg.AssetExecutionContext,
    daily_sales_kpis: pd.DataFrame,
    product_daily_sales: pd.DataFrame,
    region_daily_sales: pd.DataFrame,
    anomaly_settings: AnomalySettings,
) -> dg.Output:
    """One row per MEDIUM or HIGH revenue anomaly of a day, for the whole shop, a product or a
    region: the day's revenue against the mean and standard deviation of its trailing 28 days
    (HIGH_SPIKE, LOW_DIP, ZERO_DROP), or a 7-day volatility shift (VARIANCE_SHIFT), with a stable
    `anomaly_id` and a plain-words explanation. HIGH anomalies (|z| >= 3) are emailed once by the
    anomaly sensor; LOW ones (a variance shift on an otherwise normal day) are only written to
    the run log, not to the table."""
    window = partition_window(context)
    rules = anomaly_settings.rules()
    found = anomalies.detect(
        daily_sales_kpis, product_daily_sales, region_daily_sales, window, detected_at=utc_now(), rules=rules
    )
    low = found[found["severity"] == anomalies.LOW]
    if len(low):
        scopes = low["scope_key"].astype(str).unique()
        shown = ", ".join(scopes[:LOW_EXAMPLES]) + (" …" if len(scopes) > LOW_EXAMPLES else "")
        context.log.info(f"{len(low)} LOW anomalies (volatility shifts on normal days), not written: {shown}")
    written = found[found["severity"] != anomalies.LOW].reset_index(drop=True)
    high = written[written["severity"] == anomalies.HIGH]
    return dg.Output(
        written,
        metadata={
            **row_metadata(context, len(written)),
            "days": days_label(window),
            "high": len(high),
            "medium": int((written["severity"] == anomalies.MEDIUM).sum()),
            "low_logged_only": len(low),
            **{f"label_{label.lower()}": int(n) for label, n in written["label"].value_counts().items()},
            "high_anomalies": dg.MetadataValue.md("\n".join(f"- {text}" for text in high["explanation"]) or "none"),
        },
    )


@dg.asset(
    **DAILY_ML,
    **boundary(StockAlert),
    ins={"product_daily_sales": dg.AssetIn(partition_mapping=lookback(COVER_WINDOW_DAYS))},
)
def stock_alerts(
    context: dg.AssetExecutionContext,
    stock_snapshot: pd.DataFrame,
    product_daily_sales: pd.DataFrame,
    stock_alert_settings: StockAlertSettings,
) -> dg.Output:
    """One row per product per day that is OUT (no stock) or LOW (at or below its reorder level,
    the backend's low-stock threshold): stock on hand, average daily units of the last 28 days,
    days of cover, and a suggested reorder quantity covering the lead time plus safety stock days
    (SALESFLOW_REORDER_LEAD_DAYS, SALESFLOW_SAFETY_STOCK_DAYS). A product turning LOW or OUT is
    emailed once per day by the stock sensor."""
    table = alerts.stock_alerts(
        stock_snapshot,
        product_daily_sales,
        lead_time_days=stock_alert_settings.lead_time_days,
        safety_stock_days=stock_alert_settings.safety_stock_days,
    )
    return dg.Output(
        table,
        metadata={
            **row_metadata(context, len(table)),
            **{f"status_{status.lower()}": int(n) for status, n in table["status"].value_counts().items()},
        },
    )
