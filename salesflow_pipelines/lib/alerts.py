"""Stock alerts (LOW / OUT / STOCKOUT_RISK products with cover, a stockout date and a reorder
suggestion) and alert email texts.

A product is `OUT` at zero stock (or below) and `LOW` at or below its reorder level, the backend's
own `low_stock_threshold`. Demand is forecast per product from the trailing `COVER_WINDOW_DAYS`
days of units (fewer at the start of the history): its average daily units times the shop's weekday
profile (each weekday's median units, relative to the mean: Saturdays sell more than Mondays). A
product above its reorder level whose forecast demand empties its stock within the supplier's lead
time is `STOCKOUT_RISK`. The expected stockout date is the first day the forecast demand since the
snapshot reaches the stock on hand; the suggested reorder covers the forecast demand of
`lead_time_days + safety_stock_days` beyond what is on hand, and never less than what lifts the
stock above the reorder level. Everything for day d comes from the sales up to d only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.forecast import weekday_profile
from salesflow_pipelines.lib.schemas import STOCKOUT_RISK, StockAlert, column_names
from salesflow_pipelines.lib.stock import COVER_WINDOW_DAYS, LOW, OUT

DEFAULT_LEAD_DAYS = 7
DEFAULT_SAFETY_DAYS = 3
SUBJECT_PREFIX = "[SalesFlow]"
COVERED_LINES = 30
STOCKOUT_LOOKAHEAD_DAYS = 90
URGENCY = {OUT: 0, LOW: 1, STOCKOUT_RISK: 2}

STOCK_ALERT_COLUMNS = column_names(StockAlert)


def _daily_units(product_sales: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """Units per day (rows, from the first day `product_sales` knows to `last_day`) and product."""
    first_known = product_sales["sale_date"].min()
    span = pd.date_range(min(first_known, last_day), last_day, freq="D")
    units = product_sales.pivot_table(index="sale_date", columns="product_id", values="units", aggfunc="sum")
    return units.reindex(span).fillna(0.0)


def average_daily_units(product_sales: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """(snapshot_date, product_id, avg_daily_units) for each day of `days` and product sold in the
    `COVER_WINDOW_DAYS` days up to it; the divisor shrinks when `product_sales` starts later."""
    if product_sales.empty or days.empty:
        return pd.DataFrame(
            {
                "snapshot_date": pd.Series(dtype="datetime64[ns]"),
                "product_id": pd.Series(dtype="int64"),
                "avg_daily_units": pd.Series(dtype="float64"),
            }
        )
    first_known = product_sales["sale_date"].min()
    units = _daily_units(product_sales, days.max())
    units = units.reindex(pd.date_range(min(first_known, days.min()), days.max(), freq="D"), fill_value=0.0)
    rolled = units.rolling(COVER_WINDOW_DAYS, min_periods=1).sum()
    covered = np.clip((units.index - first_known).days + 1, 1, COVER_WINDOW_DAYS)
    average = rolled.div(covered, axis=0).reindex(days)
    average.index.name, average.columns.name = "snapshot_date", "product_id"
    return average.stack().rename("avg_daily_units").reset_index()


def demand_outlook(
    snapshot: pd.DataFrame, product_sales: pd.DataFrame, cover_days: int, lookahead_days: int = STOCKOUT_LOOKAHEAD_DAYS
) -> pd.DataFrame:
    """Per snapshot row: `avg_daily_units`, `forecast_demand_units` (forecast units of the `cover_days`
    days after the day) and `expected_stockout_date` (the first day the forecast demand since the day
    reaches the stock on hand; the day itself at no stock; NaT beyond `lookahead_days` or without
    demand). Day d's forecast: the average daily units of the `COVER_WINDOW_DAYS` days up to d times
    the weekday profile of the shop's units in those days."""
    days = pd.DatetimeIndex(snapshot["snapshot_date"].unique()).sort_values()
    averages = average_daily_units(product_sales, days)
    table = snapshot[["snapshot_date", "product_id", "stock_quantity"]].merge(
        averages, on=["snapshot_date", "product_id"], how="left"
    )
    table["avg_daily_units"] = table["avg_daily_units"].fillna(0.0).astype("float64")
    table["forecast_demand_units"] = 0.0
    table["expected_stockout_date"] = pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns]")
    horizon = max(cover_days, lookahead_days)
    if product_sales.empty or days.empty:
        pooled = pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
    else:
        pooled = _daily_units(product_sales, days.max()).sum(axis=1)
    for day, rows in table.groupby("snapshot_date").groups.items():
        window = pooled[(pooled.index > day - pd.Timedelta(days=COVER_WINDOW_DAYS)) & (pooled.index <= day)]
        profile = weekday_profile(window.to_numpy(), pd.DatetimeIndex(window.index), weeks=COVER_WINDOW_DAYS // 7)
        ahead = profile[pd.date_range(day + pd.Timedelta(days=1), periods=horizon, freq="D").weekday]
        cumulative = np.cumsum(ahead)[:, None] * table.loc[rows, "avg_daily_units"].to_numpy()[None, :]
        table.loc[rows, "forecast_demand_units"] = cumulative[cover_days - 1] if cover_days > 0 else 0.0
        on_hand = table.loc[rows, "stock_quantity"].clip(lower=0).to_numpy("float64")
        reached = (cumulative >= on_hand[None, :]) & (cumulative > 0)
        first = np.where(reached.any(axis=0), reached.argmax(axis=0) + 1, -1)
        stockout = pd.to_datetime(day) + pd.to_timedelta(np.where(first > 0, first, 0), unit="D")
        stockout = pd.Series(stockout, index=rows).where((first > 0) | (on_hand <= 0))
        table.loc[rows, "expected_stockout_date"] = stockout.where(on_hand > 0, day)
    return table


def stock_alerts(
    snapshot: pd.DataFrame,
    product_sales: pd.DataFrame,
    lead_time_days: int = DEFAULT_LEAD_DAYS,
    safety_stock_days: int = DEFAULT_SAFETY_DAYS,
) -> pd.DataFrame:
    """One row per product per snapshot day that is OUT, LOW or STOCKOUT_RISK, OUT first."""
    outlook = demand_outlook(snapshot, product_sales, lead_time_days + safety_stock_days)
    stock = snapshot["stock_quantity"].astype("int64").to_numpy()
    level = snapshot["low_stock_threshold"].astype("int64").to_numpy()
    runs_out = outlook["expected_stockout_date"].to_numpy()
    deadline = (snapshot["snapshot_date"] + pd.Timedelta(days=lead_time_days)).to_numpy()
    at_risk = (lead_time_days > 0) & ~pd.isna(runs_out) & (runs_out <= deadline)
    status = np.select([stock <= 0, stock <= level, at_risk], [OUT, LOW, STOCKOUT_RISK], default="")
    alerted = status != ""
    alerts = snapshot[alerted].assign(status=status[alerted], reorder_level=level[alerted])
    alerts = alerts.assign(
        **{
            column: outlook.loc[alerted, column].to_numpy()
            for column in ("avg_daily_units", "forecast_demand_units", "expected_stockout_date")
        }
    )
    on_hand = alerts["stock_quantity"].clip(lower=0).astype("float64")
    cover = on_hand / alerts["avg_daily_units"].where(alerts["avg_daily_units"] > 0)
    alerts["days_of_cover"] = cover.where(on_hand > 0, 0.0).round(1)
    alerts["forecast_demand_units"] = alerts["forecast_demand_units"].astype("float64").round(1)
    demand = np.ceil(alerts["forecast_demand_units"])
    above_level = alerts["reorder_level"] + 1
    alerts["suggested_reorder_qty"] = (np.maximum(demand, above_level) - on_hand).clip(lower=0).astype("int64")
    alerts["lead_time_days"] = np.int64(lead_time_days)
    alerts["safety_stock_days"] = np.int64(safety_stock_days)
    alerts["avg_daily_units"] = alerts["avg_daily_units"].round(2)
    alerts["expected_stockout_date"] = pd.to_datetime(alerts["expected_stockout_date"])
    alerts = alerts.astype(
        {"product_id": "int64", "stock_quantity": "int64", "reorder_level": "int64", "stock_value": "float64"}
    )
    for text in ("sku", "name", "category", "status"):
        alerts[text] = alerts[text].astype("string")
    urgency = alerts["status"].map(URGENCY)
    alerts = alerts.assign(_urgency=urgency).sort_values(["snapshot_date", "_urgency", "days_of_cover", "product_id"])
    return alerts[STOCK_ALERT_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- email texts


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


def asset_url(ui_url: str, asset: str, partition: str | None = None) -> str:
    """The asset's page in the Dagster UI, on its partition when given."""
    url = f"{ui_url.rstrip('/')}/assets/{quote(asset)}"
    return f"{url}?view=partitions&partition={quote(partition)}" if partition else url


def run_url(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def _scope_words(scope: str, scope_key: str) -> str:
    return "the whole shop" if scope == "total" else f"{scope} {scope_key}"


def _money(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):,.2f}"


def anomaly_email(anomaly: Mapping[str, Any], ui_url: str, covered: Sequence[str] = (), window_days: int = 28) -> Email:
    """One HIGH anomaly: the subject names label, scope and day; the body explains it with figures,
    then lists the explanations of the product and region anomalies it `covered`."""
    day = f"{pd.Timestamp(anomaly['sale_date']):%Y-%m-%d}"
    scope = _scope_words(anomaly["scope"], anomaly["scope_key"])
    z_score = anomaly.get("z_score")
    lines = [
        f"{anomaly['explanation']}.",
        "",
        f"Day: {day}",
        f"Scope: {scope}",
        f"Label: {anomaly['label']} (severity {anomaly['severity']})",
        f"Value: {_money(anomaly['value'])}",
        f"Expected: {_money(anomaly['expected'])} ({window_days}-day mean)",
        f"z-score: {'n/a' if z_score is None or pd.isna(z_score) else f'{float(z_score):.2f}'}",
    ]
    if covered:
        lines += ["", f"Also {anomaly['label']} that day, with the shop ({len(covered)}):"]
        lines += [f"- {text}" for text in covered[:COVERED_LINES]]
        if len(covered) > COVERED_LINES:
            lines.append(f"- and {len(covered) - COVERED_LINES} more, listed in sales_anomalies")
    lines += ["", f"In SalesFlow: {asset_url(ui_url, 'sales_anomalies', day)}", f"Anomaly id: {anomaly['anomaly_id']}"]
    return Email(f"{SUBJECT_PREFIX} {anomaly['label']} in {scope} on {day}", "\n".join(lines))


def email_groups(high: pd.DataFrame) -> list[tuple[dict[str, Any], list[str]]]:
    """The HIGH anomalies to email, each with the explanations it covers, oldest day first.

    On a day when the whole shop has a HIGH anomaly, the products' and regions' HIGH anomalies of
    the same label that day are part of it (a busy day spikes every product): they are listed in
    the shop's email instead of sending one each. Every other HIGH anomaly is an email of its own.
    """
    shop = high.loc[high["scope"] == "total", ["sale_date", "label", "anomaly_id"]]
    led = high.merge(shop.rename(columns={"anomaly_id": "lead_id"}), on=["sale_date", "label"], how="left")
    led["lead_id"] = led["lead_id"].fillna(led["anomaly_id"])
    groups = []
    for lead_id, group in led.sort_values(["sale_date", "scope", "scope_key"]).groupby("lead_id", sort=False):
        lead = group[group["anomaly_id"] == lead_id].iloc[0].drop("lead_id").to_dict()
        groups.append((lead, list(group.loc[group["anomaly_id"] != lead_id, "explanation"])))
    return groups


def stock_email(alert: Mapping[str, Any], ui_url: str) -> Email:
    """One product that turned LOW, OUT or STOCKOUT_RISK on a day: its cover, when it is expected to
    run out, and the suggested reorder."""
    day = f"{pd.Timestamp(alert['snapshot_date']):%Y-%m-%d}"
    product = f"{alert['name']} ({alert['sku']})"
    lead, safety = int(alert["lead_time_days"]), int(alert["safety_stock_days"])
    runs_out = alert.get("expected_stockout_date")
    runs_out = None if runs_out is None or pd.isna(runs_out) else f"{pd.Timestamp(runs_out):%Y-%m-%d}"
    left = f"{int(alert['stock_quantity'])} left, reorder level {int(alert['reorder_level'])}"
    if alert["status"] == STOCKOUT_RISK:
        opening = (
            f"{product} is forecast to run out of stock by {runs_out}, within the {lead}-day lead time, "
            f"though above its reorder level on {day}: {left}."
        )
        subject = f"{SUBJECT_PREFIX} Stockout risk: {product} runs out by {runs_out}"
    else:
        state = "out of stock" if alert["status"] == OUT else "low on stock"
        opening = f"{product} is {state} on {day}: {left}."
        subject = f"{SUBJECT_PREFIX} {alert['status']} stock: {product} on {day}"
    cover = alert.get("days_of_cover")
    demand = alert.get("forecast_demand_units")
    lines = [
        opening,
        "",
        f"Average daily units (last {COVER_WINDOW_DAYS} days): {float(alert['avg_daily_units']):,.2f}",
        f"Days of cover: {'n/a (no recent sales)' if cover is None or pd.isna(cover) else f'{float(cover):,.1f}'}",
    ]
    if demand is not None and not pd.isna(demand):
        lines.append(f"Forecast demand, next {lead + safety} days: {float(demand):,.1f} units")
    if alert["status"] != OUT:
        lines.append(f"Expected to run out: {runs_out or 'not within 90 days at the forecast demand'}")
    lines += [
        f"Suggested reorder: {int(alert['suggested_reorder_qty'])} units "
        f"(covers {lead} days of lead time + {safety} days of safety stock at the forecast demand)",
        "",
        f"In SalesFlow: {asset_url(ui_url, 'stock_alerts', day)}",
    ]
    return Email(subject, "\n".join(lines))


def run_failure_email(run_id: str, job_name: str, error: str, ui_url: str) -> Email:
    body = "\n".join(
        [
            f"The run {run_id} of {job_name} failed.",
            "",
            "Error:",
            error.strip() or "(no error message)",
            "",
            f"Run in SalesFlow: {run_url(ui_url, run_id)}",
        ]
    )
    return Email(f"{SUBJECT_PREFIX} Run failed: {job_name} ({run_id[:8]})", body)
