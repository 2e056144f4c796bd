"""`POST /excel/import-sales` (ADMIN): check an upload at once, hand a usable one to the import inbox.

The upload is read and validated with the import's own code (`lib.imports`: what the file really
is, header matching, numbers stored as text, the pandera models, products resolved against the
catalogue, stock on hand), so the per-row errors answered now are the ones the import will find.
The catalogue here is the warehouse's newest stock snapshot; the import run checks again against
the backend's current products and stock before it sends anything.

A file with at least one valid row is moved into SALESFLOW_IMPORT_INBOX (written beside it first,
then linked in under a free name: the sensor never sees half a file). From there the inbox sensor
and the import ledger are the only path to the backend: one run per content hash, each batch sent
once. The same content uploaded again is not handed over twice: the answer says where the first
one is. `GET /excel/imports/{sha256}` follows an import: waiting, importing, imported or failed,
with the ledger's batch states and the import's summary; `…/rejects` downloads its rejects workbook.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from salesflow_pipelines.api.auth import Principal, admin
from salesflow_pipelines.api.common import ApiState, state_of
from salesflow_pipelines.api.products import catalogue
from salesflow_pipelines.api.schemas import ImportResponse
from salesflow_pipelines.lib.imports import files, importer, validation
from salesflow_pipelines.lib.imports.headers import STOCK
from salesflow_pipelines.lib.imports.products import Catalogue
from salesflow_pipelines.lib.imports.reading import IMPORTABLE_SUFFIXES, UnusableFile, read_file

router = APIRouter(prefix="/excel", tags=["excel import"])
log = logging.getLogger("salesflow.api.imports")

STAGING_DIR = ".api-uploads"  # hidden: the sensor only looks at visible files directly in the inbox
SHA256 = re.compile(r"^[0-9a-f]{64}$")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()-]+")
MAX_NAME_CHARS = 100
OUTCOME_DIRS = (files.PROCESSED, files.FAILED)
AdminPrincipal = Annotated[Principal, Depends(admin)]


class UploadTooLarge(Exception):
    pass


def _limited(receive, limit: int):
    """The ASGI `receive` of a request whose body may not exceed `limit` bytes."""
    seen = 0

    async def receive_limited():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise UploadTooLarge
        return message

    return receive_limited


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": ".xlsx or .csv"}},
                }
            }
        },
    }
}


@router.post(
    "/import-sales",
    response_model=ImportResponse,
    summary="Validate a sales or stock workbook and queue its import",
    openapi_extra=UPLOAD_BODY,
    responses={413: {"description": "larger than SALESFLOW_API_MAX_UPLOAD_MB"}, 415: {"description": "not a workbook"}},
)
async def import_sales(request: Request, principal: AdminPrincipal) -> JSONResponse:
    """Per-row errors at once; the valid rows go to the backend through the import inbox."""
    api = state_of(request)
    limit = api.settings.max_upload_bytes
    too_large = HTTPException(413, f"The file is larger than the upload limit of {limit / 1024 / 1024:g} MB")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise too_large
    limited = Request(request.scope, _limited(request.receive, limit + 64 * 1024))
    try:
        async with limited.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, "Send the workbook as the multipart form field 'file'")
            answer, status = await run_in_threadpool(check_and_hand_over, api, upload, principal)
    except UploadTooLarge:
        raise too_large from None
    return JSONResponse(answer, status_code=status)


def check_and_hand_over(api: ApiState, upload: UploadFile, principal: Principal) -> tuple[dict, int]:
    name = safe_name(upload.filename or "upload.xlsx")
    suffix = Path(name).suffix.lower()
    if suffix not in IMPORTABLE_SUFFIXES:
        raise HTTPException(
            415, f"'{upload.filename}' is not a workbook: upload an Excel workbook (.xlsx, .xlsm) or a CSV file (.csv)"
        )
    staging_dir = api.settings.inbox / STAGING_DIR
    staging_dir.mkdir(parents=True, exist_ok=True)
    staged = staging_dir / f"{uuid.uuid4().hex}{suffix}"
    try:
        size = _copy(upload, staged, api.settings.max_upload_bytes)
        if size > api.settings.max_upload_bytes:
            raise HTTPException(
                413, f"The file is larger than the upload limit of {api.settings.max_upload_bytes / 1024 / 1024:g} MB"
            )
        answer = check(api, staged, name)
        if answer["status"] == "success":
            answer["import"] = hand_over(api, staged, name)
            answer["message"] = follow_up_message(answer)
        handed = answer.get("import") or {}
        log.info(
            "upload by %s: %s, %s of %s rows valid, %s",
            principal.username,
            name,
            answer["valid_rows"],
            answer["total_rows"],
            f"{handed['status']} as {handed['file']} ({handed['run_key']})" if handed else "not queued",
        )
        return answer, 200
    finally:
        staged.unlink(missing_ok=True)


def safe_name(filename: str) -> str:
    """The uploaded file's name, usable in the inbox: its last path part, plain characters only."""
    name = UNSAFE_NAME.sub("_", Path(filename.replace("\\", "/")).name).lstrip(".~$ ") or "upload.xlsx"
    stem, suffix = Path(name).stem, Path(name).suffix
    return f"{stem[: MAX_NAME_CHARS - len(suffix)]}{suffix}"


