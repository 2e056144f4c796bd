"""Text from the data stays text: the workbooks never turn it into formulas, the PDF never parses it as markup."""

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from salesflow_pipelines.lib.imports.importer import ImportOptions, plan
from salesflow_pipelines.lib.imports.products import Catalogue
from salesflow_pipelines.lib.imports.reading import read_file
from salesflow_pipelines.lib.imports.rejects import write_rejects
from salesflow_pipelines.lib.reports import pdf
from salesflow_pipelines.lib.reports.excel import render_xlsx
from salesflow_pipelines.lib.reports.model import SalesReport, build_report
from salesflow_pipelines.lib.reports.periods import ReportPeriod
from salesflow_pipelines.lib.xlsx_text import as_text

WEEK = ReportPeriod.from_partition_key("weekly", "2026-11-16")
HOSTILE = ('=HYPERLINK("http://evil.example","x")', "=SUM(A1:A9)", "+1+2", "-2+3", "@cmd", "#N/A")
MARKUP = "<b>x</b><font color=red>y</font> & <unclosed"
CATALOGUE = Catalogue.from_payload([{"id": 1, "sku": "SKU-0001", "name": "Espresso Beans 1kg", "stockQuantity": 10}])


def report_named(names: Sequence[str]) -> SalesReport:
    """A week with one sale per name: every product, SKU, category, region, reject, anomaly and stock alert
    carries one of the `names` in each of its text columns."""
    count = len(names)
    day = pd.Timestamp("2026-11-17")
    revenue = [10.0 * (index + 1) for index in range(count)]
    ids = list(range(1, count + 1))
    daily = pd.DataFrame(
        {
            "sale_date": [day],
            "revenue": [sum(revenue)],
            "orders": [count],
            "units": [float(count)],
            "unique_customers": [count],
            "refunded_amount": [0.0],
            "avg_order_value": [sum(revenue) / count],
            "revenue_growth_pct": [float("nan")],
        }
    )
    shared = {"sale_date": day, "revenue": revenue, "units": 1.0}
    products = pd.DataFrame({**shared, "product_id": ids, "sku": names, "product_name": names, "category": names})
    anomalies = pd.DataFrame(
        {
            "anomaly_id": [f"a{index}" for index in ids],
            "sale_date": day,
            "scope": "product",
            "scope_key": names,
            "metric": "revenue",
            "value": revenue,
            "expected": 1.0,
            "z_score": 4.0,
            "severity": "HIGH",
            "label": names,
            "explanation": names,
            "detected_at": day,
        }
    )
    stock = pd.DataFrame(
        {
            "snapshot_date": day,
            "product_id": ids,
            "sku": names,
            "name": names,
            "category": names,
            "status": "LOW",
            "stock_quantity": 1,
            "reorder_level": 5,
            "avg_daily_units": 1.0,
            "days_of_cover": [float(index) for index in ids],
            "suggested_reorder_qty": 10,
            "lead_time_days": 7,
            "safety_stock_days": 3,
            "stock_value": 2.5,
        }
    )
    return build_report(
        WEEK,
        generated_at=datetime(2026, 11, 23, 7, 0),
        daily_sales_kpis=daily,
        product_daily_sales=products.assign(orders=1),
        region_daily_sales=pd.DataFrame({**shared, "region": names, "orders": 1, "unique_customers": 1}),
        category_daily_sales=pd.DataFrame({**shared, "category": names, "discount_rate": 0.0}),
        sales_rejects=pd.DataFrame({"sale_date": day, "sale_id": ids, "line_no": 1, "reason": names, "detail": names}),
        sales_anomalies=anomalies,
        stock_alerts=stock,
    )


def formula_cells(workbook) -> list[str]:
    """Every formula cell of the workbook, as 'Sheet!A1'."""
    return [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in workbook
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]


def assert_text_column(sheet, letter: str, expected: Sequence[str]) -> None:
    """The column's data cells hold exactly `expected` (in any order), each typed as text."""
    cells = sheet[letter][1:]
    assert sorted(cell.value for cell in cells) == sorted(expected), (sheet.title, letter)
    assert [cell.data_type for cell in cells] == ["s"] * len(expected), (sheet.title, letter)


def test_the_report_workbook_keeps_formula_like_names_as_their_text():
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(report_named(HOSTILE)).content))
    assert formula_cells(workbook) == []  # the report writes no formula of its own
    text_columns = {
        "Products": "BCD",
        "Regions": "A",
        "Categories": "A",
        "Rejects": "DE",
        "Anomalies": "DIJ",
        "Stock": "DEF",
    }
    for title, letters in text_columns.items():
        for letter in letters:
            assert_text_column(workbook[title], letter, HOSTILE)
    products, daily = workbook["Products"], workbook["Daily"]
    assert [cell.value for cell in products["E"][1:]] == [60.0, 50.0, 40.0, 30.0, 20.0, 10.0]
    assert {cell.data_type for cell in products["A"][1:] + products["E"][1:]} == {"n"}
    assert daily["A2"].is_date and daily["B2"].data_type == "n"


def hostile_upload(path: Path) -> Path:
    """A .csv or .xlsx upload with one sale per hostile text, which is both its SKU (unknown) and its customer.

    In the .xlsx the texts are text cells, as Excel saves "'=SUM(A1:A9)" typed by a clerk.
    """
    rows = [
        ["Sale ref", "SKU", "Qty", "Customer"],
        *([f"S{index}", text, 1, text] for index, text in enumerate(HOSTILE)),
    ]
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(rows)
        return path
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for cells in book.active.iter_rows():
        for cell in cells:
            as_text(cell)
    book.save(path)
    return path


@pytest.mark.parametrize("name", ["sales.csv", "sales.xlsx"])
def test_the_rejects_workbook_keeps_formula_like_cells_of_the_upload_as_their_text(tmp_path, name):
    source, read = read_file(hostile_upload(tmp_path / name))
    try:
        problems, _ = plan(read, CATALOGUE, ImportOptions(), source)
        written = write_rejects(tmp_path / "sales.rejects.xlsx", source, read.sheets, problems)
    finally:
        source.close()
    assert written == len(HOSTILE)
    workbook = openpyxl.load_workbook(tmp_path / "sales.rejects.xlsx")
    assert formula_cells(workbook) == []
    rejects = workbook["Rejects"]
    assert [cell.value for cell in rejects[1]] == ["Row", "Problems", "Sale ref", "SKU", "Qty", "Customer"]
    assert_text_column(rejects, "D", HOSTILE)
    assert_text_column(rejects, "F", HOSTILE)
    assert [(cell.value, cell.data_type) for cell in rejects["A"][1:]] == [(row, "n") for row in range(2, 8)]


def test_the_pdf_prints_markup_in_names_as_its_text():
    rendered = pdf.render_pdf(report_named([MARKUP]))
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(rendered.content)).pages)
    assert MARKUP in " ".join(text.split())
