"""Report assets and schedules over the real PostgreSQL warehouse: the files read back hold the
warehouse's numbers (KPIs, forecast, anomalies, stock alerts), re-runs replace files atomically,
and the schedules ask for the right period."""

import email
import email.policy
import io
import os
import socket
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest
import yagmail
from aiosmtpd.controller import Controller
from openpyxl import load_workbook
from pypdf import PdfReader

from salesflow_pipelines import cli
from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.jobs import daily_sales_schedule
from salesflow_pipelines.defs.kpis import assets as kpi_assets
from salesflow_pipelines.defs.ml import assets as ml_assets
from salesflow_pipelines.defs.ml.resources import AnomalySettings, ForecastSettings, StockAlertSettings
from salesflow_pipelines.defs.reports.assets import THE_PERIOD, monthly_sales_report, report_key, weekly_sales_report
from salesflow_pipelines.defs.reports.automation import monthly_report_schedule, report_runs, weekly_report_schedule
from salesflow_pipelines.defs.reports.email import report_email_sensor, send_report_email
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, Mailer, ReportStore, SalesSource
from salesflow_pipelines.lib.reports import files
from salesflow_pipelines.lib.reports.periods import ReportPeriod

KPI_ASSETS = dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets])
ML_ASSETS = dg.load_assets_from_modules([ml_assets])
PIPELINE = KPI_ASSETS + ML_ASSETS
FIRST_DAY, LAST_DAY = date(2026, 9, 21), date(2026, 10, 4)  # weeks 39 and 40 of 2026; a spike on 3 October
WEEK_40 = "2026-09-28"
ML_SETTINGS = {
    "forecast_settings": ForecastSettings(),
    "anomaly_settings": AnomalySettings(),
    "stock_alert_settings": StockAlertSettings(),
}


def warehouse_rows(url: str, sql: str) -> pd.DataFrame:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(sql)
        return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def demo_resources(warehouse_url: str, frames: Path) -> dict:
    return {
        "sales_source": SalesSource(kind="demo", demo=DemoSource(orders_per_day=40), java=JavaApi()),
        "data_quality": DataQuality(),
        "parquet_io_manager": ParquetIOManager(base_path=str(frames)),
        "warehouse_io_manager": WarehouseIOManager(url=warehouse_url),
        **ML_SETTINGS,
    }


def materialize_days(resources: dict, instance: dg.DagsterInstance, selection, first_day: date, last_day: date):
    """One run over the days, as a backfill runs them."""
    tags = {
        "dagster/asset_partition_range_start": first_day.isoformat(),
        "dagster/asset_partition_range_end": last_day.isoformat(),
    }
    result = dg.materialize(PIPELINE, selection=selection, resources=resources, instance=instance, tags=tags)
    assert result.success


@pytest.fixture(scope="module")
def warehouse(postgres_url, tmp_path_factory) -> dict:
    """Two weeks of demo sales through the daily graph, their anomalies and stock alerts, and the
    forecast made after them, into a clean `analytics` schema; one instance records the runs."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
    resources = demo_resources(postgres_url, tmp_path_factory.mktemp("frames"))
    instance = dg.DagsterInstance.ephemeral()
    daily = [asset for asset in PIPELINE if asset.partitions_def is not None]
    materialize_days(resources, instance, daily, FIRST_DAY, LAST_DAY)
    forecast = [asset for asset in ML_ASSETS if asset.partitions_def is None]
    if forecast:  # an unpartitioned forecast is made after the days (a daily one was made with them)
        assert dg.materialize(PIPELINE, selection=forecast, resources=resources, instance=instance).success
    return {"url": postgres_url, "resources": resources, "instance": instance}


def materialize_reports(warehouse: dict, reports_dir: Path, assets, partition_key=None, tags=None, instance=None):
    return dg.materialize(
        [assets, *PIPELINE],
        selection=[assets],
        partition_key=partition_key,
        tags=tags,
        resources={**warehouse["resources"], "report_store": ReportStore(base_dir=str(reports_dir), currency="USD")},
        instance=instance or warehouse["instance"],
    )


def pdf_words(path: Path) -> str:
    """The PDF's text with every run of whitespace as one space (table cells wrap lines)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


