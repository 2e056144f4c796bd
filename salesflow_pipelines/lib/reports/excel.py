"""The Excel workbook (OpenPyXL): typed cells, frozen bold headers, filters and native charts."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from salesflow_pipelines.lib.reports.model import TOP_PRODUCTS, SalesReport
from salesflow_pipelines.lib.xlsx_text import as_text

SHEETS = (
    "Summary",
    "Daily",
    "Products",
    "Regions",
    "Categories",
    "Margins",
    "Product margins",
    "Stock health",
    "Customers",
    "Forecast",
    "Anomalies",
    "Stock",
    "Rejects",
)
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
INTEGER_FORMAT = "#,##0"
NUMBER_FORMAT = "General"  # "#,##0.##" would show whole numbers with a trailing dot ("1,895.")
PERCENT_FORMAT = "0.0%"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="1E3A5F")
MAX_WIDTH = 60


@dataclass(frozen=True)
class Column:
    header: str
    kind: str  # money, integer, number, percent, date, datetime, text
    value: Callable[[object], object]


@dataclass(frozen=True)
class RenderedWorkbook:
    content: bytes
    sheets: int


def money_format(report: SalesReport) -> str:
    if report.currency_symbol:
        return f'"{report.currency_symbol}"#,##0.00;-"{report.currency_symbol}"#,##0.00'
    return f'#,##0.00" {report.currency}"'


def render_xlsx(report: SalesReport) -> RenderedWorkbook:
    """The report as an .xlsx workbook, with its sheet count."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    sheets = {name: workbook.create_sheet(name) for name in SHEETS}
    money = money_format(report)
    daily_rows = write_table(sheets["Daily"], report.daily, DAILY_COLUMNS, money, "No KPI data for this period.")
    product_rows = write_table(
        sheets["Products"], report.products, PRODUCT_COLUMNS, money, "No product sales in this period."
    )
    region_rows = write_table(sheets["Regions"], report.regions, REGION_COLUMNS, money, "No sales in this period.")
    category_rows = write_table(
        sheets["Categories"], report.categories, CATEGORY_COLUMNS, money, "No sales in this period."
    )
    forecast = report.forecast.days if report.forecast is not None else None
    write_table(sheets["Forecast"], forecast, FORECAST_COLUMNS, money, report.placeholders["forecast"])
    write_table(sheets["Anomalies"], report.anomalies, ANOMALY_COLUMNS, money, report.placeholders["anomalies"])
    write_table(sheets["Stock"], report.stock_alerts, STOCK_COLUMNS, money, report.placeholders["stock_alerts"])
    if report.forecast_accuracy is not None:  # monthly: how good the forecasts of its days were
        accuracy = workbook.create_sheet("Forecast accuracy", index=workbook.sheetnames.index("Forecast") + 1)
        view = report.forecast_accuracy
        write_table(accuracy, view.by_horizon.round(4), ACCURACY_COLUMNS, money, view.placeholder)
    write_table(sheets["Rejects"], report.rejects, REJECT_COLUMNS, money, "No rejected sale lines in this period.")
    margins, health, customers = report.margins, report.stock_health, report.customers
    write_table(
        sheets["Margins"], margins and margins.categories, MARGIN_CATEGORY_COLUMNS, money, "No sales in this period."
    )
    write_table(
        sheets["Product margins"],
        margins and margins.products,
        MARGIN_PRODUCT_COLUMNS,
        money,
        "No product sales in this period.",
    )
    write_table(
        sheets["Stock health"], health and health.products, STOCK_HEALTH_COLUMNS, money, stock_health_missing(report)
    )
    write_table(
        sheets["Customers"],
        customers and customers.daily,
        CUSTOMER_COLUMNS,
        money,
        "No customer KPIs for this period (materialize customer_daily_kpis for its days).",
    )
    write_summary(sheets["Summary"], report, money)
    if report.has_sales:
        add_summary_charts(sheets, daily_rows, product_rows, region_rows, category_rows)
    workbook.properties.title = f"Sales report {report.period.label}"
    workbook.properties.creator = "SalesFlow Pipelines"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return RenderedWorkbook(buffer.getvalue(), len(workbook.sheetnames))


