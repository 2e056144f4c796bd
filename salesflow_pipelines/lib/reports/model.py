"""One report model per period, gathered from the warehouse tables of the contract.

`build_report` takes the tables as frames (any window; it keeps what belongs to the period)
and returns a `SalesReport` that both renderers draw from, so the PDF and the workbook always
show the same numbers. A section without rows says why (`SalesReport.placeholders`): no
forecast made yet, anomaly detection or the stock check not run for the period yet (from
`days_checked`, the days of the period each daily ML table was materialized for), or nothing
found on the days checked.

Margins sum the warehouse rows of the period that have a cost of goods (a product without a known
cost has none that day) and show the revenue of the others apart; stock health is the state on the
period's last day with inventory KPIs; customer figures sum customer_daily_kpis over the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.analytics.anomalies import HIGH, MEDIUM, PRODUCT, REGION, TOTAL
from salesflow_pipelines.lib.analytics.forecast_accuracy import by_horizon, headline
from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines.lib.reports.periods import ReportPeriod
from salesflow_pipelines.lib.warehouse.tables import TABLES

TOP_PRODUCTS = 10
MARGIN_PRODUCTS = 5  # the products a printed report lists with the highest and the lowest margin
LISTED_STOCK_PRODUCTS = 10  # slow movers and lost sales a printed report lists
SEVERITY_RANK = {HIGH: 0, MEDIUM: 1}  # the severities a report lists, most severe first
SCOPE_RANK = {TOTAL: 0, REGION: 1, PRODUCT: 2}  # the whole shop first
FORECAST_MAX_GAP_DAYS = 7
# The daily ML tables whose coverage a report states: who checks the days, and what it finds.
CHECKED_TABLES = {
    "sales_anomalies": ("Anomaly detection", "MEDIUM or HIGH anomalies"),
    "stock_alerts": ("The stock check", "LOW or OUT stock alerts"),
}

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
    total: float | None = None  # over the whole horizon, not only the days shown
    horizon_days: int | None = None
    backtest_mape: float | None = None


@dataclass(frozen=True)
class ForecastAccuracyView:
    """How good the forecasts of the period's days were, once their actuals were known (monthly)."""

    by_horizon: pd.DataFrame  # lib.forecast_accuracy.by_horizon: scope, horizon_day, forecasts, mape, mase, coverage
    headline: dict[str, float]  # lib.forecast_accuracy.headline: shop_* and product_* figures
    days_scored: int
    placeholder: str  # what the block says without rows


@dataclass(frozen=True)
class MarginView:
    """The period's margins: totals over the days with a cost, by category and by product."""

    revenue: float | None  # of the days with a cost of goods
    cost_of_goods: float | None
    gross_margin: float | None
    margin_pct: float | None
    revenue_without_cost: float  # of the days without
    days_without_cost: int
    categories: pd.DataFrame  # category, revenue, cost_of_goods, gross_margin, margin_pct, revenue_without_cost
    products: pd.DataFrame  # product_id, sku, product_name, category and the same figures, highest margin first

    @property
    def costed_products(self) -> pd.DataFrame:
        return self.products[self.products["gross_margin"].notna()]

    def top(self, count: int = MARGIN_PRODUCTS) -> pd.DataFrame:
        return self.costed_products.head(count)

    def bottom(self, count: int = MARGIN_PRODUCTS) -> pd.DataFrame:
        """The lowest margins, lowest first, none of those already among the top."""
        costed = self.costed_products
        return costed.iloc[min(count, len(costed)) :].tail(count).iloc[::-1]

    @property
    def products_without_cost(self) -> pd.DataFrame:
        return self.products[self.products["revenue_without_cost"] > 0]


@dataclass(frozen=True)
class StockHealthView:
    """The stock on the period's last day with inventory KPIs (`as_of`; None: none in the period)."""

    as_of: date | None
    figures: dict[str, float | int | None]  # that day's stock_kpis row
    abc: pd.DataFrame  # abc_class, products, revenue_90d, revenue_share, stock_value, stock_value_share
    products: pd.DataFrame  # that day's product_inventory_kpis rows, by ABC class then trailing revenue

    @property
    def slow_movers(self) -> pd.DataFrame:
        return self.products[self.products["slow_mover"] == 1].sort_values(
            ["stock_value", "product_id"], ascending=[False, True]
        )

    @property
    def lost_sales(self) -> pd.DataFrame:
        lost = self.products[self.products["lost_sales_estimate"] > 0]
        return lost.sort_values(["lost_sales_estimate", "product_id"], ascending=[False, True])


