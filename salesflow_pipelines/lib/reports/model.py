"""One report model per period, gathered from the warehouse tables of the contract.

`build_report` takes the tables as frames (any window; it keeps what belongs to the period)
and returns a `SalesReport` that both renderers draw from, so the PDF and the workbook always
show the same numbers. A table that is not available (None) renders as "not available"; an
available table without rows for the period renders as "none in this period".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.reports.periods import ReportPeriod

TOP_PRODUCTS = 10
REPORTED_SEVERITIES = ("HIGH", "MEDIUM")
ALERT_STATUSES = ("OUT", "LOW")

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


@dataclass(frozen=True)
class Kpi:
    """A period total with the previous period's and the change between them."""

    name: str
    value: float | None
    previous: float | None
    unit: str  # "money", "count" or "units"
    higher_is_better: bool = True
    note: str = ""

    @property
    def change_pct(self) -> float | None:
        if self.value is None or self.previous is None or not self.previous:
            return None
        return (self.value / self.previous - 1) * 100


@dataclass(frozen=True)
class ForecastView:
    """The all-products forecast for the days the chart shows after (or within) the period."""

    days: pd.DataFrame  # forecast_date, predicted_revenue, lower, upper
    model: str | None
    generated_at: datetime | None
    trend: str | None = None
    total: float | None = None
    backtest_mape: float | None = None


@dataclass
class SalesReport:
    period: ReportPeriod
    generated_at: datetime
    currency: str
    kpis: list[Kpi]
    daily: pd.DataFrame  # daily_sales_kpis rows of the period, one per materialized day
    products: pd.DataFrame  # per product over the period, by revenue
    regions: pd.DataFrame
    categories: pd.DataFrame
    rejects: pd.DataFrame  # sales_rejects rows of the period
    forecast: ForecastView | None  # None: no forecast covers the chart's days
    anomalies: pd.DataFrame | None  # None: the anomaly table is not available
    stock_alerts: pd.DataFrame | None  # None: no stock alerts table available
    notes: list[str] = field(default_factory=list)

    @property
    def has_sales(self) -> bool:
        return bool(self.daily["orders"].sum() > 0 or self.daily["revenue"].sum() > 0)

    @property
    def days_with_data(self) -> int:
        return len(self.daily)

    @property
    def revenue(self) -> float:
        return round(float(self.daily["revenue"].sum()), 2)

    @property
    def orders(self) -> int:
        return int(self.daily["orders"].sum())

    @property
    def rejects_by_reason(self) -> pd.Series:
        return self.rejects["reason"].value_counts().sort_index()

    @property
    def currency_symbol(self) -> str:
        return CURRENCY_SYMBOLS.get(self.currency.upper(), "")

    def money(self, value: float | None) -> str:
        """`$1,234.56`, or `1,234.56 CHF` for a currency without a symbol here."""
        if value is None or pd.isna(value):
            return "n/a"
        amount = f"{abs(value):,.2f}"
        sign = "-" if value < 0 else ""
        if self.currency_symbol:
            return f"{sign}{self.currency_symbol}{amount}"
        return f"{sign}{amount} {self.currency}".rstrip()


