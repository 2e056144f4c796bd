"""Reading an uploaded file: what it really is, its sheets, and each importable sheet's rows.

The content decides, not the name: an `.xlsx` must be an OOXML zip, a `.csv` must be text. A
PDF, an old `.xls`, a password-protected or corrupt workbook, an empty file or a renamed file
raises `UnusableFile` with a sentence a clerk understands.

Workbooks are streamed with openpyxl's read-only mode (`data_only=True`: the value a formula
showed when the file was last saved), so a 200,000-row sheet is read row by row and only the
columns the import uses are kept. Merged cells are filled from their top-left cell, as the
clerk sees them. CSV files are UTF-8 (with or without BOM); the separator (comma, semicolon or
tab) is the one the header line uses most. Cells stay as read (text stays text); the decimal mark
of the numbers written as text is decided once for the whole file (`separators`).
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salesflow_pipelines.lib.imports import headers
from salesflow_pipelines.lib.imports.separators import Separators

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv",)
IMPORTABLE_SUFFIXES = WORKBOOK_SUFFIXES + CSV_SUFFIXES
CSV_SEPARATORS = (",", ";", "\t")
MERGE_CELL = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?\"")
SCAN_CHUNK = 1 << 20
DEFAULT_MAX_ROWS = 500_000


class UnusableFile(Exception):
    """The whole file cannot be imported; the message says why, in a clerk's words."""


@dataclass
class SheetTable:
    """One importable sheet: its kind, its columns, its data rows (raw cell values), and the
    decimal mark of the file it is part of."""

    name: str
    kind: str
    header_row: int
    columns: headers.ColumnMap
    # `row` (the row number in the file) and one object column per field and per column of `columns.also_read`
    frame: pd.DataFrame
    blank_rows: int = 0
    rows_above_header: int = 0
    merged_cells_filled: int = 0
    separators: Separators = field(default_factory=Separators)

    def header_of(self, name: str) -> str:
        return self.columns.header_of(name)


@dataclass
class ReadResult:
    """Every importable sheet of a file, and the sheets left out with the reason."""

    file_format: str
    sheets: list[SheetTable]
    ignored_sheets: dict[str, str] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(len(sheet.frame) for sheet in self.sheets)


def file_format(path: Path) -> str:
    """`xlsx` or `csv` from the content, or `UnusableFile` saying what the file really is."""
    size = path.stat().st_size
    if size == 0:
        raise UnusableFile("the file is empty (0 bytes)")
    with path.open("rb") as file:
        head = file.read(4096)
    suffix = path.suffix.lower()
    if head.startswith(b"%PDF"):
        raise UnusableFile("this is a PDF document, not a workbook: export the data from its source as .xlsx or .csv")
    if head.startswith(OLE_MAGIC):
        if ENCRYPTION_STREAM in path.read_bytes():
            raise UnusableFile(
                "the workbook is password-protected (encrypted): open it in Excel, remove the password "
                "(File > Info > Protect Workbook) and save it again"
            )
        raise UnusableFile("this is an old Excel 97-2003 (.xls) file: open it and save it as an Excel Workbook (.xlsx)")
    if head.startswith(ZIP_MAGIC):
        if suffix in CSV_SUFFIXES:
            raise UnusableFile("the file is named .csv but holds an Excel workbook: rename it to .xlsx")
        _check_workbook_zip(path)
        return "xlsx"
    if _looks_like_text(head):
        if suffix in WORKBOOK_SUFFIXES:
            raise UnusableFile(
                f"the file is named {suffix} but holds plain text (a CSV file renamed?), not an Excel workbook: "
                "rename it to .csv, or open it in Excel and save it as an Excel Workbook (.xlsx)"
            )
        return "csv"
    raise UnusableFile("not a workbook: the content is neither an Excel .xlsx workbook nor CSV text")


def _looks_like_text(head: bytes) -> bool:
    """No control characters but tabs and line breaks (text in any 8-bit or UTF-8 encoding)."""
    return not any(byte < 32 and byte not in (9, 10, 12, 13) for byte in head)


def _check_workbook_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise UnusableFile(
            f"the workbook is corrupt or incomplete ({error}): save it again or upload it again"
        ) from None
    if broken is not None:
        raise UnusableFile(f"the workbook is corrupt (damaged part {broken}): save it again or upload it again")
    if "xl/workbook.xml" not in names:
        if "content.xml" in names:
            raise UnusableFile("this is an OpenDocument spreadsheet (.ods): save it as an Excel Workbook (.xlsx)")
        raise UnusableFile("this is a zip archive but not an Excel workbook (no xl/workbook.xml inside)")


