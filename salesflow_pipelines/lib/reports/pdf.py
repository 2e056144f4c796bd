"""The printable PDF report (ReportLab platypus): A4 portrait, page numbers, wrapped tables."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

import pandas as pd
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from salesflow_pipelines.lib.analytics.stock import (
    ABC_CUMULATIVE_PCT,
    COVER_WINDOW_DAYS,
    INVENTORY_WINDOW_DAYS,
    SLOW_MOVER_COVER_DAYS,
)
from salesflow_pipelines.lib.reports import charts
from salesflow_pipelines.lib.reports.model import (
    LISTED_STOCK_PRODUCTS,
    MARGIN_PRODUCTS,
    TOP_PRODUCTS,
    Kpi,
    SalesReport,
    day_label,
    folded_into_shop,
)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
GOOD = colors.HexColor("#15803D")
BAD = colors.HexColor("#B91C1C")
HEADER_FILL = colors.HexColor("#1E3A5F")
ZEBRA = colors.HexColor("#F3F6F9")
RULE = colors.HexColor("#CBD2D9")
ALARMS = ("HIGH", "OUT")
SHORT_TABLE_ROWS = 12
MAX_PDF_ANOMALIES = 40  # a printed report stays readable; the workbook's Anomalies sheet has every one

STYLES = {
    "title": ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=20, leading=24, textColor=charts.INK),
    "subtitle": ParagraphStyle("subtitle", fontName="Helvetica", fontSize=10.5, leading=14, textColor=charts.MUTED),
    "h2": ParagraphStyle(
        "h2", fontName="Helvetica-Bold", fontSize=13, leading=16, textColor=charts.INK, spaceBefore=10, spaceAfter=5
    ),
    "body": ParagraphStyle("body", fontName="Helvetica", fontSize=9.5, leading=13, textColor=charts.INK),
    "note": ParagraphStyle("note", fontName="Helvetica-Oblique", fontSize=8.5, leading=11, textColor=charts.MUTED),
    "empty": ParagraphStyle(
        "empty",
        fontName="Helvetica-Bold",
        fontSize=12,
        leading=16,
        textColor=charts.INK,
        backColor=colors.HexColor("#FEF3C7"),
        borderPadding=8,
        spaceBefore=6,
        spaceAfter=12,
    ),
    "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10, textColor=charts.INK),
    "cell_right": ParagraphStyle(
        "cell_right", fontName="Helvetica", fontSize=8, leading=10, textColor=charts.INK, alignment=TA_RIGHT
    ),
    "bold": ParagraphStyle("bold", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=charts.INK),
    "bold_right": ParagraphStyle(
        "bold_right", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=charts.INK, alignment=TA_RIGHT
    ),
    "alarm": ParagraphStyle("alarm", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=BAD),
    "head": ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=colors.white),
    "head_right": ParagraphStyle(
        "head_right", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=colors.white, alignment=TA_RIGHT
    ),
    "kpi_label": ParagraphStyle("kpi_label", fontName="Helvetica", fontSize=8.5, leading=10, textColor=charts.MUTED),
    "kpi_value": ParagraphStyle("kpi_value", fontName="Helvetica-Bold", fontSize=15, leading=19, textColor=charts.INK),
    "kpi_change": ParagraphStyle("kpi_change", fontName="Helvetica", fontSize=8, leading=10, textColor=charts.MUTED),
}


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    pages: int


def render_pdf(report: SalesReport) -> RenderedPdf:
    """The report as PDF bytes, with its page count."""
    buffer = io.BytesIO()
    pages: list[int] = []
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 4 * mm,
        bottomMargin=MARGIN + 2 * mm,
        title=f"Sales report {report.period.label}",
        subject=f"SalesFlow sales report, {report.period.title}",
        author="SalesFlow Pipelines",
        creator="SalesFlow Pipelines",
    )
    footer = f"SalesFlow sales report {report.period.label}  ·  generated {report.generated_at:%Y-%m-%d %H:%M}"
    document.build(story(report), canvasmaker=_numbered_canvas(footer, pages))
    return RenderedPdf(buffer.getvalue(), pages[0])


def story(report: SalesReport) -> list:
    """Every flowable of the report, top to bottom."""
    period = report.period
    parts: list = [
        Paragraph(f"Sales report · {escape(period.title)}", STYLES["title"]),
        Paragraph(escape(period.span), STYLES["subtitle"]),
        Spacer(0, 8),
    ]
    if not report.has_sales:
        parts.append(
            Paragraph(
                f"No sales in this period. The {period.noun} from {period.start:%d %b %Y} to "
                f"{period.last_day:%d %b %Y} has no completed sales in the warehouse.",
                STYLES["empty"],
            )
        )
    parts += [Paragraph("Summary", STYLES["h2"]), kpi_cards(report), Spacer(0, 4), data_quality_line(report)]
    parts += [Paragraph(escape(note), STYLES["note"]) for note in report.notes]
    parts += revenue_section(report)
    if report.has_sales:
        parts += breakdown_sections(report)
        parts += margin_section(report)
    parts += customer_section(report)
    parts += stock_health_section(report)
    parts += anomaly_section(report)
    parts += stock_section(report)
    parts += accuracy_section(report)
    return parts


def kpi_cards(report: SalesReport) -> Table:
    """Six cards, three per row: the value, then the change against the previous period."""
    cards = [_kpi_card(report, kpi) for kpi in report.kpis]
    rows = [cards[index : index + 3] for index in range(0, len(cards), 3)]
    table = Table(rows, colWidths=[CONTENT_WIDTH / 3] * 3)
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                ("INNERGRID", (0, 0), (-1, -1), 0.6, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


def _kpi_card(report: SalesReport, kpi: Kpi) -> list:
    value = _format_kpi(report, kpi, kpi.value)
    change = kpi.change_pct
    noun = report.period.noun
    previous = f"previous {noun}: {_format_kpi(report, kpi, kpi.previous)}"
    if kpi.previous is None:
        change_text = f"no data for the previous {noun}"
    elif change is None:
        change_text = previous
    else:
        good = (change >= 0) == kpi.higher_is_better or abs(change) < 0.05
        color = GOOD if good else BAD
        change_text = f'<font color="{color.hexval()}"><b>{change:+.1f}%</b></font> vs {previous}'
    card = [
        Paragraph(escape(kpi.name), STYLES["kpi_label"]),
        Paragraph(escape(value), STYLES["kpi_value"]),
        Paragraph(change_text, STYLES["kpi_change"]),
    ]
    if kpi.note:
        card.append(Paragraph(escape(kpi.note), STYLES["kpi_change"]))
    return card


def revenue_section(report: SalesReport) -> list:
    parts = [CondPageBreak(260), Paragraph("Daily revenue", STYLES["h2"])]
    if report.has_sales or report.forecast is not None:
        parts.append(charts.revenue_chart(report.daily, report.period.days, report.forecast, CONTENT_WIDTH))
    parts.append(Paragraph(escape(_forecast_note(report)), STYLES["note"]))
    if report.has_sales:
        parts += [Spacer(0, 6), daily_table(report)]
    return parts


def _forecast_note(report: SalesReport) -> str:
    """Which forecast the chart shows and how far to trust it, or why there is none."""
    forecast = report.forecast
    if forecast is None:
        return report.placeholders["forecast"]
    made = f" made {forecast.generated_at:%Y-%m-%d %H:%M}" if forecast.generated_at is not None else ""
    model = f" by the {forecast.model} model" if forecast.model else ""
    facts = []
    if forecast.total is not None and forecast.horizon_days:
        facts.append(f"{report.money(forecast.total)} over its {forecast.horizon_days} days")
    if forecast.trend:
        facts.append(f"trend {forecast.trend.lower()}")
    if forecast.backtest_mape is not None:
        facts.append(f"backtest error (MAPE) {forecast.backtest_mape:.1f}%")
    shown = forecast.days["forecast_date"]
    return (
        f"Forecast{made}{model}{': ' + ', '.join(facts) if facts else ''}. The dashed line shows its days "
        f"from {day_label(shown.min())} to {day_label(shown.max())}; the shaded band is its 80% interval."
    )


def daily_table(report: SalesReport) -> Table:
    rows = [
        [
            day_label(row.sale_date),
            report.money(row.revenue),
            f"{int(row.orders):,}",
            _number(row.units),
            report.money(row.avg_order_value),
            f"{int(row.unique_customers):,}",
            report.money(row.refunded_amount),
            "n/a" if pd.isna(row.revenue_growth_pct) else f"{row.revenue_growth_pct:+.1f}%",
        ]
        for row in report.daily.itertuples()
    ]
    rows.append(
        [
            "Total",
            report.money(report.revenue),
            f"{report.orders:,}",
            _number(report.daily["units"].sum()),
            _format_kpi(report, report.kpis[3], report.kpis[3].value),
            f"{int(report.daily['unique_customers'].sum()):,}",
            report.money(report.daily["refunded_amount"].sum()),
            "",
        ]
    )
    header = ["Day", "Revenue", "Orders", "Units", "Avg order", "Customers", "Refunds", "vs week before"]
    widths = [0.13, 0.16, 0.09, 0.1, 0.13, 0.11, 0.13, 0.15]
    table = data_table(header, rows, widths, numeric_from=1, total_row=True)
    return table


def revenue_bars(
    frame: pd.DataFrame,
    label_column: str,
    width: float,
    money: Callable[[float], str],
    title: str | None = None,
    max_label_chars: int = 18,
) -> Drawing:
    """A bar chart of `frame`'s revenue, one bar per `label_column` value."""
    labels = frame[label_column].astype(str).tolist()
    values = frame["revenue"].astype(float).tolist()
    return charts.bar_chart(labels, values, width, money, title=title, max_label_chars=max_label_chars)