def build_report(
    period: ReportPeriod,
    *,
    daily_sales_kpis: pd.DataFrame,
    product_daily_sales: pd.DataFrame,
    region_daily_sales: pd.DataFrame,
    category_daily_sales: pd.DataFrame,
    sales_rejects: pd.DataFrame,
    sales_forecast: pd.DataFrame | None = None,
    sales_forecast_summary: pd.DataFrame | None = None,
    sales_anomalies: pd.DataFrame | None = None,
    stock_alerts: pd.DataFrame | None = None,
    generated_at: datetime | None = None,
    currency: str = "USD",
) -> SalesReport:
    """The report of `period` from the contract's tables (frames may hold more days)."""
    daily = _in_period(daily_sales_kpis, "sale_date", period).sort_values("sale_date").reset_index(drop=True)
    previous = _in_period(daily_sales_kpis, "sale_date", period.previous())
    notes = []
    if len(daily) < period.day_count:
        notes.append(
            f"KPI data covers {len(daily)} of the {period.day_count} days of this {period.noun}; "
            "materialize the missing days for complete totals."
        )
    return SalesReport(
        period=period,
        generated_at=generated_at or datetime.now(),
        currency=currency,
        kpis=summary_kpis(daily, previous, customer_note=period.noun),
        daily=daily,
        products=product_totals(_in_period(product_daily_sales, "sale_date", period)),
        regions=region_totals(_in_period(region_daily_sales, "sale_date", period)),
        categories=category_totals(_in_period(category_daily_sales, "sale_date", period)),
        rejects=_in_period(sales_rejects, "sale_date", period).sort_values(["sale_date", "sale_id", "line_no"]),
        forecast=forecast_view(sales_forecast, sales_forecast_summary, period),
        anomalies=reported_anomalies(sales_anomalies, period),
        stock_alerts=period_stock_alerts(stock_alerts, period),
        notes=notes,
    )


def summary_kpis(daily: pd.DataFrame, previous: pd.DataFrame, customer_note: str = "period") -> list[Kpi]:
    """Revenue, orders, units, average order value, customers and refunds, with the previous period's."""

    def total(frame: pd.DataFrame, column: str) -> float | None:
        return float(frame[column].sum()) if len(frame) else None

    def aov(frame: pd.DataFrame) -> float | None:
        orders = total(frame, "orders")
        return round(total(frame, "revenue") / orders, 2) if orders else None

    def money(frame: pd.DataFrame, column: str) -> float | None:
        value = total(frame, column)
        return None if value is None else round(value, 2)

    return [
        Kpi("Revenue", money(daily, "revenue"), money(previous, "revenue"), "money"),
        Kpi("Orders", total(daily, "orders"), total(previous, "orders"), "count"),
        Kpi("Units", total(daily, "units"), total(previous, "units"), "units"),
        Kpi("Average order value", aov(daily), aov(previous), "money"),
        Kpi(
            "Customers",
            total(daily, "unique_customers"),
            total(previous, "unique_customers"),
            "count",
            note="identified customers, counted once per day they bought",
        ),
        Kpi(
            "Refunds",
            money(daily, "refunded_amount"),
            money(previous, "refunded_amount"),
            "money",
            higher_is_better=False,
        ),
    ]


def product_totals(product_daily: pd.DataFrame) -> pd.DataFrame:
    """One row per product over the period, highest revenue first, with its revenue share."""
    columns = ["product_id", "sku", "product_name", "category", "revenue", "units", "orders", "share"]
    if product_daily.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    latest = product_daily.sort_values("sale_date").groupby("product_id")[["sku", "product_name", "category"]].last()
    sums = product_daily.groupby("product_id")[["revenue", "units", "orders"]].sum()
    table = latest.join(sums).reset_index()
    return _ranked(table, "product_id")[columns]


def region_totals(region_daily: pd.DataFrame) -> pd.DataFrame:
    """One row per region: revenue, orders, units, customers (summed per day) and revenue share."""
    table = region_daily.groupby("region", as_index=False)[["revenue", "orders", "units", "unique_customers"]].sum()
    return _ranked(table, "region")


def category_totals(category_daily: pd.DataFrame) -> pd.DataFrame:
    """One row per category: revenue, units, the period's discount rate and revenue share.

    The daily rows keep revenue and the discount rate = discount / list value; list value is
    revenue / (1 - rate), so the period's rate weighs each day by its list value.
    """
    frame = category_daily.assign(
        list_value=category_daily["revenue"] / (1 - category_daily["discount_rate"].fillna(0)).replace(0, np.nan)
    )
    frame = frame.assign(discount_value=frame["list_value"] * frame["discount_rate"].fillna(0))
    table = frame.groupby("category", as_index=False)[["revenue", "units", "list_value", "discount_value"]].sum()
    table["discount_rate"] = (table["discount_value"] / table["list_value"].replace(0, np.nan)).round(4)
    return _ranked(table.drop(columns=["list_value", "discount_value"]), "category")


