"""`POST /excel/import-sales`: per-row errors at once, a usable file handed to the import inbox once,
then the inbox sensor and the import job (the only path to the backend) send its valid rows to the
stand-in backend once; the upload's answer says how to follow it, and the status route does."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from pathlib import Path

import dagster as dg
import openpyxl
import pytest

from salesflow_pipelines.defs.imports.job import excel_import
from salesflow_pipelines.defs.imports.sensor import import_inbox_sensor
from salesflow_pipelines.defs.resources import ImportSettings, JavaApi
from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.imports import files
from salesflow_pipelines.lib.imports.batching import signature
from salesflow_pipelines_tests.api.conftest import ADMIN_LOGIN, SECRET, bearer
from salesflow_pipelines_tests.api.filled import LAST_DAY

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list], header=("Sale ref", "SKU", "Qty", "Unit price")) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sales")
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(api, content: bytes, name: str = "monday.xlsx", headers=None):
    return api.post("/excel/import-sales", files={"file": (name, content, XLSX)}, headers=headers)


def waiting(inbox: Path) -> list[Path]:
    return files.waiting_files(inbox)


@pytest.fixture
def in_stock(running_api) -> list[str]:
    """SKUs with plenty of stock in the warehouse's newest snapshot."""
    skus = running_api.warehouse.frame(
        "SELECT sku FROM analytics.stock_snapshot WHERE snapshot_date = %s AND stock_quantity >= 60 ORDER BY sku",
        (LAST_DAY,),
    )["sku"].tolist()
    assert len(skus) >= 3
    return skus[:3]


def test_an_upload_is_checked_queued_once_and_reaches_the_backend_once(api_server, in_stock, tmp_path):
    api = api_server()
    inbox = api.settings.inbox
    valid = [[None, in_stock[index % 3], 1 + index % 2, 9.99] for index in range(6)]
    rows = [*valid, [None, "SKU-9999", 1, 1.0], [None, in_stock[0], 0, 1.0], [None, in_stock[1], "two", 1.0]]
    content = workbook(rows)
    file_hash = hashlib.sha256(content).hexdigest()

    answer = upload(api, content)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["total_rows"], body["valid_rows"]) == ("success", 9, 6)
    assert [(error["row"], error["field"], error["code"]) for error in body["errors"]] == [
        (8, "SKU", "UNKNOWN_PRODUCT"),
        (9, "Qty", "BAD_QUANTITY"),
        (10, "Qty", "NOT_A_NUMBER"),
    ]
    assert body["errors"][0]["reason"] == "no product has the SKU 'SKU-9999' in the backend"
    assert body["import"] == {
        "status": "queued",
        "file": "monday.xlsx",
        "sha256": file_hash,
        "run_key": f"import:{file_hash}",
        "status_url": f"/api/v1/excel/imports/{file_hash}",
    }
    assert body["import"]["status_url"] in body["message"]
    [queued] = waiting(inbox)
    assert queued.name == "monday.xlsx" and queued.read_bytes() == content

    again = upload(api, content, name="monday (copy).xlsx").json()
    assert again["import"]["status"] == "already waiting" and again["import"]["file"] == "monday.xlsx"
    assert waiting(inbox) == [queued]
    status = api.get(f"/excel/imports/{file_hash}").json()
    assert status["state"] == "waiting" and status["run_key"] == f"import:{file_hash}"

    # The inbox sensor sees it (twice unchanged) and asks for one run; the run imports it.
    settings = ImportSettings(
        inbox=str(inbox),
        warehouse_url=api.warehouse.writer_url,
        settle_seconds=0.0,
        reconcile_wait_seconds=0.05,
        unavailable_retries=0,
    )
    with dg.instance_for_test() as instance, StandinServer(DemoData(orders_per_day=20), jwt_secret=SECRET) as backend:
        for sku in in_stock:
            _restock(backend, sku)
        [request] = _requests_after_two_ticks(instance, settings)
        assert request.run_key == f"import:{file_hash}"
        result = excel_import.execute_in_process(
            run_config=request.run_config,
            instance=instance,
            resources={"import_settings": settings, "java_api": _java(backend)},
            tags={**request.tags, "dagster/run_key": request.run_key},
        )
        assert result.success
        assert len(backend.received_bulk) == 1
        ids = {backend.product(sku)["sku"]: backend.product(sku)["id"] for sku in in_stock}
        expected = Counter(signature([{"productId": ids[sku], "quantity": qty}]) for _, sku, qty, _ in valid)
        assert Counter(signature(sale["items"]) for sale in backend.created_sales()) == expected

        status = api.get(f"/excel/imports/{file_hash}").json()
        assert status["state"] == "imported" and status["sales_committed"] == 6 and status["rows_rejected"] == 3
        assert status["batches"] == {"committed": 1}
        rejects = api.get(status["rejects_url"].removeprefix("/api/v1"))
        assert rejects.status_code == 200 and rejects.content[:2] == b"PK"

        # Uploaded once more after the import: not queued again, no second run, nothing sent again.
        late = upload(api, content, name="monday again.xlsx").json()
        assert late["import"]["status"] == "already imported"
        assert waiting(inbox) == []
        assert _requests_after_two_ticks(instance, settings) == []
        assert len(backend.received_bulk) == 1


