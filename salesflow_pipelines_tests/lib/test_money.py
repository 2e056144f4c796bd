"""Money to the cent, half away from zero (DESIGN.md section 3 rule 7), in every table."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from salesflow_pipelines.lib.analytics.cleaning import NO_CATEGORIES, clean_sales
from salesflow_pipelines.lib.analytics.kpis import category_daily, daily_sales, product_daily, region_daily
from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines_tests.lib.frames import raw_lines


def test_ties_round_away_from_zero_where_half_to_even_would_not():
    assert np.round(0.125, 2) == 0.12  # numpy rounds this tie to even
    assert round_money(0.125) == 0.13
    assert round_money(-0.125) == -0.13
    assert round_money(57914.525) == 57914.53
    assert round_money(2.675) == 2.68  # stored as 2.67499999...: a half cent all the same
    assert round_money(1.0049) == 1.0
    assert np.isnan(round_money(np.nan))


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=0, max_value=9))
def test_rounding_matches_decimal_half_up(mills, last):
    from decimal import ROUND_HALF_UP, Decimal

    exact = Decimal(mills) / 1000 + Decimal(last) / 10**6 * (1 if mills >= 0 else -1)
    expected = float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    assert round_money(float(exact)) == expected


def test_a_day_whose_exact_revenue_ends_in_half_a_cent_rounds_up_in_every_table():
    # Each sale is 0.125 exactly: half-to-even would report 0.12 per product and per order.
    day = "2026-11-02T10:00:00"
    lines = clean_sales(
        raw_lines(
            dict(sale_id=1, sale_date=day, quantity=1, unit_price=0.25, discount=0.5),
            dict(sale_id=2, sale_date=day, quantity=1, unit_price=0.25, discount=0.5, product_id=2, sku="SKU-2"),
        ),
        NO_CATEGORIES,
    ).lines
    daily = daily_sales(lines, pd.DatetimeIndex(["2026-11-02"]))
    assert daily["revenue"].tolist() == [0.25]
    assert daily["avg_order_value"].tolist() == [0.13]  # 0.125 per order
    assert product_daily(lines)["revenue"].tolist() == [0.13, 0.13]
    assert region_daily(lines)["revenue"].tolist() == [0.25]
    assert category_daily(lines)["revenue"].tolist() == [0.25]
