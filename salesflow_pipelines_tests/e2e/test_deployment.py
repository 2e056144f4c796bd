"""The deployment end to end, as real processes talking to each other on loopback.

Started from this test, with the deployment instance `deploy/dagster.yaml` (copied into a fresh DAGSTER_HOME) and
`workspace.yaml`, against the real PostgreSQL (a fresh database, holding Dagster's tables in
`public` and the warehouse in `analytics`, as one database would in deployment):

    stand-in Java API ──► code server (gRPC) ◄── webserver ◄── this test (GraphQL, Chromium)
                              ▲    │ runs                ▲
          SMTP server ◄───────┘    ▼                     │
                             PostgreSQL ◄──────────── daemon (run queue, sensors)

The test launches 90 days of the daily graph through the webserver's GraphQL API as one run,
checks the KPI rows in PostgreSQL, lets the daemon's sensors compute the anomalies and email the
HIGH one, re-materializes that day and checks the email is not sent twice, checks the read-only
role, and saves a screenshot of the asset graph rendered by headless Chromium. Every process is
stopped at the end, also on failure.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from aiosmtpd.controller import Controller

from salesflow_pipelines.dev.demo import is_spike_day, is_zero_day
from salesflow_pipelines.lib.warehouse.roles import READER_ROLE
from salesflow_pipelines_tests.conftest import ADMIN_URL, scratch_database
from salesflow_pipelines_tests.e2e.browser import capture
from salesflow_pipelines_tests.e2e.dagster_api import FINISHED, IN_FLIGHT, DagsterApi, quietly
from salesflow_pipelines_tests.e2e.processes import ProcessGroup, free_port, http_ok, port_open
from salesflow_pipelines_tests.e2e.stack import stack_env

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# A 90-day backfill of the daily graph as one run, ending on a day the anomaly rules judge against
# its full 28-day history.
WINDOW_DAYS = 90
HISTORY_DAYS = 28
ORDERS_PER_DAY = 20
ALERT_TO, OPS_TO = "owner@shop.test", "ops@shop.test"
ANOMALY_SENSOR, STOCK_SENSOR = "high_anomaly_sensor", "stock_alert_sensor"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
LINEAGE_PAGE = "/assets/sales_anomalies?view=lineage&lineageScope=upstream&lineageDepth=5"
LINEAGE_ASSETS = (
    "raw_sales",
    "raw_products",
    "sales_lines",
    "daily_sales_kpis",
    "product_daily_sales",
    "region_daily_sales",
    "sales_anomalies",
)
KPI_TABLES = ("daily_sales_kpis", "product_daily_sales", "region_daily_sales", "category_daily_sales")


def spike_window(today: date) -> tuple[date, date]:
    """WINDOW_DAYS days ending on the demo shop's latest spike day before today, with no zero day in
    the spike day's trailing history: a clean HIGH_SPIKE for the whole shop on the last day."""
    day = today - timedelta(days=1)
    while not (is_spike_day(day) and not any(is_zero_day(day - timedelta(days=n)) for n in range(HISTORY_DAYS + 1))):
        day -= timedelta(days=1)
    return day - timedelta(days=WINDOW_DAYS - 1), day


def artifacts_dir() -> Path:
    """Where the screenshot and process logs stay after the run (CI collects this folder)."""
    return Path(os.environ.get("SALESFLOW_E2E_ARTIFACTS") or REPO / ".salesflow" / "e2e").resolve()


