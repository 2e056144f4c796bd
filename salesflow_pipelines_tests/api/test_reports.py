"""Report routes: the scheduled files the report assets wrote (newest, every one by name, `excel`
meaning the .xlsx), and a report of any period rendered on demand with the warehouse's numbers."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from salesflow_pipelines_tests.api.filled import LAST_DAY


def pdf_words(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def test_every_scheduled_file_is_listed_and_downloadable(running_api):
    reports_dir = running_api.warehouse.reports_dir
    on_disk = sorted(
        path.relative_to(reports_dir).as_posix()
        for kind in ("weekly", "monthly")
        for path in (reports_dir / kind).glob("sales-report_*")
    )
    listed = running_api.get("/reports/files").json()
    assert sorted(f"{item['kind']}/{item['name']}" for item in listed) == on_disk
    assert len(on_disk) == 6  # weeks 41 and 42, September; PDF and Excel each
    assert [item["period"] for item in listed[:2]] == ["2026-W42", "2026-W42"]  # newest period first
    for item in listed:
        answer = running_api.get(item["url"].removeprefix("/api/v1"))
        assert answer.status_code == 200
        assert answer.content == (reports_dir / item["kind"] / item["name"]).read_bytes()
        assert f'filename="{item["name"]}"' in answer.headers["content-disposition"]
    assert {item["format"] for item in running_api.get("/reports/files", params={"format": "excel"}).json()} == {
        "excel"
    }


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({}, "weekly/sales-report_2026-W42.pdf"),
        ({"format": "pdf", "report_type": "sales"}, "weekly/sales-report_2026-W42.pdf"),
        ({"format": "excel"}, "weekly/sales-report_2026-W42.xlsx"),
        ({"format": "excel", "kind": "monthly", "report_type": "combined"}, "monthly/sales-report_2026-09.xlsx"),
    ],
)
def test_the_latest_scheduled_report_in_either_format(running_api, params, name):
    answer = running_api.get("/reports/scheduled/latest", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.content == (running_api.warehouse.reports_dir / name).read_bytes()
    expected_type = "application/pdf" if name.endswith(".pdf") else "spreadsheetml"
    assert expected_type in answer.headers["content-type"]


def test_no_scheduled_report_yet_is_404(api_server, tmp_path):
    empty = api_server(reports_dir=tmp_path / "no-reports")
    answer = empty.get("/reports/scheduled/latest")
    assert answer.status_code == 404 and answer.json() == {"detail": "No scheduled report available yet"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/reports/files/weekly/..%2F..%2Fetc%2Fpasswd", 404),
        ("/reports/files/daily/sales-report_2026-W42.pdf", 404),
        ("/reports/files/weekly/sales-report_2031-W01.pdf", 404),
        ("/reports/files/weekly/notes.txt", 404),
        ("/reports/scheduled/latest?format=docx", 400),
        ("/reports/scheduled/latest?report_type=inventory", 400),
        ("/reports/scheduled/latest?kind=daily", 400),
    ],
)
def test_unknown_files_and_bad_parameters_are_4xx(running_api, path, status):
    answer = running_api.get(path)
    assert answer.status_code == status, answer.text
    assert "detail" in answer.json()


def test_a_report_of_any_period_on_demand_holds_the_warehouse_numbers(running_api):
    sales = running_api.get("/analytics/sales", params={"start_date": "2026-09-07", "end_date": "2026-10-04"}).json()
    revenue = f"${sales['kpis']['total_revenue']:,.2f}"
    body = {"payload": {"report_type": "sales", "format": "pdf", "start_date": "2026-09-07", "end_date": "2026-10-04"}}
    answer = running_api.post("/reports/generate", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="analytics_sales_custom_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.pdf"',
        answer.headers["content-disposition"],
    )
    words = pdf_words(answer.content)
    assert "7 Sep 2026 – 4 Oct 2026" in words and revenue in words
    assert f"{sales['kpis']['total_transactions']:,}" in words

    excel = running_api.post("/reports/generate", json={"payload": {"format": "excel", "period": "weekly"}})
    assert excel.status_code == 200 and excel.headers["content-disposition"].endswith('.xlsx"')
    week = running_api.get("/analytics/sales", params={"period": "weekly"}).json()
    summary = load_workbook(io.BytesIO(excel.content), read_only=True)["Summary"]
    cells = [value for row in summary.iter_rows(values_only=True) for value in row if value is not None]
    assert week["kpis"]["total_revenue"] in cells
    assert f"Last 7 days to {LAST_DAY.day} Oct 2026" in " ".join(str(cell) for cell in cells)
    # The forecast shown is the one made as of the week's last day: it starts the day after.
    forecast = load_workbook(io.BytesIO(excel.content), read_only=True)["Forecast"]
    days = [value for row in forecast.iter_rows(values_only=True) for value in row if isinstance(value, datetime)]
    assert days and min(days).date() == LAST_DAY + timedelta(days=1)


def test_bad_report_requests_are_4xx(running_api):
    for payload, status in (
        ({"format": "docx"}, 422),
        ({"report_type": "inventory"}, 422),
        ({"period": "decade"}, 422),
        ({"start_date": "2026-10-05", "end_date": "2026-10-01"}, 400),
    ):
        answer = running_api.post("/reports/generate", json={"payload": payload})
        assert answer.status_code == status, (payload, answer.text)