def report_metadata(result, key: list[str]) -> dict:
    [event] = [event for event in result.get_asset_materialization_events() if event.asset_key == dg.AssetKey(key)]
    return event.materialization.metadata


def test_weekly_report_files_hold_the_warehouse_numbers(warehouse, tmp_path):
    result = materialize_reports(warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40)
    assert result.success

    pdf_path = tmp_path / "weekly" / "sales-report_2026-W40.pdf"
    xlsx_path = tmp_path / "weekly" / "sales-report_2026-W40.xlsx"
    pdf_meta = report_metadata(result, report_key("weekly", "pdf").path)
    xlsx_meta = report_metadata(result, report_key("weekly", "xlsx").path)
    assert pdf_meta["path"].value == str(pdf_path) and xlsx_meta["path"].value == str(xlsx_path)
    assert pdf_meta["size_bytes"].value == pdf_path.stat().st_size
    assert xlsx_meta["size_bytes"].value == xlsx_path.stat().st_size
    assert (tmp_path / "latest" / "sales-report_weekly.pdf").read_bytes() == pdf_path.read_bytes()

    totals = warehouse_rows(
        warehouse["url"],
        "SELECT SUM(revenue) AS revenue, SUM(orders) AS orders FROM analytics.daily_sales_kpis "
        "WHERE sale_date BETWEEN '2026-09-28' AND '2026-10-04'",
    ).iloc[0]
    reader = PdfReader(pdf_path)
    assert pdf_meta["pages"].value == len(reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert f"${float(totals['revenue']):,.2f}" in text
    assert f"{int(totals['orders']):,}" in text
    assert "Week 40, 2026" in text and f"Page 1 of {len(reader.pages)}" in text
    assert "No sales in this period" not in text

    workbook = load_workbook(xlsx_path)
    assert xlsx_meta["sheets"].value == len(workbook.sheetnames) == 13
    daily = warehouse_rows(
        warehouse["url"],
        "SELECT * FROM analytics.daily_sales_kpis WHERE sale_date BETWEEN '2026-09-28' AND '2026-10-04' "
        "ORDER BY sale_date",
    )
    sheet_rows = list(workbook["Daily"].iter_rows(min_row=2, values_only=True))
    assert len(sheet_rows) == len(daily) == 7
    for cells, row in zip(sheet_rows, daily.itertuples(), strict=True):
        day, revenue, orders, units, aov, customers, refunded, growth = cells
        assert day.date() == row.sale_date
        assert (revenue, orders, units, customers, refunded) == (
            row.revenue,
            row.orders,
            row.units,
            row.unique_customers,
            row.refunded_amount,
        )
        assert aov == row.avg_order_value
        assert growth == pytest.approx(row.revenue_growth_pct / 100)

    products = warehouse_rows(
        warehouse["url"],
        "SELECT product_id, SUM(revenue) AS revenue, SUM(units) AS units, SUM(orders) AS orders "
        "FROM analytics.product_daily_sales WHERE sale_date BETWEEN '2026-09-28' AND '2026-10-04' "
        "GROUP BY product_id",
    ).set_index("product_id")
    product_rows = list(workbook["Products"].iter_rows(min_row=2, values_only=True))
    assert len(product_rows) == len(products)
    for product_id, _sku, _name, _category, revenue, units, orders, _share in product_rows:
        assert revenue == pytest.approx(products.loc[product_id, "revenue"], abs=0.005)
        assert (units, orders) == (products.loc[product_id, "units"], products.loc[product_id, "orders"])

    rejects = warehouse_rows(
        warehouse["url"],
        "SELECT COUNT(*) AS lines FROM analytics.sales_rejects WHERE sale_date BETWEEN '2026-09-28' AND '2026-10-04'",
    ).iloc[0]
    assert workbook["Rejects"].max_row - 1 == rejects["lines"]


def test_weekly_report_holds_the_forecast_anomalies_and_stock_alerts_of_the_warehouse(warehouse, tmp_path):
    assert materialize_reports(warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40).success
    workbook = load_workbook(tmp_path / "weekly" / "sales-report_2026-W40.xlsx")
    words = pdf_words(tmp_path / "weekly" / "sales-report_2026-W40.pdf")
    week = "BETWEEN '2026-09-28' AND '2026-10-04'"

    anomalies = warehouse_rows(
        warehouse["url"],
        f"SELECT sale_date, severity, scope, scope_key, label, explanation FROM analytics.sales_anomalies "
        f"WHERE sale_date {week}",
    )
    assert (anomalies["severity"] == "HIGH").any()
    sheet = [row[:4] + row[8:] for row in workbook["Anomalies"].iter_rows(min_row=2, values_only=True)]
    assert sorted((day.date(), *rest) for day, *rest in sheet) == sorted(anomalies.itertuples(index=False, name=None))
    assert sheet[0][1] == "HIGH"
    for explanation in anomalies.loc[anomalies["scope"] == "total", "explanation"]:
        assert explanation in words  # a whole-shop anomaly is always printed, with its explanation

    alerts = warehouse_rows(
        warehouse["url"],
        "SELECT DISTINCT ON (product_id) snapshot_date, status, product_id, sku, name, stock_quantity, "
        f"reorder_level, suggested_reorder_qty FROM analytics.stock_alerts WHERE snapshot_date {week} "
        "ORDER BY product_id, snapshot_date DESC",
    )
    assert len(alerts) and "Reorder level" in [cell.value for cell in workbook["Stock"][1]]
    sheet = [row[:5] + row[6:8] + row[10:11] for row in workbook["Stock"].iter_rows(min_row=2, values_only=True)]
    assert sorted((day.date(), *rest) for day, *rest in sheet) == sorted(alerts.itertuples(index=False, name=None))
    for alert in alerts.itertuples():
        assert f"{alert.status} {alert.sku} {alert.name} {alert.stock_quantity} {alert.reorder_level}" in words

    forecast = warehouse_rows(
        warehouse["url"],
        "SELECT forecast_date, predicted_revenue, lower, upper FROM analytics.sales_forecast "
        "WHERE product_id IS NULL AND as_of_date = '2026-10-04' "  # every day's forecast is kept: the week's last
        "AND forecast_date BETWEEN '2026-09-28' AND '2026-10-11' ORDER BY forecast_date",
    )
    assert forecast["forecast_date"].tolist() == [date(2026, 10, 5 + offset) for offset in range(7)]
    sheet = [(day.date(), *rest) for day, *rest in workbook["Forecast"].iter_rows(min_row=2, values_only=True)]
    assert sheet == list(forecast.itertuples(index=False, name=None))
    assert "The dashed line shows its days from Mon 5 Oct to Sun 11 Oct" in words
    assert "has not run" not in words and "detection covers" not in words  # every day of the week was checked


def sheet_rows(workbook, name: str) -> list[tuple]:
    return list(workbook[name].iter_rows(min_row=2, values_only=True))


def cents(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)


def test_weekly_report_margins_stock_health_and_customers_match_the_warehouse(warehouse, tmp_path):
    assert materialize_reports(warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40).success
    workbook = load_workbook(tmp_path / "weekly" / "sales-report_2026-W40.xlsx")
    words = pdf_words(tmp_path / "weekly" / "sales-report_2026-W40.pdf")
    week = "BETWEEN '2026-09-28' AND '2026-10-04'"
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(min_row=1, values_only=True) if row[0]}

    def margin_sums(table: str, key: str) -> pd.DataFrame:
        return warehouse_rows(
            warehouse["url"],
            f"SELECT {key} AS key, SUM(revenue) FILTER (WHERE cost_of_goods IS NOT NULL) AS revenue, "
            "SUM(cost_of_goods) AS cost_of_goods, SUM(gross_margin) AS gross_margin, "
            "COALESCE(SUM(revenue) FILTER (WHERE cost_of_goods IS NULL), 0) AS revenue_without_cost "
            f"FROM analytics.{table} WHERE sale_date {week} GROUP BY {key}",
        ).set_index("key")

    shop = margin_sums("daily_sales_kpis", "date_trunc('week', sale_date)").iloc[0]
    assert shop["cost_of_goods"] > 0 and shop["revenue_without_cost"] == 0
    assert summary["Gross margin"] == cents(shop["gross_margin"]) == cents(shop["revenue"] - shop["cost_of_goods"])
    assert summary["Cost of goods"] == cents(shop["cost_of_goods"])
    assert f"Gross margin ${cents(shop['gross_margin']):,.2f}" in words
    categories = margin_sums("category_daily_sales", "category")
    sheet = sheet_rows(workbook, "Margins")
    assert len(sheet) == len(categories)
    for category, revenue, cost, margin, _pct, without in sheet:
        expected = categories.loc[category]
        assert (revenue, cost, margin, without) == tuple(
            cents(expected[column]) for column in ("revenue", "cost_of_goods", "gross_margin", "revenue_without_cost")
        )
        assert f"{category} ${revenue:,.2f} ${cost:,.2f} ${margin:,.2f}" in words
    products = margin_sums("product_daily_sales", "product_id")
    sheet = sheet_rows(workbook, "Product margins")
    assert len(sheet) == len(products)
    for product_id, _sku, _name, _category, revenue, cost, margin, _pct, _without in sheet:
        expected = products.loc[product_id]
        assert (revenue, cost, margin) == (
            cents(expected["revenue"]),
            cents(expected["cost_of_goods"]),
            cents(expected["gross_margin"]),
        )
    assert [row[6] for row in sheet] == sorted((row[6] for row in sheet), reverse=True)

    inventory = warehouse_rows(
        warehouse["url"],
        "SELECT product_id, abc_class, stock_value, revenue_90d, lost_sales_estimate FROM "
        "analytics.product_inventory_kpis WHERE snapshot_date = '2026-10-04'",
    ).set_index("product_id")
    sheet = sheet_rows(workbook, "Stock health")
    assert len(sheet) == len(inventory) > 0 and {row[0].date() for row in sheet} == {date(2026, 10, 4)}
    for row in sheet:
        expected = inventory.loc[row[1]]
        assert (row[5], row[7], row[9], row[16]) == (
            expected["abc_class"],
            cents(expected["stock_value"]),
            cents(expected["revenue_90d"]),
            cents(expected["lost_sales_estimate"]),
        )
    [shop_stock] = warehouse_rows(
        warehouse["url"], "SELECT * FROM analytics.stock_kpis WHERE snapshot_date = '2026-10-04'"
    ).itertuples()
    assert summary["Stock health as of"].date() == date(2026, 10, 4)
    assert summary["Inventory turnover (per year)"] == shop_stock.inventory_turnover
    assert summary["A products' share of 90-day revenue"] == shop_stock.a_class_revenue_share
    assert (summary["Slow movers"], summary["Slow-moving stock value"]) == (
        shop_stock.slow_moving_products,
        shop_stock.slow_moving_stock_value,
    )
    assert (summary["Dead stock products"], summary["Dead stock value"]) == (
        shop_stock.dead_stock_products,
        shop_stock.dead_stock_value,
    )
    assert summary["Lost sales, last 28 days (estimate)"] == shop_stock.lost_sales_estimate
    assert f"As of Sun 4 Oct: inventory turns over {shop_stock.inventory_turnover:,.2f} times a year" in words
    assert f"${shop_stock.dead_stock_value:,.2f} (nothing sold in 90 days)" in words
    for abc_class, count in inventory["abc_class"].value_counts().items():
        revenue = cents(inventory.loc[inventory["abc_class"] == abc_class, "revenue_90d"].sum())
        assert f"{abc_class} {count} ${revenue:,.2f}" in words

    customers = warehouse_rows(
        warehouse["url"],
        "SELECT sale_date, new_customers, returning_customers, repeat_rate FROM analytics.customer_daily_kpis "
        f"WHERE sale_date {week} ORDER BY sale_date",
    )
    sheet = [(day.date(), *rest) for day, *rest in sheet_rows(workbook, "Customers")]
    assert sheet == list(customers.itertuples(index=False, name=None))
    new, returning = int(customers["new_customers"].sum()), int(customers["returning_customers"].sum())
    assert (summary["New customers"], summary["Returning customers"]) == (new, returning)
    assert summary["Repeat rate"] == round(returning / (new + returning), 4)
    assert f"{new:,} new and {returning:,} returning identified customers" in words


