"""pandera models for every frame that crosses an asset boundary.

Raw models only describe shape and types (the source is not trusted; bad values become reason
codes in cleaning). Clean and KPI models are strict: a frame that breaks them is a bug in the
pipeline, and the step fails naming the column, the check and example rows.

Each model is the one place its frame's columns are written down: names and order, dtypes,
descriptions, keys and the values a column may take. The warehouse tables (`tables.TABLES`) and
the column lists of the lib modules are read off the models, so adding a column is an edit here
plus the code that computes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Category, Series

SALE_STATUSES = ("COMPLETED", "REFUNDED", "CANCELLED")
STOCK_STATUSES = ("OK", "LOW", "OUT", "DEAD")
STOCKOUT_RISK = "STOCKOUT_RISK"  # above the reorder level, but forecast to run out within the lead time
ALERT_STATUSES = ("LOW", "OUT", STOCKOUT_RISK)  # the statuses of a stock alert
FORECAST_TRENDS = ("upward", "downward", "stable")
ANOMALY_SCOPES = ("total", "product", "region")
ANOMALY_LABELS = ("HIGH_SPIKE", "LOW_DIP", "ZERO_DROP", "VARIANCE_SHIFT")
ANOMALY_SEVERITIES = ("LOW", "MEDIUM", "HIGH")
WRITTEN_SEVERITIES = ANOMALY_SEVERITIES[1:]  # LOW anomalies are logged, not written

# The reject reasons of sales_rejects, in the order the cleaning rules are applied (a line breaking several
# carries the first): (reason code, the detail's text, column whose value the detail quotes after it).
REJECT_RULES: tuple[tuple[str, str, str | None], ...] = (
    ("MISSING_SALE_ID", "sale has no id; it cannot be deduplicated", None),
    ("DUPLICATE_SALE", "sale id delivered more than once; first delivery kept", None),
    ("MISSING_PRODUCT", "line has no productId", None),
    ("BAD_QUANTITY", "quantity must be > 0, got ", "quantity"),
    ("BAD_PRICE", "unitPrice must be >= 0, got ", "unit_price"),
    ("BAD_DISCOUNT", "discount must be in [0, 1], got ", "discount"),
    ("BAD_STATUS", "unknown status ", "status"),
)
REJECT_REASONS = tuple(code for code, _, _ in REJECT_RULES)

# What a datetime column is in the warehouse (pandera knows only datetime64): a calendar day or an instant.
# Every datetime column of a model with a warehouse table says which (see `tables`).
DATE = {"warehouse_type": "date"}
TIMESTAMP = {"warehouse_type": "timestamp"}


def warehouse_table(name: str, date_column: str | None = None) -> dict[str, str | None]:
    """A model's `Config.metadata`: the frame is stored as warehouse table `name`, replaced day by day on
    `date_column` (None: the whole table at once). Its columns, types, primary key (the model's unique key)
    and description (the model's docstring) come from the model (see `tables`)."""
    return {"warehouse_table": name, "date_column": date_column}


def column_names(model: type[pa.DataFrameModel]) -> list[str]:
    """The model's columns, in contract order."""
    return list(model.to_schema().columns)


def frame_dtypes(model: type[pa.DataFrameModel]) -> dict[str, Any]:
    """The model's columns, in contract order, with their pandas dtypes."""
    return {name: column.dtype.type for name, column in model.to_schema().columns.items()}


def empty_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A frame with no rows and the given column dtypes."""
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """The frame's columns in contract order, cast to the contract dtypes."""
    return frame[list(columns)].astype(columns)


def text_categorical(codes: np.ndarray, labels: Sequence[str]) -> pd.Categorical:
    """A text column as a categorical of `labels` from integer codes (-1 = missing), unchecked."""
    # An empty category list is typed `string`: as `object` it would reach Parquet as Arrow's
    # null type and come back as a plain object column instead of a categorical.
    categories = pd.Index(labels, dtype=object if len(labels) else "string")
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories), validate=False)


