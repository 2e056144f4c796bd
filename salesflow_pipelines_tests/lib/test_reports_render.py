"""PDF and workbook rendering, read back with pypdf and openpyxl."""

import io
from datetime import date, datetime

import pandas as pd
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from reportlab.graphics.shapes import Drawing
from reportlab.platypus import Table

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.lib.analytics import cleaning, kpis, stock
from salesflow_pipelines.lib.backend.payloads import inventory_to_payload, products_from_payload, products_to_payload
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


def demo_products(data: DemoData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """The raw product snapshot of each day (`/products` joined with `/inventory`), as raw_products holds it."""
    snapshots = [
        products_from_payload(products_to_payload(data.products(day)), inventory_to_payload(data.inventory(day)), day)
        for day in days.date
    ]
    return pd.concat(snapshots, ignore_index=True)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """Two weeks of KPI tables from the demo shop (with costs, stock and inventory KPIs), computed by
    the KPI functions."""
    data, days = DemoData(orders_per_day=40), pd.date_range("2026-11-09", "2026-11-22")
    products = demo_products(data, days)
    lines = cleaning.clean_sales(data.sales_lines(days[0].date(), days[-1].date()), cleaning.category_lookup(products))
    costs = stock.unit_costs(products)
    product_daily = stock.named_from_catalog(kpis.product_daily(lines.lines, costs), products)
    snapshot = stock.stock_snapshot(products, lines.lines)
    inventory = stock.inventory_kpis(snapshot, product_daily, days)
    return {
        "daily_sales_kpis": kpis.daily_sales(lines.lines, days, costs),
        "product_daily_sales": product_daily,
        "region_daily_sales": kpis.region_daily(lines.lines),
        "category_daily_sales": kpis.category_daily(lines.lines, costs),
        "sales_rejects": lines.rejects,
        "customer_daily_kpis": kpis.customer_daily(lines.lines, days),
        "stock_kpis": stock.stock_kpis(snapshot, inventory),
        "product_inventory_kpis": inventory,
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
            "label": "HIGH_SPIKE",
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
            "model": "gradient_boosting",
            "generated_at": pd.Timestamp("2026-11-23 01:30"),
        }
    )


def forecast_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "generated_at": [pd.Timestamp("2026-11-23 01:30")],
            "horizon_days": [14],
            "trend": ["upward"],
            "total": [42000.0],
            "model": ["gradient_boosting"],
            "backtest_mape": [12.34],
        }
    )


def stock_alerts() -> pd.DataFrame:
    """Rows shaped like the `stock_alerts` table."""
    return pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-20", "2026-11-22"]),
            "product_id": [3, 5],
            "sku": ["SKU-0003", "SKU-0005"],
            "name": ["Basmati Rice 5kg", "Dish Soap 750ml"],
            "category": ["Grocery", "Household"],
            "status": ["OUT", "LOW"],
            "stock_quantity": [0, 4],
            "reorder_level": [5, 10],
            "avg_daily_units": [3.5, 2.0],
            "days_of_cover": [0.0, 2.0],
            "suggested_reorder_qty": [40, 26],
            "lead_time_days": 7,
            "safety_stock_days": 3,
            "stock_value": [0.0, 18.4],
        }
    )


def week_report(tables, **extra) -> SalesReport:
    return build_report(WEEK, generated_at=datetime(2026, 11, 23, 7, 0), **tables, **extra)


