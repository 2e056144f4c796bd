"""Report periods, names and the report model, on small hand-built tables."""

from datetime import date

import pandas as pd
import pytest

from salesflow_pipelines.lib.reports.model import build_report, category_totals, summary_kpis
from salesflow_pipelines.lib.reports.periods import ReportPeriod, ended_periods_overlapping

WEEK = ReportPeriod.from_partition_key("weekly", "2026-11-16")


def daily_rows(*rows: tuple[str, float, int, float, int, float]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["sale_date", "revenue", "orders", "units", "unique_customers", "refunded_amount"]
    )
    frame = frame.astype({"revenue": float, "orders": int, "units": float, "unique_customers": int})
    frame = frame.astype({"refunded_amount": float})
    frame["sale_date"] = pd.to_datetime(frame["sale_date"])
    frame["avg_order_value"] = (frame["revenue"] / frame["orders"]).round(2)
    frame["revenue_growth_pct"] = float("nan")
    return frame


def empty(columns: list[str], date_column: str = "sale_date") -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="float64") for column in columns})
    frame[date_column] = pd.to_datetime(frame[date_column])
    return frame


TABLES = {
    "product_daily_sales": empty(
        ["sale_date", "product_id", "sku", "product_name", "category", "revenue", "units", "orders"]
    ),
    "region_daily_sales": empty(["sale_date", "region", "revenue", "orders", "units", "unique_customers"]),
    "category_daily_sales": empty(["sale_date", "category", "revenue", "units", "discount_rate"]),
    "sales_rejects": empty(["sale_date", "sale_id", "line_no", "reason", "detail"]),
}


@pytest.mark.parametrize(
    ("kind", "key", "label", "title", "days"),
    [
        ("weekly", "2026-11-16", "2026-W47", "Week 47, 2026", 7),
        ("weekly", "2026-12-28", "2026-W53", "Week 53, 2026", 7),
        ("weekly", "2024-12-30", "2025-W01", "Week 1, 2025", 7),
        ("monthly", "2026-11-01", "2026-11", "November 2026", 30),
        ("monthly", "2028-02-01", "2028-02", "February 2028", 29),
    ],
)
def test_periods_from_partition_keys(kind, key, label, title, days):
    period = ReportPeriod.from_partition_key(kind, key)
    assert (period.label, period.title, period.day_count) == (label, title, days)
    assert period.file_name("pdf") == f"sales-report_{label}.pdf"
    assert period.previous().next() == period


def test_file_names_sort_in_time_order_across_years():
    weeks = [ReportPeriod.containing("weekly", date(2024, 12, 23)), ReportPeriod.containing("weekly", date(2025, 1, 1))]
    weeks.append(weeks[-1].next())
    names = [week.file_name("pdf") for week in weeks]
    assert (
        names
        == sorted(names)
        == ["sales-report_2024-W52.pdf", "sales-report_2025-W01.pdf", "sales-report_2025-W02.pdf"]
    )


def test_a_partition_key_must_start_its_period():
    with pytest.raises(ValueError, match="does not start a weekly period"):
        ReportPeriod.from_partition_key("weekly", "2026-11-17")


def test_ended_periods_overlapping_a_range():
    weeks = ended_periods_overlapping("weekly", date(2026, 10, 31), date(2026, 11, 17))
    assert [week.label for week in weeks] == ["2026-W44", "2026-W45", "2026-W46"]
    months = ended_periods_overlapping("monthly", date(2026, 10, 31), date(2026, 11, 17))
    assert [month.label for month in months] == ["2026-10"]


def test_summary_compares_with_the_previous_period_and_weighs_order_value_by_orders():
    current = daily_rows(("2026-11-16", 300.0, 3, 6.0, 2, 10.0), ("2026-11-17", 100.0, 1, 1.0, 1, 0.0))
    previous = daily_rows(("2026-11-09", 200.0, 2, 4.0, 2, 20.0))
    kpis = {kpi.name: kpi for kpi in summary_kpis(current, previous)}
    assert kpis["Revenue"].value == 400.0 and kpis["Revenue"].change_pct == pytest.approx(100.0)
    assert kpis["Orders"].value == 4 and kpis["Orders"].change_pct == pytest.approx(100.0)
    assert kpis["Average order value"].value == 100.0  # 400 / 4, not the mean of 100 and 100.0
    assert kpis["Refunds"].change_pct == pytest.approx(-50.0) and not kpis["Refunds"].higher_is_better
    no_history = {kpi.name: kpi for kpi in summary_kpis(current, previous.iloc[0:0])}
    assert no_history["Revenue"].previous is None and no_history["Revenue"].change_pct is None