def breakdown_sections(report: SalesReport) -> list:
    top = report.products.head(TOP_PRODUCTS)
    parts = [
        CondPageBreak(300),
        Paragraph(f"Top {len(top)} products by revenue", STYLES["h2"]),
        revenue_bars(top, "product_name", CONTENT_WIDTH, report.money, max_label_chars=40),
        Spacer(0, 4),
        data_table(
            ["#", "Product", "SKU", "Category", "Revenue", "Units", "Orders", "Share"],
            [
                [
                    str(rank),
                    row.product_name,
                    row.sku,
                    row.category,
                    report.money(row.revenue),
                    _number(row.units),
                    f"{int(row.orders):,}",
                    _percent(row.share),
                ]
                for rank, row in enumerate(top.itertuples(), start=1)
            ],
            [0.05, 0.31, 0.13, 0.14, 0.13, 0.08, 0.08, 0.08],
            numeric_from=4,
        ),
    ]
    half = CONTENT_WIDTH / 2 - 6
    side_by_side = Table(
        [
            [
                revenue_bars(report.regions, "region", half, report.money, "Revenue by region", 18),
                revenue_bars(report.categories, "category", half, report.money, "Revenue by category", 18),
            ]
        ],
        colWidths=[half + 6, half + 6],
    )
    side_by_side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    parts += [CondPageBreak(220), Paragraph("Regions and categories", STYLES["h2"]), side_by_side]
    return parts


