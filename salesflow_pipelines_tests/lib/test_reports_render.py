"""PDF and workbook rendering, read back with pypdf and openpyxl."""

import io
from datetime import date, datetime

import pandas as pd
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from reportlab.graphics.shapes import Drawing
from reportlab.platypus import Table

from salesflow_pipelines.lib import cleaning, kpis
from salesflow_pipelines.lib.demo import DemoData
from salesflow_pipelines.lib.reports import pdf
from salesflow_pipelines.lib.reports.excel import SHEETS, render_xlsx
from salesflow_pipelines.lib.reports.model import SalesReport, build_report
from salesflow_pipelines.lib.reports.periods import ReportPeriod

WEEK = ReportPeriod.from_partition_key("weekly", "2026-11-16")
LONG_EXPLANATION = (
    "Revenue was far above the level expected for a Wednesday & the same weekday of the last four weeks, "
    "driven by bulk orders of <Espresso Beans 1kg> and Olive Oil 1l from three customers in the North region; "
    "check whether a promotion ran or whether these orders were entered twice."
)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """Two weeks of KPI tables from the demo shop, computed by the KPI functions."""
    lines = cleaning.clean_sales(
        DemoData(orders_per_day=40).sales_lines(date(2026, 11, 9), date(2026, 11, 22)), pd.Series(dtype="string")
    )
    return {
        "daily_sales_kpis": kpis.daily_sales(lines.lines, pd.date_range("2026-11-09", "2026-11-22")),
        "product_daily_sales": kpis.product_daily(lines.lines),
        "region_daily_sales": kpis.region_daily(lines.lines),
        "category_daily_sales": kpis.category_daily(lines.lines),
        "sales_rejects": lines.rejects,
    }


def anomalies(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "anomaly_id": [f"a{index}" for index in range(count)],
            "sale_date": pd.Timestamp("2026-11-18"),
            "scope": "product",
            "scope_key": "Espresso Beans 1kg",
            "metric": "revenue",
            "value": 2500.0,
            "expected": 900.0,
            "z_score": 4.2,
            "severity": ["HIGH", "MEDIUM"] * (count // 2) + ["HIGH"] * (count % 2),
            "label": "Revenue spike",
            "explanation": LONG_EXPLANATION,
            "detected_at": pd.Timestamp("2026-11-19"),
        }
    )


def forecast() -> pd.DataFrame:
    days = pd.date_range("2026-11-23", periods=14)
    return pd.DataFrame(
        {
            "forecast_date": days,
            "product_id": pd.array([None] * 14, dtype="Int64"),
            "predicted_revenue": 3000.0,
            "lower": 2400.0,
            "upper": 3600.0,
            "model": "holt-winters",
            "generated_at": pd.Timestamp("2026-11-23 01:30"),
        }
    )


def stock_alerts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alert_date": pd.to_datetime(["2026-11-20", "2026-11-22"]),
            "product_id": [3, 5],
            "sku": ["SKU-0003", "SKU-0005"],
            "name": ["Basmati Rice 5kg", "Dish Soap 750ml"],
            "stock_quantity": [0, 4],
            "low_stock_threshold": [5, 10],
            "days_of_cover": [0.0, 1.5],
            "status": ["OUT", "LOW"],
        }
    )


def week_report(tables, **extra) -> SalesReport:
    return build_report(WEEK, generated_at=datetime(2026, 11, 23, 7, 0), **tables, **extra)


