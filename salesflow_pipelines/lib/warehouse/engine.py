"""The warehouse: KPI tables in SQLite (embedded default) or PostgreSQL (schema `analytics`).

Writes replace a window of days in one transaction, so re-running a day never duplicates rows
and a failed write leaves the previous rows as they were. SQLite deletes the window and inserts
with one `executemany`. PostgreSQL loads go through binary COPY (`copy_binary`); its dated tables
are partitioned by month, and the months a window covers whole are rebuilt and swapped in rather
than deleted row by row (`month_partitions`).
"""

from __future__ import annotations

import sqlite3
import uuid
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.warehouse import copy_binary, month_partitions
from salesflow_pipelines.lib.warehouse.row_periods import rows_by_period
from salesflow_pipelines.lib.warehouse.tables import SCHEMA, Table

POSTGRES_TYPES = {
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "text": "TEXT",
}
SQLITE_TYPES = {"date": "TEXT", "timestamp": "TEXT", "int": "INTEGER", "float": "REAL", "text": "TEXT"}


class WarehouseError(RuntimeError):
    """A warehouse URL or write that cannot work; the message says what to change."""


def connect(url: str) -> Warehouse:
    """A warehouse for `sqlite:///path/to/file.db` or `postgresql://user@host:port/db`."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        return SqliteWarehouse(url)
    if scheme in ("postgresql", "postgres"):
        return PostgresWarehouse(url)
    raise WarehouseError(f"SALESFLOW_WAREHOUSE_URL must start with sqlite:/// or postgresql://, got scheme {scheme!r}")


class Warehouse:
    """Common behaviour; subclasses supply connections, DDL types and the bulk load."""

    column_types: dict[str, str]

    def __init__(self, url: str):
        self.url = url

    def qualified(self, table: Table) -> str:
        return table.name

    def ddl(self, table: Table) -> str:
        columns = [f"{name} {self.column_types[kind]}" for name, kind in table.columns.items()]
        if table.primary_key:
            columns.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.qualified(table)} ({', '.join(columns)})"

    def replace(self, table: Table, frame: pd.DataFrame, window: Window | None) -> int:
        """Replace the window's rows (all rows when `window` is None) by `frame`, atomically."""
        frame = _checked_frame(table, frame, window)
        with self._transaction() as connection:
            self._prepare(connection, table)
            self._delete(connection, table, window)
            self._bulk_load(connection, table, frame)
        return len(frame)

    def read(self, table: Table, window: Window | None = None) -> pd.DataFrame:
        """The table's rows, within `window` when given, typed as the contract says."""
        where, params = self._window_clause(table, window)
        sql = f"SELECT {', '.join(table.column_names)} FROM {self.qualified(table)}{where}"
        with self._transaction() as connection:
            self._prepare(connection, table)
            rows = connection.execute(sql, params).fetchall()
        return typed(table, pd.DataFrame(rows, columns=table.column_names))

    @contextmanager
    def transaction(self, *tables: Table) -> Iterator:
        """One transaction (committed on success, rolled back on error) with `tables` created first.

        Yields the DB-API connection; SQL uses `self.placeholder` and `self.qualified(table)`. On
        PostgreSQL it holds each table's advisory lock, so writers of the same tables take turns.
        """
        with self._transaction() as connection:
            for table in tables:
                self._prepare(connection, table)
            yield connection

    def _add_missing_columns(self, connection, table: Table) -> None:
        """Columns of the contract that a table written before they were added lacks, appended.

        Columns are only ever appended to a published table (see `tables`), so the table gets the
        contract's column order; rows written before hold NULL in them.
        """
        present = self._present_columns(connection, table)
        for name in [name for name in table.column_names if name not in present]:
            connection.execute(
                f"ALTER TABLE {self.qualified(table)} ADD COLUMN {name} {self.column_types[table.columns[name]]}"
            )

    def _delete(self, connection, table: Table, window: Window | None) -> None:
        where, params = self._window_clause(table, window)
        connection.execute(f"DELETE FROM {self.qualified(table)}{where}", params)

    def _window_clause(self, table: Table, window: Window | None) -> tuple[str, tuple]:
        if window is None or not table.date_column:
            return "", ()
        column, mark = table.date_column, self.placeholder
        return f" WHERE {column} >= {mark} AND {column} < {mark}", (window.start.isoformat(), window.end.isoformat())