def write_table(
    sheet: Worksheet, frame: pd.DataFrame | None, columns: Sequence[Column], money: str, empty_message: str
) -> int:
    """Header row (bold, frozen, filtered) and one typed row per frame row; returns the row count."""
    for index, column in enumerate(columns, start=1):
        cell = as_text(sheet.cell(row=1, column=index, value=column.header))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    sheet.freeze_panes = "A2"
    rows = 0 if frame is None else len(frame)
    if rows:
        for row_index, row in enumerate(frame.itertuples(index=False), start=2):
            for column_index, column in enumerate(columns, start=1):
                value = _cell_value(column.value(row), column.kind)
                cell = as_text(sheet.cell(row=row_index, column=column_index, value=value))
                cell.number_format = _number_format(column.kind, money)
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    else:
        as_text(sheet.cell(row=2, column=1, value=empty_message)).font = Font(italic=True)
    fit_columns(sheet, columns, frame, skip_rows=() if rows else (2,))
    return rows


def write_summary(sheet: Worksheet, report: SalesReport, money: str) -> None:
    period = report.period
    as_text(sheet.cell(row=1, column=1, value=f"Sales report · {period.title}")).font = Font(bold=True, size=16)
    as_text(sheet.cell(row=2, column=1, value=period.span)).font = Font(italic=True, color="616E7C")
    if not report.has_sales:
        no_sales = as_text(sheet.cell(row=3, column=1, value="No sales in this period."))
        no_sales.font = Font(bold=True, color="B91C1C", size=12)
    header = ["Metric", "This period", "Previous period", "Change"]
    for index, text in enumerate(header, start=1):
        cell = as_text(sheet.cell(row=5, column=index, value=text))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for row_index, kpi in enumerate(report.kpis, start=6):
        kind = {"money": "money", "count": "integer"}.get(kpi.unit, "number")
        as_text(sheet.cell(row=row_index, column=1, value=kpi.name))
        for column, value in ((2, kpi.value), (3, kpi.previous)):
            cell = sheet.cell(row=row_index, column=column, value=value)
            cell.number_format = _number_format(kind, money)
        change = sheet.cell(row=row_index, column=4, value=None if kpi.change_pct is None else kpi.change_pct / 100)
        change.number_format = "+0.0%;-0.0%;0.0%"
    sheet.freeze_panes = "A6"
    line = 6 + len(report.kpis) + 1
    facts = [
        ("Days with KPI data", report.days_with_data, INTEGER_FORMAT),
        ("Days in period", period.day_count, INTEGER_FORMAT),
        ("Rejected sale lines", len(report.rejects), INTEGER_FORMAT),
        *((f"  rejected: {reason}", int(count), INTEGER_FORMAT) for reason, count in report.rejects_by_reason.items()),
        ("MEDIUM / HIGH anomalies", len(report.anomalies), INTEGER_FORMAT),
        ("Products LOW or OUT", len(report.stock_alerts), INTEGER_FORMAT),
        *forecast_facts(report, money),
        *margin_facts(report, money),
        *stock_health_facts(report, money),
        *customer_facts(report),
        ("Generated at", report.generated_at.replace(tzinfo=None), DATETIME_FORMAT),
    ]
    for offset, (label, value, number_format) in enumerate(facts):
        as_text(sheet.cell(row=line + offset, column=1, value=label))
        as_text(sheet.cell(row=line + offset, column=2, value=value)).number_format = number_format
    for note_offset, note in enumerate([kpi.note and f"{kpi.name}: {kpi.note}" for kpi in report.kpis] + report.notes):
        if note:
            note_cell = as_text(sheet.cell(row=line + len(facts) + 1 + note_offset, column=1, value=note))
            note_cell.font = Font(italic=True)
    sheet.column_dimensions["A"].width = 26
    for letter in "BCD":
        sheet.column_dimensions[letter].width = 18


