"""One day of sales pulled from the stand-in Java server over loopback: seconds per path, JSON share.

    python benchmarks/bench_ingestion.py                   # 50,000 sales (~125,000 lines), the issue's figure
    python benchmarks/bench_ingestion.py --concurrency 8   # pages in flight (JAVA_API_MAX_CONCURRENCY)
    python benchmarks/bench_ingestion.py --quick           # CI: 500 sales, proves it runs

The stand-in runs in a child process, as the Java backend is one, serving the demo shop with
today's date and its volume scaled so that the day pulled (yesterday, or the latest day before
it with ordinary trade) holds about `--sales` sales; as a real backend would, it also delivers
the demo's duplicate deliveries. The day is pulled as the `raw_sales` asset pulls it, through
the `JavaApi` resource: its client, then the raw frame. Two paths:

- `/sales/range`: pages of 500 sales, up to `--concurrency` of them in flight (the httpx
  connection pool is as large);
- `/sales/history`, the fallback for a backend without `/sales/range`: one answer reaching
  back from today, so it carries more days than the one asked for, filtered by the client.

A warm-up pull per path lets the stand-in build and cache its answers (a real backend reads
them from its database); each path is then timed `--repeat` times and the best run counts.
JSON decoding is timed inside the client, the conversion to the raw frame apart.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from salesflow_pipelines.defs.resources import JavaApi
from salesflow_pipelines.dev.demo import DemoData, is_spike_day, is_zero_day
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.backend import java_client, payloads

ACCOUNT = {"phone": "0000000000", "password": "admin123"}


class TimedJson:
    """`json` as the client uses it, adding up the seconds spent in `loads` (from every thread)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def loads(self, text: bytes | str) -> Any:
        started = time.perf_counter()
        value = json.loads(text)
        with self._lock:
            self.seconds += time.perf_counter() - started
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)


@dataclass
class Pull:
    """One timed pull: wall seconds of the client, of JSON decoding in it, and of the raw frame."""

    fetch: float
    decode: float
    frame: float
    sales: int
    lines: int

    @property
    def total(self) -> float:
        return self.fetch + self.frame


def busy_day(sales: int) -> tuple[date, int]:
    """The latest day before today that is neither a demo zero day nor a spike day, and the
    `orders_per_day` that gives it about `sales` sales."""
    day = date.today() - timedelta(days=1)
    while is_zero_day(day) or is_spike_day(day):
        day -= timedelta(days=1)
    return day, max(1, round(sales / DemoData(orders_per_day=1).expected_orders(day)))


def serve(orders_per_day: int, extensions: bool, connection) -> None:
    """Child process: the stand-in on a free loopback port until the parent says stop."""
    with StandinServer(DemoData(orders_per_day=orders_per_day), extensions=extensions) as server:
        connection.send(server.base_url)
        connection.recv()


def pull(api: JavaApi, day: date, log: logging.Logger | None = None) -> Pull:
    """The day through the resource's client and into the raw frame, as `raw_sales` does."""
    timed_json = TimedJson()
    java_client.json = timed_json
    try:
        started = time.perf_counter()
        with api.client(log) as client:
            sales = client.fetch_sales(day, day)
        fetched = time.perf_counter()
        frame = payloads.sales_from_payload(sales)
        framed = time.perf_counter()
    finally:
        java_client.json = json
    return Pull(fetched - started, timed_json.seconds, framed - fetched, len(sales), len(frame))


def measure(label: str, day: date, orders_per_day: int, extensions: bool, concurrency: int, repeat: int) -> Pull:
    """Best of `repeat` pulls of `day` from a stand-in with or without `/sales/range`."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(orders_per_day, extensions, child))
    server.start()
    try:
        api = JavaApi(base_url=parent.recv(), max_concurrency=concurrency, **ACCOUNT)
        started = time.perf_counter()
        pull(api, day, client_log())
        print(f"  warm-up pull (the stand-in builds its answers): {time.perf_counter() - started:.2f} s")
        pulls = [pull(api, day) for _ in range(repeat)]
    finally:
        parent.send("stop")
        server.join()
    for number, timed in enumerate(pulls, start=1):
        print(
            f"  pull {number}: {timed.total:.2f} s = client {timed.fetch:.2f} s (JSON decoding {timed.decode:.2f} s) "
            f"+ raw frame {timed.frame:.2f} s"
        )
    best = min(pulls, key=lambda timed: timed.total)
    print(
        f"{label}: {best.sales:,} sales, {best.lines:,} lines in {best.total:.2f} s "
        f"({best.lines / best.total:,.0f} lines/s), JSON decoding {best.decode / best.total:.0%} of it "
        f"(best of {repeat})"
    )
    return best


def client_log() -> logging.Logger:
    """A logger printing the client's own account of where the sales came from."""
    log = logging.getLogger("bench_ingestion.client")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("  client: %(message)s"))
        handler.addFilter(lambda record: record.getMessage().startswith("Read "))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=50_000, help="the demo shop's orders a day")
    parser.add_argument("--concurrency", type=int, default=JavaApi().max_concurrency, help="pages in flight")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 sales, one pull: only proves the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.sales, args.repeat = 500, 1
    day, orders_per_day = busy_day(args.sales)
    volume = f"demo volume {orders_per_day:,} orders/day"
    print(f"{day}: ~{args.sales:,} sales ({volume}), {args.concurrency} page(s) in flight")
    for label, extensions in (("/sales/range", True), ("/sales/history", False)):
        print(f"{label}:")
        measure(label, day, orders_per_day, extensions, args.concurrency, args.repeat)


if __name__ == "__main__":
    main()
