"""Whole imports against the stand-in server (real socket) with the ledger in the real PostgreSQL:
what the backend received (each sale exactly once), the rejects workbook, the summary, the moves."""

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import ApiFailure, Reply, Request, StandinServer
from salesflow_pipelines.lib.backend.java_client import JavaApiClient
from salesflow_pipelines.lib.imports.batching import signature
from salesflow_pipelines.lib.imports.importer import ImportOptions, ImportStopped, Unusable, import_file
from salesflow_pipelines.lib.imports.ledger import Ledger

DATA = DemoData(orders_per_day=20)
ADMIN = ("0000000000", "admin123")
CASHIER = ("1111111111", "user123")
PLENTY = 1_000_000


def shop_day() -> date:
    """A day near today on which the demo shop has sales (reconciliation anchors on them)."""
    day = date.today()
    while DATA.sales_lines(day, day).empty:
        day -= timedelta(days=1)
    return day


TODAY = shop_day()
PRODUCTS = DATA.products(TODAY)
SKUS = PRODUCTS["sku"].tolist()
OUT_OF_STOCK = PRODUCTS.loc[PRODUCTS["stock_quantity"] == 0, "sku"].iloc[0]
IN_STOCK = PRODUCTS.loc[PRODUCTS["stock_quantity"] >= 50, "sku"].tolist()