def margin_section(report: SalesReport) -> list:
    """Gross margin by category, and the products with the highest and the lowest margin."""
    margins = report.margins
    heading = Paragraph("Margins", STYLES["h2"])
    if margins is None or margins.gross_margin is None:
        return _placeholder(heading, f"No cost of goods for this {report.period.noun}: no margin to show.")
    total = (
        f"Gross margin {report.money(margins.gross_margin)} ({_pct(margins.margin_pct)} of "
        f"{report.money(margins.revenue)} revenue) after {report.money(margins.cost_of_goods)} cost of goods."
    )
    if margins.revenue_without_cost:
        uncosted = margins.products_without_cost
        skus = ", ".join(str(sku) for sku in uncosted["sku"].head(5))
        total += (
            f" {report.money(margins.revenue_without_cost)} of revenue on {margins.days_without_cost} day(s) is left "
            f"out: {len(uncosted)} product(s) without a known cost ({skus}); add their cost in /inventory."
        )
    categories = data_table(
        ["Category", "Revenue", "Cost of goods", "Gross margin", "Margin", "Without cost"],
        [
            [
                row.category,
                report.money(row.revenue),
                report.money(row.cost_of_goods),
                report.money(row.gross_margin),
                _pct(row.margin_pct),
                report.money(row.revenue_without_cost) if row.revenue_without_cost else "",
            ]
            for row in margins.categories.itertuples()
        ],
        [0.26, 0.16, 0.16, 0.16, 0.1, 0.16],
        numeric_from=1,
    )
    ranked = [("Highest", margins.top()), ("Lowest", margins.bottom())]
    products = data_table(
        ["", "Product", "SKU", "Revenue", "Cost of goods", "Gross margin", "Margin"],
        [
            [
                label if index == 0 else "",
                row.product_name,
                row.sku,
                report.money(row.revenue),
                report.money(row.cost_of_goods),
                report.money(row.gross_margin),
                _pct(row.margin_pct),
            ]
            for label, frame in ranked
            for index, row in enumerate(frame.itertuples())
        ],
        [0.09, 0.3, 0.12, 0.13, 0.13, 0.13, 0.1],
        numeric_from=3,
    )
    return [
        CondPageBreak(260),
        heading,
        Paragraph(escape(total), STYLES["body"]),
        Spacer(0, 4),
        categories,
        Spacer(0, 6),
        Paragraph(f"Products with the highest and the lowest margin (up to {MARGIN_PRODUCTS} each)", STYLES["body"]),
        Spacer(0, 2),
        products,
    ]


