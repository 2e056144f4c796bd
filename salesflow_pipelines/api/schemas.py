"""Request bodies and response shapes (the OpenAPI docs), as the legacy frontend knows them.

Bodies come in the frontend's embedded form `{"payload": {...}, "required_roles": []}` or bare
(`{...}`); `required_roles` is accepted and ignored: what a route needs is the server's to decide.
Fields beyond the legacy shapes are additions a client may ignore.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PeriodName = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _names_a_product(request: Any) -> Any:
    """A PRODUCT-scope request must name the product."""
    if request.scope == "PRODUCT" and not (request.sku or request.name or request.product_id):
        raise ValueError("At least one of 'sku' or 'name' is required when scope=PRODUCT")
    return request


class ProductChoice(_Lenient):
    scope: Literal["GLOBAL", "PRODUCT"] = "GLOBAL"
    sku: str | None = Field(None, description="PRODUCT scope: the product's SKU (case and separators ignored)")
    name: str | None = Field(None, description="PRODUCT scope: the product's name")
    product_id: int | None = Field(None, ge=1, description="PRODUCT scope: the product's id")

    _scope = field_validator("scope", mode="before")(_upper)

    _product_named = model_validator(mode="after")(_names_a_product)


class ForecastRequest(ProductChoice):
    forecast_days: int = Field(7, ge=1, le=365, description="days ahead, within the latest forecast's horizon")
    period: PeriodName = Field("monthly", description="accepted for the legacy frontend; the forecast is the latest")

    _period = field_validator("period", mode="before")(_lower)


class AnomalyRequest(_Lenient):
    scope: Literal["GLOBAL", "PRODUCT", "ALL"] = Field(
        "GLOBAL", description="GLOBAL: the whole shop; PRODUCT: one product; ALL: shop, regions and products"
    )
    sku: str | None = None
    name: str | None = None
    product_id: int | None = Field(None, ge=1)
    period: PeriodName = "monthly"
    start_date: date | None = Field(None, description="overrides the period")
    end_date: date | None = Field(None, description="overrides the period")

    _scope = field_validator("scope", mode="before")(_upper)
    _period = field_validator("period", mode="before")(_lower)

    _product_named = model_validator(mode="after")(_names_a_product)


class ReportRequest(_Lenient):
    report_type: Literal["sales", "stock", "combined"] = Field(
        "combined", description="every report holds the sales and the stock sections; the type names the file"
    )
    format: Literal["pdf", "excel"] = "pdf"
    period: PeriodName = "monthly"
    start_date: date | None = Field(None, description="overrides the period")
    end_date: date | None = Field(None, description="overrides the period")

    _report_type = field_validator("report_type", mode="before")(_lower)
    _period = field_validator("period", mode="before")(_lower)

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        value = _lower(value)
        return "excel" if value in ("xlsx", "xls") else value


def _embedded(model: type[BaseModel]) -> type[BaseModel]:
    class Embedded(BaseModel):
        payload: model  # type: ignore[valid-type]
        required_roles: list[str] = Field(default_factory=list, description="ignored: the server decides")

        @model_validator(mode="before")
        @classmethod
        def _bare_form(cls, data: Any) -> Any:
            if isinstance(data, dict) and "payload" not in data:
                return {"payload": data}
            return data

    Embedded.__name__ = f"{model.__name__}Body"
    Embedded.__qualname__ = Embedded.__name__
    return Embedded


ForecastBody = _embedded(ForecastRequest)
AnomalyBody = _embedded(AnomalyRequest)
ReportBody = _embedded(ReportRequest)


# -- responses (documentation) ----------------------------------------------------------------


class TopProduct(BaseModel):
    product_id: int
    sku: str | None = None
    name: str | None
    total_quantity: float
    revenue: float
    share_of_revenue: float | None = Field(description="percent of the period's revenue")


class PeriodTotals(BaseModel):
    start_date: date
    end_date: date
    total_revenue: float
    total_quantity: float
    total_transactions: int
    average_ticket: float
    days_with_data: int


class SalesKpis(BaseModel):
    total_revenue: float
    total_quantity: float
    total_transactions: int
    average_ticket: float
    top_products: list[TopProduct]
    seasonal_hint: str | None
    previous_period: PeriodTotals
    change_pct: dict[str, float | None] = Field(description="percent change against the previous period")


class DailySales(BaseModel):
    date: date
    total_revenue: float
    total_quantity: float
    total_transactions: int


class SalesAnalyticsResponse(BaseModel):
    period: str
    start_date: date
    end_date: date
    period_label: str
    currency: str
    days_with_data: int
    kpis: SalesKpis
    daily: list[DailySales]


class StockKpis(BaseModel):
    total_stock_value: float
    out_of_stock_count: int
    low_stock_count: int
    low_stock_ratio: float | None = Field(description="LOW products over all products (0..1)")
    urgent_reorder_count: int = Field(description="products with less than 7 days of cover")
    dead_stock_count: int
    rotation_per_year: float | None = Field(description="units sold over average units on hand, per year")
    avg_coverage_days: float | None
    products: int
    reorder_suggestions: int


class CriticalProduct(BaseModel):
    product_id: int
    sku: str | None
    name: str | None
    category: str | None
    current_stock: int
    min_stock: int
    unit_price: float | None
    stock_value: float
    last_sale_date: date | None
    coverage_days: float | None
    status: Literal["OUT_OF_STOCK", "LOW_STOCK", "DEAD_STOCK"]
    avg_daily_units: float | None
    reorder_level: int | None
    suggested_reorder_qty: int | None


class StockAnalyticsResponse(BaseModel):
    period: str
    period_label: str
    start_date: date
    end_date: date
    as_of: date | None = Field(description="the stock snapshot day the figures are of")
    kpis: StockKpis
    critical_products: list[CriticalProduct]


class ProductRef(BaseModel):
    id: int
    sku: str | None
    name: str | None


class ForecastSummary(BaseModel):
    trend: str | None
    total: float
    daily_average: float
    peak_value: float | None
    peak_day: date | None
    period_label: str
    model: str | None
    generated_at: str | None
    horizon_days: int


class ForecastResponse(BaseModel):
    scope: str
    product_id: int | None
    dates: list[date]
    predictions: list[float]
    lower: list[float | None]
    upper: list[float | None]
    summary: ForecastSummary
    product: ProductRef | None


class Anomaly(BaseModel):
    date: date
    value: float | None
    score: float | None = Field(description="z-score against the trailing 28 days")
    severity: Literal["medium", "high"]
    type: str
    explanation: str | None
    expected: float | None
    scope: str
    scope_key: str
    anomaly_id: str


class AnomalyResponse(BaseModel):
    scope: str
    product_id: int | None
    product_sku: str | None
    period: str
    start_date: date
    end_date: date
    period_label: str
    count: int
    anomalies: list[Anomaly]


class RowError(BaseModel):
    row: int
    field: str
    reason: str
    code: str
    sheet: str


class ImportFollowUp(BaseModel):
    status: str
    file: str | None
    sha256: str
    run_key: str
    status_url: str


class ImportResponse(BaseModel):
    status: Literal["success", "failed"]
    total_rows: int
    valid_rows: int
    errors: list[RowError]
    message: str
    checked_against: str | None = None
    import_: ImportFollowUp | None = Field(None, alias="import")


class ReportFile(BaseModel):
    kind: str
    period: str
    title: str
    start_date: date
    end_date: date
    format: Literal["pdf", "excel"]
    name: str
    size_bytes: int
    modified_at: str
    url: str


class Health(BaseModel):
    status: str
    service: str
    message: str
