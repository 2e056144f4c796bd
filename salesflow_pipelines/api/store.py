"""Read-only access to the warehouse tables: a small connection pool, SELECTs only, and a data version.

Every PostgreSQL session is opened read-only (`default_transaction_read_only`, as the
`salesflow_reader` role also has it) with a statement timeout, so a bug here can neither write
nor hold a connection for long. SQLite files are opened with `mode=ro`.

`version()` says when the warehouse's data may have changed: on PostgreSQL the current MVCC
snapshot (`pg_current_snapshot()`: it changes whenever a transaction takes an id or commits, so two
equal snapshots see the same rows), on SQLite the size and modification time of the file and its
write-ahead log. Answers cached under one version are exact as long as the version is the same.

A table that does not exist yet (its asset never materialized) reads as empty.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from salesflow_pipelines.lib.warehouse import typed, without_password
from salesflow_pipelines.lib.warehouse.tables import SCHEMA, TABLES, Table

STATEMENT_TIMEOUT_MS = 15_000
POOL_WAIT_SECONDS = 10.0


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be read right now; the message says why (answered as 503)."""


class ReadStore:
    """SELECTs over the contract's tables, by table name: `{daily_sales_kpis}` in SQL text is the
    table's qualified name, and `%s` the parameter mark (turned into `?` on SQLite)."""

    def __init__(self, url: str, pool_size: int = 8):
        scheme = urlparse(url).scheme
        if scheme in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self._connect: Callable[[], Any] = self._postgres_connection
        elif scheme == "sqlite":
            self.dialect = "sqlite"
            self.path = Path(url.removeprefix("sqlite:///"))
            self._connect = self._sqlite_connection
        else:
            raise WarehouseUnavailable(f"the warehouse URL must start with sqlite:/// or postgresql://, got {scheme!r}")
        self.url = url
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, pool_size))
        self._statements: dict[str, str] = {}
        # The contract's tables and the import ledger's.
        self._names = {
            name: f"{SCHEMA}.{name}" if self.dialect == "postgresql" else name
            for name in (*TABLES, "import_batches", "import_rejects")
        }

    @property
    def description(self) -> str:
        return without_password(self.url)

    # -- connections -----------------------------------------------------------------------

    def _postgres_connection(self):
        import psycopg

        try:
            return psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=5,
                application_name="salesflow-api",
                options=f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        except psycopg.OperationalError as error:
            raise WarehouseUnavailable(
                f"the warehouse at {self.description} is unreachable ({str(error).strip().splitlines()[0]}); "
                "check SALESFLOW_API_WAREHOUSE_URL and that PostgreSQL is running"
            ) from None

    def _sqlite_connection(self):
        if not self.path.is_file():
            raise WarehouseUnavailable(
                f"no warehouse at {self.path} yet: run the pipelines first (`salesflow demo`, or the daily schedule)"
            )
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10, check_same_thread=False)

    @contextmanager
    def _connection(self) -> Iterator[tuple[Any, bool]]:
        """(connection, reused) from the pool; a connection that failed is closed, not returned."""
        if not self._slots.acquire(timeout=POOL_WAIT_SECONDS):
            raise WarehouseUnavailable("every warehouse connection is busy; try again in a moment")
        try:
            try:
                connection, reused = self._idle.get_nowait(), True
            except queue.Empty:
                connection, reused = self._connect(), False
            try:
                yield connection, reused
            finally:
                if self._broken(connection):
                    _close(connection)
                else:
                    self._idle.put(connection)
        finally:
            self._slots.release()

    def _broken(self, connection) -> bool:
        if self.dialect == "postgresql":
            return bool(connection.closed or connection.broken)
        return False

    def close(self) -> None:
        while True:
            try:
                _close(self._idle.get_nowait())
            except queue.Empty:
                return

    # -- reading ---------------------------------------------------------------------------

    def sql(self, text: str) -> str:
        statement = self._statements.get(text)
        if statement is None:
            statement = text.format(**self._names)
            if self.dialect == "sqlite":
                statement = statement.replace("%s", "?")
            self._statements[text] = statement
        return statement

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of one SELECT; [] when a table it reads does not exist yet."""
        statement = self.sql(text)
        params = tuple(_param(value, self.dialect) for value in params)
        for attempt in (1, 2):
            with self._connection() as (connection, reused):
                try:
                    return list(connection.execute(statement, params).fetchall())
                except Exception as error:  # noqa: BLE001 - classified below, re-raised otherwise
                    if _missing_table(error):
                        return []
                    if reused and attempt == 1 and self._broken(connection):
                        continue  # an idle connection the server closed meanwhile: once more on a new one
                    if _operational(error):
                        raise WarehouseUnavailable(f"the warehouse query failed: {_first_line(error)}") from None
                    raise
        raise WarehouseUnavailable("the warehouse connection keeps dropping")

    def value(self, text: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(text, params)
        return found[0][0] if found else None

    def version(self) -> str:
        """Changes whenever the warehouse's data may have changed (see the module docstring)."""
        if self.dialect == "sqlite":
            parts = []
            for path in (self.path, self.path.with_name(self.path.name + "-wal")):
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    parts.append("-")
                    continue
                parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
            return "|".join(parts)
        return str(self.value("SELECT pg_current_snapshot()::text"))

    def frame(self, table: Table, where: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
        """A contract table's rows (optionally filtered), typed as `lib.warehouse` reads them."""
        columns = ", ".join(table.column_names)
        found = self.rows(f"SELECT {columns} FROM {{{table.name}}} {where}", params)
        return typed(table, pd.DataFrame(found, columns=table.column_names))


def as_date(value: Any) -> date | None:
    """A date from what either database answers (a date, a datetime or ISO text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _param(value: Any, dialect: str) -> Any:
    if dialect == "sqlite" and isinstance(value, date):
        return value.isoformat()
    return value


def _missing_table(error: Exception) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return "no such table" in str(error)
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, psycopg.errors.UndefinedTable)


def _operational(error: Exception) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return True
    import psycopg

    return isinstance(error, psycopg.OperationalError | psycopg.errors.QueryCanceled)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _close(connection) -> None:
    with contextlib.suppress(Exception):  # closing a dead connection may fail; nothing to do
        connection.close()