def pdf_text(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_pdf_holds_title_totals_sections_and_page_numbers(tables):
    report = week_report(tables, sales_anomalies=anomalies(1), sales_forecast=forecast(), stock_alerts=stock_alerts())
    rendered = pdf.render_pdf(report)
    pages = pdf_text(rendered.content)
    assert rendered.pages == len(pages)
    text = "\n".join(pages)
    assert "Sales report · Week 47, 2026" in text
    assert "Monday 16 November 2026 to Sunday 22 November 2026" in text
    assert f"${report.revenue:,.2f}" in text and f"{report.orders:,}" in text
    for heading in (
        "Summary",
        "Daily revenue",
        "Top 10 products by revenue",
        "Revenue by region",
        "Revenue by category",
    ):
        assert heading in text, heading
    assert "Data quality:" in text and f"{len(report.rejects):,} sale lines rejected" in text
    assert "Forecast of 7 days by the holt-winters model generated 2026-11-23 01:30" in text
    assert "Stock alerts (LOW and OUT)" in text and "Basmati Rice 5kg" in text
    assert "<Espresso Beans 1kg>" in " ".join(text.split())  # markup characters are escaped, not parsed
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page


def test_every_table_and_chart_fits_the_page_width(tables):
    long_names = tables["product_daily_sales"].assign(product_name="Extra Large Family Pack of Assorted Items " * 3)
    report = week_report({**tables, "product_daily_sales": long_names}, sales_anomalies=anomalies(3))
    flowables = pdf.story(report)
    sized = [item for item in flowables if isinstance(item, Table | Drawing)]
    assert len(sized) >= 6
    for item in sized:
        width = sum(item._colWidths) if isinstance(item, Table) else item.width
        assert width <= pdf.CONTENT_WIDTH + 0.01


def test_a_long_anomaly_table_repeats_its_header_on_every_page(tables):
    pages = pdf_text(pdf.render_pdf(week_report(tables, sales_anomalies=anomalies(40))).content)
    with_anomalies = [page for page in pages if "Revenue spike" in page]
    assert len(with_anomalies) >= 2
    assert all("What happened" in page for page in with_anomalies)


def test_a_period_without_sales_renders_a_clear_pdf_and_workbook(tables):
    nothing = {name: frame.iloc[0:0] for name, frame in tables.items()}
    report = build_report(WEEK, sales_anomalies=anomalies(0), **nothing)
    text = "\n".join(pdf_text(pdf.render_pdf(report).content))
    assert "No sales in this period" in text and "No anomalies in this period" in text
    workbook = load_workbook(io.BytesIO(render_xlsx(report).content))
    assert workbook["Summary"]["A3"].value == "No sales in this period."
    assert workbook["Summary"]._charts == []
    assert workbook["Daily"]["A2"].value == "No KPI data for this period."


def test_workbook_sheets_typed_cells_headers_filters_and_charts(tables):
    report = week_report(tables, sales_anomalies=anomalies(2))
    rendered = render_xlsx(report)
    workbook = load_workbook(io.BytesIO(rendered.content))
    assert workbook.sheetnames == list(SHEETS) and rendered.sheets == 9
    for name in SHEETS[1:]:
        sheet = workbook[name]
        assert sheet.freeze_panes == "A2", name
        assert all(cell.font.bold for cell in sheet[1] if cell.value), name
    daily = workbook["Daily"]
    assert daily.auto_filter.ref == "A1:H8"
    assert daily["A2"].is_date and daily["A2"].number_format == "yyyy-mm-dd"
    assert "$" in daily["B2"].number_format and "%" in daily["H2"].number_format
    frame = report.daily
    assert [row[1] for row in daily.iter_rows(min_row=2, values_only=True)] == frame["revenue"].tolist()
    assert [row[2] for row in daily.iter_rows(min_row=2, values_only=True)] == frame["orders"].tolist()
    assert len(workbook["Summary"]._charts) == 4
    assert workbook["Summary"]["B6"].value == report.revenue
    products = workbook["Products"]
    longest = max(len(str(cell.value)) for cell in products["C"])
    assert products.column_dimensions["C"].width >= longest
    assert workbook["Anomalies"].max_row == 3 and workbook["Anomalies"]["J2"].value == LONG_EXPLANATION
    assert workbook["Forecast"]["A2"].value == "No forecast available."
    assert workbook["Stock"]["A2"].value == "No stock alert data available."