@dataclass(frozen=True)
class CustomerView:
    """Identified customers of the period, new and returning, summed over its days."""

    daily: pd.DataFrame  # customer_daily_kpis rows of the period
    new_customers: int | None
    returning_customers: int | None
    repeat_rate: float | None  # returning / (new + returning), over the period's customer-days


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
    anomalies: pd.DataFrame  # MEDIUM and HIGH rows of sales_anomalies in the period
    stock_alerts: pd.DataFrame  # each product's latest stock_alerts row in the period
    # What the forecast, anomalies and stock_alerts sections say in place of rows.
    placeholders: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    margins: MarginView | None = None
    stock_health: StockHealthView | None = None
    customers: CustomerView | None = None
    forecast_accuracy: ForecastAccuracyView | None = None  # monthly reports only

    @property
    def has_sales(self) -> bool:
        return bool(self.daily["orders"].sum() > 0 or self.daily["revenue"].sum() > 0)

    @property
    def days_with_data(self) -> int:
        return len(self.daily)

    @property
    def revenue(self) -> float:
        return float(round_money(self.daily["revenue"].sum()))

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
    customer_daily_kpis: pd.DataFrame | None = None,
    stock_kpis: pd.DataFrame | None = None,
    product_inventory_kpis: pd.DataFrame | None = None,
    forecast_accuracy: pd.DataFrame | None = None,
    days_checked: Mapping[str, int] | None = None,
    generated_at: datetime | None = None,
    currency: str = "USD",
) -> SalesReport:
    """The report of `period` from the contract's tables (frames may hold more days; a table that
    is None counts as empty). `days_checked` maps `sales_anomalies` and `stock_alerts` to the
    number of the period's days they were materialized for; a table left out counts as complete."""
    daily = _in_period(daily_sales_kpis, "sale_date", period).sort_values("sale_date").reset_index(drop=True)
    previous = _in_period(daily_sales_kpis, "sale_date", period.previous())
    checked = {name: (days_checked or {}).get(name, period.day_count) for name in CHECKED_TABLES}
    customers = _or_empty(customer_daily_kpis, "customer_daily_kpis")
    period_customers = _in_period(customers, "sale_date", period)
    return SalesReport(
        period=period,
        generated_at=generated_at or datetime.now(),
        currency=currency,
        kpis=summary_kpis(daily, previous, customer_note=period.noun)
        + margin_and_customer_kpis(
            daily, previous, period_customers, _in_period(customers, "sale_date", period.previous())
        ),
        daily=daily,
        products=product_totals(_in_period(product_daily_sales, "sale_date", period)),
        regions=region_totals(_in_period(region_daily_sales, "sale_date", period)),
        categories=category_totals(_in_period(category_daily_sales, "sale_date", period)),
        rejects=_in_period(sales_rejects, "sale_date", period).sort_values(["sale_date", "sale_id", "line_no"]),
        forecast=forecast_view(sales_forecast, sales_forecast_summary, period),
        anomalies=reported_anomalies(sales_anomalies, period),
        stock_alerts=period_stock_alerts(stock_alerts, period),
        placeholders={
            "forecast": no_forecast_text(sales_forecast),
            "anomalies": nothing_found_text("sales_anomalies", checked["sales_anomalies"], period),
            "stock_alerts": nothing_found_text("stock_alerts", checked["stock_alerts"], period),
        },
        notes=coverage_notes(period, len(daily), checked),
        margins=margin_view(
            daily,
            _in_period(category_daily_sales, "sale_date", period),
            _in_period(product_daily_sales, "sale_date", period),
        ),
        stock_health=stock_health_view(stock_kpis, product_inventory_kpis, period),
        customers=customer_view(period_customers),
        forecast_accuracy=accuracy_view(forecast_accuracy, period),
    )