class FaultyServer(StandinServer):
    """The stand-in with bulk-level faults: `fail_bulk` 503s before applying, and `after_bulk(n)`
    called after the n-th applied bulk import (e.g. to slow the backend down mid-import)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail_bulk = 0
        self.applied_bulks = 0
        self.after_bulk = lambda number: None
        self.lie_about_stock = False

    def _bulk_create(self, request: Request) -> Reply:
        if self.fail_bulk:
            self.fail_bulk -= 1
            raise ApiFailure(503, "INTERNAL_ERROR", "Injected failure before applying")
        reply = super()._bulk_create(request)
        self.applied_bulks += 1
        self.after_bulk(self.applied_bulks)
        return reply

    def _list_products(self, request: Request) -> Reply:
        if not self.lie_about_stock:
            return super()._list_products(request)
        with self._lock:
            return Reply(body=json.dumps([p | {"stockQuantity": PLENTY} for p in self._product_state()]).encode())


@pytest.fixture
def server() -> Iterator[FaultyServer]:
    with FaultyServer(DATA, today=TODAY) as standin:
        yield standin


@pytest.fixture
def inbox(tmp_path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


def client_for(server: StandinServer, account: tuple[str, str] = ADMIN, **options: Any) -> JavaApiClient:
    settings = {"backoff_seconds": 0.01, "timeout_seconds": 5.0, "max_retries": 1} | options
    return JavaApiClient(server.base_url, phone=account[0], password=account[1], **settings)


def restock(server: StandinServer, skus: list[str], quantity: int = PLENTY) -> None:
    with client_for(server) as client:
        for sku in skus:
            client.update_product(sku, server.product(sku) | {"stockQuantity": quantity})


def options(**changes: Any) -> ImportOptions:
    return ImportOptions(reconcile_wait_seconds=0.05, **changes)


def sales_workbook(path: Path, rows: list[list], header: tuple = ("Sale ref", "SKU", "Qty", "Unit price")) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sales")
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def single_sales(count: int, skus: list[str]) -> list[list]:
    return [[None, skus[i % len(skus)], 1 + i % 3, 9.99] for i in range(count)]


def expected_sales(rows: list[list]) -> Counter:
    """The sales the rows make, as (product id, quantity) signatures (rows are single-line sales)."""
    ids = dict(zip(PRODUCTS["sku"], PRODUCTS["product_id"], strict=True))
    return Counter(signature([{"productId": ids[sku], "quantity": qty}]) for _, sku, qty, *_ in rows)


def created(server: StandinServer) -> Counter:
    return Counter(signature(sale["items"]) for sale in server.created_sales())


def states(ledger: Ledger, file_hash: str) -> dict[str, str]:
    return {batch.key: batch.state for batch in ledger.batches(file_hash)}


def run(path: Path, inbox: Path, server: StandinServer, ledger: Ledger, account=ADMIN, client_options=None, **changes):
    with client_for(server, account, **(client_options or {})) as client:
        return import_file(path, inbox, client, ledger, options(**changes))


def test_sales_reach_the_backend_once_and_the_file_is_settled(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:4])
    good = single_sales(1_100, IN_STOCK[:4])
    bad = [
        [None, "SKU-9999", 1, 1.0],
        [None, IN_STOCK[0], -3, 1.0],
        ["R-7", IN_STOCK[1], 2, 1.0],
        ["R-7", IN_STOCK[1], 2.5, 1.0],
    ]
    path = sales_workbook(inbox / "shop 3.xlsx", good[:600] + bad + good[600:])
    content = path.read_bytes()
    ledger = Ledger(fresh_schema)

    summary = run(path, inbox, server, ledger, batch_size=500)

    assert created(server) == expected_sales(good)
    assert [len(batch) for batch in server.received_bulk] == [500, 500, 100]
    assert summary["outcome"] == "imported" and summary["sales_committed"] == 1_100
    assert summary["rows_rejected"] == 4
    assert summary["rejected_by_reason"] == {
        "UNKNOWN_PRODUCT": 1,
        "BAD_QUANTITY": 1,
        "FRACTIONAL_QUANTITY": 1,
        "SALE_INCOMPLETE": 1,
    }
    assert summary["columns_not_sent"] == {"Unit price": "the backend takes the product's current price"}
    processed = inbox / "processed"
    assert not path.exists() and (processed / "shop 3.xlsx").exists()
    assert json.loads((processed / "shop 3.summary.json").read_text())["sales_committed"] == 1_100
    assert set(states(ledger, summary["sha256"]).values()) == {"committed"}

    rejects = openpyxl.load_workbook(processed / "shop 3.rejects.xlsx")["Rejects"]
    rows = list(rejects.iter_rows(values_only=True))
    assert rows[0] == ("Row", "Problems", "Sale ref", "SKU", "Qty", "Unit price")
    assert rows[1] == (602, "no product has the SKU 'SKU-9999' in the backend", None, "SKU-9999", 1, 1)
    assert rows[2][:2] == (603, "-3 is not a quantity that can be sold: it must be a whole number of at least 1")
    assert rows[3][:2] == (
        604,
        "another line of sale 'R-7' is rejected (row 605): a sale is imported whole or not at all",
    )
    assert rows[4][:2] == (605, "2.5 is not a whole number of units")
    assert rejects["E3"].fill.fgColor.rgb.endswith("FFC7CE") and not rejects["D3"].fill.fgColor.rgb.endswith("FFC7CE")

    # The same content dropped again: the ledger has it all committed, nothing is sent twice.
    again = inbox / "shop 3.xlsx"
    again.write_bytes(content)
    second = run(again, inbox, server, ledger)
    assert len(server.received_bulk) == 3 and second["sales_committed"] == 1_100
    assert (processed / f"shop 3.{summary['sha256'][:8]}.xlsx").exists()


def test_a_batch_the_backend_rejects_is_split_until_the_bad_sales_are_found(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:2])
    server.lie_about_stock = True  # our stock check passes; the backend's own check refuses
    rows = single_sales(40, IN_STOCK[:2])
    rows[7] = [None, OUT_OF_STOCK, 1, 1.0]
    rows[30] = [None, OUT_OF_STOCK, 2, 1.0]
    path = sales_workbook(inbox / "sales.xlsx", rows)
    ledger = Ledger(fresh_schema)

    summary = run(path, inbox, server, ledger, batch_size=20)

    good = [row for position, row in enumerate(rows) if position not in (7, 30)]
    assert created(server) == expected_sales(good)
    assert summary["rejected_by_reason"] == {"INSUFFICIENT_STOCK": 2}
    assert summary["sales_committed"] == 38
    ledger_states = states(ledger, summary["sha256"])
    assert ledger_states["S0001"] == "rejected" and ledger_states["S0001.1"] == "rejected"
    assert sorted(key for key, state in ledger_states.items() if state == "rejected" and key.count(".") >= 4)
    rejects = list(openpyxl.load_workbook(Path(summary["rejects_file"]))["Rejects"].iter_rows(values_only=True))
    assert [row[0] for row in rejects[1:]] == [9, 32]
    assert rejects[1][1].startswith("the backend refused this sale: INSUFFICIENT_STOCK: Not enough stock for product")


def test_an_answer_lost_after_apply_is_reconciled_and_never_sent_again(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:3])
    rows = single_sales(30, IN_STOCK[:3])
    path = sales_workbook(inbox / "sales.xlsx", rows)
    server.after_bulk = lambda number: server.drop_next_bulk_after_apply() if number == 1 else None

    summary = run(path, inbox, server, Ledger(fresh_schema), batch_size=10)

    assert created(server) == expected_sales(rows)
    assert len(server.received_bulk) == 3  # the lost one (the 2nd) was found in /sales/today, not re-sent
    assert summary["sales_committed"] == 30 and summary["batches"] == {"committed": 3}


def test_a_503_on_bulk_is_proven_not_applied_then_sent_again(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:3])
    rows = single_sales(12, IN_STOCK[:3])
    path = sales_workbook(inbox / "sales.xlsx", rows)
    server.fail_bulk = 1
    ledger = Ledger(fresh_schema)

    summary = run(path, inbox, server, ledger, batch_size=5)

    assert created(server) == expected_sales(rows)
    assert summary["sales_committed"] == 12
    first = next(batch for batch in ledger.batches(summary["sha256"]) if batch.key == "S0001")
    assert first.attempts == 2 and first.state == "committed"


def test_a_token_without_admin_role_commits_nothing_and_keeps_the_file(server, inbox, fresh_schema):
    path = sales_workbook(inbox / "sales.xlsx", single_sales(5, IN_STOCK[:2]))
    ledger = Ledger(fresh_schema)
    with pytest.raises(ImportStopped, match="403 ACCESS_DENIED: the token .* lacks the ADMIN role") as stopped:
        run(path, inbox, server, ledger, account=CASHIER)
    assert server.created_sales() == [] and path.exists()
    assert not stopped.value.retryable
    assert states(ledger, stopped.value.summary["sha256"]) == {"S0001": "planned"}
    # With an ADMIN identity the same file goes through from the ledger's plan.
    summary = run(path, inbox, server, ledger)
    assert summary["sales_committed"] == 5 and len(server.created_sales()) == 5


def test_a_backend_timing_out_mid_import_never_commits_a_batch_twice(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:3])
    rows = single_sales(30, IN_STOCK[:3])
    path = sales_workbook(inbox / "sales.xlsx", rows)
    ledger = Ledger(fresh_schema)

    def slow_down(number: int) -> None:
        if number == 1:
            server.delay_seconds = 1.0  # slower than the client's timeout: answers never arrive

    server.after_bulk = slow_down
    with pytest.raises(ImportStopped, match="GET /sales/today failed too") as stopped:
        run(path, inbox, server, ledger, client_options={"timeout_seconds": 0.4}, batch_size=10)
    file_hash = stopped.value.summary["sha256"]
    assert stopped.value.retryable and path.exists()
    assert states(ledger, file_hash) == {"S0001": "committed", "S0002": "sending", "S0003": "planned"}

    server.delay_seconds = 0
    time.sleep(1.2)  # the timed-out request lands in the backend meanwhile
    summary = run(path, inbox, server, ledger)

    assert created(server) == expected_sales(rows)
    assert summary["sales_committed"] == 30 and not path.exists()
    assert len(server.received_bulk) == 3


def test_an_undecidable_batch_stops_the_run_until_a_human_decides(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:3])
    rows = single_sales(20, IN_STOCK[:3])
    path = sales_workbook(inbox / "sales.xlsx", rows)
    ledger = Ledger(fresh_schema)

    def midnight(number: int) -> None:
        if number == 1:
            server.fixed_today = TODAY + timedelta(days=1)  # /sales/today no longer shows the lost batch

    server.drop_next_bulk_after_apply()
    server.after_bulk = midnight
    with pytest.raises(ImportStopped, match="cannot be decided whether the backend applied it") as stopped:
        run(path, inbox, server, ledger, batch_size=10)
    file_hash = stopped.value.summary["sha256"]
    assert states(ledger, file_hash) == {"S0001": "unknown", "S0002": "planned"}

    with pytest.raises(ImportStopped, match="resolve_unknown_as"):
        run(path, inbox, server, ledger)
    assert len(server.received_bulk) == 1 and path.exists()

    summary = run(path, inbox, server, ledger, resolve_unknown_as="committed")
    assert created(server) == expected_sales(rows)
    assert summary["sales_committed"] == 20 and len(server.received_bulk) == 2


def test_stock_rows_set_absolute_values_once(server, inbox, fresh_schema):
    path = inbox / "stock count.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Stock"
    for row in (
        ["SKU", "On hand", "Reorder level"],
        [SKUS[0].lower(), "120", 15],
        [SKUS[1], 7, None],
        ["SKU-9999", 1, 1],
        [SKUS[2], -4, None],
    ):
        sheet.append(row)
    book.save(path)
    ledger = Ledger(fresh_schema)

    summary = run(path, inbox, server, ledger)

    assert server.product(SKUS[0])["stockQuantity"] == 120 and server.product(SKUS[0])["lowStockThreshold"] == 15
    assert server.product(SKUS[1])["stockQuantity"] == 7
    assert summary["stock_rows_updated"] == 2
    assert summary["rejected_by_reason"] == {"UNKNOWN_PRODUCT": 1, "BAD_STOCK_QUANTITY": 1}
    assert server.request_counts["PUT /products/by-sku/{sku}"] == 2


def test_a_dry_run_writes_the_preview_and_sends_nothing(server, inbox, fresh_schema):
    path = sales_workbook(inbox / "sales.xlsx", [[None, IN_STOCK[0], 1, 1.0], [None, "SKU-9999", 1, 1.0]])
    with client_for(server) as client:
        summary = import_file(path, inbox, client, None, options(dry_run=True))
    assert summary["outcome"] == "preview" and summary["sales_valid"] == 1 and summary["rows_rejected"] == 1
    assert path.exists() and server.received_bulk == []
    assert (inbox / "preview" / "sales.rejects.xlsx").exists() and (inbox / "preview" / "sales.summary.json").exists()


def test_an_unusable_file_moves_to_failed_with_the_reason(server, inbox, fresh_schema):
    path = inbox / "sales.xlsx"
    path.write_bytes(b"%PDF-1.4 not a workbook")
    with pytest.raises(Unusable, match="PDF"):
        run(path, inbox, server, Ledger(fresh_schema))
    assert not path.exists() and (inbox / "failed" / "sales.xlsx").read_bytes().startswith(b"%PDF")
    assert "PDF" in json.loads((inbox / "failed" / "sales.summary.json").read_text())["message"]
    assert server.request_counts == Counter()


def test_formulas_without_saved_results_are_explained(server, inbox, fresh_schema):
    restock(server, IN_STOCK[:1])
    path = sales_workbook(inbox / "sales.xlsx", [[None, IN_STOCK[0], "=1+1", 1.0], [None, IN_STOCK[0], 2, 1.0]])
    summary = run(path, inbox, server, Ledger(fresh_schema))
    assert summary["rejected_by_reason"] == {"FORMULA_NOT_CALCULATED": 1} and summary["sales_committed"] == 1
    rejects = list(openpyxl.load_workbook(Path(summary["rejects_file"]))["Rejects"].iter_rows(values_only=True))
    assert "the cell holds the formula =1+1 but no result was saved" in rejects[1][1]


def test_a_20000_row_workbook_with_its_stock_count(server, inbox, fresh_schema):
    path = inbox / "big.xlsx"
    book = openpyxl.Workbook(write_only=True)
    stock = book.create_sheet("Stock")
    stock.append(["SKU", "Stock"])
    for sku in IN_STOCK[:5]:
        stock.append([sku, PLENTY])
    sales = book.create_sheet("Sales")
    sales.append(["SKU", "Qty"])
    rows = single_sales(20_000, IN_STOCK[:5])
    for _, sku, quantity, _ in rows:
        sales.append([sku, quantity])
    book.save(path)
    started = time.monotonic()

    summary = run(path, inbox, server, Ledger(fresh_schema))

    assert time.monotonic() - started < 60
    assert summary["sales_committed"] == 20_000 and summary["stock_rows_updated"] == 5
    assert created(server) == expected_sales(rows)
    assert len(server.received_bulk) == 40


def test_the_default_sqlite_ledger(server, inbox, tmp_path):
    restock(server, IN_STOCK[:2])
    rows = single_sales(12, IN_STOCK[:2])
    path = sales_workbook(inbox / "sales.xlsx", rows)
    ledger = Ledger(f"sqlite:///{tmp_path / 'warehouse.db'}")
    summary = run(path, inbox, server, ledger, batch_size=5)
    assert created(server) == expected_sales(rows)
    assert states(ledger, summary["sha256"]) == {"S0001": "committed", "S0002": "committed", "S0003": "committed"}
