"""Stock snapshot status, value and cover; unit costs, inventory KPIs and stock KPIs."""

import random
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from salesflow_pipelines.lib.analytics import stock
from salesflow_pipelines.lib.analytics.cleaning import clean_sales
from salesflow_pipelines.lib.backend.payloads import typed_products_frame
from salesflow_pipelines.lib.schemas import ProductInventoryKpis, StockKpis, StockSnapshot
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
    from salesflow_pipelines.lib.analytics.kpis import product_daily

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


# -- unit costs and inventory KPIs ---------------------------------------------------------------------


def test_unit_costs_leave_out_missing_negative_and_non_numeric_costs():
    costs = stock.unit_costs(
        products(
            dict(product_id=1, stock_quantity=1, cost=4.0),
            dict(product_id=2, stock_quantity=1, cost=None),
            dict(product_id=3, stock_quantity=1, cost=-1.0),
            dict(product_id=4, stock_quantity=1, cost=float("inf")),
            dict(product_id=5, stock_quantity=1, cost=0.0),
        )
    )
    assert costs.to_dict("list") == {"sale_date": [DAY, DAY], "product_id": [1, 5], "unit_cost": [4.0, 0.0]}


FIRST_DAY = pd.Timestamp("2026-01-01")
HISTORY = 130  # days of snapshots and sales
REPORTED = pd.date_range(FIRST_DAY + pd.Timedelta(days=95), periods=35)  # days whose inventory KPIs are checked
NO_SNAPSHOT = set(range(10, 15)) | {60}  # days the shop has no stock snapshot (never materialized)


