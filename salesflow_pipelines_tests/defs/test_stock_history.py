"""A past day's stock snapshot is history: re-running it keeps what its first pull saw.

The stand-in backend, like the Java one, knows only its current stock; the tests change it
between runs through `PUT /products/by-sku/{sku}` and read back the Parquet snapshot and the
`stock_snapshot` warehouse rows. Days are picked relative to today in the partitions' timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import psycopg
import pytest

from salesflow_pipelines.defs.cleaning import assets as cleaning_assets
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.partitions import daily_partitions
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, SalesSource
from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.backend.payloads import products_from_payload

ASSETS = dg.load_assets_from_modules([ingestion_assets, cleaning_assets])
RAW_PRODUCTS = dg.AssetKey("raw_products")
TODAY = ingestion_assets.current_day()


@dataclass
class Run:
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance

    def metadata(self, name: str):
        values = {m.metadata[name].value for m in self.result.asset_materializations_for_node("raw_products")}
        assert len(values) == 1, values
        return values.pop()

    def logged(self, fragment: str) -> list[str]:
        return [
            entry.user_message for entry in self.instance.all_logs(self.result.run_id) if fragment in entry.user_message
        ]


@dataclass
class Shop:
    """The stand-in backend, the Parquet frames and the warehouse of one test."""

    server: StandinServer
    frames_dir: str
    warehouse_url: str

    def run(self, start: date, end: date | None = None) -> Run:
        """Materialize ingestion and cleaning for the days [start, end] (a single-run range)."""
        java = JavaApi(base_url=self.server.base_url, phone="0000000000", password="admin123", backoff_seconds=0.01)
        instance = dg.DagsterInstance.ephemeral()
        result = dg.materialize(
            ASSETS,
            resources={
                "sales_source": SalesSource(kind="java", demo=DemoSource(), java=java),
                "data_quality": DataQuality(),
                "parquet_io_manager": ParquetIOManager(base_path=self.frames_dir),
                "warehouse_io_manager": WarehouseIOManager(url=self.warehouse_url),
            },
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": (end or start).isoformat(),
            },
        )
        assert result.success
        return Run(result, instance)

    def raw_products(self, day: date) -> pd.DataFrame | None:
        store = ParquetIOManager(base_path=self.frames_dir).create_io_manager(None)
        return store.stored_partition(RAW_PRODUCTS, day.isoformat())

    def stock_snapshot(self, day: date) -> pd.DataFrame:
        with psycopg.connect(self.warehouse_url) as connection:
            cursor = connection.execute(
                "SELECT product_id, stock_quantity, status FROM analytics.stock_snapshot WHERE snapshot_date = %s",
                (day,),
            )
            columns = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        return pd.DataFrame(rows, columns=columns).sort_values("product_id").reset_index(drop=True)

    def empty_the_shelves(self) -> None:
        """Every product's current stock in the backend set to 0: a re-pull would make them all OUT."""
        java = JavaApi(base_url=self.server.base_url, phone="0000000000", password="admin123")
        with java.client() as client:
            for product in client.fetch_products():
                client.update_product(product["sku"], product | {"stockQuantity": 0})


@pytest.fixture
def shop(fresh_schema, tmp_path):
    with StandinServer(DemoData(orders_per_day=20), today=TODAY) as server:
        yield Shop(server, str(tmp_path / "frames"), fresh_schema)