def _copy(upload: UploadFile, target: Path, limit: int) -> int:
    size = 0
    upload.file.seek(0)
    with target.open("wb") as output:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return size
            output.write(chunk)
    return size


def check(api: ApiState, path: Path, name: str) -> dict:
    """The legacy answer (`status`, `total_rows`, `valid_rows`, `errors`) from the import's own checks."""
    try:
        source, read = read_file(path, api.settings.import_max_rows)
    except UnusableFile as error:
        raise HTTPException(422, f"{name} cannot be imported: {error}") from None
    with contextlib.closing(source):
        products, snapshot_day = catalogue(api.store)
        options = importer.ImportOptions(max_quantity=api.settings.import_max_quantity)
        if products:
            known = Catalogue.from_payload(
                [{"id": p.id, "sku": p.sku, "name": p.name, "stockQuantity": p.stock_quantity} for p in products]
            )
            problems, _ = importer.plan(read, known, options, source)
            checked_against = (
                f"the warehouse's product catalogue and stock of {snapshot_day}"
                if snapshot_day
                else "the products of the warehouse's sales tables (no stock snapshot yet: the import checks stock)"
            )
        else:
            problems = validation.concat_problems([_type_problems(sheet, options) for sheet in read.sheets])
            checked_against = "no product catalogue in the warehouse yet: products and stock are checked by the import"
    rejected_rows = problems.drop_duplicates(["sheet", "row"])
    total = read.rows_read
    valid = total - len(rejected_rows)
    errors = [
        {"row": int(row.row), "field": row.column, "reason": row.message, "code": row.reason, "sheet": row.sheet}
        for row in problems.sort_values(["sheet", "row", "column"], kind="stable").itertuples(index=False)
    ]
    return {
        "status": "success" if valid > 0 else "failed",
        "total_rows": int(total),
        "valid_rows": int(valid),
        "errors": errors,
        "message": (
            f"{valid} of {total} rows are valid."
            if valid
            else f"None of the {total} rows can be imported; nothing was queued."
        ),
        "checked_against": checked_against,
    }


def _type_problems(sheet, options: importer.ImportOptions) -> pd.DataFrame:
    if sheet.kind == STOCK:
        return validation.validate_stock(sheet, options.max_stock)[1]
    return validation.validate_sales(sheet, options.max_quantity)[1]


def follow_up_message(answer: dict) -> str:
    handed = answer["import"]
    if handed["status"] == "queued":
        return (
            f"{answer['valid_rows']} of {answer['total_rows']} rows are valid; the file is queued for import as "
            f"{handed['file']} (run key {handed['run_key']}): follow it at {handed['status_url']}. Rows with errors "
            "are not sent; the import writes them into a rejects workbook."
        )
    return f"This content was uploaded before ({handed['status']}); it is not queued twice: see {handed['status_url']}."


@contextlib.contextmanager
def _inbox_lock(inbox: Path) -> Iterator[None]:
    """One upload at a time decides and writes (across threads and API processes)."""
    lock_path = inbox / STAGING_DIR / ".lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def hand_over(api: ApiState, staged: Path, name: str) -> dict:
    """Link the checked file into the inbox under a free name, unless this content is already there,
    being imported or imported."""
    file_hash = files.content_hash(staged)
    inbox = api.settings.inbox
    follow = {
        "sha256": file_hash,
        "run_key": f"import:{file_hash}",
        "status_url": f"/api/v1/excel/imports/{file_hash}",
    }
    with _inbox_lock(inbox):
        known = import_state(api, file_hash)
        if known is not None:
            return {"status": f"already {known['state']}", "file": known.get("file"), **follow}
        target = _free_path(inbox, name, file_hash)
        _place(staged, target)
    return {"status": "queued", "file": target.name, **follow}


