"""Hand-built raw frames for rule-by-rule tests."""

from __future__ import annotations

from itertools import count
from typing import Any

import pandas as pd

from salesflow_pipelines.lib.schemas import RAW_SALES_COLUMNS, conform

LINE_DEFAULTS: dict[str, Any] = {
    "total_amount": 0.0,
    "customer_id": None,
    "region": "North",
    "status": "COMPLETED",
    "line_no": 1,
    "product_id": 1,
    "product_name": "Espresso Beans",
    "sku": "SKU-0001",
    "quantity": 1.0,
    "unit_price": 10.0,
    "subtotal": 10.0,
    "discount": None,
    "category": None,
}


def raw_lines(*lines: dict[str, Any]) -> pd.DataFrame:
    """A raw sale-line frame in delivery order; each dict overrides LINE_DEFAULTS.

    `sale_id` and `sale_date` are required in each dict.
    """
    order = count()
    rows = [{**LINE_DEFAULTS, **line, "delivery_order": next(order)} for line in lines]
    frame = pd.DataFrame(rows)
    frame["sale_date"] = pd.to_datetime(frame["sale_date"])
    frame["customer_id"] = pd.array(frame["customer_id"].tolist(), dtype="Int64")
    for column in ("quantity", "unit_price", "discount", "subtotal", "total_amount"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return conform(frame, RAW_SALES_COLUMNS)