class _Strict(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False


# Column descriptions shared by several models (the Dagster UI shows them next to each column).
_DAY = "Shop-local calendar day (midnight timestamp); the daily partition the row belongs to"
_SNAPSHOT_DAY = "Day of the stock snapshot (midnight timestamp); the daily partition the row belongs to"
_COMPLETED_REVENUE = (
    "Sum of quantity x unit_price x (1 - discount) over the {of} valid lines of COMPLETED sales, "
    "to the cent (half away from zero)"
)
_COMPLETED_UNITS = "Units sold: sum of quantity over the {of} valid lines of COMPLETED sales"
_COMPLETED_ORDERS = "Number of distinct COMPLETED sales with at least one valid line {of}"
_IDENTIFIED_CUSTOMERS = (
    "Distinct non-null customer ids among the {of} COMPLETED orders; walk-ins (null customer) do not count"
)
_STOCK_VALUE = (
    "Value of the stock on hand: max(stock_quantity, 0) x cost_price (unit_price when the cost is unknown, "
    "0 when both are), to the cent"
)
_CLEAN_SKU = "SKU trimmed, inner spaces collapsed, upper-cased; UNKNOWN when missing"
_CLEAN_NAME = "Product name trimmed, inner spaces collapsed; 'Unnamed product' when missing"
_INVENTORY_CATEGORY = "Category from /inventory by SKU, title-cased; Uncategorized when unknown"
_GENERATED_AT = "When the forecast run made this row: UTC timestamp without a zone, to the second"
# Margins: the cost side of the sales tables, from the day's stock snapshot (`kpis`, `stock.unit_costs`).
_COST_OF_GOODS = (
    "Sum of quantity x the product's unit cost that day over the {of} valid lines of COMPLETED sales, to the cent "
    "(half away from zero); the unit cost is cost_price in that day's stock snapshot (/inventory `cost` by SKU), "
    "unknown when missing, negative or not a number; null when any of those lines has no known cost, never 0"
)
_GROSS_MARGIN = (
    "revenue - cost_of_goods, both as published (each rounded once from its exact sum), so the identity holds to "
    "the cent on every row; null when cost_of_goods is null"
)
_MARGIN_PCT = "gross_margin / revenue x 100, 2 decimals; null when gross_margin is null or revenue is 0"
# Inventory KPIs: trailing windows ending on (and including) the row's day.
_LAST_28 = "the 28 days up to and including snapshot_date"
_LAST_90 = "the 90 days up to and including snapshot_date"


def _backtest_mape(strategy: str) -> str:
    return (
        f"Backtest MAPE (%) of {strategy} on the all-products series, 2 decimals; null when it was not backtested "
        "(another strategy configured, or too little history) or no backtest day had revenue"
    )


def _backtest_mase(strategy: str) -> str:
    return (
        f"Backtest MASE of {strategy} on the all-products series (below 1 beats the in-sample seasonal naive), "
        "4 decimals; null when it was not backtested (another strategy configured, or too little history)"
    )


class RawSaleLine(pa.DataFrameModel):
    """One row per sale line as delivered (duplicates included): types coerced, values not yet trusted."""

    # Text columns are categoricals from the raw boundary on: a day holds a few hundred distinct spellings
    # over up to millions of lines, so every step after ingestion works on small integer codes (Parquet
    # stores them dictionary-encoded).

    sale_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="Sale id (`id`) as sent; null: rejected as MISSING_SALE_ID"
    )
    sale_date: Series[pd.Timestamp] = pa.Field(
        nullable=False,
        description="Sale timestamp (`saleDate`, shop-local time); lines without a parseable one are left out",
    )
    total_amount: Series[float] = pa.Field(
        nullable=True,
        description=(
            "The sale's `totalAmount` as sent, repeated on each of its lines; only checked against the lines "
            "(total_amount_reconciles), never used for KPIs; NaN when missing or not a number"
        ),
    )
    customer_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True,
        description="`customerId` as sent; null: walk-in customer (also when the backend does not send it)",
    )
    region: Series[Category] = pa.Field(
        nullable=True, description="`region` as spelled by the source; null: not sent (cleaned to Unassigned)"
    )
    status: Series[Category] = pa.Field(
        nullable=True,
        description=(
            "`status` as spelled by the source; null: not sent (cleaned to COMPLETED); anything but COMPLETED, "
            "REFUNDED or CANCELLED once trimmed and upper-cased is rejected as BAD_STATUS"
        ),
    )
    line_no: Series[int] = pa.Field(ge=1, description="Position of the item within its sale, from 1")
    product_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="Item `productId` as sent; null: rejected as MISSING_PRODUCT"
    )
    product_name: Series[Category] = pa.Field(
        nullable=True, description="Item `productName` as spelled by the source; null: cleaned to 'Unnamed product'"
    )
    sku: Series[Category] = pa.Field(
        nullable=True, description="Item `sku` as spelled by the source; null: cleaned to UNKNOWN"
    )
    quantity: Series[float] = pa.Field(
        nullable=True, description="Units on the line as sent; NaN when missing or not a number (BAD_QUANTITY)"
    )
    unit_price: Series[float] = pa.Field(
        nullable=True, description="Price per unit (`unitPrice`) as sent; NaN when missing or not a number (BAD_PRICE)"
    )
    subtotal: Series[float] = pa.Field(
        nullable=True,
        description="Item `subtotal` as sent; informational only: revenue is recomputed from the line's values",
    )
    discount: Series[float] = pa.Field(
        nullable=True,
        description="Fraction of the line's value taken off, as sent; null: no discount (0); outside [0, 1]: "
        "BAD_DISCOUNT",
    )
    category: Series[Category] = pa.Field(
        nullable=True,
        description="Item `category` as spelled by the source; null: the SKU's /inventory category that day is used",
    )
    delivery_order: Series[int] = pa.Field(
        ge=0,
        description=(
            "Position of the line in the pull that delivered it, from 0; within a day, says which delivery of "
            "a sale id came first (the first is kept, later ones are DUPLICATE_SALE)"
        ),
    )

    class Config:
        strict = True
        coerce = True


class RawProduct(pa.DataFrameModel):
    """One row per product per day: `/products` joined with `/inventory` (category, cost) on SKU, untrusted."""

    snapshot_date: Series[pd.Timestamp] = pa.Field(
        description="Day the snapshot belongs to (midnight); a past day keeps the snapshot of its first pull"
    )
    product_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="Product `id` from /products; null: the row is left out of stock_snapshot"
    )
    name: Series[pd.StringDtype] = pa.Field(
        nullable=True, description="Product `name` as sent; null: 'Unnamed product' in stock_snapshot"
    )
    sku: Series[pd.StringDtype] = pa.Field(
        nullable=True,
        description="Product `sku` as sent; trimmed, spaces collapsed and upper-cased it is the join key to /inventory",
    )
    price: Series[float] = pa.Field(
        nullable=True, description="Selling price per unit from /products; NaN when missing or not a number"
    )
    stock_quantity: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="Units on hand (`stockQuantity`); null: 0 in stock_snapshot"
    )
    low_stock_threshold: Series[pd.Int64Dtype] = pa.Field(
        nullable=True,
        description="`lowStockThreshold`: the product is LOW at or below it; null: 0 in stock_snapshot",
    )
    category: Series[pd.StringDtype] = pa.Field(
        nullable=True,
        description="Category of the /inventory item with the same SKU; null when none matches or it has none",
    )
    cost: Series[float] = pa.Field(
        nullable=True, description="Unit cost of the /inventory item with the same SKU; NaN when unknown"
    )

    class Config:
        strict = True
        coerce = True


