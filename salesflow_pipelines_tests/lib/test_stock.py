"""Stock snapshot status, value and cover."""

import pandas as pd
import pytest

from salesflow_pipelines.lib import stock
from salesflow_pipelines.lib.cleaning import clean_sales
from salesflow_pipelines.lib.payloads import typed_products_frame
from salesflow_pipelines.lib.schemas import StockKpis, StockSnapshot
from salesflow_pipelines_tests.lib.frames import raw_lines

DAY = pd.Timestamp("2026-11-20")


def products(*rows):
    frame = pd.DataFrame(
        [
            {
                "snapshot_date": DAY,
                "name": "P",
                "sku": " sku-1",
                "price": 10.0,
                "low_stock_threshold": 5,
                "category": None,
                "cost": None,
                **row,
            }
            for row in rows
        ]
    )
    return typed_products_frame(frame)


def test_status_value_and_cover():
    sold = clean_sales(
        raw_lines(
            dict(sale_id=1, sale_date="2026-11-10T10:00", product_id=1, quantity=28),
            dict(sale_id=2, sale_date="2026-11-10T10:00", product_id=2, quantity=1),
            dict(sale_id=3, sale_date="2026-11-10T10:00", product_id=3, quantity=1),
        ),
        pd.Series(dtype="string"),
    ).lines
    snapshot = stock.stock_snapshot(
        products(
            dict(product_id=1, stock_quantity=50, cost=4.0, category=" grocery"),
            dict(product_id=2, stock_quantity=5),
            dict(product_id=3, stock_quantity=0),
            dict(product_id=4, stock_quantity=-3),
            dict(product_id=5, stock_quantity=100),
            dict(product_id=5, stock_quantity=100),
        ),
        sold,
    ).set_index("product_id")
    StockSnapshot.validate(snapshot.reset_index())
    assert snapshot["status"].to_dict() == {1: "OK", 2: "LOW", 3: "OUT", 4: "OUT", 5: "DEAD"}
    assert snapshot.loc[1, "stock_value"] == pytest.approx(200.0)
    assert snapshot.loc[5, "stock_value"] == pytest.approx(1000.0)
    assert snapshot.loc[4, "stock_value"] == 0.0
    assert snapshot.loc[1, "days_of_cover"] == pytest.approx(50.0)
    assert pd.isna(snapshot.loc[5, "days_of_cover"])
    assert (snapshot.loc[1, "sku"], snapshot.loc[1, "category"]) == ("SKU-1", "Grocery")
    assert snapshot.loc[2, "category"] == "Uncategorized"

    summary = stock.stock_kpis(snapshot.reset_index())
    StockKpis.validate(summary)
    row = summary.iloc[0]
    assert (row["products"], row["low_stock_products"], row["out_of_stock_products"]) == (5, 1, 2)
    assert (row["dead_stock_products"], row["reorder_suggestions"]) == (1, 3)


def test_sales_tables_name_a_product_as_the_days_catalogue_does():
    from salesflow_pipelines.lib.kpis import product_daily

    lines = clean_sales(
        raw_lines(
            dict(sale_id=1, sale_date="2026-11-20T10:00", product_id=1, product_name="espresso  BEANS", sku="sku-1"),
            dict(sale_id=2, sale_date="2026-11-20T11:00", product_id=2, product_name="Gone Product", sku="SKU-9"),
        ),
        pd.Series(dtype="string"),
    ).lines
    catalogue = products(dict(product_id=1, name=" Espresso Beans 1kg ", sku="SKU-0001", stock_quantity=3))
    named = stock.named_from_catalog(product_daily(lines), catalogue)
    assert named["product_name"].tolist() == ["Espresso Beans 1kg", "Gone Product"]
    assert named["sku"].tolist() == ["SKU-0001", "SKU-9"]
    assert named["revenue"].tolist() == product_daily(lines)["revenue"].tolist()