class SqliteWarehouse(Warehouse):
    column_types = SQLITE_TYPES
    placeholder = "?"

    def __init__(self, url: str):
        super().__init__(url)
        self.path = Path(url.removeprefix("sqlite:///"))

    def _transaction(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        return _SqliteTransaction(connection)

    def _prepare(self, connection, table: Table) -> None:
        connection.execute(self.ddl(table))
        self._add_missing_columns(connection, table)

    def _present_columns(self, connection, table: Table) -> set[str]:
        return {row[1] for row in connection.execute(f"PRAGMA table_info({table.name})").fetchall()}

    def _bulk_load(self, connection, table: Table, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        placeholders = ", ".join("?" for _ in table.columns)
        records = _as_text_dates(table, frame).astype(object).where(frame.notna(), None)
        connection.executemany(
            f"INSERT INTO {table.name} ({', '.join(table.column_names)}) VALUES ({placeholders})",
            records.itertuples(index=False, name=None),
        )


class _SqliteTransaction:
    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, exc_type, exc, tb) -> None:
        with closing(self.connection):
            self.connection.execute("ROLLBACK" if exc_type else "COMMIT")


class PostgresWarehouse(Warehouse):
    """Dated tables are partitioned by month (`month_partitions`): a window's whole months are
    rebuilt and swapped in, its other days deleted and re-inserted, all in one transaction."""

    column_types = POSTGRES_TYPES
    placeholder = "%s"

    def qualified(self, table: Table) -> str:
        return f"{SCHEMA}.{table.name}"

    def ddl(self, table: Table) -> str:
        if month_partitions.partitioned_by_month(table):
            return f"{super().ddl(table)} PARTITION BY RANGE ({table.date_column})"
        return super().ddl(table)

    def replace(self, table: Table, frame: pd.DataFrame, window: Window | None) -> int:
        if not month_partitions.partitioned_by_month(table):
            return super().replace(table, frame, window)
        frame = _checked_frame(table, frame, window)
        rows_by_month = _rows_by_month(table, frame)
        with self._transaction() as connection:
            self._prepare(connection, table)
            existing = self._partition_months(connection, table)
            steps = month_partitions.plan(window and (window.start, window.end), rows_by_month, existing)
            staged = self._staged_months(connection, table, rows_by_month, steps.rebuilt)
            edited = {month: rows for month, rows in rows_by_month.items() if month not in staged}
            self._edit_days(connection, table, steps.edited_days, edited, existing)
            # Last, so the parent's exclusive lock is held only for the swap itself.
            self._drop_partitions(connection, table, [*steps.dropped, *(set(staged) & existing)])
            for month, staging in staged.items():
                self._attach(connection, table, month, staging)
        return len(frame)

    def _transaction(self):
        import psycopg

        try:
            connection = psycopg.connect(self.url, connect_timeout=10)
        except psycopg.OperationalError as error:
            raise WarehouseError(
                f"cannot connect to the warehouse at {without_password(self.url)}: {error}. "
                "Check SALESFLOW_WAREHOUSE_URL and that PostgreSQL is running."
            ) from error
        return _PostgresTransaction(connection)

    def _prepare(self, connection, table: Table) -> None:
        # One writer per table at a time; DDL races between parallel runs are serialized too.
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(table.name.encode()),))
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        if month_partitions.partitioned_by_month(table) and self._relation_kind(connection, table) == "r":
            self._partition_existing_table(connection, table)
        connection.execute(self.ddl(table))
        self._add_missing_columns(connection, table)  # on a partitioned table, its partitions get them too

    def _present_columns(self, connection, table: Table) -> set[str]:
        rows = connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (SCHEMA, table.name),
        ).fetchall()
        return {name for (name,) in rows}

    def _bulk_load(self, connection, table: Table, frame: pd.DataFrame) -> None:
        if not frame.empty:
            self._copy(connection, self.qualified(table), table, copy_binary.encode(frame, table.columns))

    def _copy(self, connection, target: str, table: Table, blocks: Iterable[memoryview]) -> None:
        from psycopg.copy import QueuedLibpqWriter

        columns = ", ".join(table.column_names)
        cursor = connection.cursor()
        # The queued writer sends from its own thread while this one encodes the next block.
        statement = f"COPY {target} ({columns}) FROM STDIN (FORMAT binary)"
        with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
            for block in blocks:
                copy.write(block)

    def _relation_kind(self, connection, table: Table) -> str | None:
        row = connection.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (self.qualified(table),)
        ).fetchone()
        return row[0] if row else None

    def _partition_existing_table(self, connection, table: Table) -> None:
        """Turns a table written before monthly partitions into a partitioned one, rows kept."""
        legacy = f"{table.name}_unpartitioned"
        connection.execute(f"ALTER TABLE {self.qualified(table)} RENAME TO {legacy}")
        for (constraint,) in connection.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
            (f"{SCHEMA}.{legacy}",),
        ).fetchall():
            connection.execute(f"ALTER TABLE {SCHEMA}.{legacy} RENAME CONSTRAINT {constraint} TO {legacy}_pkey")
        connection.execute(self.ddl(table))
        months = connection.execute(
            f"SELECT DISTINCT date_trunc('month', {table.date_column})::date FROM {SCHEMA}.{legacy}"
        ).fetchall()
        for (month,) in months:
            self._create_partition(connection, table, month)
        columns = ", ".join(table.column_names)
        connection.execute(f"INSERT INTO {self.qualified(table)} ({columns}) SELECT {columns} FROM {SCHEMA}.{legacy}")
        connection.execute(f"DROP TABLE {SCHEMA}.{legacy}")

    def _partition_months(self, connection, table: Table) -> set[date]:
        names = connection.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            (self.qualified(table),),
        ).fetchall()
        months = (month_partitions.month_of_partition(table, name) for (name,) in names)
        return {month for month in months if month}

    def _create_partition(self, connection, table: Table, month: date) -> None:
        name = month_partitions.partition_name(table, month)
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{name} PARTITION OF {self.qualified(table)} "
            f"FOR VALUES {_month_bounds(month)}"
        )

    def _staged_months(self, connection, table: Table, rows_by_month: dict, months: list[date]) -> dict[date, str]:
        """A new, not yet attached table per month of `months`, each holding that month's rows.

        The next month's rows are encoded on a second thread while the server loads and indexes
        the current one, so the client's work hides behind the server's.
        """
        staged = {}
        if not months:
            return staged
        with ThreadPoolExecutor(max_workers=1) as encoder:
            encoding = encoder.submit(_encoded, table, rows_by_month[months[0]])
            for month, following in zip(months, [*months[1:], None], strict=True):
                blocks = encoding.result()
                if following:
                    encoding = encoder.submit(_encoded, table, rows_by_month[following])
                staged[month] = self._staged(connection, table, month, blocks)
        return staged

    def _staged(self, connection, table: Table, month: date, blocks: list[memoryview]) -> str:
        """A new, not yet attached table holding one month's encoded rows, indexed after the load."""
        staging = f"{month_partitions.partition_name(table, month)}_{uuid.uuid4().hex[:8]}"
        column, first, following = table.date_column, month, month_partitions.next_month(month)
        # The CHECK lets ATTACH PARTITION trust the bounds instead of scanning the rows again.
        connection.execute(
            f"CREATE TABLE {SCHEMA}.{staging} (LIKE {self.qualified(table)}, CHECK ({column} IS NOT NULL "
            f"AND {column} >= DATE '{first}' AND {column} < DATE '{following}'))"
        )
        self._copy(connection, f"{SCHEMA}.{staging}", table, blocks)
        if table.primary_key:
            key = ", ".join(table.primary_key)
            connection.execute(f"ALTER TABLE {SCHEMA}.{staging} ADD CONSTRAINT {staging}_pkey PRIMARY KEY ({key})")
        return staging

    def _edit_days(self, connection, table: Table, days, rows_by_month: dict, existing: set[date]) -> None:
        """Deletes `days` ([start, end) pairs) and inserts the months' rows through the parent table."""
        for start, end in days:
            self._delete(connection, table, Window(start, end))
        if not rows_by_month:
            return
        for month in set(rows_by_month) - existing:
            self._create_partition(connection, table, month)
        rows = pd.concat(rows_by_month.values())
        self._copy(connection, self.qualified(table), table, copy_binary.encode(rows, table.columns))

    def _drop_partitions(self, connection, table: Table, months) -> None:
        for month in months:
            connection.execute(f"DROP TABLE {SCHEMA}.{month_partitions.partition_name(table, month)}")

    def _attach(self, connection, table: Table, month: date, staging: str) -> None:
        name = month_partitions.partition_name(table, month)
        connection.execute(f"ALTER TABLE {SCHEMA}.{staging} RENAME TO {name}")
        if table.primary_key:
            connection.execute(f"ALTER TABLE {SCHEMA}.{name} RENAME CONSTRAINT {staging}_pkey TO {name}_pkey")
        connection.execute(
            f"ALTER TABLE {self.qualified(table)} ATTACH PARTITION {SCHEMA}.{name} FOR VALUES {_month_bounds(month)}"
        )


