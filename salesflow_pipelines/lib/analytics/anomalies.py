"""Revenue anomalies: each day against its own recent past, for the shop, each product, each region.

A day's z-score compares its revenue with the mean and standard deviation of the trailing
`window_days` days (28 by default), the day itself excluded:

- `HIGH_SPIKE` at z >= 2, `LOW_DIP` at z <= -2; severity `HIGH` from |z| >= 3, else `MEDIUM`;
- `ZERO_DROP`: no revenue at all where the trailing mean is clearly positive (the series had
  revenue on at least `min_zero_drop_days` trailing days and on all but at most `max_zero_share`
  of them); at least `MEDIUM`, `HIGH` when its z-score says so. It replaces the `LOW_DIP` of the
  same day;
- `VARIANCE_SHIFT`: the standard deviation of the last 7 days (the day included) is at least
  `variance_ratio` times, or at most its inverse, that of the 21 days before. `LOW` on its own,
  `MEDIUM` when the day is also a z outlier (the outlier's own row carries the `HIGH`).

No z-score (and so no spike, dip or variance shift) with fewer than `min_history_days` trailing
days, when the trailing days did not vary, or when the series sold on fewer than
`min_selling_share` of them: on a product that sells once a week, one sale is not a spike.
`ZERO_DROP` needs no z-score. Days that were never materialized count as unknown, not zero.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines.lib.schemas import (
    ANOMALY_LABELS,
    ANOMALY_SCOPES,
    ANOMALY_SEVERITIES,
    SalesAnomaly,
    column_names,
    empty_frame,
    frame_dtypes,
)

SEVERITIES = LOW, MEDIUM, HIGH = ANOMALY_SEVERITIES
LABELS = HIGH_SPIKE, LOW_DIP, ZERO_DROP, VARIANCE_SHIFT = ANOMALY_LABELS
SCOPES = TOTAL, PRODUCT, REGION = ANOMALY_SCOPES
TOTAL_KEY = "all"
REVENUE, VOLATILITY = "revenue", "revenue_volatility"
RECENT_DAYS, BASELINE_DAYS = 7, 21
LOOKBACK_DAYS = 28  # trailing days an anomaly pass reads before its first day

ANOMALY_COLUMNS = column_names(SalesAnomaly)


@dataclass(frozen=True)
class AnomalyRules:
    window_days: int = 28
    min_history_days: int = 7
    z_medium: float = 2.0
    z_high: float = 3.0
    variance_ratio: float = 2.0
    max_zero_share: float = 0.1
    min_selling_share: float = 0.5
    min_zero_drop_days: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.min_history_days <= self.window_days <= LOOKBACK_DAYS:
            raise ValueError(
                f"anomaly window must be between min_history_days and {LOOKBACK_DAYS} days (the "
                f"lookback the asset reads), got window_days={self.window_days}"
            )
        if not 0 < self.z_medium <= self.z_high:
            raise ValueError(f"need 0 < z_medium <= z_high, got {self.z_medium} and {self.z_high}")
        if self.variance_ratio <= 1:
            raise ValueError(f"variance_ratio must be above 1, got {self.variance_ratio}")


DEFAULT_RULES = AnomalyRules()


@dataclass(frozen=True)
class Scope:
    """One scope's daily revenue (days x keys; NaN on days never materialized) and where each
    key is, in words ("in North", "for Espresso Beans 1kg (SKU-0007)")."""

    name: str
    revenue: pd.DataFrame
    where: pd.Series


def anomaly_id(sale_date: str, scope: str, scope_key: str, metric: str, label: str) -> str:
    """Stable id: the same anomaly found again (a re-run, a backfill) gets the same id."""
    return hashlib.sha1(f"{sale_date}|{scope}|{scope_key}|{metric}|{label}".encode()).hexdigest()[:20]


def scopes(daily: pd.DataFrame, products: pd.DataFrame, regions: pd.DataFrame, last_day: pd.Timestamp) -> list[Scope]:
    """Total, per-product and per-region daily revenue up to `last_day`, on the days `daily`
    (daily_sales_kpis, one row per materialized day) knows; a key without a row on such a day had
    no revenue that day."""
    daily = daily.assign(scope_key=TOTAL_KEY, sale_date=pd.to_datetime(daily["sale_date"]).dt.normalize())
    known = pd.DatetimeIndex(daily["sale_date"].unique())
    days = pd.date_range(min(known.min(), last_day) if len(known) else last_day, last_day, freq="D")
    observed = pd.Series(days.isin(known), index=days)

    def wide(frame: pd.DataFrame, key: str) -> pd.DataFrame:
        table = frame.pivot_table(index="sale_date", columns=key, values="revenue", aggfunc="sum")
        table = table.reindex(days).fillna(0.0).where(observed, axis=0)
        table.columns = table.columns.astype(str)
        return table

    names = products.sort_values("sale_date").groupby("product_id")[["product_name", "sku"]].last()
    product_where = "for " + names["product_name"].astype(str) + " (" + names["sku"].astype(str) + ")"
    product_where.index = names.index.astype(str)
    region_names = pd.Index(regions["region"].astype(str).unique())
    return [
        Scope(TOTAL, wide(daily, "scope_key"), pd.Series({TOTAL_KEY: "in the whole shop"})),
        Scope(PRODUCT, wide(products, "product_id"), product_where),
        Scope(REGION, wide(regions, "region"), pd.Series("in " + region_names, index=region_names)),
    ]


def detect(
    daily: pd.DataFrame,
    products: pd.DataFrame,
    regions: pd.DataFrame,
    window: Window,
    detected_at: pd.Timestamp,
    rules: AnomalyRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Every anomaly (all severities) on the days of `window`, in the table's columns; the frames
    must include the trailing `rules.window_days` days before the window."""
    last_day = pd.Timestamp(window.end - timedelta(days=1))
    found = [_scope_anomalies(scope, window, rules) for scope in scopes(daily, products, regions, last_day)]
    found = [frame for frame in found if len(frame)]
    if not found:
        return empty_anomalies()
    anomalies = pd.concat(found, ignore_index=True)
    anomalies["detected_at"] = detected_at
    return _finish(anomalies)


