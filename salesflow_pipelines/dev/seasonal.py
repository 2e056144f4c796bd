"""A seasonal shop, unlike the demo shop: the KPIs a forecast reads, drawn in one go.

Its own weekday shape, a daily trend, +15% in pay-day days (25th to 2nd), Poisson units per
product around log-normal base demand, and optionally a share of 3x spike days. The forecast tests
and `benchmarks/bench_forecast.py` both score the models on it; the demo shop of `demo.py` is the
other one they use.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

END = date(2026, 10, 31)
WEEKDAY_FACTOR = np.array([0.8, 0.85, 0.9, 1.0, 1.25, 1.5, 0.7])  # Monday first
PAYDAY_LIFT = 0.15
SPIKE_FACTOR = 3


def seasonal_shop(
    days: int,
    products: int,
    *,
    seed: int,
    base_demand: tuple[float, float] = (1.0, 1.0),
    trend: float = 0.003,
    spike_share: float = 0.0,
    end: date = END,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`daily_sales_kpis`-like days (`sale_date`, `revenue`, `units`) of `days` days up to `end`, and
    `product_daily_sales`-like rows (`sale_date`, `product_id`, `revenue`, `units`) of the days a
    product sold.

    `base_demand` is the mean and sigma of the log of a product's base daily units, `trend` the
    growth per day, `spike_share` the probability of a day selling three times as much.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=end, periods=days)
    base, price = rng.lognormal(*base_demand, products), rng.uniform(2, 40, products)
    payday = 1 + PAYDAY_LIFT * ((dates.day >= 25) | (dates.day <= 2))
    seasonal = WEEKDAY_FACTOR[dates.weekday] * payday
    expected = np.exp(trend * np.arange(days))[:, None] * base[None, :] * seasonal[:, None]
    units = rng.poisson(expected).astype("float64")
    if spike_share:
        units[rng.random(days) < spike_share] *= SPIKE_FACTOR
    day, product = np.nonzero(units)
    sold = pd.DataFrame(
        {
            "sale_date": dates[day],
            "product_id": product + 1,
            "revenue": units[day, product] * price[product],
            "units": units[day, product],
        }
    )
    daily = sold.groupby("sale_date")[["revenue", "units"]].sum().reindex(dates, fill_value=0.0)
    return daily.rename_axis("sale_date").reset_index(), sold