def test_monthly_report_margin_matches_the_warehouse_month(warehouse, tmp_path):
    assert materialize_reports(warehouse, tmp_path, monthly_sales_report, partition_key="2026-09-01").success
    workbook = load_workbook(tmp_path / "monthly" / "sales-report_2026-09.xlsx")
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(min_row=1, values_only=True) if row[0]}
    month = warehouse_rows(
        warehouse["url"],
        "SELECT SUM(gross_margin) AS margin, SUM(cost_of_goods) AS cost, SUM(new_customers) AS new "
        "FROM analytics.daily_sales_kpis JOIN analytics.customer_daily_kpis USING (sale_date) "
        "WHERE sale_date < '2026-10-01'",
    ).iloc[0]
    assert (summary["Gross margin"], summary["Cost of goods"]) == (cents(month["margin"]), cents(month["cost"]))
    assert summary["New customers"] == month["new"]
    assert summary["Stock health as of"].date() == date(2026, 9, 30)


def test_a_report_before_any_forecast_or_alert_run_says_so(tmp_path):
    """A fresh SQLite warehouse with the KPI tables only: the report still renders and says what is missing."""
    resources = demo_resources(f"sqlite:///{tmp_path / 'warehouse.db'}", tmp_path / "frames")
    instance = dg.DagsterInstance.ephemeral()
    materialize_days(resources, instance, KPI_ASSETS, date(2026, 9, 28), LAST_DAY)
    report = {"resources": resources, "instance": instance}
    assert materialize_reports(report, tmp_path, weekly_sales_report, partition_key=WEEK_40).success
    words = pdf_words(tmp_path / "weekly" / "sales-report_2026-W40.pdf")
    assert "No forecast yet: one is made after each day's sales are loaded." in words
    assert "Anomaly detection has not run for this week yet (materialize sales_anomalies for its days)." in words
    assert "The stock check has not run for this week yet (materialize stock_alerts for its days)." in words
    workbook = load_workbook(tmp_path / "weekly" / "sales-report_2026-W40.xlsx")
    assert workbook["Forecast"]["A2"].value.startswith("No forecast yet")
    assert workbook["Anomalies"]["A2"].value.startswith("Anomaly detection has not run")
    assert workbook["Stock"]["A2"].value.startswith("The stock check has not run")