def test_category_discount_rate_over_the_period_weighs_days_by_list_value():
    days = pd.DataFrame(
        {
            "sale_date": pd.to_datetime(["2026-11-16", "2026-11-17"]),
            "category": ["Snacks", "Snacks"],
            "revenue": [90.0, 100.0],  # list values 100 and 100
            "units": [10.0, 10.0],
            "discount_rate": [0.1, 0.0],
        }
    )
    [row] = category_totals(days).itertuples()
    assert row.revenue == 190.0 and row.discount_rate == pytest.approx(0.05)


def test_report_keeps_only_its_period_and_reports_medium_and_high_anomalies_high_first():
    daily = daily_rows(
        ("2026-11-09", 50.0, 1, 1.0, 1, 0.0),
        ("2026-11-16", 100.0, 2, 2.0, 1, 0.0),
        ("2026-11-23", 70.0, 1, 1.0, 1, 0.0),
    )
    anomalies = pd.DataFrame(
        {
            "anomaly_id": ["a", "b", "c", "d"],
            "sale_date": pd.to_datetime(["2026-11-16", "2026-11-18", "2026-11-19", "2026-11-24"]),
            "scope": "total",
            "scope_key": "all",
            "metric": "revenue",
            "value": 1.0,
            "expected": 2.0,
            "z_score": 3.0,
            "severity": ["MEDIUM", "HIGH", "LOW", "HIGH"],
            "label": "x",
            "explanation": "y",
            "detected_at": pd.Timestamp("2026-11-25"),
        }
    )
    report = build_report(WEEK, daily_sales_kpis=daily, sales_anomalies=anomalies, **TABLES)
    assert report.revenue == 100.0 and report.orders == 2 and report.has_sales
    assert report.kpis[0].previous == 50.0
    assert report.anomalies["anomaly_id"].tolist() == ["b", "a"]
    assert report.notes == [
        "KPI data covers 1 of the 7 days of this week; materialize the missing days for complete totals."
    ]
    assert report.forecast is None and report.stock_alerts.empty
    assert report.placeholders == {
        "forecast": "No forecast yet: one is made after each day's sales are loaded.",
        "anomalies": "No MEDIUM or HIGH anomalies in this week.",
        "stock_alerts": "No LOW or OUT stock alerts in this week.",
    }


@pytest.mark.parametrize(
    ("checked", "section", "note"),
    [
        (0, "Anomaly detection has not run for this week yet (materialize sales_anomalies for its days).", None),
        (
            5,
            "No MEDIUM or HIGH anomalies on the 5 days of this week checked so far.",
            "Anomaly detection covers 5 of the 7 days of this week; materialize sales_anomalies for the missing days.",
        ),
        (7, "No MEDIUM or HIGH anomalies in this week.", None),
    ],
    ids=["never-run", "partly-run", "all-days"],
)
def test_an_empty_anomaly_section_says_whether_the_days_were_checked(checked, section, note):
    daily = daily_rows(*((f"2026-11-{day}", 10.0, 1, 1.0, 1, 0.0) for day in range(16, 23)))
    report = build_report(
        WEEK, daily_sales_kpis=daily, days_checked={"sales_anomalies": checked, "stock_alerts": 7}, **TABLES
    )
    assert report.placeholders["anomalies"] == section
    assert report.notes == ([note] if note else [])


def test_forecast_shows_the_all_products_rows_of_the_period_and_the_next():
    days = pd.date_range("2026-11-20", periods=20)
    forecast = pd.concat(
        [
            pd.DataFrame({"forecast_date": days, "product_id": pd.array([None] * 20, dtype="Int64")}),
            pd.DataFrame({"forecast_date": days, "product_id": pd.array([7] * 20, dtype="Int64")}),
        ]
    ).assign(predicted_revenue=100.0, lower=80.0, upper=120.0, model="ets", generated_at=pd.Timestamp("2026-11-20"))
    summary = pd.DataFrame(
        {
            "generated_at": [pd.Timestamp("2026-11-20")],
            "horizon_days": [20],
            "trend": ["UP"],
            "total": [2000.0],
            "daily_average": [100.0],
            "peak_value": [120.0],
            "peak_day": [pd.Timestamp("2026-11-28")],
            "model": ["ets"],
            "backtest_mape": [12.5],
        }
    )
    daily = daily_rows(("2026-11-16", 100.0, 2, 2.0, 1, 0.0))
    report = build_report(
        WEEK, daily_sales_kpis=daily, sales_forecast=forecast, sales_forecast_summary=summary, **TABLES
    )
    assert report.forecast.days["forecast_date"].dt.date.tolist() == [
        date(2026, 11, 20) + pd.Timedelta(days=offset) for offset in range(10)
    ]  # 20 Nov to 29 Nov: this week and the next
    assert (report.forecast.model, report.forecast.trend, report.forecast.backtest_mape) == ("ets", "UP", 12.5)
    assert (report.forecast.total, report.forecast.horizon_days) == (2000.0, 20)
    old_week = ReportPeriod.from_partition_key("weekly", "2026-10-05")
    old = build_report(old_week, daily_sales_kpis=daily, sales_forecast=forecast, **TABLES)
    assert old.forecast is None
    assert old.placeholders["forecast"] == (
        "No forecast for these days: the latest forecast covers 20 Nov 2026 to 9 Dec 2026."
    )


