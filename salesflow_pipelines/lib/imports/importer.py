"""One file's import, start to end: read, validate, plan, commit batch by batch, settle the file.

`import_file` is plain Python (no Dagster): the `excel_import` job calls it with a Java client
and a ledger. Its outcomes:

- the file is unusable as a whole -> moved to `failed/` with a summary saying why (`Unusable`);
- every batch settled (committed, or rejected and reported) -> moved to `processed/` with its
  rejects workbook and summary; the summary is returned;
- dry run -> rejects workbook and summary in `preview/`, nothing sent, nothing moved;
- anything that leaves a batch unsettled (backend down, 401/403, an answer lost and not
  reconciled) -> `ImportStopped`: the file stays in the inbox, the ledger says where it stopped,
  and the next run resumes from there without sending any committed batch again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from salesflow_pipelines.lib.backend.java_client import (
    BulkOutcomeUnknown,
    JavaApiAuthError,
    JavaApiClient,
    JavaApiError,
    JavaApiUnavailable,
)
from salesflow_pipelines.lib.imports import batching, files, headers, products, validation
from salesflow_pipelines.lib.imports.batching import Batch
from salesflow_pipelines.lib.imports.ledger import COMMITTED, PLANNED, REJECTED, SENDING, UNKNOWN, Ledger
from salesflow_pipelines.lib.imports.reading import ReadResult, UnusableFile, read_file
from salesflow_pipelines.lib.imports.reconcile import APPLIED, NOT_APPLIED, reconcile
from salesflow_pipelines.lib.imports.rejects import write_rejects

# Backend answers that mean "rejected, nothing applied" (contract section 4): split and isolate.
REJECTING_STATUSES = (400, 404, 409, 422)
BACKEND_REASONS = {"INSUFFICIENT_STOCK": "INSUFFICIENT_STOCK", "NOT_FOUND": "UNKNOWN_PRODUCT"}
RESOLUTIONS = ("committed", "not_applied")


@dataclass
class ImportOptions:
    """How an import behaves; the job fills it from the `ImportSettings` resource and run config."""

    dry_run: bool = False
    batch_size: int = batching.DEFAULT_BATCH_SIZE
    max_quantity: int = validation.DEFAULT_MAX_QUANTITY
    max_stock: int = validation.DEFAULT_MAX_STOCK
    max_rows: int = 500_000
    reconcile_wait_seconds: float = 30.0
    max_send_attempts: int = 3
    resolve_unknown_as: str = ""  # a human's decision for batches left `unknown`: committed / not_applied


class ImportStopped(RuntimeError):
    """The import stopped with batches unsettled; the file stays in the inbox. `summary` says how far it got."""

    def __init__(self, message: str, summary: dict[str, Any], retryable: bool = False):
        super().__init__(message)
        self.summary = summary | {"outcome": "stopped", "message": message}
        self.retryable = retryable  # the backend was unreachable: trying again later is safe and may succeed


class Unusable(RuntimeError):
    """The file is unusable as a whole and was moved to `failed/` (not in a dry run)."""

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary


def import_file(
    path: Path,
    inbox: Path,
    client: JavaApiClient,
    import_ledger: Ledger | None,
    options: ImportOptions,
    expected_hash: str | None = None,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Import one file from the inbox; answers its summary (see the module docstring)."""
    log = log or logging.getLogger(__name__)
    started = time.monotonic()
    if not path.is_file():
        raise ImportStopped(f"{path.name} is no longer in the inbox {inbox} (already imported, or moved away)", {})
    file_hash = files.content_hash(path)
    summary: dict[str, Any] = {"file": path.name, "sha256": file_hash, "dry_run": options.dry_run}
    if expected_hash and file_hash != expected_hash:
        raise ImportStopped(
            f"{path.name} changed since the sensor saw it (content hash {file_hash[:12]}, expected "
            f"{expected_hash[:12]}); the sensor requests a run for the new content",
            summary,
        )
    if not options.dry_run and import_ledger is None:
        raise ValueError("a ledger is needed unless it is a dry run")
    try:
        source, read = read_file(path, options.max_rows)
    except UnusableFile as error:
        raise _unusable(path, inbox, str(error), summary, options.dry_run, log) from None
    with closing(source):
        summary |= describe(read)
        resumed = [] if options.dry_run else import_ledger.batches(file_hash)
        if resumed:
            log.info(f"{path.name}: resuming the ledger's plan ({len(resumed)} batches) instead of planning again")
            batches = resumed
        else:
            catalogue = products.Catalogue.from_payload(_call(client.fetch_products, summary))
            problems, batches = plan(read, catalogue, options, source)
            if not options.dry_run:
                import_ledger.save_plan(file_hash, path.name, batches, problems)
        if options.dry_run:
            return _finish(path, inbox / files.PREVIEW, source, read, problems, batches, summary, started, log)
        committer = Committer(client, import_ledger, file_hash, path.name, options, log, summary)
        batches = committer.commit(batches)
        problems = import_ledger.problems(file_hash)
        return _finish(path, inbox / files.PROCESSED, source, read, problems, batches, summary, started, log)


