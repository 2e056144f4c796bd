"""The instance storages with batched event writes store the same rows as Dagster's, one event at a time.

A single-run backfill's events (planned per partition, materialized per partition, step events,
asset checks) are recorded once from Dagster's own SQLite storage, then replayed into a fresh
storage of each kind, Dagster's one event at a time and ours as one batch: every table the UI
reads (events, asset records, indexed tags, check executions) must hold the same rows. A run's
events still reach a watcher of the run (the UI's live log) on SQLite, and the UI's
per-partition statuses (materialized, failed) come out as with Dagster's storage.
"""

import contextlib
import os
import threading
from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as db
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetEventTagsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)

from salesflow_pipelines import instance_storage
from salesflow_pipelines_tests.conftest import scratch_database

DAYS = dg.DailyPartitionsDefinition(start_date="2026-10-01")
RANGE = {"dagster/asset_partition_range_start": "2026-10-02", "dagster/asset_partition_range_end": "2026-10-06"}
FAIL = {"fail": False}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def upstream(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days_in_run": len(context.partition_keys)})


@dg.asset(
    deps=[upstream],
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec("positive", asset="downstream")],
)
def downstream(context: dg.AssetExecutionContext):
    if FAIL["fail"]:
        raise RuntimeError("downstream fails")
    yield dg.MaterializeResult(metadata={"rows_in_run": 10})
    yield dg.AssetCheckResult(passed=True)


def instance_overrides(kind: str, folder: str, postgres_url: str | None = None) -> dict:
    if kind == "dagster sqlite":
        return {"storage": {"sqlite": {"base_dir": folder}}}
    if kind == "batched sqlite":
        config = {"module": instance_storage.__name__, "class": "SqliteStorage", "config": {"base_dir": folder}}
        return {"storage": {"custom": config}}
    url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    if kind == "dagster postgres":
        return {"storage": {"postgres": {"postgres_url": url}}}
    config = {"module": instance_storage.__name__, "class": "PostgresStorage", "config": {"postgres_url": url}}
    return {"storage": {"custom": config}}


@contextlib.contextmanager
def instance_of(kind: str, tmp_path) -> Iterator[dg.DagsterInstance]:
    folder = tmp_path / kind.replace(" ", "_")
    folder.mkdir()
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(scratch_database("instance")) if "postgres" in kind else None
        overrides = {"telemetry": {"enabled": False}, **instance_overrides(kind, str(folder), url)}
        yield stack.enter_context(dg.DagsterInstance.local_temp(str(folder), overrides=overrides))


@pytest.fixture(autouse=True)
def batch_size(monkeypatch):
    """Dagster reads DAGSTER_EVENT_BATCH_SIZE at each event; the storages set it: restored after."""
    monkeypatch.setenv(instance_storage.BATCH_SIZE_VARIABLE, "1000")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> list:
    """The events of a 5-day single-run backfill, as Dagster's SQLite storage stored them."""
    folder = tmp_path_factory.mktemp("recorded")
    with dg.DagsterInstance.local_temp(
        str(folder), overrides=instance_overrides("dagster sqlite", str(folder))
    ) as inst:
        result = dg.materialize([upstream, downstream], instance=inst, tags=RANGE)
        assert result.success
        return list(inst.all_logs(result.run_id))