def test_rerunning_a_past_day_keeps_its_first_snapshot_and_statuses(shop: Shop):
    day = TODAY - timedelta(days=3)
    first = shop.run(day)
    assert (first.metadata("days_pulled"), first.metadata("days_reused")) == (1, 0)
    stored, statuses = shop.raw_products(day), shop.stock_snapshot(day)
    assert set(statuses["status"]) != {"OUT"}

    shop.empty_the_shelves()
    pulls = shop.server.request_counts["GET /products"]
    rerun = shop.run(day)

    assert (rerun.metadata("days_pulled"), rerun.metadata("days_reused")) == (0, 1)
    assert rerun.metadata("reused") == day.isoformat()
    [message] = rerun.logged("Reused the stored stock snapshot of 1 past day(s), not re-pulled")
    assert message.endswith(f": {day}")
    assert shop.server.request_counts["GET /products"] == pulls
    pd.testing.assert_frame_equal(shop.raw_products(day), stored)
    assert (shop.raw_products(day)["snapshot_date"] == pd.Timestamp(day)).all()
    pd.testing.assert_frame_equal(shop.stock_snapshot(day), statuses)


def test_the_current_day_is_pulled_again(shop: Shop, monkeypatch):
    # Today's partition exists only once the day is over (end_offset=0), so the run's "today"
    # is moved onto a day Dagster can launch.
    day = TODAY - timedelta(days=3)
    shop.run(day)
    shop.empty_the_shelves()
    monkeypatch.setattr(ingestion_assets, "current_day", lambda: day)

    rerun = shop.run(day)

    assert (rerun.metadata("days_pulled"), rerun.metadata("days_reused")) == (1, 0)
    assert not rerun.logged("Reused the stored stock snapshot")
    assert shop.raw_products(day)["stock_quantity"].eq(0).all()
    assert set(shop.stock_snapshot(day)["status"]) == {"OUT"}


def test_a_range_reuses_the_stored_days_and_pulls_the_new_one(shop: Shop):
    first, last = TODAY - timedelta(days=6), TODAY - timedelta(days=4)
    shop.run(first, last - timedelta(days=1))
    stored = {day: shop.raw_products(day) for day in (first, first + timedelta(days=1))}
    statuses = {day: shop.stock_snapshot(day) for day in stored}
    shop.empty_the_shelves()

    run = shop.run(first, last)

    assert (run.metadata("days_pulled"), run.metadata("days_reused")) == (1, 2)
    assert run.metadata("reused") == f"{first}..{first + timedelta(days=1)}"
    for day, frame in stored.items():
        pd.testing.assert_frame_equal(shop.raw_products(day), frame)
        pd.testing.assert_frame_equal(shop.stock_snapshot(day), statuses[day])
    assert shop.raw_products(last)["stock_quantity"].eq(0).all()
    assert (shop.raw_products(last)["snapshot_date"] == pd.Timestamp(last)).all()
    assert set(shop.stock_snapshot(last)["status"]) == {"OUT"}


def test_yesterday_is_the_newest_launchable_day_and_already_history():
    assert date.fromisoformat(daily_partitions.get_last_partition_key()) < TODAY


def test_a_partition_never_written_reads_as_none():
    store = ParquetIOManager(base_path=f"memory://stock-history-{TODAY}").create_io_manager(None)
    assert store.stored_partition(RAW_PRODUCTS, "2026-01-01") is None


def test_a_range_of_new_days_is_pulled_once_and_each_day_gets_the_answer(shop: Shop):
    first, last = TODAY - timedelta(days=5), TODAY - timedelta(days=3)
    pulls = shop.server.request_counts["GET /products"]

    run = shop.run(first, last)

    assert (run.metadata("days_pulled"), run.metadata("days_reused")) == (3, 0)
    assert shop.server.request_counts["GET /products"] == pulls + 1
    java = JavaApi(base_url=shop.server.base_url, phone="0000000000", password="admin123")
    with java.client() as client:
        products, inventory = client.fetch_products(), client.fetch_inventory()
    for day in (first, first + timedelta(days=1), last):
        stored, answer = shop.raw_products(day), products_from_payload(products, inventory, day)
        assert (stored["snapshot_date"] == pd.Timestamp(day)).all()  # stored to the millisecond, as Parquet keeps it
        pd.testing.assert_frame_equal(stored.drop(columns="snapshot_date"), answer.drop(columns="snapshot_date"))
