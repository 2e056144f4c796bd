"""Stock snapshot and stock KPIs from the product snapshot and recent sales.

Status follows the backend's own rule for LOW (`stock_quantity <= low_stock_threshold`):
`OUT` at or below zero, then `LOW`, then `DEAD` when the product sold nothing in the last
`DEAD_AFTER_DAYS` days, else `OK`. Days of cover divide stock on hand by the average daily
units of the last `COVER_WINDOW_DAYS` days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.cleaning import UNCATEGORIZED, UNNAMED_PRODUCT, normalize_sku, normalize_text
from salesflow_pipelines.lib.kpis import product_units_by_day
from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines.lib.schemas import STOCK_STATUSES, StockSnapshot, column_names

DEAD_AFTER_DAYS = 90
COVER_WINDOW_DAYS = 28
LOOKBACK_DAYS = DEAD_AFTER_DAYS

OK, LOW, OUT, DEAD = STOCK_STATUSES

SNAPSHOT_COLUMNS = column_names(StockSnapshot)


def daily_units(lines: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Completed units per day (rows, every day of `days`) and product (columns)."""
    return product_units_by_day(lines, days)


def stock_snapshot(products: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """One row per product per snapshot day (`products` may hold several days).

    `lines` must cover `LOOKBACK_DAYS` before the first snapshot day for DEAD and cover to be
    judged on full history; with less, they are judged on what there is.
    """
    snapshot = normalized_products(products)
    if snapshot.empty:
        return snapshot.reindex(columns=SNAPSHOT_COLUMNS)
    first = snapshot["snapshot_date"].min() - pd.Timedelta(days=LOOKBACK_DAYS)
    days = pd.date_range(first, snapshot["snapshot_date"].max(), freq="D")
    units = daily_units(lines, days)
    recent = _rolling_by_product(units, COVER_WINDOW_DAYS, "recent_units")
    lifetime = _rolling_by_product(units, DEAD_AFTER_DAYS, "units_90d")
    snapshot = snapshot.merge(recent, on=["snapshot_date", "product_id"], how="left")
    snapshot = snapshot.merge(lifetime, on=["snapshot_date", "product_id"], how="left")
    average_units = snapshot["recent_units"].fillna(0.0) / COVER_WINDOW_DAYS
    on_hand = snapshot["stock_quantity"].clip(lower=0).astype("float64")
    snapshot["days_of_cover"] = (on_hand / average_units.replace(0, np.nan)).round(1)
    unit_value = snapshot["cost_price"].fillna(snapshot["unit_price"]).fillna(0.0)
    snapshot["stock_value"] = round_money(on_hand * unit_value)
    snapshot["status"] = _status(snapshot)
    return snapshot[SNAPSHOT_COLUMNS].reset_index(drop=True)


def _rolling_by_product(units: pd.DataFrame, window: int, name: str) -> pd.DataFrame:
    rolled = units.rolling(window, min_periods=1).sum()
    rolled.index.name = "snapshot_date"
    rolled.columns.name = "product_id"
    return rolled.stack().rename(name).reset_index()


def named_from_catalog(product_daily: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """`product_daily` rows with each product's SKU and name as that day's catalogue (`/products`)
    spells them, so sales and stock tables name a product alike; a product missing from the day's
    catalogue keeps its sale lines' spelling."""
    catalogue = normalized_products(products)[["snapshot_date", "product_id", "sku", "name"]]
    catalogue = catalogue.rename(columns={"snapshot_date": "sale_date", "sku": "catalogue_sku"})
    named = product_daily.merge(catalogue, on=["sale_date", "product_id"], how="left", validate="many_to_one")
    return product_daily.assign(
        sku=pd.array(named["catalogue_sku"].fillna(named["sku"]), dtype="string"),
        product_name=pd.array(named["name"].fillna(named["product_name"]), dtype="string"),
    )


def normalized_products(products: pd.DataFrame) -> pd.DataFrame:
    """The typed catalogue: one row per product per snapshot day, text normalized, defaults filled."""
    known = products.dropna(subset=["product_id"])
    known = known.drop_duplicates(["snapshot_date", "product_id"], keep="first")
    return pd.DataFrame(
        {
            "snapshot_date": known["snapshot_date"].dt.normalize(),
            "product_id": known["product_id"].astype("int64"),
            "sku": normalize_sku(known["sku"]).astype("string"),
            "name": normalize_text(known["name"], default=UNNAMED_PRODUCT).astype("string"),
            "category": normalize_text(known["category"], case="title", default=UNCATEGORIZED).astype("string"),
            "stock_quantity": known["stock_quantity"].fillna(0).astype("int64"),
            "low_stock_threshold": known["low_stock_threshold"].fillna(0).astype("int64"),
            "unit_price": known["price"].astype("float64"),
            "cost_price": known["cost"].astype("float64"),
        }
    ).reset_index(drop=True)


def _status(snapshot: pd.DataFrame) -> pd.Series:
    stock = snapshot["stock_quantity"]
    conditions = [
        stock <= 0,
        stock <= snapshot["low_stock_threshold"],
        snapshot["units_90d"].fillna(0.0) <= 0,
    ]
    return pd.Series(np.select(conditions, [OUT, LOW, DEAD], default=OK), index=snapshot.index, dtype="string")


def stock_kpis(snapshot: pd.DataFrame) -> pd.DataFrame:
    """One row per snapshot day: product count, stock value, LOW/OUT/DEAD counts, reorders.

    A reorder is suggested for every product that is LOW or OUT.
    """
    status = snapshot["status"]
    flags = snapshot.assign(
        low=status.eq(LOW),
        out=status.eq(OUT),
        dead=status.eq(DEAD),
        reorder=status.isin([LOW, OUT]),
    )
    table = flags.groupby("snapshot_date").agg(
        products=("product_id", "size"),
        total_stock_value=("stock_value", "sum"),
        low_stock_products=("low", "sum"),
        out_of_stock_products=("out", "sum"),
        dead_stock_products=("dead", "sum"),
        median_days_of_cover=("days_of_cover", "median"),
        reorder_suggestions=("reorder", "sum"),
    )
    table["total_stock_value"] = round_money(table["total_stock_value"])
    counts = ["products", "low_stock_products", "out_of_stock_products", "dead_stock_products", "reorder_suggestions"]
    table[counts] = table[counts].astype("int64")
    return table.reset_index()