class _PostgresTransaction:
    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self.connection

    def __exit__(self, exc_type, exc, tb) -> None:
        with self.connection:
            if exc_type:
                self.connection.rollback()
            else:
                self.connection.commit()


def _encoded(table: Table, rows: pd.DataFrame) -> list[memoryview]:
    return list(copy_binary.encode(rows, table.columns))


def _month_bounds(month: date) -> str:
    return f"FROM (DATE '{month}') TO (DATE '{month_partitions.next_month(month)}')"


def _rows_by_month(table: Table, frame: pd.DataFrame) -> dict[date, pd.DataFrame]:
    """The frame's rows split by the month of their date, in their order within each month.

    KPI frames come sorted by day: each month is then a slice, not a copy.
    """
    months, rows = rows_by_period(pd.to_datetime(frame[table.date_column]), "M")
    return {pd.Timestamp(month).date(): frame.iloc[positions] for month, positions in zip(months, rows, strict=True)}


def _checked_frame(table: Table, frame: pd.DataFrame, window: Window | None) -> pd.DataFrame:
    missing = [column for column in table.column_names if column not in frame.columns]
    if missing:
        raise WarehouseError(f"{table.name}: frame lacks contract columns {missing}")
    frame = frame[table.column_names]
    if not table.date_column or not len(frame):
        return frame
    undated = frame[table.date_column].isna()
    if undated.any():
        raise WarehouseError(
            f"{table.name}: {int(undated.sum())} rows have no {table.date_column}; every row must belong to a day"
        )
    if window is not None:
        days = pd.to_datetime(frame[table.date_column])
        outside = (days < pd.Timestamp(window.start)) | (days >= pd.Timestamp(window.end))
        if outside.any():
            raise WarehouseError(
                f"{table.name}: {int(outside.sum())} rows fall outside the partition window "
                f"{window.start}..{window.end}, e.g. {days[outside].iloc[0].date()}"
            )
    return frame


def _as_text_dates(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    converted = frame.copy()
    for name, kind in table.columns.items():
        if kind == "date":
            converted[name] = pd.to_datetime(frame[name]).dt.strftime("%Y-%m-%d")
        elif kind == "timestamp":
            converted[name] = pd.to_datetime(frame[name]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    return converted


def typed(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the contract's types (dates as datetime64, ints as Int64, text as string)."""
    for name, kind in table.columns.items():
        if kind in ("date", "timestamp"):
            frame[name] = pd.to_datetime(frame[name])
        elif kind == "int":
            frame[name] = pd.to_numeric(frame[name]).astype("Int64")
        elif kind == "float":
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        else:
            frame[name] = frame[name].astype("string")
    return frame


def without_password(url: str) -> str:
    """The URL with its password masked, for logs and metadata."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
