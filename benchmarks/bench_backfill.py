"""A single-run backfill of the daily graph from the demo source, as the code location runs it:
wall time, the compute-only floor of the same lines and the ratio, peak RSS, step times and the
cost of the events the run stores.

    python benchmarks/bench_backfill.py                       # 365 days x 2,000 orders/day, SQLite warehouse
    python benchmarks/bench_backfill.py --warehouse postgres  # the warehouse in PostgreSQL (a scratch database)
    python benchmarks/bench_backfill.py --warehouse both      # one after the other, each in a fresh process
    python benchmarks/bench_backfill.py --instance postgres   # Dagster's storage as deployed: PostgreSQL
    python benchmarks/bench_backfill.py --days 1825           # five years in one run
    python benchmarks/bench_backfill.py --profile run.pstats  # cProfile the run
    python benchmarks/bench_backfill.py --quick               # CI: 7 days x 50 orders/day

The run is what a launch of `daily_sales_job` over a partition range (or an asset backfill:
every daily asset has `BackfillPolicy.single_run()`, which the script checks) executes: the job
of the code location (`salesflow_pipelines.definitions`, its resources and IO managers from
the environment: demo source, frames under a temporary SALESFLOW_DATA_DIR, the warehouse a
temporary SQLite file or a PostgreSQL database made for the run and dropped after it) through
`dg.execute_job` with the in-process executor, on a persistent Dagster instance whose storage
is the one the repo configures: the `storage:` of dagster.yaml (the embedded default, SQLite,
its files under a temporary DAGSTER_HOME) or, with `--instance postgres`, of deploy/dagster.yaml
(its DAGSTER_PG_* variables pointing at a scratch database); `--instance-yaml` takes it from
another file. Every event, one materialization per asset and day among them, is stored there
as in production: the script times the storage's writes (per event) and checks that every
asset shows every day materialized.

The compute floor runs the library calls alone (lib.cleaning, lib.kpis, lib.stock) on the same
frames: no Dagster, no files, no warehouse. The ratio backfill / floor is what the pipeline
costs on top of its arithmetic. PostgreSQL admin URL: SALESFLOW_TEST_PG_URL, default
postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlparse

import dagster as dg
import pandas as pd

for category in (DeprecationWarning, dg.BetaWarning, dg.PreviewWarning):  # as in the test suite's settings
    warnings.filterwarnings("ignore", category=category)

try:
    from benchmarks.scratch_db import scratch_postgres
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from scratch_db import scratch_postgres

DEFAULT_FIRST_DAY = date(2025, 1, 1)  # SALESFLOW_START_DATE's default, the first daily partition
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def first_day(days: int) -> date:
    """2025-01-01, or earlier when `days` from it would reach today (the partitions end there)."""
    latest_first = date.today() - timedelta(days=days)
    return min(DEFAULT_FIRST_DAY, latest_first.replace(month=1, day=1))


def daily_sales_job() -> dg.JobDefinition:
    """`daily_sales_job` of the code location, as the run worker loads it."""
    from salesflow_pipelines.definitions import defs

    return defs.resolve_job_def("daily_sales_job")


def check_single_run_policy(job: dg.JobDefinition) -> None:
    graph = job.asset_layer.asset_graph
    for key in job.asset_layer.selected_asset_keys:
        if graph.get(key).backfill_policy != dg.BackfillPolicy.single_run():
            raise RuntimeError(f"{key.to_user_string()} would not backfill a range in one run")


class EventCost:
    """Counts and times the writes of the instance's event log storage (a batch as its events)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.seconds = 0.0
        self.events: Counter[str] = Counter()
        self._depth = 0  # a batch may store its events through store_event: counted once
        storage = instance.event_log_storage
        for name in ("store_event", "store_event_batch"):
            setattr(storage, name, self._timed(getattr(storage, name), batch=name == "store_event_batch"))

    def _timed(self, method, batch: bool):
        def timed(events):
            self._depth += 1
            started = time.perf_counter()
            try:
                return method(events)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.seconds += time.perf_counter() - started
                    for event in events if batch else [events]:
                        self.events[event.dagster_event_type.value if event.dagster_event_type else "log"] += 1

        return timed

    @property
    def count(self) -> int:
        return sum(self.events.values())


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCE_YAML = {"sqlite": os.path.join(REPO, "dagster.yaml"), "postgres": os.path.join(REPO, "deploy", "dagster.yaml")}


