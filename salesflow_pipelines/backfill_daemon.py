"""Dagster's run queue, plus a shorter pause between the backfill daemon's iterations.

Dagster 1.13's backfill daemon sleeps 30 s between iterations (`DEFAULT_DAEMON_INTERVAL_SECONDS`
of `dagster._daemon.controller`, a private constant that no instance setting reaches:
dagster-io/dagster#11649, "deep asset backfills can spend too much time in daemon sleep", is
open). An asset backfill (the UI's Materialize button) waits up to one pause for the iteration
that launches its first run, one more per further dependency level, and one after its last run
for the iteration that marks it completed: 30 days of the daily graph, one run of about 10 s from
launch to done, took 60 s, 48 s of them waiting for iterations (benchmarks/bench_ui_backfill.py).

This coordinator is Dagster's `QueuedRunCoordinator` with one more setting,
`backfill_interval_seconds`, which sets that constant in the process that loads the instance's
run coordinator. The daemon loads it before it starts its daemons (it asks the coordinator whether
to run the queue), and the backfill loop reads the constant when it starts, so every daemon on an
instance naming this class iterates at that pace: `dagster dev` in the repo root (dagster.yaml),
the compose deployment's daemon and the three processes without Docker (deploy/dagster.yaml), and
the e2e stack. The other daemons (sensors, schedules, run queue, run monitoring) have their own
intervals; the asset daemon reads the constant only without automation sensors, which this
project does not use. An idle iteration is three small queries of the backfills table; one with a
backfill in progress takes well under a second. The e2e test (`test_ui_backfill.py`) fails when
the daemon waits longer than this pause allows.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from dagster import Field, IntSource
from dagster._core.run_coordinator import QueuedRunCoordinator as DagstersQueuedRunCoordinator
from dagster._daemon import controller
from dagster._serdes import ConfigurableClassData

INTERVAL_CONSTANT = "DEFAULT_DAEMON_INTERVAL_SECONDS"


def set_backfill_interval(seconds: int) -> None:
    """Make the backfill daemon of this process sleep `seconds` between iterations (read when its
    loop starts)."""
    if seconds < 1:
        raise ValueError(f"backfill_interval_seconds must be at least 1, not {seconds}")
    if not hasattr(controller, INTERVAL_CONSTANT):
        # A warning, not an error: the webserver loads this coordinator too, and a slower backfill
        # is no reason to keep the UI down after a Dagster upgrade (the e2e test fails instead).
        warnings.warn(
            f"dagster._daemon.controller.{INTERVAL_CONSTANT} is gone: backfill_interval_seconds has no "
            "effect with this Dagster version (salesflow_pipelines/backfill_daemon.py)",
            stacklevel=2,
        )
        return
    setattr(controller, INTERVAL_CONSTANT, seconds)


class QueuedRunCoordinator(DagstersQueuedRunCoordinator):
    """Dagster's queued run coordinator; its config adds `backfill_interval_seconds`."""

    @classmethod
    def config_type(cls) -> dict:
        return {
            **super().config_type(),
            "backfill_interval_seconds": Field(
                IntSource,
                is_required=False,
                description="Seconds between the backfill daemon's iterations (Dagster's: 30).",
            ),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        if config_value.get("backfill_interval_seconds") is not None:
            set_backfill_interval(config_value["backfill_interval_seconds"])
        return super().from_config_value(inst_data, config_value)