def inventory_history(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made stock_snapshot and product_daily_sales rows (as the warehouse returns them).

    Product 1 sells a lot, 2 a little, 3 never (dead), 4 has no cost on some days, 5 joins the
    catalogue late, 6 sells once and stops; stock runs out now and then, some days have no snapshot.
    """
    rng = random.Random(seed)
    price = {1: 12.5, 2: 30.0, 3: 8.0, 4: 5.25, 5: 19.99, 6: 3.1}
    snapshots, sales = [], []
    for offset in range(HISTORY):
        day = FIRST_DAY + pd.Timedelta(days=offset)
        for product in price:
            if product == 5 and offset < 110:
                continue
            cost = None if product == 4 and offset % 9 == 0 else round(price[product] * 0.6, 3)
            quantity = rng.choice([0, 0, 3, 20, 40, 150]) if product != 3 else 60
            rate = {1: 9, 2: 1, 3: 0, 4: 3, 5: 2, 6: 4 if offset == 40 else 0}[product]
            units = rng.randint(0, 2 * rate) if quantity > 0 or rng.random() < 0.2 else 0
            if offset not in NO_SNAPSHOT:
                snapshots.append(
                    {
                        "snapshot_date": day,
                        "product_id": product,
                        "sku": f"SKU-{product}",
                        "name": f"Product {product}",
                        "category": "Grocery",
                        "stock_quantity": quantity,
                        "unit_price": price[product],
                        "cost_price": cost,
                        "stock_value": round(max(quantity, 0) * (cost if cost is not None else price[product]), 2),
                        "days_of_cover": rng.choice([None, 4.5, 95.0, 200.0]),
                        "status": "DEAD" if product == 3 else rng.choice(["OK", "LOW"]),
                    }
                )
            if units:
                revenue = round(units * price[product] * rng.choice([1, 0.9]), 2)
                sales.append(
                    {
                        "sale_date": day,
                        "product_id": product,
                        "units": float(units),
                        "revenue": revenue,
                        "cost_of_goods": None if cost is None else round(units * cost, 2),
                    }
                )
    snapshot_frame = pd.DataFrame(snapshots).astype({"cost_price": "float64", "days_of_cover": "float64"})
    sales_frame = pd.DataFrame(sales).astype({"cost_of_goods": "float64"})
    return snapshot_frame, sales_frame


def half_up(value: Decimal, places: str = "0.01") -> float:
    return float(Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def expected_inventory(snapshots: pd.DataFrame, sales: pd.DataFrame, day: pd.Timestamp) -> dict[int, dict]:
    """The formulas of `ProductInventoryKpis`, written out one product and one day at a time."""
    snapshot_rows = {(row.snapshot_date, row.product_id): row for row in snapshots.itertuples()}
    sales_rows = {(row.sale_date, row.product_id): row for row in sales.itertuples()}
    snapshot_days = set(snapshots["snapshot_date"])

    def window(length: int) -> list[pd.Timestamp]:
        return [day - pd.Timedelta(days=back) for back in range(length)]

    rows = {}
    for (when, product), today in snapshot_rows.items():
        if when != day:
            continue
        sold = {t: sales_rows[(t, product)] for t in window(90) if (t, product) in sales_rows}
        units_28 = sum(row.units for t, row in sold.items() if t in window(28))
        units_90 = sum(row.units for row in sold.values())
        costs = [row.cost_of_goods for row in sold.values()]
        cogs_90 = None if any(pd.isna(cost) for cost in costs) else half_up(sum(Decimal(str(c)) for c in costs))
        history = sum(t in snapshot_days for t in window(90))
        value, value_known = Decimal(0), True
        for t in window(90):
            row = snapshot_rows.get((t, product))
            if row is not None and row.stock_quantity > 0:
                if pd.isna(row.cost_price):
                    value_known = False
                else:
                    value += row.stock_quantity * Decimal(str(row.cost_price))
        average = half_up(value / history) if value_known else None
        on_hand = max(today.stock_quantity, 0)
        in_28 = [snapshot_rows.get((t, product)) for t in window(28)]
        out_days = sum(row is not None and row.stock_quantity <= 0 for row in in_28)
        stocked = [t for t, row in zip(window(28), in_28, strict=True) if row is not None and row.stock_quantity > 0]
        stocked_units = sum(sold[t].units for t in stocked if t in sold)
        if out_days == 0:
            lost = 0.0
        elif not stocked:
            lost = None
        else:
            lost = half_up(out_days * Decimal(str(stocked_units)) * Decimal(str(today.unit_price)) / len(stocked))
        last_sale = max((t for t, row in sold.items() if row.units > 0), default=None)
        rows[product] = {
            "units_28d": units_28,
            "revenue_28d": half_up(sum(Decimal(str(row.revenue)) for t, row in sold.items() if t in window(28))),
            "units_90d": units_90,
            "revenue_90d": half_up(sum(Decimal(str(row.revenue)) for row in sold.values())),
            "cost_of_goods_90d": cogs_90,
            "history_days": history,
            "average_stock_value_90d": average,
            "sell_through_rate": units_28 / (units_28 + on_hand) if units_28 + on_hand else None,
            "inventory_turnover": (cogs_90 * 365 / history / average if cogs_90 is not None and average else None),
            "days_since_last_sale": None if last_sale is None else (day - last_sale).days,
            "slow_mover": int(
                on_hand > 0 and units_90 > 0 and (pd.isna(today.days_of_cover) or today.days_of_cover > 90)
            ),
            "out_of_stock_days_28d": out_days,
            "lost_sales_estimate": lost,
        }
    # ABC: by trailing revenue, the highest first; A while the products before hold under 80%, B under 95%.
    ranked = sorted(rows, key=lambda product: (-rows[product]["revenue_90d"], product))
    total, before = sum(rows[product]["revenue_90d"] for product in ranked), 0.0
    for product in ranked:
        share = before / total if total else 1.0
        rows[product]["abc_class"] = "A" if share < 0.8 - 1e-12 else "B" if share < 0.95 - 1e-12 else "C"
        before += rows[product]["revenue_90d"]
    return rows


def test_inventory_kpis_match_the_formulas_written_out():
    snapshots, sales = inventory_history()
    table = stock.inventory_kpis(snapshots, sales, REPORTED)
    ProductInventoryKpis.validate(table)
    assert len(table) == len(snapshots[snapshots["snapshot_date"].isin(REPORTED)])
    tolerance = {"sell_through_rate": 5e-5, "inventory_turnover": 5e-3}
    seen_classes, seen_lost, seen_null_cost = set(), 0, 0
    for day in REPORTED:
        expected = expected_inventory(snapshots, sales, day)
        rows = table[table["snapshot_date"] == day].set_index("product_id")
        assert sorted(rows.index) == sorted(expected)
        for product, figures in expected.items():
            for column, value in figures.items():
                actual = rows.loc[product, column]
                if value is None:
                    assert pd.isna(actual), (day, product, column, actual)
                elif column in tolerance:
                    assert actual == pytest.approx(value, abs=tolerance[column]), (day, product, column)
                else:
                    assert actual == value, (day, product, column, actual, value)
            seen_classes.add(figures["abc_class"])
            seen_lost += bool(figures["lost_sales_estimate"])
            seen_null_cost += figures["cost_of_goods_90d"] is None
    # The data exercises every branch: all three classes, lost sales, products without a cost.
    assert seen_classes == {"A", "B", "C"} and seen_lost and seen_null_cost
    last = table[table["snapshot_date"] == REPORTED[-1]].set_index("product_id")
    assert last.loc[3, "units_90d"] == 0 and pd.isna(last.loc[3, "days_since_last_sale"])  # dead: never sold
    # History counts the shop's snapshot days: day 60 has none; product 5, new on day 110, shares the span.
    assert last.loc[5, "history_days"] == last.loc[1, "history_days"] == 90 - 1
    early = table[table["snapshot_date"] == REPORTED[0]].set_index("product_id")
    assert early.loc[1, "history_days"] == 90 - len(NO_SNAPSHOT)


def test_inventory_kpis_of_a_range_equal_each_days_own_run():
    """A day's row depends only on its own 90 days: one range, or each day with only its look-back loaded."""
    snapshots, sales = inventory_history(seed=9)
    whole = stock.inventory_kpis(snapshots, sales, REPORTED)
    by_day = []
    for day in REPORTED:
        since = day - pd.Timedelta(days=stock.INVENTORY_WINDOW_DAYS)
        own = snapshots[snapshots["snapshot_date"].between(since, day)]
        own_sales = sales[sales["sale_date"].between(since, day)]
        by_day.append(stock.inventory_kpis(own.sample(frac=1, random_state=1), own_sales, pd.DatetimeIndex([day])))
    pd.testing.assert_frame_equal(pd.concat(by_day, ignore_index=True), whole, check_exact=True)


def test_abc_classes_by_cumulative_revenue_share():
    day = pd.Timestamp("2026-03-01")
    revenue = {1: 500.0, 2: 300.0, 3: 120.0, 4: 60.0, 5: 20.0, 6: 0.0, 7: 300.0}  # total 1,300
    snapshots = pd.DataFrame(
        {
            "snapshot_date": day,
            "product_id": list(revenue),
            "sku": "S",
            "name": "N",
            "category": "C",
            "stock_quantity": 5,
            "unit_price": 1.0,
            "cost_price": 0.5,
            "stock_value": 2.5,
            "days_of_cover": 1.0,
            "status": "OK",
        }
    )
    sales = pd.DataFrame(
        {"sale_date": day, "product_id": list(revenue), "units": 1.0, "revenue": list(revenue.values())}
    ).assign(cost_of_goods=0.5)
    classes = stock.inventory_kpis(snapshots, sales, pd.DatetimeIndex([day])).set_index("product_id")["abc_class"]
    # Ranked 1 (0% before), 2 (38.5%), 7 (61.5%: the tie goes to the lower id first), 3 (84.6%), 4 (93.8%), 5 (98.5%), 6
    assert classes.to_dict() == {1: "A", 2: "A", 3: "B", 4: "B", 5: "C", 6: "C", 7: "A"}
    nothing_sold = stock.inventory_kpis(snapshots, sales.assign(revenue=0.0), pd.DatetimeIndex([day]))
    assert set(nothing_sold["abc_class"]) == {"C"}
    one_giant = stock.inventory_kpis(
        snapshots, sales.assign(revenue=[990.0, 1, 1, 1, 1, 0, 6]), pd.DatetimeIndex([day])
    )
    assert one_giant.set_index("product_id")["abc_class"].to_dict()[1] == "A"  # 99% alone: still A


def test_stock_kpis_add_turnover_slow_and_dead_stock_a_share_and_lost_sales():
    snapshots, sales = inventory_history()
    day = REPORTED[-1]
    inventory = stock.inventory_kpis(snapshots, sales, pd.DatetimeIndex([day]))
    snapshot = snapshots[snapshots["snapshot_date"] == day]
    [row] = stock.stock_kpis(snapshot, inventory).itertuples()
    StockKpis.validate(stock.stock_kpis(snapshot, inventory))
    costed = inventory.dropna(subset=["cost_of_goods_90d", "average_stock_value_90d"])
    expected_turnover = (
        costed["cost_of_goods_90d"].sum()
        * 365
        / costed["history_days"].iloc[0]
        / costed["average_stock_value_90d"].sum()
    )
    assert row.inventory_turnover == pytest.approx(expected_turnover, abs=5e-3)
    slow = inventory[inventory["slow_mover"] == 1]
    assert (row.slow_moving_products, row.slow_moving_stock_value) == (len(slow), round(slow["stock_value"].sum(), 2))
    assert row.dead_stock_value == round(snapshot.loc[snapshot["status"] == "DEAD", "stock_value"].sum(), 2) > 0
    a_revenue = inventory.loc[inventory["abc_class"] == "A", "revenue_90d"].sum()
    assert row.a_class_revenue_share == pytest.approx(a_revenue / inventory["revenue_90d"].sum(), abs=5e-5)
    assert row.lost_sales_estimate == round(inventory["lost_sales_estimate"].sum(), 2)
    without = stock.stock_kpis(snapshot).iloc[0]  # no inventory KPIs yet: nothing claimed
    assert pd.isna(without["inventory_turnover"]) and without["slow_moving_products"] == 0
