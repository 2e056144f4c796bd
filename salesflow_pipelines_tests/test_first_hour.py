"""A newcomer's first hour, for real: the `dagster` commands the README shows, typed in the repo root
of a fresh checkout with no variable set (no DAGSTER_HOME, no DAGSTER_PG_*, no SALESFLOW_*), each
in a process of its own.

They find the top-level dagster.yaml in their working directory and use it as the instance: the
local one, SQLite under ./.salesflow/dagster_home, where `salesflow demo` keeps its runs (the
PostgreSQL instance of deployment is deploy/dagster.yaml). The root is a temporary copy of the
repo's root files, so nothing lands in the developer's own ./.salesflow.

Also here: requirements.lock pins every dependency pyproject.toml names, within its ranges, and the
suite runs on exactly those pins unless `scripts/test.sh --newest` asked for the newest ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.request
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ROOT_FILES = ("pyproject.toml", "dagster.yaml", "workspace.yaml")
LOCAL_HOME = ".salesflow/dagster_home"  # where `salesflow demo` puts its instance by default
DAILY_GRAPH = "group:ingestion or group:cleaning or group:kpis"  # daily_sales_job's selection
DAYS = ("2026-11-01", "2026-11-02")
RANGE_TAGS = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[1]}

pytestmark = pytest.mark.timeout(240)


def fresh_checkout(root: Path) -> Path:
    """The repo root's files as a fresh clone has them: no .salesflow, no .env."""
    root.mkdir(exist_ok=True)
    for name in ROOT_FILES:
        shutil.copy(REPO / name, root / name)
    return root


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return fresh_checkout(tmp_path_factory.mktemp("checkout"))


def newcomer_env() -> dict[str, str]:
    """The shell of someone who has only installed the project: none of its variables set."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DAGSTER_", "SALESFLOW_", "JAVA_API_", "SYSTEM_JWT"))
    }


def dagster(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dagster"), *args],
        cwd=cwd,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def failure(completed: subprocess.CompletedProcess) -> str:
    return f"exit {completed.returncode}\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"


def test_the_root_dagster_yaml_is_the_local_instance_salesflow_demo_fills():
    instance = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert instance["storage"]["custom"]["class"] == "SqliteStorage"  # Dagster's, with batched event writes
    assert instance["storage"]["custom"]["config"] == {"base_dir": LOCAL_HOME}
    assert instance["local_artifact_storage"]["config"] == {"base_dir": LOCAL_HOME}
    assert instance["compute_logs"]["config"] == {"base_dir": f"{LOCAL_HOME}/storage"}
    assert "env:" not in (REPO / "dagster.yaml").read_text(), "the local instance needs no variable"


def test_dagster_definitions_validate_in_the_root(checkout):
    completed = dagster(["definitions", "validate"], checkout, timeout=120)
    assert completed.returncode == 0, failure(completed)
    assert "All code locations passed validation" in completed.stderr + completed.stdout


@pytest.fixture(scope="module")
def backfill(checkout) -> subprocess.CompletedProcess:
    """The documented CLI backfill of the daily graph by asset selection, two days of demo data as one run."""
    return dagster(
        [
            "asset", "materialize", "-m", "salesflow_pipelines.definitions",
            "--select", DAILY_GRAPH, "--partition-range", "...".join(DAYS),
        ],
        checkout,
        timeout=180,
    )  # fmt: skip


def test_the_documented_backfill_of_the_daily_graph_runs_as_one_run_into_the_local_instance(checkout, backfill):
    assert backfill.returncode == 0, failure(backfill)
    assert daily_kpi_days(checkout) == list(DAYS)
    with sqlite3.connect(checkout / ".salesflow" / "dagster_home" / "history" / "runs.db") as runs:
        statuses = runs.execute("SELECT status FROM runs").fetchall()
    assert statuses == [("SUCCESS",)], "one run, kept in ./.salesflow/dagster_home"
    assert not list(checkout.glob(".tmp_dagster_home_*")), "the throwaway home is gone"


def daily_kpi_days(root: Path) -> list[str]:
    with sqlite3.connect(root / ".salesflow" / "warehouse.db") as warehouse:
        return [day for (day,) in warehouse.execute("SELECT sale_date FROM daily_sales_kpis ORDER BY sale_date")]


def test_the_documented_backfill_as_daily_sales_job_with_range_tags(tmp_path):
    """The same days as the run the schedule and the UI's Launchpad make (the ml sensor follows it up)."""
    root = fresh_checkout(tmp_path / "checkout")
    completed = dagster(
        ["job", "execute", "-m", "salesflow_pipelines.definitions", "-j", "daily_sales_job",
         "--tags", json.dumps(RANGE_TAGS)],
        root,
        timeout=180,
    )  # fmt: skip
    assert completed.returncode == 0, failure(completed)
    assert daily_kpi_days(root) == list(DAYS)
    with sqlite3.connect(root / ".salesflow" / "dagster_home" / "history" / "runs.db") as runs:
        assert runs.execute("SELECT pipeline_name, status FROM runs").fetchall() == [("daily_sales_job", "SUCCESS")]