RAW_SALES_COLUMNS = frame_dtypes(RawSaleLine)
RAW_PRODUCT_COLUMNS = frame_dtypes(RawProduct)


class SalesLine(_Strict):
    """One row per valid sale line, any status: deduplicated, normalized, with revenue (text as categoricals)."""

    sale_id: Series[int] = pa.Field(
        description="Sale id; deduplicated per day (only the lines of its first delivery are kept)"
    )
    sale_date: Series[pd.Timestamp] = pa.Field(
        description="Sale timestamp (shop-local time, time of day kept); its day is the partition"
    )
    line_no: Series[int] = pa.Field(ge=1, description="Position of the item within its sale, from 1")
    customer_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="Customer id; null = walk-in (counts in orders, not in customers)"
    )
    region: Series[Category] = pa.Field(
        description="Region trimmed, inner spaces collapsed, title-cased; Unassigned when not sent"
    )
    status: Series[Category] = pa.Field(
        isin=SALE_STATUSES,
        description="COMPLETED, REFUNDED or CANCELLED (upper-cased; COMPLETED when not sent)",
    )
    product_id: Series[int] = pa.Field(description="Product id (never missing: such lines are MISSING_PRODUCT)")
    product_name: Series[Category] = pa.Field(description=_CLEAN_NAME)
    sku: Series[Category] = pa.Field(description=_CLEAN_SKU)
    category: Series[Category] = pa.Field(
        description=(
            "The line's own category, else its SKU's /inventory category that day, title-cased; "
            "Uncategorized when neither is known"
        )
    )
    quantity: Series[float] = pa.Field(gt=0, description="Units on the line (> 0)")
    unit_price: Series[float] = pa.Field(ge=0, description="Price per unit before discount (finite, >= 0)")
    discount: Series[float] = pa.Field(
        ge=0, le=1, description="Fraction of the line's value taken off, in [0, 1]; 0 when not sent"
    )
    gross_amount: Series[float] = pa.Field(
        ge=0, description="quantity x unit_price: the line's value before discount, unrounded"
    )
    revenue: Series[float] = pa.Field(
        ge=0, description="quantity x unit_price x (1 - discount), unrounded (KPIs sum it exactly, then round)"
    )


class DailySalesKpis(_Strict):
    """One row per day (zeros on a day without sales): the shop's sales KPIs."""

    sale_date: Series[pd.Timestamp] = pa.Field(unique=True, description=_DAY, metadata=DATE)
    revenue: Series[float] = pa.Field(ge=0, description=_COMPLETED_REVENUE.format(of="day's"))
    orders: Series[int] = pa.Field(ge=0, description=_COMPLETED_ORDERS.format(of="that day"))
    units: Series[float] = pa.Field(ge=0, description=_COMPLETED_UNITS.format(of="day's"))
    avg_order_value: Series[float] = pa.Field(
        ge=0, nullable=True, description="revenue / orders, to the cent; null on a day without orders"
    )
    unique_customers: Series[int] = pa.Field(ge=0, description=_IDENTIFIED_CUSTOMERS.format(of="day's"))
    refunded_amount: Series[float] = pa.Field(
        ge=0,
        description=(
            "Sum of quantity x unit_price x (1 - discount) over the day's valid lines of REFUNDED sales, "
            "to the cent (half away from zero)"
        ),
    )
    revenue_growth_pct: Series[float] = pa.Field(
        nullable=True,
        description=(
            "(revenue / revenue of the same weekday one week earlier - 1) x 100, 2 decimals; "
            "null when that day had no revenue or was never materialized"
        ),
    )
    cost_of_goods: Series[float] = pa.Field(
        ge=0, nullable=True, description=_COST_OF_GOODS.format(of="day's") + "; 0 on a day without sales"
    )
    gross_margin: Series[float] = pa.Field(nullable=True, description=_GROSS_MARGIN)
    margin_pct: Series[float] = pa.Field(nullable=True, description=_MARGIN_PCT)

    class Config:
        metadata = warehouse_table("daily_sales_kpis", date_column="sale_date")


class ProductDailySales(_Strict):
    """One row per product per day with completed sales."""

    sale_date: Series[pd.Timestamp] = pa.Field(description=_DAY, metadata=DATE)
    product_id: Series[int] = pa.Field(description="Product id")
    sku: Series[pd.StringDtype] = pa.Field(description="SKU of the product's first COMPLETED line that day")
    product_name: Series[pd.StringDtype] = pa.Field(
        description="Product name of the product's first COMPLETED line that day"
    )
    category: Series[pd.StringDtype] = pa.Field(description="Category of the product's first COMPLETED line that day")
    revenue: Series[float] = pa.Field(ge=0, description=_COMPLETED_REVENUE.format(of="product's"))
    units: Series[float] = pa.Field(ge=0, description=_COMPLETED_UNITS.format(of="product's"))
    orders: Series[int] = pa.Field(ge=0, description=_COMPLETED_ORDERS.format(of="of the product that day"))
    cost_of_goods: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=_COST_OF_GOODS.format(of="product's") + " (units x the unit cost: one cost per product and day)",
    )
    gross_margin: Series[float] = pa.Field(nullable=True, description=_GROSS_MARGIN)
    margin_pct: Series[float] = pa.Field(nullable=True, description=_MARGIN_PCT)

    class Config:
        metadata = warehouse_table("product_daily_sales", date_column="sale_date")
        unique = ["sale_date", "product_id"]