def _call(read, summary: dict[str, Any]):
    try:
        return read()
    except JavaApiError as error:
        retryable = isinstance(error, JavaApiUnavailable)
        raise ImportStopped(f"could not read the products from the backend: {error}", summary, retryable) from None


def _unusable(path: Path, inbox: Path, reason: str, summary: dict[str, Any], dry_run: bool, log) -> Unusable:
    summary = summary | {"outcome": "failed", "message": f"{path.name} cannot be imported: {reason}"}
    directory = inbox / (files.PREVIEW if dry_run else files.FAILED)
    stem = files.outcome_stem(directory, path, summary["sha256"])
    summary["summary_file"] = str(directory / f"{stem}{files.SUMMARY_SUFFIX}")
    if not dry_run:
        summary["moved_to"] = str(directory / f"{stem}{path.suffix}")
    files.write_json(Path(summary["summary_file"]), summary)
    if not dry_run:
        files.move_original(path, directory, stem)
    log.error(summary["message"])
    return Unusable(summary["message"], summary)


def describe(read: ReadResult) -> dict[str, Any]:
    """What was read: sheets and kinds, row counts, the columns not sent or ignored."""
    not_sent = {header: why for sheet in read.sheets for header, why in sheet.columns.not_sent.items()}
    ignored = list(dict.fromkeys(header for sheet in read.sheets for header in sheet.columns.ignored))
    return {
        "format": read.file_format,
        "sheets": {
            sheet.name: {"kind": sheet.kind, "header_row": sheet.header_row, "rows": len(sheet.frame)}
            for sheet in read.sheets
        },
        "sheets_ignored": read.ignored_sheets,
        "rows_read": read.rows_read,
        "blank_rows_skipped": sum(sheet.blank_rows for sheet in read.sheets),
        "merged_cells_filled": sum(sheet.merged_cells_filled for sheet in read.sheets),
        "columns_not_sent": not_sent,
        "columns_ignored": ignored,
    }


def _row_keys(sheets: pd.Series, rows: pd.Series) -> pd.Series:
    return sheets.astype(str) + "\x1f" + rows.astype(str)


