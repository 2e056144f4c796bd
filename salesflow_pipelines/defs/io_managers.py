"""IO managers: Parquet frames between assets, and the warehouse tables readers query.

Both accept outputs that span several daily partitions (a single-run backfill): the Parquet
manager splits the frame into one file per day, the warehouse manager replaces the whole
window in one transaction. Inputs always arrive as one frame, never a dict of partitions.
"""

from __future__ import annotations

import uuid

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.row_periods import rows_by_period
from salesflow_pipelines.lib.tables import TABLES, Table

PARTITION_COLUMN = "partition_column"


def time_window(context: dg.InputContext | dg.OutputContext) -> warehouse.Window | None:
    """The days [start, end) of the context's partitions; None when unpartitioned."""
    if not context.has_asset_partitions:
        return None
    window = context.asset_partitions_time_window
    return warehouse.Window(window.start.date(), window.end.date())


def partition_column(context: dg.OutputContext) -> str:
    column = (context.definition_metadata or {}).get(PARTITION_COLUMN)
    if not column:
        raise dg.DagsterInvariantViolationError(
            f"{context.asset_key.to_user_string()} is partitioned but its definition lacks "
            f"metadata {PARTITION_COLUMN!r} naming the date column to split files by"
        )
    return column


def _rows_by_day(dates: pd.Series) -> dict[str, slice | np.ndarray]:
    """Rows of each calendar day ("YYYY-MM-DD", "NaT" for missing dates).

    Formats only the distinct days: formatting every row's date and comparing strings once per
    partition takes minutes on a year of lines.
    """
    days, rows = rows_by_period(dates, "D")
    return dict(zip(np.datetime_as_string(days, unit="D"), rows, strict=True))


def _write_table(table: pa.Table, path: UPath) -> None:
    # Write then rename: a reader never sees a half-written file.
    staging = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
    with staging.open("wb") as file:
        pq.write_table(table, file)
    staging.rename(path)


def _read_table(path: UPath) -> pa.Table:
    with path.open("rb") as file:
        return pq.read_table(file)


def _concatenated(tables: list[pa.Table]) -> pd.DataFrame:
    """One frame from per-partition tables.

    Concatenated in Arrow, which merges the dictionaries of categorical columns; `pd.concat`
    would turn categoricals whose categories differ from day to day into object columns.
    """
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # files written under an older column type
        return pd.concat([table.to_pandas() for table in tables], ignore_index=True)
    return table.to_pandas()


class PartitionedParquetIOManager(dg.UPathIOManager):
    """One Parquet file per asset and daily partition under a local or object-store path."""

    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        _write_table(pa.Table.from_pandas(obj, preserve_index=False), path)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        return _read_table(path).to_pandas()

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if not context.has_asset_partitions:
            super().handle_output(context, obj)
            return
        paths = self._get_paths_for_partitions(context)
        rows_by_day = _rows_by_day(obj[partition_column(context)])
        stray = {day: len(obj.iloc[rows]) for day, rows in rows_by_day.items() if day not in paths}
        if stray:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: {sum(stray.values())} rows dated outside the partitions "
                f"being written (e.g. {next(iter(stray))}); an asset must return only its own days."
            )
        # Converted to Arrow once, written as one slice per day: 3x faster than a frame per day.
        table = pa.Table.from_pandas(obj, preserve_index=False)
        for key, path in paths.items():
            self.make_directory(path.parent)
            rows = rows_by_day.get(key, slice(0, 0))
            _write_table(
                table.slice(rows.start, rows.stop - rows.start) if isinstance(rows, slice) else table.take(rows), path
            )
        context.add_output_metadata(
            {
                "partitions_written": len(paths),
                "path": dg.MetadataValue.path(str(next(iter(paths.values())).parent)),
            }
        )

    def stored_partition(self, asset_key: dg.AssetKey, partition_key: str) -> pd.DataFrame | None:
        """The frame stored for one partition of `asset_key`, or None when none was ever written.

        For an asset whose past partitions must not change once written (a snapshot of a source
        that forgets its past): the asset takes this manager as a resource and reads its own
        earlier output here. The manager owns the file layout, and the files are the record, not
        the instance's event log, which may be ephemeral or reset while the files stay.
        """
        try:
            return _read_table(self._partition_path(asset_key, partition_key)).to_pandas()
        except FileNotFoundError:
            return None

    def _partition_path(self, asset_key: dg.AssetKey, partition_key: str) -> UPath:
        """Where `handle_output` writes this partition: the base class's layout, without a context."""
        asset_path = self._base_path.joinpath(*asset_key.path)
        return self._with_extension(self.make_safe_partition_path(asset_path, partition_key))

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        if not context.has_asset_partitions:
            return super().load_input(context)
        paths = self._get_paths_for_partitions(context)
        present = {key: path for key, path in paths.items() if path.exists()}
        missing = sorted(set(paths) - set(present))
        if not present:
            raise FileNotFoundError(
                f"No partition of {context.asset_key.to_user_string()} is materialized in "
                f"{missing[0]}..{missing[-1]}: materialize it first (or backfill that range)."
            )
        if missing:
            # Days before the first materialized one are history not built yet (a new shop, a
            # demo): expected. A hole between materialized days is worth a warning.
            first_present = min(present)
            log = context.log.info if all(key < first_present for key in missing) else context.log.warning
            log(
                f"{context.asset_key.to_user_string()}: {len(missing)} of {len(paths)} partitions "
                f"not materialized ({missing[0]}..{missing[-1]}); computing without them."
            )
        return _concatenated([_read_table(path) for path in present.values()])


class ParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Parquet files under `base_path` (SALESFLOW_DATA_DIR/frames): a folder, `s3://`, `memory://`…"""

    base_path: str = Field(description="Local folder or fsspec URL for the Parquet frames.")

    def create_io_manager(self, context) -> PartitionedParquetIOManager:
        return PartitionedParquetIOManager(base_path=UPath(self.base_path))


class WarehouseIOManager(dg.ConfigurableIOManager):
    """KPI tables in the warehouse at `url` (SALESFLOW_WAREHOUSE_URL): SQLite or PostgreSQL."""

    url: str = Field(description="sqlite:///path/to/file.db or postgresql://user@host:port/db")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        table = self._table(context.asset_key)
        store = warehouse.connect(self.url)
        store.replace(table, obj, time_window(context))
        context.add_output_metadata(
            {
                "dagster/table_name": store.qualified(table),
                "warehouse": warehouse.without_password(self.url),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = self._table(context.upstream_output.asset_key if context.upstream_output else context.asset_key)
        return warehouse.connect(self.url).read(table, time_window(context))

    @staticmethod
    def _table(asset_key: dg.AssetKey) -> Table:
        name = asset_key.path[-1]
        if name not in TABLES:
            raise dg.DagsterInvariantViolationError(f"{name} is not a warehouse table of the contract")
        return TABLES[name]
