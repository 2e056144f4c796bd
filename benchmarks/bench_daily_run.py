"""The daily run of one partition, end to end through Dagster: wall time per executor.

    python benchmarks/bench_daily_run.py                      # one day at 2,000 orders/day after 90 days, in process
    python benchmarks/bench_daily_run.py --executor both      # and with a process per step (minutes)
    python benchmarks/bench_daily_run.py --repeat 5
    python benchmarks/bench_daily_run.py --instance postgres  # Dagster's storage in PostgreSQL
    python benchmarks/bench_daily_run.py --quick              # CI: proves it runs (raw_sales only, one run each)

The daily graph of the code location (`daily_sales_job`'s selection, resources from the
environment as in deployment: demo source, Parquet frames in a temporary folder, the warehouse
in a PostgreSQL database made for the run) runs for one day through `dg.execute_job` on a
persistent instance whose storage is the repo's dagster.yaml's (SQLite under a temporary
DAGSTER_HOME, as `bench_backfill.py` makes it; `--instance postgres`: deploy/dagster.yaml's in
a scratch database), with the in-process executor (the code location's default) and, with
`--executor both`, the multiprocess one (a process per step, as many at once as there are
cores), alternately `--repeat` times. The days before it are backfilled first in one untimed
run, so the lookback inputs (the week before, the 90 days before) load real files as on any
day in production. Each run's events and the time the instance took to store them are
printed with it. Admin connection for the scratch databases: SALESFLOW_TEST_PG_URL, else
postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from datetime import date, timedelta

import dagster as dg

for category in (DeprecationWarning, dg.BetaWarning, dg.PreviewWarning):  # as in the test suite's settings
    warnings.filterwarnings("ignore", category=category)
logging.getLogger("dagster").setLevel(logging.WARNING)  # step processes announce themselves at DEBUG

try:
    from benchmarks.bench_backfill import EventCost, cpu_seconds, dagster_instance
    from benchmarks.scratch_db import scratch_postgres
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_backfill import EventCost, cpu_seconds, dagster_instance
    from scratch_db import scratch_postgres

DAY = date(2025, 6, 2)  # a Monday; its 90 days of history start after the first partition
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def daily_job(executor: dg.ExecutorDefinition) -> dg.JobDefinition:
    """`daily_sales_job` of the code location, run by `executor`."""
    from salesflow_pipelines.definitions import defs
    from salesflow_pipelines.defs.jobs import daily_sales_job

    name = f"daily_sales_job_{executor.name}"
    variant = dg.define_asset_job(
        name,
        selection=daily_sales_job.selection,
        partitions_def=daily_sales_job.partitions_def,
        executor_def=executor,
    )
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[variant])).resolve_job_def(name)


def in_process_job() -> dg.JobDefinition:
    return daily_job(dg.in_process_executor)


def multiprocess_job() -> dg.JobDefinition:
    return daily_job(dg.multiprocess_executor)


JOBS = {"in-process": in_process_job, "multiprocess": multiprocess_job}


def run(
    job_name: str, instance: dg.DagsterInstance, tags: dict[str, str], assets: list[dg.AssetKey] | None = None
) -> float:
    """Wall seconds of one run of the job (of `assets` only, when given), which must succeed."""
    started = time.perf_counter()
    job = dg.reconstructable(JOBS[job_name])
    result = dg.execute_job(job, instance, run_config=QUIET, tags=tags, asset_selection=assets)
    elapsed = time.perf_counter() - started
    if not result.success:
        raise RuntimeError(f"the {job_name} run of the daily graph failed")
    return elapsed


def backfill_history(instance: dg.DagsterInstance, days: int) -> None:
    """The `days` days before `DAY`, in one untimed in-process run."""
    first, last = DAY - timedelta(days=days), DAY - timedelta(days=1)
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    print(f"history: {first}..{last} in one run, {run('in-process', instance, tags):.1f} s (not counted)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders-per-day", type=int, default=2000)
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3, help="runs per executor, alternating")
    parser.add_argument("--executor", choices=("in-process", "multiprocess", "both"), default="in-process")
    parser.add_argument("--instance", choices=("sqlite", "postgres"), default="sqlite", help="Dagster's storage")
    parser.add_argument(
        "--instance-yaml", help="take the instance's storage from this dagster.yaml instead of the repo's"
    )
    parser.add_argument("--quick", action="store_true", help="raw_sales only, 50 orders/day, one run each")
    args = parser.parse_args(argv)
    # A step process takes seconds to start: the quick mode runs one step, not the graph.
    timed_assets = [dg.AssetKey("raw_sales")] if args.quick else None
    if args.quick:
        args.orders_per_day, args.history_days, args.repeat = 50, 0, 1

    executors = list(JOBS) if args.executor == "both" else [args.executor]
    with (
        tempfile.TemporaryDirectory(prefix="salesflow-daily-") as folder,
        scratch_postgres() as warehouse_url,
        dagster_instance(args.instance, folder, args.instance_yaml) as instance,
    ):
        # The code location reads these when it is loaded, here and in every step process.
        os.environ["SALESFLOW_DATA_DIR"] = os.path.join(folder, "data")
        os.environ["SALESFLOW_WAREHOUSE_URL"] = warehouse_url
        os.environ["SALESFLOW_DEMO_ORDERS_PER_DAY"] = str(args.orders_per_day)
        if args.history_days:
            backfill_history(instance, args.history_days)

        cost = EventCost(instance)
        timings: dict[str, list[float]] = {name: [] for name in executors}
        for _ in range(args.repeat):
            for name in executors:
                stored, seconds, cpu = cost.count, cost.seconds, cpu_seconds()
                timings[name].append(run(name, instance, {"dagster/partition": DAY.isoformat()}, timed_assets))
                load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
                print(
                    f"  {name} run: {timings[name][-1]:.2f} s (CPU of this process {cpu_seconds() - cpu:.2f} s, "
                    f"load average {load}), {cost.count - stored} events stored in {cost.seconds - seconds:.2f} s"
                )
    what = "raw_sales only" if timed_assets else "the daily graph"
    print(f"daily run of {DAY}, {what}, at {args.orders_per_day:,} orders/day, {os.cpu_count()} cores:")
    for name, runs in timings.items():
        listed = ", ".join(f"{seconds:.1f}" for seconds in runs)
        print(f"  {name:<13} best {min(runs):.1f} s (runs: {listed} s)")
    fastest = min(timings, key=lambda name: min(timings[name]))
    print(f"daily run: {fastest} executor is fastest, {min(timings[fastest]):.1f} s")


if __name__ == "__main__":
    main()