def forecast_facts(report: SalesReport, money: str) -> list[tuple[str, object, str]]:
    """The forecast's total over its horizon, trend and model for the Summary, or why there is none."""
    forecast = report.forecast
    if forecast is None:
        return [("Forecast", report.placeholders["forecast"], "General")]
    return [
        (f"Forecast total, next {forecast.horizon_days} days", forecast.total, money),
        ("Forecast trend", forecast.trend, "General"),
        ("Forecast model", forecast.model, "General"),
    ]


def stock_health_missing(report: SalesReport) -> str:
    return f"No inventory KPIs in this {report.period.noun} yet (materialize product_inventory_kpis and stock_kpis)."


def margin_facts(report: SalesReport, money: str) -> list[tuple[str, object, str]]:
    """The period's margin over the days with a cost of goods, and the revenue of the days without."""
    margins = report.margins
    if margins is None:
        return []
    return [
        ("Cost of goods", margins.cost_of_goods, money),
        ("Margin %", None if margins.margin_pct is None else margins.margin_pct / 100, PERCENT_FORMAT),
        ("Revenue without a known cost", margins.revenue_without_cost, money),
    ]


def stock_health_facts(report: SalesReport, money: str) -> list[tuple[str, object, str]]:
    """The stock on the period's last day with inventory KPIs, or why there is none."""
    health = report.stock_health
    if health is None or health.as_of is None:
        return [("Stock health", stock_health_missing(report), "General")]
    figures = health.figures
    share = figures.get("a_class_revenue_share")
    abc = health.abc.set_index("abc_class")["products"]
    return [
        ("Stock health as of", health.as_of, DATE_FORMAT),
        ("Inventory turnover (per year)", figures.get("inventory_turnover"), "0.00"),
        ("A products (B, C)", f"{abc['A']} ({abc['B']}, {abc['C']})", "General"),
        ("A products' share of 90-day revenue", share, PERCENT_FORMAT),
        ("Slow movers", figures.get("slow_moving_products"), INTEGER_FORMAT),
        ("Slow-moving stock value", figures.get("slow_moving_stock_value"), money),
        ("Dead stock products", figures.get("dead_stock_products"), INTEGER_FORMAT),
        ("Dead stock value", figures.get("dead_stock_value"), money),
        ("Lost sales, last 28 days (estimate)", figures.get("lost_sales_estimate"), money),
    ]


def customer_facts(report: SalesReport) -> list[tuple[str, object, str]]:
    customers = report.customers
    if customers is None or customers.repeat_rate is None:
        return []
    return [("Repeat rate", customers.repeat_rate, PERCENT_FORMAT)]


def add_summary_charts(sheets: dict[str, Worksheet], days: int, products: int, regions: int, categories: int) -> None:
    """Native Excel charts on Summary, drawing from the data sheets."""
    summary = sheets["Summary"]
    daily = sheets["Daily"]
    revenue = LineChart()
    revenue.title, revenue.y_axis.title, revenue.height, revenue.width = "Daily revenue", "Revenue", 7.5, 16
    revenue.add_data(Reference(daily, min_col=2, min_row=1, max_row=days + 1), titles_from_data=True)
    revenue.set_categories(Reference(daily, min_col=1, min_row=2, max_row=days + 1))
    revenue.x_axis.number_format = "d mmm"
    revenue.legend = None
    summary.add_chart(revenue, "F2")

    top = min(products, TOP_PRODUCTS)
    product_chart = _bar_chart(f"Top {top} products by revenue", sheets["Products"], 3, 5, top)
    summary.add_chart(product_chart, "F18")

    summary.add_chart(_bar_chart("Revenue by region", sheets["Regions"], 1, 2, regions), "F36")
    category_chart = PieChart()
    category_chart.title, category_chart.height, category_chart.width = "Revenue by category", 7.5, 16
    categories_sheet = sheets["Categories"]
    category_chart.add_data(
        Reference(categories_sheet, min_col=2, min_row=1, max_row=categories + 1), titles_from_data=True
    )
    category_chart.set_categories(Reference(categories_sheet, min_col=1, min_row=2, max_row=categories + 1))
    summary.add_chart(category_chart, "F52")


