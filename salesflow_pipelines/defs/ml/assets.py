"""Forecast, anomaly set and stock alerts: what the KPI tables say is coming or wrong."""

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.automation import follows_its_days, follows_the_newest_day, scores_as_actuals_arrive
from salesflow_pipelines.defs.ml.resources import AnomalySettings, ForecastSettings, StockAlertSettings
from salesflow_pipelines.defs.partitions import (
    boundary,
    daily_partitions,
    days_label,
    lookback,
    partition_window,
    row_metadata,
    single_run,
    window_days,
)
from salesflow_pipelines.lib.analytics import anomalies, forecast, reorder
from salesflow_pipelines.lib.analytics import forecast_accuracy as forecast_accuracy_lib
from salesflow_pipelines.lib.analytics.stock import COVER_WINDOW_DAYS
from salesflow_pipelines.lib.schemas import (
    ForecastAccuracy,
    SalesAnomaly,
    SalesForecast,
    SalesForecastSummary,
    StockAlert,
)

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


FORECAST_HISTORY = lookback(forecast.HISTORY_DAYS - 1)
# A day is scored against the forecasts made in the `LOOKBACK_DAYS` days before it.
FORECASTS_OF_THE_DAY = dg.TimeWindowPartitionMapping(
    start_offset=-forecast_accuracy_lib.LOOKBACK_DAYS, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


@dg.multi_asset(
    group_name="ml",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    ins={name: dg.AssetIn(partition_mapping=FORECAST_HISTORY) for name in ("daily_sales_kpis", "product_daily_sales")},
    outs={
        "sales_forecast": dg.AssetOut(
            **WAREHOUSE,
            **boundary(SalesForecast),
            automation_condition=follows_the_newest_day,
            description=(
                "One row per as-of day (the daily partition), forecast day and series: the next "
                "SALESFLOW_FORECAST_HORIZON days (14 by default) after the as-of day, forecast from the sales up to "
                "it only, for all products together (product_id null) and per product: predicted revenue and "
                "units with their 80% interval (calibrated on the backtest's errors per horizon day), and the model "
                "that made it (the backtest's winner, or fallback_seasonal_naive / fallback_mean for less than 14 "
                "days of history, flat for a series that never changed). Every day's forecast is kept, so "
                "forecast_accuracy can score it once the days it forecast are known."
            ),
        ),
        "sales_forecast_summary": dg.AssetOut(
            **WAREHOUSE,
            **boundary(SalesForecastSummary),
            automation_condition=follows_the_newest_day,
            description=(
                "One row per as-of day: the all-products forecast's total and daily average over the horizon, the "
                "peak day and value, and the trend (upward / downward when the forecast's daily average is more "
                "than 5% above / below the actual daily average of the same number of days just before, else "
                "stable). Also the chosen model, how much its rolling-origin backtest MASE beats seasonal naive's "
                "(auto never ships a model worse than it), the 80% interval's backtest coverage and every "
                "strategy's backtest MAPE (%) and MASE."
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
    """Forecast the days after each as-of day from the daily and per-product sales up to it."""
    window = partition_window(context)
    known = set(pd.to_datetime(daily_sales_kpis["sale_date"]).dt.normalize())
    as_of_days = [day for day in window_days(window) if day in known]
    if len(as_of_days) < len(window_days(window)):
        skipped = [day for day in window_days(window) if day not in known]
        context.log.warning(
            f"No daily_sales_kpis for {len(skipped)} as-of days ({_days_text(skipped)}): no forecast made as of them; "
            "materialize their daily tables first"
        )
    results = forecast.forecast_as_of_days(
        daily_sales_kpis,
        product_daily_sales,
        as_of_days,
        generated_at=utc_now(),
        horizon=forecast_settings.horizon_days,
        strategy=forecast_settings.strategy,
        history_days=min(forecast_settings.history_days, forecast.HISTORY_DAYS),
        workers=forecast_settings.workers,
    )
    missing = sum(result.missing_days > 0 for result in results)
    if missing:
        context.log.warning(
            f"{missing} forecasts have days missing from daily_sales_kpis in their history; counted as 0"
        )
    rows = pd.concat([result.forecast for result in results], ignore_index=True) if results else None
    summary = pd.concat([result.summary for result in results], ignore_index=True) if results else None
    rows = rows if rows is not None else forecast.empty_forecast()
    summary = summary if summary is not None else forecast.empty_summary()
    newest = results[-1] if results else None
    yield dg.Output(
        rows,
        output_name="sales_forecast",
        metadata={
            **row_metadata(context, len(rows)),
            "as_of_days": len(results),
            "models_used": dg.MetadataValue.json(rows["model"].value_counts().to_dict()),
        },
    )
    yield dg.Output(summary, output_name="sales_forecast_summary", metadata=_summary_metadata(context, summary, newest))


def _days_text(days: list[pd.Timestamp]) -> str:
    shown = ", ".join(f"{day:%Y-%m-%d}" for day in days[:LOW_EXAMPLES])
    return shown + (" …" if len(days) > LOW_EXAMPLES else "")


def _summary_metadata(
    context: dg.AssetExecutionContext, summary: pd.DataFrame, newest: forecast.ForecastResult | None
) -> dict:
    """The newest as-of day's model, its margin over the baseline and the backtest table; for a
    range, which models each day chose."""
    metadata: dict = {**row_metadata(context, len(summary))}
    if newest is None:
        return metadata
    row = newest.summary.iloc[0]
    metadata.update(
        {
            "as_of_date": f"{row['as_of_date']:%Y-%m-%d}",
            "model": newest.model,
            "trend": str(row["trend"]),
            "history_days": newest.history_days,
            "backtest_folds": newest.folds,
            "backtest": dg.MetadataValue.md(_scores_markdown(newest.scores)),
        }
    )
    for name in ("backtest_mase", "improvement_over_baseline_pct", "backtest_coverage"):
        if pd.notna(row[name]):
            metadata[name] = dg.MetadataValue.float(float(row[name]))
    for name, score in newest.scores.items():
        for metric in ("mape", "mase"):
            value = getattr(score, metric)
            if pd.notna(value):
                metadata[f"{metric}_{name}"] = dg.MetadataValue.float(float(value))
    if len(summary) > 1:
        metadata["models_chosen"] = dg.MetadataValue.json(summary["model"].value_counts().to_dict())
    return metadata


def _scores_markdown(scores: dict[str, forecast.Score]) -> str:
    if not scores:
        return "No backtest: fewer than 14 days of history."
    lines = ["| strategy | MAPE % | MASE | product MASE | 80% coverage |", "|---|---|---|---|---|"]
    for row in forecast.scores_table(scores).itertuples():
        coverage = "–" if pd.isna(row.coverage) else f"{row.coverage:.0%}"
        lines.append(f"| {row.strategy} | {row.mape:.1f} | {row.mase:.3f} | {row.product_mase:.3f} | {coverage} |")
    return "\n".join(lines)


@dg.asset(
    **WAREHOUSE,
    **boundary(ForecastAccuracy),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="ml",
    automation_condition=scores_as_actuals_arrive,
    ins={"sales_forecast": dg.AssetIn(partition_mapping=FORECASTS_OF_THE_DAY)},
)
def forecast_accuracy(
    context: dg.AssetExecutionContext,
    sales_forecast: pd.DataFrame,
    daily_sales_kpis: pd.DataFrame,
    product_daily_sales: pd.DataFrame,
) -> dg.Output:
    """One row per day, forecast of it and series: each forecast made in the 28 days before the day
    (by as-of day, horizon day, for the shop and per product) against the revenue and units it then
    sold, with the errors that average into MAPE, MASE and the 80% interval's coverage. A day is
    scored once its KPIs are in; the run's figures by horizon day are in the materialization's
    metadata (plotted per day in the UI)."""
    window = partition_window(context)
    scored = forecast_accuracy_lib.score(sales_forecast, daily_sales_kpis, product_daily_sales, window_days(window))
    figures = forecast_accuracy_lib.headline(scored)
    metadata = {
        **row_metadata(context, len(scored)),
        "days": days_label(window),
        "by_horizon_day": dg.MetadataValue.md(forecast_accuracy_lib.markdown(forecast_accuracy_lib.by_horizon(scored))),
    }
    for name, value in figures.items():
        if pd.notna(value):
            metadata[name] = (
                dg.MetadataValue.int(int(value))
                if name.endswith("forecasts")
                else dg.MetadataValue.float(round(float(value), 4))
            )
    return dg.Output(scored, metadata=metadata)


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
    """One row per product per day that is OUT (no stock), LOW (at or below its reorder level, the
    backend's low-stock threshold) or STOCKOUT_RISK (above it, but forecast to run out within the
    supplier lead time): stock on hand, average daily units of the last 28 days, days of cover, the
    forecast demand (those units times the shop's weekday profile) over the lead time plus safety
    stock days (SALESFLOW_REORDER_LEAD_DAYS, SALESFLOW_SAFETY_STOCK_DAYS), the expected stockout date
    and a suggested reorder covering that demand. A product turning LOW, OUT or STOCKOUT_RISK is
    emailed once per day by the stock sensor."""
    table = reorder.stock_alerts(
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