@pytest.mark.parametrize("selection", ["raw_sales*", "*daily_sales_kpis"])
def test_selections_that_cannot_backfill_the_daily_graph_say_why(checkout, selection):
    """`raw_sales*` reaches the weekly/monthly reports (other partitions); the cleaning multi-asset
    (sales_lines + sales_rejects) only materializes whole."""
    completed = dagster(
        ["asset", "materialize", "-m", "salesflow_pipelines.definitions", "--select", selection,
         "--partition-range", "...".join(DAYS)],
        checkout,
        timeout=120,
    )  # fmt: skip
    assert completed.returncode != 0
    reasons = ("BackfillPolicy.single_run()", "no PartitionsDefinition shared", "clean_sales")
    assert any(reason in completed.stderr for reason in reasons), completed.stderr[-2000:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["data"]


def test_dagster_dev_in_the_root_serves_the_ui_on_the_local_instance(checkout, backfill, tmp_path):
    assert backfill.returncode == 0, failure(backfill)
    port = free_port()
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=checkout,
        env=newcomer_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its webserver, daemon and code server share the group: stopped below
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-4000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "dagster-dev.log").read_text()[-4000:]
            time.sleep(0.5)
        while True:  # the code location loads in its own process after the webserver answers
            entries = graphql(
                port,
                "{ workspaceOrError { ... on Workspace { locationEntries"
                " { name loadStatus locationOrLoadError { __typename } } } } }",
            )["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["loadStatus"] == "LOADED":
                break
            assert time.monotonic() < deadline, entries
            time.sleep(0.5)
        assert [(entry["name"], entry["locationOrLoadError"]["__typename"]) for entry in entries] == [
            ("salesflow_pipelines", "RepositoryLocation")
        ]
        # The backfill's run, made from the same root, is there: the UI is on the local instance.
        runs = graphql(port, "{ runsOrError { ... on Runs { results { status tags { key value } } } } }")
        backfills = [
            run for run in runs["runsOrError"]["results"]
            if {"key": "dagster/asset_partition_range_start", "value": DAYS[0]} in run["tags"]
        ]  # fmt: skip
        assert [run["status"] for run in backfills] == ["SUCCESS"]
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl+C does: dagster dev stops its webserver and daemon
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # and whatever is left of the group it started
        process.wait()
        log.close()


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["dev"]]


def locked() -> dict[str, Requirement]:
    """requirements.lock's pins by normalized name (a name may be pinned twice, under exclusive markers)."""
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                pins[canonicalize_name(requirement.name)] = requirement
    return pins


def test_requirements_lock_pins_every_dependency_within_pyprojects_ranges():
    pins = locked()
    for requirement in pyproject_requirements():
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not in requirements.lock: run `bash scripts/lock.sh`"
        (exact,) = pin.specifier
        assert exact.operator == "==" and requirement.specifier.contains(exact.version, prereleases=True), (
            f"requirements.lock pins {pin}, outside pyproject.toml's {requirement}: run `bash scripts/lock.sh`"
        )
    text = (REPO / "requirements.lock").read_text()
    assert not re.search(r"(?m)^\s*-(e|-index-url|-extra-index-url|-find-links)\b|://|/home/|/tmp/", text)


@pytest.mark.skipif(os.environ.get("SALESFLOW_DEPS") == "newest", reason="scripts/test.sh --newest: not the lock")
def test_the_suite_runs_on_the_locked_versions():
    drift = []
    for name, pin in sorted(locked().items()):
        try:
            installed = version(name)
        except PackageNotFoundError:
            drift.append(f"{pin} is not installed")
            continue
        if not pin.specifier.contains(installed, prereleases=True):
            drift.append(f"{pin} is locked, {installed} installed")
    assert not drift, "re-run `bash scripts/setup.sh dev` (scripts/test.sh does):\n" + "\n".join(drift)