class RegionDailySales(_Strict):
    """One row per region per day with completed sales."""

    sale_date: Series[pd.Timestamp] = pa.Field(description=_DAY, metadata=DATE)
    region: Series[pd.StringDtype] = pa.Field(
        description="Region, title-cased; Unassigned for sales the backend sends without one"
    )
    revenue: Series[float] = pa.Field(ge=0, description=_COMPLETED_REVENUE.format(of="region's"))
    orders: Series[int] = pa.Field(ge=0, description=_COMPLETED_ORDERS.format(of="in the region that day"))
    units: Series[float] = pa.Field(ge=0, description=_COMPLETED_UNITS.format(of="region's"))
    unique_customers: Series[int] = pa.Field(ge=0, description=_IDENTIFIED_CUSTOMERS.format(of="region's"))

    class Config:
        metadata = warehouse_table("region_daily_sales", date_column="sale_date")
        unique = ["sale_date", "region"]


class CategoryDailySales(_Strict):
    """One row per category per day with completed sales."""

    sale_date: Series[pd.Timestamp] = pa.Field(description=_DAY, metadata=DATE)
    category: Series[pd.StringDtype] = pa.Field(description="Product category, title-cased; Uncategorized when unknown")
    revenue: Series[float] = pa.Field(ge=0, description=_COMPLETED_REVENUE.format(of="category's"))
    units: Series[float] = pa.Field(ge=0, description=_COMPLETED_UNITS.format(of="category's"))
    discount_rate: Series[float] = pa.Field(
        ge=0,
        le=1,
        nullable=True,
        description=(
            "Discount given over list value: sum(q x p x d) / sum(q x p) over the category's COMPLETED lines, "
            "4 decimals; null when their list value is 0"
        ),
    )
    cost_of_goods: Series[float] = pa.Field(ge=0, nullable=True, description=_COST_OF_GOODS.format(of="category's"))
    gross_margin: Series[float] = pa.Field(nullable=True, description=_GROSS_MARGIN)
    margin_pct: Series[float] = pa.Field(nullable=True, description=_MARGIN_PCT)

    class Config:
        metadata = warehouse_table("category_daily_sales", date_column="sale_date")
        unique = ["sale_date", "category"]


class CustomerDailyKpis(_Strict):
    """One row per day: new and returning identified customers."""

    sale_date: Series[pd.Timestamp] = pa.Field(unique=True, description=_DAY, metadata=DATE)
    new_customers: Series[int] = pa.Field(
        ge=0,
        description=(
            "Identified customers with a COMPLETED sale that day and none on an earlier day of the lookback "
            "(at least the 90 days before); walk-ins do not count"
        ),
    )
    returning_customers: Series[int] = pa.Field(
        ge=0,
        description=(
            "Identified customers with a COMPLETED sale that day and on an earlier day of the lookback "
            "(at least the 90 days before)"
        ),
    )
    repeat_rate: Series[float] = pa.Field(
        ge=0,
        le=1,
        nullable=True,
        description=(
            "returning_customers / (new_customers + returning_customers), 4 decimals; "
            "null on a day without identified customers"
        ),
    )

    class Config:
        metadata = warehouse_table("customer_daily_kpis", date_column="sale_date")


class StockSnapshot(_Strict):
    """One row per product per day: stock on hand, its value, cover and status."""

    snapshot_date: Series[pd.Timestamp] = pa.Field(description=_SNAPSHOT_DAY, metadata=DATE)
    product_id: Series[int] = pa.Field(description="Product id from /products")
    sku: Series[pd.StringDtype] = pa.Field(description=_CLEAN_SKU)
    name: Series[pd.StringDtype] = pa.Field(description=_CLEAN_NAME)
    category: Series[pd.StringDtype] = pa.Field(description=_INVENTORY_CATEGORY)
    stock_quantity: Series[int] = pa.Field(
        description="Units on hand as the backend reports them (0 when not sent); OUT at <= 0"
    )
    low_stock_threshold: Series[int] = pa.Field(
        description="The backend's low-stock threshold (0 when not sent); LOW at or below it"
    )
    unit_price: Series[float] = pa.Field(
        nullable=True, description="Selling price per unit from /products; null when unknown"
    )
    cost_price: Series[float] = pa.Field(
        nullable=True, description="Unit cost from /inventory by SKU; null when unknown"
    )
    stock_value: Series[float] = pa.Field(ge=0, description=_STOCK_VALUE)
    days_of_cover: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "max(stock_quantity, 0) / average daily COMPLETED units of the 28 days up to and including the day, "
            "1 decimal; null when none sold in those days"
        ),
    )
    status: Series[pd.StringDtype] = pa.Field(
        isin=STOCK_STATUSES,
        description=(
            "OUT at stock_quantity <= 0, else LOW at <= low_stock_threshold, else DEAD when no COMPLETED units "
            "in the 90 days up to and including the day, else OK"
        ),
    )

    class Config:
        metadata = warehouse_table("stock_snapshot", date_column="snapshot_date")
        unique = ["snapshot_date", "product_id"]