def customer_section(report: SalesReport) -> list:
    """New and returning identified customers per day, and the period's repeat rate."""
    heading = Paragraph("Customers", STYLES["h2"])
    customers = report.customers
    if customers is None or customers.daily.empty:
        return _placeholder(heading, f"No customer KPIs for this {report.period.noun} yet.")
    summary = Paragraph(
        escape(
            f"{customers.new_customers:,} new and {customers.returning_customers:,} returning identified customers "
            f"(counted once per day they bought); repeat rate {_rate(customers.repeat_rate)}. A customer returns "
            "when they bought on one of the 90 days before."
        ),
        STYLES["body"],
    )
    rows = [
        [
            day_label(row.sale_date),
            f"{int(row.new_customers):,}",
            f"{int(row.returning_customers):,}",
            _rate(row.repeat_rate),
        ]
        for row in customers.daily.itertuples()
    ]
    rows.append(
        ["Total", f"{customers.new_customers:,}", f"{customers.returning_customers:,}", _rate(customers.repeat_rate)]
    )
    table = data_table(
        ["Day", "New", "Returning", "Repeat rate"], rows, [0.3, 0.2, 0.25, 0.25], numeric_from=1, total_row=True
    )
    return [CondPageBreak(200), heading, summary, Spacer(0, 4), table]