def _bar_chart(title: str, sheet: Worksheet, label_column: int, value_column: int, rows: int) -> BarChart:
    chart = BarChart()
    chart.type = "bar"
    chart.title, chart.height, chart.width = title, max(6.0, 1.0 + 0.65 * rows), 16
    chart.add_data(Reference(sheet, min_col=value_column, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=label_column, min_row=2, max_row=rows + 1))
    chart.x_axis.scaling.orientation = "maxMin"  # largest on top, as listed
    chart.legend = None
    return chart


def fit_columns(sheet: Worksheet, columns: Sequence[Column], frame: pd.DataFrame | None, skip_rows=()) -> None:
    """Widths from the longest displayed value of each column (header included)."""
    for index, column in enumerate(columns, start=1):
        widest = len(column.header) + 3  # room for the filter button
        for row in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell = row[0]
            if cell.row in skip_rows or cell.value is None:
                continue
            widest = max(widest, _display_width(cell.value, column.kind))
        sheet.column_dimensions[get_column_letter(index)].width = min(widest + 2, MAX_WIDTH)


def _display_width(value, kind: str) -> int:
    if kind in ("date",):
        return 10
    if kind == "datetime":
        return 16
    if kind == "money":
        return len(f"{value:,.2f}") + 2
    if kind == "percent":
        return 7
    if kind in ("integer", "number") and isinstance(value, int | float):
        return len(f"{value:,.2f}")
    return len(str(value))


def _cell_value(value, kind: str):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind == "date":
        return pd.Timestamp(value).date()
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        return (stamp.tz_localize(None) if stamp.tzinfo else stamp).to_pydatetime()
    if kind == "integer":
        return int(value)
    if kind in ("money", "number", "percent"):
        return float(value)
    return str(value)


def _number_format(kind: str, money: str) -> str:
    return {
        "money": money,
        "integer": INTEGER_FORMAT,
        "number": NUMBER_FORMAT,
        "percent": PERCENT_FORMAT,
        "date": DATE_FORMAT,
        "datetime": DATETIME_FORMAT,
    }.get(kind, "General")


def _field(name: str) -> Callable[[object], object]:
    return lambda row: getattr(row, name, None)


def _columns(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(header, kind, _field(name)) for header, kind, name in specs)


