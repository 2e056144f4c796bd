"""The inbox sensor and the `excel_import` job on a real Dagster instance, against the stand-in
server over a real socket, with the ledger in the real PostgreSQL."""

import os
import shutil
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from salesflow_pipelines.defs.imports.job import excel_import
from salesflow_pipelines.defs.imports.sensor import import_inbox_sensor
from salesflow_pipelines.defs.resources import ImportSettings, JavaApi
from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.imports.batching import signature
from salesflow_pipelines.lib.imports.ledger import Ledger
from salesflow_pipelines_tests.lib.test_imports_commit import (
    ADMIN,
    CASHIER,
    IN_STOCK,
    PRODUCTS,
    TODAY,
    created,
    expected_sales,
    restock,
    sales_workbook,
    single_sales,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def server():
    with StandinServer(DemoData(orders_per_day=20), today=TODAY) as standin:
        yield standin


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def settings(tmp_path, fresh_schema) -> ImportSettings:
    return ImportSettings(
        inbox=str(tmp_path / "inbox"),
        warehouse_url=fresh_schema,
        settle_seconds=1.0,
        reconcile_wait_seconds=0.05,
        unavailable_retries=0,
    )


def settings_fields(settings: ImportSettings) -> dict:
    return {name: getattr(settings, name) for name in ImportSettings.model_fields}


def java_api(server: StandinServer, account=ADMIN) -> JavaApi:
    return JavaApi(
        base_url=server.base_url,
        phone=account[0],
        password=account[1],
        backoff_seconds=0.01,
        max_retries=1,
        timeout_seconds=5.0,
    )


def settled(path: Path) -> Path:
    """Make the file look untouched for a minute (as if the copy into the inbox finished long ago)."""
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def tick(instance, settings: ImportSettings, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"import_settings": settings})
    return import_inbox_sensor(context)


def requests_after_two_ticks(instance, settings) -> tuple[list[dg.RunRequest], dg.SensorResult]:
    first = tick(instance, settings)
    assert not first.run_requests, "a file is requested only once it was seen unchanged twice"
    second = tick(instance, settings, first.cursor)
    return second.run_requests, second


def launch(instance, request: dg.RunRequest, settings: ImportSettings, api: JavaApi) -> dg.ExecuteInProcessResult:
    return excel_import.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        resources={"import_settings": settings, "java_api": api},
        tags={**request.tags, "dagster/run_key": request.run_key},
        raise_on_error=False,
    )


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(
        event.step_failure_data.error.message + str(event.step_failure_data.user_failure_data)
        for event in result.all_events
        if event.is_step_failure
    )


def test_a_dropped_workbook_becomes_one_run_and_the_same_content_is_imported_once(instance, settings, server):
    restock(server, IN_STOCK[:3])
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    rows = single_sales(25, IN_STOCK[:3]) + [[None, "SKU-9999", 1, 1.0]]
    path = settled(sales_workbook(inbox / "monday.xlsx", rows))
    content = path.read_bytes()

    [request], _ = requests_after_two_ticks(instance, settings)
    assert request.run_key.startswith("import:") and request.tags["salesflow/import_file"] == "monday.xlsx"
    result = launch(instance, request, settings, java_api(server))

    assert result.success
    summary = result.output_for_node("import_file")
    assert summary["sales_committed"] == 25 and summary["rejected_by_reason"] == {"UNKNOWN_PRODUCT": 1}
    assert created(server) == expected_sales(rows[:-1])
    metadata = result.get_step_success_events()[0]  # the op's metadata reaches the run's events
    assert metadata.step_key == "import_file"
    assert (inbox / "processed" / "monday.xlsx").exists() and (inbox / "processed" / "monday.rejects.xlsx").exists()

    # The same bytes dropped again under another name: same run key, no second run.
    settled_copy = inbox / "monday (copy).xlsx"
    settled_copy.write_bytes(content)
    settled(settled_copy)
    again, result_tick = requests_after_two_ticks(instance, settings)
    assert again == [] and "same content as run" in result_tick.skip_reason.skip_message
    assert len(server.received_bulk) == 1