def coverage_notes(period: ReportPeriod, kpi_days: int, checked: Mapping[str, int]) -> list[str]:
    """A note for each table that covers only part of the period: the KPIs, then the daily ML tables."""
    of_period = f"of the {period.day_count} days of this {period.noun}"
    notes = []
    if kpi_days < period.day_count:
        notes.append(f"KPI data covers {kpi_days} {of_period}; materialize the missing days for complete totals.")
    notes += [
        f"{checker} covers {checked[table]} {of_period}; materialize {table} for the missing days."
        for table, (checker, _) in CHECKED_TABLES.items()
        if 0 < checked[table] < period.day_count
    ]
    return notes


def summary_kpis(daily: pd.DataFrame, previous: pd.DataFrame, customer_note: str = "period") -> list[Kpi]:
    """Revenue, orders, units, average order value, customers and refunds, with the previous period's."""

    def total(frame: pd.DataFrame, column: str) -> float | None:
        return float(frame[column].sum()) if len(frame) else None

    def aov(frame: pd.DataFrame) -> float | None:
        orders = total(frame, "orders")
        return float(round_money(total(frame, "revenue") / orders)) if orders else None

    def money(frame: pd.DataFrame, column: str) -> float | None:
        value = total(frame, column)
        return None if value is None else float(round_money(value))

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


def margin_and_customer_kpis(
    daily: pd.DataFrame, previous: pd.DataFrame, customers: pd.DataFrame, previous_customers: pd.DataFrame
) -> list[Kpi]:
    """Gross margin (over the days with a cost of goods), new and returning customers, with the previous period's."""

    def margin(frame: pd.DataFrame) -> float | None:
        costed = _costed(frame)
        return None if costed.empty else float(round_money(costed["gross_margin"].sum()))

    def total(frame: pd.DataFrame, column: str) -> float | None:
        return float(frame[column].sum()) if len(frame) else None

    costed = _costed(daily)
    revenue = costed["revenue"].sum() if len(costed) else 0.0
    pct = f"{margin(daily) / revenue * 100:.1f}% of the revenue with a known cost" if revenue and len(costed) else ""
    view = customer_view(customers)
    repeat = f"repeat rate {view.repeat_rate * 100:.1f}%" if view.repeat_rate is not None else ""
    return [
        Kpi("Gross margin", margin(daily), margin(previous), "money", note=pct),
        Kpi("New customers", total(customers, "new_customers"), total(previous_customers, "new_customers"), "count"),
        Kpi(
            "Returning customers",
            total(customers, "returning_customers"),
            total(previous_customers, "returning_customers"),
            "count",
            note=repeat,
        ),
    ]


def _costed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with a cost of goods (and so a gross margin)."""
    if "cost_of_goods" not in frame.columns:
        return frame.iloc[0:0].assign(cost_of_goods=pd.Series(dtype=float), gross_margin=pd.Series(dtype=float))
    return frame[frame["cost_of_goods"].notna()]


def _margin_sums(frame: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """Per `key` (or in all, for None): revenue, cost of goods and gross margin of the rows with a
    cost, margin % of that revenue, and the revenue of the rows without a cost; money summed in cents."""
    if "cost_of_goods" not in frame.columns:
        frame = frame.assign(cost_of_goods=np.nan, gross_margin=np.nan)
    costed = frame["cost_of_goods"].notna()
    parts = pd.DataFrame(
        {
            "revenue": np.where(costed, _cents(frame["revenue"]), 0),
            "cost_of_goods": np.where(costed, _cents(frame["cost_of_goods"]), 0),
            "gross_margin": np.where(costed, _cents(frame["gross_margin"]), 0),
            "revenue_without_cost": np.where(costed, 0, _cents(frame["revenue"])),
            "costed": costed.to_numpy(dtype="int64"),
        },
        index=frame.index,
    )
    groups = parts.groupby(frame[key] if key else np.zeros(len(frame), dtype=int))
    sums = groups.sum()
    table = (sums[["revenue", "cost_of_goods", "gross_margin", "revenue_without_cost"]] / 100).where(
        sums[["costed"] * 4].to_numpy() > 0
    )
    table["revenue_without_cost"] = sums["revenue_without_cost"] / 100
    with np.errstate(invalid="ignore", divide="ignore"):
        table["margin_pct"] = (sums["gross_margin"] / sums["revenue"].where(sums["revenue"] > 0) * 100).round(2)
    return table


def _cents(amounts: pd.Series) -> np.ndarray:
    return np.rint(pd.to_numeric(amounts).to_numpy(dtype="float64", na_value=0.0) * 100).astype("int64")


def margin_view(daily: pd.DataFrame, categories: pd.DataFrame, products: pd.DataFrame) -> MarginView:
    """The period's margins from the daily, category and product tables (rows of the period)."""
    columns = ["revenue", "cost_of_goods", "gross_margin", "margin_pct", "revenue_without_cost"]
    totals = _margin_sums(daily, None)
    total = (
        totals.iloc[0]
        if len(totals)
        else pd.Series({column: np.nan for column in columns} | {"revenue_without_cost": 0.0})
    )
    by_category = _margin_sums(categories, "category").reset_index()
    by_category = by_category.sort_values(["gross_margin", "category"], ascending=[False, True], na_position="last")
    by_product = _margin_sums(products, "product_id")
    if len(products):
        names = products.sort_values("sale_date").groupby("product_id")[["sku", "product_name", "category"]].last()
        by_product = names.join(by_product)
    by_product = by_product.reset_index().reindex(columns=["product_id", "sku", "product_name", "category", *columns])
    by_product = by_product.sort_values(["gross_margin", "product_id"], ascending=[False, True], na_position="last")
    cost_known = "cost_of_goods" in daily.columns
    return MarginView(
        revenue=_number(total["revenue"]),
        cost_of_goods=_number(total["cost_of_goods"]),
        gross_margin=_number(total["gross_margin"]),
        margin_pct=_number(total["margin_pct"]),
        revenue_without_cost=float(total["revenue_without_cost"]),
        days_without_cost=int(daily["cost_of_goods"].isna().sum()) if cost_known else len(daily),
        categories=by_category.reset_index(drop=True)[["category", *columns]],
        products=by_product.reset_index(drop=True),
    )