def stock_health_section(report: SalesReport) -> list:
    """ABC split, turnover, slow movers, dead stock and lost sales on the period's last day with inventory KPIs."""
    heading = Paragraph("Stock health", STYLES["h2"])
    health = report.stock_health
    if health is None or health.as_of is None:
        return _placeholder(
            heading, f"No inventory KPIs in this {report.period.noun} yet (materialize product_inventory_kpis)."
        )
    figures = health.figures
    a_until, b_until = ABC_CUMULATIVE_PCT
    turnover = figures.get("inventory_turnover")
    lines = [
        f"As of {day_label(health.as_of)}: inventory turns over "
        + (f"{turnover:,.2f} times a year" if turnover is not None else "at an unknown rate (costs missing)")
        + f" (cost of goods of the last {INVENTORY_WINDOW_DAYS} days, annualised, over the average stock value at "
        "cost). "
        f"Slow movers: {_products(figures.get('slow_moving_products'))} holding "
        f"{report.money(figures.get('slow_moving_stock_value'))} of stock (more than {SLOW_MOVER_COVER_DAYS} days of "
        f"cover). Dead stock: {_products(figures.get('dead_stock_products'))} holding "
        f"{report.money(figures.get('dead_stock_value'))} (nothing sold in {INVENTORY_WINDOW_DAYS} days). "
        f"Estimated sales lost while out of stock in the last {COVER_WINDOW_DAYS} days: "
        f"{report.money(figures.get('lost_sales_estimate'))}."
    ]
    abc = data_table(
        ["Class", "Products", f"Revenue, {INVENTORY_WINDOW_DAYS} days", "Share", "Stock value", "Share"],
        [
            [
                row.abc_class,
                f"{int(row.products):,}",
                report.money(row.revenue_90d),
                _percent(row.revenue_share),
                report.money(row.stock_value),
                _percent(row.stock_value_share),
            ]
            for row in health.abc.itertuples()
        ],
        [0.12, 0.12, 0.22, 0.12, 0.22, 0.12],
        numeric_from=1,
    )
    parts = [
        CondPageBreak(260),
        heading,
        Paragraph(escape(lines[0]), STYLES["body"]),
        Spacer(0, 4),
        abc,
        Paragraph(
            f"ABC: products ranked by revenue of the last {INVENTORY_WINDOW_DAYS} days; A until {a_until}% of it, "
            f"B until {b_until}%, C the rest.",
            STYLES["note"],
        ),
    ]
    slow = health.slow_movers.head(LISTED_STOCK_PRODUCTS)
    if len(slow):
        parts += [
            Spacer(0, 6),
            Paragraph(f"Slow movers by stock value (up to {LISTED_STOCK_PRODUCTS})", STYLES["body"]),
            data_table(
                ["Product", "SKU", "Class", "In stock", "Stock value", "Days of cover", "Last sale"],
                [
                    [
                        row.name,
                        row.sku,
                        row.abc_class,
                        _integer(row.stock_quantity),
                        report.money(row.stock_value),
                        _days(row.days_of_cover),
                        _days_ago(row.days_since_last_sale),
                    ]
                    for row in slow.itertuples()
                ],
                [0.3, 0.12, 0.08, 0.1, 0.14, 0.12, 0.14],
                numeric_from=3,
            ),
        ]
    lost = health.lost_sales.head(LISTED_STOCK_PRODUCTS)
    if len(lost):
        parts += [
            Spacer(0, 6),
            Paragraph(f"Largest estimated lost sales, last {COVER_WINDOW_DAYS} days", STYLES["body"]),
            data_table(
                ["Product", "SKU", "Out-of-stock days", "Lost sales"],
                [
                    [row.name, row.sku, _integer(row.out_of_stock_days_28d), report.money(row.lost_sales_estimate)]
                    for row in lost.itertuples()
                ],
                [0.45, 0.15, 0.2, 0.2],
                numeric_from=2,
            ),
        ]
    return parts


def anomaly_section(report: SalesReport) -> list:
    """MEDIUM and HIGH anomalies with their explanation, HIGH first, those a whole-shop anomaly
    explains folded into it; the workbook's Anomalies sheet lists every one."""
    heading = Paragraph("Anomalies (MEDIUM and HIGH)", STYLES["h2"])
    if report.anomalies.empty:
        return _placeholder(heading, report.placeholders["anomalies"])
    printed = folded_into_shop(report.anomalies)
    shown = printed.head(MAX_PDF_ANOMALIES)
    rows = [
        [day_label(row.sale_date), row.severity, str(row.label).replace("_", " ").capitalize(), _what_happened(row)]
        for row in shown.itertuples()
    ]
    table = data_table(["Day", "Severity", "Kind", "What happened"], rows, [0.12, 0.1, 0.13, 0.65], severity_column=1)
    parts = _section(heading, table, len(rows))
    rest = printed.iloc[len(shown) :]
    if len(rest):
        counts = ", ".join(f"{count} {severity}" for severity, count in rest["severity"].value_counts().items())
        parts.append(Paragraph(f"… and {len(rest)} more ({counts}) in the workbook's Anomalies sheet.", STYLES["note"]))
    return parts


def _what_happened(anomaly) -> str:
    """The explanation, and how many region and product anomalies a whole-shop one stands for."""
    if not anomaly.folded:
        return anomaly.explanation
    return (
        f"{anomaly.explanation}; {anomaly.folded} region and product anomalies of the same kind that day "
        "are part of it (in the workbook's Anomalies sheet)"
    )


