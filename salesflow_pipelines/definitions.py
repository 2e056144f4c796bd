"""The code location: every domain's definitions, with resources from the environment."""

import os

import dagster as dg

from salesflow_pipelines.defs import alerts, cleaning, freshness, imports, ingestion, jobs, kpis, ml, reports
from salesflow_pipelines.defs.alerts.sensors import alert_source_from_env
from salesflow_pipelines.defs.automation import automation_sensor
from salesflow_pipelines.defs.io_managers import ParquetIOManager, WarehouseIOManager
from salesflow_pipelines.defs.resources import (
    data_dir,
    data_quality_from_env,
    env_or,
    import_settings_from_env,
    java_api_from_env,
    local_data_dir,
    mailer_from_env,
    report_store_from_env,
    sales_source_from_env,
)


def default_warehouse_url() -> str:
    """SQLite next to the frames, or under ./.salesflow when they are on an object store."""
    return f"sqlite:///{os.path.join(local_data_dir(), 'warehouse.db')}"


EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def executor() -> dg.ExecutorDefinition:
    """The executor of every job, asset backfills and UI materializations included: in process by
    default (a step here takes about a second; a process per step costs ~30 s, see
    benchmarks/bench_daily_run.py), `SALESFLOW_EXECUTOR=multiprocess` for step isolation."""
    name = os.environ.get("SALESFLOW_EXECUTOR") or "in_process"
    if name not in EXECUTORS:
        raise ValueError(f"SALESFLOW_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return EXECUTORS[name]


def resources() -> dict:
    """Every resource, configured from the environment (defaults need nothing outside the machine)."""
    warehouse_url = env_or("SALESFLOW_WAREHOUSE_URL", default_warehouse_url())
    return {
        "sales_source": sales_source_from_env(),
        "data_quality": data_quality_from_env(),
        "parquet_io_manager": ParquetIOManager(base_path=os.path.join(data_dir(), "frames")),
        "warehouse_io_manager": WarehouseIOManager(url=warehouse_url),
        "report_store": report_store_from_env(),
        "mailer": mailer_from_env(),
        "alert_source": alert_source_from_env(warehouse_url),
        "import_settings": import_settings_from_env(warehouse_url),
        "java_api": java_api_from_env(),
    }


defs = freshness.with_freshness(
    dg.Definitions.merge(
        *(domain.defs for domain in (ingestion, cleaning, kpis, jobs, ml, reports, alerts, imports, freshness)),
        dg.Definitions(sensors=[automation_sensor], resources=resources(), executor=executor()),
    )
)