def test_reports_depend_on_the_ml_tables_in_the_lineage():
    for report in (weekly_sales_report, monthly_sales_report):
        for key in report.keys:
            parents = report.asset_deps[key]
            assert {"sales_anomalies", "stock_alerts", "sales_forecast", "sales_forecast_summary"} <= {
                parent.to_user_string() for parent in parents
            }
        for daily_table in ("sales_anomalies", "stock_alerts"):
            assert report.get_partition_mapping(dg.AssetKey(daily_table)) == THE_PERIOD


def test_a_week_without_sales_renders_a_clear_report(warehouse, tmp_path):
    result = materialize_reports(warehouse, tmp_path, weekly_sales_report, partition_key="2026-08-31")
    assert result.success
    text = "\n".join(page.extract_text() for page in PdfReader(tmp_path / "weekly" / "sales-report_2026-W36.pdf").pages)
    assert "No sales in this period" in text
    summary = load_workbook(tmp_path / "weekly" / "sales-report_2026-W36.xlsx")["Summary"]
    assert summary["A3"].value == "No sales in this period."
    assert report_metadata(result, report_key("weekly", "pdf").path)["has_sales"].value is False


def test_a_range_run_writes_one_file_per_period_and_latest_follows_the_newest(warehouse, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_reports(
        warehouse,
        tmp_path,
        weekly_sales_report,
        tags={"dagster/asset_partition_range_start": "2026-09-21", "dagster/asset_partition_range_end": WEEK_40},
        instance=instance,
    )
    assert result.success
    assert sorted(path.name for path in (tmp_path / "weekly").iterdir()) == [
        "sales-report_2026-W39.pdf",
        "sales-report_2026-W39.xlsx",
        "sales-report_2026-W40.pdf",
        "sales-report_2026-W40.xlsx",
    ]
    by_partition = {
        event.partition: event.materialization.metadata["path"].value
        for event in result.get_asset_materialization_events()
        if event.asset_key == report_key("weekly", "pdf")
    }
    assert by_partition == {
        "2026-09-21": str(tmp_path / "weekly" / "sales-report_2026-W39.pdf"),
        WEEK_40: str(tmp_path / "weekly" / "sales-report_2026-W40.pdf"),
    }

    # Re-running the older week replaces its file in place and leaves latest/ on week 40.
    week_39 = tmp_path / "weekly" / "sales-report_2026-W39.pdf"
    inode_before = week_39.stat().st_ino
    assert materialize_reports(warehouse, tmp_path, weekly_sales_report, partition_key="2026-09-21").success
    assert week_39.stat().st_ino != inode_before  # a new file renamed over the old one
    latest = tmp_path / "latest" / "sales-report_weekly.pdf"
    assert latest.read_bytes() == (tmp_path / "weekly" / "sales-report_2026-W40.pdf").read_bytes()
    assert not [path for path in tmp_path.rglob("*") if path.name.startswith(".")]


def test_monthly_report_of_a_partly_loaded_month_says_so(warehouse, tmp_path):
    result = materialize_reports(warehouse, tmp_path, monthly_sales_report, partition_key="2026-09-01")
    assert result.success
    text = "\n".join(page.extract_text() for page in PdfReader(tmp_path / "monthly" / "sales-report_2026-09.pdf").pages)
    assert "September 2026" in text
    assert "10 of the 30 days" in text
    assert "Anomaly detection covers 10 of the 30 days of this month" in " ".join(text.split())
    totals = warehouse_rows(
        warehouse["url"],
        "SELECT SUM(revenue) AS revenue FROM analytics.daily_sales_kpis WHERE sale_date < '2026-10-01'",
    ).iloc[0]
    assert f"${float(totals['revenue']):,.2f}" in text


@pytest.mark.parametrize(
    ("schedule", "tick", "partition_key"),
    [
        (weekly_report_schedule, datetime(2026, 11, 23, 7, 0), "2026-11-16"),
        (monthly_report_schedule, datetime(2026, 12, 1, 7, 0), "2026-11-01"),
        (daily_sales_schedule, datetime(2026, 11, 23, 1, 0), "2026-11-22"),
    ],
    ids=["weekly-monday-0700", "monthly-first-0700", "daily-0100"],
)
def test_schedules_ask_for_the_period_that_just_ended(schedule, tick, partition_key):
    from salesflow_pipelines.definitions import defs

    repository = defs.get_repository_def()
    schedule_def = repository.get_schedule_def(schedule.name)
    assert schedule_def.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule_def.execution_timezone == os.environ.get("SALESFLOW_TZ", "UTC")
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick, repository_def=repository)
        [request] = schedule_def.evaluate_tick(context).run_requests
    assert request.partition_key == partition_key


