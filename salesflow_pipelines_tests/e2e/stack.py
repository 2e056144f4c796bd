"""Dagster's three deployment processes on loopback, for a test or a benchmark: the code server
(gRPC, where runs execute), the webserver (GraphQL, what the UI talks to) and the daemon (backfills,
run queue, sensors, schedules), against an instance whose storage is a PostgreSQL database.

The instance config is passed explicitly (`instance_config`) and written into a fresh DAGSTER_HOME,
so what is measured does not depend on whichever `dagster.yaml` the repo holds at the moment.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from salesflow_pipelines_tests.defs import daily_graph
from salesflow_pipelines_tests.e2e.dagster_api import DagsterApi, quietly
from salesflow_pipelines_tests.e2e.processes import ProcessGroup, free_port, http_ok, port_open

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The daily graph: the assets of groups ingestion, cleaning and kpis, what `daily_sales_job` selects
# (raw_sales, raw_products, sales_lines, sales_rejects, stock_snapshot, daily_sales_kpis…).
DAILY_ASSETS = tuple(sorted(key.path[-1] for assets in daily_graph.DAILY_ASSETS for key in assets.keys))
# Stopped before the daemon starts, so that no scheduled run (01:00 and 07:00 shop time) joins in.
# The sensors stay on, as deployed: without SMTP the email ones skip, the import inbox is empty, the
# automation sensor follows the daily tables with the ML tables (other assets, other runs) and the
# freshness sensor launches runs that evaluate its checks.
SCHEDULES = ("daily_sales_schedule", "weekly_report_schedule", "monthly_report_schedule")
# The engine event each executor logs as a run starts its steps.
EXECUTORS = {"Executing steps in process": "in-process", "Executing steps using multiprocess": "multiprocess"}


def instance_config(dequeue_interval_seconds: int = 1) -> dict:
    """A PostgreSQL-backed instance (DAGSTER_PG_* from the environment) with deploy/dagster.yaml's
    run queue limits, and the run queue polled every `dequeue_interval_seconds` (Dagster's default
    is 5 s: up to 5 s between a backfill's run being queued and being launched)."""
    postgres = {
        key: {"env": f"DAGSTER_PG_{name}"}
        for key, name in (
            ("hostname", "HOST"),
            ("port", "PORT"),
            ("username", "USER"),
            ("password", "PASSWORD"),
            ("db_name", "DB"),
        )
    }
    return {
        "storage": {"postgres": {"postgres_db": {**postgres, "scheme": "postgresql+psycopg2"}}},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": 4,
                "tag_concurrency_limits": [{"key": "dagster/backfill", "limit": 2}],
                "dequeue_interval_seconds": dequeue_interval_seconds,
            },
        },
        "run_monitoring": {"enabled": True, "start_timeout_seconds": 180},
        "sensors": {"use_threads": True, "num_workers": 4},
        "schedules": {"use_threads": True, "num_workers": 2},
        "telemetry": {"enabled": False},
    }


def stack_env(database_url: str, dagster_home: Path, data_dir: Path, grpc_port: int, **extra: str) -> dict[str, str]:
    """The environment of the three processes: this one's minus any Dagster/SalesFlow settings, the
    instance database from `database_url` (which also holds the warehouse, schema `analytics`, as
    in deployment unless `extra` says otherwise), and `extra`."""
    database = urlsplit(database_url)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DAGSTER_", "SALESFLOW_", "JAVA_API_", "SYSTEM_JWT"))
    }
    env.update(
        PYTHONUNBUFFERED="1",
        DAGSTER_HOME=str(dagster_home),
        DAGSTER_PG_HOST=database.hostname or "127.0.0.1",
        DAGSTER_PG_PORT=str(database.port or 5432),
        DAGSTER_PG_USER=database.username or "postgres",
        DAGSTER_PG_PASSWORD=database.password or "",
        DAGSTER_PG_DB=database.path.lstrip("/"),
        DAGSTER_GRPC_HOST="127.0.0.1",
        DAGSTER_GRPC_PORT=str(grpc_port),
        SALESFLOW_DATA_DIR=str(data_dir),
        SALESFLOW_WAREHOUSE_URL=database_url,
    )
    env.update(extra)
    return env


@dataclass
class Stack:
    api: DagsterApi
    group: ProcessGroup
    env: dict[str, str]
    web_url: str


@contextlib.contextmanager
def dagster_stack(
    workdir: Path,
    log_dir: Path,
    database_url: str,
    instance: Mapping | None = None,
    before_daemon: Callable[[DagsterApi], None] | None = None,
    **env: str,
) -> Iterator[Stack]:
    """Code server, webserver and daemon started in that order, each waited for, and stopped on
    exit (also on failure). `before_daemon` runs once the location is loaded and before the daemon
    starts (stop a sensor before its first tick); `env` adds SALESFLOW_* settings."""
    dagster_home = workdir / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(dict(instance or instance_config()), sort_keys=False))
    log_dir.mkdir(parents=True, exist_ok=True)
    grpc_port, web_port = free_port(), free_port()
    process_env = stack_env(database_url, dagster_home, workdir / "data", grpc_port, **env)
    workspace = str(REPO / "workspace.yaml")
    api = DagsterApi(web_port)
    web_url = f"http://127.0.0.1:{web_port}"

    with ProcessGroup(REPO, log_dir) as group:
        group.start(
            "code-server",
            [str(BIN / "dagster"), "code-server", "start", "-m", "salesflow_pipelines.definitions"]
            + ["-h", "127.0.0.1", "-p", str(grpc_port), "--location-name", "salesflow_pipelines"],
            process_env,
        )
        group.wait_for("the code server's port", lambda: port_open(grpc_port), timeout=90)
        group.start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port)],
            process_env,
        )
        group.wait_for("the webserver", lambda: http_ok(f"{web_url}/server_info"), timeout=90)
        group.wait_for("the code location, loaded through gRPC", quietly(api.location_loaded), timeout=120)
        if before_daemon:
            before_daemon(api)
        group.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], process_env)
        group.wait_for("a healthy daemon", lambda: not api.unhealthy_daemons(), timeout=90)
        yield Stack(api=api, group=group, env=process_env, web_url=web_url)


def stop_schedules(api: DagsterApi) -> None:
    """`before_daemon` for a measurement: no scheduled run may join in."""
    for name in SCHEDULES:
        api.stop_schedule(name)


BACKFILL_DONE = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


def backfill_finished(stack: Stack, backfill_id: str, timeout: float) -> dict:
    """Poll the backfill until it has finished (whatever the outcome); fail with every process's
    log tail on timeout or as soon as a process dies."""
    return stack.group.wait_for(
        f"backfill {backfill_id} to finish",
        lambda: (backfill := stack.api.backfill(backfill_id))["status"] in BACKFILL_DONE and backfill,
        timeout=timeout,
        interval=1,
    )


def executor_of(run_events: list[dict]) -> str:
    """in-process or multiprocess, from a run's events (`DagsterApi.run_events`)."""
    messages = [event.get("message") or "" for event in run_events if event["__typename"] == "EngineEvent"]
    return next(
        (name for text, name in EXECUTORS.items() for message in messages if message.startswith(text)), "unknown"
    )
