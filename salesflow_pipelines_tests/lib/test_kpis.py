"""KPI formulas on hand-built frames (DESIGN.md sections 3-4)."""

import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from salesflow_pipelines.lib.analytics import kpis
from salesflow_pipelines.lib.analytics.cleaning import clean_sales
from salesflow_pipelines.lib.schemas import (
    CategoryDailySales,
    CustomerDailyKpis,
    DailySalesKpis,
    ProductDailySales,
    RegionDailySales,
)
from salesflow_pipelines_tests.lib.frames import raw_lines

D1, D2 = "2026-11-02", "2026-11-09"


def lines_of(*raw):
    return clean_sales(raw_lines(*raw), pd.Series(dtype="string")).lines


@pytest.fixture
def week_apart():
    """Day 1: two completed sales (one walk-in), a refund, a cancellation, a bad line.
    Day 2 (a week later): one completed sale."""
    return lines_of(
        dict(sale_id=1, sale_date=f"{D1}T09:00", customer_id=5, line_no=1, quantity=2, unit_price=10.0),
        dict(sale_id=1, sale_date=f"{D1}T09:00", customer_id=5, line_no=2, quantity=1, unit_price=30.0, discount=0.5),
        dict(sale_id=2, sale_date=f"{D1}T10:00", customer_id=None, quantity=1, unit_price=40.0, region="south"),
        dict(sale_id=3, sale_date=f"{D1}T11:00", customer_id=6, quantity=1, unit_price=25.0, status="REFUNDED"),
        dict(sale_id=4, sale_date=f"{D1}T12:00", customer_id=7, quantity=9, unit_price=99.0, status="CANCELLED"),
        dict(sale_id=5, sale_date=f"{D1}T13:00", customer_id=8, quantity=0, unit_price=10.0),
        dict(sale_id=6, sale_date=f"{D2}T09:00", customer_id=5, quantity=3, unit_price=25.0),
    )


def test_daily_sales_counts_completed_sales_only(week_apart):
    days = pd.date_range(D1, D2)
    daily = kpis.daily_sales(week_apart, days).set_index("sale_date")
    DailySalesKpis.validate(daily.reset_index())
    first = daily.loc[D1]
    assert first["revenue"] == pytest.approx(20 + 15 + 40)
    assert first["orders"] == 2
    assert first["units"] == 4
    assert first["avg_order_value"] == pytest.approx(37.5)
    assert first["unique_customers"] == 1
    assert first["refunded_amount"] == pytest.approx(25.0)
    assert pd.isna(first["revenue_growth_pct"])
    second = daily.loc[D2]
    assert second["revenue_growth_pct"] == pytest.approx((75 / 75 - 1) * 100)


def test_days_without_sales_are_zero_and_growth_null_against_zero(week_apart):
    daily = kpis.daily_sales(week_apart, pd.date_range(D1, "2026-11-16")).set_index("sale_date")
    quiet = daily.loc["2026-11-05"]
    assert (quiet["revenue"], quiet["orders"], quiet["units"]) == (0.0, 0, 0.0)
    assert pd.isna(quiet["avg_order_value"])
    assert pd.isna(daily.loc["2026-11-12", "revenue_growth_pct"])
    assert daily.loc["2026-11-16", "revenue_growth_pct"] == pytest.approx(-100.0)


def test_growth_compares_same_weekday_one_week_earlier():
    lines = lines_of(
        dict(sale_id=1, sale_date=f"{D1}T09:00", unit_price=80.0),
        dict(sale_id=2, sale_date=f"{D2}T09:00", unit_price=100.0),
    )
    daily = kpis.daily_sales(lines, pd.date_range(D1, D2)).set_index("sale_date")
    assert daily.loc[D2, "revenue_growth_pct"] == pytest.approx(25.0)


def test_product_daily_sales(week_apart):
    table = kpis.product_daily(week_apart)
    ProductDailySales.validate(table)
    first_day = table[table["sale_date"] == D1]
    assert first_day["revenue"].sum() == pytest.approx(75.0)
    assert first_day["orders"].tolist() == [2]
    assert first_day["units"].tolist() == [4.0]