class StockKpis(_Strict):
    """One row per day: the stock position of the whole shop."""

    snapshot_date: Series[pd.Timestamp] = pa.Field(unique=True, description=_SNAPSHOT_DAY, metadata=DATE)
    products: Series[int] = pa.Field(ge=0, description="Products in the day's stock snapshot")
    total_stock_value: Series[float] = pa.Field(
        ge=0, description="Sum of the products' stock_value (at cost, price when the cost is unknown), to the cent"
    )
    low_stock_products: Series[int] = pa.Field(
        ge=0, description="Products with status LOW (in stock, at or below their threshold)"
    )
    out_of_stock_products: Series[int] = pa.Field(ge=0, description="Products with status OUT")
    dead_stock_products: Series[int] = pa.Field(
        ge=0, description="Products with status DEAD (in stock above their threshold, nothing sold in 90 days)"
    )
    median_days_of_cover: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description="Median days_of_cover over the products that have one; null when none has",
    )
    reorder_suggestions: Series[int] = pa.Field(ge=0, description="Products that should be reordered: those LOW or OUT")
    inventory_turnover: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "Annualised cost of goods over average stock value at cost, over the day's products in "
            "product_inventory_kpis with both known: sum(cost_of_goods_90d) x 365 / history_days / "
            "sum(average_stock_value_90d), 2 decimals; null when no product has both or that average is 0"
        ),
    )
    slow_moving_products: Series[int] = pa.Field(
        ge=0, description="Products flagged slow_mover in product_inventory_kpis that day"
    )
    slow_moving_stock_value: Series[float] = pa.Field(
        ge=0, description="Sum of the stock_value of the slow movers (slow_moving_products), to the cent"
    )
    dead_stock_value: Series[float] = pa.Field(
        ge=0, description="Sum of the stock_value of the products with status DEAD (dead_stock_products), to the cent"
    )
    a_class_revenue_share: Series[float] = pa.Field(
        ge=0,
        le=1,
        nullable=True,
        description=(
            "Share of the day's products' trailing revenue (sum of product_inventory_kpis.revenue_90d) made by the "
            "products of abc_class A, 4 decimals; null when that revenue is 0"
        ),
    )
    lost_sales_estimate: Series[float] = pa.Field(
        ge=0,
        description=(
            "Sum of the products' lost_sales_estimate (revenue missed while out of stock over "
            + _LAST_28
            + "), products whose estimate is null left out, to the cent"
        ),
    )

    class Config:
        metadata = warehouse_table("stock_kpis", date_column="snapshot_date")


class ProductInventoryKpis(_Strict):
    """One row per product per day in that day's stock snapshot: how its stock sells, turns and earns over the
    trailing 28 and 90 days (from stock_snapshot and product_daily_sales)."""

    snapshot_date: Series[pd.Timestamp] = pa.Field(description=_SNAPSHOT_DAY, metadata=DATE)
    product_id: Series[int] = pa.Field(description="Product id from /products")
    sku: Series[pd.StringDtype] = pa.Field(description=_CLEAN_SKU)
    name: Series[pd.StringDtype] = pa.Field(description=_CLEAN_NAME)
    category: Series[pd.StringDtype] = pa.Field(description=_INVENTORY_CATEGORY)
    stock_quantity: Series[int] = pa.Field(description="Units on hand, as in stock_snapshot (OUT at <= 0)")
    stock_value: Series[float] = pa.Field(ge=0, description=_STOCK_VALUE + " (as in stock_snapshot)")
    units_28d: Series[float] = pa.Field(ge=0, description=f"Sum of product_daily_sales.units over {_LAST_28}")
    revenue_28d: Series[float] = pa.Field(
        ge=0, description=f"Sum of product_daily_sales.revenue over {_LAST_28}, to the cent"
    )
    units_90d: Series[float] = pa.Field(ge=0, description=f"Sum of product_daily_sales.units over {_LAST_90}")
    revenue_90d: Series[float] = pa.Field(
        ge=0, description=f"Sum of product_daily_sales.revenue over {_LAST_90}, to the cent"
    )
    cost_of_goods_90d: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            f"Sum of product_daily_sales.cost_of_goods over {_LAST_90}, to the cent; null when one of those days "
            "has sales of the product without a known cost"
        ),
    )
    history_days: Series[int] = pa.Field(
        ge=1,
        le=90,
        description=(
            f"Days of {_LAST_90} that have a stock snapshot (of any product): the history the 90-day figures "
            "stand on, 90 once the shop has that much"
        ),
    )
    average_stock_value_90d: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            f"Average stock value at cost over {_LAST_90}: the sum of max(stock_quantity, 0) x cost_price of the "
            "product's snapshot rows of those days (0 on a day it is not in the snapshot) / history_days, to the "
            "cent; null when a day with stock on hand has no known cost (missing, negative or not a number)"
        ),
    )
    sell_through_rate: Series[float] = pa.Field(
        ge=0,
        le=1,
        nullable=True,
        description=(
            "units_28d / (units_28d + max(stock_quantity, 0)): the share of the units sold in the 28 days and "
            "still on hand that sold, 4 decimals; null when both are 0"
        ),
    )
    inventory_turnover: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "Annualised cost of goods over average stock value at cost: cost_of_goods_90d x 365 / history_days / "
            "average_stock_value_90d, 2 decimals; null when either is null or the average is 0"
        ),
    )
    days_of_cover: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "As stock_snapshot.days_of_cover: max(stock_quantity, 0) / (units_28d / 28), 1 decimal; null when "
            "units_28d is 0"
        ),
    )
    days_since_last_sale: Series[pd.Int64Dtype] = pa.Field(
        ge=0,
        le=89,
        nullable=True,
        description=(
            f"Days from the last day with units in product_daily_sales among {_LAST_90} to snapshot_date "
            "(0: sold that day); null when none sold in those days"
        ),
    )
    abc_class: Series[pd.StringDtype] = pa.Field(
        isin=("A", "B", "C"),
        description=(
            "The day's products ranked by revenue_90d, highest first (ties: lower product_id first): A while the "
            "revenue_90d of the products ranked above is under 80% of the day's total, else B while under 95%, "
            "else C (so every product without revenue, and all of them when the total is 0)"
        ),
    )
    slow_mover: Series[int] = pa.Field(
        isin=(0, 1),
        description=(
            "1 when stock is on hand (stock_quantity > 0), the product sold in the 90 days (units_90d > 0, so it "
            "is not DEAD) and days_of_cover is above 90 or null (nothing sold in the 28 days); else 0"
        ),
    )
    out_of_stock_days_28d: Series[int] = pa.Field(
        ge=0, le=28, description=f"Days of {_LAST_28} on which the product's snapshot had stock_quantity <= 0"
    )
    lost_sales_estimate: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            f"Revenue missed while out of stock over {_LAST_28}: out_of_stock_days_28d x expected daily units x "
            "the day's unit_price, to the cent, where expected daily units = units sold on the in-stock days "
            "(snapshot stock_quantity > 0) of those 28 / their number; 0 without out-of-stock days; null when "
            "there were some but no in-stock day, or the unit_price is unknown"
        ),
    )

    class Config:
        metadata = warehouse_table("product_inventory_kpis", date_column="snapshot_date")
        unique = ["snapshot_date", "product_id"]