def _scope_anomalies(scope: Scope, window: Window, rules: AnomalyRules) -> pd.DataFrame:
    revenue = scope.revenue
    if revenue.empty or revenue.shape[1] == 0:
        return pd.DataFrame()
    before = revenue.shift(1).rolling(rules.window_days, min_periods=1)
    mean, std, count = before.mean(), before.std(), before.count()
    zero_share = (revenue.shift(1) == 0).rolling(rules.window_days, min_periods=1).sum() / count
    varies = std > 1e-9 * np.maximum(mean.abs(), 1.0)
    scored = (count >= rules.min_history_days) & varies & (1 - zero_share >= rules.min_selling_share)
    z = ((revenue - mean) / std).where(scored)

    recent = revenue.rolling(RECENT_DAYS, min_periods=RECENT_DAYS - 2).std()
    baseline = revenue.shift(RECENT_DAYS).rolling(BASELINE_DAYS, min_periods=BASELINE_DAYS - 7).std()
    ratio = (recent / baseline.where(baseline > 0)).where(scored)

    in_window = (revenue.index >= pd.Timestamp(window.start)) & (revenue.index < pd.Timestamp(window.end))
    zero_drop = (revenue == 0) & (mean > 0) & (zero_share <= rules.max_zero_share) & (count >= rules.min_zero_drop_days)
    outlier = z.abs() >= rules.z_medium
    flags = {
        HIGH_SPIKE: z >= rules.z_medium,
        LOW_DIP: (z <= -rules.z_medium) & ~zero_drop,
        ZERO_DROP: zero_drop,
        VARIANCE_SHIFT: (ratio >= rules.variance_ratio) | (ratio <= 1 / rules.variance_ratio),
    }
    frames = []
    for label, flagged in flags.items():
        rows, columns = np.nonzero(flagged.to_numpy() & in_window[:, None])
        if not len(rows):
            continue
        z_values = z.to_numpy()[rows, columns]
        is_outlier = outlier.to_numpy()[rows, columns]
        if label == VARIANCE_SHIFT:
            value, expected = recent.to_numpy()[rows, columns], baseline.to_numpy()[rows, columns]
            severity = np.where(is_outlier, MEDIUM, LOW)
        else:
            value, expected = revenue.to_numpy()[rows, columns], mean.to_numpy()[rows, columns]
            severity = np.where(np.abs(z_values) >= rules.z_high, HIGH, MEDIUM)
        keys = revenue.columns.to_numpy()[columns]
        frames.append(
            pd.DataFrame(
                {
                    "sale_date": revenue.index[rows],
                    "scope": scope.name,
                    "scope_key": keys,
                    "metric": VOLATILITY if label == VARIANCE_SHIFT else REVENUE,
                    "value": value,
                    "expected": expected,
                    "z_score": z_values,
                    "history_days": count.to_numpy()[rows, columns].astype("int64"),
                    "severity": severity,
                    "label": label,
                    "where": scope.where.reindex(keys).fillna(f"for {scope.name}").to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def explain(row) -> str:
    """One sentence a shop owner understands, with the figures; the mean is named after the trailing
    days it really covers (fewer than the window early in a series' life)."""
    day = f"{row.sale_date:%Y-%m-%d}"
    deviations = "" if pd.isna(row.z_score) else f"{abs(row.z_score):.1f} standard deviations "
    if row.label == ZERO_DROP:
        below = f", {deviations}below it" if deviations else ""
        return f"No revenue {row.where} on {day}, against a {row.history_days}-day mean of {row.expected:,.2f}{below}"
    if row.label == VARIANCE_SHIFT:
        times = row.value / row.expected
        how = "swung more" if times > 1 else "was steadier"
        return (
            f"Revenue {row.where} {how} in the {RECENT_DAYS} days to {day} (standard deviation {row.value:,.2f}) "
            f"than in the {BASELINE_DAYS} days before ({row.expected:,.2f}): {times:.1f} times as much"
        )
    direction = "above" if row.z_score > 0 else "below"
    return (
        f"Revenue {row.where} on {day} was {row.value:,.2f}, {deviations}{direction} "
        f"its {row.history_days}-day mean of {row.expected:,.2f}"
    )


def _finish(anomalies: pd.DataFrame) -> pd.DataFrame:
    days = anomalies["sale_date"].dt.strftime("%Y-%m-%d")
    anomalies["anomaly_id"] = [
        anomaly_id(day, scope, key, metric, label)
        for day, scope, key, metric, label in zip(
            days, anomalies["scope"], anomalies["scope_key"], anomalies["metric"], anomalies["label"], strict=True
        )
    ]
    anomalies["explanation"] = [explain(row) for row in anomalies.itertuples()]
    for money in ("value", "expected"):
        anomalies[money] = round_money(anomalies[money].astype("float64"))
    anomalies["z_score"] = anomalies["z_score"].astype("float64").round(2)
    for text in ("scope", "scope_key", "metric", "severity", "label", "explanation", "anomaly_id"):
        anomalies[text] = anomalies[text].astype("string")
    order = anomalies["severity"].map({HIGH: 0, MEDIUM: 1, LOW: 2})
    anomalies = anomalies.assign(_order=order).sort_values(["sale_date", "_order", "scope", "scope_key", "label"])
    return anomalies[ANOMALY_COLUMNS].reset_index(drop=True)


def empty_anomalies() -> pd.DataFrame:
    return empty_frame(frame_dtypes(SalesAnomaly))
