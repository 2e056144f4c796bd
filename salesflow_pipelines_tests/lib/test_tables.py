"""The warehouse table contract, read off the pandera models: the same tables as the published contract."""

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from salesflow_pipelines.lib import schemas
from salesflow_pipelines.lib.warehouse import tables
from salesflow_pipelines.lib.warehouse.tables import TABLES, Table

# The published contract as it was written out by hand before the tables were derived from the models:
# (columns in order with their logical types, primary key, date column). Downstream readers (BI tools,
# the frontend), the binary COPY and the tables already in warehouses rely on it: change it only on purpose.
PUBLISHED: dict[str, tuple[dict[str, str], tuple[str, ...], str | None]] = {
    "daily_sales_kpis": (
        {
            "sale_date": "date",
            "revenue": "float",
            "orders": "int",
            "units": "float",
            "avg_order_value": "float",
            "unique_customers": "int",
            "refunded_amount": "float",
            "revenue_growth_pct": "float",
            # Margins (appended: readers of the columns above are unaffected).
            "cost_of_goods": "float",
            "gross_margin": "float",
            "margin_pct": "float",
        },
        ("sale_date",),
        "sale_date",
    ),
    "product_daily_sales": (
        {
            "sale_date": "date",
            "product_id": "int",
            "sku": "text",
            "product_name": "text",
            "category": "text",
            "revenue": "float",
            "units": "float",
            "orders": "int",
            # Margins (appended: readers of the columns above are unaffected).
            "cost_of_goods": "float",
            "gross_margin": "float",
            "margin_pct": "float",
        },
        ("sale_date", "product_id"),
        "sale_date",
    ),
    "region_daily_sales": (
        {
            "sale_date": "date",
            "region": "text",
            "revenue": "float",
            "orders": "int",
            "units": "float",
            "unique_customers": "int",
        },
        ("sale_date", "region"),
        "sale_date",
    ),
    "category_daily_sales": (
        {
            "sale_date": "date",
            "category": "text",
            "revenue": "float",
            "units": "float",
            "discount_rate": "float",
            # Margins (appended: readers of the columns above are unaffected).
            "cost_of_goods": "float",
            "gross_margin": "float",
            "margin_pct": "float",
        },
        ("sale_date", "category"),
        "sale_date",
    ),
    "customer_daily_kpis": (
        {"sale_date": "date", "new_customers": "int", "returning_customers": "int", "repeat_rate": "float"},
        ("sale_date",),
        "sale_date",
    ),
    "stock_snapshot": (
        {
            "snapshot_date": "date",
            "product_id": "int",
            "sku": "text",
            "name": "text",
            "category": "text",
            "stock_quantity": "int",
            "low_stock_threshold": "int",
            "unit_price": "float",
            "cost_price": "float",
            "stock_value": "float",
            "days_of_cover": "float",
            "status": "text",
        },
        ("snapshot_date", "product_id"),
        "snapshot_date",
    ),
    "stock_kpis": (
        {
            "snapshot_date": "date",
            "products": "int",
            "total_stock_value": "float",
            "low_stock_products": "int",
            "out_of_stock_products": "int",
            "dead_stock_products": "int",
            "median_days_of_cover": "float",
            "reorder_suggestions": "int",
            # Inventory health (appended, from product_inventory_kpis).
            "inventory_turnover": "float",
            "slow_moving_products": "int",
            "slow_moving_stock_value": "float",
            "dead_stock_value": "float",
            "a_class_revenue_share": "float",
            "lost_sales_estimate": "float",
        },
        ("snapshot_date",),
        "snapshot_date",
    ),
    "product_inventory_kpis": (
        {
            "snapshot_date": "date",
            "product_id": "int",
            "sku": "text",
            "name": "text",
            "category": "text",
            "stock_quantity": "int",
            "stock_value": "float",
            "units_28d": "float",
            "revenue_28d": "float",
            "units_90d": "float",
            "revenue_90d": "float",
            "cost_of_goods_90d": "float",
            "history_days": "int",
            "average_stock_value_90d": "float",
            "sell_through_rate": "float",
            "inventory_turnover": "float",
            "days_of_cover": "float",
            "days_since_last_sale": "int",
            "abc_class": "text",
            "slow_mover": "int",
            "out_of_stock_days_28d": "int",
            "lost_sales_estimate": "float",
        },
        ("snapshot_date", "product_id"),
        "snapshot_date",
    ),
    "sales_rejects": (
        {"sale_date": "date", "sale_id": "int", "line_no": "int", "reason": "text", "detail": "text"},
        (),
        "sale_date",
    ),
    "sales_forecast": (
        {
            "forecast_date": "date",
            "product_id": "int",
            "predicted_revenue": "float",
            "lower": "float",
            "upper": "float",
            "model": "text",
            "generated_at": "timestamp",
            "as_of_date": "date",
            "horizon_day": "int",
            "predicted_units": "float",
            "units_lower": "float",
            "units_upper": "float",
            "mase_scale": "float",
        },
        (),  # no primary key: product_id is NULL on the all-products rows
        "as_of_date",
    ),
    "sales_forecast_summary": (
        {
            "generated_at": "timestamp",
            "horizon_days": "int",
            "trend": "text",
            "total": "float",
            "daily_average": "float",
            "peak_value": "float",
            "peak_day": "date",
            "model": "text",
            "backtest_mape": "float",
            "backtest_mase": "float",
            "strategy": "text",
            "mape_linear": "float",
            "mase_linear": "float",
            "mape_random_forest": "float",
            "mase_random_forest": "float",
            "mape_gradient_boosting": "float",
            "mase_gradient_boosting": "float",
            "mape_seasonal_naive": "float",
            "mase_seasonal_naive": "float",
            "as_of_date": "date",
            "total_units": "float",
            "improvement_over_baseline_pct": "float",
            "backtest_coverage": "float",
            "backtest_product_coverage": "float",
            "mape_weekday_profile": "float",
            "mase_weekday_profile": "float",
        },
        ("as_of_date",),
        "as_of_date",
    ),
    "forecast_accuracy": (
        {
            "sale_date": "date",
            "as_of_date": "date",
            "horizon_day": "int",
            "product_id": "int",
            "model": "text",
            "predicted_revenue": "float",
            "lower": "float",
            "upper": "float",
            "actual_revenue": "float",
            "predicted_units": "float",
            "actual_units": "float",
            "abs_pct_error": "float",
            "scaled_error": "float",
            "covered": "int",
        },
        (),  # no primary key: product_id is NULL on the shop's rows
        "sale_date",
    ),
    "sales_anomalies": (
        {
            "anomaly_id": "text",
            "sale_date": "date",
            "scope": "text",
            "scope_key": "text",
            "metric": "text",
            "value": "float",
            "expected": "float",
            "z_score": "float",
            "severity": "text",
            "label": "text",
            "explanation": "text",
            "detected_at": "timestamp",
        },
        ("anomaly_id",),
        "sale_date",
    ),
    "stock_alerts": (
        {
            "snapshot_date": "date",
            "product_id": "int",
            "sku": "text",
            "name": "text",
            "category": "text",
            "status": "text",
            "stock_quantity": "int",
            "reorder_level": "int",
            "avg_daily_units": "float",
            "days_of_cover": "float",
            "suggested_reorder_qty": "int",
            "lead_time_days": "int",
            "safety_stock_days": "int",
            "stock_value": "float",
            "forecast_demand_units": "float",
            "expected_stockout_date": "date",
        },
        ("snapshot_date", "product_id"),
        "snapshot_date",
    ),
}