class SalesReject(_Strict):
    """One row per rejected sale line with its reason code."""

    sale_date: Series[pd.Timestamp] = pa.Field(description="Day of the sale (midnight timestamp)", metadata=DATE)
    sale_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="Sale id; null: the sale had none")
    line_no: Series[int] = pa.Field(description="Position of the item within its sale, from 1")
    reason: Series[pd.StringDtype] = pa.Field(
        isin=REJECT_REASONS,
        description=(
            "The first rule the line breaks, in this order: MISSING_SALE_ID, DUPLICATE_SALE, MISSING_PRODUCT, "
            "BAD_QUANTITY (quantity <= 0 or missing), BAD_PRICE (unit_price < 0 or not finite), "
            "BAD_DISCOUNT (outside [0, 1]), BAD_STATUS"
        ),
    )
    detail: Series[pd.StringDtype] = pa.Field(
        description="Readable explanation quoting the bad value, e.g. 'quantity must be > 0, got -2.0'"
    )

    class Config:
        metadata = warehouse_table("sales_rejects", date_column="sale_date")


class SalesForecast(_Strict):
    """One row per as-of day, forecast day and series: the forecast made with the sales up to the as-of day,
    for all products together (product_id null) and per product; every as-of day's forecast is kept."""

    forecast_date: Series[pd.Timestamp] = pa.Field(
        description="Day forecast: one of the horizon days after as_of_date", metadata=DATE
    )
    product_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="null = all products together; else a product sold in the trailing history"
    )
    predicted_revenue: Series[float] = pa.Field(
        ge=0, description="Forecast revenue of the day (COMPLETED sales), never below 0, to the cent"
    )
    lower: Series[float] = pa.Field(
        ge=0,
        description=(
            "Low end of the 80% interval: predicted_revenue + the 10th percentile of the chosen model's backtest "
            "errors at that horizon day (scaled by the series' mase_scale, pooled over the products; in-sample "
            "errors for a fallback), at most the prediction and at least 0, to the cent"
        ),
    )
    upper: Series[float] = pa.Field(
        ge=0,
        description=(
            "High end of the 80% interval: predicted_revenue + the 90th percentile of the chosen model's backtest "
            "errors at that horizon day (as for lower), at least the prediction, to the cent"
        ),
    )
    model: Series[pd.StringDtype] = pa.Field(
        description=(
            "What made the series' forecast: the strategy (linear, random_forest, gradient_boosting, "
            "weekday_profile, seasonal_naive), fallback_seasonal_naive / fallback_mean under 14 days of history, "
            "or flat for a series that never changed"
        )
    )
    generated_at: Series[pd.Timestamp] = pa.Field(description=_GENERATED_AT, metadata=TIMESTAMP)
    as_of_date: Series[pd.Timestamp] = pa.Field(
        description=(
            "The last day of sales the forecast knew (its daily partition): made from daily_sales_kpis and "
            "product_daily_sales up to and including this day only"
        ),
        metadata=DATE,
    )
    horizon_day: Series[int] = pa.Field(ge=1, description="Days ahead: forecast_date - as_of_date")
    predicted_units: Series[float] = pa.Field(
        ge=0,
        description=(
            "Forecast units of the day: predicted_revenue x the series' units per unit of revenue over its last "
            "28 days (its mean daily units when it sold at price 0), 2 decimals"
        ),
    )
    units_lower: Series[float] = pa.Field(ge=0, description="Low end of the 80% interval in units, as predicted_units")
    units_upper: Series[float] = pa.Field(ge=0, description="High end of the 80% interval in units, as predicted_units")
    mase_scale: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "The series' mean absolute week-over-week change of daily revenue in its history (the in-sample "
            "seasonal naive error): forecast_accuracy divides errors by it for MASE; null under 8 days of history "
            "or for a series that repeats itself exactly"
        ),
    )

    class Config:
        metadata = warehouse_table("sales_forecast", date_column="as_of_date")
        unique = ["as_of_date", "forecast_date", "product_id"]


