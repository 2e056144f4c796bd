"""pandera models for every frame that crosses an asset boundary.

Raw models only describe shape and types (the source is not trusted; bad values become reason
codes in cleaning). Clean and KPI models are strict: a frame that breaks them is a bug in the
pipeline, and the step fails naming the column, the check and example rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Category, Series

# Text columns of sale lines are categoricals from the raw boundary on: a day holds a few
# hundred distinct spellings over up to millions of lines, so every step after ingestion works
# on small integer codes (Parquet stores them dictionary-encoded).
RAW_SALES_COLUMNS: dict[str, str] = {
    "sale_id": "Int64",
    "sale_date": "datetime64[ns]",
    "total_amount": "float64",
    "customer_id": "Int64",
    "region": "category",
    "status": "category",
    "line_no": "int64",
    "product_id": "Int64",
    "product_name": "category",
    "sku": "category",
    "quantity": "float64",
    "unit_price": "float64",
    "subtotal": "float64",
    "discount": "float64",
    "category": "category",
    "delivery_order": "int64",
}

RAW_PRODUCT_COLUMNS: dict[str, str] = {
    "snapshot_date": "datetime64[ns]",
    "product_id": "Int64",
    "name": "string",
    "sku": "string",
    "price": "float64",
    "stock_quantity": "Int64",
    "low_stock_threshold": "Int64",
    "category": "string",
    "cost": "float64",
}

SALE_STATUSES = ("COMPLETED", "REFUNDED", "CANCELLED")
REJECT_REASONS = (
    "MISSING_SALE_ID",
    "DUPLICATE_SALE",
    "BAD_QUANTITY",
    "BAD_PRICE",
    "BAD_DISCOUNT",
    "BAD_STATUS",
    "MISSING_PRODUCT",
)
STOCK_STATUSES = ("OK", "LOW", "OUT", "DEAD")


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """A frame with no rows and the given column dtypes."""
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
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


class RawSaleLine(pa.DataFrameModel):
    """One sale line as delivered by the source, types coerced, values not yet trusted."""

    sale_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="null: rejected as MISSING_SALE_ID")
    sale_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    total_amount: Series[float] = pa.Field(nullable=True)
    customer_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    region: Series[Category] = pa.Field(nullable=True)
    status: Series[Category] = pa.Field(nullable=True)
    line_no: Series[int] = pa.Field(ge=1)
    product_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    product_name: Series[Category] = pa.Field(nullable=True)
    sku: Series[Category] = pa.Field(nullable=True)
    quantity: Series[float] = pa.Field(nullable=True)
    unit_price: Series[float] = pa.Field(nullable=True)
    subtotal: Series[float] = pa.Field(nullable=True)
    discount: Series[float] = pa.Field(nullable=True)
    category: Series[Category] = pa.Field(nullable=True)
    delivery_order: Series[int] = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = True


class RawProduct(pa.DataFrameModel):
    """One product of the `/products` snapshot joined with `/inventory` (category, cost)."""

    snapshot_date: Series[pd.Timestamp]
    product_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    name: Series[pd.StringDtype] = pa.Field(nullable=True)
    sku: Series[pd.StringDtype] = pa.Field(nullable=True)
    price: Series[float] = pa.Field(nullable=True)
    stock_quantity: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    low_stock_threshold: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    category: Series[pd.StringDtype] = pa.Field(nullable=True)
    cost: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True


class SalesLine(_Strict):
    """One valid, deduplicated, normalized sale line with its revenue (text as categoricals)."""

    sale_id: Series[int]
    sale_date: Series[pd.Timestamp]
    line_no: Series[int] = pa.Field(ge=1)
    customer_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="null = walk-in")
    region: Series[Category]
    status: Series[Category] = pa.Field(isin=SALE_STATUSES)
    product_id: Series[int]
    product_name: Series[Category]
    sku: Series[Category]
    category: Series[Category]
    quantity: Series[float] = pa.Field(gt=0)
    unit_price: Series[float] = pa.Field(ge=0)
    discount: Series[float] = pa.Field(ge=0, le=1)
    gross_amount: Series[float] = pa.Field(ge=0, description="quantity x unit_price")
    revenue: Series[float] = pa.Field(ge=0, description="quantity x unit_price x (1 - discount)")


class SalesReject(_Strict):
    """One rejected sale line with its reason code."""

    sale_date: Series[pd.Timestamp]
    sale_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    line_no: Series[int]
    reason: Series[pd.StringDtype] = pa.Field(isin=REJECT_REASONS)
    detail: Series[pd.StringDtype]


class DailySalesKpis(_Strict):
    """One row per day."""

    sale_date: Series[pd.Timestamp] = pa.Field(unique=True)
    revenue: Series[float] = pa.Field(ge=0)
    orders: Series[int] = pa.Field(ge=0)
    units: Series[float] = pa.Field(ge=0)
    avg_order_value: Series[float] = pa.Field(ge=0, nullable=True)
    unique_customers: Series[int] = pa.Field(ge=0)
    refunded_amount: Series[float] = pa.Field(ge=0)
    revenue_growth_pct: Series[float] = pa.Field(nullable=True)


class ProductDailySales(_Strict):
    """One row per product per day."""

    sale_date: Series[pd.Timestamp]
    product_id: Series[int]
    sku: Series[pd.StringDtype]
    product_name: Series[pd.StringDtype]
    category: Series[pd.StringDtype]
    revenue: Series[float] = pa.Field(ge=0)
    units: Series[float] = pa.Field(ge=0)
    orders: Series[int] = pa.Field(ge=0)

    class Config:
        unique = ["sale_date", "product_id"]


class RegionDailySales(_Strict):
    """One row per region per day."""

    sale_date: Series[pd.Timestamp]
    region: Series[pd.StringDtype]
    revenue: Series[float] = pa.Field(ge=0)
    orders: Series[int] = pa.Field(ge=0)
    units: Series[float] = pa.Field(ge=0)
    unique_customers: Series[int] = pa.Field(ge=0)

    class Config:
        unique = ["sale_date", "region"]


class CategoryDailySales(_Strict):
    """One row per category per day."""

    sale_date: Series[pd.Timestamp]
    category: Series[pd.StringDtype]
    revenue: Series[float] = pa.Field(ge=0)
    units: Series[float] = pa.Field(ge=0)
    discount_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)

    class Config:
        unique = ["sale_date", "category"]


class CustomerDailyKpis(_Strict):
    """One row per day: new and returning identified customers."""

    sale_date: Series[pd.Timestamp] = pa.Field(unique=True)
    new_customers: Series[int] = pa.Field(ge=0)
    returning_customers: Series[int] = pa.Field(ge=0)
    repeat_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)


class StockSnapshot(_Strict):
    """One row per product per day: stock on hand, its value and status."""

    snapshot_date: Series[pd.Timestamp]
    product_id: Series[int]
    sku: Series[pd.StringDtype]
    name: Series[pd.StringDtype]
    category: Series[pd.StringDtype]
    stock_quantity: Series[int]
    low_stock_threshold: Series[int]
    unit_price: Series[float] = pa.Field(nullable=True)
    cost_price: Series[float] = pa.Field(nullable=True)
    stock_value: Series[float] = pa.Field(ge=0)
    days_of_cover: Series[float] = pa.Field(ge=0, nullable=True)
    status: Series[pd.StringDtype] = pa.Field(isin=STOCK_STATUSES)

    class Config:
        unique = ["snapshot_date", "product_id"]


class StockKpis(_Strict):
    """One row per day: the stock position of the whole shop."""

    snapshot_date: Series[pd.Timestamp] = pa.Field(unique=True)
    products: Series[int] = pa.Field(ge=0)
    total_stock_value: Series[float] = pa.Field(ge=0)
    low_stock_products: Series[int] = pa.Field(ge=0)
    out_of_stock_products: Series[int] = pa.Field(ge=0)
    dead_stock_products: Series[int] = pa.Field(ge=0)
    median_days_of_cover: Series[float] = pa.Field(ge=0, nullable=True)
    reorder_suggestions: Series[int] = pa.Field(ge=0)


FORECAST_TRENDS = ("upward", "downward", "stable")
ANOMALY_SCOPES = ("total", "product", "region")
ANOMALY_LABELS = ("HIGH_SPIKE", "LOW_DIP", "ZERO_DROP", "VARIANCE_SHIFT")
WRITTEN_SEVERITIES = ("MEDIUM", "HIGH")  # LOW anomalies are logged, not written
ALERT_STATUSES = ("LOW", "OUT")


class SalesForecast(_Strict):
    """One row per forecast day, for all products together (product_id null) and per product."""

    forecast_date: Series[pd.Timestamp]
    product_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="null = all products")
    predicted_revenue: Series[float] = pa.Field(ge=0)
    lower: Series[float] = pa.Field(ge=0, description="10th percentile (80% interval)")
    upper: Series[float] = pa.Field(ge=0, description="90th percentile (80% interval)")
    model: Series[pd.StringDtype] = pa.Field(description="strategy, or the fallback used for this series")
    generated_at: Series[pd.Timestamp]

    class Config:
        unique = ["forecast_date", "product_id"]


class SalesForecastSummary(_Strict):
    """One row: the latest all-products forecast in figures, and every strategy's backtest scores."""

    generated_at: Series[pd.Timestamp]
    horizon_days: Series[int] = pa.Field(ge=1)
    trend: Series[pd.StringDtype] = pa.Field(isin=FORECAST_TRENDS)
    total: Series[float] = pa.Field(ge=0)
    daily_average: Series[float] = pa.Field(ge=0)
    peak_value: Series[float] = pa.Field(ge=0, nullable=True)
    peak_day: Series[pd.Timestamp] = pa.Field(nullable=True)
    model: Series[pd.StringDtype]
    backtest_mape: Series[float] = pa.Field(ge=0, nullable=True, description="% error of the chosen model")
    backtest_mase: Series[float] = pa.Field(ge=0, nullable=True, description="< 1: beats seasonal naive")
    strategy: Series[pd.StringDtype] = pa.Field(description="as configured: auto or one strategy")
    mape_linear: Series[float] = pa.Field(ge=0, nullable=True)
    mase_linear: Series[float] = pa.Field(ge=0, nullable=True)
    mape_random_forest: Series[float] = pa.Field(ge=0, nullable=True)
    mase_random_forest: Series[float] = pa.Field(ge=0, nullable=True)
    mape_gradient_boosting: Series[float] = pa.Field(ge=0, nullable=True)
    mase_gradient_boosting: Series[float] = pa.Field(ge=0, nullable=True)
    mape_seasonal_naive: Series[float] = pa.Field(ge=0, nullable=True)
    mase_seasonal_naive: Series[float] = pa.Field(ge=0, nullable=True)