def plan(
    read: ReadResult, catalogue: products.Catalogue, options: ImportOptions, source=None
) -> tuple[pd.DataFrame, list[Batch]]:
    """Validate every sheet against the catalogue; answers the problems and the batches to send.

    With the `source`, empty cells that hold a formula nobody calculated are reported as such.
    """
    problems: list[pd.DataFrame] = []
    stock_rows: list[pd.DataFrame] = []
    sale_lines: list[pd.DataFrame] = []
    for sheet in read.sheets:
        if sheet.kind == headers.STOCK:
            rows, found = validation.validate_stock(sheet, options.max_stock)
            resolved, unresolved = products.resolve_products(rows[["row", "sku"]], catalogue, sheet)
            rows = rows.assign(sheet=sheet.name, product_id=resolved)
            problems += [found, unresolved, _duplicate_skus(rows, sheet)]
            stock_rows.append(rows)
        else:
            lines, found = validation.validate_sales(sheet, options.max_quantity)
            resolved, unresolved = products.resolve_products(lines, catalogue, sheet)
            sale_lines.append(lines.assign(sheet=sheet.name, product_id=resolved))
            problems += [found, unresolved]
    rejected = validation.concat_problems(problems)
    if source is not None:
        rejected = _uncalculated_formulas(rejected, read, source)
    rejected_keys = set(_row_keys(rejected["sheet"], rejected["row"]))
    stock = catalogue.stock()
    valid_stock = pd.DataFrame(columns=["sheet", "row", "sku", "stock_quantity", "low_stock_threshold"])
    if stock_rows:
        all_stock = pd.concat(stock_rows, ignore_index=True)
        valid_stock = all_stock[~_row_keys(all_stock["sheet"], all_stock["row"]).isin(rejected_keys)]
        valid_stock = valid_stock.assign(sku=catalogue.sku_of(valid_stock["product_id"].astype("int64")))
        stock |= dict(
            zip(valid_stock["product_id"].astype(int), valid_stock["stock_quantity"].astype(int), strict=True)
        )
    batches = batching.stock_batches(valid_stock, options.batch_size)
    if sale_lines:
        lines = batching.number_sales(pd.concat(sale_lines, ignore_index=True))
        incomplete = batching.incomplete_sales(lines, rejected)
        rejected = validation.concat_problems([rejected, incomplete])
        keys = _row_keys(lines["sheet"], lines["row"])
        valid = lines[~keys.isin(set(_row_keys(rejected["sheet"], rejected["row"])))]
        valid = valid.assign(product_id=valid["product_id"].astype("int64"), quantity=valid["quantity"].astype("int64"))
        short = products.stock_shortfalls(valid[["sale_no", "product_id", "quantity"]], stock)
        if len(short):
            rejected = validation.concat_problems([rejected, _shortfall_problems(valid, short, catalogue)])
            valid = valid[~valid["sale_no"].isin(short["sale_no"])]
        batches += batching.sale_batches(valid, options.batch_size)
    return rejected, batches


EMPTY_CELL_REASONS = ("MISSING_QUANTITY", "MISSING_PRODUCT", "MISSING_SKU")


def _uncalculated_formulas(problems: pd.DataFrame, read: ReadResult, source) -> pd.DataFrame:
    """Empty-cell problems whose cell holds a formula without a saved result get a message saying so."""
    empty = problems[problems["reason"].isin(EMPTY_CELL_REASONS)]
    for sheet in read.sheets:
        mine = empty[(empty["sheet"] == sheet.name) & empty["column"].isin(sheet.columns.headers)]
        cells = {
            (int(row), sheet.columns.headers.index(column) + 1)
            for row, column in zip(mine["row"], mine["column"], strict=True)
        }
        for (row, position), formula in source.formulas(sheet.name, cells).items():
            at = (problems["sheet"] == sheet.name) & (problems["row"] == row)
            at &= problems["column"] == sheet.columns.headers[position - 1]
            problems.loc[at, "reason"] = "FORMULA_NOT_CALCULATED"
            problems.loc[at, "message"] = (
                f"the cell holds the formula {formula} but no result was saved with it: open the file in Excel or "
                "LibreOffice and save it again (or type the value)"
            )
    return problems


