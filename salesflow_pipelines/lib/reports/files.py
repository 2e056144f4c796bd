"""Report files on disk: atomic writes, one folder per period kind, and a stable `latest/` copy.

```
<reports dir>/
  weekly/sales-report_2026-W47.pdf     weekly/sales-report_2026-W47.xlsx
  monthly/sales-report_2026-11.pdf     monthly/sales-report_2026-11.xlsx
  latest/sales-report_weekly.pdf       (a copy of the newest week's PDF) ...
```

A file is written to a hidden temporary name in its own folder, flushed to disk, then renamed
over the old one: a reader (the mailer, a browser, the CLI) sees the old file or the new one,
never half of one. `latest/` follows the newest *period*, not the newest write, so re-running an
old week does not replace the latest report with an older one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from salesflow_pipelines.lib.reports.periods import FILE_STEM, PERIOD_KINDS, PeriodKind, ReportPeriod, latest_file_name

LATEST_DIR = "latest"
EXTENSIONS = ("pdf", "xlsx")


@dataclass(frozen=True)
class PublishedReport:
    path: Path
    latest: Path | None
    size_bytes: int


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` so that `path` is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def report_path(reports_dir: Path, period: ReportPeriod, extension: str) -> Path:
    return Path(reports_dir) / period.kind / period.file_name(extension)


def publish(reports_dir: Path, period: ReportPeriod, extension: str, content: bytes) -> PublishedReport:
    """Write the period's file, then refresh `latest/` when this is now the newest period."""
    path = report_path(reports_dir, period, extension)
    write_atomically(path, content)
    latest = None
    if newest(reports_dir, period.kind, extension) == path:
        latest = Path(reports_dir) / LATEST_DIR / latest_file_name(period.kind, extension)
        write_atomically(latest, content)
    return PublishedReport(path=path, latest=latest, size_bytes=len(content))


def newest(reports_dir: Path, kind: PeriodKind, extension: str) -> Path | None:
    """The report of the latest period of a kind (names sort in time order), or None."""
    candidates = sorted((Path(reports_dir) / kind).glob(f"{FILE_STEM}_*.{extension}"))
    return candidates[-1] if candidates else None


def newest_reports(reports_dir: Path) -> dict[tuple[PeriodKind, str], Path]:
    """The newest report of each kind and format that exists."""
    found = {}
    for kind in PERIOD_KINDS:
        for extension in EXTENSIONS:
            path = newest(reports_dir, kind, extension)
            if path is not None:
                found[(kind, extension)] = path
    return found
