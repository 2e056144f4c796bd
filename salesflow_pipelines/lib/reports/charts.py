"""Charts for the PDF, drawn with ReportLab graphics (vector, printable, no image files)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from salesflow_pipelines.lib.reports.model import ForecastView

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#616E7C")
GRID = colors.HexColor("#D9E2EC")
ACTUAL = colors.HexColor("#1D4ED8")
FORECAST = colors.HexColor("#C2410C")
BAND = colors.HexColor("#FDE5D4")
BAR = colors.HexColor("#2563EB")


def nice_axis(peak: float, ticks: int = 5) -> tuple[float, float]:
    """An axis top and step that read well: steps of 1, 2, 2.5 or 5 x 10^n, at most `ticks` of them."""
    if peak <= 0 or not math.isfinite(peak):
        return 1.0, 0.25
    rough = peak / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if rough <= m * magnitude * (1 + 1e-9))
    return math.ceil(peak / step - 1e-9) * step, step


def short_money(value: float) -> str:
    """Axis labels: 950, 12k, 1.5M."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}"


def revenue_chart(
    daily: pd.DataFrame,
    days: list[date],
    forecast: ForecastView | None,
    width: float,
    height: float = 200,
) -> Drawing:
    """Daily revenue of the period as a line; the forecast as a dashed line with its interval band."""
    forecast_days = forecast.days if forecast is not None else pd.DataFrame()
    last_day = days[-1]
    if len(forecast_days):
        last_day = max(last_day, forecast_days["forecast_date"].max().date())
    first_day = days[0]
    span = (last_day - first_day).days

    def x_of(day) -> float:
        return float((pd.Timestamp(day).date() - first_day).days)

    revenue = daily.set_index(pd.to_datetime(daily["sale_date"]).dt.date)["revenue"]
    actual = [(x_of(day), float(revenue[day])) for day in days if day in revenue.index]
    predicted = [(x_of(row.forecast_date), float(row.predicted_revenue)) for row in forecast_days.itertuples()]
    lower = [(x_of(row.forecast_date), _finite(row.lower, row.predicted_revenue)) for row in forecast_days.itertuples()]
    upper = [(x_of(row.forecast_date), _finite(row.upper, row.predicted_revenue)) for row in forecast_days.itertuples()]
    y_max, y_step = nice_axis(max([y for _, y in actual + predicted + upper] or [1.0]) * 1.05)

    drawing = Drawing(width, height)
    plot = LinePlot()
    plot.x, plot.y = 46, 34
    plot.width, plot.height = width - plot.x - 10, height - plot.y - 24
    series = [actual or [(0.0, 0.0)]] + ([predicted] if predicted else [])
    plot.data = series
    plot.joinedLines = 1
    plot.lines[0].strokeColor = ACTUAL
    plot.lines[0].strokeWidth = 1.8
    plot.lines[0].symbol = makeMarker("FilledCircle", size=3.2, fillColor=ACTUAL, strokeColor=ACTUAL)
    if predicted:
        plot.lines[1].strokeColor = FORECAST
        plot.lines[1].strokeWidth = 1.4
        plot.lines[1].strokeDashArray = [4, 2]
        plot.lines[1].symbol = None
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = -0.5, span + 0.5
    plot.xValueAxis.valueSteps = _day_ticks(span)
    plot.xValueAxis.labelTextFormat = lambda x: _tick_label(first_day + timedelta(days=round(x)), span)
    plot.xValueAxis.labels.fontName = FONT
    plot.xValueAxis.labels.fontSize = 7
    plot.xValueAxis.labels.fillColor = MUTED
    plot.xValueAxis.strokeColor = GRID
    _money_axis(plot.yValueAxis, y_max, y_step)

    def to_point(x: float, y: float) -> tuple[float, float]:
        return (
            plot.x + (x + 0.5) / (span + 1) * plot.width,
            plot.y + min(max(y, 0), y_max) / y_max * plot.height,
        )

    if len(upper) > 1:
        outline = [to_point(*point) for point in upper] + [to_point(*point) for point in reversed(lower)]
        drawing.add(
            Polygon([coordinate for point in outline for coordinate in point], fillColor=BAND, strokeColor=None)
        )
    drawing.add(plot)
    if predicted and actual:
        divider_x = to_point(x_of(days[-1]) + 0.5, 0)[0]
        drawing.add(Line(divider_x, plot.y, divider_x, plot.y + plot.height, strokeColor=MUTED, strokeDashArray=[1, 2]))
    legend = [("Revenue", ACTUAL, False)]
    if predicted:
        legend += [("Forecast", FORECAST, True), ("Forecast interval", BAND, None)]
    _legend(drawing, legend, x=plot.x, y=height - 12)
    return drawing