def _duplicate_skus(rows: pd.DataFrame, sheet) -> pd.DataFrame:
    """Stock rows of one product that disagree: all of them are rejected (which one is right?)."""
    known = rows[rows["product_id"].notna()]
    values = known[["product_id", "stock_quantity", "low_stock_threshold"]].astype("float64").fillna(-1)
    variants = values.drop_duplicates().groupby("product_id").size()
    conflicting = known[known["product_id"].isin(variants[variants > 1].index)]
    if conflicting.empty:
        return validation.empty_problems()
    first_rows = conflicting.groupby("product_id")["row"].agg(lambda rows: ", ".join(map(str, rows)))
    messages = [
        f"the SKU appears on rows {first_rows[product]} with different values: keep one row per SKU"
        for product in conflicting["product_id"]
    ]
    return validation.problems_frame(sheet.name, conflicting["row"], sheet.header_of("sku"), "DUPLICATE_SKU", messages)


def _shortfall_problems(valid: pd.DataFrame, short: pd.DataFrame, catalogue: products.Catalogue) -> pd.DataFrame:
    lines = valid.merge(short, on="sale_no", how="inner", suffixes=("", "_short"))
    at_fault = lines["product_id"] == lines["product_id_short"]
    frames = []
    for sheet, group in lines[at_fault].groupby("sheet", sort=False):
        sku = catalogue.sku_of(group["product_id"])
        messages = [
            f"asks for {requested} of {code} but only {available} are in stock (after the earlier sales of this file)"
            for requested, code, available in zip(group["requested"], sku, group["available"], strict=True)
        ]
        frames.append(validation.problems_frame(sheet, group["row"], "", "INSUFFICIENT_STOCK", messages))
    others = lines[
        ~at_fault
        & ~_row_keys(lines["sheet"], lines["row"]).isin(
            set(_row_keys(lines.loc[at_fault, "sheet"], lines.loc[at_fault, "row"]))
        )
    ]
    for sheet, group in others.groupby("sheet", sort=False):
        messages = "another line of " + batching.sale_label(group) + " asks for more than the stock on hand"
        frames.append(validation.problems_frame(sheet, group["row"], "", "SALE_INCOMPLETE", messages))
    return validation.concat_problems(frames)