def _java(backend: StandinServer) -> JavaApi:
    phone, password = ADMIN_LOGIN
    return JavaApi(
        base_url=backend.base_url,
        phone=phone,
        password=password,
        backoff_seconds=0.01,
        max_retries=1,
        timeout_seconds=5,
    )


def _restock(backend: StandinServer, sku: str) -> None:
    with _java(backend).client() as client:
        client.update_product(sku, backend.product(sku) | {"stockQuantity": 1_000_000})


def _requests_after_two_ticks(instance, settings: ImportSettings) -> list[dg.RunRequest]:
    first = import_inbox_sensor(dg.build_sensor_context(instance=instance, resources={"import_settings": settings}))
    second = import_inbox_sensor(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"import_settings": settings})
    )
    return list(first.run_requests or []) + list(second.run_requests or [])


def test_a_file_without_a_valid_row_is_answered_and_not_queued(api_server):
    api = api_server()
    answer = upload(api, workbook([[None, "SKU-9999", 1, 1.0], [None, "SKU-0001", -2, 1.0]]))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["total_rows"], body["valid_rows"]) == ("failed", 2, 0)
    assert {error["code"] for error in body["errors"]} == {"UNKNOWN_PRODUCT", "BAD_QUANTITY"}
    assert "import" not in body and waiting(api.settings.inbox) == []


@pytest.mark.parametrize(
    ("name", "content", "status", "detail"),
    [
        ("notes.txt", b"hello", 415, "'notes.txt' is not a workbook"),
        ("sales.xlsx", b"%PDF-1.7 a pdf", 422, "sales.xlsx cannot be imported: this is a PDF document"),
        ("sales.xlsx", b"", 422, "the file is empty"),
        ("sales.xlsx", b"PK\x03\x04 broken zip", 422, "the workbook is corrupt"),
        ("sales.csv", b"colour,size\nred,3\n", 422, "no sheet looks like sales"),
        ("../../etc/sales.xlsx", b"%PDF-", 422, "sales.xlsx cannot be imported"),
    ],
)
def test_unusable_files_are_4xx_and_never_reach_the_inbox(api_server, name, content, status, detail):
    api = api_server()
    answer = upload(api, content, name=name)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]
    assert waiting(api.settings.inbox) == []
    staging = api.settings.inbox / ".api-uploads"
    assert not staging.exists() or [path.name for path in staging.iterdir()] in ([], [".lock"])


def test_oversized_uploads_are_413(api_server, in_stock):
    api = api_server(max_upload_bytes=20_000)
    big = workbook([[f"ref-{index}", in_stock[0], 1, 9.99, "x" * 40] for index in range(2_000)])
    assert len(big) > 40_000
    answer = upload(api, big)
    assert answer.status_code == 413 and "upload limit of" in answer.json()["detail"]
    small = upload(api, workbook([[None, in_stock[0], 1, 9.99]]))
    assert small.status_code == 200 and small.json()["status"] == "success"


def test_the_form_field_must_be_file(api_server):
    api = api_server()
    answer = api.post("/excel/import-sales", files={"upload": ("a.xlsx", b"x", XLSX)})
    assert answer.status_code == 422 and "'file'" in answer.json()["detail"]
    not_multipart = api.post("/excel/import-sales", json={"file": "x"})
    assert not_multipart.status_code in (400, 422)


def test_an_unknown_import_is_404_and_a_bad_hash_400(running_api):
    assert running_api.get(f"/excel/imports/{'ab' * 32}").status_code == 404
    assert running_api.get("/excel/imports/not-a-hash").status_code == 400
    assert running_api.get("/excel/imports/" + "ab" * 32, headers=bearer(role="USER")).status_code == 403
