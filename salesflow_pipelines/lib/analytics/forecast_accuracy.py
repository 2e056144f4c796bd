"""How good past forecasts were: each forecast of a day against what the day sold, once it is known.

`score` gives one row per day, forecast of it (as-of day) and series, with the errors that average
into the usual figures: `abs_pct_error` into MAPE (days with revenue), `scaled_error` into MASE
(each error divided by the forecast's own `mase_scale`, the in-sample seasonal naive error of its
series), `covered` into the 80% interval's coverage. Averages over any days, horizon days or
products are then plain means (`by_horizon`, `headline`), so a month's figures are the mean of its
days' rows, whatever runs made them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.schemas import ForecastAccuracy, empty_frame, frame_dtypes

ACCURACY_COLUMNS = frame_dtypes(ForecastAccuracy)
LOOKBACK_DAYS = 28  # forecasts made up to this many days before a day are scored on it
SHOP, PRODUCTS = "shop", "products"


def score(forecasts: pd.DataFrame, daily: pd.DataFrame, products: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Rows of ForecastAccuracy for each of `days` that daily_sales_kpis (`daily`) has: every forecast
    of it in `forecasts` (sales_forecast rows) against the shop's revenue and units that day, or the
    product's from product_daily_sales (0 when it sold nothing)."""
    known = pd.DatetimeIndex(pd.to_datetime(daily["sale_date"]).dt.normalize()) if len(daily) else pd.DatetimeIndex([])
    scored_days = pd.DatetimeIndex(days).intersection(known)
    dates = pd.to_datetime(forecasts["forecast_date"]) if len(forecasts) else pd.Series(dtype="datetime64[ns]")
    scored = forecasts[dates.isin(scored_days).to_numpy()] if len(forecasts) else forecasts
    if scored.empty:
        return empty_frame(ACCURACY_COLUMNS)
    shop = daily.assign(sale_date=known).groupby("sale_date")[["revenue", "units"]].sum()
    sold = (
        products.assign(sale_date=pd.to_datetime(products["sale_date"]).dt.normalize())
        .groupby(["sale_date", "product_id"])[["revenue", "units"]]
        .sum()
        if len(products)
        else pd.DataFrame(columns=["revenue", "units"], index=pd.MultiIndex.from_arrays([[], []]))
    )
    scored = scored.assign(sale_date=pd.to_datetime(scored["forecast_date"]))
    is_shop = scored["product_id"].isna().to_numpy()
    actual = np.zeros((len(scored), 2))
    actual[is_shop] = shop.reindex(scored.loc[is_shop, "sale_date"]).to_numpy()
    product_keys = pd.MultiIndex.from_arrays(
        [scored.loc[~is_shop, "sale_date"], scored.loc[~is_shop, "product_id"].astype("int64")]
    )
    actual[~is_shop] = sold.reindex(product_keys).fillna(0.0).to_numpy()
    actual = np.nan_to_num(actual)
    predicted = scored["predicted_revenue"].to_numpy("float64")
    error = np.abs(actual[:, 0] - predicted)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(actual[:, 0] > 0, error / actual[:, 0] * 100, np.nan)
        scale = scored["mase_scale"].to_numpy("float64")
        scaled = np.where(scale > 0, error / scale, np.nan)
    inside = (actual[:, 0] >= scored["lower"].to_numpy() - 0.005) & (actual[:, 0] <= scored["upper"].to_numpy() + 0.005)
    table = pd.DataFrame(
        {
            "sale_date": scored["sale_date"].to_numpy(),
            "as_of_date": pd.to_datetime(scored["as_of_date"]).to_numpy(),
            "horizon_day": scored["horizon_day"].astype("int64").to_numpy(),
            "product_id": scored["product_id"].astype("Int64").array,
            "model": scored["model"].astype("string").array,
            "predicted_revenue": predicted,
            "lower": scored["lower"].to_numpy("float64"),
            "upper": scored["upper"].to_numpy("float64"),
            "actual_revenue": actual[:, 0],
            "predicted_units": scored["predicted_units"].to_numpy("float64"),
            "actual_units": actual[:, 1],
            "abs_pct_error": np.round(pct, 4),
            "scaled_error": np.round(scaled, 4),
            "covered": inside.astype("int64"),
        }
    )
    order = table.assign(_shop=table["product_id"].isna()).sort_values(
        ["sale_date", "as_of_date", "_shop", "product_id"], ascending=[True, True, False, True]
    )
    return order[list(ACCURACY_COLUMNS)].astype(ACCURACY_COLUMNS).reset_index(drop=True)


