"""The README's main command runs the whole graph end to end on the embedded default: the daily
tables, anomalies and stock alerts, the forecast, and reports that hold them."""

import os
import re
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

ML_TABLES = ("sales_forecast", "sales_forecast_summary", "sales_anomalies", "stock_alerts")


def run_demo(cwd: Path, days: int) -> subprocess.CompletedProcess:
    """`salesflow demo --days N` ending Sunday 1 November 2026, as a user types it, nothing configured."""
    salesflow = Path(sys.executable).with_name("salesflow")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SALESFLOW_", "DAGSTER_", "JAVA_"))}
    completed = subprocess.run(
        [str(salesflow), "demo", "--days", str(days), "--end", "2026-11-01"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    """`salesflow demo` over ten days (a spike on 31 October): the store it made and what it printed."""
    cwd = tmp_path_factory.mktemp("demo")
    return cwd / ".salesflow", run_demo(cwd, 10).stdout


@pytest.mark.parametrize("days", [1, 7, 28, 56])
def test_demo_runs_quietly_at_any_history_length(days, tmp_path):
    """Short histories (the forecast falls back), the 28 days that crashed scikit-learn 1.9's
    binning, eight weeks; no warning a user cannot act on."""
    completed = run_demo(tmp_path, days)
    assert "Warning" not in completed.stderr and "WARNING" not in completed.stderr, completed.stderr[-3000:]
    [(count,)] = rows(tmp_path / ".salesflow", "SELECT COUNT(*) FROM daily_sales_kpis")
    assert count == days


def rows(store: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(store / "warehouse.db") as connection:
        return connection.execute(sql).fetchall()


def test_salesflow_demo_fills_the_kpi_and_ml_tables_and_says_so(demo):
    store, printed = demo
    days = rows(store, "SELECT sale_date, orders FROM daily_sales_kpis ORDER BY sale_date")
    assert [day for day, _ in days] == [f"2026-10-{day}" for day in range(23, 32)] + ["2026-11-01"]
    assert all(orders > 0 for _, orders in days)
    assert (store / "dagster_home").is_dir() and "dagster dev" in printed
    for table in ML_TABLES:
        [(count,)] = rows(store, f"SELECT COUNT(*) FROM {table}")
        assert count > 0, table
        assert re.search(rf"^  {table} +{count:,} rows$", printed, re.MULTILINE), table
    [(first_day,)] = rows(store, "SELECT MIN(forecast_date) FROM sales_forecast")
    assert first_day == "2026-11-02" and "forecast    next 14 days from 2026-11-02" in printed
    assert re.search(r"anomalies   \d+ MEDIUM, \d+ HIGH", printed)


@pytest.mark.parametrize(
    ("report", "first_day", "last_day"),
    [
        ("weekly/sales-report_2026-W44", "2026-10-26", "2026-11-01"),
        ("monthly/sales-report_2026-10", "2026-10-01", "2026-10-31"),
    ],
)
def test_demo_reports_hold_the_forecast_anomalies_and_stock_alerts(demo, report, first_day, last_day):
    store, _ = demo
    workbook = load_workbook(store / "reports" / f"{report}.xlsx")
    in_period = f"BETWEEN '{first_day}' AND '{last_day}'"
    [(anomalies,)] = rows(store, f"SELECT COUNT(*) FROM sales_anomalies WHERE sale_date {in_period}")
    [(products_alerted,)] = rows(
        store, f"SELECT COUNT(DISTINCT product_id) FROM stock_alerts WHERE snapshot_date {in_period}"
    )
    for sheet, expected in (("Anomalies", anomalies), ("Stock", products_alerted), ("Forecast", None)):
        dates = [row[0] for row in workbook[sheet].iter_rows(min_row=2, values_only=True)]
        assert dates and all(isinstance(day, datetime) for day in dates), sheet
        assert expected is None or len(dates) == expected, sheet
    assert workbook["Forecast"]["A2"].value.date() == date(2026, 11, 2)

    words = " ".join(
        " ".join(page.extract_text() for page in PdfReader(store / "reports" / f"{report}.pdf").pages).split()
    )
    shop_anomalies = rows(
        store, f"SELECT explanation FROM sales_anomalies WHERE scope = 'total' AND sale_date {in_period}"
    )
    assert shop_anomalies and all(explanation in words for (explanation,) in shop_anomalies)
    assert "Forecast made" in words and "Stock alerts (LOW and OUT)" in words
