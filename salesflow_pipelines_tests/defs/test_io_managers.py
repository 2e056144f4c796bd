"""The Parquet IO manager: one file per day on an object-store style path, one file per month in a
local folder, one frame back either way."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import dagster as dg
import pandas as pd
from upath import UPath

from salesflow_pipelines.defs import io_managers
from salesflow_pipelines.defs.io_managers import ParquetIOManager, PartitionedParquetIOManager

days = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run(), metadata={"partition_column": "day"})
def daily_frame(context: dg.AssetExecutionContext) -> pd.DataFrame:
    window = context.partition_time_window
    stamps = pd.date_range(window.start.date(), window.end.date(), freq="12h", inclusive="left")
    return pd.DataFrame({"day": stamps, "value": range(len(stamps))})


@dg.asset(
    partitions_def=days,
    metadata={"partition_column": "day"},
    ins={"daily_frame": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2))},
)
def rollup(context: dg.AssetExecutionContext, daily_frame: pd.DataFrame) -> pd.DataFrame:
    context.add_output_metadata({"input_days": sorted(daily_frame["day"].dt.strftime("%Y-%m-%d").unique())})
    return daily_frame[daily_frame["day"] >= pd.Timestamp("2026-11-04")]


def test_multi_day_output_splits_per_partition_and_loads_as_one_frame():
    base = f"memory://salesflow-{date.today().isoformat()}"
    resources = {"io_manager": ParquetIOManager(base_path=base)}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [daily_frame],
        resources=resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": "2026-11-02", "dagster/asset_partition_range_end": "2026-11-04"},
    )
    assert result.success
    files = sorted(path.name for path in (UPath(base) / "daily_frame").iterdir())
    assert files == ["2026-11-02.parquet", "2026-11-03.parquet", "2026-11-04.parquet"]

    loaded = dg.materialize(
        [daily_frame.to_source_asset(), rollup], resources=resources, instance=instance, partition_key="2026-11-04"
    )
    assert loaded.success
    rolled = pd.read_parquet((UPath(base) / "rollup" / "2026-11-04.parquet").open("rb"))
    assert rolled["day"].dt.strftime("%Y-%m-%d").tolist() == ["2026-11-04", "2026-11-04"]
    [materialization] = loaded.asset_materializations_for_node("rollup")
    assert materialization.metadata["input_days"].value == ["2026-11-02", "2026-11-03", "2026-11-04"]


def test_rows_outside_the_partitions_fail_the_write_instead_of_vanishing():
    @dg.asset(partitions_def=days, metadata={"partition_column": "day"})
    def stray_rows() -> pd.DataFrame:
        return pd.DataFrame({"day": pd.to_datetime(["2026-11-02", "2026-11-09"]), "value": [1, 2]})

    result = dg.materialize(
        [stray_rows],
        resources={"io_manager": ParquetIOManager(base_path="memory://salesflow-stray")},
        partition_key="2026-11-02",
        raise_on_error=False,
    )
    assert not result.success
    assert "outside the partitions" in str(result.get_step_failure_events()[0].event_specific_data.error)


# A local folder: each month one file, a row group per day (see PartitionedParquetIOManager).
SEPTEMBER_ON = dg.DailyPartitionsDefinition(start_date="2026-09-01")
LINES = dg.AssetKey("lines")


def day_frame(day: str, rows: int, value: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": pd.Timestamp(day) + pd.to_timedelta(range(rows), unit="min"),
            "value": pd.array([value + i for i in range(rows)], dtype="Int64"),
            "shop": pd.Categorical([f"shop {i % 3}" for i in range(rows)]),
        }
    )


def write(store, frame: pd.DataFrame, first: str, last: str | None = None) -> None:
    context = dg.build_output_context(
        asset_key=LINES,
        asset_partitions_def=SEPTEMBER_ON,
        asset_partition_key_range=dg.PartitionKeyRange(first, last or first),
        definition_metadata={"partition_column": "day"},
    )
    store.handle_output(context, frame)


def read(store, first: str, last: str) -> pd.DataFrame:
    context = dg.build_input_context(
        asset_key=LINES, asset_partitions_def=SEPTEMBER_ON, asset_partition_key_range=dg.PartitionKeyRange(first, last)
    )
    return store.load_input(context)


def local_store(folder) -> PartitionedParquetIOManager:
    return ParquetIOManager(base_path=str(folder)).create_io_manager(None)


def visible_files(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder / "lines") if not name.startswith("."))


def test_a_local_folder_keeps_a_file_per_month_and_a_day_rerun_replaces_only_that_day(tmp_path):
    store = local_store(tmp_path)
    days = ["2026-09-29", "2026-09-30", "2026-10-01", "2026-10-02"]
    write(store, pd.concat([day_frame(day, rows=3, value=10 * i) for i, day in enumerate(days)]), days[0], days[-1])
    assert visible_files(tmp_path) == ["2026-09.parquet", "2026-10.parquet"]

    write(store, day_frame("2026-09-30", rows=2, value=99), "2026-09-30")
    write(store, day_frame("2026-10-05", rows=0), "2026-10-05")  # a day without rows is stored as such

    frame = read(store, "2026-09-28", "2026-10-05")
    assert (
        frame["day"].dt.strftime("%Y-%m-%d").tolist()
        == ["2026-09-29"] * 3 + ["2026-09-30"] * 2 + ["2026-10-01"] * 3 + ["2026-10-02"] * 3
    )
    assert frame["value"].tolist() == [0, 1, 2, 99, 100, 20, 21, 22, 30, 31, 32]
    assert str(frame["value"].dtype) == "Int64" and str(frame["shop"].dtype) == "category"
    assert len(store.stored_partition(LINES, "2026-10-05")) == 0
    assert store.stored_partition(LINES, "2026-10-04") is None
    stored = store.stored_partition(LINES, "2026-09-30")  # a categorical has its month's categories
    pd.testing.assert_frame_equal(
        stored.astype({"shop": str}), day_frame("2026-09-30", rows=2, value=99).astype({"shop": str})
    )
    assert visible_files(tmp_path) == ["2026-09.parquet", "2026-10.parquet"]


def test_day_files_of_before_month_files_are_read_and_folded_into_their_month(tmp_path):
    (tmp_path / "lines").mkdir()
    for i, day in enumerate(["2026-10-01", "2026-10-02", "2026-10-03"]):
        day_frame(day, rows=2, value=10 * i).to_parquet(tmp_path / "lines" / f"{day}.parquet", index=False)
    store = local_store(tmp_path)
    assert read(store, "2026-10-01", "2026-10-03")["value"].tolist() == [0, 1, 10, 11, 20, 21]

    write(store, day_frame("2026-10-02", rows=1, value=50), "2026-10-02")

    assert visible_files(tmp_path) == ["2026-10.parquet"]
    assert read(store, "2026-10-01", "2026-10-03")["value"].tolist() == [0, 1, 50, 20, 21]


def test_writers_of_different_days_of_one_month_at_once_keep_every_day(tmp_path, monkeypatch):
    store = local_store(tmp_path)
    days = [f"2026-10-{day:02d}" for day in range(1, 25)]
    replace = os.replace

    def slow_replace(source, target):  # each writer takes a while between its read and its rename
        time.sleep(0.02)
        replace(source, target)

    monkeypatch.setattr(io_managers.os, "replace", slow_replace)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(
            pool.map(lambda day: write(local_store(tmp_path), day_frame(day, rows=50, value=int(day[-2:])), day), days)
        )

    frame = read(store, days[0], days[-1])
    assert frame.groupby(frame["day"].dt.strftime("%Y-%m-%d"))["value"].min().to_dict() == {
        day: int(day[-2:]) for day in days
    }
    assert visible_files(tmp_path) == ["2026-10.parquet"]


def test_a_month_in_several_row_groups_reads_any_of_its_days(tmp_path, monkeypatch):
    write_table = io_managers.pq.write_table
    monkeypatch.setattr(io_managers.pq, "write_table", lambda table, where: write_table(table, where, row_group_size=4))
    store = local_store(tmp_path)
    rows = {"2026-10-01": 3, "2026-10-02": 0, "2026-10-03": 5, "2026-10-04": 1, "2026-10-05": 6}
    frame = pd.concat([day_frame(day, count, value=10 * int(day[-2:])) for day, count in rows.items()])
    write(store, frame, "2026-10-01", "2026-10-05")
    assert io_managers.pq.ParquetFile(tmp_path / "lines" / "2026-10.parquet").num_row_groups == 4

    for first, last in [("2026-10-01", "2026-10-05"), ("2026-10-03", "2026-10-03"), ("2026-10-04", "2026-10-05")]:
        wanted = [day for day in rows if first <= day <= last]
        expected = [10 * int(day[-2:]) + i for day in wanted for i in range(rows[day])]
        assert read(store, first, last)["value"].tolist() == expected, (first, last)
    assert len(store.stored_partition(LINES, "2026-10-02")) == 0
