"""`GET /analytics/sales` and `GET /analytics/stock`: the KPI and stock tables over any range.

Sales figures are sums of `daily_sales_kpis` rows (revenue rounded once, to cents), top products
sums of `product_daily_sales`; stock figures are the `stock_kpis` row of the newest snapshot day in
the range, the products of `stock_snapshot` that day and the reorder suggestions of `stock_alerts`.
Nothing the assets computed is computed again; what no asset stores (a period's totals, the
change against the previous period, the stock rotation) is summed from their rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from statistics import median

from fastapi import APIRouter, Depends, Query, Request, Response

from salesflow_pipelines.api import periods
from salesflow_pipelines.api.auth import authenticated
from salesflow_pipelines.api.common import (
    ApiState,
    anchor_day,
    cached_json,
    change_pct,
    money,
    optional,
    quantity,
)
from salesflow_pipelines.api.periods import DateRange
from salesflow_pipelines.api.schemas import SalesAnalyticsResponse, StockAnalyticsResponse
from salesflow_pipelines.api.store import ReadStore, as_date

router = APIRouter(tags=["analytics"], dependencies=[Depends(authenticated)])

TOP_PRODUCTS = 5
URGENT_COVER_DAYS = 7
STATUS_NAMES = {"OUT": "OUT_OF_STOCK", "LOW": "LOW_STOCK", "DEAD": "DEAD_STOCK"}
STATUS_ORDER = {"OUT": 0, "LOW": 1, "DEAD": 2}
WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
HINT_MIN_DAYS = 28
HINT_MIN_UPLIFT = 0.05

PERIOD_HELP = "daily | weekly | monthly | quarterly | yearly, ending on the newest day the warehouse holds"
DATE_HELP = "YYYY-MM-DD; explicit dates override the period"


def resolved_range(api: ApiState, period: str | None, start_date: str | None, end_date: str | None) -> DateRange:
    return periods.resolve(period, start_date, end_date, anchor_day(api.store), api.settings.max_range_days)


def checked_query(period: str | None, start_date: str | None, end_date: str | None) -> None:
    """Refuse a bad period or date before anything is read (the range itself needs the anchor)."""
    periods.check_period(period)
    periods.parse_day(start_date)
    periods.parse_day(end_date)


@router.get("/analytics/sales", response_model=SalesAnalyticsResponse, summary="Sales KPIs of a period")
async def sales_analytics(
    request: Request,
    period: str | None = Query("monthly", description=PERIOD_HELP),
    start_date: str | None = Query(None, description=DATE_HELP),
    end_date: str | None = Query(None, description=DATE_HELP),
) -> Response:
    """Revenue, units, transactions, average ticket and the top 5 products of the period, each
    with the previous period's value and the change; revenue per day."""
    checked_query(period, start_date, end_date)
    return await cached_json(
        request,
        ("sales", period, start_date, end_date),
        lambda api: sales_figures(api.store, resolved_range(api, period, start_date, end_date), api.settings.currency),
    )


@router.get("/analytics/stock", response_model=StockAnalyticsResponse, summary="Stock KPIs and critical products")
async def stock_analytics(
    request: Request,
    period: str | None = Query("monthly", description=PERIOD_HELP),
    start_date: str | None = Query(None, description=DATE_HELP),
    end_date: str | None = Query(None, description=DATE_HELP),
) -> Response:
    """The stock position on the newest snapshot day of the range, the products OUT, LOW or DEAD
    with a suggested reorder, and the rotation over the range."""
    checked_query(period, start_date, end_date)
    return await cached_json(
        request,
        ("stock", period, start_date, end_date),
        lambda api: stock_figures(api.store, resolved_range(api, period, start_date, end_date)),
    )


# -- sales -----------------------------------------------------------------------------------


