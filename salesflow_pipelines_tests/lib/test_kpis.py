"""KPI formulas on hand-built frames (DESIGN.md sections 3-4)."""

import pandas as pd
import pytest

from salesflow_pipelines.lib import kpis
from salesflow_pipelines.lib.cleaning import clean_sales
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
