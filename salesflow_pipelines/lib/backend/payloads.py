"""Translation between the Java API's JSON (camelCase, nested items) and flat raw frames.

`sales_from_payload` is the one place that turns `SaleResponse` objects into the raw sale-line
frame, whichever source they came from; `sales_to_payload` is its inverse, used by the stand-in
server to serve the demo data over the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.analytics.cleaning import sku_key
from salesflow_pipelines.lib.gc_paused import gc_paused
from salesflow_pipelines.lib.schemas import RAW_PRODUCT_COLUMNS, RAW_SALES_COLUMNS, empty_frame, text_categorical

SALE_FIELDS = {
    "id": "sale_id",
    "saleDate": "sale_date",
    "totalAmount": "total_amount",
    "customerId": "customer_id",
    "region": "region",
    "status": "status",
}
ITEM_FIELDS = {
    "productId": "product_id",
    "productName": "product_name",
    "sku": "sku",
    "quantity": "quantity",
    "unitPrice": "unit_price",
    "subtotal": "subtotal",
    "discount": "discount",
    "category": "category",
}
SALE_EXTENSIONS = ("customerId", "region", "status")
ITEM_EXTENSIONS = ("discount", "category")
NUMERIC_COLUMNS = ("total_amount", "quantity", "unit_price", "subtotal", "discount")
ID_COLUMNS = ("sale_id", "customer_id", "product_id")
TEXT_COLUMNS = ("region", "status", "product_name", "sku", "category")


def sales_from_payload(sales: list[dict[str, Any]]) -> pd.DataFrame:
    """Explode `SaleResponse` objects into one row per item, in delivery order.

    Values are coerced, never trusted: an unparseable number becomes NaN (the cleaning step
    turns it into a reason code) instead of failing the whole pull.
    """
    with gc_paused():  # a day's lines are many small acyclic objects: see `gc_paused`
        return _sales_frame(sales)


def _sales_frame(sales: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [(sale, item, line_no) for sale in sales for line_no, item in enumerate(sale.get("items") or (), start=1)]
    if not rows:
        return empty_frame(RAW_SALES_COLUMNS)
    columns: dict[str, list[Any]] = {
        column: [sale.get(field) for sale, _, _ in rows] for field, column in SALE_FIELDS.items()
    }
    columns.update({column: [item.get(field) for _, item, _ in rows] for field, column in ITEM_FIELDS.items()})
    columns["line_no"] = [line_no for _, _, line_no in rows]
    return _typed_sales_frame(pd.DataFrame(columns))


def _typed_sales_frame(frame: pd.DataFrame) -> pd.DataFrame:
    for column in NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ID_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in TEXT_COLUMNS:
        codes, spellings = pd.factorize(frame[column].astype("string"))
        frame[column] = text_categorical(codes, list(spellings))
    frame["sale_date"] = pd.to_datetime(frame["sale_date"], errors="coerce", format="ISO8601")
    frame["line_no"] = frame["line_no"].astype("int64")
    frame["delivery_order"] = np.arange(len(frame), dtype="int64")
    return frame[list(RAW_SALES_COLUMNS)]


def sales_to_payload(lines: pd.DataFrame, extensions: bool = True) -> list[dict[str, Any]]:
    """Group raw sale lines back into `SaleResponse` objects, in delivery order.

    Without extensions only the stock backend's fields are sent (contract sections 1-5), and
    `subtotal`/`totalAmount` are what that backend would compute: no discounts.
    """
    if lines.empty:
        return []
    records = lines.assign(
        sale_date=lines["sale_date"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        customer_id=lines["customer_id"].astype("object").where(lines["customer_id"].notna(), None),
        quantity=lines["quantity"].astype("Int64").astype("object"),
    )
    if not extensions:
        records = records.assign(subtotal=(lines["quantity"] * lines["unit_price"]).round(2))
        records["total_amount"] = records.groupby("sale_id", sort=False)["subtotal"].transform("sum").round(2)
    sale_keys = {column: field for field, column in SALE_FIELDS.items()}
    item_keys = {column: field for field, column in ITEM_FIELDS.items()}
    if not extensions:
        sale_keys = {c: f for c, f in sale_keys.items() if f not in SALE_EXTENSIONS}
        item_keys = {c: f for c, f in item_keys.items() if f not in ITEM_EXTENSIONS}
    sales: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for record in records.to_dict("records"):
        if current is None or record["line_no"] == 1 or record["sale_id"] != current["id"]:
            current = {field: _json_value(record[column]) for column, field in sale_keys.items()}
            current["items"] = []
            sales.append(current)
        current["items"].append({field: _json_value(record[column]) for column, field in item_keys.items()})
    return sales


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def products_to_payload(products: pd.DataFrame) -> list[dict[str, Any]]:
    """`ProductDto` objects for `GET /products`."""
    return [
        {
            "id": int(row.product_id),
            "name": row.name,
            "sku": row.sku,
            "price": float(row.price),
            "stockQuantity": int(row.stock_quantity),
            "lowStockThreshold": int(row.low_stock_threshold),
            "description": None,
            "imageUrl": None,
        }
        for row in products.itertuples(index=False)
    ]


def inventory_to_payload(inventory: pd.DataFrame) -> list[dict[str, Any]]:
    """`InventoryResponse` objects for `GET /inventory`."""
    return [
        {
            "id": int(row.inventory_id),
            "sku": row.sku,
            "name": row.name,
            "description": None,
            "quantity": int(row.quantity),
            "price": float(row.price),
            "cost": None if pd.isna(row.cost) else float(row.cost),
            "category": row.category,
            "createdAt": row.created_at.isoformat(),
            "updatedAt": row.updated_at.isoformat(),
        }
        for row in inventory.itertuples(index=False)
    ]


def products_from_payload(
    products: list[dict[str, Any]], inventory: list[dict[str, Any]], snapshot_date: date
) -> pd.DataFrame:
    """The raw product snapshot: `/products` left-joined with `/inventory` on normalized SKU."""
    return snapshots_from_payload(products, inventory, [snapshot_date])


def snapshots_from_payload(
    products: list[dict[str, Any]], inventory: list[dict[str, Any]], days: Sequence[date]
) -> pd.DataFrame:
    """The raw product snapshots of `days` from one `/products` and `/inventory` answer, one day's rows
    after the other: the backend knows only its current stock, so every day pulled now sees the same."""
    product_rows = pd.DataFrame(
        {
            "product_id": [p.get("id") for p in products],
            "name": [p.get("name") for p in products],
            "sku": [p.get("sku") for p in products],
            "price": [p.get("price") for p in products],
            "stock_quantity": [p.get("stockQuantity") for p in products],
            "low_stock_threshold": [p.get("lowStockThreshold") for p in products],
        }
    )
    stock_items = pd.DataFrame(
        {
            "sku": [i.get("sku") for i in inventory],
            "category": [i.get("category") for i in inventory],
            "cost": [i.get("cost") for i in inventory],
        }
    )
    return snapshots_from_frames(_on_each_day(product_rows, days), _on_each_day(stock_items, days))


def _on_each_day(frame: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """`frame`'s rows repeated for each of `days`, one day after the other, the day as `snapshot_date`."""
    repeated = frame.take(np.tile(np.arange(len(frame)), len(days))).reset_index(drop=True)
    # Midnight to the second, the resolution `pd.Timestamp(day)` has.
    repeated["snapshot_date"] = np.repeat(np.array(days, dtype="datetime64[D]").astype("datetime64[s]"), len(frame))
    return repeated