def bar_chart(
    labels: list[str],
    values: list[float],
    width: float,
    value_format: Callable[[float], str],
    title: str | None = None,
    max_label_chars: int = 30,
) -> Drawing:
    """Horizontal bars, largest on top, each labelled with its value."""
    labels = [_clip(label, max_label_chars) for label in labels]
    bar_height, gap = 14, 5
    top = 18 if title else 4
    plot_height = max(len(values), 1) * (bar_height + gap)
    height = plot_height + top + 22
    label_width = max([stringWidth(label, FONT, 7.5) for label in labels] or [0]) + 8
    value_width = max([stringWidth(value_format(value), FONT, 7) for value in values] or [0]) + 8
    drawing = Drawing(width, height)
    if title:
        drawing.add(String(0, height - 11, title, fontName=FONT_BOLD, fontSize=9, fillColor=INK))
    chart = HorizontalBarChart()
    chart.x, chart.y = label_width, 20
    chart.width = max(width - label_width - value_width, 40)
    chart.height = plot_height
    chart.data = [list(reversed(values)) or [0]]
    chart.categoryAxis.categoryNames = list(reversed(labels)) or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7.5
    chart.categoryAxis.labels.fillColor = INK
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -4
    chart.categoryAxis.strokeColor = GRID
    chart.categoryAxis.tickLeft = 0
    chart.barSpacing = 0
    chart.groupSpacing = gap
    chart.bars[0].fillColor = BAR
    chart.bars[0].strokeColor = None
    _money_axis(chart.valueAxis, *nice_axis(max(values or [1]) * 1.02))
    chart.barLabelFormat = value_format
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.fillColor = INK
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    return drawing


def _money_axis(axis, top: float, step: float) -> None:
    """A value axis from 0 to `top` with light grid lines and short money labels."""
    axis.valueMin, axis.valueMax, axis.valueStep = 0, top, step
    axis.labelTextFormat = short_money
    axis.labels.fontName = FONT
    axis.labels.fontSize = 7
    axis.labels.fillColor = MUTED
    axis.strokeColor = GRID
    axis.visibleGrid = 1
    axis.gridStrokeColor = GRID
    axis.gridStrokeWidth = 0.5


def _legend(drawing: Drawing, items: list[tuple[str, colors.Color, bool | None]], x: float, y: float) -> None:
    for label, color, dashed in items:
        if dashed is None:
            drawing.add(Rect(x, y - 3, 16, 7, fillColor=color, strokeColor=None))
        else:
            drawing.add(
                Line(x, y, x + 16, y, strokeColor=color, strokeWidth=1.6, strokeDashArray=[4, 2] if dashed else None)
            )
        drawing.add(String(x + 20, y - 2.5, label, fontName=FONT, fontSize=7.5, fillColor=INK))
        x += 28 + stringWidth(label, FONT, 7.5)


def _day_ticks(span: int) -> list[float]:
    step = 1 if span <= 14 else 2 if span <= 24 else 4 if span <= 45 else 7
    return [float(x) for x in range(0, span + 1, step)]


def _tick_label(day: date, span: int) -> str:
    return f"{day:%a} {day.day}" if span <= 14 else f"{day.day} {day:%b}"


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _finite(value, fallback) -> float:
    return float(value) if value is not None and not pd.isna(value) else float(fallback)