def _place(staged: Path, target: Path) -> None:
    """Make the checked file appear whole at `target`, never replacing a file already there."""
    try:
        os.link(staged, target)  # atomic, and fails rather than replace a file that appeared meanwhile
        return
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: a hidden copy renamed in (the lock keeps the name free)
        copy = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        shutil.copyfile(staged, copy)
        os.replace(copy, target)


def _free_path(inbox: Path, name: str, file_hash: str) -> Path:
    path = inbox / name
    if not path.exists():
        return path
    candidate = inbox / f"{path.stem}.{file_hash[:8]}{path.suffix}"
    if not candidate.exists():
        return candidate
    return inbox / f"{path.stem}.{file_hash[:8]}-{uuid.uuid4().hex[:6]}{path.suffix}"


# -- following an import ---------------------------------------------------------------------


def import_state(api: ApiState, file_hash: str) -> dict[str, Any] | None:
    """Where the content is: its summary (imported / failed), the ledger's batches, or waiting."""
    inbox = api.settings.inbox
    summary = _summary(inbox, file_hash)
    batches = {
        state: int(count)
        for state, count in api.store.rows(
            "SELECT state, COUNT(*) FROM {import_batches} WHERE file_hash = %s GROUP BY state", (file_hash,)
        )
    }
    waiting = _waiting_file(inbox, file_hash)
    if summary is not None:
        state = "failed" if summary.get("outcome") == "failed" else str(summary.get("outcome", "imported"))
        if waiting is not None:
            state = "stopped" if summary.get("outcome") == "stopped" else state
    elif batches:
        state = "importing"
    elif waiting is not None:
        state = "waiting"
    else:
        return None
    return {
        "state": state,
        "file": (waiting.name if waiting else None) or (summary or {}).get("file"),
        "batches": batches,
        "summary": summary,
    }


def _summary(inbox: Path, file_hash: str) -> dict | None:
    for folder in OUTCOME_DIRS:
        for path in sorted((inbox / folder).glob(f"*{files.SUMMARY_SUFFIX}")):
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(content, dict) and content.get("sha256") == file_hash:
                return content
    return None


def _waiting_file(inbox: Path, file_hash: str) -> Path | None:
    for path in files.waiting_files(inbox):
        with contextlib.suppress(OSError):
            if files.content_hash(path) == file_hash:
                return path
    return None


@router.get("/imports/{sha256}", summary="Follow an import by its content hash")
def import_status(request: Request, sha256: str, principal: AdminPrincipal) -> dict:
    """waiting (in the inbox, the sensor picks it up), importing (batches in the ledger), imported,
    nothing imported, or failed; with the ledger's batch states and the import's summary."""
    file_hash = _checked_hash(sha256)
    api = state_of(request)
    state = import_state(api, file_hash)
    if state is None:
        raise HTTPException(404, f"No import of content {file_hash[:12]}… is known (never uploaded, or moved away)")
    summary = state.pop("summary") or {}
    figures = {
        name: summary[name]
        for name in ("outcome", "message", "rows_read", "sales_committed", "stock_rows_updated", "rows_rejected")
        if name in summary
    }
    return {
        "sha256": file_hash,
        "run_key": f"import:{file_hash}",
        **state,
        **figures,
        "rejects_url": f"/api/v1/excel/imports/{file_hash}/rejects" if summary.get("rejects_file") else None,
    }


@router.get("/imports/{sha256}/rejects", summary="The rejects workbook of an import")
def import_rejects(request: Request, sha256: str, principal: AdminPrincipal) -> FileResponse:
    file_hash = _checked_hash(sha256)
    inbox = state_of(request).settings.inbox
    summary = _summary(inbox, file_hash) or {}
    rejects = summary.get("rejects_file")
    path = Path(rejects).resolve() if rejects else None
    if path is None or not path.is_file() or inbox.resolve() not in path.parents:
        raise HTTPException(404, "This import has no rejects workbook")
    return FileResponse(
        path, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=path.name
    )


def _checked_hash(sha256: str) -> str:
    file_hash = sha256.strip().lower()
    if not SHA256.match(file_hash):
        raise HTTPException(400, "An import is followed by its content hash: 64 hexadecimal characters (sha256)")
    return file_hash
