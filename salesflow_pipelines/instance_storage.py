"""Dagster's instance storage (SQLite or PostgreSQL) with batched event writes.

A single-run backfill of a year stores one materialization per asset and day (11 assets x 365
days), and before the run starts one planned event per asset and day (which the UI needs to
show days in progress, or failed when the run fails): 8,000 events. Dagster's storages write each
one on its own: SQLite in two transactions (the run's database, then the cross-run index), each
opening and closing the file, PostgreSQL over two or three new connections (its engine holds
none open), each commit an fsync: 20-45 ms per event on this project's machines, 170-380 s of a
365-day backfill whose computation takes a few seconds.

Dagster hands a storage the events of one output (and the planned events of a run) as one batch
when `DAGSTER_EVENT_BATCH_SIZE` is set (`DagsterInstance.handle_new_event`); the storages here
then write each batch's asset events in one statement, and its index rows in one transaction,
with the same rows as one write per event (dagster-postgres batches materializations only, and
Dagster's SQLite storage nothing). Each storage turns batching on (`DAGSTER_EVENT_BATCH_SIZE`,
unless set) in the processes that open it: the webserver and the daemon, which write the
planned events of the runs they launch, and every run worker. They also keep their database
connections open instead of one per statement (the ~100 events of every run's steps, which
come one at a time, cost 15-45 ms each otherwise; see each class). Nothing else differs: same
tables, same files, the UI reads them as before. dagster.yaml names them:

    storage:                       # the local instance (dagster.yaml)
      custom:
        module: salesflow_pipelines.instance_storage
        class: SqliteStorage
        config:
          base_dir: .salesflow/dagster_home

    storage:                       # deployment (deploy/dagster.yaml)
      custom:
        module: salesflow_pipelines.instance_storage
        class: PostgresStorage
        config:
          postgres_db: {...}       # as under `storage: postgres:`
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
import yaml
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# Events buffered before a write (a batch also ends with its output, or with the run's planned
# events): a month of an asset's days per statement at least, and few enough rows per
# statement for SQLite's and PostgreSQL's bound-parameter limits (7 per event).
DEFAULT_BATCH_SIZE = 1000
# SQLite databases a process keeps open: the index, the runs it writes or follows.
OPEN_SHARDS = 8


def enable_event_batches() -> None:
    """Turns on Dagster's event batching in this process, unless DAGSTER_EVENT_BATCH_SIZE says otherwise."""
    os.environ.setdefault(BATCH_SIZE_VARIABLE, str(DEFAULT_BATCH_SIZE))


def _is_asset_event(event: EventLogEntry) -> bool:
    """An event the storages index as an asset event (materialization, observation, planned...)."""
    dagster_event = event.dagster_event
    return dagster_event is not None and dagster_event.event_type in ASSET_EVENTS and bool(dagster_event.asset_key)