def test_report_metadata_links_the_files(warehouse, tmp_path):
    result = materialize_reports(warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40)
    pdf = report_metadata(result, report_key("weekly", "pdf").path)
    assert pdf["link"].value == (tmp_path / "weekly" / "sales-report_2026-W40.pdf").as_uri()
    assert pdf["latest_copy"].value == str(tmp_path / "latest" / "sales-report_weekly.pdf")
    assert PdfReader(io.BytesIO((tmp_path / "latest" / "sales-report_weekly.pdf").read_bytes())).pages


class LoopbackMailer(Mailer):
    """The Mailer, sending with yagmail over plain SMTP to a loopback server without logging in."""

    def send(self, to, subject, contents, attachments):
        with yagmail.SMTP(
            user="reports@salesflow.test",
            host=self.host,
            port=self.port,
            smtp_starttls=False,
            smtp_ssl=False,
            smtp_skip_login=True,
        ) as smtp:
            smtp.send(to=to, subject=subject, contents=contents, attachments=attachments)


class Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_inbox():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller's readiness check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_a_report_is_emailed_with_its_files_once_per_period(warehouse, tmp_path, smtp_inbox):
    inbox, port = smtp_inbox
    store = ReportStore(base_dir=str(tmp_path), recipients="owner@shop.test, manager@shop.test")
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_reports(
        warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40, instance=instance
    ).success

    mailer = LoopbackMailer(host="127.0.0.1", port=port)
    context = dg.build_sensor_context(instance=instance, resources={"report_store": store, "mailer": mailer})
    [request] = report_email_sensor(context)
    assert request.run_key == "report-email:weekly:2026-09-28"
    result = send_report_email.execute_in_process(
        run_config=request.run_config,
        resources={"report_store": store, "mailer": mailer},
        instance=instance,
    )
    assert result.success
    [message] = inbox.messages
    assert message["Subject"] == "SalesFlow sales report · Week 40, 2026"
    assert {address.strip() for address in message["To"].split(",")} == {"owner@shop.test", "manager@shop.test"}
    attached = {part.get_filename(): part.get_payload(decode=True) for part in message.walk() if part.get_filename()}
    assert attached == {
        "sales-report_2026-W40.pdf": (tmp_path / "weekly" / "sales-report_2026-W40.pdf").read_bytes(),
        "sales-report_2026-W40.xlsx": (tmp_path / "weekly" / "sales-report_2026-W40.xlsx").read_bytes(),
    }

    # Nothing new: the cursor moved past the event. A re-run of the week asks again with the same
    # run key, which Dagster never launches twice from one sensor.
    assert isinstance(report_email_sensor(context), dg.SkipReason)
    assert materialize_reports(
        warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40, instance=instance
    ).success
    [again] = report_email_sensor(context)
    assert again.run_key == request.run_key


