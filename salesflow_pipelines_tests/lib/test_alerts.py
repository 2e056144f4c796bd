"""Stock alerts (status, cover, forecast demand, stockout date, reorder suggestion) and the alert email texts."""

import math

import numpy as np
import pandas as pd
import pytest

from salesflow_pipelines.lib.analytics import reorder
from salesflow_pipelines.lib.notifications import emails
from salesflow_pipelines.lib.schemas import StockAlert

DAY = pd.Timestamp("2026-11-18")
UI = "http://dagster.shop.test:3000/"


def snapshot(*products: tuple[int, int, int]) -> pd.DataFrame:
    """(product_id, stock_quantity, low_stock_threshold) rows of one day's stock_snapshot."""
    ids = [product[0] for product in products]
    return pd.DataFrame(
        {
            "snapshot_date": DAY,
            "product_id": pd.array(ids, dtype="Int64"),
            "sku": pd.array([f"SKU-{i:04d}" for i in ids], dtype="string"),
            "name": pd.array([f"Product {i}" for i in ids], dtype="string"),
            "category": pd.array(["Grocery"] * len(ids), dtype="string"),
            "stock_quantity": pd.array([product[1] for product in products], dtype="Int64"),
            "low_stock_threshold": pd.array([product[2] for product in products], dtype="Int64"),
            "stock_value": [12.5 * max(product[1], 0) for product in products],
        }
    )


def sales(product_id: int, units_per_day: float, days: int = 28) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sale_date": pd.date_range(end=DAY, periods=days, freq="D"),
            "product_id": product_id,
            "units": float(units_per_day),
        }
    )


def test_out_and_low_follow_the_backends_rule_and_ok_products_are_left_out():
    table = reorder.stock_alerts(snapshot((1, 0, 10), (2, 10, 10), (3, 11, 10), (4, -2, 5)), sales(2, 1.0))
    assert list(zip(table["product_id"], table["status"], strict=True)) == [(1, "OUT"), (4, "OUT"), (2, "LOW")]
    StockAlert.validate(table)


def test_cover_and_reorder_come_from_the_last_28_days_of_units():
    units = pd.concat([sales(1, 2.0), sales(1, 100.0, days=40).iloc[:12]])  # days 29-40 back fall outside
    table = reorder.stock_alerts(snapshot((1, 8, 10)), units, lead_time_days=7, safety_stock_days=3)
    row = table.iloc[0]
    assert row["avg_daily_units"] == 2.0
    assert row["days_of_cover"] == 4.0
    # 10 days of demand at 2 a day = 20, minus the 8 on hand.
    assert row["suggested_reorder_qty"] == 12
    assert (row["reorder_level"], row["lead_time_days"], row["safety_stock_days"]) == (10, 7, 3)


def test_a_product_without_recent_sales_is_reordered_above_its_level():
    row = reorder.stock_alerts(snapshot((5, 3, 10)), sales(1, 4.0)).iloc[0]
    assert row["avg_daily_units"] == 0 and np.isnan(row["days_of_cover"])
    assert pd.isna(row["expected_stockout_date"]) and row["forecast_demand_units"] == 0
    assert row["suggested_reorder_qty"] == 8  # back to 11, just above the reorder level


def test_a_short_history_averages_over_the_days_it_has():
    row = reorder.stock_alerts(snapshot((1, 0, 10)), sales(1, 3.0, days=7)).iloc[0]
    assert row["avg_daily_units"] == 3.0
    assert row["days_of_cover"] == 0.0
    assert row["suggested_reorder_qty"] == 30


def test_several_snapshot_days_each_get_their_own_trailing_average():
    two_days = pd.concat([snapshot((1, 4, 10)), snapshot((1, 2, 10)).assign(snapshot_date=DAY - pd.Timedelta(days=1))])
    units = sales(1, 1.0)
    units.loc[units["sale_date"] == DAY, "units"] = 29.0
    table = reorder.stock_alerts(two_days, units)
    assert list(table["avg_daily_units"]) == [1.0, 2.0]