def _figures(rows: pd.DataFrame) -> dict[str, float]:
    return {
        "forecasts": len(rows),
        "mape": float(rows["abs_pct_error"].mean()) if rows["abs_pct_error"].notna().any() else np.nan,
        "mase": float(rows["scaled_error"].mean()) if rows["scaled_error"].notna().any() else np.nan,
        "coverage": float(rows["covered"].mean()) if len(rows) else np.nan,
    }


def by_horizon(accuracy: pd.DataFrame) -> pd.DataFrame:
    """One row per scope (`shop`, then `products` pooled) and horizon day: forecasts scored, MAPE (%),
    MASE and the share of actuals inside the 80% interval."""
    columns = ["scope", "horizon_day", "forecasts", "mape", "mase", "coverage"]
    if accuracy.empty:
        return pd.DataFrame({column: pd.Series(dtype="float64") for column in columns})
    scope = np.where(accuracy["product_id"].isna(), SHOP, PRODUCTS)
    rows = [
        {"scope": name, "horizon_day": int(day), **_figures(group)}
        for (name, day), group in accuracy.assign(scope=scope).groupby(["scope", "horizon_day"])
    ]
    table = pd.DataFrame(rows, columns=columns)
    table["_order"] = table["scope"].map({SHOP: 0, PRODUCTS: 1})
    return table.sort_values(["_order", "horizon_day"]).drop(columns="_order").reset_index(drop=True)


def headline(accuracy: pd.DataFrame) -> dict[str, float]:
    """The shop's and the products' MAPE, MASE and coverage over every row, and how many were scored."""
    is_shop = accuracy["product_id"].isna() if len(accuracy) else pd.Series(dtype=bool)
    shop, products = _figures(accuracy[is_shop]), _figures(accuracy[~is_shop])
    return {
        **{f"shop_{name}": value for name, value in shop.items()},
        **{f"product_{name}": value for name, value in products.items()},
    }


def markdown(table: pd.DataFrame) -> str:
    """`by_horizon` as a Markdown table, the shop and the products side by side per horizon day."""
    if table.empty:
        return "No forecast of these days to score yet."
    shop = table[table["scope"] == SHOP].set_index("horizon_day")
    products = table[table["scope"] == PRODUCTS].set_index("horizon_day")
    lines = [
        "| days ahead | shop MAPE % | shop MASE | shop coverage | product MASE | product coverage | forecasts |",
        "|---|---|---|---|---|---|---|",
    ]
    for day in sorted(set(shop.index) | set(products.index)):
        s = shop.loc[day] if day in shop.index else None
        p = products.loc[day] if day in products.index else None
        count = int((s["forecasts"] if s is not None else 0) + (p["forecasts"] if p is not None else 0))
        lines.append(
            f"| {day} | {_cell(s, 'mape', '.1f')} | {_cell(s, 'mase', '.2f')} | {_cell(s, 'coverage', '.0%')} "
            f"| {_cell(p, 'mase', '.2f')} | {_cell(p, 'coverage', '.0%')} | {count} |"
        )
    return "\n".join(lines)


def _cell(row: pd.Series | None, column: str, spec: str) -> str:
    if row is None or pd.isna(row[column]):
        return "–"
    return format(float(row[column]), spec)
