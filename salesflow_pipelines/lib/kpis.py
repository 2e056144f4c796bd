"""KPI tables (DESIGN.md section 4) computed from clean sale lines.

Every function takes the valid lines of a window of days and returns one frame in the
table contract's columns. Only `COMPLETED` sales count as revenue, orders and units;
`REFUNDED` lines are summed apart; a walk-in (null customer) counts in orders, not customers.
Money is rounded to the cent, rates to four decimals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPLETED = "COMPLETED"
REFUNDED = "REFUNDED"
GROWTH_LAG_DAYS = 7
RETURNING_LOOKBACK_DAYS = 90


def sale_day(lines: pd.DataFrame) -> pd.Series:
    """The shop-local calendar day of each line (midnight timestamps)."""
    return lines["sale_date"].dt.normalize()


def completed(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines of completed sales, with their `sale_day`."""
    done = lines[lines["status"] == COMPLETED]
    return done.assign(sale_day=sale_day(done))


def _orders_and_customers(done: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    orders = done.drop_duplicates([*keys, "sale_id"]).groupby(keys, observed=True).size()
    customers = (
        done.dropna(subset=["customer_id"]).drop_duplicates([*keys, "customer_id"]).groupby(keys, observed=True).size()
    )
    return pd.DataFrame({"orders": orders, "unique_customers": customers}).fillna(0).astype("int64")


def daily_sales(lines: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per day of `days`, zeros for a day without sales.

    `revenue_growth_pct` compares with the same weekday one week earlier and is null when that
    day is outside `days` or had no revenue. Pass `days` including the week before the days you
    keep, so that the first kept day has its comparison.
    """
    done = completed(lines)
    sums = done.groupby("sale_day")[["revenue", "quantity"]].sum()
    counts = _orders_and_customers(done, ["sale_day"])
    refunds = lines[lines["status"] == REFUNDED]
    refunded = refunds.groupby(sale_day(refunds))["revenue"].sum()
    daily = pd.DataFrame(index=pd.DatetimeIndex(days, name="sale_date"))
    daily["revenue"] = sums["revenue"].reindex(days, fill_value=0.0).to_numpy()
    daily["orders"] = counts["orders"].reindex(days, fill_value=0).to_numpy()
    daily["units"] = sums["quantity"].reindex(days, fill_value=0.0).to_numpy()
    daily["avg_order_value"] = (daily["revenue"] / daily["orders"].replace(0, np.nan)).round(2)
    daily["unique_customers"] = counts["unique_customers"].reindex(days, fill_value=0).to_numpy()
    daily["refunded_amount"] = refunded.reindex(days, fill_value=0.0).round(2).to_numpy()
    week_before = daily["revenue"].reindex(days - pd.Timedelta(days=GROWTH_LAG_DAYS)).to_numpy()
    growth = (daily["revenue"].to_numpy() / np.where(week_before > 0, week_before, np.nan) - 1) * 100
    daily["revenue_growth_pct"] = np.round(growth, 2)
    daily["revenue"] = daily["revenue"].round(2)
    return daily.reset_index()


def product_daily(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per product per day; names are those of the product's first line that day."""
    done = completed(lines)
    keys = ["sale_day", "product_id"]
    grouped = done.groupby(keys, sort=True)
    table = grouped.agg(
        sku=("sku", "first"),
        product_name=("product_name", "first"),
        category=("category", "first"),
        revenue=("revenue", "sum"),
        units=("quantity", "sum"),
    )
    table["orders"] = _orders_and_customers(done, keys)["orders"]
    return _finish(table, ["sale_date", "product_id", "sku", "product_name", "category", "revenue", "units", "orders"])


def region_daily(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per region per day."""
    done = completed(lines)
    keys = ["sale_day", "region"]
    table = done.groupby(keys, sort=True)[["revenue", "quantity"]].sum().rename(columns={"quantity": "units"})
    table = table.join(_orders_and_customers(done, keys))
    return _finish(table, ["sale_date", "region", "revenue", "orders", "units", "unique_customers"])


def category_daily(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per category per day; `discount_rate` = sum(q*p*d) / sum(q*p)."""
    done = completed(lines)
    done = done.assign(discount_amount=done["gross_amount"] * done["discount"])
    table = done.groupby(["sale_day", "category"], sort=True)[
        ["revenue", "quantity", "gross_amount", "discount_amount"]
    ].sum()
    table["discount_rate"] = (table["discount_amount"] / table["gross_amount"].replace(0, np.nan)).round(4)
    table = table.rename(columns={"quantity": "units"})
    return _finish(table, ["sale_date", "category", "revenue", "units", "discount_rate"])


def customer_daily(lines: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per day of `days`: identified customers new vs returning.

    A customer is returning on a day when they completed a sale on any earlier day present in
    `lines` (pass the days plus `RETURNING_LOOKBACK_DAYS` of history); `repeat_rate` is the
    returning share of the day's identified customers, null on a day without any.
    """
    done = completed(lines).dropna(subset=["customer_id"])
    visits = done.drop_duplicates(["customer_id", "sale_day"])[["customer_id", "sale_day"]]
    first_visit = visits.groupby("customer_id")["sale_day"].transform("min")
    visits = visits.assign(returning=visits["sale_day"] > first_visit)
    per_day = visits.groupby("sale_day")["returning"].agg(["size", "sum"]).reindex(days, fill_value=0)
    table = pd.DataFrame(
        {
            "sale_date": pd.DatetimeIndex(days),
            "new_customers": (per_day["size"] - per_day["sum"]).astype("int64").to_numpy(),
            "returning_customers": per_day["sum"].astype("int64").to_numpy(),
        }
    )
    customers = table["new_customers"] + table["returning_customers"]
    table["repeat_rate"] = (table["returning_customers"] / customers.replace(0, np.nan)).round(4)
    return table


def _finish(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    table = table.reset_index().rename(columns={"sale_day": "sale_date"})
    for money in ("revenue",):
        table[money] = table[money].round(2)
    for text in ("sku", "product_name", "category", "region"):
        if text in table:
            table[text] = table[text].astype("string")
    return table[columns]