def test_a_product_above_its_level_that_runs_out_within_the_lead_time_is_a_stockout_risk():
    # 4 a day: 20 on hand last 5 days (within the 7-day lead time), 40 last 10 days (after it).
    table = reorder.stock_alerts(snapshot((1, 20, 10), (2, 40, 10)), pd.concat([sales(1, 4.0), sales(2, 4.0)]))
    assert list(zip(table["product_id"], table["status"], strict=True)) == [(1, "STOCKOUT_RISK")]
    row = table.iloc[0]
    assert row["expected_stockout_date"] == DAY + pd.Timedelta(days=5)
    assert row["forecast_demand_units"] == 40.0  # 10 days of lead time + safety stock at 4 a day
    assert row["suggested_reorder_qty"] == 20
    StockAlert.validate(table)


def test_the_forecast_knows_the_weekend_sells_more_than_the_trailing_average_says():
    # 2 units on weekdays, 10 on Saturdays and Sundays; 15 on hand on a Thursday, 3 days of lead time.
    days = pd.date_range(end="2026-11-19", periods=28)  # a Thursday
    units = pd.DataFrame({"sale_date": days, "product_id": 1, "units": np.where(days.weekday >= 5, 10.0, 2.0)})
    thursday = snapshot((1, 15, 10)).assign(snapshot_date=days[-1])
    row = reorder.stock_alerts(thursday, units, lead_time_days=3, safety_stock_days=0).iloc[0]
    # Friday 2, Saturday 10, Sunday 10: out on Sunday; the average (30/7 a day) would say 3.5 days.
    assert row["status"] == "STOCKOUT_RISK"
    assert row["expected_stockout_date"] == pd.Timestamp("2026-11-22")
    assert row["forecast_demand_units"] == 22.0
    assert row["avg_daily_units"] == pytest.approx(30 / 7, abs=0.01)


def test_an_out_product_runs_out_the_same_day_and_a_later_sale_changes_nothing():
    later = sales(1, 50.0, days=3).assign(sale_date=lambda frame: frame["sale_date"] + pd.Timedelta(days=3))
    table = reorder.stock_alerts(snapshot((1, 0, 10)), pd.concat([sales(1, 2.0), later]))
    row = table.iloc[0]
    assert row["status"] == "OUT" and row["expected_stockout_date"] == DAY
    assert row["avg_daily_units"] == 2.0 and row["forecast_demand_units"] == 20.0


def test_without_any_sales_yet_only_the_out_products_are_alerted():
    table = reorder.stock_alerts(snapshot((1, 0, 10), (2, 50, 10)), sales(1, 1.0).iloc[:0])
    assert list(table["status"]) == ["OUT"] and table.iloc[0]["expected_stockout_date"] == DAY
    StockAlert.validate(table)


def test_no_alerts_gives_an_empty_table_of_the_right_shape():
    table = reorder.stock_alerts(snapshot((1, 50, 10)), sales(1, 1.0))
    assert table.empty and list(table.columns) == reorder.STOCK_ALERT_COLUMNS
    StockAlert.validate(table)


ANOMALY = {
    "anomaly_id": "0f3c9a1b2c3d4e5f6a7b",
    "sale_date": DAY,
    "scope": "region",
    "scope_key": "North",
    "metric": "revenue",
    "value": 4210.0,
    "expected": 1950.0,
    "z_score": 3.4,
    "severity": "HIGH",
    "label": "HIGH_SPIKE",
    "explanation": "Revenue in North on 2026-11-18 was 4,210.00, 3.4 standard deviations above its 28-day mean of "
    "1,950.00",
}


def test_anomaly_email_names_label_scope_and_day_and_links_the_partition():
    email = emails.anomaly_email(ANOMALY, UI)
    assert email.subject == "[SalesFlow] HIGH_SPIKE in region North on 2026-11-18"
    assert email.body.startswith(ANOMALY["explanation"] + ".")
    assert "Value: 4,210.00" in email.body and "Expected: 1,950.00 (28-day mean)" in email.body
    assert "z-score: 3.40" in email.body
    assert "http://dagster.shop.test:3000/assets/sales_anomalies?view=partitions&partition=2026-11-18" in email.body
    total = emails.anomaly_email({**ANOMALY, "scope": "total", "scope_key": "all", "z_score": math.nan}, UI)
    assert total.subject == "[SalesFlow] HIGH_SPIKE in the whole shop on 2026-11-18"
    assert "z-score: n/a" in total.body