def stock_health_view(
    stock_kpis: pd.DataFrame | None, inventory: pd.DataFrame | None, period: ReportPeriod
) -> StockHealthView:
    """The stock on the period's last day that has both stock_kpis and product_inventory_kpis."""
    shop = _in_period(_or_empty(stock_kpis, "stock_kpis"), "snapshot_date", period)
    products = _in_period(_or_empty(inventory, "product_inventory_kpis"), "snapshot_date", period)
    days = sorted(set(shop["snapshot_date"]) & set(products["snapshot_date"]))
    empty_abc = pd.DataFrame(
        {column: pd.Series(dtype=object) for column in ("abc_class", "products", "revenue_90d", "revenue_share")}
    )
    if not days:
        return StockHealthView(None, {}, empty_abc.assign(stock_value=[], stock_value_share=[]), products.iloc[0:0])
    as_of = days[-1]
    figures = {key: _plain(value) for key, value in shop[shop["snapshot_date"] == as_of].iloc[0].items()}
    today = products[products["snapshot_date"] == as_of]
    today = today.assign(_class=today["abc_class"].astype("string"), _revenue=_cents(today["revenue_90d"]))
    today = today.sort_values(["_class", "_revenue", "product_id"], ascending=[True, False, True])
    classes = (
        today.assign(_value=_cents(today["stock_value"]))
        .groupby("_class")
        .agg(products=("product_id", "size"), revenue=("_revenue", "sum"), value=("_value", "sum"))
    )
    classes = classes.reindex(["A", "B", "C"], fill_value=0)
    revenue, value = classes["revenue"].sum(), classes["value"].sum()
    abc = pd.DataFrame(
        {
            "abc_class": classes.index,
            "products": classes["products"].to_numpy(),
            "revenue_90d": classes["revenue"].to_numpy() / 100,
            "revenue_share": classes["revenue"].to_numpy() / revenue if revenue else np.nan,
            "stock_value": classes["value"].to_numpy() / 100,
            "stock_value_share": classes["value"].to_numpy() / value if value else np.nan,
        }
    )
    return StockHealthView(
        as_of.date(), figures, abc, today.drop(columns=["_class", "_revenue"]).reset_index(drop=True)
    )


def customer_view(customers: pd.DataFrame) -> CustomerView:
    """New and returning customers summed over the period's days, and the repeat rate of their sum."""
    daily = customers.sort_values("sale_date").reset_index(drop=True)
    if daily.empty:
        return CustomerView(daily, None, None, None)
    new, returning = int(daily["new_customers"].sum()), int(daily["returning_customers"].sum())
    return CustomerView(daily, new, returning, round(returning / (new + returning), 4) if new + returning else None)


