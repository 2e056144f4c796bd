"""What every route shares: the app's state, cached JSON answers, the anchor day, number helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from salesflow_pipelines.api.cache import DataVersion, ResponseCache
from salesflow_pipelines.api.settings import ApiSettings
from salesflow_pipelines.api.store import ReadStore, as_date
from salesflow_pipelines.lib.money import round_money


@dataclass
class ApiState:
    settings: ApiSettings
    store: ReadStore
    cache: ResponseCache
    version: DataVersion


def state_of(request: Request) -> ApiState:
    return request.app.state.api


async def cached_json(request: Request, key: Hashable, compute: Callable[[ApiState], Any]) -> Response:
    """The answer to `key` under the warehouse's current data version, computed at most once per version
    (in a worker thread: it reads the warehouse); a cached answer costs no thread and no query.

    The key holds today's date too: a period named relative to today moves at midnight.
    """
    api = state_of(request)
    key = (*key, date.today())
    version = await api.version.current()
    body = api.cache.get(key, version)
    if body is None:
        body = await run_in_threadpool(api.cache.compute, key, version, lambda: compute(api))
    return Response(body, media_type="application/json")


def anchor_day(store: ReadStore) -> date:
    """The newest day the warehouse holds KPIs for, never after today (today when it holds none)."""
    newest = as_date(store.value("SELECT MAX(sale_date) FROM {daily_sales_kpis}"))
    today = date.today()
    return min(newest, today) if newest else today


def money(value: Any) -> float:
    """Cents, half away from zero (the warehouse's rounding); 0.0 for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0.0
    return float(round_money(float(value)))


def optional(value: Any, digits: int | None = 2) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return round(number, digits) if digits is not None else number


def quantity(value: Any) -> int | float:
    """Units as the frontend shows them: a whole number as an int."""
    if value is None:
        return 0
    number = float(value)
    return int(number) if number.is_integer() else round(number, 3)


def change_pct(current: float | None, previous: float | None) -> float | None:
    if current is None or not previous:
        return None
    return round((current / previous - 1) * 100, 1)