DAILY_COLUMNS = _columns(
    ("Date", "date", "sale_date"),
    ("Revenue", "money", "revenue"),
    ("Orders", "integer", "orders"),
    ("Units", "number", "units"),
    ("Avg order value", "money", "avg_order_value"),
    ("Customers", "integer", "unique_customers"),
    ("Refunded", "money", "refunded_amount"),
) + (
    Column(
        "Growth vs week before",
        "percent",
        lambda row: None if pd.isna(row.revenue_growth_pct) else row.revenue_growth_pct / 100,
    ),
)
PRODUCT_COLUMNS = _columns(
    ("Product ID", "integer", "product_id"),
    ("SKU", "text", "sku"),
    ("Product", "text", "product_name"),
    ("Category", "text", "category"),
    ("Revenue", "money", "revenue"),
    ("Units", "number", "units"),
    ("Orders", "integer", "orders"),
    ("Share of revenue", "percent", "share"),
)
REGION_COLUMNS = _columns(
    ("Region", "text", "region"),
    ("Revenue", "money", "revenue"),
    ("Orders", "integer", "orders"),
    ("Units", "number", "units"),
    ("Customers", "integer", "unique_customers"),
    ("Share of revenue", "percent", "share"),
)
CATEGORY_COLUMNS = _columns(
    ("Category", "text", "category"),
    ("Revenue", "money", "revenue"),
    ("Units", "number", "units"),
    ("Discount rate", "percent", "discount_rate"),
    ("Share of revenue", "percent", "share"),
)
FORECAST_COLUMNS = _columns(
    ("Date", "date", "forecast_date"),
    ("Predicted revenue", "money", "predicted_revenue"),
    ("Lower", "money", "lower"),
    ("Upper", "money", "upper"),
)
ANOMALY_COLUMNS = _columns(
    ("Date", "date", "sale_date"),
    ("Severity", "text", "severity"),
    ("Scope", "text", "scope"),
    ("Scope key", "text", "scope_key"),
    ("Metric", "text", "metric"),
    ("Value", "number", "value"),
    ("Expected", "number", "expected"),
    ("z-score", "number", "z_score"),
    ("Label", "text", "label"),
    ("Explanation", "text", "explanation"),
)
REJECT_COLUMNS = _columns(
    ("Date", "date", "sale_date"),
    ("Sale ID", "integer", "sale_id"),
    ("Line", "integer", "line_no"),
    ("Reason", "text", "reason"),
    ("Detail", "text", "detail"),
)
MARGIN_CATEGORY_COLUMNS = _columns(
    ("Category", "text", "category"),
    ("Revenue with a cost", "money", "revenue"),
    ("Cost of goods", "money", "cost_of_goods"),
    ("Gross margin", "money", "gross_margin"),
) + (
    Column("Margin %", "percent", lambda row: None if pd.isna(row.margin_pct) else row.margin_pct / 100),
    Column("Revenue without a cost", "money", _field("revenue_without_cost")),
)
MARGIN_PRODUCT_COLUMNS = (
    _columns(("Product ID", "integer", "product_id"), ("SKU", "text", "sku"), ("Product", "text", "product_name"))
    + (Column("Category", "text", _field("category")),)
    + MARGIN_CATEGORY_COLUMNS[1:]
)
STOCK_HEALTH_COLUMNS = _columns(
    ("Date", "date", "snapshot_date"),
    ("Product ID", "integer", "product_id"),
    ("SKU", "text", "sku"),
    ("Product", "text", "name"),
    ("Category", "text", "category"),
    ("ABC class", "text", "abc_class"),
    ("In stock", "integer", "stock_quantity"),
    ("Stock value", "money", "stock_value"),
    ("Units, 90 days", "number", "units_90d"),
    ("Revenue, 90 days", "money", "revenue_90d"),
    ("Turnover per year", "number", "inventory_turnover"),
    ("Sell-through, 28 days", "percent", "sell_through_rate"),
    ("Days of cover", "number", "days_of_cover"),
    ("Days since last sale", "integer", "days_since_last_sale"),
) + (
    Column("Slow mover", "text", lambda row: "yes" if row.slow_mover == 1 else ""),
    Column("Out-of-stock days, 28", "integer", _field("out_of_stock_days_28d")),
    Column("Lost sales, 28 days", "money", _field("lost_sales_estimate")),
)
CUSTOMER_COLUMNS = _columns(
    ("Date", "date", "sale_date"),
    ("New customers", "integer", "new_customers"),
    ("Returning customers", "integer", "returning_customers"),
    ("Repeat rate", "percent", "repeat_rate"),
)
STOCK_COLUMNS = _columns(
    ("Last alert", "date", "snapshot_date"),
    ("Status", "text", "status"),
    ("Product ID", "integer", "product_id"),
    ("SKU", "text", "sku"),
    ("Product", "text", "name"),
    ("Category", "text", "category"),
    ("In stock", "integer", "stock_quantity"),
    ("Reorder level", "integer", "reorder_level"),
    ("Avg daily units", "number", "avg_daily_units"),
    ("Days of cover", "number", "days_of_cover"),
    ("Suggested reorder", "integer", "suggested_reorder_qty"),
    ("Stock value", "money", "stock_value"),
    ("Forecast demand (lead + safety days)", "number", "forecast_demand_units"),
    ("Runs out", "date", "expected_stockout_date"),
)
ACCURACY_COLUMNS = _columns(
    ("Scope", "text", "scope"),
    ("Days ahead", "integer", "horizon_day"),
    ("Forecasts", "integer", "forecasts"),
    ("MAPE %", "number", "mape"),
    ("MASE", "number", "mase"),
    ("In 80% band", "percent", "coverage"),
)
