"""The `excel_import` job: one run imports one file of the inbox into the Java backend."""

import dagster as dg
from pydantic import Field

from salesflow_pipelines.defs.resources import ImportSettings, JavaApi
from salesflow_pipelines.lib.imports.importer import ImportOptions, ImportStopped, Unusable, import_file
from salesflow_pipelines.lib.imports.ledger import Ledger


class ExcelImportConfig(dg.Config):
    path: str = Field(description="The workbook or CSV file: its name in the import inbox, or an absolute path.")
    sha256: str = Field(default="", description="Content hash the sensor saw; empty: import whatever it holds now.")
    dry_run: bool | None = Field(
        default=None, description="True: validate and write the rejects workbook only. Unset: SALESFLOW_IMPORT_DRY_RUN."
    )
    resolve_unknown_as: str = Field(
        default="",
        description="For batches left 'unknown' (answer lost, not reconciled), after checking the backend: "
        "'committed' (they are there) or 'not_applied' (they are not: send them again).",
    )


def summary_metadata(summary: dict) -> dict:
    """The figures a reader looks for first, then the whole summary."""
    figures = {
        name: summary[name]
        for name in (
            "file",
            "outcome",
            "message",
            "rows_read",
            "sales_committed",
            "stock_rows_updated",
            "rows_rejected",
        )
        if name in summary
    }
    paths = {
        name: dg.MetadataValue.path(summary[name])
        for name in ("rejects_file", "summary_file", "moved_to")
        if summary.get(name)
    }
    extra = {
        "rejected_by_reason": dg.MetadataValue.json(summary.get("rejected_by_reason", {})),
        "columns_not_sent": dg.MetadataValue.json(summary.get("columns_not_sent", {})),
        "columns_ignored": ", ".join(summary.get("columns_ignored", [])) or "none",
        "summary": dg.MetadataValue.json(summary),
    }
    return figures | paths | extra


@dg.op(name="import_file", tags={"kind": "excel"})
def import_file_op(
    context: dg.OpExecutionContext, config: ExcelImportConfig, import_settings: ImportSettings, java_api: JavaApi
) -> dict:
    """Validate the file, write its rejects workbook, commit its sales and stock to the Java backend
    in ledgered batches, and move it to processed/ (or failed/ when it is unusable)."""
    dry_run = import_settings.dry_run if config.dry_run is None else config.dry_run
    options = ImportOptions(
        dry_run=dry_run,
        batch_size=import_settings.batch_size,
        max_quantity=import_settings.max_quantity,
        max_rows=import_settings.max_rows,
        reconcile_wait_seconds=import_settings.reconcile_wait_seconds,
        resolve_unknown_as=config.resolve_unknown_as,
    )
    ledger = None if dry_run else Ledger(import_settings.warehouse_url)
    inbox = import_settings.inbox_path()
    with java_api.client(context.log) as client:
        try:
            summary = import_file(
                inbox / config.path,  # an absolute path stays as it is
                inbox,
                client,
                ledger,
                options,
                expected_hash=config.sha256 or None,
                log=context.log,
            )
        except Unusable as unusable:
            raise dg.Failure(
                description=str(unusable), metadata=summary_metadata(unusable.summary), allow_retries=False
            ) from None
        except ImportStopped as stopped:
            if stopped.retryable and context.retry_number < import_settings.unavailable_retries:
                context.log.warning(f"{stopped} Trying again in {import_settings.retry_wait_seconds:.0f}s.")
                raise dg.RetryRequested(
                    max_retries=import_settings.unavailable_retries, seconds_to_wait=import_settings.retry_wait_seconds
                ) from stopped
            raise dg.Failure(
                description=f"{stopped} The file stays in the inbox.",
                metadata=summary_metadata(stopped.summary),
                allow_retries=False,
            ) from None
    context.add_output_metadata(summary_metadata(summary))
    return summary


@dg.job(
    name="excel_import",
    description="Import one workbook or CSV file of the inbox: validate, write rejects, commit in batches.",
    tags={"salesflow/domain": "imports"},
)
def excel_import():
    import_file_op()
