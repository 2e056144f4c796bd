"""`/analytics/sales` and `/analytics/stock` over the real server and warehouse: every figure equals
what the warehouse tables hold, for named periods and any date range; bad input is a clear 4xx."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest

from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines_tests.api.filled import FIRST_DAY, LAST_DAY

STATUS_NAMES = {"OUT": "OUT_OF_STOCK", "LOW": "LOW_STOCK", "DEAD": "DEAD_STOCK"}


def money(value) -> float:
    return float(round_money(float(value)))


def expected_sales(warehouse, start: date, end: date) -> dict:
    daily = warehouse.frame(
        "SELECT sale_date, revenue, units, orders FROM analytics.daily_sales_kpis "
        "WHERE sale_date BETWEEN %s AND %s ORDER BY sale_date",
        (start, end),
    )
    revenue = money(daily["revenue"].sum()) if len(daily) else 0.0
    orders = int(daily["orders"].sum()) if len(daily) else 0
    return {
        "total_revenue": revenue,
        "total_quantity": float(daily["units"].sum()) if len(daily) else 0.0,
        "total_transactions": orders,
        "average_ticket": money(revenue / orders) if orders else 0.0,
        "days": daily,
    }


def expected_top(warehouse, start: date, end: date) -> pd.DataFrame:
    return warehouse.frame(
        "SELECT product_id, SUM(revenue) AS revenue, SUM(units) AS units FROM analytics.product_daily_sales "
        "WHERE sale_date BETWEEN %s AND %s GROUP BY product_id ORDER BY SUM(revenue) DESC, product_id LIMIT 5",
        (start, end),
    )


def check_sales(answer: dict, warehouse, start: date, end: date) -> None:
    assert (answer["start_date"], answer["end_date"]) == (start.isoformat(), end.isoformat())
    expected = expected_sales(warehouse, start, end)
    kpis = answer["kpis"]
    for name in ("total_revenue", "total_transactions", "average_ticket"):
        assert kpis[name] == expected[name], name
    assert kpis["total_quantity"] == pytest.approx(expected["total_quantity"])
    days = expected["days"]
    assert [day["date"] for day in answer["daily"]] == [day.isoformat() for day in days["sale_date"]]
    assert [day["total_revenue"] for day in answer["daily"]] == [money(value) for value in days["revenue"]]
    assert [day["total_transactions"] for day in answer["daily"]] == days["orders"].astype(int).tolist()
    top = expected_top(warehouse, start, end)
    assert [product["product_id"] for product in kpis["top_products"]] == top["product_id"].astype(int).tolist()
    assert [product["revenue"] for product in kpis["top_products"]] == [money(value) for value in top["revenue"]]
    for product, revenue in zip(kpis["top_products"], top["revenue"], strict=True):
        assert product["share_of_revenue"] == round(float(revenue) / expected["total_revenue"] * 100, 2)


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("daily", LAST_DAY),
        ("weekly", LAST_DAY - timedelta(days=6)),
        ("monthly", LAST_DAY.replace(day=1)),
        ("quarterly", LAST_DAY - timedelta(days=89)),
        ("yearly", LAST_DAY - timedelta(days=364)),
    ],
)
def test_a_named_period_ends_on_the_newest_day_and_sums_the_kpi_tables(running_api, period, start):
    answer = running_api.get("/analytics/sales", params={"period": period})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == period
    check_sales(body, running_api.warehouse, start, LAST_DAY)


def test_any_date_range_no_ninety_day_cap_with_the_previous_period(running_api):
    # Every day the warehouse holds (77 days) and more: longer than the old service's 90-day window.
    start, end = FIRST_DAY - timedelta(days=60), LAST_DAY
    body = running_api.get("/analytics/sales", params={"start_date": start, "end_date": end}).json()
    check_sales(body, running_api.warehouse, start, end)
    assert body["days_with_data"] == (LAST_DAY - FIRST_DAY).days + 1

    september = running_api.get("/analytics/sales", params={"start_date": "2026-09-01", "end_date": "2026-09-30"})
    body = september.json()
    check_sales(body, running_api.warehouse, date(2026, 9, 1), date(2026, 9, 30))
    previous = body["kpis"]["previous_period"]
    assert (previous["start_date"], previous["end_date"]) == ("2026-08-02", "2026-08-31")
    before = expected_sales(running_api.warehouse, date(2026, 8, 2), date(2026, 8, 31))
    assert previous["total_revenue"] == before["total_revenue"]
    assert previous["days_with_data"] == 29  # the warehouse starts on 3 August
    change = body["kpis"]["change_pct"]["total_revenue"]
    assert change == round((body["kpis"]["total_revenue"] / before["total_revenue"] - 1) * 100, 1)


def test_month_to_date_compares_with_the_same_days_of_the_month_before(running_api):
    body = running_api.get("/analytics/sales", params={"period": "monthly"}).json()
    previous = body["kpis"]["previous_period"]
    assert (previous["start_date"], previous["end_date"]) == ("2026-09-01", "2026-09-18")
    assert (
        previous["total_revenue"]
        == expected_sales(running_api.warehouse, date(2026, 9, 1), date(2026, 9, 18))["total_revenue"]
    )


def test_a_range_without_data_is_zeros_not_an_error(running_api):
    body = running_api.get("/analytics/sales", params={"start_date": "2020-01-01", "end_date": "2020-01-31"}).json()
    assert body["kpis"]["total_revenue"] == 0.0 and body["daily"] == [] and body["kpis"]["top_products"] == []
    stock = running_api.get("/analytics/stock", params={"start_date": "2020-01-01", "end_date": "2020-01-31"}).json()
    assert stock["as_of"] is None and stock["critical_products"] == []


def test_stock_is_the_newest_snapshot_of_the_range_with_reorder_suggestions(running_api):
    warehouse = running_api.warehouse
    body = running_api.get("/analytics/stock", params={"start_date": "2026-09-01", "end_date": "2026-09-30"}).json()
    assert body["as_of"] == "2026-09-30"
    [kpis] = warehouse.frame("SELECT * FROM analytics.stock_kpis WHERE snapshot_date = '2026-09-30'").to_dict("records")
    assert body["kpis"]["total_stock_value"] == money(kpis["total_stock_value"])
    assert body["kpis"]["out_of_stock_count"] == kpis["out_of_stock_products"]
    assert body["kpis"]["low_stock_count"] == kpis["low_stock_products"]
    assert body["kpis"]["dead_stock_count"] == kpis["dead_stock_products"]
    assert body["kpis"]["low_stock_ratio"] == round(kpis["low_stock_products"] / kpis["products"], 4)
    snapshot = warehouse.frame("SELECT * FROM analytics.stock_snapshot WHERE snapshot_date = '2026-09-30'")
    covers = snapshot["days_of_cover"].dropna()
    assert body["kpis"]["urgent_reorder_count"] == int((covers < 7).sum())
    assert body["kpis"]["avg_coverage_days"] == round(covers.mean(), 1)
    assert body["kpis"]["rotation_per_year"] is not None and body["kpis"]["rotation_per_year"] > 0

    critical = snapshot[snapshot["status"].isin(list(STATUS_NAMES))]
    by_id = {product["product_id"]: product for product in body["critical_products"]}
    assert set(by_id) == set(critical["product_id"])
    assert [product["status"] for product in body["critical_products"]] == sorted(
        (product["status"] for product in body["critical_products"]),
        key=["OUT_OF_STOCK", "LOW_STOCK", "DEAD_STOCK"].index,
    )
    alerts = warehouse.frame("SELECT * FROM analytics.stock_alerts WHERE snapshot_date = '2026-09-30'")
    for row in critical.itertuples():
        product = by_id[row.product_id]
        assert product["status"] == STATUS_NAMES[row.status]
        assert (product["current_stock"], product["min_stock"]) == (row.stock_quantity, row.low_stock_threshold)
        assert product["stock_value"] == money(row.stock_value)
    # A LOW or OUT alert is a critical product's; a STOCKOUT_RISK one is of a product still OK in the snapshot.
    for alert in alerts.itertuples():
        if alert.status == "STOCKOUT_RISK":
            assert alert.product_id not in by_id
        else:
            assert by_id[alert.product_id]["suggested_reorder_qty"] == alert.suggested_reorder_qty
    dead = [product for product in body["critical_products"] if product["status"] == "DEAD_STOCK"]
    assert all(product["suggested_reorder_qty"] is None for product in dead)


def test_stock_by_named_period_is_as_of_the_newest_day(running_api):
    body = running_api.get("/analytics/stock", params={"period": "weekly"}).json()
    assert body["as_of"] == LAST_DAY.isoformat() and body["start_date"] == (LAST_DAY - timedelta(days=6)).isoformat()


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"period": "fortnightly"}, 400, "Unknown period 'fortnightly'"),
        ({"start_date": "2026-02-30"}, 400, "Invalid date format (expected YYYY-MM-DD): 2026-02-30"),
        ({"end_date": "18/10/2026"}, 400, "Invalid date format (expected YYYY-MM-DD): 18/10/2026"),
        ({"start_date": "2026-10-10", "end_date": "2026-10-01"}, 400, "is after end_date"),
        ({"start_date": "1990-01-01", "end_date": "2026-10-01"}, 400, "at most 3660 days"),
    ],
)
def test_bad_periods_and_dates_are_400_with_a_sentence(running_api, params, status, detail):
    for route in ("/analytics/sales", "/analytics/stock"):
        answer = running_api.get(route, params=params)
        assert answer.status_code == status, answer.text
        assert detail in answer.json()["detail"]


def revenue_once_changed(running_api, params: dict, before: float, timeout: float = 10) -> float:
    deadline = time.monotonic() + timeout
    while True:
        revenue = running_api.get("/analytics/sales", params=params).json()["kpis"]["total_revenue"]
        if revenue != before or time.monotonic() > deadline:
            return revenue
        time.sleep(0.1)


def test_a_cached_answer_follows_a_warehouse_commit_within_the_recheck_time(running_api):
    assert running_api.settings.recheck_seconds == 1.0
    params = {"period": "weekly"}
    before = running_api.get("/analytics/sales", params=params).json()["kpis"]["total_revenue"]
    update = "UPDATE analytics.daily_sales_kpis SET revenue = revenue + %s WHERE sale_date = %s"
    with psycopg.connect(running_api.warehouse.writer_url, autocommit=True) as connection:
        connection.execute(update, (100, LAST_DAY))
        committed = time.monotonic()
        try:
            after = revenue_once_changed(running_api, params, before)
            waited = time.monotonic() - committed
        finally:
            connection.execute(update, (-100, LAST_DAY))
    assert after == money(before + 100) and waited < 1.0 + 0.5
    assert revenue_once_changed(running_api, params, after) == before