class SalesForecastSummary(_Strict):
    """One row per as-of day: that day's all-products forecast in figures, and every strategy's backtest scores."""

    generated_at: Series[pd.Timestamp] = pa.Field(description=_GENERATED_AT, metadata=TIMESTAMP)
    horizon_days: Series[int] = pa.Field(ge=1, description="Days forecast ahead")
    trend: Series[pd.StringDtype] = pa.Field(
        isin=FORECAST_TRENDS,
        description=(
            "upward / downward when the forecast's daily average is more than 5% above / below the actual "
            "daily average of as many days just before; else stable"
        ),
    )
    total: Series[float] = pa.Field(
        ge=0, description="Sum of the all-products predicted_revenue over the horizon, to the cent"
    )
    daily_average: Series[float] = pa.Field(
        ge=0, description="Mean all-products predicted_revenue per day of the horizon, to the cent"
    )
    peak_value: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description="Highest all-products predicted_revenue of a day of the horizon; null without a forecast",
    )
    peak_day: Series[pd.Timestamp] = pa.Field(
        nullable=True, description="The (first) day with peak_value; null without a forecast", metadata=DATE
    )
    model: Series[pd.StringDtype] = pa.Field(
        description="Model of the all-products series, as in sales_forecast.model (fallback_mean without history)"
    )
    backtest_mape: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "% error of the chosen model: rolling-origin backtest MAPE on the all-products series (days with "
            "revenue), 2 decimals; null for a fallback or flat model, without backtest, or when no backtest day had "
            "revenue"
        ),
    )
    backtest_mase: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "Backtest MASE of the chosen model on the all-products series, 4 decimals; < 1: beats the in-sample "
            "seasonal naive error; null for a fallback or flat model, or without backtest"
        ),
    )
    strategy: Series[pd.StringDtype] = pa.Field(
        description=(
            "As configured (SALESFLOW_FORECAST_STRATEGY): auto (the strategy with the lowest backtest MASE, "
            "seasonal naive included) or one strategy"
        )
    )
    mape_linear: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mape("linear"))
    mase_linear: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mase("linear"))
    mape_random_forest: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mape("random_forest"))
    mase_random_forest: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mase("random_forest"))
    mape_gradient_boosting: Series[float] = pa.Field(
        ge=0, nullable=True, description=_backtest_mape("gradient_boosting")
    )
    mase_gradient_boosting: Series[float] = pa.Field(
        ge=0, nullable=True, description=_backtest_mase("gradient_boosting")
    )
    mape_seasonal_naive: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mape("seasonal_naive"))
    mase_seasonal_naive: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mase("seasonal_naive"))
    as_of_date: Series[pd.Timestamp] = pa.Field(
        unique=True, description="The forecast's as-of day (its daily partition), as in sales_forecast", metadata=DATE
    )
    total_units: Series[float] = pa.Field(
        ge=0, description="Sum of the all-products predicted_units over the horizon, 2 decimals"
    )
    improvement_over_baseline_pct: Series[float] = pa.Field(
        nullable=True,
        description=(
            "How much lower the chosen model's backtest MASE is than seasonal naive's on the same folds, in % "
            "(1 - backtest_mase / mase_seasonal_naive) x 100, 2 decimals: 0 when seasonal naive itself won; "
            "negative only for a configured strategy worse than it; null without backtest"
        ),
    )
    backtest_coverage: Series[float] = pa.Field(
        ge=0,
        le=1,
        nullable=True,
        description=(
            "Share of the all-products backtest actuals inside the chosen model's 80% interval, each fold's "
            "interval calibrated on the other folds only, 4 decimals; null with fewer than two folds"
        ),
    )
    backtest_product_coverage: Series[float] = pa.Field(
        ge=0,
        le=1,
        nullable=True,
        description="As backtest_coverage, over every product's backtest days",
    )
    mape_weekday_profile: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mape("weekday_profile"))
    mase_weekday_profile: Series[float] = pa.Field(ge=0, nullable=True, description=_backtest_mase("weekday_profile"))

    class Config:
        metadata = warehouse_table("sales_forecast_summary", date_column="as_of_date")


class ForecastAccuracy(_Strict):
    """One row per day with actuals, forecast of it and series: a past forecast of the day against what sold."""

    sale_date: Series[pd.Timestamp] = pa.Field(
        description="The day forecast, now known (its daily partition)", metadata=DATE
    )
    as_of_date: Series[pd.Timestamp] = pa.Field(
        description="The as-of day of the forecast scored (the last day of sales it knew)", metadata=DATE
    )
    horizon_day: Series[int] = pa.Field(ge=1, description="Days ahead the forecast was made: sale_date - as_of_date")
    product_id: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="null = all products together; else the product"
    )
    model: Series[pd.StringDtype] = pa.Field(description="What made the forecast, as in sales_forecast.model")
    predicted_revenue: Series[float] = pa.Field(ge=0, description="sales_forecast.predicted_revenue")
    lower: Series[float] = pa.Field(ge=0, description="sales_forecast.lower: low end of the 80% interval")
    upper: Series[float] = pa.Field(ge=0, description="sales_forecast.upper: high end of the 80% interval")
    actual_revenue: Series[float] = pa.Field(
        ge=0, description="Revenue of the day from daily_sales_kpis (the shop) or product_daily_sales (0 if none sold)"
    )
    predicted_units: Series[float] = pa.Field(ge=0, description="sales_forecast.predicted_units")
    actual_units: Series[float] = pa.Field(ge=0, description="Units sold that day, as actual_revenue")
    abs_pct_error: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description="|actual - predicted| / actual x 100 (revenue): averaged, the MAPE; null on a day without revenue",
    )
    scaled_error: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "|actual - predicted| / the forecast's mase_scale (revenue): averaged, the MASE (below 1 beats the "
            "series' in-sample seasonal naive error); null without a scale"
        ),
    )
    covered: Series[int] = pa.Field(
        isin=[0, 1], description="1 when actual_revenue fell inside [lower, upper]: averaged, the interval coverage"
    )

    class Config:
        metadata = warehouse_table("forecast_accuracy", date_column="sale_date")
        unique = ["sale_date", "as_of_date", "product_id"]