def _plain(value):
    """A numpy or pandas scalar as a plain Python value (None for missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


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
    """The all-products forecast rows dated in the period or the next one, or None when there are
    none or they start more than `FORECAST_MAX_GAP_DAYS` after the period (a forecast made weeks
    later says nothing about the days that followed the period)."""
    window = ReportPeriod(period.kind, period.start, period.next().end)
    forecast, summary = newest_forecast(forecast, summary, period)
    days = _in_period(_all_products(forecast), "forecast_date", window).sort_values("forecast_date")
    if days.empty or days["forecast_date"].min() > pd.Timestamp(period.end + timedelta(days=FORECAST_MAX_GAP_DAYS)):
        return None
    latest = summary.sort_values("generated_at").iloc[-1] if summary is not None and len(summary) else {}
    generated_at = pd.to_datetime(days["generated_at"]).max()
    return ForecastView(
        days=days[["forecast_date", "predicted_revenue", "lower", "upper"]].reset_index(drop=True),
        model=_text(days["model"].iloc[-1]),
        generated_at=None if pd.isna(generated_at) else generated_at.to_pydatetime(),
        trend=_text(latest.get("trend")),
        total=_number(latest.get("total")),
        horizon_days=_whole(latest.get("horizon_days")),
        backtest_mape=_number(latest.get("backtest_mape")),
    )


def no_forecast_text(forecast: pd.DataFrame | None) -> str:
    """Why the report shows no forecast: none made yet, or the latest covers other days."""
    forecast, _ = newest_forecast(forecast, None)
    days = pd.to_datetime(_all_products(forecast)["forecast_date"])
    if days.empty:
        return "No forecast yet: one is made after each day's sales are loaded."
    first, last = days.min(), days.max()
    return (
        f"No forecast for these days: the latest forecast covers {first.day} {first:%b %Y} to {last.day} {last:%b %Y}."
    )


def newest_forecast(
    forecast: pd.DataFrame | None, summary: pd.DataFrame | None, period: ReportPeriod | None = None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The rows (and summary row) of one kept forecast (`sales_forecast` keeps every as-of day's):
    for a period, the one made as of its last day (else the newest made within it; without one, the
    first made in the next period), so a report shows what was expected when its period closed
    however late it is rendered; without a period, the newest. Frames without as-of days pass as
    they are."""
    if forecast is None or "as_of_date" not in forecast.columns or forecast["as_of_date"].isna().all():
        return forecast, summary
    as_of = pd.to_datetime(forecast["as_of_date"])
    chosen = as_of.max()
    if period is not None:
        last_day = pd.Timestamp(period.end) - pd.Timedelta(days=1)
        within = as_of[(as_of >= pd.Timestamp(period.start)) & (as_of <= last_day)]
        after = as_of[(as_of > last_day) & (as_of < pd.Timestamp(period.next().end))]
        chosen = within.max() if len(within) else after.min()
    if summary is not None and "as_of_date" in summary.columns:
        summary = summary[pd.to_datetime(summary["as_of_date"]) == chosen]
    return forecast[(as_of == chosen).to_numpy()], summary


def accuracy_view(accuracy: pd.DataFrame | None, period: ReportPeriod) -> ForecastAccuracyView | None:
    """How good the forecasts of a month's days were, by days ahead (None for a week)."""
    if period.kind != "monthly":
        return None
    rows = _in_period(_or_empty(accuracy, "forecast_accuracy"), "sale_date", period)
    rows = rows.astype({"abs_pct_error": "float64", "scaled_error": "float64", "covered": "float64"})
    return ForecastAccuracyView(
        by_horizon=by_horizon(rows),
        headline=headline(rows),
        days_scored=int(rows["sale_date"].nunique()),
        placeholder=(
            f"No forecast of this {period.noun}'s days has been scored yet: forecast_accuracy scores a day once "
            "its sales are in and a forecast of it was made before it."
        ),
    )


def nothing_found_text(table: str, checked: int, period: ReportPeriod) -> str:
    """What the section of a daily ML table says when the period has no rows in it."""
    checker, findings = CHECKED_TABLES[table]
    if checked == 0:
        return f"{checker} has not run for this {period.noun} yet (materialize {table} for its days)."
    if checked < period.day_count:
        return f"No {findings} on the {checked} days of this {period.noun} checked so far."
    return f"No {findings} in this {period.noun}."


