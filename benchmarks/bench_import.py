"""One Excel import of N sales rows, end to end: wall time and the importing process's peak RSS.

    python benchmarks/bench_import.py                  # 100,000 rows (the issue's figure)
    python benchmarks/bench_import.py --rows 200000
    python benchmarks/bench_import.py --quick          # CI: proves it runs (2,000 rows)

The workbook (a "Stock" sheet restocking the products sold, then a "Sales" sheet of N rows:
SKUs with stray case, quantities partly stored as text, a sale_ref on every third row, 1%
bad rows) is written first with openpyxl's write-only mode. The stand-in server runs in this
process; the import runs in a child process, so that its peak RSS is the import's alone: read
(openpyxl read-only), validate, plan, ledger (SQLite), POST /sales/bulk in batches of 500 over
loopback, rejects workbook, summary, move. The figures are split by phase from the import's log.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import openpyxl

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer

ADMIN = ("0000000000", "admin123")


def write_workbook(path: Path, rows: int, skus: list[str]) -> None:
    chosen = random.Random(7)
    book = openpyxl.Workbook(write_only=True)
    stock = book.create_sheet("Stock")
    stock.append(["SKU", "Stock on hand"])
    for sku in skus:
        stock.append([sku, 1_000_000])
    sales = book.create_sheet("Sales")
    sales.append(["Order No", "Product SKU", "Qty", "Unit price", "Sale date"])
    for number in range(rows):
        sku = chosen.choice(skus)
        quantity: object = chosen.randint(1, 5)
        if number % 7 == 0:
            sku, quantity = f" {sku.lower()} ", str(quantity)
        if number % 100 == 99:
            quantity = -1
        reference = f"R-{number // 3}" if number % 3 else None
        sales.append([reference, sku, quantity, 9.99, date(2026, 1, 5)])
    book.save(path)


def import_in_child(path: str, inbox: str, base_url: str, ledger_url: str, answer) -> None:
    import logging

    from salesflow_pipelines.lib.backend.java_client import JavaApiClient
    from salesflow_pipelines.lib.imports.importer import ImportOptions, import_file
    from salesflow_pipelines.lib.imports.ledger import Ledger

    marks: list[tuple[str, float]] = []

    class Phases(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            marks.append((record.getMessage()[:60], time.monotonic()))

    log = logging.getLogger("bench_import")
    log.setLevel(logging.INFO)
    log.addHandler(Phases())
    started = time.monotonic()
    with JavaApiClient(base_url, phone=ADMIN[0], password=ADMIN[1], timeout_seconds=120) as client:
        summary = import_file(Path(path), Path(inbox), client, Ledger(ledger_url), ImportOptions(), log=log)
    seconds = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer.send((summary, seconds, peak_kib, [(text, at - started) for text, at in marks]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 rows: proves the benchmark runs")
    args = parser.parse_args()
    rows = 2_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as folder, StandinServer(DemoData(orders_per_day=20)) as server:
        inbox = Path(folder) / "inbox"
        inbox.mkdir()
        path = inbox / "sales.xlsx"
        skus = DemoData(orders_per_day=20).products(server.today)["sku"].tolist()[:20]
        started = time.monotonic()
        write_workbook(path, rows, skus)
        size = path.stat().st_size / 1e6
        print(f"workbook: {rows:,} sales rows, {size:.1f} MB, written in {time.monotonic() - started:.1f}s")
        receiver, sender = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("spawn").Process(
            target=import_in_child,
            args=(str(path), str(inbox), server.base_url, f"sqlite:///{folder}/warehouse.db", sender),
        )
        child.start()
        summary, seconds, peak_kib, marks = receiver.recv()
        child.join()
        for text, at in marks:
            print(f"  {at:7.2f}s  {text}")
        print(
            f"import: {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s), "
            f"peak RSS {peak_kib / 1024:.0f} MiB; "
            f"{summary['sales_committed']:,} sales committed in {len(server.received_bulk)} bulk calls, "
            f"{summary['rows_rejected']:,} rows rejected {summary['rejected_by_reason']}"
        )


if __name__ == "__main__":
    main()
