"""IO managers: Parquet frames between assets, and the warehouse tables readers query.

Both accept outputs that span several daily partitions (a single-run backfill): the Parquet
manager keeps each month's days in one file, the warehouse manager replaces the whole window in
one transaction. Inputs always arrive as one frame, never a dict of partitions.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.warehouse.row_periods import rows_by_period
from salesflow_pipelines.lib.warehouse.tables import TABLES, Table

PARTITION_COLUMN = "partition_column"
# Key of a month file's metadata listing its days and their row counts, in row order.
DAYS_KEY = b"salesflow.days"
LOCAL_PROTOCOLS = ("", "file", "local")
MONTH_WRITERS = 2  # threads writing month files at once


NOTHING = Window(date(1970, 1, 1), date(1970, 1, 1))


def time_window(context: dg.InputContext | dg.OutputContext) -> Window | None:
    """The days [start, end) of the context's partitions; None when unpartitioned."""
    if not context.has_asset_partitions:
        return None
    if isinstance(context, dg.InputContext) and not context.asset_partition_keys:
        # A look-back that maps the first day to days before the partitions start: nothing to read.
        return NOTHING
    window = context.asset_partitions_time_window
    return Window(window.start.date(), window.end.date())


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


def _month(day: str) -> str:
    """The month (YYYY-MM) of a daily partition key, which must be a day (YYYY-MM-DD)."""
    try:
        date.fromisoformat(day)
    except ValueError as error:
        raise dg.DagsterInvariantViolationError(
            f"partition key {day!r} is not a day (YYYY-MM-DD): the Parquet frames are kept by day"
        ) from error
    return day[:7]


def _by_month(days: Iterable[str]) -> dict[str, list[str]]:
    months: dict[str, list[str]] = {}
    for day in sorted(days):
        months.setdefault(_month(day), []).append(day)
    return months


def _days_in_month(month: str) -> int:
    start = date.fromisoformat(f"{month}-01")
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return (following - start).days


def _rows(table: pa.Table, rows: slice | np.ndarray) -> pa.Table:
    return table.slice(rows.start, rows.stop - rows.start) if isinstance(rows, slice) else table.take(rows)


def _without_days_key(table: pa.Table) -> pa.Table:
    metadata = dict(table.schema.metadata or {})
    if metadata.pop(DAYS_KEY, None) is None:
        return table
    return table.replace_schema_metadata(metadata)


