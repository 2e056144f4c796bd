"""The inbox on disk: which files wait there, their content hash, and where each one ends up.

    <inbox>/sales.xlsx                    waiting (or its import stopped: it stays until settled)
    <inbox>/processed/sales.xlsx          every batch settled; beside it sales.rejects.xlsx and
                                          sales.summary.json
    <inbox>/failed/sales.xlsx             unusable as a whole; sales.summary.json says why
    <inbox>/preview/sales.rejects.xlsx    a dry run: what the import would reject (the original
                                          stays in the inbox)

Nothing is overwritten: a name already taken by another file gets the content hash's first
8 characters ("sales.1a2b3c4d.xlsx"). Nothing is deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from salesflow_pipelines.lib.imports.reading import IMPORTABLE_SUFFIXES

PROCESSED, FAILED, PREVIEW = "processed", "failed", "preview"
REJECTS_SUFFIX = ".rejects.xlsx"
SUMMARY_SUFFIX = ".summary.json"


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (hex): the file's identity in run keys and the ledger."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def waiting_files(inbox: Path) -> list[Path]:
    """Importable files directly in the inbox (not its subfolders), oldest first.

    Hidden files and Office lock files (`~$sales.xlsx`) are skipped.
    """
    if not inbox.is_dir():
        return []
    found = [
        path
        for path in inbox.iterdir()
        if path.is_file() and path.suffix.lower() in IMPORTABLE_SUFFIXES and not path.name.startswith((".", "~$"))
    ]
    return sorted(found, key=lambda path: (path.stat().st_mtime_ns, path.name))


def outcome_stem(directory: Path, original: Path, file_hash: str) -> str:
    """The stem under which the file and its rejects and summary go into `directory`.

    The original name when free (or already used by an earlier attempt for the same content),
    else the name with the hash's first 8 characters.
    """
    for stem in (original.stem, f"{original.stem}.{file_hash[:8]}"):
        names = [f"{stem}{original.suffix}", f"{stem}{REJECTS_SUFFIX}", f"{stem}{SUMMARY_SUFFIX}"]
        taken = [name for name in names if (directory / name).exists()]
        if not taken or (not (directory / names[0]).exists() and _summary_hash(directory / names[2]) == file_hash):
            return stem
    number = 2
    while (directory / f"{original.stem}.{file_hash[:8]}-{number}{original.suffix}").exists():
        number += 1
    return f"{original.stem}.{file_hash[:8]}-{number}"


def _summary_hash(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(content, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staging, path)


def move_original(original: Path, directory: Path, stem: str) -> Path:
    """Move the original into `directory` as `<stem><suffix>`; answers the new path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{stem}{original.suffix}"
    if target.exists():
        raise FileExistsError(f"{target} already exists; not overwriting it")
    shutil.move(str(original), str(target))
    return target
