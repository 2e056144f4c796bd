"""The import ledger: every batch of every file, and its state, in the warehouse.

`POST /sales/bulk` is not idempotent, so nothing is sent without a ledger row saying so first:

    planned --claim--> sending --answer 200-----------------> committed
                          |----rejected (4xx, nothing applied) -> rejected (+ two halves, planned)
                          |----not sent / 401 / 403 ----------> planned   (safe to send later)
                          |----answer lost: reconciled -------> committed | planned (proven not applied)
                          |                                  '-> unknown  (a human decides)
                          '----crash / backend gone ----------> stays `sending` (reconciled on the next run)

`claim` is a compare-and-set (planned -> sending) in its own transaction, so two runs of the
same file never both send a batch. The plan (batches and the rows rejected by validation) is
written once per file hash, in one transaction; a later run resumes it instead of planning
again (stock and products will have changed since, the plan must not).

Tables (schema `analytics` on PostgreSQL): `import_batches` (one row per batch) and
`import_rejects` (one row per problem of a rejected row).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.imports.batching import Batch
from salesflow_pipelines.lib.imports.validation import PROBLEM_COLUMNS, empty_problems
from salesflow_pipelines.lib.warehouse.tables import Table

PLANNED, SENDING, COMMITTED, REJECTED, UNKNOWN = "planned", "sending", "committed", "rejected", "unknown"
SETTLED = (COMMITTED, REJECTED)
NO_ANCHOR = -1  # /sales/today was empty when the batch was sent

IMPORT_BATCHES = Table(
    "import_batches",
    {
        "file_hash": "text",
        "batch_key": "text",
        "file_name": "text",
        "kind": "text",
        "state": "text",
        "sales": "int",
        "payload": "text",
        "sources": "text",
        "attempts": "int",
        "sent_seq": "int",
        "anchor_id": "int",
        "planned_at": "text",
        "sent_at": "text",
        "settled_at": "text",
        "detail": "text",
    },
    ("file_hash", "batch_key"),
    None,
    "One row per batch of an imported file: what it holds and whether the backend has it.",
)
IMPORT_REJECTS = Table(
    "import_rejects",
    {
        "file_hash": "text",
        "sheet": "text",
        "row_number": "int",
        "column_name": "text",
        "reason": "text",
        "message": "text",
    },
    (),
    None,
    "One row per problem of a rejected row of an imported file.",
)


class LedgerError(RuntimeError):
    """The ledger is not in the state a step expects (another run is working on the file?)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Ledger:
    """Batches and rejects of imported files in the warehouse at `url` (SQLite or PostgreSQL)."""

    def __init__(self, url: str):
        self.warehouse = warehouse.connect(url)
        self.batches_table = self.warehouse.qualified(IMPORT_BATCHES)
        self.rejects_table = self.warehouse.qualified(IMPORT_REJECTS)
        self.mark = self.warehouse.placeholder

    def _transaction(self):
        return self.warehouse.transaction(IMPORT_BATCHES, IMPORT_REJECTS)

    def _sql(self, text: str) -> str:
        return text.format(batches=self.batches_table, rejects=self.rejects_table, p=self.mark)

    # -- reading ---------------------------------------------------------------------------

    def batches(self, file_hash: str) -> list[Batch]:
        """The file's batches in key order (stock before sales, a batch before its halves)."""
        columns = "batch_key, kind, payload, sources, state, attempts, sent_seq, anchor_id, detail"
        with self._transaction() as connection:
            rows = connection.execute(
                self._sql(f"SELECT {columns} FROM {{batches}} WHERE file_hash = {{p}} ORDER BY batch_key"),
                (file_hash,),
            ).fetchall()
        return [
            Batch(key, kind, json.loads(payload), json.loads(sources), state, attempts or 0, seq, anchor, detail or "")
            for key, kind, payload, sources, state, attempts, seq, anchor, detail in rows
        ]

    def problems(self, file_hash: str) -> pd.DataFrame:
        """Every problem recorded for the file's rows (validation and backend rejections)."""
        with self._transaction() as connection:
            rows = connection.execute(
                self._sql(
                    "SELECT sheet, row_number, column_name, reason, message FROM {rejects} WHERE file_hash = {p}"
                ),
                (file_hash,),
            ).fetchall()
        if not rows:
            return empty_problems()
        return pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS)).astype(PROBLEM_COLUMNS)

    # -- writing ---------------------------------------------------------------------------

    def save_plan(self, file_hash: str, file_name: str, batches: list[Batch], problems: pd.DataFrame) -> None:
        """Record a new file's batches and validation rejects, all or nothing."""
        with self._transaction() as connection:
            existing = connection.execute(
                self._sql("SELECT COUNT(*) FROM {batches} WHERE file_hash = {p}"), (file_hash,)
            ).fetchone()[0]
            if existing:
                raise LedgerError(f"file {file_hash[:12]} already has a plan in the ledger (another run?)")
            self._insert_batches(connection, file_hash, file_name, batches)
            self._insert_problems(connection, file_hash, problems)

    def claim(self, file_hash: str, batch: Batch, anchor_id: int | None) -> None:
        """planned -> sending, before the batch leaves; LedgerError if another run holds it."""
        with self._transaction() as connection:
            sequence = connection.execute(
                self._sql("SELECT COALESCE(MAX(sent_seq), 0) + 1 FROM {batches} WHERE file_hash = {p}"), (file_hash,)
            ).fetchone()[0]
            cursor = connection.execute(
                self._sql(
                    "UPDATE {batches} SET state = {p}, attempts = attempts + 1, sent_seq = {p}, anchor_id = {p}, "
                    "sent_at = {p} WHERE file_hash = {p} AND batch_key = {p} AND state = {p}"
                ),
                (SENDING, sequence, anchor_id, _now(), file_hash, batch.key, PLANNED),
            )
            if cursor.rowcount != 1:
                raise LedgerError(
                    f"batch {batch.key} of file {file_hash[:12]} is no longer planned: another run is sending it"
                )
        batch.state, batch.sent_seq, batch.anchor_id = SENDING, sequence, anchor_id
        batch.attempts += 1

    def settle(
        self,
        file_hash: str,
        batch: Batch,
        state: str,
        detail: str,
        *,
        file_name: str = "",
        children: list[Batch] | None = None,
        problems: pd.DataFrame | None = None,
        expected: str = SENDING,
    ) -> None:
        """Move a batch from `expected` to `state`, with its halves and row problems, atomically."""
        with self._transaction() as connection:
            cursor = connection.execute(
                self._sql(
                    "UPDATE {batches} SET state = {p}, detail = {p}, settled_at = {p} "
                    "WHERE file_hash = {p} AND batch_key = {p} AND state = {p}"
                ),
                (state, detail[:4000], _now(), file_hash, batch.key, expected),
            )
            if cursor.rowcount != 1:
                raise LedgerError(f"batch {batch.key} of file {file_hash[:12]} was not {expected}")
            if children:
                self._insert_batches(connection, file_hash, file_name, children)
            if problems is not None and len(problems):
                self._insert_problems(connection, file_hash, problems)
        batch.state, batch.detail = state, detail

    def _insert_batches(self, connection, file_hash: str, file_name: str, batches: list[Batch]) -> None:
        if not batches:
            return
        columns = (
            "file_hash",
            "batch_key",
            "file_name",
            "kind",
            "state",
            "sales",
            "payload",
            "sources",
            "attempts",
            "planned_at",
            "detail",
        )
        marks = ", ".join(self.mark for _ in columns)
        now = _now()
        connection.cursor().executemany(
            self._sql(f"INSERT INTO {{batches}} ({', '.join(columns)}) VALUES ({marks})"),
            [
                (
                    file_hash,
                    batch.key,
                    file_name,
                    batch.kind,
                    PLANNED,
                    len(batch.payload),
                    json.dumps(batch.payload, separators=(",", ":")),
                    json.dumps(batch.sources, separators=(",", ":")),
                    0,
                    now,
                    "",
                )
                for batch in batches
            ],
        )

    def _insert_problems(self, connection, file_hash: str, problems: pd.DataFrame) -> None:
        if problems.empty:
            return
        columns = "file_hash, sheet, row_number, column_name, reason, message"
        marks = ", ".join(self.mark for _ in range(6))
        records = problems.astype(object).where(problems.notna(), None)
        connection.cursor().executemany(
            self._sql(f"INSERT INTO {{rejects}} ({columns}) VALUES ({marks})"),
            [
                (file_hash, sheet, int(row), column, reason, message)
                for sheet, row, column, reason, message in records[list(PROBLEM_COLUMNS)].itertuples(index=False)
            ],
        )