class WorkbookSource:
    """An .xlsx opened read-only: sheet names, rows, merged ranges, formulas of chosen cells."""

    def __init__(self, path: Path):
        import openpyxl

        self.path = path
        try:
            self.workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises KeyError, ValueError, XML errors... on damaged parts
            raise UnusableFile(
                f"the workbook could not be opened ({type(error).__name__}: {error}): it is damaged or not "
                "really an Excel workbook; open it in Excel and save it again"
            ) from None

    def close(self) -> None:
        self.workbook.close()

    def sheet_names(self) -> list[str]:
        return [sheet.title for sheet in self.workbook.worksheets]

    def hidden(self, name: str) -> bool:
        return self.workbook[name].sheet_state != "visible"

    def rows(self, name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
        sheet = self.workbook[name]
        sheet.reset_dimensions()  # some writers declare a wrong size; read every row there is
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)

    def merged_ranges(self, name: str) -> list[tuple[int, int, int, int]]:
        """(first row, first column, last row, last column), 1-based, of every merged range."""
        member = self.workbook[name]._worksheet_path
        ranges = []
        tail = b""
        with zipfile.ZipFile(self.path) as archive, archive.open(member) as stream:
            while chunk := stream.read(SCAN_CHUNK):
                text = tail + chunk
                if b"mergeCell" in text:
                    for match in MERGE_CELL.finditer(text):
                        first_col, first_row, last_col, last_row = match.groups()
                        ranges.append(
                            (
                                int(first_row),
                                _column_number(first_col),
                                int(last_row or first_row),
                                _column_number(last_col or first_col),
                            )
                        )
                    text = text[text.rfind(b">") + 1 :] if b">" in text else text
                tail = text[-512:]
        return sorted(set(ranges))

    def formulas(self, name: str, cells: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """The formula text of the given (row, 1-based column) cells that hold a formula."""
        import openpyxl

        if not cells:
            return {}
        workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=False)
        try:
            sheet = workbook[name]
            sheet.reset_dimensions()
            wanted: dict[int, list[int]] = {}
            for row, column in cells:
                wanted.setdefault(row, []).append(column)
            found = {}
            for number, values in enumerate(sheet.iter_rows(values_only=True, max_row=max(wanted)), start=1):
                for column in wanted.get(number, ()):
                    value = values[column - 1] if column <= len(values) else None
                    if isinstance(value, str) and value.startswith("="):
                        found[(number, column)] = value
            return found
        finally:
            workbook.close()