def test_a_file_still_changing_waits(instance, settings):
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    path = inbox / "copying.xlsx"
    path.write_bytes(b"PK\x03\x04 half a file")
    first = tick(instance, settings)
    second = tick(instance, settings, first.cursor)
    assert not second.run_requests and "still changing" in second.skip_reason.skip_message
    path.write_bytes(b"PK\x03\x04 the whole file now")
    settled(path)
    third = tick(instance, settings, second.cursor)  # changed since the last look: one more look
    assert not third.run_requests
    assert len(tick(instance, settings, third.cursor).run_requests) == 1


def test_a_libreoffice_workbook_through_sensor_and_job(instance, settings, server):
    restock(server, ["SKU-0003", "SKU-0005", "SKU-0006"])
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    settled(Path(shutil.copy(FIXTURES / "libreoffice_sales.xlsx", inbox / "shop-3.xlsx")))
    [request], _ = requests_after_two_ticks(instance, settings)

    result = launch(instance, request, settings, java_api(server))

    assert result.success
    ids = dict(zip(PRODUCTS["sku"], PRODUCTS["product_id"], strict=True))
    sku3, sku5, sku6 = ids["SKU-0003"], ids["SKU-0005"], ids["SKU-0006"]
    expected = [[(sku3, 2), (sku5, 3)], [(sku6, 1)], [(sku3, 1), (sku6, 2), (sku5, 1)]]
    assert created(server) == Counter(
        signature([{"productId": p, "quantity": q} for p, q in sale]) for sale in expected
    )
    summary = result.output_for_node("import_file")
    assert summary["columns_not_sent"] == {"Sale Date": "the backend stamps each sale with the time it is imported"}
    assert summary["merged_cells_filled"] == 3 and summary["rows_rejected"] == 0


def test_an_unusable_file_fails_its_run_and_moves_to_failed(instance, settings, server):
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    path = inbox / "scan.xlsx"
    path.write_bytes(b"%PDF-1.5 scanned receipts")
    settled(path)
    [request], _ = requests_after_two_ticks(instance, settings)

    result = launch(instance, request, settings, java_api(server))

    assert not result.success and "PDF document, not a workbook" in failure_text(result)
    assert (inbox / "failed" / "scan.xlsx").exists() and (inbox / "failed" / "scan.summary.json").exists()


def test_a_token_without_admin_fails_the_run_and_keeps_the_file(instance, settings, server):
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    path = settled(sales_workbook(inbox / "sales.xlsx", single_sales(3, IN_STOCK[:1])))
    [request], _ = requests_after_two_ticks(instance, settings)

    result = launch(instance, request, settings, java_api(server, CASHIER))

    assert not result.success
    assert "lacks the ADMIN role" in failure_text(result) and "stays in the inbox" in failure_text(result)
    assert path.exists() and server.created_sales() == []
    assert {batch.state for batch in Ledger(settings.warehouse_url).batches(request.tags["salesflow/sha256"])} == {
        "planned"
    }


def test_a_backend_that_is_down_fails_the_run_and_keeps_the_file(instance, settings):
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    path = settled(sales_workbook(inbox / "sales.xlsx", single_sales(3, IN_STOCK[:1])))
    [request], _ = requests_after_two_ticks(instance, settings)
    down = JavaApi(base_url="http://127.0.0.1:9/api/v1", phone=ADMIN[0], password=ADMIN[1], max_retries=0)

    result = launch(instance, request, settings, down)

    assert not result.success and "could not read the products" in failure_text(result) and path.exists()


def test_dry_run_previews_and_the_real_import_follows_when_it_is_off(instance, settings, server):
    restock(server, IN_STOCK[:1])
    inbox = settings.inbox_path()
    inbox.mkdir(parents=True)
    path = settled(sales_workbook(inbox / "sales.xlsx", single_sales(4, IN_STOCK[:1])))
    preview = ImportSettings(**{**settings_fields(settings), "dry_run": True})
    [request], last = requests_after_two_ticks(instance, preview)
    assert request.run_key.startswith("preview:")
    result = launch(instance, request, preview, java_api(server))

    assert result.success and result.output_for_node("import_file")["outcome"] == "preview"
    assert path.exists() and server.received_bulk == [] and (inbox / "preview" / "sales.summary.json").exists()

    [commit] = tick(instance, settings, last.cursor).run_requests
    assert commit.run_key == request.run_key.replace("preview:", "import:")
    assert launch(instance, commit, settings, java_api(server)).success
    assert len(server.created_sales()) == 4 and not path.exists()
