"""Declarative automation: whichever way the daily tables were run, the automation sensor asks for
the same follow-up (defs/automation.py), evaluated by Dagster's own evaluator on a real instance."""

from datetime import date, timedelta

import dagster as dg
import pytest

from salesflow_pipelines.definitions import defs
from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.kpis import assets as kpi_assets
from salesflow_pipelines.defs.ml import assets as ml_assets
from salesflow_pipelines.defs.ml.resources import AnomalySettings, ForecastSettings, StockAlertSettings
from salesflow_pipelines.defs.partitions import daily_partitions
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, SalesSource

DAILY_GRAPH = dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets])
ASSETS = [*DAILY_GRAPH, *dg.load_assets_from_modules([ml_assets])]
LATEST = date.fromisoformat(daily_partitions.get_last_partition_key())
FIRST = LATEST - timedelta(days=34)
HISTORY_DAYS = 28  # the anomalies' and stock alerts' look-back
ANOMALIES, STOCK_ALERTS = dg.AssetKey("sales_anomalies"), dg.AssetKey("stock_alerts")
FORECAST, ACCURACY = dg.AssetKey("sales_forecast"), dg.AssetKey("forecast_accuracy")


def days(first: date, last: date) -> set[str]:
    return {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}


class Shop:
    """A real (SQLite) instance and warehouse, and the automation sensor's cursor between ticks."""

    def __init__(self, instance: dg.DagsterInstance, folder) -> None:
        self.instance, self.cursor = instance, None
        self.resources = {
            "sales_source": SalesSource(kind="demo", demo=DemoSource(orders_per_day=10), java=JavaApi()),
            "data_quality": DataQuality(),
            "parquet_io_manager": ParquetIOManager(base_path=str(folder / "frames")),
            "warehouse_io_manager": WarehouseIOManager(url=f"sqlite:///{folder / 'warehouse.db'}"),
            "anomaly_settings": AnomalySettings(),
            "stock_alert_settings": StockAlertSettings(),
            "forecast_settings": ForecastSettings(horizon_days=7),
        }

    def run(self, selection, first: date | None = None, last: date | None = None) -> None:
        tags = {}
        if first:
            tags = {"dagster/asset_partition_range_start": f"{first}", "dagster/asset_partition_range_end": f"{last}"}
        result = dg.materialize(
            ASSETS, selection=selection, resources=self.resources, instance=self.instance, tags=tags
        )
        assert result.success

    def run_daily_graph(self, first: date, last: date) -> None:
        self.run(DAILY_GRAPH, first, last)

    def tick(self) -> dg.AutomationResult:
        """One evaluation of the automation sensor, then the runs it asked for, as the daemon does."""
        result = dg.evaluate_automation_conditions(defs=defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        requested = sorted(result.get_requested_partitions(ANOMALIES) | result.get_requested_partitions(STOCK_ALERTS))
        if requested:
            self.run([ANOMALIES, STOCK_ALERTS], date.fromisoformat(requested[0]), date.fromisoformat(requested[-1]))
        for selection in ([FORECAST, dg.AssetKey("sales_forecast_summary")], [ACCURACY]):
            asked = sorted(result.get_requested_partitions(selection[0]))
            if asked:
                self.run(selection, date.fromisoformat(asked[0]), date.fromisoformat(asked[-1]))
        return result


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        shop = Shop(instance, tmp_path)
        assert shop.tick().total_requested == 0  # the sensor's first tick, before any run
        yield shop


def test_a_range_run_is_followed_by_its_days_with_full_history_and_a_forecast(shop):
    shop.run_daily_graph(FIRST, LATEST)
    result = shop.tick()
    judged = days(FIRST + timedelta(days=HISTORY_DAYS), LATEST)
    assert result.get_requested_partitions(ANOMALIES) == judged
    assert result.get_requested_partitions(STOCK_ALERTS) == judged
    # The forecast of the newest day only (older as-of days are backfilled on purpose); no accuracy
    # yet: no forecast was made before any of these days.
    assert result.get_requested_partitions(FORECAST) == {LATEST.isoformat()}
    assert result.get_num_requested(ACCURACY) == 0
    assert shop.tick().total_requested == 0  # asked once


def test_a_corrected_past_day_rejudges_the_days_that_look_back_on_it_and_keeps_the_forecast(shop):
    shop.run_daily_graph(FIRST, LATEST)
    shop.tick()
    assert shop.tick().total_requested == 0  # the follow-up runs' own materializations ask for nothing
    corrected = FIRST + timedelta(days=HISTORY_DAYS + 1)
    shop.run_daily_graph(corrected, corrected)
    result = shop.tick()
    assert result.get_requested_partitions(ANOMALIES) == days(
        corrected, min(LATEST, corrected + timedelta(HISTORY_DAYS))
    )
    assert result.get_num_requested(FORECAST) == 0


def test_a_days_actuals_score_the_forecasts_made_before_it(shop):
    yesterday = LATEST - timedelta(days=1)
    shop.run_daily_graph(FIRST, yesterday)
    shop.run([FORECAST, dg.AssetKey("sales_forecast_summary")], yesterday, yesterday)  # yesterday's forecast
    before = shop.tick()
    assert before.get_num_requested(FORECAST) == 0 and before.get_num_requested(ACCURACY) == 0
    shop.run_daily_graph(LATEST, LATEST)
    result = shop.tick()
    assert result.get_requested_partitions(FORECAST) == {LATEST.isoformat()}
    assert result.get_requested_partitions(ACCURACY) == {LATEST.isoformat()}
    assert shop.tick().total_requested == 0