class CsvSource:
    """A CSV file as a one-sheet workbook named after the file."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.stem
        self.separator = self._separator()

    def close(self) -> None:
        pass

    def sheet_names(self) -> list[str]:
        return [self.name]

    def hidden(self, name: str) -> bool:
        return False

    def _separator(self) -> str:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as file:
                for line in file:
                    if line.strip():
                        counts = {separator: line.count(separator) for separator in CSV_SEPARATORS}
                        return max(CSV_SEPARATORS, key=lambda separator: counts[separator])
        except UnicodeDecodeError:
            raise UnusableFile(_NOT_UTF8) from None
        return ","

    def rows(self, name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as file:
                reader = csv.reader(file, delimiter=self.separator)
                for values in reader:
                    yield reader.line_num, tuple(values)
        except UnicodeDecodeError:
            raise UnusableFile(_NOT_UTF8) from None
        except csv.Error as error:
            raise UnusableFile(f"the CSV file cannot be read: {error}") from None

    def merged_ranges(self, name: str) -> list[tuple[int, int, int, int]]:
        return []

    def formulas(self, name: str, cells: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
        return {}


_NOT_UTF8 = "the CSV file is not UTF-8 text: in Excel choose Save As > 'CSV UTF-8 (Comma delimited)'"


def open_source(path: Path) -> WorkbookSource | CsvSource:
    """The file as a source of sheets; `UnusableFile` when it is not an importable workbook or CSV."""
    kind = file_format(path)
    return WorkbookSource(path) if kind == "xlsx" else CsvSource(path)


def read_file(path: Path, max_rows: int = DEFAULT_MAX_ROWS) -> tuple[WorkbookSource | CsvSource, ReadResult]:
    """Every importable sheet of the file (the source stays open for a second look; close it)."""
    source = open_source(path)
    try:
        result = read_sheets(source, max_rows)
    except BaseException:
        source.close()
        raise
    return source, result


def read_sheets(source: WorkbookSource | CsvSource, max_rows: int = DEFAULT_MAX_ROWS) -> ReadResult:
    file_kind = "csv" if isinstance(source, CsvSource) else "xlsx"
    sheets: list[SheetTable] = []
    ignored: dict[str, str] = {}
    names = source.sheet_names()
    if not names:
        raise UnusableFile("the workbook has no worksheets")
    for name in names:
        if source.hidden(name):
            ignored[name] = "hidden sheet"
            continue
        table = read_sheet(source, name, max_rows - sum(len(sheet.frame) for sheet in sheets))
        if isinstance(table, str):
            ignored[name] = table
        else:
            sheets.append(table)
    if not sheets:
        raise UnusableFile(_nothing_importable(ignored, file_kind))
    if not any(len(sheet.frame) for sheet in sheets):
        where = ", ".join(f"'{sheet.name}'" for sheet in sheets)
        raise UnusableFile(f"no data rows under the header ({where}): the file has nothing to import")
    # Stock first: a workbook that counts stock and records sales means the sales follow the count.
    sheets.sort(key=lambda sheet: sheet.kind != headers.STOCK)
    separators = _separators(sheets)
    for sheet in sheets:
        sheet.separators = separators
    return ReadResult(file_kind, sheets, ignored)


def _separators(sheets: list[SheetTable]) -> Separators:
    """The file's decimal mark, from the text cells of every sheet's number columns."""
    return Separators.of_cells(
        (sheet.name, sheet.frame["row"], sheet.frame[name])
        for sheet in sheets
        for name in headers.NUMBER_FIELDS
        if name in sheet.frame
    )


def _nothing_importable(ignored: dict[str, str], file_kind: str) -> str:
    if all(reason == "empty" for reason in ignored.values()):
        return (
            "the file is empty: no cell holds a value"
            if file_kind == "csv"
            else "the workbook is empty: no sheet holds a value"
        )
    details = "; ".join(f"'{name}': {reason}" for name, reason in ignored.items())
    return (
        "no sheet looks like sales (a product column - sku, product_id or name - and quantity) or stock "
        f"(sku and stock_quantity). Found: {details}"
    )


def _blank(values: tuple[Any, ...]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


def read_sheet(source: WorkbookSource | CsvSource, name: str, max_rows: int) -> SheetTable | str:
    """The sheet's data rows, or a short reason why it is not importable ("empty", its columns...)."""
    rows = source.rows(name)
    head: list[tuple[int, tuple[Any, ...]]] = []
    for number, values in rows:
        if _blank(values):
            continue
        head.append((number, values))
        if headers.is_header_row(values) or len(head) >= headers.HEADER_SEARCH_ROWS:
            break
    if not head:
        return "empty"
    header_at = next((i for i, (_, values) in enumerate(head) if headers.is_header_row(values)), 0)
    header_row, header = head[header_at]
    columns = headers.map_columns(header, name)
    if columns.kind is None:
        found = ", ".join(repr(text) for text in columns.headers if not text.startswith("(column")) or "none"
        return f"not a sales or stock sheet (columns found on row {header_row}: {found})"
    if columns.missing:
        raise UnusableFile(
            f"{headers.describe_missing(columns.kind, columns.missing)} (sheet '{name}', header on row {header_row}; "
            f"columns found: {', '.join(repr(text) for text in columns.headers)})"
        )
    positions = [*columns.fields.items(), *columns.also_read.items()]
    numbers: list[int] = []
    values_by_field: dict[str, list[Any]] = {field_name: [] for field_name, _ in positions}
    blank_rows = 0

    def keep(number: int, values: tuple[Any, ...]) -> None:
        numbers.append(number)
        width = len(values)
        for field_name, position in positions:
            values_by_field[field_name].append(values[position] if position < width else None)

    for number, values in head[header_at + 1 :]:
        keep(number, values)
    for number, values in rows:
        if _blank(values):
            blank_rows += 1
            continue
        if len(numbers) >= max_rows:
            raise UnusableFile(
                f"more than {max_rows:,} data rows: split the file into smaller ones (the import reads at most "
                f"{max_rows:,} rows per file)"
            )
        keep(number, values)
    # object columns: each cell keeps its type (an int stays an int beside a float, as the file holds it)
    cells = {name: pd.array(values, dtype=object) for name, values in values_by_field.items()}
    frame = pd.DataFrame({"row": pd.array(numbers, dtype="int64")} | cells)
    filled = _fill_merged(frame, columns, source.merged_ranges(name), header_row)
    return SheetTable(name, columns.kind, header_row, columns, frame, blank_rows, header_at, filled)


def _fill_merged(
    frame: pd.DataFrame, columns: headers.ColumnMap, ranges: list[tuple[int, int, int, int]], header_row: int
) -> int:
    """Copy each merged range's top-left value into the range's other cells of the kept columns."""
    if not ranges or frame.empty:
        return 0
    position_of_row = pd.Series(range(len(frame)), index=frame["row"].to_numpy())
    filled = 0
    for first_row, first_col, last_row, last_col in ranges:
        if last_row <= header_row or first_row not in position_of_row.index:
            continue
        source_field = next((name for name, position in columns.fields.items() if position == first_col - 1), None)
        if source_field is None:
            continue
        value = frame.at[position_of_row[first_row], source_field]
        targets = position_of_row[(position_of_row.index >= first_row) & (position_of_row.index <= last_row)]
        for name, position in columns.fields.items():
            if first_col - 1 <= position <= last_col - 1:
                column = frame.columns.get_loc(name)
                cells = targets.to_numpy()
                cells = cells[frame.iloc[cells, column].isna().to_numpy()]
                frame.iloc[cells, column] = value
                filled += len(cells)
    return filled


def _column_number(letters: bytes | str) -> int:
    if isinstance(letters, bytes):
        letters = letters.decode()
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number
