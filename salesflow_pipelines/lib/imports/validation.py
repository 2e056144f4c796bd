"""Row validation: numbers stored as text, pandera models (lazy), clerk-readable problems.

Every problem is one record of the `problems` frame: the sheet, the row number in the file, the
column as the clerk named it, a reason code (summary counts) and a message saying what is wrong
and how to fix it. A row can have several problems; all of them are collected at once
(`lazy=True`), never only the first. A message quotes the cell as the file holds it (`as_written`),
never the number it was read as.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from salesflow_pipelines.lib.imports.reading import SheetTable
from salesflow_pipelines.lib.imports.separators import Separators

PROBLEM_COLUMNS = {"sheet": "string", "row": "int64", "column": "string", "reason": "string", "message": "string"}
DEFAULT_MAX_QUANTITY = 10_000
DEFAULT_MAX_STOCK = 1_000_000
EXCEL_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!", "#CALC!")
NUMBER_TYPES = (int, float, np.int64, np.float64)
EXACT_WHOLE = 2**53  # whole floats beyond this are not exact: int() would make up digits


def empty_problems() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in PROBLEM_COLUMNS.items()})


def problems_frame(sheet: str, rows, column: str, reason: str, messages) -> pd.DataFrame:
    """Problem records for `rows` of one sheet and column (messages: one string or one per row)."""
    rows = np.asarray(rows, dtype="int64")
    if isinstance(messages, str):
        messages = [messages] * len(rows)
    return pd.DataFrame(
        {"sheet": sheet, "row": rows, "column": column, "reason": reason, "message": list(messages)}
    ).astype(PROBLEM_COLUMNS)


def concat_problems(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_problems()
    return pd.concat(frames, ignore_index=True).astype(PROBLEM_COLUMNS)


def parse_numbers(values: pd.Series, separators: Separators | None = None) -> tuple[pd.Series, pd.Series]:
    """Numbers from cell values that may be text ("12", " 1 200 ", "3,0"): (float values, problem).

    Text is read with the file's decimal mark (`separators`; without it, no other cell of the file
    tells, so "1.000" is ambiguous). `problem` holds a message for a non-blank cell that is not a
    number, or not one number (NaN elsewhere); blank cells give NaN with no problem.
    """
    values = values.astype(object)
    kinds = values.map(type)
    numeric = kinds.isin(NUMBER_TYPES)
    text = kinds.isin((str,))
    numbers = pd.Series(np.nan, index=values.index, dtype="float64")
    numbers[numeric] = values[numeric].astype("float64")
    problem = pd.Series(np.nan, index=values.index, dtype="object")
    if text.any():
        written = values[text]
        numbers[text], problem[text] = (separators or Separators()).read(written)
        failed = numbers[text].isna() & problem[text].isna() & (written.str.strip() != "")
        problem[failed.index[failed]] = [_not_a_number(value) for value in written[failed]]
    infinite = np.isinf(numbers)
    problem[infinite] = [f"{as_written(value)} is too large to be a number" for value in values[infinite]]
    numbers[infinite] = np.nan
    odd = ~numeric & ~text & values.notna()
    problem[odd] = [_not_a_number(value) for value in values[odd]]
    return numbers, problem


def as_written(value: Any) -> str:
    """A cell's value as the file holds it: text as typed (trimmed), a number cell unrounded."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return repr(float(value))
    return str(value)


def _not_a_number(value) -> str:
    if isinstance(value, str) and value.strip().upper() in EXCEL_ERRORS:
        return f"the cell shows a formula error ({value.strip()}): fix the formula or type the number"
    if isinstance(value, bool):
        return f"{str(value).upper()} is a yes/no value, not a number"
    if isinstance(value, dt.date | dt.datetime | dt.time | dt.timedelta):
        return f"the cell holds a date or time ({value}), not a number: format the column as Number"
    return f"'{value}' is not a number"


def clean_text(values: pd.Series) -> pd.Series:
    """Cell values as trimmed text with inner spaces collapsed; blank cells as NA.

    Whole numbers typed into a text column (a sale ref 1001 read as 1001.0) lose the `.0`.
    """
    values = values.astype(object)
    whole = values.map(lambda value: isinstance(value, float) and value.is_integer() and abs(value) < EXACT_WHOLE)
    values = values.where(~whole, values[whole].map(lambda value: str(int(value))))
    text = values.astype("string").str.split().str.join(" ").astype("string")
    return text.where(text != "", pd.NA)