def rebased(config, home: str):
    """`config` with every `base_dir` moved under `home` (relative ones as they are, under it)."""
    if isinstance(config, dict):
        return {
            key: os.path.join(home, str(value).lstrip("/")) if key == "base_dir" else rebased(value, home)
            for key, value in config.items()
        }
    return config


@contextlib.contextmanager
def dagster_instance(kind: str, folder: str, instance_yaml: str | None) -> Iterator[dg.DagsterInstance]:
    """An instance whose storage is the `storage:` of the repo's dagster.yaml (`sqlite`, the local
    instance, its files under a temporary DAGSTER_HOME) or of deploy/dagster.yaml (`postgres`, its
    DAGSTER_PG_* variables pointing at a scratch database)."""
    import yaml

    home = os.path.join(folder, "dagster_home")
    os.makedirs(home)
    with open(instance_yaml or INSTANCE_YAML[kind]) as file:
        storage = yaml.safe_load(file)["storage"]
    overrides = {"telemetry": {"enabled": False}}
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            overrides["storage"] = rebased(storage, home)
        else:
            url = urlparse(stack.enter_context(scratch_postgres()))
            os.environ.update(
                {
                    "DAGSTER_PG_HOST": url.hostname or "127.0.0.1",
                    "DAGSTER_PG_PORT": str(url.port or 5432),
                    "DAGSTER_PG_USER": url.username or "postgres",
                    "DAGSTER_PG_PASSWORD": url.password or "",
                    "DAGSTER_PG_DB": url.path.lstrip("/"),
                }
            )
            overrides["storage"] = storage
        yield stack.enter_context(dg.DagsterInstance.local_temp(home, overrides=overrides))


@contextlib.contextmanager
def warehouse(kind: str, folder: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{os.path.join(folder, 'warehouse.db')}"
        return
    with scratch_postgres() as url:
        yield url


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backfill(args: argparse.Namespace, first: date, last: date) -> float:
    with (
        tempfile.TemporaryDirectory(prefix="salesflow-backfill-") as folder,
        warehouse(args.warehouse, folder) as warehouse_url,
        dagster_instance(args.instance, folder, args.instance_yaml) as instance,
    ):
        # The code location reads these when it is loaded (after this point, in this process).
        os.environ.update(
            {
                "SALESFLOW_DATA_DIR": os.path.join(folder, "data"),
                "SALESFLOW_WAREHOUSE_URL": warehouse_url,
                "SALESFLOW_DEMO_ORDERS_PER_DAY": str(args.orders_per_day),
                "SALESFLOW_START_DATE": first.isoformat(),
                "SALESFLOW_SOURCE": "demo",
            }
        )
        os.environ.pop("SALESFLOW_EXECUTOR", None)  # the code location's default: in process
        job = daily_sales_job()
        check_single_run_policy(job)
        cost = EventCost(instance)
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
        profile = cProfile.Profile() if args.profile else contextlib.nullcontext()
        cpu_before, started = cpu_seconds(), time.perf_counter()
        with (
            profile,
            dg.execute_job(dg.reconstructable(daily_sales_job), instance, run_config=QUIET, tags=tags) as result,
        ):
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
            if not result.success:
                raise RuntimeError("the backfill run failed")
            run_id = result.run_id
        peak = peak_rss_mb()
        if args.profile:
            profile.dump_stats(args.profile)
        days = (last - first).days + 1
        print(
            f"{args.warehouse_label} warehouse: {days} days {first}..{last} x {args.orders_per_day:,} orders/day, "
            f"{args.instance_label} Dagster instance, in one run: {elapsed:.1f} s, peak RSS {peak:,.0f} MB"
        )
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"  CPU of this process: {cpu:.1f} s; load average {load} on {os.cpu_count()} cores (shared machine)")
        report_events(instance, job, run_id, cost, days)
        report_steps(instance, run_id)
    return elapsed


def report_events(instance: dg.DagsterInstance, job: dg.JobDefinition, run_id: str, cost: EventCost, days: int) -> None:
    materializations = cost.events.get("ASSET_MATERIALIZATION", 0)
    print(
        f"  events stored: {cost.count:,} ({materializations:,} materializations) in {cost.seconds:.2f} s, "
        f"{1000 * cost.seconds / max(cost.count, 1):.2f} ms/event"
    )
    print("    " + ", ".join(f"{kind} {count:,}" for kind, count in cost.events.most_common()))
    keys = sorted(job.asset_layer.selected_asset_keys)
    short = [key.to_user_string() for key in keys if len(instance.get_materialized_partitions(key)) < days]
    if short:
        raise RuntimeError(f"not every day shown materialized for {', '.join(short)}")
    print(f"  every day of all {len(keys)} assets shown materialized ({len(keys) * days:,} asset partitions)")