class _BatchedAssetEvents:
    """`store_event_batch` for a `SqlEventLogStorage`: each run of consecutive asset events of one
    run is written at once (`_insert_events`, then one index transaction), anything else one
    event at a time through `store_event`."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        for (_, batchable), group in itertools.groupby(events, key=lambda e: (e.run_id, _is_asset_event(e))):
            group = list(group)
            if not batchable or len(group) == 1:
                for event in group:
                    self.store_event(event)
                continue
            event_ids = self._insert_events(group)
            with self.index_transaction() as connection:
                self._store_asset_event_tags(connection, group, event_ids)
                # An asset's row keeps, per column, the value of the last event setting it: the
                # last event of each kind per asset, applied in order, leaves the row as applying
                # every event in turn does.
                last = {(event.dagster_event.asset_key, event.dagster_event_type): i for i, event in enumerate(group)}
                for i in sorted(last.values()):
                    self._store_asset_event(connection, group[i], event_ids[i])

    def _insert_events(self, events: list[EventLogEntry]) -> list[int]:
        """Inserts the events' rows where the index reads them; their storage ids, in order."""
        raise NotImplementedError

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's, with the event serialized once rather than once per partition (a year's
        range: 365 times per check, in every run)."""
        planned = event.get_dagster_event().event_specific_data
        partition_keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as connection:
            connection.execute(
                AssetCheckExecutionsTable.insert().values([{**row, "partition": key} for key in partition_keys])
            )

    @staticmethod
    def _insert_returning_ids(connection, rows: list[dict[str, Any]]) -> list[int]:
        table = SqlEventLogStorageTable
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [int(event_id) for event_id in connection.execute(statement, rows).scalars()]


class BatchedSqliteEventLogStorage(_BatchedAssetEvents, SqliteEventLogStorage):
    """`SqliteEventLogStorage` writing a batch's asset events in one transaction on the run's
    database and one on the index (where the storage ids come from, as in `store_event`).

    It also keeps its databases open (the index and the last few runs' databases) with
    `synchronous=NORMAL`, where Dagster's opens and closes a file per write: closing the last
    connection checkpoints the write-ahead log, two fsyncs, 15-20 ms for each of the ~100 step
    events of any run. In WAL mode NORMAL never corrupts the file; a power cut may lose the last
    events written, not a crash of the process. As the UI follows a running run's events by
    watching its database file (which a checkpoint used to modify), each write touches it.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)
        enable_event_batches()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, holding one connection open; the least recently used beyond
        `OPEN_SHARDS` are closed."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            url, connect_args = self.conn_string_for_shard(shard), {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            if shard not in self._initialized_dbs:  # as Dagster does, on an engine of its own
                initializing = db.create_engine(url, poolclass=NullPool, connect_args=connect_args)
                self._initdb(initializing)
                initializing.dispose()
                self._initialized_dbs.add(shard)
            engine = db.create_engine(
                url,
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=0,  # one user at a time: `_db_lock`
                connect_args={**connect_args, "check_same_thread": False},
            )
            db.event.listen(engine, "connect", _relaxed_sync)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def store_event(self, event: EventLogEntry) -> None:
        super().store_event(event)
        self._touch(event.run_id)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        super().store_event_batch(events)
        for run_id in {event.run_id for event in events}:
            self._touch(run_id)

    def _touch(self, run_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path_for_shard(run_id))

    def _insert_events(self, events: list[EventLogEntry]) -> list[int]:
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as connection:
            connection.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as connection:
            return self._insert_returning_ids(connection, rows)

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()


def _relaxed_sync(connection, _record) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")


class SqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (`storage: sqlite:`, the same files under `base_dir`) whose event
    log writes batches at once."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage = BatchedSqliteEventLogStorage(self._event_log_storage._base_dir)  # noqa: SLF001

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> SqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        config = {"base_dir": self._event_log_storage._base_dir}  # noqa: SLF001
        return ConfigurableClassData(__name__, BatchedSqliteEventLogStorage.__name__, yaml.dump(config))


class BatchedPostgresEventLogStorage(_BatchedAssetEvents, PostgresEventLogStorage):
    """`PostgresEventLogStorage` writing a batch's asset events in one INSERT, asset events of
    every kind (dagster-postgres batches materializations and observations only), over one
    connection kept open (dagster-postgres opens one per statement: a new server process and a
    login for each of the ~100 step events of any run)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine = create_pg_engine(
            self.postgres_url,
            token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            max_overflow=4,  # the daemon's threads
            pool_recycle=3600,
            pool_pre_ping=True,  # a restarted server is reconnected to, not an error
        )
        enable_event_batches()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchedPostgresEventLogStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def _insert_events(self, events: list[EventLogEntry]) -> list[int]:
        with self._connect() as connection:
            return self._insert_returning_ids(connection, [self._event_to_row(event) for event in events])

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PostgresStorage(DagsterPostgresStorage):
    """dagster-postgres's storage (`storage: postgres:`, the same configuration and tables)
    whose event log writes batches at once."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._event_log_storage = BatchedPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> PostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        if not self.inst_data:
            return None
        return ConfigurableClassData(__name__, BatchedPostgresEventLogStorage.__name__, self.inst_data.config_yaml)