class Committer:
    """Sends a file's planned batches in order, keeping the ledger ahead of every request."""

    def __init__(
        self,
        client: JavaApiClient,
        import_ledger: Ledger,
        file_hash: str,
        file_name: str,
        options: ImportOptions,
        log: logging.Logger,
        summary: dict[str, Any],
    ):
        self.client = client
        self.ledger = import_ledger
        self.file_hash = file_hash
        self.file_name = file_name
        self.options = options
        self.log = log
        self.summary = summary
        self.anchor_id: int | None = None
        self.batches: dict[str, Batch] = {}

    def stop(self, message: str, retryable: bool = False) -> ImportStopped:
        counts = Counter(batch.state for batch in self.batches.values())
        self.log.error(message)
        return ImportStopped(message, self.summary | {"batches": dict(counts)}, retryable)

    def commit(self, batches: list[Batch]) -> list[Batch]:
        """Settle every batch or raise `ImportStopped`; answers the batches in their final states."""
        self.batches = {batch.key: batch for batch in batches}
        self._resolve_unknown()
        queue = deque(sorted((b for b in batches if b.state in (PLANNED, SENDING)), key=lambda b: b.key))
        while queue:
            batch = queue.popleft()
            if batch.kind == batching.STOCK_KIND:
                self._send_stock(batch)
            else:
                queue.extendleft(reversed(self._send_sales(batch)))
        return sorted(self.batches.values(), key=lambda batch: batch.key)

    def _resolve_unknown(self) -> None:
        unknown = sorted(key for key, batch in self.batches.items() if batch.state == UNKNOWN)
        if not unknown:
            return
        decision = self.options.resolve_unknown_as
        if decision not in RESOLUTIONS:
            raise self.stop(
                f"batch(es) {', '.join(unknown)} of {self.file_name} have an unknown outcome (an answer was lost and "
                "GET /sales/today could not tell whether they were applied). Check the backend's sales, then launch "
                "excel_import for this file with resolve_unknown_as: committed (they are in the backend) or "
                "not_applied (they are not; they will be sent again)."
            )
        for key in unknown:
            state = COMMITTED if decision == "committed" else PLANNED
            self.ledger.settle(
                self.file_hash,
                self.batches[key],
                state,
                f"unknown outcome resolved by a human as {decision}",
                expected=UNKNOWN,
            )
            self.log.warning(f"batch {key}: unknown outcome resolved as {decision} (run config)")

    # -- stock -----------------------------------------------------------------------------

    def _send_stock(self, batch: Batch) -> None:
        if batch.state == SENDING:  # a run stopped while updating: absolute values are safe to repeat
            self.ledger.settle(self.file_hash, batch, PLANNED, "interrupted; updates are absolute, sent again")
        self.ledger.claim(self.file_hash, batch, None)
        try:
            current = {products.sku_match_key(p.get("sku")): p for p in self.client.fetch_products()}
        except JavaApiError as error:
            self.ledger.settle(self.file_hash, batch, PLANNED, f"not sent: {error}")
            raise self.stop(
                f"stock batch {batch.key}: could not read the products: {error}", isinstance(error, JavaApiUnavailable)
            ) from None
        problems = []
        for item, sources in zip(batch.payload, batch.sources, strict=True):
            product = current.get(products.sku_match_key(item["sku"]))
            sheet, row = sources[0]
            if product is None:
                problems.append(_problem(sheet, row, "UNKNOWN_PRODUCT", f"the backend no longer has SKU {item['sku']}"))
                continue
            update = {name: value for name, value in item.items() if name != "sku"}
            try:
                self.client.update_product(product["sku"], product | update)
            except JavaApiError as error:
                if error.status in REJECTING_STATUSES:
                    problems.append(
                        _problem(sheet, row, "REJECTED_BY_BACKEND", f"the backend refused: {error.message}")
                    )
                    continue
                self.ledger.settle(self.file_hash, batch, PLANNED, f"stopped: {error}")
                raise self.stop(
                    self._write_failure(f"stock batch {batch.key}", error), isinstance(error, JavaApiUnavailable)
                ) from None
        frame = validation.concat_problems([pd.DataFrame(problems)]) if problems else None
        updated = len(batch.payload) - len(problems)
        self.ledger.settle(self.file_hash, batch, COMMITTED, f"{updated} products updated", problems=frame)
        self.log.info(f"stock batch {batch.key}: {updated} of {len(batch.payload)} products updated")

    # -- sales -----------------------------------------------------------------------------

    def _ensure_anchor(self) -> None:
        if self.anchor_id is None:
            try:
                self._set_anchor(self.client.fetch_sales_today())
            except JavaApiError as error:
                raise self.stop(
                    f"could not read GET /sales/today before sending (nothing sent): {error}",
                    isinstance(error, JavaApiUnavailable),
                ) from None

    def _set_anchor(self, today: list[dict[str, Any]]) -> None:
        ids = [sale["id"] for sale in today if isinstance(sale.get("id"), int)]
        # No sale today: a negative anchor unique to this moment (batches of another day never share it).
        self.anchor_id = max(ids) if ids else -int(time.time() * 1000)

    def _send_sales(self, batch: Batch) -> list[Batch]:
        """Send one sales batch until settled; answers its halves when the backend rejected it."""
        if batch.state == SENDING:
            self.log.warning(f"batch {batch.key} was being sent when an earlier run stopped: reconciling first")
            if self._settle_lost_answer(batch):
                return []
        while True:
            self._ensure_anchor()
            self.ledger.claim(self.file_hash, batch, self.anchor_id)
            try:
                self.client.bulk_create_sales(batch.payload)
            except BulkOutcomeUnknown as error:
                self.log.warning(f"batch {batch.key}: {error}")
                if self._settle_lost_answer(batch):
                    return []
                continue
            except JavaApiUnavailable as error:
                self.ledger.settle(self.file_hash, batch, PLANNED, f"not sent: {error}")
                raise self.stop(f"batch {batch.key} could not be sent (nothing applied): {error}", True) from None
            except JavaApiError as error:
                if error.status in REJECTING_STATUSES and not isinstance(error, JavaApiAuthError):
                    return self._rejected(batch, error)
                self.ledger.settle(self.file_hash, batch, PLANNED, f"refused, nothing applied: {error}")
                raise self.stop(self._write_failure(f"batch {batch.key}", error)) from None
            self.ledger.settle(self.file_hash, batch, COMMITTED, "answered 200")
            self.log.info(f"batch {batch.key}: {len(batch.payload)} sales committed")
            return []

    def _write_failure(self, what: str, error: JavaApiError) -> str:
        if error.status == 403:
            return (
                f"{what}: the backend refused the write with 403 ACCESS_DENIED: the token (SYSTEM_JWT_TOKEN or the "
                "service account) lacks the ADMIN role. Nothing of this batch was applied; give the pipelines an "
                "ADMIN identity and re-execute the run."
            )
        return f"{what}: the backend refused the request ({error}); nothing of this batch was applied."

    def _rejected(self, batch: Batch, error: JavaApiError) -> list[Batch]:
        why = f"{error.code or error.status}: {error.message or error}"
        if len(batch.payload) > 1:
            halves = batch.halves()
            self.ledger.settle(
                self.file_hash,
                batch,
                REJECTED,
                f"rejected ({why}); split in two to find the sales at fault",
                file_name=self.file_name,
                children=halves,
            )
            self.batches.update({half.key: half for half in halves})
            self.log.info(f"batch {batch.key} rejected ({why}); trying its halves {halves[0].key}, {halves[1].key}")
            return halves
        reason = BACKEND_REASONS.get(error.code or "", "REJECTED_BY_BACKEND")
        problems = validation.concat_problems(
            [
                pd.DataFrame(
                    [
                        _problem(sheet, row, reason, f"the backend refused this sale: {why}")
                        for sheet, row in batch.sources[0]
                    ]
                )
            ]
        )
        self.ledger.settle(self.file_hash, batch, REJECTED, f"rejected ({why})", problems=problems)
        self.log.info(f"batch {batch.key}: the sale on row(s) {[row for _, row in batch.sources[0]]} rejected ({why})")
        return []

    def _settle_lost_answer(self, batch: Batch) -> bool:
        """Reconcile a batch whose answer never arrived; True when settled, False to send it again."""
        earlier = [
            other.payload
            for other in sorted(self.batches.values(), key=lambda other: other.sent_seq or 0)
            if other.kind == batching.SALES_KIND
            and other.state == COMMITTED
            and other.anchor_id == batch.anchor_id
            and (other.sent_seq or 0) < (batch.sent_seq or 0)
        ]
        verdict = None
        for look in (1, 2):
            time.sleep(self.options.reconcile_wait_seconds)
            try:
                today = self.client.fetch_sales_today()
            except JavaApiError as error:
                raise self.stop(
                    f"batch {batch.key}: the answer was lost and GET /sales/today failed too ({error}). The batch "
                    "stays 'sending' in the ledger; the next run reconciles it before sending anything.",
                    isinstance(error, JavaApiUnavailable),
                ) from None
            verdict = reconcile(batch.payload, earlier, today, batch.anchor_id)
            self.log.info(f"batch {batch.key}: reconciliation look {look}: {verdict.outcome} ({verdict.reason})")
            if verdict.outcome != NOT_APPLIED:
                break
        if verdict.outcome == APPLIED:
            self._set_anchor(today)
            self.ledger.settle(self.file_hash, batch, COMMITTED, f"answer lost; reconciled: {verdict.reason}")
            return True
        if verdict.outcome == NOT_APPLIED:
            self._set_anchor(today)
            self.ledger.settle(self.file_hash, batch, PLANNED, f"answer lost; reconciled: {verdict.reason}")
            if batch.attempts >= self.options.max_send_attempts:
                raise self.stop(
                    f"batch {batch.key}: sent {batch.attempts} times, every answer lost (each time proven not "
                    "applied). The backend is failing; the file stays in the inbox for a later run."
                )
            self.log.warning(f"batch {batch.key}: proven not applied; sending it again")
            return False
        self.ledger.settle(self.file_hash, batch, UNKNOWN, f"answer lost; undecided: {verdict.reason}")
        raise self.stop(
            f"batch {batch.key} ({len(batch.payload)} sales): the answer was lost and it cannot be decided whether the "
            f"backend applied it: {verdict.reason}. Nothing more is sent. Check the backend's sales of today, then "
            "launch excel_import for this file with resolve_unknown_as: committed or not_applied."
        )