def pdf_text(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_pdf_holds_title_totals_sections_and_page_numbers(tables):
    report = week_report(
        tables,
        sales_anomalies=anomalies(1),
        sales_forecast=forecast(),
        sales_forecast_summary=forecast_summary(),
        stock_alerts=stock_alerts(),
    )
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
    words = " ".join(text.split())
    assert (
        "Forecast made 2026-11-23 01:30 by the gradient_boosting model: $42,000.00 over its 14 days, "
        "trend upward, backtest error (MAPE) 12.3%. The dashed line shows its days from Mon 23 Nov to Sun 29 Nov"
    ) in words
    assert "Stock alerts (LOW and OUT)" in text and "Basmati Rice 5kg" in text
    assert "Sun 22 Nov LOW SKU-0005 Dish Soap 750ml 4 10 2.0 26" in words  # the latest alert first
    assert "7 days of lead time plus 3 days of safety stock" in words
    assert "<Espresso Beans 1kg>" in words  # markup characters are escaped, not parsed
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


def test_a_long_anomaly_table_repeats_its_header_on_every_page_and_stops_at_40_rows(tables):
    pages = pdf_text(pdf.render_pdf(week_report(tables, sales_anomalies=anomalies(45))).content)
    with_anomalies = [page for page in pages if "High spike" in page]
    assert len(with_anomalies) >= 2
    assert all("What happened" in page for page in with_anomalies)
    assert sum(page.count("High spike") for page in pages) == pdf.MAX_PDF_ANOMALIES
    assert "… and 5 more (5 MEDIUM) in the workbook's Anomalies sheet." in " ".join(" ".join(pages).split())


def test_a_whole_shop_anomaly_stands_for_the_products_and_regions_that_moved_with_it(tables):
    shop = anomalies(1).assign(
        anomaly_id="shop", scope="total", scope_key="all", explanation="Revenue in the whole shop was high"
    )
    region = anomalies(1).assign(anomaly_id="north", scope="region", scope_key="North", explanation="North was high")
    medium_product = anomalies(2).iloc[[1]].assign(anomaly_id="p7", explanation="Product 7 was high")
    report = week_report(tables, sales_anomalies=pd.concat([medium_product, region, shop]))
    words = " ".join("\n".join(pdf_text(pdf.render_pdf(report).content)).split())
    assert "Revenue in the whole shop was high; 2 region and product anomalies of the same kind" in words
    assert "North was high" not in words and "Product 7 was high" not in words
    assert report.anomalies["anomaly_id"].tolist() == ["shop", "north", "p7"]  # the workbook keeps all


def test_a_period_without_sales_renders_a_clear_pdf_and_workbook(tables):
    nothing = {name: frame.iloc[0:0] for name, frame in tables.items()}
    report = build_report(WEEK, sales_anomalies=anomalies(0), **nothing)
    text = "\n".join(pdf_text(pdf.render_pdf(report).content))
    assert "No sales in this period" in text and "No MEDIUM or HIGH anomalies in this week." in text
    workbook = load_workbook(io.BytesIO(render_xlsx(report).content))
    assert workbook["Summary"]["A3"].value == "No sales in this period."
    assert workbook["Summary"]._charts == []
    assert workbook["Daily"]["A2"].value == "No KPI data for this period."


def test_workbook_sheets_typed_cells_headers_filters_and_charts(tables):
    report = week_report(tables, sales_anomalies=anomalies(2))
    rendered = render_xlsx(report)
    workbook = load_workbook(io.BytesIO(rendered.content))
    assert workbook.sheetnames == list(SHEETS) and rendered.sheets == 13
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
    assert workbook["Forecast"]["A2"].value == "No forecast yet: one is made after each day's sales are loaded."
    assert workbook["Stock"]["A2"].value == "No LOW or OUT stock alerts in this week."


def test_workbook_forecast_and_stock_sheets_hold_the_rows(tables):
    report = week_report(
        tables, sales_forecast=forecast(), sales_forecast_summary=forecast_summary(), stock_alerts=stock_alerts()
    )
    workbook = load_workbook(io.BytesIO(render_xlsx(report).content))
    forecast_rows = list(workbook["Forecast"].iter_rows(min_row=2, values_only=True))
    assert [(day.date(), predicted, lower, upper) for day, predicted, lower, upper in forecast_rows] == [
        (date(2026, 11, 23) + pd.Timedelta(days=offset), 3000.0, 2400.0, 3600.0) for offset in range(7)
    ]
    stock = workbook["Stock"]
    assert [cell.value for cell in stock[1]][6:9] == ["In stock", "Reorder level", "Avg daily units"]
    assert [row[1:5] + row[6:8] + row[9:11] for row in stock.iter_rows(min_row=2, values_only=True)] == [
        ("LOW", 5, "SKU-0005", "Dish Soap 750ml", 4, 10, 2.0, 26),
        ("OUT", 3, "SKU-0003", "Basmati Rice 5kg", 0, 5, 0.0, 40),
    ]
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(min_row=1, values_only=True) if row[0]}
    assert summary["Forecast total, next 14 days"] == 42000.0 and summary["Forecast trend"] == "upward"
    assert summary["Products LOW or OUT"] == 2


def sheet_rows(workbook, name: str) -> list[tuple]:
    return list(workbook[name].iter_rows(min_row=2, values_only=True))


def test_pdf_holds_the_margin_customer_and_stock_health_sections(tables):
    report = week_report(tables)
    words = " ".join("\n".join(pdf_text(pdf.render_pdf(report).content)).split())
    margins, health, customers = report.margins, report.stock_health, report.customers
    for heading in ("Margins", "Customers", "Stock health", "Gross margin", "New customers", "Returning customers"):
        assert heading in words, heading
    assert (
        f"Gross margin {report.money(margins.gross_margin)} ({margins.margin_pct:.1f}% of "
        f"{report.money(margins.revenue)} revenue) after {report.money(margins.cost_of_goods)} cost of goods."
    ) in words
    for row in margins.categories.itertuples():
        assert f"{row.category} {report.money(row.revenue)} {report.money(row.cost_of_goods)}" in words
    best, worst = margins.top().iloc[0], margins.bottom().iloc[0]
    assert f"Highest {best.product_name} {best.sku} {report.money(best.revenue)}" in words
    assert f"Lowest {worst.product_name} {worst.sku} {report.money(worst.revenue)}" in words
    assert f"{customers.new_customers:,} new and {customers.returning_customers:,} returning" in words
    assert f"As of Sun 22 Nov: inventory turns over {health.figures['inventory_turnover']:,.2f} times a year" in words
    assert f"{report.money(health.figures['dead_stock_value'])} (nothing sold in 90 days)" in words
    for row in health.abc.itertuples():
        assert f"{row.abc_class} {row.products} {report.money(row.revenue_90d)}" in words
    for row in health.slow_movers.head(3).itertuples():
        assert f"{row.name} {row.sku} {row.abc_class}" in words
    assert "Largest estimated lost sales" in words and len(health.lost_sales)


