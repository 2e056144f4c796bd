"""The Parquet IO manager on an object-store style path: one file per day, one frame back."""

from datetime import date

import dagster as dg
import pandas as pd
from upath import UPath

from salesflow_pipelines.defs.io_managers import ParquetIOManager

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
