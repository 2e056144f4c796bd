"""The Materialize button end to end: an asset backfill of the daily graph launched the way the UI
launches it, run by the real daemon, compared with one in-process `daily_sales_job` run.

The code server, webserver and daemon run as processes on loopback against the deployment's
instance, deploy/dagster.yaml (PostgreSQL with batched event writes, the run queue, the backfill
daemon's shorter pause of salesflow_pipelines/backfill_daemon.py; e2e/stack.py: demo source,
warehouse in the instance's database as deployed, schedules stopped, sensors on without SMTP).
The test sends GraphQL `launchPartitionBackfill` with the assets of `daily_sales_job` (groups
ingestion, cleaning, kpis) and the last DAYS days, what
"Materialize all… → Launch backfill" sends, waits for the daemon to complete the backfill, and
checks:

- every partition of every asset was materialized exactly once, by the backfill's runs, and no
  other partition was;
- the daemon launched the runs with the in-process executor (the code location's default for
  every job, `__ASSET_JOB` included), and grouped the whole graph into one range run: the days end
  at the newest partition, so the look-back mappings (stock, growth, returning customers) add no
  later day to the downstream assets' targets and every dependency level targets the same days;
- every table of the daily graph equals, row for row, the same days run as one in-process
  `daily_sales_job` run into a second scratch database;
- the daemon waited for its iterations `backfill_interval_seconds` at a time, not Dagster's 30 s:
  the run was created soon after the launch, and the backfill marked completed soon after the run.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.jobs import daily_sales_job
from salesflow_pipelines.defs.resources import DataQuality, DemoSource, JavaApi, SalesSource
from salesflow_pipelines_tests.conftest import scratch_database
from salesflow_pipelines_tests.defs import daily_graph
from salesflow_pipelines_tests.e2e.stack import (
    DAILY_ASSETS,
    REPO,
    backfill_finished,
    dagster_stack,
    executor_of,
    stop_schedules,
)

DAYS = 6
ORDERS_PER_DAY = 40
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# What compose deploys: deploy/dagster.yaml (its DAGSTER_PG_* variables come from e2e/stack.py).
DEPLOYED_INSTANCE = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
BACKFILL_INTERVAL = DEPLOYED_INSTANCE["run_coordinator"]["config"]["backfill_interval_seconds"]
# Dagster's own pause between backfill iterations, which backfill_daemon.py shortens.
DAGSTER_BACKFILL_INTERVAL = 30
# An iteration runs in the daemon's thread pool after its pause; on a loaded CI machine it may
# take a few seconds to evaluate the backfill and create the run.
ITERATION_SLACK = 10
BACKFILL_TIMEOUT = 180


def logs_dir() -> Path:
    """Kept after the run, beside test_deployment's (CI collects SALESFLOW_E2E_ARTIFACTS)."""
    return Path(os.environ.get("SALESFLOW_E2E_ARTIFACTS") or REPO / ".salesflow" / "e2e") / "ui-backfill-logs"


def daily_sales_job_run(warehouse_url: str, frames_dir: str, first: str, last: str) -> dg.ExecuteInProcessResult:
    """`daily_sales_job` over [first, last] as one in-process run, with the demo source the
    deployment uses."""
    resources = {
        "sales_source": SalesSource(kind="demo", demo=DemoSource(orders_per_day=ORDERS_PER_DAY), java=JavaApi()),
        "data_quality": DataQuality(),
        "parquet_io_manager": ParquetIOManager(base_path=frames_dir),
        "warehouse_io_manager": WarehouseIOManager(url=warehouse_url),
    }
    job = dg.Definitions(assets=daily_graph.DAILY_ASSETS, jobs=[daily_sales_job], resources=resources).resolve_job_def(
        daily_sales_job.name
    )
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags={RANGE_START: first, RANGE_END: last})


def assert_daemon_waited_its_short_interval(backfill: dict) -> None:
    """The backfill's one run was created by the first iteration after the launch, and the backfill
    marked completed by the first after the run: each wait is at most one pause plus an iteration's
    work, well under Dagster's 30 s (with its pause, both waits would stay short only by luck)."""
    assert BACKFILL_INTERVAL + ITERATION_SLACK < DAGSTER_BACKFILL_INTERVAL
    (run,) = backfill["runs"]
    waits = {"launch -> run created": run["creationTime"] - backfill["timestamp"]}
    waits["run done -> backfill completed"] = backfill["endTimestamp"] - run["endTime"]
    assert all(0 <= wait <= BACKFILL_INTERVAL + ITERATION_SLACK for wait in waits.values()), (
        f"the backfill daemon waited longer than its {BACKFILL_INTERVAL} s pause allows: {waits} "
        "(is backfill_interval_seconds in effect? salesflow_pipelines/backfill_daemon.py)"
    )


