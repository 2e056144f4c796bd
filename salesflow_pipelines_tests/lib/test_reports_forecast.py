"""The report's forecast parts: the newest kept forecast of the period, the monthly "how good were the
forecasts" block, and stockout risks in the stock section."""

import io

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from salesflow_pipelines.lib.analytics import forecast, forecast_accuracy, reorder
from salesflow_pipelines.lib.reports import pdf
from salesflow_pipelines.lib.reports.excel import render_xlsx
from salesflow_pipelines.lib.reports.model import build_report
from salesflow_pipelines.lib.reports.periods import ReportPeriod

OCTOBER = ReportPeriod.from_partition_key("monthly", "2026-10-01")
WEEK = ReportPeriod.from_partition_key("weekly", "2026-10-19")
GENERATED_AT = pd.Timestamp("2026-11-01 02:00")


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


@pytest.fixture(scope="module")
def shop() -> dict[str, pd.DataFrame]:
    """Ten weeks of a one-product shop, its forecasts as of every day of October and their accuracy."""
    days = pd.date_range("2026-08-24", "2026-11-01")
    revenue = np.array([80, 90, 100, 110, 130, 150, 60.0])[days.weekday]
    revenue = revenue * (1 + 0.1 * np.random.default_rng(3).standard_normal(len(days)))
    daily = pd.DataFrame(
        {
            "sale_date": days,
            "revenue": revenue,
            "orders": 10,
            "units": revenue / 10,
            "unique_customers": 5,
            "refunded_amount": 0.0,
        }
    )
    daily["avg_order_value"] = daily["revenue"] / 10
    daily["revenue_growth_pct"] = np.nan
    products = daily[["sale_date", "revenue", "units"]].assign(product_id=1)
    made = forecast.forecast_as_of_days(
        daily, products, pd.date_range("2026-10-01", "2026-11-01"), GENERATED_AT, horizon=7, strategy="linear"
    )
    forecasts = pd.concat([result.forecast for result in made], ignore_index=True)
    summaries = pd.concat([result.summary for result in made], ignore_index=True)
    scored = forecast_accuracy.score(forecasts, daily, products, pd.date_range("2026-10-01", "2026-11-01"))
    return {"daily": daily, "forecast": forecasts, "summary": summaries, "accuracy": scored}


def report(shop, period, **tables):
    return build_report(
        period,
        daily_sales_kpis=shop["daily"],
        sales_forecast=shop["forecast"],
        sales_forecast_summary=shop["summary"],
        forecast_accuracy=shop["accuracy"],
        **TABLES,
        **tables,
    )


def test_the_report_shows_the_forecast_made_when_its_period_closed(shop):
    summaries = shop["summary"].set_index("as_of_date")
    # Forecasts as of every day from 1 October to 1 November are kept: October shows the one as of the 31st.
    october = report(shop, OCTOBER)
    assert october.forecast.days["forecast_date"].min() == pd.Timestamp("2026-11-01")
    assert october.forecast.total == pytest.approx(summaries.loc["2026-10-31", "total"])
    week = report(shop, WEEK)  # 19 to 25 October
    assert week.forecast.days["forecast_date"].min() == pd.Timestamp("2026-10-26")
    # Without a forecast as of a day of the period, the first one made after it.
    late = {**shop, "forecast": shop["forecast"][shop["forecast"]["as_of_date"] > "2026-10-31"]}
    assert report(late, OCTOBER).forecast.days["forecast_date"].min() == pd.Timestamp("2026-11-02")
    old_week = ReportPeriod.from_partition_key("weekly", "2026-09-07")
    assert report(shop, old_week).forecast is None
    assert report(shop, old_week).placeholders["forecast"] == (
        "No forecast for these days: the latest forecast covers 2 Nov 2026 to 8 Nov 2026."
    )


def test_the_monthly_report_says_how_good_the_months_forecasts_were(shop):
    october = report(shop, OCTOBER)
    view = october.forecast_accuracy
    assert view.days_scored == 30  # 2 to 31 October: 1 October has no earlier forecast here
    shop_rows = view.by_horizon[view.by_horizon["scope"] == "shop"]
    assert list(shop_rows["horizon_day"]) == list(range(1, 8))
    in_october = shop["accuracy"][shop["accuracy"]["sale_date"].dt.month == 10]
    assert view.headline["shop_mape"] == pytest.approx(
        in_october[in_october["product_id"].isna()]["abs_pct_error"].mean()
    )
    assert report(shop, WEEK).forecast_accuracy is None  # the weekly report has no such block

    words = " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.render_pdf(october).content)).pages).split()
    )
    assert "How good were this month's forecasts" in words
    assert "Days ahead Forecasts Shop MAPE Shop MASE Shop in 80% band Product MASE Products in band" in words
    assert f"the shop's error averaged {view.headline['shop_mape']:.1f}% (MAPE)" in words

    workbook = load_workbook(io.BytesIO(render_xlsx(october).content))
    names = workbook.sheetnames
    assert names[names.index("Forecast") + 1] == "Forecast accuracy"
    header = [cell.value for cell in workbook["Forecast accuracy"][1]]
    assert header == ["Scope", "Days ahead", "Forecasts", "MAPE %", "MASE", "In 80% band"]
    assert workbook["Forecast accuracy"].max_row == 1 + len(view.by_horizon)
    assert "Forecast accuracy" not in load_workbook(io.BytesIO(render_xlsx(report(shop, WEEK)).content)).sheetnames


def test_a_month_without_scored_forecasts_says_why(shop):
    september = report(shop, ReportPeriod.from_partition_key("monthly", "2026-09-01"))
    assert september.forecast_accuracy.by_horizon.empty
    words = " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.render_pdf(september).content)).pages).split()
    )
    assert "No forecast of this month's days has been scored yet" in words


def test_the_stock_section_lists_stockout_risks_with_the_day_they_run_out(shop):
    day = pd.Timestamp("2026-10-25")
    snapshot = pd.DataFrame(
        {
            "snapshot_date": day,
            "product_id": [1, 2],
            "sku": pd.array(["SKU-0001", "SKU-0002"], dtype="string"),
            "name": pd.array(["Olive Oil 1l", "Green Tea 50 bags"], dtype="string"),
            "category": pd.array(["Grocery", "Beverages"], dtype="string"),
            "stock_quantity": [20, 4],
            "low_stock_threshold": [10, 10],
            "stock_value": [80.0, 16.0],
        }
    )
    units = pd.DataFrame(
        {"sale_date": pd.date_range(end=day, periods=28).repeat(2), "product_id": [1, 2] * 28, "units": 4.0}
    )
    table = reorder.stock_alerts(snapshot, units)
    october = report(shop, OCTOBER, stock_alerts=table)
    assert list(october.stock_alerts["status"]) == ["LOW", "STOCKOUT_RISK"]
    words = " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.render_pdf(october).content)).pages).split()
    )
    assert "Stock alerts (LOW and OUT) and stockout risks" in words
    assert "Sun 25 Oct STOCKOUT_RISK SKU-0001 Olive Oil 1l 20 10 5.0 20 Fri 30 Oct" in words
    assert "forecast to run out within the 7-day lead time" in words
    workbook = load_workbook(io.BytesIO(render_xlsx(october).content))
    header = [cell.value for cell in workbook["Stock"][1]]
    assert header[-2:] == ["Forecast demand (lead + safety days)", "Runs out"]
    assert workbook["Stock"].cell(row=3, column=len(header)).value.date() == pd.Timestamp("2026-10-30").date()