def _problem(sheet: str, row: int, reason: str, message: str) -> dict[str, Any]:
    return {"sheet": sheet, "row": int(row), "column": "", "reason": reason, "message": message}


def tally(problems: pd.DataFrame, batches: list[Batch]) -> dict[str, Any]:
    """The summary's counts from the problems and the batches' states."""
    by_row = problems.drop_duplicates(["sheet", "row", "reason"])
    sales = [batch for batch in batches if batch.kind == batching.SALES_KIND]
    final = [batch for batch in sales if not any(other.key.startswith(batch.key + ".") for other in sales)]
    committed = [batch for batch in final if batch.state == COMMITTED]
    refused = set(zip(problems["sheet"], problems["row"], strict=True))
    stock_updated = [
        source
        for batch in batches
        if batch.kind == batching.STOCK_KIND and batch.state == COMMITTED
        for (source,) in batch.sources
        if tuple(source) not in refused
    ]
    return {
        "sales_valid": sum(len(batch.payload) for batch in final if batch.state != REJECTED),
        "sales_committed": sum(len(batch.payload) for batch in committed),
        "lines_committed": sum(len(sale["items"]) for batch in committed for sale in batch.payload),
        "units_committed": sum(
            item["quantity"] for batch in committed for sale in batch.payload for item in sale["items"]
        ),
        "stock_rows_updated": len(stock_updated),
        "rows_rejected": int(len(problems.drop_duplicates(["sheet", "row"]))),
        "rejected_by_reason": {reason: int(count) for reason, count in by_row["reason"].value_counts().items()},
        "batches": dict(Counter(batch.state for batch in batches)),
    }


