"""`POST /ml/forecast` and `POST /ml/anomalies`: the forecast and anomaly tables, as the frontend asks.

The forecast is the latest `sales_forecast` (the table keeps one forecast per as-of day; this reads
the rows of the newest as-of day), for the whole shop or one product; a request for more days than it
covers is 422, never a new fit.
Anomalies are the `sales_anomalies` rows (MEDIUM and HIGH) of a period; nothing is emailed here,
the anomaly sensor does that once per anomaly.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from salesflow_pipelines.api import periods
from salesflow_pipelines.api.auth import authenticated
from salesflow_pipelines.api.common import ApiState, anchor_day, cached_json, money, optional
from salesflow_pipelines.api.products import Product, find_product
from salesflow_pipelines.api.schemas import (
    AnomalyBody,
    AnomalyRequest,
    AnomalyResponse,
    ForecastBody,
    ForecastRequest,
    ForecastResponse,
)
from salesflow_pipelines.api.store import ReadStore, as_date

router = APIRouter(prefix="/ml", tags=["ml"], dependencies=[Depends(authenticated)])

NO_FORECAST = (
    "No forecast yet: the forecast asset (sales_forecast, made for each as-of day after that day's tables) "
    "has not been materialized"
)
# The rows of the newest as-of day: sales_forecast and sales_forecast_summary keep every day's forecast.
NEWEST_AS_OF = "as_of_date = (SELECT MAX(as_of_date) FROM {sales_forecast})"
SCOPES = {"GLOBAL": "total", "PRODUCT": "product"}


@router.post("/forecast", response_model=ForecastResponse, summary="Revenue forecast, shop or product")
async def forecast(request: Request, body: ForecastBody) -> Response:  # type: ignore[valid-type]
    """The next `forecast_days` days of the latest forecast, with its 80% interval and summary."""
    ask: ForecastRequest = body.payload
    key = ("forecast", ask.scope, ask.sku, ask.name, ask.product_id, ask.forecast_days)
    return await cached_json(request, key, lambda api: forecast_answer(api, ask))


@router.post("/anomalies", response_model=AnomalyResponse, summary="Revenue anomalies of a period")
async def anomalies(request: Request, body: AnomalyBody) -> Response:  # type: ignore[valid-type]
    """MEDIUM and HIGH anomalies of the period, oldest first, each with its explanation."""
    ask: AnomalyRequest = body.payload
    key = ("anomalies", ask.scope, ask.sku, ask.name, ask.product_id, ask.period, ask.start_date, ask.end_date)
    return await cached_json(request, key, lambda api: anomaly_answer(api, ask))


# -- forecast --------------------------------------------------------------------------------


def forecast_answer(api: ApiState, ask: ForecastRequest) -> dict:
    store = api.store
    product = find_product(store, ask.sku, ask.name, ask.product_id) if ask.scope == "PRODUCT" else None
    if product is None:
        rows = store.rows(
            "SELECT forecast_date, predicted_revenue, lower, upper, model, generated_at FROM {sales_forecast} "
            f"WHERE product_id IS NULL AND {NEWEST_AS_OF} ORDER BY forecast_date"
        )
    else:
        rows = store.rows(
            "SELECT forecast_date, predicted_revenue, lower, upper, model, generated_at FROM {sales_forecast} "
            f"WHERE product_id = %s AND {NEWEST_AS_OF} ORDER BY forecast_date",
            (product.id,),
        )
    if not rows:
        if product is not None and store.value("SELECT COUNT(*) FROM {sales_forecast}"):
            raise HTTPException(
                404, f"No forecast for {product.sku or product.id}: it had no sales in the forecast's history window"
            )
        raise HTTPException(404, NO_FORECAST)
    first, last = as_date(rows[0][0]), as_date(rows[-1][0])
    if ask.forecast_days > len(rows):
        raise HTTPException(
            422,
            f"forecast_days={ask.forecast_days} is beyond the forecast horizon: the latest forecast covers "
            f"{len(rows)} days ({first} to {last}). Ask for at most {len(rows)} days, or raise "
            "SALESFLOW_FORECAST_HORIZON and re-materialize sales_forecast.",
        )
    shown = rows[: ask.forecast_days]
    dates = [as_date(row[0]) for row in shown]
    predictions = [money(row[1]) for row in shown]
    summary = store.rows(
        "SELECT trend, horizon_days, generated_at FROM {sales_forecast_summary} "
        "ORDER BY as_of_date DESC, generated_at DESC LIMIT 1"
    )
    total = money(sum(float(row[1]) for row in shown))
    peak = max(range(len(shown)), key=lambda index: float(shown[index][1]))
    whole_horizon = product is None and len(shown) == len(rows)
    return {
        "scope": ask.scope,
        "product_id": product.id if product else None,
        "dates": dates,
        "predictions": predictions,
        "lower": [optional(row[2]) for row in shown],
        "upper": [optional(row[3]) for row in shown],
        "summary": {
            "trend": summary[0][0] if whole_horizon and summary else trend(store, product, dates, predictions),
            "total": total,
            "daily_average": money(total / len(shown)),
            "peak_value": predictions[peak],
            "peak_day": dates[peak],
            "period_label": f"Next {len(shown)} days ({periods.long_day(dates[0])} – {periods.long_day(dates[-1])})",
            "model": shown[-1][4],
            "generated_at": _timestamp(shown[-1][5]),
            "horizon_days": len(rows),
        },
        "product": {"id": product.id, "sku": product.sku, "name": product.name} if product else None,
    }


def trend(store: ReadStore, product: Product | None, dates: list, predictions: list[float]) -> str:
    """The forecast asset's rule (`lib.forecast.trend`) over the days asked for: their average
    against the actual daily average of as many days just before them (a missing day counts 0)."""
    from salesflow_pipelines.lib.analytics.forecast import trend as trend_rule

    since = dates[0] - timedelta(days=len(dates))
    if product is None:
        actual = store.value(
            "SELECT SUM(revenue) FROM {daily_sales_kpis} WHERE sale_date >= %s AND sale_date < %s", (since, dates[0])
        )
    else:
        actual = store.value(
            "SELECT SUM(revenue) FROM {product_daily_sales} WHERE product_id = %s AND sale_date >= %s "
            "AND sale_date < %s",
            (product.id, since, dates[0]),
        )
    return trend_rule(sum(predictions) / len(predictions), float(actual or 0) / len(dates))


def _timestamp(value) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


# -- anomalies -------------------------------------------------------------------------------


def anomaly_answer(api: ApiState, ask: AnomalyRequest) -> dict:
    store = api.store
    span = periods.resolve(
        ask.period,
        ask.start_date.isoformat() if ask.start_date else None,
        ask.end_date.isoformat() if ask.end_date else None,
        anchor_day(store),
        api.settings.max_range_days,
    )
    product = find_product(store, ask.sku, ask.name, ask.product_id) if ask.scope == "PRODUCT" else None
    where, params = "sale_date >= %s AND sale_date <= %s", [span.start, span.end]
    if ask.scope in SCOPES:
        where += " AND scope = %s"
        params.append(SCOPES[ask.scope])
    if product is not None:
        where += " AND scope_key = %s"
        params.append(str(product.id))
    rows = store.rows(
        "SELECT sale_date, value, z_score, severity, label, explanation, expected, scope, scope_key, anomaly_id "
        f"FROM {{sales_anomalies}} WHERE {where} ORDER BY sale_date, anomaly_id",
        params,
    )
    found = [
        {
            "date": as_date(day),
            "value": optional(value),
            "score": optional(z_score, 2),
            "severity": str(severity).lower(),
            "type": label,
            "explanation": explanation,
            "expected": optional(expected),
            "scope": scope,
            "scope_key": scope_key,
            "anomaly_id": anomaly_id,
        }
        for day, value, z_score, severity, label, explanation, expected, scope, scope_key, anomaly_id in rows
        if str(severity).upper() in ("MEDIUM", "HIGH")
    ]
    return {
        "scope": ask.scope,
        "product_id": product.id if product else None,
        "product_sku": product.sku if product else None,
        "period": span.period,
        "start_date": span.start,
        "end_date": span.end,
        "period_label": span.label,
        "count": len(found),
        "anomalies": found,
    }
