"""The read API under load: 50 concurrent clients on the analytics routes over a year of 200 products.

    python benchmarks/bench_api.py                 # 365 days x 200 products, 50 clients, 20 s
    python benchmarks/bench_api.py --workers 2     # two uvicorn worker processes
    python benchmarks/bench_api.py --quick         # CI: 30 days x 20 products, 10 clients, 2 s

A scratch PostgreSQL database gets the tables the routes read, written through the warehouse's
own `replace` (daily KPIs, product days, stock snapshots and KPIs, stock alerts, a 14-day forecast,
anomalies). `salesflow api` serves it in a child process, reading through a read-only role as in
deployment. Each client keeps one HTTP/1.1 connection and asks, in turn, what the frontend asks:
`/analytics/sales` and `/analytics/stock` for every named period (daily to yearly). First the
cold answers are timed one by one (computed from the tables: the first ask after a warehouse
change); then the clients run for the duration, and the p50/p95/p99 latency of every answer and
the requests per second are printed. The clients run in this process (asyncio, raw sockets, so
that little of the latency is theirs) on the same two cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import jwt
import numpy as np
import pandas as pd
import psycopg

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.warehouse.roles import grant_reader
from salesflow_pipelines.lib.warehouse.tables import TABLES

try:
    from benchmarks.scratch_db import DEFAULT_ADMIN_URL, scratch_postgres
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from scratch_db import DEFAULT_ADMIN_URL, scratch_postgres

SECRET = "bench-api-secret-" + "0123456789abcdef" * 3
PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly")
ROUTES = tuple(f"/api/v1/analytics/{route}?period={period}" for route in ("sales", "stock") for period in PERIODS)
LAST_DAY = date(2026, 10, 18)
CATEGORIES = np.array(["Grocery", "Beverages", "Household", "Personal Care", "Snacks"])


# -- the warehouse ----------------------------------------------------------------------------


def contract_frame(table_name: str, columns: dict) -> pd.DataFrame:
    """A frame with every contract column of the table: the given ones, NaN/None for the rest."""
    table = TABLES[table_name]
    length = len(next(iter(columns.values())))
    frame = {}
    for name, kind in table.columns.items():
        if name in columns:
            frame[name] = columns[name]
        elif kind in ("float",):
            frame[name] = np.full(length, np.nan)
        elif kind == "int":
            frame[name] = pd.array([None] * length, dtype="Int64")
        elif kind in ("date", "timestamp"):
            frame[name] = pd.Series([pd.NaT] * length, dtype="datetime64[ns]")
        else:
            frame[name] = pd.array([None] * length, dtype="string")
    return pd.DataFrame(frame)


def fill(url: str, days: int, products: int) -> None:
    """Tables shaped as the pipeline's for `days` days to LAST_DAY and `products` products."""
    rng = np.random.default_rng(7)
    store = warehouse.connect(url)
    dates = pd.date_range(end=pd.Timestamp(LAST_DAY), periods=days, freq="D")
    ids = np.arange(1, products + 1)
    day_of, product_of = np.repeat(dates.to_numpy(), products), np.tile(ids, days)
    revenue = np.round(rng.gamma(2.0, 30.0, len(day_of)), 2)
    units = rng.integers(0, 25, len(day_of)).astype("float64")
    orders = rng.integers(0, 20, len(day_of))
    names = pd.array([f"Product {number} {CATEGORIES[number % 5].lower()}" for number in product_of], dtype="string")
    skus = pd.array([f"SKU-{number:04d}" for number in product_of], dtype="string")
    categories = pd.array(CATEGORIES[product_of % 5], dtype="string")
    store.replace(
        TABLES["product_daily_sales"],
        contract_frame(
            "product_daily_sales",
            {
                "sale_date": day_of,
                "product_id": product_of,
                "sku": skus,
                "product_name": names,
                "category": categories,
                "revenue": revenue,
                "units": units,
                "orders": orders,
            },
        ),
        None,
    )
    per_day = pd.DataFrame({"sale_date": day_of, "revenue": revenue, "units": units, "orders": orders})
    daily = per_day.groupby("sale_date", as_index=False).sum()
    store.replace(
        TABLES["daily_sales_kpis"],
        contract_frame(
            "daily_sales_kpis",
            {
                "sale_date": daily["sale_date"],
                "revenue": daily["revenue"].round(2),
                "orders": daily["orders"],
                "units": daily["units"],
                "avg_order_value": (daily["revenue"] / daily["orders"]).round(2),
                "unique_customers": daily["orders"] // 2,
                "refunded_amount": np.zeros(len(daily)),
            },
        ),
        None,
    )
    stock = rng.integers(0, 300, len(day_of))
    cover = np.round(stock / np.maximum(units, 1), 1)
    status = np.select([stock <= 0, stock <= 10, units <= 0], ["OUT", "LOW", "DEAD"], "OK")
    price = np.round(rng.uniform(1.5, 45, products), 2)[product_of - 1]
    store.replace(
        TABLES["stock_snapshot"],
        contract_frame(
            "stock_snapshot",
            {
                "snapshot_date": day_of,
                "product_id": product_of,
                "sku": skus,
                "name": names,
                "category": categories,
                "stock_quantity": stock,
                "low_stock_threshold": np.full(len(day_of), 10),
                "unit_price": price,
                "cost_price": np.round(price * 0.6, 2),
                "stock_value": np.round(stock * price * 0.6, 2),
                "days_of_cover": cover,
                "status": pd.array(status, dtype="string"),
            },
        ),
        None,
    )
    snapshot = pd.DataFrame({"snapshot_date": day_of, "status": status, "value": stock * price * 0.6, "cover": cover})
    kpis = snapshot.groupby("snapshot_date").agg(
        products=("status", "size"),
        total_stock_value=("value", "sum"),
        low_stock_products=("status", lambda s: int((s == "LOW").sum())),
        out_of_stock_products=("status", lambda s: int((s == "OUT").sum())),
        dead_stock_products=("status", lambda s: int((s == "DEAD").sum())),
        median_days_of_cover=("cover", "median"),
    )
    kpis["reorder_suggestions"] = kpis["low_stock_products"] + kpis["out_of_stock_products"]
    kpis["total_stock_value"] = kpis["total_stock_value"].round(2)
    store.replace(TABLES["stock_kpis"], contract_frame("stock_kpis", kpis.reset_index().to_dict("series")), None)
    alerting = np.isin(status, ["LOW", "OUT"])
    store.replace(
        TABLES["stock_alerts"],
        contract_frame(
            "stock_alerts",
            {
                "snapshot_date": day_of[alerting],
                "product_id": product_of[alerting],
                "sku": skus[alerting],
                "name": names[alerting],
                "category": categories[alerting],
                "status": pd.array(status[alerting], dtype="string"),
                "stock_quantity": stock[alerting],
                "reorder_level": np.full(int(alerting.sum()), 10),
                "avg_daily_units": units[alerting],
                "days_of_cover": cover[alerting],
                "suggested_reorder_qty": rng.integers(10, 80, int(alerting.sum())),
                "lead_time_days": np.full(int(alerting.sum()), 7),
                "safety_stock_days": np.full(int(alerting.sum()), 3),
                "stock_value": np.zeros(int(alerting.sum())),
            },
        ),
        None,
    )


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api(url: str, port: int, workers: int, work: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SALESFLOW_", "JAVA_"))}
    env |= {
        "JAVA_JWT_SECRET": SECRET,
        "SALESFLOW_API_WAREHOUSE_URL": url,
        "SALESFLOW_DATA_DIR": str(work),
        "SALESFLOW_API_POOL_SIZE": "8",
    }
    command = [sys.executable, "-m", "salesflow_pipelines.cli", "api", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"salesflow api exited: {process.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if connection.recv(64).startswith(b"HTTP/1.1 200"):
                    return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("salesflow api did not answer within 120 s")


# -- the clients ------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: GET and read the answer (Content-Length bodies)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, int]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length)
        return status, len(body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def cold_answers(port: int, token: str) -> dict[str, float]:
    """Each route's first answer, one at a time: computed from the tables, then cached."""
    connection = Connection(port, token)
    seconds = {}
    for path in ROUTES:
        started = time.perf_counter()
        status, _ = await connection.get(path)
        seconds[path] = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    await connection.close()
    return seconds


async def load(
    port: int, token: str, clients: int, seconds: float, max_requests: int
) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal failures
        connection = Connection(port, token)
        turn = number
        while time.perf_counter() < stop_at and len(latencies) < max_requests:
            path = ROUTES[turn % len(ROUTES)]
            turn += 1
            started = time.perf_counter()
            status, _ = await connection.get(path)
            latencies.append(time.perf_counter() - started)
            failures += status != 200
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(number) for number in range(clients)))
    return latencies, time.perf_counter() - started, failures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the clients run")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="creates and drops the scratch database")
    parser.add_argument("--quick", action="store_true", help="30 days x 20 products, 10 clients, 2 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.products, args.clients, args.seconds = 30, 20, 10, 2.0
    token = jwt.encode({"sub": "bench", "role": "USER", "iss": "salesflow-app", "exp": int(time.time()) + 3600}, SECRET)
    role = f"salesflow_reader_bench_{uuid.uuid4().hex[:8]}"
    with scratch_postgres(args.admin_url) as url, tempfile.TemporaryDirectory(prefix="bench-api-") as work:
        started = time.perf_counter()
        fill(url, args.days, args.products)
        grant_reader(url, role=role)
        reader_url = as_user(url, role)
        print(
            f"warehouse: {args.days} days x {args.products} products "
            f"({args.days * args.products:,} product days) written in {time.perf_counter() - started:.1f} s"
        )
        port = free_port()
        process = start_api(reader_url, port, args.workers, Path(work))
        try:
            cold = asyncio.run(cold_answers(port, token))
            latencies, elapsed, failures = asyncio.run(
                load(port, token, args.clients, args.seconds, max_requests=2_000_000)
            )
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    with psycopg.connect(args.admin_url, autocommit=True) as admin:  # its grants went with the database
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    for path, seconds in cold.items():
        print(f"cold {path.removeprefix('/api/v1'):<36} {seconds * 1000:7.1f} ms")
    milliseconds = [value * 1000 for value in latencies]
    print(
        f"analytics routes: {args.clients} clients, p50 {percentile(milliseconds, 0.50):.1f} ms, "
        f"p95 {percentile(milliseconds, 0.95):.1f} ms, {len(latencies) / elapsed:,.0f} requests/s "
        f"({len(latencies):,} answers in {elapsed:.1f} s, p99 {percentile(milliseconds, 0.99):.1f} ms, "
        f"mean {statistics.fmean(milliseconds):.1f} ms, {failures} not 200, {args.workers} worker(s))"
    )
    if failures:
        sys.exit(f"{failures} answers were not 200")


if __name__ == "__main__":
    main()