def _finish(
    path: Path,
    directory: Path,
    source,
    read: ReadResult,
    problems: pd.DataFrame,
    batches: list[Batch],
    summary: dict[str, Any],
    started: float,
    log: logging.Logger,
) -> dict[str, Any]:
    """Write the rejects workbook and the summary into `directory`, then move the original there."""
    dry_run = directory.name == files.PREVIEW
    directory.mkdir(parents=True, exist_ok=True)
    stem = files.outcome_stem(directory, path, summary["sha256"])
    summary = summary | tally(problems, batches)
    rejects_path = directory / f"{stem}{files.REJECTS_SUFFIX}"
    if len(problems):
        write_rejects(rejects_path, source, read.sheets, problems)
        summary["rejects_file"] = str(rejects_path)
    if dry_run:
        outcome = "preview"
        message = (
            f"dry run: {summary['sales_valid']} sales would be committed, {summary['rows_rejected']} rows rejected"
        )
    else:
        outcome = "imported" if summary["sales_committed"] or summary["stock_rows_updated"] else "nothing imported"
        message = (
            f"{summary['sales_committed']} sales committed, {summary['stock_rows_updated']} stock rows updated, "
            f"{summary['rows_rejected']} rows rejected"
        )
        summary["moved_to"] = str(directory / f"{stem}{path.suffix}")
    summary |= {"outcome": outcome, "message": message, "seconds": round(time.monotonic() - started, 2)}
    summary["summary_file"] = str(directory / f"{stem}{files.SUMMARY_SUFFIX}")
    files.write_json(Path(summary["summary_file"]), summary)
    if not dry_run:
        files.move_original(path, directory, stem)
    log.info(f"{path.name}: {message}")
    return summary
