"""Alert email texts: a HIGH anomaly, a stock alert, a failed run. Subjects name what and when;
bodies give the figures and a link to the asset or run in the Dagster UI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd

from salesflow_pipelines.lib.analytics.stock import COVER_WINDOW_DAYS, OUT
from salesflow_pipelines.lib.schemas import STOCKOUT_RISK

SUBJECT_PREFIX = "[SalesFlow]"
COVERED_LINES = 30


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