# The raw frames' dtypes as they were written out by hand (demo and payload frames are built to them).
PUBLISHED_RAW = {
    "RAW_SALES_COLUMNS": {
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
    },
    "RAW_PRODUCT_COLUMNS": {
        "snapshot_date": "datetime64[ns]",
        "product_id": "Int64",
        "name": "string",
        "sku": "string",
        "price": "float64",
        "stock_quantity": "Int64",
        "low_stock_threshold": "Int64",
        "category": "string",
        "cost": "float64",
    },
}

MODELS = {tables.table_metadata(model)["warehouse_table"]: model for model in tables.warehouse_models()}


def test_derived_tables_are_the_published_contract():
    assert list(TABLES) == list(PUBLISHED)  # the order readers list them in (e.g. the demo summary)
    for name, (columns, primary_key, date_column) in PUBLISHED.items():
        table = TABLES[name]
        assert isinstance(table, Table) and table.name == name
        # Order matters as much as names and types: the binary COPY writes columns by position.
        assert list(table.columns.items()) == list(columns.items()), name
        assert table.column_names == list(columns)
        assert table.primary_key == primary_key, name
        assert table.date_column == date_column, name


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_every_table_has_a_model_with_matching_columns(name):
    model = MODELS[name]
    schema = model.to_schema()
    table = TABLES[name]
    assert table.column_names == schemas.column_names(model)
    assert table.description == schema.description and table.description.startswith("One row")
    for column, kind in table.columns.items():
        if kind in ("date", "timestamp"):
            assert schema.columns[column].metadata == {"warehouse_type": kind}
    if table.date_column:
        assert table.columns[table.date_column] == "date"


def test_only_the_models_of_warehouse_tables_name_one():
    assert set(MODELS) == set(TABLES)
    assert {model.__name__ for model in MODELS.values()}.isdisjoint({"RawSaleLine", "RawProduct", "SalesLine"})


@pytest.mark.parametrize("name", list(PUBLISHED_RAW))
def test_raw_frame_dtypes_are_the_published_ones(name):
    derived = getattr(schemas, name)
    assert list(derived) == list(PUBLISHED_RAW[name])
    for column, dtype in PUBLISHED_RAW[name].items():
        assert pd.api.types.pandas_dtype(dtype) == derived[column], column
    expected = schemas.empty_frame(PUBLISHED_RAW[name])
    pd.testing.assert_frame_equal(schemas.empty_frame(derived), expected)


def test_a_datetime_column_must_say_whether_it_is_a_date_or_a_timestamp():
    class Undecided(pa.DataFrameModel):
        """One row per thing."""

        day: Series[pd.Timestamp] = pa.Field(description="A day?")

        class Config:
            metadata = schemas.warehouse_table("undecided", date_column="day")

    with pytest.raises(TypeError, match="Undecided.day"):
        tables.table_of(Undecided)


def test_a_nullable_key_is_no_primary_key_and_the_date_column_must_be_a_date():
    class Keyed(pa.DataFrameModel):
        """One row per day and maybe product."""

        day: Series[pd.Timestamp] = pa.Field(description="Day", metadata=schemas.DATE)
        at: Series[pd.Timestamp] = pa.Field(description="When", metadata=schemas.TIMESTAMP)
        product_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="Product")

        class Config:
            metadata = schemas.warehouse_table("keyed", date_column="day")
            unique = ["day", "product_id"]

    table = tables.table_of(Keyed)
    assert table == Table("keyed", {"day": "date", "at": "timestamp", "product_id": "int"}, (), "day", Keyed.__doc__)

    class WrongDay(Keyed):
        class Config:
            metadata = schemas.warehouse_table("wrong_day", date_column="at")

    with pytest.raises(ValueError, match="at is not a date column"):
        tables.table_of(WrongDay)