def reported_anomalies(anomalies: pd.DataFrame | None, period: ReportPeriod) -> pd.DataFrame:
    """MEDIUM and HIGH anomalies of the period: HIGH first, then by day; within a day the whole
    shop, then regions, then products, the largest |z| first."""
    found = _in_period(_or_empty(anomalies, "sales_anomalies"), "sale_date", period)
    rank = found["severity"].astype("string").str.upper().map(SEVERITY_RANK)
    found = found.assign(
        _rank=rank,
        _scope=found["scope"].map(SCOPE_RANK),
        _size=-pd.to_numeric(found["z_score"]).abs(),
    )[rank.notna()]
    ordered = found.sort_values(["_rank", "sale_date", "_scope", "_size"], na_position="last")
    return ordered.drop(columns=["_rank", "_scope", "_size"]).reset_index(drop=True)


def folded_into_shop(anomalies: pd.DataFrame) -> pd.DataFrame:
    """The anomalies a printed report lists: on a day when the whole shop has an anomaly, the
    region and product anomalies of the same label and no higher severity are part of it (a busy
    day lifts every product) and only counted, in the shop row's `folded` column."""
    shop = anomalies.loc[anomalies["scope"] == TOTAL, ["sale_date", "label", "severity"]]
    led = anomalies.merge(shop, on=["sale_date", "label"], how="left", suffixes=("", "_shop"))
    severity_rank, shop_rank = (led[column].map(SEVERITY_RANK) for column in ("severity", "severity_shop"))
    folded = (led["scope"] != TOTAL) & (shop_rank <= severity_rank)
    counts = led[folded].groupby(["sale_date", "label"]).size().rename("folded")
    kept = led[~folded].drop(columns="severity_shop").join(counts, on=["sale_date", "label"])
    kept["folded"] = kept["folded"].where(kept["scope"] == TOTAL).fillna(0).astype(int)
    return kept.reset_index(drop=True)


def period_stock_alerts(alerts: pd.DataFrame | None, period: ReportPeriod) -> pd.DataFrame:
    """Each product's latest LOW / OUT / STOCKOUT_RISK alert of the period (all its columns): the most
    recent first (still short at the period's end), then OUT, LOW, STOCKOUT_RISK, then the fewest
    days of cover."""
    found = _in_period(_or_empty(alerts, "stock_alerts"), "snapshot_date", period)
    latest = found.sort_values(["product_id", "snapshot_date"]).drop_duplicates("product_id", keep="last")
    urgency = latest["status"].astype("string").map({"OUT": 0, "LOW": 1, "STOCKOUT_RISK": 2})
    ordered = latest.assign(_urgency=urgency).sort_values(
        ["snapshot_date", "_urgency", "days_of_cover", "product_id"], ascending=[False, True, True, True]
    )
    return ordered.drop(columns="_urgency").reset_index(drop=True)


def _all_products(forecast: pd.DataFrame | None) -> pd.DataFrame:
    """The forecast's all-products rows (product_id NULL)."""
    forecast = _or_empty(forecast, "sales_forecast")
    return forecast[forecast["product_id"].isna()]


def _or_empty(frame: pd.DataFrame | None, table: str) -> pd.DataFrame:
    """`frame`, or an empty frame with the contract's columns of `table` when it is None."""
    if frame is not None:
        return frame
    return pd.DataFrame({column: pd.Series(dtype=object) for column in TABLES[table].column_names})


def _ranked(table: pd.DataFrame, key: str) -> pd.DataFrame:
    revenue = table["revenue"].sum()
    table = table.assign(revenue=round_money(table["revenue"]), share=table["revenue"] / revenue if revenue else np.nan)
    return table.sort_values(["revenue", key], ascending=[False, True]).reset_index(drop=True)


def _in_period(frame: pd.DataFrame, column: str, period: ReportPeriod) -> pd.DataFrame:
    days = pd.to_datetime(frame[column])
    keep = (days >= pd.Timestamp(period.start)) & (days < pd.Timestamp(period.end))
    return frame[keep].assign(**{column: days[keep]}).reset_index(drop=True)


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _whole(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