def stock_section(report: SalesReport) -> list:
    """Each product's latest LOW / OUT / STOCKOUT_RISK alert of the period, with cover, when it runs
    out and a suggested reorder."""
    heading = Paragraph("Stock alerts (LOW and OUT) and stockout risks", STYLES["h2"])
    alerts = report.stock_alerts
    if alerts.empty:
        return _placeholder(heading, report.placeholders["stock_alerts"])
    runs_out = (
        alerts["expected_stockout_date"] if "expected_stockout_date" in alerts else pd.Series(pd.NaT, alerts.index)
    )
    rows = [
        [
            day_label(row.snapshot_date),
            row.status,
            row.sku,
            row.name,
            _integer(row.stock_quantity),
            _integer(row.reorder_level),
            _days(row.days_of_cover),
            _integer(row.suggested_reorder_qty),
            "n/a" if pd.isna(out) else day_label(pd.Timestamp(out)),
        ]
        for row, out in zip(alerts.itertuples(), runs_out, strict=True)
    ]
    table = data_table(
        [
            "Last alert",
            "Status",
            "SKU",
            "Product",
            "In stock",
            "Reorder level",
            "Days of cover",
            "Reorder qty",
            "Runs out",
        ],
        rows,
        [0.1, 0.16, 0.11, 0.19, 0.07, 0.09, 0.09, 0.09, 0.1],  # Status wide enough for STOCKOUT_RISK
        numeric_columns=(4, 5, 6, 7),
        severity_column=1,
    )
    lead, safety = _integer(alerts["lead_time_days"].iloc[0]), _integer(alerts["safety_stock_days"].iloc[0])
    note = Paragraph(
        f"STOCKOUT_RISK: above the reorder level, but forecast to run out within the {lead}-day lead time. "
        f"Runs out: the day the forecast demand (the average daily units of the last {COVER_WINDOW_DAYS} days "
        f"times the shop's weekday pattern) empties the stock. Reorder qty covers {lead} days of lead time plus "
        f"{safety} days of safety stock at that forecast demand.",
        STYLES["note"],
    )
    return [*_section(heading, table, len(rows)), Spacer(0, 3), note]


def accuracy_section(report: SalesReport) -> list:
    """Monthly: how good the forecasts of the month's days were, by days ahead, for the shop and the products."""
    view = report.forecast_accuracy
    if view is None:
        return []
    heading = Paragraph(f"How good were this {report.period.noun}'s forecasts", STYLES["h2"])
    if view.by_horizon.empty:
        return _placeholder(heading, view.placeholder)
    shop = view.by_horizon[view.by_horizon["scope"] == "shop"].set_index("horizon_day")
    products = view.by_horizon[view.by_horizon["scope"] == "products"].set_index("horizon_day")
    rows = []
    for day in sorted(set(shop.index) | set(products.index)):
        own = shop.loc[day] if day in shop.index else None
        pooled = products.loc[day] if day in products.index else None
        rows.append(
            [
                f"{day}",
                _integer(own["forecasts"]) if own is not None else "",
                _pct(own["mape"]) if own is not None else "n/a",
                _ratio(own["mase"]) if own is not None else "n/a",
                _rate(own["coverage"]) if own is not None else "n/a",
                _ratio(pooled["mase"]) if pooled is not None else "n/a",
                _rate(pooled["coverage"]) if pooled is not None else "n/a",
            ]
        )
    table = data_table(
        ["Days ahead", "Forecasts", "Shop MAPE", "Shop MASE", "Shop in 80% band", "Product MASE", "Products in band"],
        rows,
        [0.11, 0.11, 0.14, 0.14, 0.18, 0.14, 0.18],
        numeric_from=1,
    )
    figures = view.headline
    note = Paragraph(
        escape(
            f"Every forecast made in the 28 days before each of the {view.days_scored} days scored, against what the "
            f"day then sold: the shop's error averaged {_pct(figures['shop_mape'])} (MAPE), "
            f"{_ratio(figures['shop_mase'])} of the typical week-over-week change (MASE, below 1 beats "
            f"'same as last week'), and {_rate(figures['shop_coverage'])} of the days fell in the 80% band "
            f"({_rate(figures['product_coverage'])} for the products)."
        ),
        STYLES["note"],
    )
    return [*_section(heading, table, len(rows)), Spacer(0, 3), note]


def _ratio(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.2f}"


