"""Numbers written as text: the file's decimal mark, ambiguous cells, and cells quoted as written."""

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from salesflow_pipelines.lib.imports import validation
from salesflow_pipelines.lib.imports.importer import ImportOptions, plan
from salesflow_pipelines.lib.imports.products import Catalogue
from salesflow_pipelines.lib.imports.reading import ReadResult, read_file
from salesflow_pipelines.lib.imports.separators import COMMA, POINT, Separators

CATALOGUE = Catalogue.from_payload([{"id": 1, "sku": "SKU-0001", "name": "Tea", "stockQuantity": 10**6}])
HUGE = "1" + "0" * 308  # the largest power of ten a float holds
TOO_HUGE = "9" * 400  # beyond any float


def read(path: Path) -> ReadResult:
    source, result = read_file(path)
    source.close()
    return result


def read_csv(tmp_path: Path, text: str, name: str = "till.csv") -> ReadResult:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read(path)


def quantities(result: ReadResult) -> list[float]:
    [sheet] = result.sheets
    lines, _ = validation.validate_sales(sheet)
    return lines["quantity"].tolist()


def messages(result: ReadResult) -> dict[int, list[str]]:
    """Row -> the messages of its problems, after the whole plan (validation and products)."""
    problems, _ = plan(result, CATALOGUE, ImportOptions())
    return problems.groupby("row")["message"].agg(list).to_dict()


def test_a_semicolon_csv_with_decimal_commas_reads_dots_as_thousands(tmp_path):
    result = read_csv(
        tmp_path,
        "SKU;Qty\nSKU-0001;1.000\nSKU-0001;1,5\nSKU-0001;1.234,56\nSKU-0001; 12 000 \nSKU-0001;2.500.000\n",
    )
    assert result.sheets[0].separators.decimal == COMMA
    assert quantities(result) == [1000, 1.5, 1234.56, 12000, 2_500_000]


def test_a_price_column_alone_can_show_the_decimal_mark(tmp_path):
    result = read_csv(tmp_path, "SKU;Qty;Unit price\nSKU-0001;1.000;3,50\nSKU-0001;2;12,00\n")
    assert quantities(result) == [1000, 2]
    assert result.sheets[0].frame.columns.tolist() == ["row", "sku", "quantity", "unit_price"]


def test_a_comma_csv_with_a_decimal_point_reads_commas_as_thousands(tmp_path):
    result = read_csv(tmp_path, 'sku,qty\nSKU-0001,"1,000.50"\nSKU-0001,"1,000"\nSKU-0001,2.5\nSKU-0001,7\n')
    assert result.sheets[0].separators.decimal == POINT
    assert quantities(result) == [1000.5, 1000, 2.5, 7]


def test_the_decimal_mark_is_one_for_the_whole_workbook(tmp_path):
    path = tmp_path / "shop.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Stock"
    for row in (["SKU", "Stock"], ["SKU-0001", "2.000"]):
        book.active.append(row)
    sales = book.create_sheet("Sales")
    for row in (["SKU", "Qty", "Price"], ["SKU-0001", "1.000", "2,50"], ["SKU-0001", 3, 4.5]):
        sales.append(row)
    book.save(path)
    result = read(path)
    stock, sales_sheet = result.sheets
    assert stock.separators.decimal == sales_sheet.separators.decimal == COMMA
    rows, problems = validation.validate_stock(stock)
    assert rows["stock_quantity"].tolist() == [2000] and problems.empty
    lines, problems = validation.validate_sales(sales_sheet)
    assert lines["quantity"].tolist() == [1000, 3] and problems.empty


def test_a_file_that_never_shows_its_decimal_mark_has_its_ambiguous_cells_rejected(tmp_path):
    result = read_csv(tmp_path, "SKU;Qty\nSKU-0001;1.000\nSKU-0001;2,000\nSKU-0001;3\n")
    assert result.sheets[0].separators.decimal is None
    assert messages(result) == {
        2: [
            "'1.000' could be 1000 or 1: no other number in the file shows whether '.' separates thousands or "
            "decimals. Write it without a thousands separator (1000 or 1000,00)"
        ],
        3: [
            "'2,000' could be 2000 or 2: no other number in the file shows whether ',' separates thousands or "
            "decimals. Write it without a thousands separator (2000 or 2000.00)"
        ],
    }
    assert quantities(result)[2] == 3