def test_a_forecast_made_weeks_after_the_month_is_not_shown_with_it():
    days = pd.date_range("2026-11-23", periods=14)
    forecast = pd.DataFrame({"forecast_date": days, "product_id": pd.array([None] * 14, dtype="Int64")}).assign(
        predicted_revenue=100.0, lower=80.0, upper=120.0, model="linear", generated_at=pd.Timestamp("2026-11-23")
    )
    october = ReportPeriod.from_partition_key("monthly", "2026-10-01")
    assert build_report(october, daily_sales_kpis=daily_rows(), sales_forecast=forecast, **TABLES).forecast is None
    november = ReportPeriod.from_partition_key("monthly", "2026-11-01")
    shown = build_report(november, daily_sales_kpis=daily_rows(), sales_forecast=forecast, **TABLES).forecast
    assert len(shown.days) == 14  # the month the forecast starts in shows all of it


def test_stock_alerts_keep_each_products_latest_alert_the_most_recent_first():
    alerts = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-16", "2026-11-18", "2026-11-17", "2026-11-18", "2026-11-25"]),
            "product_id": [1, 1, 2, 4, 3],
            "sku": ["A", "A", "B", "D", "C"],
            "name": ["a", "a", "b", "d", "c"],
            "status": ["LOW", "OUT", "LOW", "LOW", "OUT"],
            "stock_quantity": [3, 0, 2, 1, 0],
            "reorder_level": 5,
            "days_of_cover": [1.0, 0.0, 0.5, 0.2, 0.0],
        }
    )
    report = build_report(WEEK, daily_sales_kpis=daily_rows(), stock_alerts=alerts, **TABLES)
    assert report.stock_alerts[["product_id", "status"]].values.tolist() == [[1, "OUT"], [4, "LOW"], [2, "LOW"]]
    assert not report.has_sales


def test_margins_sum_the_costed_rows_and_show_the_revenue_without_a_cost_apart():
    days = pd.to_datetime(["2026-11-16", "2026-11-17", "2026-11-18"])
    daily = daily_rows(*((f"{day:%Y-%m-%d}", 100.0, 1, 1.0, 1, 0.0) for day in days)).assign(
        cost_of_goods=[60.0, None, 70.05], gross_margin=[40.0, None, 29.95], margin_pct=[40.0, None, 29.95]
    )
    categories = pd.DataFrame(
        {
            "sale_date": days[[0, 0, 1, 2]],
            "category": ["Snacks", "Grocery", "Grocery", "Grocery"],
            "revenue": [30.0, 70.0, 100.0, 100.0],
            "units": 1.0,
            "discount_rate": 0.0,
            "cost_of_goods": [20.0, 40.0, None, 70.05],
            "gross_margin": [10.0, 30.0, None, 29.95],
        }
    )
    products = pd.DataFrame(
        {
            "sale_date": days[[0, 0, 1, 1, 2]],
            "product_id": [1, 2, 2, 3, 2],
            "sku": ["A", "B", "B", "C", "B"],
            "product_name": ["a", "b", "b", "c", "b"],
            "category": ["Snacks", "Grocery", "Grocery", "Grocery", "Grocery"],
            "revenue": [30.0, 70.0, 60.0, 40.0, 100.0],
            "units": 1.0,
            "orders": 1,
            "cost_of_goods": [20.0, 40.0, 50.0, None, 70.05],
            "gross_margin": [10.0, 30.0, 10.0, None, 29.95],
        }
    )
    report = build_report(
        WEEK,
        daily_sales_kpis=daily,
        **{**TABLES, "category_daily_sales": categories, "product_daily_sales": products},
    )
    margins = report.margins
    assert (margins.revenue, margins.cost_of_goods, margins.gross_margin) == (200.0, 130.05, 69.95)
    assert margins.margin_pct == round(69.95 / 200 * 100, 2)
    assert (margins.revenue_without_cost, margins.days_without_cost) == (100.0, 1)
    by_category = margins.categories.set_index("category")
    assert by_category.loc["Grocery", ["revenue", "gross_margin", "revenue_without_cost"]].tolist() == [
        170.0,
        59.95,
        100.0,
    ]
    assert by_category.index.tolist() == ["Grocery", "Snacks"]  # highest margin first
    by_product = margins.products.set_index("product_id")
    assert by_product.loc[2, ["revenue", "cost_of_goods", "gross_margin"]].tolist() == [230.0, 160.05, 69.95]
    assert pd.isna(by_product.loc[3, "gross_margin"]) and by_product.loc[3, "revenue_without_cost"] == 40.0
    assert margins.products["product_id"].tolist() == [2, 1, 3]  # the product without any cost last
    assert margins.top(1)["product_id"].tolist() == [2] and margins.bottom(1)["product_id"].tolist() == [1]
    assert margins.products_without_cost["product_id"].tolist() == [3]
    kpis = {kpi.name: kpi for kpi in report.kpis}
    assert kpis["Gross margin"].value == 69.95 and kpis["Gross margin"].previous is None