def snapshots_from_frames(products: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    """The raw product snapshots of the days in `snapshot_date`: each day's `/products` rows (columns as
    in `RAW_PRODUCT_COLUMNS` but category and cost) left-joined with its `/inventory` items (`sku`,
    `category`, `cost`) on normalized SKU, the first item of a SKU taken, in the order of `products`.

    The one join of both sources: the Java backend's answers through `snapshots_from_payload`, the
    demo shop's days straight from its frames (a year in one pass, not a payload per day)."""
    if products.empty:
        return empty_frame(RAW_PRODUCT_COLUMNS)
    keys = ["snapshot_date", "sku_key"]
    stock_items = inventory.assign(sku_key=inventory["sku"].map(sku_key))[[*keys, "category", "cost"]]
    joined = products.assign(sku_key=products["sku"].map(sku_key)).merge(
        stock_items.drop_duplicates(keys), on=keys, how="left"
    )
    return typed_products_frame(joined.drop(columns="sku_key"))


def typed_products_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a product snapshot to the raw product columns and dtypes."""
    frame = frame.copy()
    for column in ("product_id", "stock_quantity", "low_stock_threshold"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in ("price", "cost"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("name", "sku", "category"):
        frame[column] = frame[column].astype("string")
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"])
    return frame[list(RAW_PRODUCT_COLUMNS)]