def _whole(series: pd.Series) -> pd.Series:
    return (series % 1).abs() < 1e-9


class SaleLineRows(pa.DataFrameModel):
    """One line of a sales sheet after header matching: the product as given and the quantity."""

    row: Series[int] = pa.Field(ge=1, description="row number in the file")
    sku: Series[pd.StringDtype] = pa.Field(nullable=True)
    product_id: Series[float] = pa.Field(nullable=True, ge=1)
    name: Series[pd.StringDtype] = pa.Field(nullable=True)
    quantity: Series[float] = pa.Field(nullable=False, ge=1, description="whole units, at least 1")
    sale_ref: Series[pd.StringDtype] = pa.Field(nullable=True, description="lines with one ref form one sale")

    @pa.check("product_id", name="whole_number")
    def _product_id_whole(cls, series: Series[float]) -> Series[bool]:
        return _whole(series)

    @pa.check("quantity", name="whole_number")
    def _quantity_whole(cls, series: Series[float]) -> Series[bool]:
        return _whole(series)

    @pa.dataframe_check(name="names_a_product")
    def _names_a_product(cls, frame: pd.DataFrame) -> Series[bool]:
        return frame["sku"].notna() | frame["product_id"].notna() | frame["name"].notna()

    class Config:
        strict = True


class StockRows(pa.DataFrameModel):
    """One row of a stock sheet: absolute stock on hand (and low-stock threshold) for a SKU."""

    row: Series[int] = pa.Field(ge=1, description="row number in the file")
    sku: Series[pd.StringDtype] = pa.Field(nullable=False)
    stock_quantity: Series[float] = pa.Field(nullable=False, ge=0)
    low_stock_threshold: Series[float] = pa.Field(nullable=True, ge=0)

    @pa.check("stock_quantity", name="whole_number")
    def _stock_whole(cls, series: Series[float]) -> Series[bool]:
        return _whole(series)

    @pa.check("low_stock_threshold", name="whole_number")
    def _threshold_whole(cls, series: Series[float]) -> Series[bool]:
        return _whole(series)

    class Config:
        strict = True


def _with_maximum(model: type[pa.DataFrameModel], column: str, maximum: float) -> pa.DataFrameSchema:
    schema = model.to_schema()
    checks = [*schema.columns[column].checks, pa.Check(lambda series: series <= maximum, name="at_most")]
    return schema.update_column(column, checks=checks)


# (field, check) -> (reason, message template); {value} is the cell as written, {maximum} the limit.
MESSAGES: dict[tuple[str, str], tuple[str, str]] = {
    ("quantity", "not_nullable"): ("MISSING_QUANTITY", "the quantity is empty"),
    ("quantity", "greater_than_or_equal_to(1)"): (
        "BAD_QUANTITY",
        "{value} is not a quantity that can be sold: it must be a whole number of at least 1",
    ),
    ("quantity", "whole_number"): ("FRACTIONAL_QUANTITY", "{value} is not a whole number of units"),
    ("quantity", "at_most"): (
        "ABSURD_QUANTITY",
        "{value} units on one line is more than the limit of {maximum:,}: a typo? "
        "(limit: SALESFLOW_IMPORT_MAX_QUANTITY)",
    ),
    ("product_id", "greater_than_or_equal_to(1)"): ("UNKNOWN_PRODUCT", "{value} is not a product id"),
    ("product_id", "whole_number"): ("UNKNOWN_PRODUCT", "{value} is not a product id (ids are whole numbers)"),
    ("sku", "names_a_product"): ("MISSING_PRODUCT", "no product: fill in the SKU, the product id or the name"),
    ("sku", "not_nullable"): ("MISSING_SKU", "the SKU is empty"),
    ("stock_quantity", "not_nullable"): ("MISSING_QUANTITY", "the stock quantity is empty"),
    ("stock_quantity", "greater_than_or_equal_to(0)"): (
        "BAD_STOCK_QUANTITY",
        "{value} is not a stock level: it must be a whole number, 0 or more",
    ),
    ("stock_quantity", "whole_number"): ("BAD_STOCK_QUANTITY", "{value} is not a whole number of units"),
    ("stock_quantity", "at_most"): (
        "BAD_STOCK_QUANTITY",
        "{value} units in stock is more than the limit of {maximum:,}: a typo?",
    ),
    ("low_stock_threshold", "greater_than_or_equal_to(0)"): (
        "BAD_THRESHOLD",
        "{value} is not a threshold: it must be a whole number, 0 or more",
    ),
    ("low_stock_threshold", "whole_number"): ("BAD_THRESHOLD", "{value} is not a whole number"),
}
CHECK_ORDER = ("not_nullable", "names_a_product", "greater_than_or_equal_to", "whole_number", "at_most")