def report_steps(instance: dg.DagsterInstance, run_id: str) -> None:
    stats = instance.get_run_step_stats(run_id)
    for step in sorted(stats, key=lambda step: step.start_time - step.end_time):
        print(f"  {step.step_key:<24} {step.end_time - step.start_time:7.2f} s")


def compute_floor(orders_per_day: int, first: date, last: date) -> float:
    """Seconds of the library calls alone on the backfill's frames (made untimed beforehand)."""
    from salesflow_pipelines.defs.resources import DemoSource
    from salesflow_pipelines.lib.analytics import cleaning, kpis, stock

    source = DemoSource(orders_per_day=orders_per_day)
    started = time.perf_counter()
    raw = source.fetch_sales(first, last)
    products = source.fetch_products_range([day.date() for day in pd.date_range(first, last)])
    made = time.perf_counter() - started
    days = pd.date_range(first, last)
    history = {
        "daily": pd.date_range(first - timedelta(days=kpis.GROWTH_LAG_DAYS), last),
        "customer": pd.date_range(first - timedelta(days=kpis.RETURNING_LOOKBACK_DAYS), last),
    }
    timings: dict[str, float] = {}

    def timed(name, fn, *args):
        started = time.perf_counter()
        value = fn(*args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
        return value

    def clean(raw_lines):
        cleaned = cleaning.clean_sales(raw_lines, cleaning.category_lookup(products), overwrite_raw=True)
        cleaning.reject_rates_by_day(cleaned)
        return cleaned

    lines = timed("clean_sales", clean, raw).lines
    del raw
    snapshot = timed("stock_snapshot", stock.stock_snapshot, products, lines)
    timed("daily_sales_kpis", kpis.daily_sales, lines, history["daily"])
    timed("product_daily_sales", lambda: stock.named_from_catalog(kpis.product_daily(lines), products))
    timed("region_daily_sales", kpis.region_daily, lines)
    timed("category_daily_sales", kpis.category_daily, lines)
    timed("customer_daily_kpis", kpis.customer_daily, lines, history["customer"])
    timed("stock_kpis", stock.stock_kpis, snapshot)
    floor = sum(timings.values())
    print(
        f"compute floor (lib.cleaning/kpis/stock on the same {len(lines):,} valid lines, {len(days)} days; "
        f"no Dagster, no IO): {floor:.1f} s (frames made beforehand in {made:.1f} s, not counted)"
    )
    print("  " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in sorted(timings.items(), key=lambda i: -i[1])))
    return floor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=2000)
    parser.add_argument("--warehouse", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--instance", choices=("sqlite", "postgres"), default="sqlite", help="Dagster's run and event storage"
    )
    parser.add_argument(
        "--instance-yaml", help="take the instance's storage from this dagster.yaml instead of the repo's"
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the run into FILE (pstats)")
    parser.add_argument("--no-floor", action="store_true", help="skip the compute-only floor")
    parser.add_argument("--quick", action="store_true", help="7 days x 50 orders/day: only proves the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.orders_per_day = 7, 50
    if args.warehouse == "both":
        # Each in a process of its own: the code location reads the warehouse URL when it is
        # loaded, and peak RSS is then each run's own.
        for kind in ("sqlite", "postgres"):
            forwarded = [arg for arg in (argv if argv is not None else sys.argv[1:]) if arg not in ("both",)]
            forwarded = [arg for arg in forwarded if arg != "--warehouse" and not arg.startswith("--warehouse=")]
            subprocess.run([sys.executable, __file__, *forwarded, "--warehouse", kind], check=True)
        return
    args.warehouse_label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[args.warehouse]
    args.instance_label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[args.instance]
    first = first_day(args.days)
    last = first + timedelta(days=args.days - 1)
    elapsed = backfill(args, first, last)
    if not args.no_floor:
        floor = compute_floor(args.orders_per_day, first, last)
        print(f"backfill / compute floor: {elapsed:.1f} s / {floor:.1f} s = {elapsed / floor:.1f}x")


if __name__ == "__main__":
    main()
