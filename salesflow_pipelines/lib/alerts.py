"""Stock alerts (LOW / OUT products with cover and a reorder suggestion) and alert email texts.

A product is `OUT` at zero stock (or below) and `LOW` at or below its reorder level, the backend's
own `low_stock_threshold`. Days of cover divide stock on hand by the average daily units of the
trailing `COVER_WINDOW_DAYS` days (fewer at the start of the history). The suggested reorder
covers `lead_time_days + safety_stock_days` of that demand beyond what is on hand, and never
less than what lifts the stock above the reorder level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.schemas import StockAlert, column_names
from salesflow_pipelines.lib.stock import COVER_WINDOW_DAYS, LOW, OUT

DEFAULT_LEAD_DAYS = 7
DEFAULT_SAFETY_DAYS = 3
SUBJECT_PREFIX = "[SalesFlow]"
COVERED_LINES = 30

STOCK_ALERT_COLUMNS = column_names(StockAlert)


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
    span = pd.date_range(min(first_known, days.min()), days.max(), freq="D")
    units = product_sales.pivot_table(index="sale_date", columns="product_id", values="units", aggfunc="sum")
    rolled = units.reindex(span, fill_value=0.0).fillna(0.0).rolling(COVER_WINDOW_DAYS, min_periods=1).sum()
    covered = np.clip((span - first_known).days + 1, 1, COVER_WINDOW_DAYS)
    average = rolled.div(covered, axis=0).reindex(days)
    average.index.name, average.columns.name = "snapshot_date", "product_id"
    return average.stack().rename("avg_daily_units").reset_index()


def stock_alerts(
    snapshot: pd.DataFrame,
    product_sales: pd.DataFrame,
    lead_time_days: int = DEFAULT_LEAD_DAYS,
    safety_stock_days: int = DEFAULT_SAFETY_DAYS,
) -> pd.DataFrame:
    """One row per product per snapshot day that is LOW or OUT, OUT first."""
    stock = snapshot["stock_quantity"].astype("int64")
    level = snapshot["low_stock_threshold"].astype("int64")
    status = np.select([stock <= 0, stock <= level], [OUT, LOW], default="")
    alerts = snapshot[status != ""].assign(status=status[status != ""], reorder_level=level[status != ""])
    days = pd.DatetimeIndex(alerts["snapshot_date"].unique()).sort_values()
    averages = average_daily_units(product_sales, days)
    alerts = alerts.merge(averages, on=["snapshot_date", "product_id"], how="left")
    alerts["avg_daily_units"] = alerts["avg_daily_units"].fillna(0.0).astype("float64")
    on_hand = alerts["stock_quantity"].clip(lower=0).astype("float64")
    cover = on_hand / alerts["avg_daily_units"].where(alerts["avg_daily_units"] > 0)
    alerts["days_of_cover"] = cover.where(on_hand > 0, 0.0).round(1)
    demand = np.ceil(alerts["avg_daily_units"] * (lead_time_days + safety_stock_days))
    above_level = alerts["reorder_level"] + 1
    alerts["suggested_reorder_qty"] = (np.maximum(demand, above_level) - on_hand).clip(lower=0).astype("int64")
    alerts["lead_time_days"] = np.int64(lead_time_days)
    alerts["safety_stock_days"] = np.int64(safety_stock_days)
    alerts["avg_daily_units"] = alerts["avg_daily_units"].round(2)
    alerts = alerts.astype(
        {"product_id": "int64", "stock_quantity": "int64", "reorder_level": "int64", "stock_value": "float64"}
    )
    for text in ("sku", "name", "category", "status"):
        alerts[text] = alerts[text].astype("string")
    urgency = alerts["status"].map({OUT: 0, LOW: 1})
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
    """One product that turned LOW or OUT on a day, with its cover and the suggested reorder."""
    day = f"{pd.Timestamp(alert['snapshot_date']):%Y-%m-%d}"
    product = f"{alert['name']} ({alert['sku']})"
    state = "out of stock" if alert["status"] == OUT else "low on stock"
    cover = alert.get("days_of_cover")
    body = "\n".join(
        [
            f"{product} is {state} on {day}: {int(alert['stock_quantity'])} left, reorder level "
            f"{int(alert['reorder_level'])}.",
            "",
            f"Average daily units (last {COVER_WINDOW_DAYS} days): {float(alert['avg_daily_units']):,.2f}",
            f"Days of cover: {'n/a (no recent sales)' if cover is None or pd.isna(cover) else f'{float(cover):,.1f}'}",
            f"Suggested reorder: {int(alert['suggested_reorder_qty'])} units "
            f"(covers {int(alert['lead_time_days'])} days of lead time + {int(alert['safety_stock_days'])} days "
            "of safety stock)",
            "",
            f"In SalesFlow: {asset_url(ui_url, 'stock_alerts', day)}",
        ]
    )
    return Email(f"{SUBJECT_PREFIX} {alert['status']} stock: {product} on {day}", body)


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