def test_region_daily_sales(week_apart):
    table = kpis.region_daily(week_apart)
    RegionDailySales.validate(table)
    first_day = table[table["sale_date"] == D1].set_index("region")
    assert first_day.loc["North", "revenue"] == pytest.approx(35.0)
    assert first_day.loc["North", "unique_customers"] == 1
    assert first_day.loc["South", "orders"] == 1
    assert first_day.loc["South", "unique_customers"] == 0


def test_category_discount_rate_is_discount_over_list_value():
    lines = lines_of(
        dict(sale_id=1, sale_date=f"{D1}T09:00", category="grocery", quantity=2, unit_price=10.0, discount=0.1),
        dict(sale_id=2, sale_date=f"{D1}T10:00", category="Grocery", quantity=1, unit_price=30.0),
    )
    table = kpis.category_daily(lines)
    CategoryDailySales.validate(table)
    assert table["category"].tolist() == ["Grocery"]
    assert table["discount_rate"].iloc[0] == pytest.approx(2.0 / 50.0)
    assert table["revenue"].iloc[0] == pytest.approx(48.0)


def test_customers_new_then_returning(week_apart):
    table = kpis.customer_daily(week_apart, pd.date_range(D1, D2)).set_index("sale_date")
    CustomerDailyKpis.validate(table.reset_index())
    assert (table.loc[D1, "new_customers"], table.loc[D1, "returning_customers"]) == (1, 0)
    assert (table.loc[D2, "new_customers"], table.loc[D2, "returning_customers"]) == (0, 1)
    assert table.loc[D2, "repeat_rate"] == 1.0
    assert pd.isna(table.loc["2026-11-04", "repeat_rate"])


def test_a_customer_returns_only_within_the_days_own_lookback():
    """Each day looks back its own 90 days, so a range run and that day's own run agree."""
    first = pd.Timestamp("2026-01-01")
    visits = [(1, 0, 7), (2, 90, 7), (3, 100, 7), (4, 100, 8), (5, 191, 8)]  # (sale, day offset, customer)
    lines = lines_of(
        *[
            dict(sale_id=sale, sale_date=f"{first + pd.Timedelta(days=offset):%Y-%m-%d}T09:00", customer_id=customer)
            for sale, offset, customer in visits
        ]
    )
    table = kpis.customer_daily(lines, pd.date_range(first, periods=192)).set_index("sale_date")
    returning = table["returning_customers"]
    assert returning.iloc[90] == 1  # 90 days after the first visit: inside the lookback
    assert returning.iloc[100] == 1  # 10 days after day 90
    assert returning.iloc[191] == 0  # customer 8 last came 91 days before: new again
    assert table["new_customers"].iloc[191] == 1


# -- margins ------------------------------------------------------------------------------------------

M1, M2 = "2026-11-02", "2026-11-03"


def unit_costs(*rows: tuple[str, int, float]) -> pd.DataFrame:
    """Unit costs as `stock.unit_costs` hands them on: (day, product_id, unit_cost)."""
    frame = pd.DataFrame(rows, columns=["sale_date", "product_id", "unit_cost"])
    return frame.assign(sale_date=pd.to_datetime(frame["sale_date"]))


def cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@pytest.fixture
def two_days_of_margins():
    """Day 1: products 1 and 2 (Grocery) and 3 (Snacks); day 2: product 1 at a new cost, product 2
    without a cost that day, a refund of product 3 and a cancelled sale (neither costs anything)."""
    lines = lines_of(
        dict(sale_id=1, sale_date=f"{M1}T09:00", product_id=1, category="grocery", quantity=2, unit_price=10.0),
        dict(
            sale_id=1,
            sale_date=f"{M1}T09:00",
            line_no=2,
            product_id=2,
            category="grocery",
            quantity=3,
            unit_price=4.0,
            discount=0.25,
        ),
        dict(sale_id=2, sale_date=f"{M1}T10:00", product_id=3, category="snacks", quantity=1, unit_price=2.5),
        dict(sale_id=3, sale_date=f"{M2}T09:00", product_id=1, category="grocery", quantity=1, unit_price=10.0),
        dict(sale_id=4, sale_date=f"{M2}T10:00", product_id=2, category="grocery", quantity=1, unit_price=4.0),
        dict(sale_id=5, sale_date=f"{M2}T11:00", product_id=3, category="snacks", quantity=1, unit_price=2.5),
        dict(
            sale_id=6,
            sale_date=f"{M2}T12:00",
            product_id=3,
            category="snacks",
            quantity=4,
            unit_price=2.5,
            status="REFUNDED",
        ),
        dict(
            sale_id=7,
            sale_date=f"{M2}T13:00",
            product_id=1,
            category="grocery",
            quantity=9,
            unit_price=10.0,
            status="CANCELLED",
        ),
    )
    costs = unit_costs((M1, 1, 6.0), (M1, 2, 1.5), (M1, 3, 1.25), (M2, 1, 6.5), (M2, 3, 1.25))
    return lines, costs


def test_product_margin_is_revenue_less_units_at_the_days_unit_cost(two_days_of_margins):
    lines, costs = two_days_of_margins
    table = kpis.product_daily(lines, costs)
    ProductDailySales.validate(table)
    rows = table.set_index([table["sale_date"].dt.strftime("%Y-%m-%d"), "product_id"])
    expected = {  # (day, product): (revenue, cost of goods)
        (M1, 1): (20.0, 12.0),
        (M1, 2): (9.0, 4.5),
        (M1, 3): (2.5, 1.25),
        (M2, 1): (10.0, 6.5),
        (M2, 3): (2.5, 1.25),
    }
    for key, (revenue, cost) in expected.items():
        row = rows.loc[key]
        assert (row["revenue"], row["cost_of_goods"], row["gross_margin"]) == (revenue, cost, revenue - cost), key
        assert row["margin_pct"] == round((revenue - cost) / revenue * 100, 2)
    uncosted = rows.loc[(M2, 2)]  # sold, but the day's snapshot has no cost for it: null, never 0
    assert uncosted["revenue"] == 4.0
    assert uncosted[["cost_of_goods", "gross_margin", "margin_pct"]].isna().all()


def test_category_and_day_margins_are_null_when_any_line_lacks_a_cost(two_days_of_margins):
    lines, costs = two_days_of_margins
    categories = kpis.category_daily(lines, costs)
    CategoryDailySales.validate(categories)
    rows = categories.set_index([categories["sale_date"].dt.strftime("%Y-%m-%d"), "category"])
    assert rows.loc[(M1, "Grocery"), ["cost_of_goods", "gross_margin"]].tolist() == [16.5, 12.5]
    assert rows.loc[(M1, "Grocery"), "margin_pct"] == round(12.5 / 29 * 100, 2)
    assert rows.loc[(M1, "Snacks"), "cost_of_goods"] == 1.25
    assert rows.loc[(M2, "Grocery"), ["cost_of_goods", "gross_margin", "margin_pct"]].isna().all()
    assert rows.loc[(M2, "Snacks"), ["revenue", "cost_of_goods"]].tolist() == [2.5, 1.25]  # the refund costs nothing

    daily = kpis.daily_sales(lines, pd.date_range(M1, "2026-11-04"), costs).set_index("sale_date")
    DailySalesKpis.validate(daily.reset_index())
    assert daily.loc[M1, ["revenue", "cost_of_goods", "gross_margin"]].tolist() == [31.5, 17.75, 13.75]
    assert daily.loc[M2, ["cost_of_goods", "gross_margin", "margin_pct"]].isna().all()
    quiet = daily.loc["2026-11-04"]  # no sales: nothing to cost
    assert (quiet["cost_of_goods"], quiet["gross_margin"]) == (0.0, 0.0) and pd.isna(quiet["margin_pct"])