def test_workbook_margin_stock_health_and_customer_sheets_hold_the_report_figures(tables):
    report = week_report(tables)
    workbook = load_workbook(io.BytesIO(render_xlsx(report).content))
    margins, health, customers = report.margins, report.stock_health, report.customers
    assert [row[:4] for row in sheet_rows(workbook, "Margins")] == [
        (row.category, row.revenue, row.cost_of_goods, row.gross_margin) for row in margins.categories.itertuples()
    ]
    assert [row[4] for row in sheet_rows(workbook, "Margins")] == pytest.approx(
        (margins.categories["margin_pct"] / 100).tolist()
    )
    product_margins = sheet_rows(workbook, "Product margins")
    assert [row[0] for row in product_margins] == margins.products["product_id"].tolist()
    assert [row[6] for row in product_margins] == margins.products["gross_margin"].tolist()
    stock_health = sheet_rows(workbook, "Stock health")
    assert [(row[1], row[5]) for row in stock_health] == list(
        zip(health.products["product_id"], health.products["abc_class"], strict=True)
    )
    assert {row[0].date() for row in stock_health} == {date(2026, 11, 22)}
    assert [row[1:3] for row in sheet_rows(workbook, "Customers")] == list(
        zip(customers.daily["new_customers"], customers.daily["returning_customers"], strict=True)
    )
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(min_row=1, values_only=True) if row[0]}
    assert summary["Gross margin"] == margins.gross_margin and summary["Cost of goods"] == margins.cost_of_goods
    assert summary["New customers"] == customers.new_customers
    assert summary["Repeat rate"] == customers.repeat_rate
    assert summary["Inventory turnover (per year)"] == health.figures["inventory_turnover"]
    assert summary["Dead stock value"] == health.figures["dead_stock_value"]
    assert summary["Lost sales, last 28 days (estimate)"] == health.figures["lost_sales_estimate"]
    assert summary["Stock health as of"].date() == date(2026, 11, 22)


def test_new_sheets_keep_formula_like_names_as_text(tables):
    hostile = '=HYPERLINK("http://evil.example","x")'
    products = tables["product_daily_sales"].assign(product_name=hostile, sku="+1+2", category="@cmd")
    inventory = tables["product_inventory_kpis"].assign(name=hostile, sku="-2+3", category="=SUM(A1:A9)")
    categories = tables["category_daily_sales"].assign(category="=1+1")
    report = week_report(
        {
            **tables,
            "product_daily_sales": products,
            "product_inventory_kpis": inventory,
            "category_daily_sales": categories,
        }
    )
    workbook = load_workbook(io.BytesIO(render_xlsx(report).content))
    for sheet, letters in (("Margins", "A"), ("Product margins", "BCD"), ("Stock health", "CDEF")):
        for letter in letters:
            cells = workbook[sheet][letter][1:]
            assert cells and {cell.data_type for cell in cells} == {"s"}, (sheet, letter)
    assert workbook["Product margins"]["C2"].value == hostile == workbook["Stock health"]["D2"].value


def test_a_period_before_any_cost_or_inventory_kpis_says_so(tables):
    """Tables written before margins existed (no cost columns) and no inventory KPIs yet: n/a, never 0."""
    old = {
        name: frame.drop(columns=["cost_of_goods", "gross_margin", "margin_pct"], errors="ignore")
        for name, frame in tables.items()
        if name not in ("stock_kpis", "product_inventory_kpis", "customer_daily_kpis")
    }
    report = week_report(old)
    assert report.margins.gross_margin is None and report.margins.revenue_without_cost == report.revenue
    words = " ".join("\n".join(pdf_text(pdf.render_pdf(report).content)).split())
    assert "No cost of goods for this week: no margin to show." in words
    assert "No inventory KPIs in this week yet (materialize product_inventory_kpis)." in words
    assert "No customer KPIs for this week yet." in words
    workbook = load_workbook(io.BytesIO(render_xlsx(report).content))
    assert workbook["Stock health"]["A2"].value.startswith("No inventory KPIs in this week yet")
    assert workbook["Customers"]["A2"].value.startswith("No customer KPIs for this period")