def sales_figures(store: ReadStore, span: DateRange, currency: str = "USD") -> dict:
    previous = span.previous()
    rows = store.rows(
        "SELECT sale_date, revenue, units, orders FROM {daily_sales_kpis} "
        "WHERE sale_date >= %s AND sale_date <= %s ORDER BY sale_date",
        (min(previous.start, span.start), span.end),
    )
    days = [(as_date(day), revenue, units, orders) for day, revenue, units, orders in rows]
    current = [row for row in days if span.start <= row[0] <= span.end]
    before = [row for row in days if previous.start <= row[0] <= previous.end]
    totals, previous_totals = _totals(current), _totals(before)
    kpis = {
        **{name: value for name, value in totals.items() if name != "days_with_data"},
        "top_products": top_products(store, span, totals["total_revenue"]),
        "seasonal_hint": seasonal_hint(current),
        "previous_period": {
            "start_date": previous.start,
            "end_date": previous.end,
            **previous_totals,
        },
        "change_pct": {
            name: change_pct(totals[name], previous_totals[name]) if previous_totals["days_with_data"] else None
            for name in ("total_revenue", "total_quantity", "total_transactions", "average_ticket")
        },
    }
    return {
        "period": span.period,
        "start_date": span.start,
        "end_date": span.end,
        "period_label": span.label,
        "currency": currency,
        "days_with_data": totals["days_with_data"],
        "kpis": kpis,
        "daily": [
            {
                "date": day,
                "total_revenue": money(revenue),
                "total_quantity": quantity(units),
                "total_transactions": int(orders or 0),
            }
            for day, revenue, units, orders in current
        ],
    }


def _totals(rows: list[tuple]) -> dict:
    revenue = money(sum(float(row[1] or 0) for row in rows))
    units = sum(float(row[2] or 0) for row in rows)
    orders = sum(int(row[3] or 0) for row in rows)
    return {
        "total_revenue": revenue,
        "total_quantity": quantity(units),
        "total_transactions": orders,
        "average_ticket": money(revenue / orders) if orders else 0.0,
        "days_with_data": len(rows),
    }


def top_products(store: ReadStore, span: DateRange, total_revenue: float) -> list[dict]:
    """The period's 5 products with the most revenue (ties by id), named as on their last day in it."""
    top = store.rows(
        "SELECT product_id, SUM(revenue) AS revenue, SUM(units) AS units FROM {product_daily_sales} "
        "WHERE sale_date >= %s AND sale_date <= %s GROUP BY product_id ORDER BY revenue DESC, product_id LIMIT %s",
        (span.start, span.end, TOP_PRODUCTS),
    )
    if not top:
        return []
    ids = [int(row[0]) for row in top]
    marks = ", ".join(["%s"] * len(ids))
    names: dict[int, tuple[str, str]] = {}
    for product_id, sku, name in store.rows(
        f"SELECT product_id, sku, product_name FROM {{product_daily_sales}} WHERE sale_date >= %s AND sale_date <= %s "
        f"AND product_id IN ({marks}) ORDER BY sale_date",
        (span.start, span.end, *ids),
    ):
        names[int(product_id)] = (sku, name)  # the last day's spelling wins
    return [
        {
            "product_id": int(product_id),
            "sku": names.get(int(product_id), (None, None))[0],
            "name": names.get(int(product_id), (None, None))[1],
            "total_quantity": quantity(units),
            "revenue": money(revenue),
            "share_of_revenue": round(float(revenue) / total_revenue * 100, 2) if total_revenue else None,
        }
        for product_id, revenue, units in top
    ]


def seasonal_hint(rows: list[tuple]) -> str | None:
    """Which weekday sells most over the range, when it stands out: its median revenue against the
    median day's (medians, so that one spike does not make a weekday); four weeks of days at least."""
    if len(rows) < HINT_MIN_DAYS:
        return None
    by_weekday: dict[int, list[float]] = defaultdict(list)
    for day, revenue, _, _ in rows:
        by_weekday[day.weekday()].append(float(revenue or 0))
    typical = median([float(row[1] or 0) for row in rows])
    if typical <= 0:
        return None
    best = max(by_weekday, key=lambda weekday: median(by_weekday[weekday]))
    uplift = median(by_weekday[best]) / typical - 1
    if uplift < HINT_MIN_UPLIFT:
        return "No weekday stands out: sales are spread evenly over the week."
    return f"{WEEKDAYS[best]} sell the most: {uplift:+.0%} revenue above the typical day."


# -- stock -----------------------------------------------------------------------------------


