"""The inbox sensor: a workbook or CSV file that has stopped changing -> one `excel_import` run.

A file is ready when two evaluations see the same size and modification time and it has not
been modified for `settle_seconds` (a copy over the network can keep an old modification time
while it grows, hence the two looks). The run key is the content hash (`import:<sha256>`, or
`preview:<sha256>` in dry-run mode): the same content dropped twice is imported once, whatever
its name, and a preview does not stop the real import later. The cursor remembers each waiting
file's size, time and hash, so a file is hashed once.
"""

import json
import time

import dagster as dg

from salesflow_pipelines.defs.imports.job import ExcelImportConfig, excel_import
from salesflow_pipelines.defs.resources import ImportSettings
from salesflow_pipelines.lib.imports import files

RUN_KEY_TAG = "dagster/run_key"


def run_key(file_hash: str, dry_run: bool) -> str:
    return f"{'preview' if dry_run else 'import'}:{file_hash}"


def existing_runs(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, dg.DagsterRun]:
    """The latest run of each run key that has one."""
    if not keys:
        return {}
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: keys}))
    found: dict[str, dg.DagsterRun] = {}
    for run in runs:  # newest first
        found.setdefault(run.tags[RUN_KEY_TAG], run)
    return found


@dg.sensor(
    name="import_inbox_sensor",
    job=excel_import,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A workbook (.xlsx) or CSV file dropped into SALESFLOW_IMPORT_INBOX: one excel_import run per content.",
)
def import_inbox_sensor(context: dg.SensorEvaluationContext, import_settings: ImportSettings):
    inbox = import_settings.inbox_path()
    inbox.mkdir(parents=True, exist_ok=True)
    seen = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    observed: dict[str, list] = {}
    ready: dict[str, tuple[str, str]] = {}  # run key -> (file name, hash)
    changing: list[str] = []
    for path in files.waiting_files(inbox):
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        previous = seen.get(path.name)
        unchanged = previous is not None and previous[:2] == signature
        if not unchanged or now - stat.st_mtime < import_settings.settle_seconds:
            observed[path.name] = [*signature, None]
            changing.append(path.name)
            continue
        file_hash = previous[2] or files.content_hash(path)
        observed[path.name] = [*signature, file_hash]
        ready.setdefault(run_key(file_hash, import_settings.dry_run), (path.name, file_hash))
    done = existing_runs(context.instance, list(ready))
    requests = [
        dg.RunRequest(
            run_key=key,
            run_config=dg.RunConfig(
                ops={"import_file": ExcelImportConfig(path=name, sha256=file_hash, dry_run=import_settings.dry_run)}
            ),
            tags={"salesflow/import_file": name, "salesflow/sha256": file_hash},
        )
        for key, (name, file_hash) in ready.items()
        if key not in done
    ]
    cursor = json.dumps(observed, sort_keys=True)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    notes = [
        f"{name}: same content as run {done[key].run_id[:8]} ({done[key].status.value})"
        for key, (name, _) in ready.items()
    ]
    notes += [f"{name}: still changing or not settled" for name in changing]
    return dg.SensorResult(skip_reason="; ".join(notes) or f"no file waiting in {inbox}", cursor=cursor)