def tables(instance: dg.DagsterInstance) -> dict[str, list]:
    """Every row the UI reads, in id order, server-side creation times left out, and the asset
    rows' own ids (PostgreSQL spends a sequence number on every upsert of the row: one per event
    there, one per batch here; nothing refers to them)."""
    rows = {}
    with instance.event_log_storage.index_connection() as connection:
        for table in (SqlEventLogStorageTable, AssetKeyTable, AssetEventTagsTable, AssetCheckExecutionsTable):
            left_out = {"create_timestamp", "updated_timestamp"} | ({"id"} if table is AssetKeyTable else set())
            columns = [column for column in table.columns if column.name not in left_out]
            result = connection.execute(db.select(*columns).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    return rows


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_batch_stores_the_rows_of_one_event_at_a_time(backend, recorded, tmp_path, postgres_url):
    with instance_of(f"dagster {backend}", tmp_path) as dagster, instance_of(f"batched {backend}", tmp_path) as ours:
        for event in recorded:
            dagster.event_log_storage.store_event(event)
        ours.event_log_storage.store_event_batch(recorded)
        expected, actual = tables(dagster), tables(ours)
    assert (
        sum(event.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED for event in recorded) == 10
    )
    assert len(expected[SqlEventLogStorageTable.name]) >= 20
    assert actual == expected


def partition_statuses(instance: dg.DagsterInstance) -> dict[str, tuple[list[str], list[str]]]:
    """Per asset: the partitions the UI shows materialized, and those it shows failed."""
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    statuses = {}
    for key in (upstream.key, downstream.key):
        cached = get_and_update_asset_status_cache_value(instance, key, DAYS)
        statuses[key.to_user_string()] = (
            sorted(cached.deserialize_materialized_partition_subsets(DAYS).get_partition_keys()),
            sorted(cached.deserialize_failed_partition_subsets(DAYS).get_partition_keys()),
        )
    return statuses


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_ui_shows_the_same_partitions_materialized_and_failed(backend, tmp_path, postgres_url, monkeypatch):
    shown = {}
    for kind in (f"dagster {backend}", f"batched {backend}"):
        with instance_of(kind, tmp_path) as instance:
            assert dg.materialize([upstream, downstream], instance=instance, tags=RANGE).success
            monkeypatch.setitem(FAIL, "fail", True)
            failed_range = {**RANGE, "dagster/asset_partition_range_end": "2026-10-08"}
            assert not dg.materialize(
                [upstream, downstream], instance=instance, tags=failed_range, raise_on_error=False
            ).success
            monkeypatch.setitem(FAIL, "fail", False)
            shown[kind] = partition_statuses(instance)
    assert shown[f"dagster {backend}"]["downstream"] == (
        ["2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06"],
        ["2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"],
    )
    assert shown[f"batched {backend}"] == shown[f"dagster {backend}"]


def test_a_running_runs_events_reach_its_watcher_on_sqlite(recorded, tmp_path):
    """The UI follows a run by watching its database file, which the storage keeps open."""
    with instance_of("batched sqlite", tmp_path) as instance:
        storage = instance.event_log_storage
        storage.store_event(recorded[0])
        seen, arrived = [], threading.Event()

        def callback(event, cursor):
            seen.append(event)
            if len(seen) == len(recorded):
                arrived.set()

        storage.watch(recorded[0].run_id, None, callback)
        try:
            storage.store_event_batch(recorded[1:])
            assert arrived.wait(timeout=10), f"{len(seen)} of {len(recorded)} events reached the watcher"
        finally:
            storage.end_watch(recorded[0].run_id, callback)


def test_opening_a_storage_turns_event_batches_on_unless_configured(monkeypatch):
    monkeypatch.delenv(instance_storage.BATCH_SIZE_VARIABLE)
    instance_storage.enable_event_batches()
    assert os.environ[instance_storage.BATCH_SIZE_VARIABLE] == str(instance_storage.DEFAULT_BATCH_SIZE)
    monkeypatch.setenv(instance_storage.BATCH_SIZE_VARIABLE, "0")
    instance_storage.enable_event_batches()
    assert os.environ[instance_storage.BATCH_SIZE_VARIABLE] == "0"


def test_the_repo_instance_configurations_name_these_storages():
    """dagster.yaml (local) and deploy/dagster.yaml (deployment) use them, or nothing is batched."""
    import yaml

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path, kind in (("dagster.yaml", "SqliteStorage"), ("deploy/dagster.yaml", "PostgresStorage")):
        with open(os.path.join(root, path)) as file:
            storage = yaml.safe_load(file)["storage"]
        assert storage.get("custom", {}).get("class") == kind, f"{path} storage: {storage}"
        assert storage["custom"]["module"] == instance_storage.__name__
