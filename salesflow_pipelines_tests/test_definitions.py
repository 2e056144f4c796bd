"""The code location loads, and `dagster definitions validate` accepts it."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
from upath import UPath

from salesflow_pipelines.definitions import defs, resources

DAILY_GRAPH = {
    "raw_sales",
    "raw_products",
    "sales_lines",
    "sales_rejects",
    "stock_snapshot",
    "daily_sales_kpis",
    "product_daily_sales",
    "region_daily_sales",
    "category_daily_sales",
    "customer_daily_kpis",
    "stock_kpis",
}


def test_definitions_resolve_every_job_and_asset():
    repository = defs.get_repository_def()
    repository.load_all_definitions()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys >= DAILY_GRAPH
    for job in repository.get_all_jobs():
        assert job.name


def test_every_partitioned_asset_backfills_in_a_single_run():
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_partitioned and isinstance(node.partitions_def, dg.TimeWindowPartitionsDefinition):
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key.to_user_string()


def test_dagster_definitions_validate(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "salesflow_pipelines.definitions"],
        capture_output=True,
        text=True,
        env={"DAGSTER_HOME": str(tmp_path), "PATH": str(dagster.parent)},
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_an_object_store_data_dir_holds_the_frames_and_nothing_assumes_a_local_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALESFLOW_DATA_DIR", "memory://salesflow-shop/data")
    monkeypatch.setenv("JAVA_API_MAX_CONCURRENCY", "8")
    for name in ("SALESFLOW_WAREHOUSE_URL", "SALESFLOW_SOURCE", "SALESFLOW_REPORTS_DIR", "SALESFLOW_IMPORT_INBOX"):
        monkeypatch.delenv(name, raising=False)
    configured = resources()
    assert configured["parquet_io_manager"].base_path == "memory://salesflow-shop/data/frames"
    assert configured["warehouse_io_manager"].url == f"sqlite:///{tmp_path / '.salesflow' / 'warehouse.db'}"
    assert configured["sales_source"].java.max_concurrency == 8

    ingestion_and_cleaning = {defs.get_assets_def(key) for key in ("raw_sales", "raw_products", "sales_lines")}
    result = dg.materialize(
        list(ingestion_and_cleaning),
        resources={
            key: configured[key]
            for key in ("sales_source", "data_quality", "parquet_io_manager", "warehouse_io_manager")
        },
        instance=dg.DagsterInstance.ephemeral(),
        partition_key="2026-11-02",
    )
    assert result.success
    assert (UPath("memory://salesflow-shop/data/frames") / "sales_lines" / "2026-11-02.parquet").exists()