def _check_rank(check: str) -> int:
    return next((rank for rank, prefix in enumerate(CHECK_ORDER) if check.startswith(prefix)), len(CHECK_ORDER))


def validate_sales(sheet: SheetTable, max_quantity: int = DEFAULT_MAX_QUANTITY) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sheet's lines, typed (`row, sku, product_id, name, quantity, sale_ref`), and their problems."""
    return _validate(sheet, SaleLineRows, ("sku", "name", "sale_ref"), ("product_id", "quantity"), max_quantity)


def validate_stock(sheet: SheetTable, max_stock: int = DEFAULT_MAX_STOCK) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sheet's rows, typed (`row, sku, stock_quantity, low_stock_threshold`), and their problems."""
    return _validate(sheet, StockRows, ("sku",), ("stock_quantity", "low_stock_threshold"), max_stock)


def _validate(
    sheet: SheetTable, model: type[pa.DataFrameModel], texts: tuple[str, ...], numbers: tuple[str, ...], maximum: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type the sheet's columns (`texts` trimmed, `numbers` parsed; the last number capped at
    `maximum`) and validate them against `model`, collecting every problem."""
    raw = sheet.frame
    typed = pd.DataFrame({"row": raw["row"].astype("int64")})
    for name in texts:
        typed[name] = clean_text(raw[name]) if name in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
    parse_problems = []
    for name in numbers:
        if name in raw:
            typed[name], problem = parse_numbers(raw[name], sheet.separators)
            parse_problems.append((name, problem))
        else:
            typed[name] = np.nan
    schema = _with_maximum(model, "quantity" if "quantity" in numbers else numbers[0], maximum)
    return typed, _lazy_problems(schema, typed, sheet, parse_problems, maximum=maximum)


def _lazy_problems(
    schema: pa.DataFrameSchema,
    frame: pd.DataFrame,
    sheet: SheetTable,
    parse_problems: list[tuple[str, pd.Series]],
    maximum: int,
) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return empty_problems()
    cases = cases[cases["index"].notna()].copy()
    cases["check"] = cases["check"].astype(str)
    # A frame-wide check reports against some column: pin it to the product column it is about.
    cases.loc[cases["check"] == "names_a_product", "column"] = "sku"
    cases["rank"] = cases["check"].map(_check_rank)
    cases = cases.sort_values(["index", "column", "rank"]).drop_duplicates(["index", "column"])
    parse_problem = {name: problem for name, problem in parse_problems}
    records = []
    for case in cases.itertuples(index=False):
        position = int(case.index)
        reason, template = MESSAGES[(case.column, case.check)]
        value = as_written(sheet.frame.at[position, case.column]) if case.column in sheet.frame else None
        message = template.format(value=value, maximum=maximum)
        problem = parse_problem.get(case.column)
        if case.check == "not_nullable" and problem is not None and isinstance(problem.at[position], str):
            reason, message = "NOT_A_NUMBER", problem.at[position]
        column = "sku, product id or name" if case.check == "names_a_product" else case.column
        records.append((int(frame.at[position, "row"]), _header(sheet, column), reason, message))
    # Non-blank cells that are not numbers where a number is optional (product id, threshold).
    for name, problem in parse_problems:
        optional = problem.notna() & ~frame.index.isin(cases.loc[cases["column"] == name, "index"].astype(int))
        for position in problem.index[optional]:
            records.append((int(frame.at[position, "row"]), _header(sheet, name), "NOT_A_NUMBER", problem.at[position]))
    if not records:
        return empty_problems()
    rows, columns, reasons, messages = zip(*records, strict=True)
    return pd.DataFrame(
        {"sheet": sheet.name, "row": rows, "column": columns, "reason": reasons, "message": messages}
    ).astype(PROBLEM_COLUMNS)


def _header(sheet: SheetTable, name: str) -> str:
    if name in sheet.columns.fields:
        return sheet.header_of(name)
    if name == "sku, product id or name":
        given = [sheet.header_of(field) for field in ("sku", "product_id", "name") if field in sheet.columns.fields]
        return " / ".join(given) or name
    return name
