"""Strict boundaries fail with a message that names the column, the check and example values."""

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.partitions import boundary, boundary_type
from salesflow_pipelines.lib.schemas import DailySalesKpis


def daily_row(**overrides) -> pd.DataFrame:
    row = {
        "sale_date": pd.Timestamp("2026-11-02"),
        "revenue": 10.0,
        "orders": 1,
        "units": 2.0,
        "avg_order_value": 10.0,
        "unique_customers": 1,
        "refunded_amount": 0.0,
        "revenue_growth_pct": None,
        "cost_of_goods": 6.0,
        "gross_margin": 4.0,
        "margin_pct": 40.0,
    }
    frame = pd.DataFrame([{**row, **overrides}])
    frame["revenue_growth_pct"] = frame["revenue_growth_pct"].astype("float64")
    return frame


def test_valid_frame_passes_the_boundary():
    assert dg.check_dagster_type(boundary_type(DailySalesKpis), daily_row()).success


def test_violation_names_column_check_and_failing_value():
    result = dg.check_dagster_type(boundary_type(DailySalesKpis), daily_row(revenue=-12.5))
    assert not result.success
    assert "revenue" in result.description
    assert "greater_than_or_equal_to(0)" in result.description
    assert "-12.5" in result.description


def test_column_schema_is_definition_metadata_listing_the_model_columns():
    metadata = boundary(DailySalesKpis, partition_column="sale_date")["metadata"]
    assert metadata["partition_column"] == "sale_date"
    names = [column.name for column in metadata["dagster/column_schema"].columns]
    assert names == list(daily_row().columns)