def with_user(url: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{user}:{password}" if password else user
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


class Inbox:
    """An SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content().replace("<br>", "\n")

    def anomaly_ids(self) -> Counter[str]:
        """How many emails arrived for each anomaly id (the alert body names it)."""
        found = (re.search(r"Anomaly id: (\w+)", self.text(message)) for message in list(self.messages))
        return Counter(match.group(1) for match in found if match)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def e2e_database() -> Iterator[str]:
    """A database of its own for this run: Dagster's instance and the warehouse, dropped afterwards."""
    with scratch_database("salesflow_e2e") as url:
        yield url


def deployment_env(database_url: str, dagster_home: Path, data_dir: Path, ports: dict[str, int], inbox: Inbox) -> dict:
    """The environment docker-compose.yml gives the services, pointed at loopback."""
    return stack_env(
        database_url,
        dagster_home,
        data_dir,
        ports["grpc"],
        SALESFLOW_SOURCE="java",
        JAVA_API_URL=f"http://127.0.0.1:{ports['java']}/api/v1",
        JAVA_API_PHONE="0000000000",
        JAVA_API_PASSWORD="admin123",
        SALESFLOW_SMTP_HOST="127.0.0.1",
        SALESFLOW_SMTP_PORT=str(inbox.port),
        SALESFLOW_SMTP_SECURITY="none",
        SALESFLOW_SMTP_SENDER="alerts@salesflow.test",
        SALESFLOW_ALERT_RECIPIENTS=ALERT_TO,
        SALESFLOW_OPS_RECIPIENTS=OPS_TO,
        SALESFLOW_UI_URL=f"http://127.0.0.1:{ports['web']}",
    )


@pytest.mark.timeout(480)
def test_deployment_end_to_end(e2e_database, inbox, tmp_path, capsys):
    started = time.monotonic()
    today = datetime.now(UTC).date()
    first_day, spike_day = spike_window(today)
    window = [(first_day + timedelta(days=n)).isoformat() for n in range(WINDOW_DAYS)]
    artifacts = artifacts_dir()
    logs = artifacts / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    ports = {"java": free_port(), "grpc": free_port(), "web": free_port()}
    env = deployment_env(e2e_database, dagster_home, tmp_path / "data", ports, inbox)
    # Alerts are emailed for the spike day only: it may be up to seven weeks old, and the older days
    # of the window count as a backfill, not news.
    env["SALESFLOW_ALERT_MAX_AGE_DAYS"] = str((today - spike_day).days)
    workspace = str(REPO / "workspace.yaml")
    api = DagsterApi(ports["web"])

    with ProcessGroup(REPO, logs) as group:
        standin = [sys.executable, "-m", "salesflow_pipelines.cli", "standin"]
        group.start("java-api", [*standin, "--port", str(ports["java"]), "--orders-per-day", str(ORDERS_PER_DAY)], env)
        group.start(
            "code-server",
            [str(BIN / "dagster"), "code-server", "start", "-m", "salesflow_pipelines.definitions"]
            + ["-h", "127.0.0.1", "-p", str(ports["grpc"]), "--location-name", "salesflow_pipelines"],
            env,
        )
        group.wait_for("the code server's port", lambda: port_open(ports["grpc"]), timeout=90)
        group.start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(ports["web"])],
            env,
        )
        group.wait_for("the stand-in Java API", lambda: port_open(ports["java"]), timeout=60)
        group.wait_for("the webserver", lambda: http_ok(f"http://127.0.0.1:{ports['web']}/server_info"), timeout=90)
        group.wait_for("the code location, loaded through gRPC", quietly(api.location_loaded), timeout=120)

        # Before the daemon's first tick: the anomaly sensor starts once there is something to see
        # (its first tick is immediate, later ones a minute apart), and the stock sensor stays off
        # (its emails would only queue up in front of the one this test waits for).
        api.set_nux_seen()
        api.stop_sensor(ANOMALY_SENSOR)
        api.stop_sensor(STOCK_SENSOR)
        group.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], env)
        group.wait_for("a healthy daemon", lambda: not api.unhealthy_daemons(), timeout=90)

        def finished(run_id: str, what: str, timeout: float) -> dict:
            run = group.wait_for(what, lambda: (r := api.run(run_id))["status"] in FINISHED and r, timeout=timeout)
            assert run["status"] == "SUCCESS", f"{what}: {run['status']}\n{api.failure_message(run_id)}"
            return run

        def no_failed_runs() -> None:
            failed = api.runs(statuses=["FAILURE"])
            assert not failed, "\n".join(f"{r['jobName']}: {api.failure_message(r['runId'])}" for r in failed)

        # 1. 90 days of the daily graph as one run: the job launched with a partition range, as the
        #    launchpad does with the range tags (docs/operations.md).
        daily_run = api.launch("daily_sales_job", {RANGE_START: window[0], RANGE_END: window[-1]})
        finished(daily_run, f"daily_sales_job over {window[0]}..{window[-1]}", timeout=180)
        for asset in ("raw_sales", "daily_sales_kpis", "stock_snapshot"):
            materialized = api.materializations(asset, window)
            assert sorted(m["partition"] for m in materialized) == window, asset
            assert {m["runId"] for m in materialized} == {daily_run}, f"{asset}: the range ran as more than one run"

        with psycopg.connect(e2e_database) as warehouse:
            kpis = warehouse.execute(
                "SELECT sale_date, revenue, orders FROM analytics.daily_sales_kpis ORDER BY sale_date"
            ).fetchall()
            assert [row[0].isoformat() for row in kpis] == window
            # The demo shop has a day without sales now and then (is_zero_day); every other day sold.
            assert all((revenue > 0 and orders > 0) != is_zero_day(day) for day, revenue, orders in kpis)
            for table in (*KPI_TABLES, "stock_snapshot"):
                assert warehouse.execute(f"SELECT count(*) FROM analytics.{table}").fetchone()[0] > 0, table

        # 2. The daemon follows up with the anomalies of those days (ml_after_daily_sales).
        def anomalies_of_spike_day():
            no_failed_runs()
            return api.materializations("sales_anomalies", [spike_day.isoformat()])

        group.wait_for(f"sales_anomalies of {spike_day}, launched by the daemon", anomalies_of_spike_day, timeout=180)
        with psycopg.connect(e2e_database) as warehouse:
            shop_high = warehouse.execute(
                "SELECT anomaly_id, label FROM analytics.sales_anomalies "
                "WHERE sale_date = %s AND scope = 'total' AND severity = 'HIGH'",
                (spike_day,),
            ).fetchall()
        assert len(shop_high) == 1, f"expected the shop's HIGH anomaly on the spike day {spike_day}, got {shop_high}"
        anomaly_id, label = shop_high[0]

        # 3. The anomaly sensor emails it, through a send_alert_email run, to the SMTP server.
        api.start_sensor(ANOMALY_SENSOR)
        group.wait_for(f"the email of anomaly {anomaly_id}", lambda: inbox.anomaly_ids()[anomaly_id], timeout=150)
        email_run_key = {"dagster/run_key": f"anomaly:{anomaly_id}"}
        message = next(m for m in inbox.messages if f"Anomaly id: {anomaly_id}" in Inbox.text(m))
        assert message["Subject"] == f"[SalesFlow] {label} in the whole shop on {spike_day}"
        assert ALERT_TO in message["X-Envelope-To"]

        # 4. The same day materialized again: the sensor reads it again, and must not send it again.
        rerun = api.launch(
            "__ASSET_JOB",
            {"dagster/partition": spike_day.isoformat()},
            asset_selection=[["sales_anomalies"]],
        )
        rerun_end = finished(rerun, f"sales_anomalies of {spike_day} again", timeout=120)["endTime"]

        # While the sensor's next tick comes: the reader role, and the UI in a browser.
        check_reader_role(e2e_database, env)
        screenshot = artifacts / "asset-graph.png"
        page = capture(f"http://127.0.0.1:{ports['web']}{LINEAGE_PAGE}", LINEAGE_ASSETS, screenshot)
        with capsys.disabled():
            print(f"\n[e2e] asset graph screenshot: {screenshot}\n[e2e] process logs: {logs}")
        assert not page.missing, f"the asset graph did not render {page.missing}; see {screenshot}"

        tick = group.wait_for(
            f"a tick of {ANOMALY_SENSOR} after the re-materialization",
            lambda: next((t for t in api.ticks(ANOMALY_SENSOR) if t.timestamp > rerun_end), None),
            timeout=150,
        )
        assert tick.error is None, tick.error
        group.wait_for("the run queue to drain", lambda: not api.runs(statuses=IN_FLIGHT), timeout=120)
        assert len(api.runs(tags=email_run_key)) == 1
        emails_per_anomaly = inbox.anomaly_ids()
        assert emails_per_anomaly[anomaly_id] == 1, emails_per_anomaly
        assert set(emails_per_anomaly.values()) == {1}, f"an anomaly emailed more than once: {emails_per_anomaly}"
        no_failed_runs()
        assert not [m["Subject"] for m in inbox.messages if OPS_TO in m["X-Envelope-To"]]

        waits = "\n".join(f"[e2e]   {seconds:6.1f}s  {what}" for what, seconds in group.waits)
    with capsys.disabled():
        print(f"[e2e] deployment end to end in {time.monotonic() - started:.0f}s; waits:\n{waits}")


def check_reader_role(database_url: str, env: dict) -> None:
    """`salesflow warehouse grant-reader`, then what `salesflow_reader` can and cannot do."""
    password = uuid.uuid4().hex if urlsplit(ADMIN_URL).password else None
    grant = subprocess.run(
        [sys.executable, "-m", "salesflow_pipelines.cli", "warehouse", "grant-reader"],
        env={**env, "SALESFLOW_READER_PASSWORD": password or ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert grant.returncode == 0, grant.stderr
    with psycopg.connect(database_url) as owner:
        assert owner.execute("SELECT to_regclass('public.runs')").fetchone()[0], "Dagster's tables are elsewhere"
    with psycopg.connect(with_user(database_url, READER_ROLE, password), autocommit=True) as reader:
        for table in KPI_TABLES:
            assert reader.execute(f"SELECT count(*) FROM analytics.{table}").fetchone()[0] > 0, table
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
            reader.execute("INSERT INTO analytics.daily_sales_kpis (sale_date, revenue) VALUES ('1999-01-01', 1)")
        for dagster_table in ("runs", "event_logs"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(f"SELECT * FROM public.{dagster_table} LIMIT 1")
