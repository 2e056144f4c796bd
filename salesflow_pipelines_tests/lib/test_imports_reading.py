"""Reading uploaded files: what they really are, headers, kinds, merged cells, formulas, CSV."""

import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from salesflow_pipelines.lib.imports import headers
from salesflow_pipelines.lib.imports.reading import UnusableFile, read_file

FIXTURES = Path(__file__).parent.parent / "fixtures"


def workbook(path: Path, *sheets: tuple[str, list[list]]) -> Path:
    """An .xlsx with the given (title, rows) sheets, written by openpyxl."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def read(path: Path):
    source, result = read_file(path)
    source.close()
    return result


def unusable(path: Path) -> str:
    with pytest.raises(UnusableFile) as raised:
        read_file(path)
    return str(raised.value)


def test_headers_match_case_spaces_synonyms_and_units():
    assert headers.field_for(" QTY ") == "quantity"
    assert headers.field_for("Quantity (pcs)") == "quantity"
    assert headers.field_for("Product_SKU") == "sku"
    assert headers.field_for("Order No.") == "sale_ref"
    assert headers.field_for("Unit price") == "unit_price"
    assert headers.field_for("Remarks") is None
    columns = headers.map_columns(["Item Code", "Units Sold", "Receipt", "Date", "Cashier"], "Sheet1")
    assert columns.kind == headers.SALES
    assert columns.fields == {"sku": 0, "quantity": 1, "sale_ref": 2}
    assert list(columns.not_sent) == ["Date"] and columns.ignored == ["Cashier"]
    stock = headers.map_columns(["SKU", "Quantity", "Reorder level"], "Stock count")
    assert stock.kind == headers.STOCK and stock.fields == {"sku": 0, "stock_quantity": 1, "low_stock_threshold": 2}


def test_a_workbook_with_titles_blank_rows_extra_columns_and_text_numbers(tmp_path):
    path = workbook(
        tmp_path / "sales.xlsx",
        ("Read me", [["Drop this file into the inbox"]]),
        (
            "Sales",
            [
                ["Daily sales"],
                [],
                ["Product SKU", "QTY", "Unit Price", "Sale date", "Comment"],
                ["SKU-0002", "3", 9.5, "2025-01-01", "ok"],
                [None, None, None, None, None],
                ["SKU-0003", 2, None, None, None],
            ],
        ),
    )
    result = read(path)
    [sheet] = result.sheets
    assert (sheet.kind, sheet.header_row, sheet.blank_rows, sheet.rows_above_header) == ("sales", 3, 1, 1)
    assert sheet.frame["row"].tolist() == [4, 6]
    assert sheet.frame["quantity"].tolist() == ["3", 2]
    assert set(sheet.columns.not_sent) == {"Unit Price", "Sale date"}
    assert sheet.columns.ignored == ["Comment"]
    assert "Read me" in result.ignored_sheets


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("report.xlsx", b"%PDF-1.7\n...", "PDF"),
        ("renamed.xlsx", b"sku,quantity\nSKU-0001,2\n", "plain text (a CSV file renamed?)"),
        ("empty.xlsx", b"", "empty (0 bytes)"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 64, "corrupt"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "neither an Excel .xlsx workbook nor CSV text"),
        ("latin1.csv", "sku;quantité\nSKU-0001;2\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_files_that_are_not_workbooks_are_named_for_what_they_are(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert expected in unusable(path)


def test_a_password_protected_workbook_says_so(tmp_path):
    plain = workbook(tmp_path / "plain.xlsx", ("Sales", [["sku", "qty"], ["SKU-0001", 1]]))
    encrypted = io.BytesIO()
    with plain.open("rb") as file:
        OOXMLFile(file).encrypt("secret", encrypted)
    path = tmp_path / "protected.xlsx"
    path.write_bytes(encrypted.getvalue())
    assert "password-protected" in unusable(path)


def test_a_truncated_workbook_is_corrupt(tmp_path):
    good = workbook(tmp_path / "good.xlsx", ("Sales", [["sku", "qty"]] + [[f"SKU-{i:04d}", i] for i in range(500)]))
    path = tmp_path / "cut.xlsx"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "corrupt" in unusable(path)


def test_a_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert "not an Excel workbook" in unusable(path)


def test_empty_workbooks_and_sheets_without_data(tmp_path):
    assert "the workbook is empty" in unusable(workbook(tmp_path / "empty.xlsx", ("Sheet1", [])))
    header_only = workbook(tmp_path / "header.xlsx", ("Sales", [["sku", "quantity"]]))
    assert "no data rows" in unusable(header_only)


def test_missing_required_columns_are_named(tmp_path):
    message = unusable(workbook(tmp_path / "sales.xlsx", ("Sales", [["SKU", "Price"], ["SKU-0001", 2.0]])))
    assert "no column for quantity" in message and "'qty'" in message and "'SKU', 'Price'" in message
    message = unusable(workbook(tmp_path / "stock.xlsx", ("Stock", [["Name", "Stock"], ["Tea", 3]])))
    assert "no column for sku" in message
    message = unusable(workbook(tmp_path / "other.xlsx", ("Customers", [["Customer", "Phone"], ["Ann", "123"]])))
    assert "no sheet looks like sales" in message and "'Customer'" in message


def test_merged_cells_are_filled_and_formulas_read_as_saved(tmp_path):
    path = tmp_path / "merged.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    for row in (["Sale ref", "SKU", "Qty"], ["A", "SKU-0002", 1], [None, "SKU-0003", 2], ["B", "SKU-0004", "=1+1"]):
        sheet.append(row)
    sheet.merge_cells("A2:A3")
    book.save(path)
    source, result = read_file(path)
    frame = result.sheets[0].frame
    assert frame["sale_ref"].tolist() == ["A", "A", "B"]
    assert result.sheets[0].merged_cells_filled == 1
    # openpyxl saves no value for a formula: the cell reads empty, and the formula can be looked up
    assert pd.isna(frame["quantity"].tolist()[2])
    assert source.formulas("Sales", {(4, 3), (3, 3)}) == {(4, 3): "=1+1"}
    source.close()


def test_a_workbook_saved_by_libreoffice(tmp_path):
    result = read(FIXTURES / "libreoffice_sales.xlsx")
    [sheet] = result.sheets
    assert sheet.header_row == 3
    assert sheet.frame["sale_ref"].tolist() == ["R-1", "R-1", "R-2", "R-3", "R-3", "R-3"]
    assert sheet.frame["quantity"].tolist() == [2, 3, "1", 1, 2, 1]
    assert list(sheet.columns.not_sent) == ["Sale Date"]


@pytest.mark.parametrize(
    ("text", "separator"),
    [
        ("\ufeffSKU;Qty;Unit price\nSKU-0002;2;3,50\n\nSKU-0003;1;1,00\n", ";"),
        ("sku,quantity\r\nSKU-0002,2\r\n\r\nSKU-0003,1\r\n", ","),
        ("sku\tqty\nSKU-0002\t2\n\nSKU-0003\t1\n", "\t"),
    ],
)
def test_csv_with_or_without_bom_and_any_separator(tmp_path, text, separator):
    path = tmp_path / "till-export.csv"
    path.write_text(text, encoding="utf-8")
    source, result = read_file(path)
    assert source.separator == separator
    [sheet] = result.sheets
    assert sheet.kind == "sales"
    assert sheet.frame["sku"].tolist() == ["SKU-0002", "SKU-0003"]
    assert sheet.frame["row"].tolist() == [2, 4]
    assert sheet.blank_rows == 1


def test_a_csv_named_like_a_stock_count_is_a_stock_sheet(tmp_path):
    path = tmp_path / "stock count.csv"
    path.write_text("sku,quantity\nSKU-0002,40\n", encoding="utf-8")
    [sheet] = read(path).sheets
    assert sheet.kind == "stock" and sheet.frame["stock_quantity"].tolist() == ["40"]


def test_a_sheet_over_the_row_limit_is_refused(tmp_path):
    path = workbook(tmp_path / "big.xlsx", ("Sales", [["sku", "qty"]] + [["SKU-0001", 1]] * 30))
    with pytest.raises(UnusableFile, match="more than 20 data rows"):
        read_file(path, max_rows=20)