class SalesAnomaly(_Strict):
    """One row per MEDIUM or HIGH revenue anomaly of a day."""

    anomaly_id: Series[pd.StringDtype] = pa.Field(unique=True)
    sale_date: Series[pd.Timestamp]
    scope: Series[pd.StringDtype] = pa.Field(isin=ANOMALY_SCOPES)
    scope_key: Series[pd.StringDtype] = pa.Field(description="'all', a product id or a region")
    metric: Series[pd.StringDtype]
    value: Series[float]
    expected: Series[float] = pa.Field(nullable=True)
    z_score: Series[float] = pa.Field(nullable=True)
    severity: Series[pd.StringDtype] = pa.Field(isin=WRITTEN_SEVERITIES)
    label: Series[pd.StringDtype] = pa.Field(isin=ANOMALY_LABELS)
    explanation: Series[pd.StringDtype]
    detected_at: Series[pd.Timestamp]


class StockAlert(_Strict):
    """One row per product per day that is LOW or OUT of stock."""

    snapshot_date: Series[pd.Timestamp]
    product_id: Series[int]
    sku: Series[pd.StringDtype]
    name: Series[pd.StringDtype]
    category: Series[pd.StringDtype]
    status: Series[pd.StringDtype] = pa.Field(isin=ALERT_STATUSES)
    stock_quantity: Series[int]
    reorder_level: Series[int] = pa.Field(description="the backend's low_stock_threshold")
    avg_daily_units: Series[float] = pa.Field(ge=0)
    days_of_cover: Series[float] = pa.Field(ge=0, nullable=True, description="null: no recent sales")
    suggested_reorder_qty: Series[int] = pa.Field(ge=0)
    lead_time_days: Series[int] = pa.Field(ge=0)
    safety_stock_days: Series[int] = pa.Field(ge=0)
    stock_value: Series[float] = pa.Field(ge=0)

    class Config:
        unique = ["snapshot_date", "product_id"]