def test_product_and_region_anomalies_moving_with_the_shop_are_one_email():
    day, other_day = DAY, DAY - pd.Timedelta(days=1)
    rows = [
        {**ANOMALY, "anomaly_id": "shop", "scope": "total", "scope_key": "all"},
        {**ANOMALY, "anomaly_id": "north", "explanation": "North spiked"},
        {**ANOMALY, "anomaly_id": "espresso", "scope": "product", "scope_key": "7", "explanation": "Espresso spiked"},
        {**ANOMALY, "anomaly_id": "tea-dip", "scope": "product", "scope_key": "8", "label": "LOW_DIP"},
        {**ANOMALY, "anomaly_id": "north-before", "sale_date": other_day},
    ]
    groups = emails.email_groups(pd.DataFrame(rows))
    assert [(lead["anomaly_id"], covered) for lead, covered in groups] == [
        ("north-before", []),
        ("shop", ["Espresso spiked", "North spiked"]),
        ("tea-dip", []),
    ]
    email = emails.anomaly_email(groups[1][0], UI, groups[1][1])
    assert "Also HIGH_SPIKE that day, with the shop (2):\n- Espresso spiked\n- North spiked\n" in email.body
    assert day.strftime("%Y-%m-%d") in email.subject


def test_stock_email_gives_cover_and_the_reorder_suggestion():
    row = reorder.stock_alerts(snapshot((7, 4, 10)), sales(7, 2.0)).iloc[0].to_dict()
    email = emails.stock_email(row, UI)
    assert email.subject == "[SalesFlow] LOW stock: Product 7 (SKU-0007) on 2026-11-18"
    assert "Product 7 (SKU-0007) is low on stock on 2026-11-18: 4 left, reorder level 10." in email.body
    assert "Days of cover: 2.0" in email.body
    assert "Forecast demand, next 10 days: 20.0 units" in email.body
    assert "Expected to run out: 2026-11-20" in email.body
    assert (
        "Suggested reorder: 16 units (covers 7 days of lead time + 3 days of safety stock at the forecast demand)"
        in email.body
    )
    assert "/assets/stock_alerts?view=partitions&partition=2026-11-18" in email.body


def test_stockout_risk_email_says_when_the_product_runs_out():
    row = reorder.stock_alerts(snapshot((7, 20, 10)), sales(7, 4.0)).iloc[0].to_dict()
    email = emails.stock_email(row, UI)
    assert email.subject == "[SalesFlow] Stockout risk: Product 7 (SKU-0007) runs out by 2026-11-23"
    assert email.body.startswith(
        "Product 7 (SKU-0007) is forecast to run out of stock by 2026-11-23, within the 7-day lead time, "
        "though above its reorder level on 2026-11-18: 20 left, reorder level 10."
    )
    assert "Suggested reorder: 20 units" in email.body


def test_run_failure_email_has_the_run_id_the_error_and_a_link():
    email = emails.run_failure_email("3f2a9c1d-aaaa-bbbb", "daily_sales_job", "boom: warehouse down\n", UI)
    assert email.subject == "[SalesFlow] Run failed: daily_sales_job (3f2a9c1d)"
    assert "The run 3f2a9c1d-aaaa-bbbb of daily_sales_job failed." in email.body
    assert "boom: warehouse down" in email.body
    assert "http://dagster.shop.test:3000/runs/3f2a9c1d-aaaa-bbbb" in email.body


@pytest.mark.parametrize(
    ("partition", "url"),
    [
        (None, "http://ui/assets/stock_alerts"),
        ("2026-11-18", "http://ui/assets/stock_alerts?view=partitions&partition=2026-11-18"),
    ],
)
def test_asset_url(partition, url):
    assert emails.asset_url("http://ui/", "stock_alerts", partition) == url