def test_stock_health_is_the_last_day_with_inventory_kpis_and_its_abc_split():
    inventory = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-20"] * 3 + ["2026-11-21"] * 3 + ["2026-11-23"]),
            "product_id": [1, 2, 3, 1, 2, 3, 1],
            "sku": ["A", "B", "C"] * 2 + ["A"],
            "name": ["a", "b", "c"] * 2 + ["a"],
            "abc_class": ["A", "B", "C", "A", "A", "C", "A"],
            "revenue_90d": [90.0, 8.0, 2.0, 80.0, 15.0, 5.0, 1.0],
            "stock_value": [10.0, 20.0, 30.0, 10.0, 25.0, 40.0, 1.0],
            "slow_mover": [0, 0, 1, 0, 1, 1, 0],
            "lost_sales_estimate": [0.0, 0.0, 0.0, 12.5, None, 0.0, 0.0],
        }
    )
    stock_kpis = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-20", "2026-11-21", "2026-11-22"]),
            "inventory_turnover": [4.0, 4.5, 5.0],
            "dead_stock_value": [0.0, 3.0, 9.0],
        }
    )
    daily = daily_rows(("2026-11-16", 100.0, 1, 1.0, 1, 0.0))
    health = build_report(
        WEEK, daily_sales_kpis=daily, stock_kpis=stock_kpis, product_inventory_kpis=inventory, **TABLES
    ).stock_health
    assert health.as_of == date(2026, 11, 21)  # 22 Nov lacks inventory KPIs, 23 Nov is the next week
    assert health.figures["inventory_turnover"] == 4.5 and health.figures["dead_stock_value"] == 3.0
    abc = health.abc.set_index("abc_class")
    assert abc["products"].tolist() == [2, 0, 1]
    assert abc.loc["A", ["revenue_90d", "revenue_share", "stock_value"]].tolist() == [95.0, 0.95, 35.0]
    assert health.slow_movers["product_id"].tolist() == [3, 2]  # the largest stock value first
    assert health.lost_sales["product_id"].tolist() == [1]
    nothing = build_report(WEEK, daily_sales_kpis=daily, **TABLES).stock_health
    assert nothing.as_of is None and nothing.products.empty


def test_customers_sum_the_days_and_the_repeat_rate_weighs_them_by_customers():
    customers = pd.DataFrame(
        {
            "sale_date": pd.to_datetime(["2026-11-09", "2026-11-16", "2026-11-17", "2026-11-18"]),
            "new_customers": [5, 3, 1, 0],
            "returning_customers": [5, 1, 3, 0],
            "repeat_rate": [0.5, 0.25, 0.75, None],
        }
    )
    daily = daily_rows(("2026-11-16", 100.0, 1, 1.0, 1, 0.0))
    report = build_report(WEEK, daily_sales_kpis=daily, customer_daily_kpis=customers, **TABLES)
    view = report.customers
    assert (view.new_customers, view.returning_customers, view.repeat_rate) == (4, 4, 0.5)
    assert len(view.daily) == 3
    kpis = {kpi.name: kpi for kpi in report.kpis}
    assert (kpis["New customers"].value, kpis["New customers"].previous) == (4, 5)
    assert kpis["Returning customers"].note == "repeat rate 50.0%"