@pytest.mark.timeout(360)
def test_a_ui_asset_backfill_of_the_daily_graph_equals_one_daily_sales_job_run(tmp_path, capsys):
    selected = daily_sales_job.selection.resolve(daily_graph.DAILY_ASSETS)
    assert set(DAILY_ASSETS) == {key.path[-1] for key in selected}, "the backfill would not select the job's assets"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [(yesterday - timedelta(days=n)).isoformat() for n in reversed(range(DAYS))]
    logs = logs_dir()

    with (
        scratch_database("salesflow_e2e_backfill") as deployed,
        scratch_database("salesflow_e2e_reference") as reference,
        dagster_stack(
            tmp_path,
            logs,
            deployed,
            instance=DEPLOYED_INSTANCE,
            before_daemon=stop_schedules,
            SALESFLOW_SOURCE="demo",
            SALESFLOW_DEMO_ORDERS_PER_DAY=str(ORDERS_PER_DAY),
        ) as stack,
    ):
        api = stack.api
        backfill_id = api.launch_asset_backfill(DAILY_ASSETS, days)
        launched = time.monotonic()

        # While the daemon gets to it: the reference, the same days as one in-process job run.
        result = daily_sales_job_run(reference, str(tmp_path / "reference-frames"), days[0], days[-1])
        assert result.success

        backfill = backfill_finished(stack, backfill_id, timeout=BACKFILL_TIMEOUT)
        seconds = time.monotonic() - launched
        runs = backfill["runs"]
        failures = "\n".join(api.failure_message(run["runId"]) for run in runs if run["status"] != "SUCCESS")
        assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), f"{backfill}\n{failures}"
        assert not failures, failures

        # The runs: in process, the whole graph in one range run over exactly these days.
        executors = {run["runId"]: executor_of(api.run_events(run["runId"])) for run in runs}
        assert set(executors.values()) == {"in-process"}, executors
        assert [sorted(key["path"][-1] for key in run["assetSelection"]) for run in runs] == [sorted(DAILY_ASSETS)], (
            "expected one run of the whole graph (every level targets the same days)"
        )
        tags = {tag["key"]: tag["value"] for tag in api.run(runs[0]["runId"])["tags"]}
        assert (tags.get(RANGE_START), tags.get(RANGE_END)) == (days[0], days[-1]), tags
        assert tags.get("dagster/backfill") == backfill_id
        assert_daemon_waited_its_short_interval(backfill)

        # Every partition of every asset exactly once, by the backfill, and no other partition.
        run_ids = {run["runId"] for run in runs}
        for asset in DAILY_ASSETS:
            materialized = api.materializations(asset, None)
            assert sorted(m["partition"] for m in materialized) == days, asset
            assert {m["runId"] for m in materialized} <= run_ids, asset
        statuses = {
            status["assetKey"]["path"][-1]: status
            for status in backfill["assetBackfillData"]["assetBackfillStatuses"]
            if status["__typename"] == "AssetPartitionsStatusCounts"
        }
        assert set(statuses) == set(DAILY_ASSETS)
        assert {(s["numPartitionsTargeted"], s["numPartitionsMaterialized"]) for s in statuses.values()} == {
            (DAYS, DAYS)
        }

        # Nothing else failed meanwhile, and no email was attempted (no SMTP host: the sensors skip).
        assert not api.runs(statuses=["FAILURE"]), [run["jobName"] for run in api.runs(statuses=["FAILURE"])]
        assert not [run for run in api.runs() if run["jobName"].startswith("send_")]

        # Row for row, the tables the backfill wrote and the job run's.
        backfilled, expected = daily_graph.warehouse_tables(deployed), daily_graph.warehouse_tables(reference)
        for table in daily_graph.WAREHOUSE_TABLES:
            assert len(expected[table]) > 0 or table == "sales_rejects", f"{table}: the reference wrote no rows"
            pd.testing.assert_frame_equal(backfilled[table], expected[table], obj=table)

    with capsys.disabled():
        print(f"\n[e2e] UI backfill of {DAYS} days: {len(runs)} run(s), launched -> completed in {seconds:.0f}s")
