"""The Materialize button: an asset backfill of the daily graph launched as the UI launches it.

    python benchmarks/bench_ui_backfill.py              # the last 30 days x 200 orders/day
    python benchmarks/bench_ui_backfill.py --last-day 2025-06-30   # 30 days of the past
    python benchmarks/bench_ui_backfill.py --launch single-run     # "Pass partition ranges to single run"
    python benchmarks/bench_ui_backfill.py --quick      # CI: 3 days x 50 orders/day

The deployment's processes run on loopback (code server, webserver, daemon; the instance of
deploy/dagster.yaml in a PostgreSQL database made for the run, warehouse in its `analytics`
schema, demo source, frames in a temporary folder; e2e/stack.py). The schedules are stopped before
the daemon starts, the sensors stay on as deployed. The benchmark sends GraphQL
`launchPartitionBackfill` with the assets of `daily_sales_job` and the days (what "Materialize
all… → Launch backfill" sends) and times the backfill by its own timestamps: created (the
mutation) -> completed (marked by the daemon). Then it prints where the time went: each run the
daemon launched, when it was queued (by an iteration of the backfill daemon), launched (by the
run queue), its process up, its steps done, its executor, and what else ran meanwhile.

The backfill daemon pauses `--backfill-interval` seconds between iterations (deploy/dagster.yaml's
`backfill_interval_seconds`; Dagster's own pause is 30 s, which `--backfill-interval 30` restores:
salesflow_pipelines/backfill_daemon.py): the backfill waits up to one pause for the first
iteration, each dependency level the daemon launches separately costs one more, and the iteration
after the last run marks it completed. The window matters: ending at the newest partition (the
default), every asset targets the same days and the whole graph is one run; a window of past days
adds the following days to the look-back assets' targets (their partition mappings), which then
run in later iterations.

`--launch single-run` launches what the same dialog launches with "Pass partition ranges to
single run" ticked: one `__ASSET_JOB` run with the range tags, created by the webserver and
started by the run queue, no backfill daemon involved.

`--dequeue-interval` is the run queue's poll interval (instance setting
`run_coordinator.config.dequeue_interval_seconds`: deploy/dagster.yaml's 1 unless given, Dagster's
default 5). `--planned-events per-asset` sets DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1
(one planned event per asset of a range run instead of one per asset and day, written while the
daemon creates the run). Admin connection for the scratch database: SALESFLOW_TEST_PG_URL, else
postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from salesflow_pipelines_tests.e2e.dagster_api import FINISHED, UI_TAGS
from salesflow_pipelines_tests.e2e.stack import (
    DAILY_ASSETS,
    REPO,
    backfill_finished,
    dagster_stack,
    executor_of,
    stop_schedules,
)

try:
    from benchmarks.scratch_db import scratch_postgres
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from scratch_db import scratch_postgres

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
DEPLOYED_INSTANCE = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
# The run lifecycle events shown, in order.
MILESTONES = {
    "RunEnqueuedEvent": "queued",
    "RunStartingEvent": "launched",
    "RunStartEvent": "process up",
    "RunSuccessEvent": "done",
    "RunFailureEvent": "failed",
}


def milestones(events: list[dict], origin: float) -> dict[str, float]:
    """Seconds from `origin` to the first event of each milestone."""
    seen: dict[str, float] = {}
    for event in events:
        name = MILESTONES.get(event["__typename"])
        if name and name not in seen:
            seen[name] = int(event["timestamp"]) / 1000 - origin
    return seen


def report(api, runs: list[tuple[str, list[str]]], origin: float) -> tuple[list[str], list[str], float]:
    """Lines describing each of `runs` (run id, assets), then the instance's other runs; the runs'
    executors; and the seconds during which at least one of `runs` was queued or going."""
    lines, executors, spans = [], [], []
    for run_id, assets in runs:
        events = api.run_events(run_id)
        seen = milestones(events, origin)
        executors.append(executor_of(events))
        steps = sum(event["__typename"] == "ExecutionStepSuccessEvent" for event in events)
        marks = "  ".join(f"{name} +{seconds:.1f}" for name, seconds in seen.items())
        lines.append(f"  run {run_id[:8]}, {executors[-1]}, {steps} steps [{', '.join(sorted(assets))}]\n    {marks}")
        if "queued" in seen:
            spans.append((seen["queued"], seen.get("done", seen.get("failed", seen["queued"]))))
    ours = {run_id for run_id, _ in runs}
    for run in sorted(api.runs(), key=lambda run: run["startTime"] or 0):
        if run["runId"] in ours or not run["startTime"]:
            continue
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        why = tags.get("dagster/sensor_name") or tags.get("dagster/schedule_name") or "launched"
        end = f"+{run['endTime'] - origin:.1f}" if run["endTime"] else "still going"
        lines.append(f"  meanwhile: {run['jobName']} ({why}) +{run['startTime'] - origin:.1f} .. {end}")
    busy, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        busy += max(0.0, end - max(start, reached))
        reached = max(reached, end)
    return lines, executors, busy


def as_backfill(stack, days: list[str]) -> tuple[str, list[tuple[str, list[str]]], float, float]:
    """ "Materialize all… → Launch backfill": (outcome, runs, created, completed)."""
    backfill = backfill_finished(stack, stack.api.launch_asset_backfill(DAILY_ASSETS, days), timeout=900)
    runs = [
        (run["runId"], [key["path"][-1] for key in run["assetSelection"] or []])
        for run in sorted(backfill["runs"], key=lambda run: run["creationTime"])
    ]
    outcome = "SUCCESS" if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS") else backfill["status"]
    return outcome, runs, backfill["timestamp"], backfill["endTimestamp"] or time.time()


def as_single_run(stack, days: list[str]) -> tuple[str, list[tuple[str, list[str]]], float, float]:
    """The same dialog with "Pass partition ranges to single run" ticked: one `__ASSET_JOB` run with
    the range tags, launched by the webserver, no backfill daemon. (outcome, runs, launched, done)."""
    launched = time.time()
    tags = {RANGE_START: days[0], RANGE_END: days[-1], **UI_TAGS}
    run_id = stack.api.launch("__ASSET_JOB", tags, asset_selection=[[asset] for asset in DAILY_ASSETS])
    run = stack.group.wait_for(
        "the run", lambda: (run := stack.api.run(run_id))["status"] in FINISHED and run, timeout=900, interval=1
    )
    return run["status"], [(run_id, list(DAILY_ASSETS))], launched, run["endTime"]


LAUNCHES = {"backfill": as_backfill, "single-run": as_single_run}


def instance(dequeue_interval: int, backfill_interval: int) -> dict:
    """deploy/dagster.yaml with the run queue's and the backfill daemon's intervals replaced."""
    config = copy.deepcopy(DEPLOYED_INSTANCE)
    config["run_coordinator"]["config"].update(
        dequeue_interval_seconds=dequeue_interval, backfill_interval_seconds=backfill_interval
    )
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--last-day", type=date.fromisoformat, help="the window's last day (default: yesterday, the newest partition)"
    )
    parser.add_argument("--orders-per-day", type=int, default=200)
    coordinator = DEPLOYED_INSTANCE["run_coordinator"]["config"]
    parser.add_argument(
        "--dequeue-interval",
        type=int,
        default=coordinator["dequeue_interval_seconds"],
        help="run queue poll interval, seconds (default: deploy/dagster.yaml's)",
    )
    parser.add_argument(
        "--backfill-interval",
        type=int,
        default=coordinator["backfill_interval_seconds"],
        help="the backfill daemon's pause between iterations, seconds (default: deploy/dagster.yaml's; Dagster's: 30)",
    )
    parser.add_argument("--planned-events", choices=("per-partition", "per-asset"), default="per-partition")
    parser.add_argument(
        "--launch",
        choices=tuple(LAUNCHES),
        default="backfill",
        help="single-run: the dialog's 'Pass partition ranges to single run' instead of a backfill",
    )
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument("--quick", action="store_true", help="3 days x 50 orders/day: only proves the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.orders_per_day = 3, 50
    last_day = args.last_day or datetime.now(UTC).date() - timedelta(days=1)
    days = [(last_day - timedelta(days=n)).isoformat() for n in reversed(range(args.days))]
    env = {"SALESFLOW_SOURCE": "demo", "SALESFLOW_DEMO_ORDERS_PER_DAY": str(args.orders_per_day)}
    if args.planned_events == "per-asset":
        env["DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"] = "1"

    with tempfile.TemporaryDirectory(prefix="salesflow-ui-backfill-") as folder, scratch_postgres() as database:
        started = time.monotonic()
        with dagster_stack(
            Path(folder),
            args.logs or Path(folder) / "logs",
            database,
            instance=instance(args.dequeue_interval, args.backfill_interval),
            before_daemon=stop_schedules,
            **env,
        ) as stack:
            load = os.getloadavg()[0]
            print(f"processes up in {time.monotonic() - started:.1f} s (not counted); load average {load:.1f}")
            outcome, runs, began, ended = LAUNCHES[args.launch](stack, days)
            lines, executors, busy = report(stack.api, runs, began)
    if outcome != "SUCCESS":
        raise SystemExit(f"the {args.launch} of the daily graph ended {outcome}\n" + "\n".join(lines))
    seconds = ended - began
    print(
        f"{days[0]}..{days[-1]} x {args.orders_per_day:,} orders/day, run queue polled every "
        f"{args.dequeue_interval} s, backfill daemon every {args.backfill_interval} s, planned events "
        f"{args.planned_events}; seconds since the launch:"
    )
    print("\n".join(lines))
    print(f"  finished +{seconds:.1f}: runs queued or going {busy:.1f} s, the rest waiting for a daemon")
    print(
        f"  executors: {', '.join(sorted(set(executors)))}; {os.cpu_count()} cores, load average {load:.1f} at launch"
    )
    what = "ui backfill" if args.launch == "backfill" else "ui single run"
    print(f"{what}: {args.days} days, {len(DAILY_ASSETS)} assets, {len(runs)} runs, {seconds:.1f} s")


if __name__ == "__main__":
    main()