def test_without_unit_costs_every_margin_is_null_not_zero(two_days_of_margins):
    lines, _ = two_days_of_margins
    for table in (kpis.product_daily(lines), kpis.category_daily(lines)):
        assert table[["cost_of_goods", "gross_margin", "margin_pct"]].isna().all().all()


def test_margin_is_the_difference_of_the_published_cents_when_halves_round_apart():
    """Revenue 10.005 rounds up to 10.01, cost 3.0045 down to 3.00: the published margin is 7.01 so that
    revenue - cost_of_goods = gross_margin holds on the row (the exact margin 7.0005 alone would round to 7.00)."""
    lines = lines_of(dict(sale_id=1, sale_date=f"{M1}T09:00", quantity=3, unit_price=3.335))
    [row] = kpis.product_daily(lines, unit_costs((M1, 1, 1.0015))).itertuples()
    assert (row.revenue, row.cost_of_goods, row.gross_margin) == (10.01, 3.0, 7.01)


def test_margins_match_an_independent_decimal_computation():
    """300 random lines over 3 days, 6 products in 2 categories, costs with 3 decimals: each table's cost of
    goods equals Decimal sums rounded half up, and margin = revenue - cost of goods to the cent."""
    rng = random.Random(11)
    days = ["2026-11-02", "2026-11-03", "2026-11-04"]
    raw, expected = [], defaultdict(lambda: [Decimal(0), Decimal(0)])  # key -> [revenue, cost]
    cost_of = {(day, product): Decimal(rng.randint(100, 9999)) / 1000 for day in days for product in range(1, 7)}
    for sale in range(1, 301):
        day, product = rng.choice(days), rng.randint(1, 6)
        quantity, price = rng.randint(1, 7), Decimal(rng.randint(50, 5000)) / 100
        discount = rng.choice([Decimal(0), Decimal("0.05"), Decimal("0.1"), Decimal("0.15")])
        category = "Grocery" if product <= 3 else "Snacks"
        raw.append(
            dict(
                sale_id=sale,
                sale_date=f"{day}T10:00",
                product_id=product,
                category=category,
                quantity=quantity,
                unit_price=float(price),
                discount=float(discount),
            )
        )
        revenue, cost = quantity * price * (1 - discount), quantity * cost_of[day, product]
        for key in ((day, "product", product), (day, "category", category), (day, "day", None)):
            expected[key][0] += revenue
            expected[key][1] += cost
    lines = lines_of(*raw)
    costs = unit_costs(*((day, product, float(cost)) for (day, product), cost in cost_of.items()))
    tables = {
        "product": kpis.product_daily(lines, costs).assign(key=lambda t: t["product_id"]),
        "category": kpis.category_daily(lines, costs).assign(key=lambda t: t["category"]),
        "day": kpis.daily_sales(lines, pd.DatetimeIndex(days), costs).assign(key=None),
    }
    checked = 0
    for scope, table in tables.items():
        for row in table.itertuples():
            revenue, cost = expected[(f"{row.sale_date:%Y-%m-%d}", scope, row.key)]
            assert row.revenue == cents(revenue), (scope, row)
            assert row.cost_of_goods == cents(cost), (scope, row)
            assert row.gross_margin == round(cents(revenue) - cents(cost), 2), (scope, row)
            checked += 1
    assert checked == 18 + 6 + 3


def test_unit_costs_found_by_search_when_a_cost_table_would_be_too_large(two_days_of_margins, monkeypatch):
    lines, costs = two_days_of_margins
    dense = kpis.product_daily(lines, costs), kpis.category_daily(lines, costs)
    monkeypatch.setattr(kpis, "MAX_DENSE_COSTS", 0)
    searched = kpis.product_daily(lines, costs), kpis.category_daily(lines, costs)
    for table, again in zip(dense, searched, strict=True):
        pd.testing.assert_frame_equal(table, again)