def forecast_view(
    forecast: pd.DataFrame | None, summary: pd.DataFrame | None, period: ReportPeriod
) -> ForecastView | None:
    """The all-products forecast rows dated in the period or the next one, or None."""
    if forecast is None or forecast.empty:
        return None
    total = forecast[forecast["product_id"].isna()]
    window = ReportPeriod(period.kind, period.start, period.next().end)
    days = _in_period(total, "forecast_date", window).sort_values("forecast_date")
    if days.empty:
        return None
    generated_at = pd.to_datetime(days["generated_at"]).max()
    view = ForecastView(
        days=days[["forecast_date", "predicted_revenue", "lower", "upper"]].reset_index(drop=True),
        model=_text(days["model"].iloc[-1]),
        generated_at=None if pd.isna(generated_at) else generated_at.to_pydatetime(),
    )
    if summary is None or summary.empty:
        return view
    latest = summary.sort_values("generated_at").iloc[-1]
    return ForecastView(
        days=view.days,
        model=view.model,
        generated_at=view.generated_at,
        trend=_text(latest.get("trend")),
        total=_number(latest.get("total")),
        backtest_mape=_number(latest.get("backtest_mape")),
    )


def reported_anomalies(anomalies: pd.DataFrame | None, period: ReportPeriod) -> pd.DataFrame | None:
    """MEDIUM and HIGH anomalies of the period, HIGH first, then by day."""
    if anomalies is None:
        return None
    found = _in_period(anomalies, "sale_date", period)
    found = found[found["severity"].astype("string").str.upper().isin(REPORTED_SEVERITIES)]
    order = found["severity"].astype("string").str.upper().map({"HIGH": 0, "MEDIUM": 1})
    return found.assign(_order=order).sort_values(["_order", "sale_date"]).drop(columns="_order").reset_index(drop=True)


def period_stock_alerts(alerts: pd.DataFrame | None, period: ReportPeriod) -> pd.DataFrame | None:
    """The latest LOW / OUT alert of each product during the period, OUT first."""
    if alerts is None:
        return None
    date_column = _first_present(alerts, ("alert_date", "snapshot_date", "sale_date"))
    found = _in_period(alerts, date_column, period)
    if "status" in found:
        found = found[found["status"].astype("string").str.upper().isin(ALERT_STATUSES)]
    latest = found.sort_values(date_column).groupby("product_id", as_index=False).last()
    latest = latest.rename(columns={date_column: "alert_date"})
    urgency = latest["status"].astype("string").str.upper().map({"OUT": 0, "LOW": 1}) if "status" in latest else 0
    cover = latest.get("days_of_cover", 0)
    ordered = latest.assign(_urgency=urgency, _cover=cover).sort_values(["_urgency", "_cover", "product_id"])
    return ordered.drop(columns=["_urgency", "_cover"]).reset_index(drop=True)


def _ranked(table: pd.DataFrame, key: str) -> pd.DataFrame:
    revenue = table["revenue"].sum()
    table = table.assign(revenue=table["revenue"].round(2), share=table["revenue"] / revenue if revenue else np.nan)
    return table.sort_values(["revenue", key], ascending=[False, True]).reset_index(drop=True)


def _in_period(frame: pd.DataFrame, column: str, period: ReportPeriod) -> pd.DataFrame:
    days = pd.to_datetime(frame[column])
    keep = (days >= pd.Timestamp(period.start)) & (days < pd.Timestamp(period.end))
    return frame[keep].assign(**{column: days[keep]}).reset_index(drop=True)


def _first_present(frame: pd.DataFrame, columns: tuple[str, ...]) -> str:
    for column in columns:
        if column in frame.columns:
            return column
    raise KeyError(f"stock alerts need one of the date columns {columns}, got {list(frame.columns)}")


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