def _section(heading: Paragraph, table: Table, rows: int) -> list:
    """A short table stays on one page with its heading; a long one may split (its header repeats)."""
    if rows <= SHORT_TABLE_ROWS:
        return [KeepTogether([heading, table])]
    return [CondPageBreak(150), heading, table]


def _placeholder(heading: Paragraph, text: str) -> list:
    """A section without rows: its heading and why there are none."""
    return [KeepTogether([heading, Paragraph(escape(text), STYLES["body"])])]


def data_quality_line(report: SalesReport) -> Paragraph:
    """Rejected sale lines by reason, in one line under the summary (missing days get their own note)."""
    by_reason = report.rejects_by_reason
    if by_reason.empty:
        rejected = "no sale lines were rejected in this period"
    else:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in by_reason.items())
        rejected = f"{int(by_reason.sum()):,} sale lines rejected in this period ({reasons})"
    return Paragraph(f"<b>Data quality:</b> {escape(rejected)}.", STYLES["body"])


def data_table(
    header: list[str],
    rows: list[list[str]],
    fractions: list[float],
    numeric_from: int | None = None,
    numeric_columns: tuple[int, ...] = (),
    total_row: bool = False,
    severity_column: int | None = None,
) -> Table:
    """A table that fits the page width: wrapped cells, a repeated header, zebra rows."""
    numeric = set(numeric_columns) | (set(range(numeric_from, len(header))) if numeric_from is not None else set())
    widths = [CONTENT_WIDTH * fraction / sum(fractions) for fraction in fractions]

    def cell(text, row: int, column: int) -> Paragraph:
        if row == 0:
            style = "head"
        elif row == len(rows) and total_row:
            style = "bold"
        elif column == severity_column and str(text).upper() in ALARMS:
            style = "alarm"
        else:
            style = "cell"
        return Paragraph(
            escape("" if text is None else str(text)), STYLES[style + ("_right" if column in numeric else "")]
        )

    body = [[cell(text, row, column) for column, text in enumerate(line)] for row, line in enumerate([header, *rows])]
    table = Table(body, colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    style += [("BACKGROUND", (0, index), (-1, index), ZEBRA) for index in range(2, len(body), 2)]
    if total_row:
        style += [("LINEABOVE", (0, -1), (-1, -1), 1, charts.INK), ("BACKGROUND", (0, -1), (-1, -1), colors.white)]
    table.setStyle(TableStyle(style))
    return table


def _numbered_canvas(footer: str, pages: list[int]) -> type[Canvas]:
    """A canvas that knows the page count when it saves, for `page N of M` footers."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._page_states: list[dict] = []

        def showPage(self):  # noqa: N802 (ReportLab's name)
            self._page_states.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._page_states)
            for state in self._page_states:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            pages.append(total)
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, MARGIN, PAGE_WIDTH - MARGIN, MARGIN)
            self.setFont("Helvetica", 8)
            self.setFillColor(charts.MUTED)
            self.drawString(MARGIN, MARGIN - 11, footer)
            self.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 11, f"Page {self._pageNumber} of {total}")
            self.restoreState()

    return NumberedCanvas


def _format_kpi(report: SalesReport, kpi: Kpi, value: float | None) -> str:
    if value is None:
        return "n/a"
    if kpi.unit == "money":
        return report.money(value)
    if kpi.unit == "units":
        return _number(value)
    return f"{int(round(value)):,}"


def _number(value) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _integer(value) -> str:
    return "" if value is None or pd.isna(value) else f"{int(value):,}"


def _days(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:,.1f}"


def _percent(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value * 100:.1f}%"


def _products(count) -> str:
    return "n/a products" if count is None else f"{int(count):,} product{'' if count == 1 else 's'}"


def _days_ago(days) -> str:
    if days is None or pd.isna(days):
        return "n/a"
    return {0: "today", 1: "yesterday"}.get(int(days), f"{int(days)} days ago")


def _pct(value) -> str:
    """A percentage already in % (margin_pct), one decimal."""
    return "n/a" if value is None or pd.isna(value) else f"{value:.1f}%"


def _rate(value) -> str:
    """A rate in [0, 1] (repeat_rate) as a percentage, one decimal."""
    return "n/a" if value is None or pd.isna(value) else f"{value * 100:.1f}%"