def test_a_file_that_writes_decimals_both_ways_rejects_only_the_cells_that_depend_on_it(tmp_path):
    result = read_csv(tmp_path, "SKU;Qty;Price\nSKU-0001;1.000;1,5\nSKU-0001;2;2.5\nSKU-0001;4,0;\n", name="mixed.csv")
    assert messages(result) == {
        2: [
            "'1.000' could be 1000 or 1: the file writes decimals both ways ('1,5' on row 2 of 'mixed' and "
            "'2.5' on row 3 of 'mixed'). Write it without a thousands separator (1000 or 1000,00)"
        ]
    }
    assert quantities(result)[1:] == [2, 4]


def test_rejects_quote_text_cells_as_written(tmp_path):
    result = read_csv(
        tmp_path,
        f"SKU;Qty;Product id\nSKU-0001;99999999999999999999999;\nSKU-0001;1.000000001;\nSKU-0001;{HUGE};\n"
        f"SKU-0001;{TOO_HUGE};\n;1;99999999999999999999999\n",
    )
    found = messages(result)
    assert found[2] == [
        "99999999999999999999999 units on one line is more than the limit of 10,000: a typo? "
        "(limit: SALESFLOW_IMPORT_MAX_QUANTITY)"
    ]
    assert found[3] == ["1.000000001 is not a whole number of units"]
    assert found[4][0].startswith(f"{HUGE} units on one line")
    assert found[5] == [f"{TOO_HUGE} is too large to be a number"]
    assert found[6] == ["no product has the product id '99999999999999999999999' in the backend"]


def test_rejects_quote_workbook_cells_as_the_workbook_stores_them(tmp_path):
    path = tmp_path / "sales.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Sales"
    # a number cell holds a double, as Excel does: typed 99999999999999999999999, it stores (and shows) 1E+23
    numbers = [99999999999999999999999, 1.000000001, 1e308]
    for row in [["SKU", "Qty"], ["SKU-0001", "99999999999999999999999"], *(["SKU-0001", n] for n in numbers)]:
        book.active.append(row)
    book.save(path)
    found = messages(read(path))
    assert found[2][0].startswith("99999999999999999999999 units on one line")
    assert found[3][0].startswith("1e+23 units on one line")
    assert found[4] == ["1.000000001 is not a whole number of units"]
    assert found[5][0].startswith("1e+308 units on one line")


def decided(mark: str) -> Separators:
    """The decimal mark of a file whose cell '0,5' (or '0.5') shows it."""
    return Separators.of_cells([("Sales", pd.Series([2]), pd.Series([f"0{mark}5"]))])


def written(whole: int, cents: int | None, mark: str, grouped: bool) -> tuple[str, float]:
    """`whole`.`cents` written with `mark` as decimal mark (the other between thousands), and its value."""
    digits = f"{whole:,}".replace(",", POINT if mark == COMMA else COMMA) if grouped else str(whole)
    fraction = "" if cents is None else f"{cents:02d}"
    return digits + (mark + fraction if fraction else ""), float(f"{whole}.{fraction or 0}")


NUMBERS = st.tuples(
    st.integers(min_value=0, max_value=10**15),
    st.none() | st.integers(min_value=0, max_value=99),
    st.sampled_from((COMMA, POINT)),
    st.booleans(),
)


@given(NUMBERS, st.booleans())
def test_a_number_written_either_way_reads_back_in_a_file_written_that_way(number, negative):
    text, value = written(*number)
    text, value = ("-" + text, -value) if negative else (text, value)
    numbers, problem = validation.parse_numbers(pd.Series([text]), decided(number[2]))
    assert numbers.tolist() == [value] and problem.isna().all()


@given(NUMBERS)
def test_without_the_files_decimal_mark_a_number_reads_right_or_not_at_all(number):
    text, value = written(*number)
    numbers, problem = validation.parse_numbers(pd.Series([text]))
    if np.isnan(numbers[0]):
        assert "could be" in problem[0]
    else:
        assert numbers[0] == value and pd.isna(problem[0])


@given(NUMBERS.filter(lambda number: number[1] is not None))
def test_a_number_with_cents_shows_the_decimal_mark(number):
    text, _ = written(*number)
    separators = Separators.of_cells([("Sales", pd.Series([2]), pd.Series([text]))])
    assert separators.decimal == number[2]