def _month_schema(tables: Iterable[pa.Table]) -> pa.Schema:
    """The one schema of a month file holding `tables` (its days, those written first).

    The days' schemas unified (a categorical's codes widened, a column that was null in an empty
    day typed as the others'), with the metadata of the first day having rows: pandas reads
    the column types back from it, and an empty frame's say little. Columns whose types cannot
    be unified take the first's.
    """
    ordered = sorted(tables, key=lambda table: table.num_rows == 0)
    try:
        return pa.unify_schemas([table.schema for table in ordered], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return ordered[0].schema


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A day's `table` in its month file's `schema`.

    Columns are cast; a column whose type changed since goes through pandas, as a reader of
    both would have seen it; a column the day lacks is null, as a concatenation fills it.
    """
    if table.schema.equals(schema, check_metadata=False):
        return table.replace_schema_metadata(schema.metadata)
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns.append(pa.array(column.to_pandas(), type=field.type, from_pandas=True))
    return pa.Table.from_arrays(columns, schema=schema)


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


class _MonthFile:
    """A month file: its days' rows one after the other, each day's row count listed in its
    metadata in row order (a day without rows listed with 0)."""

    def __init__(self, file: pq.ParquetFile, where: str):
        self.file = file
        listed = json.loads((file.schema_arrow.metadata or {}).get(DAYS_KEY) or b"[]")
        counts = [count for _, count in listed]
        starts = np.cumsum([0, *counts])
        self.days: dict[str, tuple[int, int]] = {
            day: (int(start), count) for (day, count), start in zip(listed, starts, strict=False)
        }
        if int(starts[-1]) != file.metadata.num_rows:
            raise dg.DagsterInvariantViolationError(
                f"{where} lists {int(starts[-1])} rows of days for {file.metadata.num_rows} rows: not a month "
                "file written by this IO manager; move it away and materialize its days again"
            )

    def read(self, days: list[str]) -> dict[str, pa.Table]:
        """Each of `days` (all listed) as a table, reading only the row groups holding them."""
        sizes = [self.file.metadata.row_group(group).num_rows for group in range(self.file.num_row_groups)]
        bounds = np.cumsum([0, *sizes])
        spans = [self.days[day] for day in days]
        groups = [
            group
            for group in range(len(sizes))
            if any(start < bounds[group + 1] and start + count > bounds[group] for start, count in spans if count)
        ]
        table = _without_days_key(self.file.read_row_groups(groups) if groups else self.file.schema_arrow.empty_table())
        # A row's place in `table`: its place in the file less the rows of the groups not read before it.
        skipped = np.cumsum([0, *(0 if group in groups else size for group, size in enumerate(sizes))])
        found = {}
        for day, (start, count) in zip(days, spans, strict=True):
            group = int(np.searchsorted(bounds, start, side="right")) - 1 if count else 0
            found[day] = table.slice(start - int(skipped[group]), count) if count else table.slice(0, 0)
        return found


class PartitionedParquetIOManager(dg.UPathIOManager):
    """Daily partitions as Parquet under a local or object-store path, one frame per input.

    In a local folder, each month of an asset is one file, `<asset>/<YYYY-MM>.parquet`, its
    stored days' rows one after the other (the days and their row counts listed in the file's
    metadata): a year's backfill writes 12 files per asset, and a reader reads 12 files and
    slices its days out, instead of hundreds of small files each (a row group per day, to read
    days alone, made a year's writes and reads twice as slow). Writing days into a month replaces those
    days and keeps the others: under the month's lock (`.<YYYY-MM>.lock`, fcntl), the days kept
    are read, the new file is written beside the old one and renamed over it, so concurrent
    writers of the same month take turns and a reader always sees a whole file. On an object
    store (`s3://`, `memory://`…), with no lock shared between writers, each day stays a file of
    its own, `<asset>/<YYYY-MM-DD>.parquet`, which is also how days were kept before month files:
    a reader reads either, and a month's day files are folded into its month file the first time
    it is written.
    """

    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        self._write_table(pa.Table.from_pandas(obj, preserve_index=False), path)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        return self._read_table(path).to_pandas()

    # -- layout -----------------------------------------------------------------------------

    @property
    def _local(self) -> bool:
        return self._base_path.protocol in LOCAL_PROTOCOLS

    def _asset_dir(self, asset_key: dg.AssetKey) -> UPath:
        return self._base_path.joinpath(*asset_key.path)

    def _month_path(self, asset_dir: UPath, month: str) -> UPath:
        return asset_dir / f"{month}{self.extension}"

    def _day_path(self, asset_dir: UPath, day: str) -> UPath:
        """A day's own file: the object-store layout, and the local one before month files."""
        return self._with_extension(self.make_safe_partition_path(asset_dir, day))

    def _stored_names(self, asset_dir: UPath) -> set[str]:
        """The file names in the asset's folder (none when it does not exist)."""
        try:
            if self._local:
                return set(os.listdir(asset_dir.path))
            return {path.name for path in asset_dir.iterdir()}
        except (FileNotFoundError, NotADirectoryError):
            return set()

    def _write_table(self, table: pa.Table, path: UPath) -> None:
        # Write then rename: a reader never sees a half-written file.
        staging = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
        if self._local:
            pq.write_table(table, staging.path)
            os.replace(staging.path, path.path)
            return
        with staging.open("wb") as file:
            pq.write_table(table, file)
        staging.rename(path)

    def _read_table(self, path: UPath) -> pa.Table:
        with contextlib.ExitStack() as stack:
            source = path.path if self._local else stack.enter_context(path.open("rb"))
            return stack.enter_context(pq.ParquetFile(source)).read()

    @contextlib.contextmanager
    def _month_file(self, path: UPath) -> Iterator[_MonthFile | None]:
        """The month file at `path`, None when there is none."""
        with contextlib.ExitStack() as stack:
            try:
                source = path.path if self._local else stack.enter_context(path.open("rb"))
                file = stack.enter_context(pq.ParquetFile(source))
            except FileNotFoundError:
                yield None
                return
            yield _MonthFile(file, str(path))

    @contextlib.contextmanager
    def _month_lock(self, asset_dir: UPath, month: str) -> Iterator[None]:
        """Held while a month file is read, rewritten and renamed, by one writer at a time."""
        with open(Path(asset_dir.path) / f".{month}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- writing ----------------------------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if not context.has_asset_partitions:
            super().handle_output(context, obj)
            return
        keys = sorted(context.asset_partition_keys)
        rows_by_day = _rows_by_day(obj[partition_column(context)])
        wanted = set(keys)
        stray = {day: _count(rows) for day, rows in rows_by_day.items() if day not in wanted}
        if stray:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: {sum(stray.values())} rows dated outside the partitions "
                f"being written (e.g. {next(iter(stray))}); an asset must return only its own days."
            )
        # Converted to Arrow once, written as one slice per day.
        table = pa.Table.from_pandas(obj, preserve_index=False)
        days = {key: _rows(table, rows_by_day.get(key, slice(0, 0))) for key in keys}
        asset_dir = self._asset_dir(context.asset_key)
        self.make_directory(asset_dir)
        if self._local:
            stored = self._stored_names(asset_dir)

            def write_month(month: str, month_days: list[str]) -> None:
                self._write_month(asset_dir, month, table, {day: days[day] for day in month_days}, stored)

            months = _by_month(keys)
            # Parquet encoding releases the GIL: a range's months are written side by side.
            with ThreadPoolExecutor(min(len(months), MONTH_WRITERS)) as pool:
                list(pool.map(write_month, months.keys(), months.values()))
        else:
            for day, day_table in days.items():
                self._write_table(day_table, self._day_path(asset_dir, day))
        context.add_output_metadata({"partitions_written": len(keys), "path": dg.MetadataValue.path(str(asset_dir))})

    def _write_month(
        self, asset_dir: UPath, month: str, table: pa.Table, new: dict[str, pa.Table], stored: set[str]
    ) -> None:
        """Replaces the `new` days (slices of the output `table`) of the month's file, keeping its other days."""
        path = self._month_path(asset_dir, month)
        day_files = sorted(
            name.removesuffix(self.extension)
            for name in stored
            if name.startswith(f"{month}-") and name.endswith(self.extension)
        )
        with self._month_lock(asset_dir, month):
            kept: dict[str, pa.Table] = {}
            if len(new) < _days_in_month(month):
                for day in day_files:  # days kept before month files: folded in
                    if day not in new:
                        kept[day] = self._read_table(self._day_path(asset_dir, day))
                with self._month_file(path) as stored_month:
                    if stored_month is not None:
                        kept |= stored_month.read([day for day in stored_month.days if day not in new])
            schema = _month_schema([table, *kept.values()])
            merged = {day: _conformed(new[day] if day in new else kept[day], schema) for day in sorted(kept | new)}
            listed = json.dumps([[day, day_table.num_rows] for day, day_table in merged.items()]).encode()
            month_table = pa.concat_tables(merged.values()).replace_schema_metadata(
                {**(schema.metadata or {}), DAYS_KEY: listed}
            )
            staging = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp").path
            try:
                pq.write_table(month_table, staging)
                os.replace(staging, path.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(staging)
            for day in day_files:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._day_path(asset_dir, day).path)

    # -- reading ----------------------------------------------------------------------------

    def _stored_days(self, asset_key: dg.AssetKey, keys: list[str]) -> dict[str, pa.Table]:
        """The stored tables of those of `keys` that were ever written, in day order."""
        asset_dir = self._asset_dir(asset_key)
        stored = self._stored_names(asset_dir)
        found: dict[str, pa.Table] = {}
        for month, days in _by_month(keys).items():
            path = self._month_path(asset_dir, month)
            if path.name in stored:
                with self._month_file(path) as month_file:
                    if month_file is not None:
                        found |= month_file.read([day for day in days if day in month_file.days])
            for day in days:
                if day not in found and self._day_path(asset_dir, day).name in stored:
                    found[day] = self._read_table(self._day_path(asset_dir, day))
        return {day: found[day] for day in sorted(found)}

    def stored_partitions(self, asset_key: dg.AssetKey, partition_keys: list[str]) -> dict[str, pd.DataFrame]:
        """The frame stored for each of `partition_keys` of `asset_key` ever written, in key order;
        each month file read once.

        For an asset whose past partitions must not change once written (a snapshot of a source
        that forgets its past): the asset takes this manager as a resource and reads its own
        earlier output here. The manager owns the file layout, and the files are the record, not
        the instance's event log, which may be ephemeral or reset while the files stay. (A
        categorical column comes with the categories of the day's month file.)
        """
        return {key: table.to_pandas() for key, table in self._stored_days(asset_key, partition_keys).items()}

    def stored_partition(self, asset_key: dg.AssetKey, partition_key: str) -> pd.DataFrame | None:
        """The frame stored for one partition of `asset_key`, or None when none was ever written."""
        return self.stored_partitions(asset_key, [partition_key]).get(partition_key)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        if not context.has_asset_partitions:
            return super().load_input(context)
        keys = sorted(context.asset_partition_keys)
        present = self._stored_days(context.asset_key, keys)
        missing = [key for key in keys if key not in present]
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
                f"{context.asset_key.to_user_string()}: {len(missing)} of {len(keys)} partitions "
                f"not materialized ({missing[0]}..{missing[-1]}); computing without them."
            )
        return _concatenated(list(present.values()))


def _count(rows: slice | np.ndarray) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


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
