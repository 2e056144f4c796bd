"""Stock alerts (LOW / OUT / STOCKOUT_RISK products with cover, a stockout date and a reorder
suggestion).

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

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.analytics.forecast import weekday_profile
from salesflow_pipelines.lib.analytics.stock import COVER_WINDOW_DAYS, LOW, OUT
from salesflow_pipelines.lib.schemas import STOCKOUT_RISK, StockAlert, column_names

DEFAULT_LEAD_DAYS = 7
DEFAULT_SAFETY_DAYS = 3
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
