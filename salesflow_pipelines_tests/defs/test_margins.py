"""Margins and inventory KPIs end to end: a month pulled from the contract-speaking stand-in server
into the real PostgreSQL warehouse, checked against figures computed independently from the
source JSON (sales, `/products`, `/inventory`), and the inventory tables against the sales tables
they stand on, in SQL."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import pandas as pd
import psycopg
import pytest

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.backend.payloads import inventory_to_payload, products_to_payload, sales_to_payload
from salesflow_pipelines_tests.conftest import scratch_database
from salesflow_pipelines_tests.defs.daily_graph import materialize, warehouse_table

START, END = date(2026, 10, 1), date(2026, 10, 31)
TODAY = date(2026, 11, 5)
CENT = Decimal("0.01")


class ShopMissingACost(DemoData):
    """The demo shop whose `/inventory` lacks a product that sells (id 1): no cost, no category."""

    def inventory(self, snapshot_date: date) -> pd.DataFrame:
        inventory = super().inventory(snapshot_date)
        return inventory[inventory["inventory_id"] != 1001].reset_index(drop=True)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def unit_costs_by_product(data: DemoData) -> dict[int, Decimal]:
    """Product id -> unit cost, joining `/products` and `/inventory` on SKU as the contract says."""
    cost_by_sku = {
        item["sku"].strip().upper(): Decimal(str(item["cost"]))
        for item in inventory_to_payload(data.inventory(TODAY))
        if item["cost"] is not None
    }
    products = products_to_payload(data.products(TODAY))
    return {product["id"]: cost_by_sku[product["sku"]] for product in products if product["sku"] in cost_by_sku}


def independent_product_days(data: DemoData) -> dict[tuple[str, int], dict[str, Decimal | None]]:
    """(day, product) -> exact revenue and cost of goods of its COMPLETED valid lines, from the sales JSON."""
    costs = unit_costs_by_product(data)
    totals: dict[tuple[str, int], dict] = defaultdict(lambda: {"revenue": Decimal(0), "cost": Decimal(0)})
    seen: set[int] = set()
    for sale in sales_to_payload(data.sales_lines(START, END)):
        if sale["id"] in seen or (sale.get("status") or "COMPLETED").strip().upper() != "COMPLETED":
            seen.add(sale["id"])
            continue
        seen.add(sale["id"])
        for item in sale["items"]:
            quantity, price, discount = item["quantity"], item["unitPrice"], item.get("discount") or 0.0
            if not (quantity > 0 and math.isfinite(price) and price >= 0 and 0 <= discount <= 1):
                continue
            key = (sale["saleDate"][:10], item["productId"])
            line = Decimal(str(quantity)) * Decimal(str(price)) * (1 - Decimal(str(discount)))
            totals[key]["revenue"] += line
            cost = costs.get(item["productId"])
            totals[key]["cost"] = (
                None
                if cost is None or totals[key]["cost"] is None
                else totals[key]["cost"] + (Decimal(str(quantity)) * cost)
            )
    return totals


def materialized_month(data: DemoData, url: str, frames: str) -> dg.ExecuteInProcessResult:
    with StandinServer(data, today=TODAY, token_ttl_seconds=2) as server:
        server.fail_next(2)
        result = materialize(server, url, frames, START, END)
    assert result.success
    return result


def sql(url: str, query: str) -> pd.DataFrame:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(query)
        return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def step_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)][:1]
    return {key: value.value for key, value in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Iterator[dict]:
    """October from the stand-in server, every product with a cost, in a database of its own."""
    data = DemoData(orders_per_day=40)
    with scratch_database("margins") as url:
        result = materialized_month(data, url, str(tmp_path_factory.mktemp("frames")))
        yield {"url": url, "data": data, "result": result}


def test_a_month_of_margins_matches_the_source_to_the_cent(month):
    expected = independent_product_days(month["data"])
    products = warehouse_table(month["url"], "product_daily_sales")
    assert len(products) == len(expected) > 500
    for row in products.itertuples():
        exact = expected[(row.sale_date.isoformat(), row.product_id)]
        assert Decimal(str(row.revenue)) == cents(exact["revenue"]), row
        assert Decimal(str(row.cost_of_goods)) == cents(exact["cost"]), row
        assert Decimal(str(row.gross_margin)) == Decimal(str(row.revenue)) - Decimal(str(row.cost_of_goods)), row

    # Every row of the three tables, and the month: gross margin = revenue - cost of goods, to the cent.
    for table in ("product_daily_sales", "category_daily_sales", "daily_sales_kpis"):
        check = sql(
            month["url"],
            "SELECT COUNT(*) AS rows, "
            "COUNT(*) FILTER (WHERE cost_of_goods IS NULL) AS uncosted, "
            "COUNT(*) FILTER (WHERE round((revenue - cost_of_goods - gross_margin)::numeric, 2) <> 0) AS off, "
            "round(SUM(revenue)::numeric, 2) AS revenue, round(SUM(cost_of_goods)::numeric, 2) AS cost, "
            f"round(SUM(gross_margin)::numeric, 2) AS margin FROM analytics.{table}",
        ).iloc[0]
        assert check["rows"] > 0 and check["uncosted"] == 0 and check["off"] == 0, table
        assert check["margin"] == check["revenue"] - check["cost"], table

    daily = sql(month["url"], "SELECT sale_date, revenue, cost_of_goods FROM analytics.daily_sales_kpis")
    by_day: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for (day, _), exact in expected.items():
        by_day[day][0] += exact["revenue"]
        by_day[day][1] += exact["cost"]
    for row in daily.itertuples():
        revenue, cost = by_day.get(row.sale_date.isoformat(), [Decimal(0), Decimal(0)])
        assert (Decimal(str(row.revenue)), Decimal(str(row.cost_of_goods))) == (cents(revenue), cents(cost)), row
    assert step_metadata(month["result"], "product_daily_sales")["rows_without_cost"] == 0


def test_inventory_kpis_stand_on_the_warehouse_sales_and_stock_tables(month):
    url, last = month["url"], END.isoformat()
    inventory = sql(url, f"SELECT * FROM analytics.product_inventory_kpis WHERE snapshot_date = '{last}'")
    snapshot = sql(url, f"SELECT * FROM analytics.stock_snapshot WHERE snapshot_date = '{last}'")
    assert len(inventory) == len(snapshot) == month["data"].product_count
    sums = sql(
        url,
        "SELECT product_id, "
        f"COALESCE(SUM(units) FILTER (WHERE sale_date > DATE '{last}' - 28), 0) AS units_28d, "
        f"round(COALESCE(SUM(revenue) FILTER (WHERE sale_date > DATE '{last}' - 28), 0)::numeric, 2) AS revenue_28d, "
        "SUM(units) AS units_90d, round(SUM(revenue)::numeric, 2) AS revenue_90d, "
        "round(SUM(cost_of_goods)::numeric, 2) AS cost_of_goods_90d, MAX(sale_date) AS last_sale "
        f"FROM analytics.product_daily_sales WHERE sale_date > DATE '{last}' - 90 GROUP BY product_id",
    ).set_index("product_id")
    history = (END - START).days + 1  # the month is all the history there is
    rows = inventory.set_index("product_id")
    assert set(rows["history_days"]) == {history}
    for product, row in rows.iterrows():
        if product not in sums.index:  # never sold: dead stock
            assert row["units_90d"] == 0 and pd.isna(row["days_since_last_sale"]) and row["abc_class"] == "C"
            continue
        sold = sums.loc[product]
        assert (row["units_28d"], row["units_90d"]) == (sold["units_28d"], sold["units_90d"])
        assert Decimal(str(row["revenue_28d"])) == sold["revenue_28d"]
        assert Decimal(str(row["revenue_90d"])) == sold["revenue_90d"]
        assert Decimal(str(row["cost_of_goods_90d"])) == sold["cost_of_goods_90d"]
        assert row["days_since_last_sale"] == (END - sold["last_sale"]).days
        if row["average_stock_value_90d"]:
            turnover = row["cost_of_goods_90d"] * 365 / history / row["average_stock_value_90d"]
            assert row["inventory_turnover"] == pytest.approx(turnover, abs=0.005)
    # The stand-in keeps today's stock for every day: the average stock value is the day's at cost.
    for product, today in snapshot.set_index("product_id").iterrows():
        average = rows.loc[product, "average_stock_value_90d"]
        if today["stock_quantity"] > 0 and pd.isna(today["cost_price"]):
            assert pd.isna(average), product  # the demo's newest product is missing from /inventory
        else:
            value = cents(max(today["stock_quantity"], 0) * Decimal(str(today["cost_price"])))
            assert Decimal(str(average)) == value, product
    # ABC: A holds at least 80% of the trailing revenue, and without its last product less than 80%.
    ranked = rows.sort_values(["revenue_90d"], ascending=False, kind="stable")
    a_revenue = ranked.loc[ranked["abc_class"] == "A", "revenue_90d"]
    total = ranked["revenue_90d"].sum()
    assert a_revenue.sum() >= 0.8 * total > a_revenue.iloc[:-1].sum()

    [kpis] = sql(url, f"SELECT * FROM analytics.stock_kpis WHERE snapshot_date = '{last}'").itertuples()
    costed = rows.dropna(subset=["cost_of_goods_90d", "average_stock_value_90d"])
    turnover = costed["cost_of_goods_90d"].sum() * 365 / history / costed["average_stock_value_90d"].sum()
    assert kpis.inventory_turnover == pytest.approx(turnover, abs=0.005)
    assert kpis.a_class_revenue_share == pytest.approx(a_revenue.sum() / total, abs=5e-5)
    slow = rows[rows["slow_mover"] == 1]
    assert (kpis.slow_moving_products, kpis.slow_moving_stock_value) == (len(slow), round(slow["stock_value"].sum(), 2))
    dead = snapshot.loc[snapshot["status"] == "DEAD", "stock_value"].sum()
    assert kpis.dead_stock_value == round(dead, 2) > 0  # the demo's last product never sells
    assert kpis.lost_sales_estimate == round(rows["lost_sales_estimate"].sum(), 2)


def test_a_product_without_a_cost_is_null_and_counted_never_zero(fresh_schema, tmp_path):
    data = ShopMissingACost(orders_per_day=40)
    result = materialized_month(data, fresh_schema, str(tmp_path / "frames"))
    expected = independent_product_days(data)
    products = warehouse_table(fresh_schema, "product_daily_sales")
    uncosted = products[products["cost_of_goods"].isna()]
    assert set(uncosted["product_id"]) == {1} and len(uncosted) == (products["product_id"] == 1).sum() > 0
    assert uncosted[["gross_margin", "margin_pct"]].isna().all().all()
    for row in products[products["product_id"] != 1].itertuples():
        assert Decimal(str(row.cost_of_goods)) == cents(expected[(row.sale_date.isoformat(), row.product_id)]["cost"])

    metadata = step_metadata(result, "product_daily_sales")
    assert metadata["rows_without_cost"] == len(uncosted) and metadata["products_without_cost"] == 1
    assert metadata["revenue_without_cost"] == pytest.approx(uncosted["revenue"].sum(), abs=0.005)
    # Its category is unknown too (no /inventory row): only the Uncategorized rows lack a cost.
    categories = warehouse_table(fresh_schema, "category_daily_sales")
    assert set(categories.loc[categories["cost_of_goods"].isna(), "category"]) == {"Uncategorized"}
    assert categories.loc[categories["category"] != "Uncategorized", "cost_of_goods"].notna().all()
    inventory = warehouse_table(fresh_schema, "product_inventory_kpis")
    sold_uncosted = inventory[(inventory["product_id"] == 1) & (inventory["units_90d"] > 0)]
    assert len(sold_uncosted) and sold_uncosted[["cost_of_goods_90d", "inventory_turnover"]].isna().all().all()
    assert inventory.loc[inventory["product_id"] != 1, "cost_of_goods_90d"].notna().all()
