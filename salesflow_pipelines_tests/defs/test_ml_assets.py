"""Forecast, anomaly and stock alert assets over the real PostgreSQL warehouse, on demo sales
that have a spike day (2026-10-03) and a closed day (2026-10-13)."""

import time
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pytest
from pandas.testing import assert_frame_equal

from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.kpis import assets as kpi_assets
from salesflow_pipelines.defs.ml import assets as ml_assets
from salesflow_pipelines.defs.ml.resources import AnomalySettings, ForecastSettings, StockAlertSettings
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, SalesSource

ASSETS = dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets, ml_assets])
FIRST_DAY, LAST_DAY = date(2026, 9, 1), date(2026, 10, 15)
SPIKE_DAY, CLOSED_DAY = pd.Timestamp("2026-10-03"), pd.Timestamp("2026-10-13")
DAILY_ML = ["sales_anomalies", "stock_alerts"]
FORECAST = ["sales_forecast", "sales_forecast_summary"]
FORECAST_KEYS = {dg.AssetKey(name) for name in [*FORECAST, "forecast_accuracy"]}


def table(url: str, name: str) -> pd.DataFrame:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(f"SELECT * FROM analytics.{name}")
        return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def materialize(resources: dict, selection, **kwargs) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        ASSETS, selection=selection, resources=resources, instance=dg.DagsterInstance.ephemeral(), **kwargs
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def warehouse(postgres_url, tmp_path_factory) -> dict:
    """Six weeks of demo sales through the daily graph and the daily ml assets, in one backfill run
    (the forecast and its accuracy are run by their own tests)."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
    resources = {
        "sales_source": SalesSource(kind="demo", demo=DemoSource(orders_per_day=40), java=JavaApi()),
        "data_quality": DataQuality(),
        "parquet_io_manager": ParquetIOManager(base_path=str(tmp_path_factory.mktemp("frames"))),
        "warehouse_io_manager": WarehouseIOManager(url=postgres_url),
        "forecast_settings": ForecastSettings(horizon_days=7),
        "anomaly_settings": AnomalySettings(),
        "stock_alert_settings": StockAlertSettings(lead_time_days=5, safety_stock_days=2),
    }
    daily = [asset for asset in ASSETS if asset.partitions_def is not None and not set(asset.keys) & FORECAST_KEYS]
    result = materialize(resources, daily, tags=days_tags(FIRST_DAY, LAST_DAY))
    return {"url": postgres_url, "resources": resources, "result": result}


def days_tags(first: date, last: date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def test_anomalies_flag_the_spike_and_the_closed_day_and_write_no_low(warehouse):
    found = table(warehouse["url"], "sales_anomalies")
    found["sale_date"] = pd.to_datetime(found["sale_date"])
    assert found["anomaly_id"].is_unique
    assert set(found["severity"]) == {"MEDIUM", "HIGH"}
    total = found[found["scope"] == "total"].set_index(["sale_date", "label"])
    assert total.loc[(SPIKE_DAY, "HIGH_SPIKE"), "severity"] == "HIGH"
    # At least MEDIUM: the spike ten days earlier widens the trailing spread, so |z| < 3 here.
    assert total.loc[(CLOSED_DAY, "ZERO_DROP"), "severity"] in {"MEDIUM", "HIGH"}
    closed_regions = found[(found["sale_date"] == CLOSED_DAY) & (found["scope"] == "region")]
    assert set(closed_regions["label"]) == {"ZERO_DROP"} and len(closed_regions) == 5
    assert total.loc[(CLOSED_DAY, "ZERO_DROP"), "explanation"].startswith("No revenue in the whole shop on 2026-10-13")


def test_rematerializing_a_day_keeps_its_anomaly_ids(warehouse):
    before = table(warehouse["url"], "sales_anomalies")
    # detected_at is kept to the second: re-run in a later second than the first run's, or the
    # refreshed timestamps would be indistinguishable from the kept ones.
    while pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s") <= before["detected_at"].max():
        time.sleep(0.05)
    result = materialize(warehouse["resources"], ["sales_anomalies"], partition_key="2026-10-03")
    after = table(warehouse["url"], "sales_anomalies")
    assert sorted(before["anomaly_id"]) == sorted(after["anomaly_id"])
    before = before.set_index("anomaly_id")
    after = after.set_index("anomaly_id").reindex(before.index)
    changed = after["detected_at"] != before["detected_at"]
    assert set(after[changed]["sale_date"].astype(str)) == {"2026-10-03"}
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["high"].value >= 1 and metadata["low_logged_only"].value >= 0
    assert "2026-10-03" in metadata["high_anomalies"].value


def test_stock_alerts_are_the_low_and_out_products_and_those_running_out_within_the_lead_time(warehouse):
    alerts = table(warehouse["url"], "stock_alerts")
    snapshot = table(warehouse["url"], "stock_snapshot")
    low_or_out = snapshot[snapshot["status"].isin(["LOW", "OUT"])]
    keys = ["snapshot_date", "product_id"]
    flagged = alerts[alerts["status"].isin(["LOW", "OUT"])]
    assert set(map(tuple, flagged[keys].to_numpy())) == set(map(tuple, low_or_out[keys].to_numpy()))
    assert set(alerts.loc[alerts["product_id"] == 13, "status"]) == {"OUT"}  # the demo's product 13 is never stocked
    assert (alerts["suggested_reorder_qty"] >= alerts["reorder_level"] + 1 - alerts["stock_quantity"]).all()
    assert set(alerts["lead_time_days"]) == {5} and set(alerts["safety_stock_days"]) == {2}

    # The demo's stock runs down a 14-day cycle: products above their level run out within 5 days.
    risk = alerts[alerts["status"] == "STOCKOUT_RISK"].merge(snapshot, on=keys, suffixes=("", "_snapshot"))
    assert len(risk) and (risk["stock_quantity"] > risk["low_stock_threshold"]).all()
    runs_out = pd.to_datetime(risk["expected_stockout_date"]) - pd.to_datetime(risk["snapshot_date"])
    assert runs_out.between(pd.Timedelta(days=1), pd.Timedelta(days=5)).all()
    # The reorder covers the forecast demand of lead time + safety stock, not a trailing average.
    expected = np.maximum(np.ceil(risk["forecast_demand_units"]), risk["reorder_level"] + 1) - risk["stock_quantity"]
    assert (risk["suggested_reorder_qty"] == expected.clip(lower=0)).all()
    low = alerts[alerts["status"] == "LOW"]
    assert pd.to_datetime(low["expected_stockout_date"]).notna().any()


def forecast_run(resources: dict, first: date, last: date, selection=None) -> dg.ExecuteInProcessResult:
    return materialize(resources, selection or [*FORECAST, "forecast_accuracy"], tags=days_tags(first, last))


def test_a_forecast_is_kept_per_as_of_day_and_made_from_the_days_up_to_it_only(warehouse):
    first, last = date(2026, 10, 8), date(2026, 10, 15)
    result = forecast_run(warehouse["resources"], first, last)

    forecast = table(warehouse["url"], "sales_forecast")
    products = table(warehouse["url"], "product_daily_sales")
    as_of = pd.to_datetime(forecast["as_of_date"])
    assert sorted(as_of.dt.date.unique()) == [first + timedelta(days=n) for n in range(8)]
    newest = forecast[as_of == pd.Timestamp(last)]
    sold_before = products[pd.to_datetime(products["sale_date"]) <= pd.Timestamp(last)]["product_id"].nunique()
    assert len(newest) == 7 * (1 + sold_before)
    total = newest[newest["product_id"].isna()].sort_values("forecast_date")
    assert list(pd.to_datetime(total["forecast_date"])) == list(pd.date_range("2026-10-16", periods=7))
    assert list(total["horizon_day"]) == list(range(1, 8))
    assert (forecast["predicted_units"] >= 0).all() and (total["predicted_units"] > 0).all()
    assert (forecast["lower"] <= forecast["predicted_revenue"] + 1e-9).all()
    assert (forecast["predicted_revenue"] <= forecast["upper"] + 1e-9).all()

    summary = table(warehouse["url"], "sales_forecast_summary")
    summary.index = pd.to_datetime(summary.pop("as_of_date"))
    assert len(summary) == 8
    row = summary.loc[pd.Timestamp(last)]
    assert row["horizon_days"] == 7 and row["strategy"] == "auto"
    assert row["total"] == pytest.approx(total["predicted_revenue"].sum(), abs=0.05)
    scores = {
        name: row[f"mase_{name}"] for name in ("linear", "gradient_boosting", "weekday_profile", "seasonal_naive")
    }
    assert row["model"] == min(scores, key=scores.get)  # the baseline is a candidate: never worse than it
    assert row["backtest_mase"] <= scores["seasonal_naive"]
    assert row["improvement_over_baseline_pct"] == pytest.approx(
        (1 - row["backtest_mase"] / scores["seasonal_naive"]) * 100, abs=0.01
    )

    # Run shape: the newest day's forecast alone is the same as in the range run.
    materialize(warehouse["resources"], FORECAST, partition_key=last.isoformat())
    again = table(warehouse["url"], "sales_forecast")
    again = again[pd.to_datetime(again["as_of_date"]) == pd.Timestamp(last)]
    columns = ["forecast_date", "product_id", "predicted_revenue", "lower", "upper", "predicted_units", "model"]
    ordered = ["forecast_date", "product_id"]
    assert_frame_equal(
        again[columns].sort_values(ordered).reset_index(drop=True),
        newest[columns].sort_values(ordered).reset_index(drop=True),
    )

    metadata = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert (
        "| strategy | MAPE % | MASE | product MASE | 80% coverage |"
        in metadata["sales_forecast_summary"]["backtest"].value
    )
    assert metadata["sales_forecast_summary"]["as_of_date"].value == last.isoformat()
    assert metadata["sales_forecast"]["rows_in_run"].value == len(forecast)


def test_forecast_accuracy_scores_each_day_against_the_forecasts_made_before_it(warehouse):
    first, last = date(2026, 10, 1), date(2026, 10, 15)
    result = forecast_run(warehouse["resources"], first, last)

    accuracy = table(warehouse["url"], "forecast_accuracy")
    accuracy["sale_date"] = pd.to_datetime(accuracy["sale_date"])
    accuracy["as_of_date"] = pd.to_datetime(accuracy["as_of_date"])
    assert accuracy["sale_date"].min() == pd.Timestamp("2026-10-02")  # the first day with an earlier forecast
    assert (accuracy["sale_date"] > accuracy["as_of_date"]).all()
    assert ((accuracy["sale_date"] - accuracy["as_of_date"]).dt.days == accuracy["horizon_day"]).all()
    assert accuracy["horizon_day"].between(1, 7).all()

    shop = accuracy[accuracy["product_id"].isna()]
    kpis = table(warehouse["url"], "daily_sales_kpis").set_index("sale_date")["revenue"]
    kpis.index = pd.to_datetime(kpis.index)
    assert shop["actual_revenue"].to_numpy() == pytest.approx(kpis.reindex(shop["sale_date"]).to_numpy())
    # The closed day sold nothing: no percentage error, but a scaled one.
    closed = shop[shop["sale_date"] == CLOSED_DAY]
    assert len(closed) and closed["abs_pct_error"].isna().all() and closed["scaled_error"].notna().all()
    inside = (shop["actual_revenue"] >= shop["lower"] - 0.005) & (shop["actual_revenue"] <= shop["upper"] + 0.005)
    assert (shop["covered"] == inside.astype(int)).all()

    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "forecast_accuracy"][:1]
    metadata = event.materialization.metadata
    assert "| days ahead | shop MAPE % | shop MASE | shop coverage |" in metadata["by_horizon_day"].value
    assert metadata["shop_forecasts"].value == len(shop)
    assert 0 <= metadata["shop_coverage"].value <= 1
