"""Anomaly rules on hand-built daily revenue: z-scores, labels, severities, fallbacks and ids."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from salesflow_pipelines.lib.analytics import anomalies
from salesflow_pipelines.lib.analytics.anomalies import AnomalyRules
from salesflow_pipelines.lib.dates import Window

DAY = date(2026, 11, 18)
DETECTED_AT = pd.Timestamp("2026-11-19 01:00:00")
# Alternating 1,900 / 2,000 has mean 1,950 and a standard deviation of ~50.9 over 28 days.
STEADY = [1900.0, 2000.0] * 14


def history(values, last_day: date = DAY) -> pd.DatetimeIndex:
    return pd.date_range(end=last_day, periods=len(values), freq="D")


def daily(values, last_day: date = DAY) -> pd.DataFrame:
    return pd.DataFrame({"sale_date": history(values, last_day), "revenue": np.asarray(values, float)})


def regions(by_region: dict[str, list[float]], last_day: date = DAY) -> pd.DataFrame:
    frames = [
        pd.DataFrame({"sale_date": history(values, last_day), "region": name, "revenue": np.asarray(values, float)})
        for name, values in by_region.items()
    ]
    return pd.concat(frames, ignore_index=True)


NO_PRODUCTS = pd.DataFrame(
    {"sale_date": pd.Series(dtype="datetime64[ns]"), "product_id": [], "product_name": [], "sku": [], "revenue": []}
)


def detect(total, by_region=None, products=NO_PRODUCTS, first_day: date = DAY):
    by_region = by_region if by_region is not None else {}
    region_frame = regions(by_region) if by_region else regions({"North": [0.0] * len(total)}).iloc[:0]
    window = Window(first_day, DAY + timedelta(days=1))
    return anomalies.detect(daily(total), products, region_frame, window, DETECTED_AT)


def only(found: pd.DataFrame, **match) -> pd.Series:
    rows = found
    for column, value in match.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, found[["sale_date", "scope", "scope_key", "label", "severity"]]
    return rows.iloc[0]


def test_a_spike_in_a_region_is_high_and_explained_in_plain_words():
    north = [*STEADY, 2130.0]
    steady = [*STEADY, 1950.0]
    found = detect(steady, {"North": north, "South": steady})
    row = only(found, scope="region")
    z = (2130 - 1950) / np.std(STEADY, ddof=1)
    assert (row["scope_key"], row["label"], row["severity"], row["metric"]) == (
        "North",
        "HIGH_SPIKE",
        "HIGH",
        "revenue",
    )
    assert row["value"] == 2130.0 and row["expected"] == 1950.0 and row["z_score"] == pytest.approx(z, abs=0.01)
    assert row["explanation"] == (
        f"Revenue in North on 2026-11-18 was 2,130.00, {z:.1f} standard deviations above its 28-day mean of 1,950.00"
    )
    assert row["detected_at"] == DETECTED_AT


@pytest.mark.parametrize(
    ("value", "label", "severity"),
    [
        (1950 + 2.5 * 50.92, "HIGH_SPIKE", "MEDIUM"),
        (1950 - 2.5 * 50.92, "LOW_DIP", "MEDIUM"),
        (1780.0, "LOW_DIP", "HIGH"),
    ],
)
def test_labels_and_severities_follow_the_z_score(value, label, severity):
    assert only(detect([*STEADY, value]), label=label)["severity"] == severity


def test_an_ordinary_day_is_no_anomaly():
    assert detect([*STEADY, 1990.0]).empty


def test_no_revenue_where_revenue_is_normal_is_a_zero_drop_not_a_dip():
    found = detect([*STEADY, 0.0])
    row = only(found, label="ZERO_DROP")
    assert row["severity"] == "HIGH" and "LOW_DIP" not in set(found["label"])
    assert row["explanation"].startswith(
        "No revenue in the whole shop on 2026-11-18, against a 28-day mean of 1,950.00"
    )


def test_zero_drop_applies_without_z_scores_and_is_at_least_medium():
    # Three days of history: no z-score, the zero still stands out.
    row = only(detect([100.0, 120.0, 110.0, 0.0]), scope="total")
    assert (row["label"], row["severity"]) == ("ZERO_DROP", "MEDIUM")
    assert np.isnan(row["z_score"])
    # A series that is often zero: a zero is ordinary.
    assert detect([0.0, 50.0, 0.0, 60.0, 0.0, 55.0, 0.0, 40.0, 0.0]).empty


def test_a_zero_after_one_or_two_days_of_sales_is_no_zero_drop_yet():
    # A product first sold yesterday has no normal to drop from.
    assert detect([100.0, 0.0]).empty
    assert detect([100.0, 120.0, 0.0]).empty


def test_explanations_name_the_days_the_mean_really_covers():
    row = only(detect([100.0, 120.0, 110.0, 0.0]), scope="total")
    assert row["explanation"] == "No revenue in the whole shop on 2026-11-18, against a 3-day mean of 110.00"
    ten_days = [100.0, 110.0] * 5
    spike = only(detect([*ten_days, 500.0]), label="HIGH_SPIKE")
    assert "above its 10-day mean of 105.00" in spike["explanation"]


def test_fewer_than_seven_days_gives_no_z_scores():
    assert detect([100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 5000.0]).empty
    assert len(detect([100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 98.0, 5000.0])) == 1


def test_zero_variance_gives_no_z_score_anomalies():
    assert detect([500.0] * 28 + [900.0]).empty
    assert only(detect([500.0] * 28 + [0.0]), scope="total")["label"] == "ZERO_DROP"


def test_a_volatility_shift_is_low_unless_the_day_is_also_an_outlier():
    calm = [1000.0, 1010.0] * 11  # 22 calm days, then a swinging week
    swinging = [*calm, 900.0, 1100.0, 950.0, 1060.0, 920.0, 1080.0, 1000.0]
    row = only(detect(swinging), label="VARIANCE_SHIFT")
    assert (row["severity"], row["metric"], row["scope"]) == ("LOW", "revenue_volatility", "total")
    assert row["value"] > 2 * row["expected"]
    assert "swung more in the 7 days to 2026-11-18" in row["explanation"]

    spiking = [*swinging[:-1], 1500.0]
    found = detect(spiking)
    assert set(zip(found["label"], found["severity"], strict=True)) == {
        ("HIGH_SPIKE", "HIGH"),
        ("VARIANCE_SHIFT", "MEDIUM"),
    }


def test_rarely_selling_products_get_no_z_scores():
    days = history([*STEADY, 0.0])
    regular = 100.0 + 10 * (np.arange(len(days)) % 2)
    regular[-1] = 900.0
    products = pd.DataFrame(
        {
            "sale_date": [*days[[3, 17, 28]], *days],
            "product_id": [7] * 3 + [8] * len(days),
            "product_name": ["Espresso Beans 1kg"] * 3 + ["Green Tea"] * len(days),
            "sku": ["SKU-0007"] * 3 + ["SKU-0008"] * len(days),
            "revenue": [20.0, 25.0, 400.0, *regular],
        }
    )
    found = detect([*STEADY, 2300.0], products=products)
    row = only(found, scope="product", label="HIGH_SPIKE")
    assert row["scope_key"] == "8"
    assert "7" not in set(found["scope_key"])  # 400.00 after 20 and 25 is no "spike" of a product sold 3 days in 29
    assert row["explanation"].startswith("Revenue for Green Tea (SKU-0008) on 2026-11-18 was 900.00")


def test_days_never_materialized_are_unknown_not_zero():
    total = daily([*STEADY, 1950.0])
    by_region = regions({"North": [*STEADY, 1950.0]})
    missing = pd.Timestamp(DAY - timedelta(days=3))
    found = anomalies.detect(
        total[total["sale_date"] != missing],
        NO_PRODUCTS,
        by_region[by_region["sale_date"] != missing],
        Window(DAY - timedelta(days=3), DAY + timedelta(days=1)),
        DETECTED_AT,
    )
    assert found.empty  # no ZERO_DROP on the missing day, nothing skewed after it


def test_anomaly_ids_are_stable_across_runs_and_distinct_per_anomaly():
    values = [*STEADY, 0.0]
    first = detect(values, {"North": values, "South": values})
    again = anomalies.detect(
        daily(values),
        NO_PRODUCTS,
        regions({"North": values, "South": values}),
        Window(DAY, DAY + timedelta(days=1)),
        DETECTED_AT + pd.Timedelta(days=2),
    )
    assert list(first["anomaly_id"]) == list(again["anomaly_id"])
    assert first["anomaly_id"].is_unique
    assert len(first) == 6 and (first["label"] == "ZERO_DROP").sum() == 3  # and a variance shift each
    assert anomalies.anomaly_id("2026-11-18", "region", "North", "revenue", "ZERO_DROP") in set(first["anomaly_id"])


def test_only_the_window_days_are_reported():
    values = [*STEADY[:-1], 5000.0, 1950.0]  # the spike is the day before the window
    after_spike = detect(values)
    assert set(zip(after_spike["label"], after_spike["severity"], strict=True)) == {("VARIANCE_SHIFT", "LOW")}
    with_spike = detect(values, first_day=DAY - timedelta(days=1))
    assert only(with_spike, label="HIGH_SPIKE")["sale_date"] == pd.Timestamp(DAY - timedelta(days=1))


def test_rules_refuse_a_window_beyond_the_lookback():
    with pytest.raises(ValueError, match="anomaly window"):
        AnomalyRules(window_days=60)