def stock_figures(store: ReadStore, span: DateRange) -> dict:
    as_of = as_date(store.value("SELECT MAX(snapshot_date) FROM {stock_kpis} WHERE snapshot_date <= %s", (span.end,)))
    answer = {
        "period": span.period,
        "period_label": span.label,
        "start_date": span.start,
        "end_date": span.end,
        "as_of": as_of,
        "kpis": {
            "total_stock_value": 0.0,
            "out_of_stock_count": 0,
            "low_stock_count": 0,
            "low_stock_ratio": None,
            "urgent_reorder_count": 0,
            "dead_stock_count": 0,
            "rotation_per_year": None,
            "avg_coverage_days": None,
            "products": 0,
            "reorder_suggestions": 0,
        },
        "critical_products": [],
    }
    if as_of is None:
        return answer
    found = store.rows(
        "SELECT products, total_stock_value, low_stock_products, out_of_stock_products, dead_stock_products, "
        "reorder_suggestions FROM {stock_kpis} WHERE snapshot_date = %s",
        (as_of,),
    )
    products, value, low, out, dead, reorders = found[0]
    snapshot = store.rows(
        "SELECT product_id, sku, name, category, stock_quantity, low_stock_threshold, unit_price, stock_value, "
        "days_of_cover, status FROM {stock_snapshot} WHERE snapshot_date = %s",
        (as_of,),
    )
    covers = [float(row[8]) for row in snapshot if row[8] is not None]
    answer["kpis"] = {
        "total_stock_value": money(value),
        "out_of_stock_count": int(out),
        "low_stock_count": int(low),
        "low_stock_ratio": round(int(low) / int(products), 4) if products else None,
        "urgent_reorder_count": sum(cover < URGENT_COVER_DAYS for cover in covers),
        "dead_stock_count": int(dead),
        "rotation_per_year": rotation_per_year(store, span),
        "avg_coverage_days": round(sum(covers) / len(covers), 1) if covers else None,
        "products": int(products),
        "reorder_suggestions": int(reorders),
    }
    answer["critical_products"] = critical_products(store, snapshot, as_of)
    return answer


def critical_products(store: ReadStore, snapshot: list[tuple], as_of: date) -> list[dict]:
    """OUT, then LOW (fewest days of cover first), then DEAD products, with the reorder suggestion."""
    critical = [row for row in snapshot if row[9] in STATUS_NAMES]
    if not critical:
        return []
    ids = [int(row[0]) for row in critical]
    marks = ", ".join(["%s"] * len(ids))
    last_sales = {
        int(product_id): as_date(day)
        for product_id, day in store.rows(
            f"SELECT product_id, MAX(sale_date) FROM {{product_daily_sales}} WHERE sale_date <= %s "
            f"AND product_id IN ({marks}) GROUP BY product_id",
            (as_of, *ids),
        )
    }
    reorders = {
        int(product_id): (suggested, level, average)
        for product_id, suggested, level, average in store.rows(
            "SELECT product_id, suggested_reorder_qty, reorder_level, avg_daily_units FROM {stock_alerts} "
            "WHERE snapshot_date = %s",
            (as_of,),
        )
    }
    critical.sort(key=lambda row: (STATUS_ORDER[row[9]], float("inf") if row[8] is None else float(row[8]), row[0]))
    answer = []
    for product_id, sku, name, category, stock, threshold, price, value, cover, status in critical:
        suggested, level, average = reorders.get(int(product_id), (None, None, None))
        answer.append(
            {
                "product_id": int(product_id),
                "sku": sku,
                "name": name,
                "category": category,
                "current_stock": int(stock),
                "min_stock": int(threshold),
                "unit_price": optional(price),
                "stock_value": money(value),
                "last_sale_date": last_sales.get(int(product_id)),
                "coverage_days": optional(cover, 1),
                "status": STATUS_NAMES[status],
                "avg_daily_units": optional(average, 2),
                "reorder_level": None if level is None else int(level),
                "suggested_reorder_qty": None if suggested is None else int(suggested),
            }
        )
    return answer


def rotation_per_year(store: ReadStore, span: DateRange) -> float | None:
    """Units sold over the range divided by the average units on hand, per year: how many times
    the stock turns over. None without stock snapshots in the range."""
    sold = store.value(
        "SELECT SUM(units) FROM {daily_sales_kpis} WHERE sale_date >= %s AND sale_date <= %s", (span.start, span.end)
    )
    on_hand = store.value(
        "SELECT AVG(on_hand) FROM (SELECT snapshot_date, SUM(CASE WHEN stock_quantity > 0 THEN stock_quantity "
        "ELSE 0 END) AS on_hand FROM {stock_snapshot} WHERE snapshot_date >= %s AND snapshot_date <= %s "
        "GROUP BY snapshot_date) AS daily_stock",
        (span.start, span.end),
    )
    if not on_hand or sold is None:
        return None
    return round(float(sold) / float(on_hand) * 365 / span.days, 2)