@pytest.mark.parametrize(
    ("store_recipients", "smtp_host", "named"),
    [("", "127.0.0.1", "SALESFLOW_REPORT_RECIPIENTS"), ("owner@shop.test", "", "SALESFLOW_SMTP_HOST")],
)
def test_reports_are_not_emailed_when_nobody_can_receive_them(warehouse, tmp_path, store_recipients, smtp_host, named):
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_reports(
        warehouse, tmp_path, weekly_sales_report, partition_key=WEEK_40, instance=instance
    ).success
    store = ReportStore(base_dir=str(tmp_path), recipients=store_recipients)
    context = dg.build_sensor_context(
        instance=instance, resources={"report_store": store, "mailer": LoopbackMailer(host=smtp_host)}
    )
    skipped = report_email_sensor(context)
    assert isinstance(skipped, dg.SkipReason) and named in skipped.skip_message
    assert context.cursor is not None  # those reports are never emailed later either


def test_demo_renders_every_ended_week_and_month_of_its_days():
    assert report_runs(date(2026, 10, 31), date(2026, 11, 2)) == [
        ("weekly_report_job", "2026-10-26", "2026-10-26"),
        ("monthly_report_job", "2026-10-01", "2026-10-01"),
    ]
    assert report_runs(date(2026, 11, 3), date(2026, 11, 7)) == []  # no week or month ended yet


def test_cli_prints_the_newest_report_of_each_kind(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SALESFLOW_REPORTS_DIR", str(tmp_path))
    assert cli.main(["reports", "latest"]) == 1
    assert "No reports in" in capsys.readouterr().out
    for key in ("2026-11-09", "2026-11-16"):
        files.publish(tmp_path, ReportPeriod.from_partition_key("weekly", key), "pdf", b"%PDF")
    assert cli.main(["reports", "latest"]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "weekly" / "sales-report_2026-W47.pdf") in printed and "W46" not in printed
