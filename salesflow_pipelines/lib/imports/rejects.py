"""The rejects workbook: each rejected row as it was in the file, with what is wrong with it.

One sheet per source sheet with rejects ("Rejects" for a single sheet). Columns: `Row` (the row
number in the original), `Problems` (every reason, in a clerk's words), then the original
columns under their original headers; the cells at fault are filled red. `Row` and `Problems`
are not import columns, so a clerk can fix the rows in this workbook and drop it back into the
inbox as it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from salesflow_pipelines.lib.imports.reading import CsvSource, SheetTable, WorkbookSource
from salesflow_pipelines.lib.xlsx_text import as_text

BAD_CELL_FILL = "FFC7CE"
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
INVALID_TITLE = re.compile(r"[\[\]:*?/\\]")


def write_rejects(
    path: Path, source: WorkbookSource | CsvSource, sheets: list[SheetTable], problems: pd.DataFrame
) -> int:
    """Write the rejects workbook to `path` (atomically); answers the number of rows written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook(write_only=True)
    bad_fill = PatternFill("solid", fgColor=BAD_CELL_FILL)
    bold = Font(bold=True)
    written = 0
    with_rejects = [sheet for sheet in sheets if (problems["sheet"] == sheet.name).any()]
    for sheet in with_rejects:
        mine = problems[problems["sheet"] == sheet.name]
        reasons = mine.groupby("row")["message"].agg(lambda messages: "; ".join(dict.fromkeys(messages)))
        bad_columns = mine.groupby("row")["column"].agg(set)
        originals = _original_rows(source, sheet, set(reasons.index))
        title = "Rejects" if len(with_rejects) == 1 else _title(sheet.name, workbook.sheetnames)
        out = workbook.create_sheet(title)
        out.freeze_panes = "C2"
        out.column_dimensions["B"].width = 60
        header = ["Row", "Problems", *sheet.columns.headers]

        def cell(value: Any, out=out, **style: Any) -> WriteOnlyCell:
            written_cell = as_text(WriteOnlyCell(out, value=_safe(value)))
            for name, setting in style.items():
                setattr(written_cell, name, setting)
            return written_cell

        out.append([cell(text, font=bold) for text in header])
        wrap = Alignment(wrap_text=True, vertical="top")
        for row in sorted(reasons.index):
            values = list(originals.get(row, ()))
            values += [None] * (len(sheet.columns.headers) - len(values))
            faulty = bad_columns[row]
            cells = [cell(int(row)), cell(reasons[row], alignment=wrap)]
            for position, value in enumerate(values):
                name = sheet.columns.headers[position] if position < len(sheet.columns.headers) else ""
                cells.append(cell(value, fill=bad_fill) if _is_faulty(name, faulty) else cell(value))
            out.append(cells)
            written += 1
    if not with_rejects:
        workbook.create_sheet("Rejects").append(["Row", "Problems"])
    staging = path.with_name(f".{path.name}.tmp")
    workbook.save(staging)
    os.replace(staging, path)
    return written


def _is_faulty(header: str, faulty: set[str]) -> bool:
    return bool(header) and any(header == column or header in column.split(" / ") for column in faulty)


def _original_rows(source: WorkbookSource | CsvSource, sheet: SheetTable, wanted: set[int]) -> dict[int, list[Any]]:
    """The wanted rows' cells as in the file (merged cells filled, as the import saw them)."""
    if not wanted:
        return {}
    last = max(wanted)
    found: dict[int, list[Any]] = {}
    for number, values in source.rows(sheet.name):
        if number in wanted:
            found[number] = list(values)
        if number >= last:
            break
    kept = sheet.frame[sheet.frame["row"].isin(wanted)]
    for name, position in sheet.columns.fields.items():
        for number, value in zip(kept["row"], kept[name], strict=True):
            row = found.setdefault(int(number), [])
            row += [None] * (position + 1 - len(row))
            if row[position] is None and value is not None:
                row[position] = value
    return found


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS.sub("", value)
    return value


def _title(name: str, taken: list[str]) -> str:
    base = INVALID_TITLE.sub(" ", name).strip()[:31] or "Rejects"
    title, number = base, 2
    while title in taken:
        suffix = f" ({number})"
        title, number = base[: 31 - len(suffix)] + suffix, number + 1
    return title