class SalesAnomaly(_Strict):
    """One row per MEDIUM or HIGH revenue anomaly of a day (per scope, scope key, metric and label)."""

    anomaly_id: Series[pd.StringDtype] = pa.Field(
        unique=True,
        description="Stable id: the same anomaly found again (a re-run, a backfill) gets the same id",
    )
    sale_date: Series[pd.Timestamp] = pa.Field(description="Day of the anomaly (midnight timestamp)", metadata=DATE)
    scope: Series[pd.StringDtype] = pa.Field(
        isin=ANOMALY_SCOPES, description="total (the whole shop), product or region"
    )
    scope_key: Series[pd.StringDtype] = pa.Field(
        description="'all' for total, the product id (as text) for product, the region name for region"
    )
    metric: Series[pd.StringDtype] = pa.Field(
        description="revenue (HIGH_SPIKE, LOW_DIP, ZERO_DROP) or revenue_volatility (VARIANCE_SHIFT)"
    )
    value: Series[float] = pa.Field(
        description=(
            "revenue: the day's revenue in the scope; revenue_volatility: the standard deviation of the 7 days "
            "up to and including the day; to the cent"
        )
    )
    expected: Series[float] = pa.Field(
        nullable=True,
        description=(
            "revenue: the mean of the trailing window (28 days by default, the day excluded); "
            "revenue_volatility: the standard deviation of the 21 days before those 7; to the cent"
        ),
    )
    z_score: Series[float] = pa.Field(
        nullable=True,
        description=(
            "The day's revenue minus the trailing mean, over the trailing standard deviation, 2 decimals; "
            "null for a ZERO_DROP whose history gives no z-score (too short, constant or rarely selling)"
        ),
    )
    severity: Series[pd.StringDtype] = pa.Field(
        isin=WRITTEN_SEVERITIES,
        description=(
            "HIGH from |z| >= 3 (emailed once), else MEDIUM; a VARIANCE_SHIFT is MEDIUM only on a z outlier "
            "day (LOW ones are logged, not written); thresholds configurable"
        ),
    )
    label: Series[pd.StringDtype] = pa.Field(
        isin=ANOMALY_LABELS,
        description=(
            "HIGH_SPIKE (z >= 2), LOW_DIP (z <= -2), ZERO_DROP (no revenue where the trailing mean is clearly "
            "positive) or VARIANCE_SHIFT (7-day standard deviation at least 2x, or at most half, that of the 21 days "
            "before); thresholds configurable"
        ),
    )
    explanation: Series[pd.StringDtype] = pa.Field(
        description="One plain-words sentence for the shop owner, with the figures"
    )
    detected_at: Series[pd.Timestamp] = pa.Field(
        description="When the run that found it ran: UTC timestamp without a zone, to the second", metadata=TIMESTAMP
    )

    class Config:
        metadata = warehouse_table("sales_anomalies", date_column="sale_date")


class StockAlert(_Strict):
    """One row per product per day that is LOW or OUT of stock, or forecast to run out within the lead time."""

    snapshot_date: Series[pd.Timestamp] = pa.Field(description=_SNAPSHOT_DAY, metadata=DATE)
    product_id: Series[int] = pa.Field(description="Product id from /products")
    sku: Series[pd.StringDtype] = pa.Field(description=_CLEAN_SKU)
    name: Series[pd.StringDtype] = pa.Field(description=_CLEAN_NAME)
    category: Series[pd.StringDtype] = pa.Field(description=_INVENTORY_CATEGORY)
    status: Series[pd.StringDtype] = pa.Field(
        isin=ALERT_STATUSES,
        description=(
            "OUT at stock_quantity <= 0, else LOW at <= reorder_level, else STOCKOUT_RISK when the forecast demand "
            "empties the stock within lead_time_days (expected_stockout_date at most lead_time_days away)"
        ),
    )
    stock_quantity: Series[int] = pa.Field(description="Units on hand as the backend reports them (<= 0 when OUT)")
    reorder_level: Series[int] = pa.Field(description="The backend's low_stock_threshold: LOW at or below it")
    avg_daily_units: Series[float] = pa.Field(
        ge=0,
        description=(
            "COMPLETED units per day over the 28 days up to and including the day (fewer days when the sales "
            "history is shorter), 2 decimals; 0 when none sold"
        ),
    )
    days_of_cover: Series[float] = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "Days the stock on hand lasts at avg_daily_units, 1 decimal; 0 when nothing is on hand; "
            "null: stock on hand but no recent sales"
        ),
    )
    suggested_reorder_qty: Series[int] = pa.Field(
        ge=0,
        description=(
            "Units to order: forecast_demand_units rounded up, at least reorder_level + 1, minus "
            "max(stock_quantity, 0); never below 0"
        ),
    )
    lead_time_days: Series[int] = pa.Field(
        ge=0, description="Supplier lead time the suggestion covers (SALESFLOW_REORDER_LEAD_DAYS, default 7)"
    )
    safety_stock_days: Series[int] = pa.Field(
        ge=0, description="Extra days of demand the suggestion covers (SALESFLOW_SAFETY_STOCK_DAYS, default 3)"
    )
    stock_value: Series[float] = pa.Field(ge=0, description=_STOCK_VALUE)
    forecast_demand_units: Series[float] = pa.Field(
        ge=0,
        description=(
            "Forecast units sold over the lead_time_days + safety_stock_days days after the day: avg_daily_units "
            "times the shop's weekday profile (each weekday's median units in the 28 days up to the day, relative "
            "to their mean) on each of those days, summed, 1 decimal"
        ),
    )
    expected_stockout_date: Series[pd.Timestamp] = pa.Field(
        nullable=True,
        description=(
            "First day on which the forecast demand since the day reaches the stock on hand (the day itself when "
            "OUT); null when no demand is forecast or not within 90 days"
        ),
        metadata=DATE,
    )

    class Config:
        metadata = warehouse_table("stock_alerts", date_column="snapshot_date")
        unique = ["snapshot_date", "product_id"]
