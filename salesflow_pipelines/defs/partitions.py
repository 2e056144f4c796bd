"""Daily partitions, backfill policy and the helpers every domain's assets share."""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from functools import cache

import dagster as dg
import pandas as pd
import pandera.pandas as pa
from dagster_pandera import pandera_schema_to_dagster_type

from salesflow_pipelines.lib.dates import Window

DEFAULT_START_DATE = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("SALESFLOW_START_DATE", DEFAULT_START_DATE),
    timezone=os.environ.get("SALESFLOW_TZ", "UTC"),
)
single_run = dg.BackfillPolicy.single_run()


def partition_window(context: dg.AssetExecutionContext) -> Window:
    """The days [start, end) this run materializes (one day, or a backfill's whole range)."""
    window = context.partition_time_window
    return Window(window.start.date(), window.end.date())


def window_days(window: Window) -> pd.DatetimeIndex:
    return pd.date_range(window.start, window.end - timedelta(days=1), freq="D")


def lookback(days: int) -> dg.TimeWindowPartitionMapping:
    """Map a day to itself and the `days` days before it (missing early days are allowed)."""
    return dg.TimeWindowPartitionMapping(start_offset=-days, allow_nonexistent_upstream_partitions=True)


def in_window(frame: pd.DataFrame, column: str, window: Window) -> pd.DataFrame:
    """Rows whose `column` day falls in the window."""
    days = frame[column]
    return frame[(days >= pd.Timestamp(window.start)) & (days < pd.Timestamp(window.end))].reset_index(drop=True)


@cache
def boundary_type(model: type[pa.DataFrameModel]) -> dg.DagsterType:
    """The Dagster type that validates a frame against `model` when an asset hands it on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pandera_schema_to_dagster_type(model)


def boundary(model: type[pa.DataFrameModel], **metadata) -> dict:
    """Decorator arguments of an asset (or AssetOut) handing on frames of `model`: the validating
    type, and the model's columns as definition metadata, which the UI reads once per asset
    instead of from every partition's materialization."""
    schema = boundary_type(model).metadata["schema"].value
    return {"dagster_type": boundary_type(model), "metadata": {"dagster/column_schema": schema, **metadata}}


def row_metadata(context: dg.AssetExecutionContext, rows: int) -> dict:
    """The rows a run wrote, as each partition's event can truthfully say it.

    Dagster copies a run's output metadata to every partition it materializes (per-partition
    metadata is an open feature request, dagster-io/dagster#18123), so a range run states its
    total as the run's rather than as each day's `dagster/row_count`.
    """
    partitioned = context.assets_def.partitions_def is not None
    if partitioned and context.has_partition_key_range and len(context.partition_keys) > 1:
        return {"rows_in_run": rows, "days_in_run": len(context.partition_keys)}
    return {"dagster/row_count": rows}


def days_label(window: Window) -> str:
    last = window.end - timedelta(days=1)
    return window.start.isoformat() if last == window.start else f"{window.start}..{last}"
