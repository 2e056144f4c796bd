"""A 365-day single-run backfill of the daily graph from the demo source: wall time, peak RSS, step times.

    python benchmarks/bench_backfill.py                       # 365 days x 2,000 orders/day, SQLite warehouse
    python benchmarks/bench_backfill.py --warehouse postgres  # the real PostgreSQL (a scratch database)
    python benchmarks/bench_backfill.py --warehouse both
    python benchmarks/bench_backfill.py --quick               # CI: 7 days x 50 orders/day

Everything the daily job selects (ingestion, cleaning, KPI tables; the same assets and IO
managers as the code location) is materialized with `dg.materialize` (in-process executor)
over one partition range in one run, as `dagster asset materialize --partition-range` or a
launch of `daily_sales_job` with a range does (every asset has `BackfillPolicy.single_run()`,
which the script checks). Frames go to a temporary folder, the warehouse is a
temporary SQLite file or a PostgreSQL database created for the run and dropped after it
(admin URL from SALESFLOW_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from datetime import date, timedelta

import dagster as dg

for category in (DeprecationWarning, dg.BetaWarning, dg.PreviewWarning):  # as in the test suite's settings
    warnings.filterwarnings("ignore", category=category)

from salesflow_pipelines.defs.cleaning import assets as cleaning_assets  # noqa: E402
from salesflow_pipelines.defs.ingestion import assets as ingestion_assets  # noqa: E402
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager  # noqa: E402
from salesflow_pipelines.defs.kpis import assets as kpi_assets  # noqa: E402
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, SalesSource  # noqa: E402

try:
    from benchmarks.scratch_db import scratch_postgres
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from scratch_db import scratch_postgres

FIRST_DAY = date(2025, 1, 1)  # the first daily partition (SALESFLOW_START_DATE's default)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def daily_assets() -> list:
    """The daily graph's assets, each of which backfills a range in one run."""
    assets = dg.load_assets_from_modules([ingestion_assets, cleaning_assets, kpi_assets])
    for asset in assets:
        if asset.backfill_policy != dg.BackfillPolicy.single_run():
            raise RuntimeError(f"{asset.key.to_user_string()} would not backfill a range in one run")
    return assets


def backfill(
    warehouse_url: str, frames_dir: str, orders_per_day: int, first: date, last: date
) -> dg.ExecuteInProcessResult:
    resources = {
        "sales_source": SalesSource(kind="demo", demo=DemoSource(orders_per_day=orders_per_day), java=JavaApi()),
        "data_quality": DataQuality(),
        "parquet_io_manager": ParquetIOManager(base_path=frames_dir),
        "warehouse_io_manager": WarehouseIOManager(url=warehouse_url),
    }
    return dg.materialize(
        daily_assets(),
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )


def step_seconds(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    """Wall seconds of each step, as Dagster reports them."""
    return {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS
    }


def rows_written(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    """Rows of each asset's output (each partition's materialization carries the run's count)."""
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        count = materialization.metadata.get("rows_in_run") or materialization.metadata.get("dagster/row_count")
        if count is not None:
            rows[materialization.asset_key.to_user_string()] = int(count.value)
    return rows


def run(label: str, warehouse_url: str, orders_per_day: int, days: int) -> None:
    last = FIRST_DAY + timedelta(days=days - 1)
    with tempfile.TemporaryDirectory(prefix="salesflow-backfill-") as folder:
        started = time.perf_counter()
        result = backfill(
            warehouse_url(folder) if callable(warehouse_url) else warehouse_url,
            os.path.join(folder, "frames"),
            orders_per_day,
            FIRST_DAY,
            last,
        )
        elapsed = time.perf_counter() - started
    assert result.success
    rows = rows_written(result)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label}: {days} days {FIRST_DAY}..{last} x {orders_per_day:,} orders/day in one run: {elapsed:.1f} s, "
        f"peak RSS {peak:,.0f} MB (the process's, so far)"
    )
    print(f"  raw sale lines {rows.get('raw_sales', 0):,}, valid lines {rows.get('sales_lines', 0):,}")
    for step, seconds in sorted(step_seconds(result).items(), key=lambda item: -item[1]):
        print(f"  {step:<24} {seconds:7.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=2000)
    parser.add_argument("--warehouse", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="7 days x 50 orders/day: only proves the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.orders_per_day = 7, 50
    if args.warehouse in ("sqlite", "both"):
        run(
            "SQLite warehouse",
            lambda folder: f"sqlite:///{os.path.join(folder, 'warehouse.db')}",
            args.orders_per_day,
            args.days,
        )
    if args.warehouse in ("postgres", "both"):
        with scratch_postgres() as url:
            run("PostgreSQL warehouse", url, args.orders_per_day, args.days)


if __name__ == "__main__":
    main()
