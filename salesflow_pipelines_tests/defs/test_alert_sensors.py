"""Alert sensors and the alert email job against a real SMTP server on loopback and the real
PostgreSQL warehouse: what is emailed, to whom, with which figures, and never twice."""

import email
import email.policy
import socket
import ssl
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from salesflow_pipelines.defs.alerts.email import ALERT_RETRY_POLICY, build_send_alert_email, send_alert_email
from salesflow_pipelines.defs.alerts.sensors import (
    RUN_KEY_TAG,
    AlertSource,
    high_anomaly_sensor,
    run_failure_alert_sensor,
    stock_alert_sensor,
)
from salesflow_pipelines.defs.partitions import daily_partitions
from salesflow_pipelines.defs.resources import Mailer
from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.analytics import anomalies, reorder
from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.warehouse.tables import TABLES

TODAY = pd.Timestamp.now(tz=daily_partitions.timezone).date()
YESTERDAY, DAY_BEFORE = TODAY - timedelta(days=1), TODAY - timedelta(days=2)
UI = "http://dagster.shop.test:3000"


class SmtpServer:
    """aiosmtpd on a loopback port, started and stopped at will; keeps every message received."""

    def __init__(self, **controller_options):
        self.messages: list[email.message.EmailMessage] = []
        with socket.socket() as probe:  # a free port (the controller's readiness check cannot use port 0)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **controller_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        """The plain-text part as a reader sees it (yagmail marks its line breaks up as <br>)."""
        return message.get_body(preferencelist=("plain",)).get_content().replace("<br>", "\n")


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def mailer(port: int, host: str = "127.0.0.1") -> Mailer:
    return Mailer(
        host=host,
        port=port,
        security="none",
        sender="alerts@salesflow.test",
        recipients="owner@shop.test, manager@shop.test",
        ops_recipients="ops@shop.test",
        ui_url=UI,
        timeout_seconds=5,
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def write(url: str, table: str, frame: pd.DataFrame, day: date, instance: dg.DagsterInstance) -> None:
    """What a materialization of `table` for `day` leaves behind: its rows and the event."""
    warehouse.connect(url).replace(TABLES[table], frame, Window(day, day + timedelta(days=1)))
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=table, partition=day.isoformat()))


def tick(sensor, instance, resources: dict, cursor: str | None = None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))


def deliver(request: dg.RunRequest, instance, resources: dict, job=send_alert_email):
    """Run a requested send the way the daemon would, tagged with its run key."""
    result = job.execute_in_process(
        run_config=request.run_config,
        resources=resources,
        instance=instance,
        tags={**request.tags, RUN_KEY_TAG: request.run_key},
    )
    assert result.success
    return result


FIGURES = {"HIGH_SPIKE": (4210.0, 1950.0, 3.4), "LOW_DIP": (1500.0, 1950.0, -3.1), "MEDIUM": (1500.0, 1950.0, -2.2)}


def anomaly_rows(day: date, *anomaly: tuple[str, str, str, str]) -> pd.DataFrame:
    """Rows of sales_anomalies from (scope, scope_key, label, severity)."""
    rows = []
    for scope, key, label, severity in anomaly:
        value, expected, z_score = FIGURES[label if severity == "HIGH" else severity]
        where = {"total": "in the whole shop", "region": f"in {key}", "product": f"for product {key}"}[scope]
        rows.append(
            {
                "anomaly_id": anomalies.anomaly_id(day.isoformat(), scope, key, "revenue", label),
                "sale_date": pd.Timestamp(day),
                "scope": scope,
                "scope_key": key,
                "metric": "revenue",
                "value": value,
                "expected": expected,
                "z_score": z_score,
                "severity": severity,
                "label": label,
                "explanation": f"Revenue {where} on {day} was {value:,.2f}, {abs(z_score)} standard deviations "
                f"{'above' if z_score > 0 else 'below'} its 28-day mean of {expected:,.2f}",
                "detected_at": pd.Timestamp.now().floor("s"),
            }
        )
    return pd.DataFrame(rows)


def test_each_high_anomaly_is_emailed_once(fresh_schema, smtp, instance):
    resources = {"alert_source": AlertSource(warehouse_url=fresh_schema), "mailer": mailer(smtp.port)}
    rows = anomaly_rows(
        YESTERDAY,
        ("total", "all", "HIGH_SPIKE", "HIGH"),
        ("region", "North", "HIGH_SPIKE", "HIGH"),  # spikes with the shop: in the shop's email
        ("product", "7", "LOW_DIP", "HIGH"),  # dips while the shop spikes: an email of its own
        ("product", "9", "LOW_DIP", "MEDIUM"),  # flagged in the table, not emailed
    )
    write(fresh_schema, "sales_anomalies", rows, YESTERDAY, instance)

    first = tick(high_anomaly_sensor, instance, resources)
    shop, north, dip = rows.iloc[0], rows.iloc[1], rows.iloc[2]
    assert sorted(request.run_key for request in first.run_requests) == sorted(
        f"anomaly:{row['anomaly_id']}" for row in (shop, dip)
    )
    for request in first.run_requests:
        deliver(request, instance, {"mailer": resources["mailer"]})

    assert len(smtp.messages) == 2
    by_subject = {message["Subject"]: message for message in smtp.messages}
    message = by_subject[f"[SalesFlow] HIGH_SPIKE in the whole shop on {YESTERDAY}"]
    assert f"[SalesFlow] LOW_DIP in product 7 on {YESTERDAY}" in by_subject
    assert set(message["X-Envelope-To"].split(", ")) == {"owner@shop.test", "manager@shop.test"}
    body = smtp.text(message)
    assert body.startswith(shop["explanation"] + ".")
    assert "\nValue: 4,210.00\nExpected: 1,950.00 (28-day mean)\nz-score: 3.40\n" in body
    assert f"Also HIGH_SPIKE that day, with the shop (1):\n- {north['explanation']}" in body
    assert f"In SalesFlow: {UI}/assets/sales_anomalies?view=partitions&partition={YESTERDAY}" in body

    # The next tick finds nothing new.
    assert isinstance(tick(high_anomaly_sensor, instance, resources, first.cursor), dg.SkipReason)
    # The day is materialized again (same anomalies, new detected_at): same run keys, already sent.
    write(fresh_schema, "sales_anomalies", rows.assign(detected_at=pd.Timestamp.now()), YESTERDAY, instance)
    again = tick(high_anomaly_sensor, instance, resources, first.cursor)
    assert not again.run_requests and "no new anomaly alert to email" in again.skip_reason.skip_message
    # A restarted daemon that lost the cursor reads every event again, and still sends nothing.
    assert not tick(high_anomaly_sensor, instance, resources).run_requests
    assert len(smtp.messages) == 2


def test_old_anomalies_from_a_backfill_are_not_emailed(fresh_schema, instance):
    resources = {"alert_source": AlertSource(warehouse_url=fresh_schema, max_age_days=7), "mailer": mailer(1)}
    old_day = TODAY - timedelta(days=30)
    rows = anomaly_rows(old_day, ("total", "all", "HIGH_SPIKE", "HIGH"))
    write(fresh_schema, "sales_anomalies", rows, old_day, instance)
    result = tick(high_anomaly_sensor, instance, resources)
    assert not result.run_requests and result.cursor is not None


@pytest.mark.parametrize(
    ("smtp_host", "recipients", "named"),
    [("", "owner@shop.test", "SALESFLOW_SMTP_HOST"), ("127.0.0.1", "", "SALESFLOW_ALERT_RECIPIENTS")],
)
def test_no_email_run_is_launched_when_nobody_can_receive_it(fresh_schema, instance, smtp_host, recipients, named):
    nowhere = Mailer(host=smtp_host, recipients=recipients, ops_recipients=recipients)
    resources = {"alert_source": AlertSource(warehouse_url=fresh_schema), "mailer": nowhere}
    write(fresh_schema, "stock_alerts", stock_rows(YESTERDAY, {1: "LOW", 2: "OUT"}), YESTERDAY, instance)
    result = tick(stock_alert_sensor, instance, resources)
    assert not result.run_requests and named in result.skip_reason.skip_message
    assert result.cursor is not None  # not emailed later either: the alerts stay in the tables and the UI
    failed = nightly_job.execute_in_process(instance=instance, raise_on_error=False)
    skipped = run_failure_alert_sensor(failure_context(instance, failed, {"mailer": nowhere}))
    assert isinstance(skipped, dg.SkipReason)


def stock_rows(day: date, statuses: dict[int, str]) -> pd.DataFrame:
    snapshot = pd.DataFrame(
        {
            "snapshot_date": pd.Timestamp(day),
            "product_id": list(statuses),
            "sku": [f"SKU-{product:04d}" for product in statuses],
            "name": [f"Product {product}" for product in statuses],
            "category": "Grocery",
            "stock_quantity": [0 if status == "OUT" else 4 for status in statuses.values()],
            "low_stock_threshold": 10,
            "stock_value": 0.0,
        }
    )
    sales = pd.DataFrame({"sale_date": [pd.Timestamp(day)], "product_id": [list(statuses)[0]], "units": [28.0]})
    return reorder.stock_alerts(snapshot, sales)


def test_a_product_turning_low_or_out_is_emailed_once_per_day(fresh_schema, smtp, instance):
    resources = {"alert_source": AlertSource(warehouse_url=fresh_schema), "mailer": mailer(smtp.port)}
    write(fresh_schema, "stock_alerts", stock_rows(DAY_BEFORE, {1: "LOW", 2: "OUT"}), DAY_BEFORE, instance)
    write(fresh_schema, "stock_alerts", stock_rows(YESTERDAY, {1: "LOW", 2: "LOW", 3: "OUT"}), YESTERDAY, instance)

    first = tick(stock_alert_sensor, instance, resources)
    assert sorted(request.run_key for request in first.run_requests) == [
        f"stock:1:{DAY_BEFORE}",
        f"stock:2:{DAY_BEFORE}",
        f"stock:2:{YESTERDAY}",  # OUT the day before, LOW now: turned LOW
        f"stock:3:{YESTERDAY}",
    ]  # product 1 stayed LOW: no second email
    for request in first.run_requests:
        deliver(request, instance, {"mailer": resources["mailer"]})
    subjects = sorted(message["Subject"] for message in smtp.messages)
    assert f"[SalesFlow] OUT stock: Product 3 (SKU-0003) on {YESTERDAY}" in subjects
    assert len(subjects) == 4
    out = next(message for message in smtp.messages if "Product 3" in message["Subject"])
    assert "Suggested reorder: 11 units" in smtp.text(out)

    write(fresh_schema, "stock_alerts", stock_rows(YESTERDAY, {1: "LOW", 2: "LOW", 3: "OUT"}), YESTERDAY, instance)
    assert not tick(stock_alert_sensor, instance, resources, first.cursor).run_requests
    assert not tick(stock_alert_sensor, instance, resources).run_requests
    assert len(smtp.messages) == 4


@dg.op
def load_warehouse():
    raise ConnectionError("warehouse at db.shop.test:5432 refused the connection")


@dg.job
def nightly_job():
    load_warehouse()


def failure_context(instance, result, resources):
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=result.get_run_failure_event(),
        resources=resources,
    ).for_run_failure()


def test_a_failed_run_emails_ops_with_the_run_id_and_the_error(smtp, instance):
    resources = {"mailer": mailer(smtp.port)}
    failed = nightly_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not failed.success
    request = run_failure_alert_sensor(failure_context(instance, failed, resources))
    assert request.run_key == f"run-failure:{failed.run_id}"
    deliver(request, instance, resources)

    [message] = smtp.messages
    assert message["X-Envelope-To"] == "ops@shop.test"
    assert message["Subject"] == f"[SalesFlow] Run failed: nightly_job ({failed.run_id[:8]})"
    body = smtp.text(message)
    assert failed.run_id in body and "refused the connection" in body and f"{UI}/runs/{failed.run_id}" in body


def test_a_failed_alert_run_does_not_email_about_itself(instance):
    down = Mailer(host="127.0.0.1", port=1, security="none", recipients="owner@shop.test", timeout_seconds=1)
    job = build_send_alert_email(dg.RetryPolicy(max_retries=0))
    failed = job.execute_in_process(
        run_config={"ops": {"send_alert": {"config": {"recipients": ["x@shop.test"], "subject": "s", "body": "b"}}}},
        resources={"mailer": down},
        instance=instance,
        raise_on_error=False,
    )
    assert not failed.success
    skipped = run_failure_alert_sensor(failure_context(instance, failed, {"mailer": down}))
    assert isinstance(skipped, dg.SkipReason)


SERVERS_COMING_UP: dict[int, SmtpServer] = {}


class MailerToAServerComingUp(Mailer):
    """The real Mailer; when an attempt finds the server down, the server comes up right after."""

    def send(self, *args, **kwargs) -> bool:
        try:
            return super().send(*args, **kwargs)
        except OSError:
            SERVERS_COMING_UP.pop(self.port).start()
            raise


def test_smtp_down_then_up_delivers_the_email_once(instance):
    server = SmtpServer()  # not listening yet: the first attempt is refused
    SERVERS_COMING_UP[server.port] = server
    down_then_up = MailerToAServerComingUp(host="127.0.0.1", port=server.port, security="none", timeout_seconds=5)
    job = build_send_alert_email(dg.RetryPolicy(max_retries=5, delay=1, backoff=dg.Backoff.EXPONENTIAL))
    request = dg.RunRequest(
        run_key="anomaly:test",
        run_config={
            "ops": {"send_alert": {"config": {"recipients": ["owner@shop.test"], "subject": "Spike", "body": "x"}}}
        },
    )
    try:
        result = deliver(request, instance, {"mailer": down_then_up}, job=job)
    finally:
        server.stop()
    assert [message["Subject"] for message in server.messages] == ["Spike"]
    retries = [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1 and "ConnectionRefusedError" in retries[0].event_specific_data.error.to_string()
    # The deployed job retries five times with exponential backoff.
    assert ALERT_RETRY_POLICY.max_retries == 5 and ALERT_RETRY_POLICY.backoff == dg.Backoff.EXPONENTIAL


def test_without_smtp_the_alert_is_logged_and_the_run_says_so(instance):
    resources = {"mailer": Mailer(recipients="owner@shop.test")}
    request = dg.RunRequest(
        run_key="stock:1:2026-11-18",
        run_config={
            "ops": {"send_alert": {"config": {"recipients": ["owner@shop.test"], "subject": "LOW", "body": "4 left"}}}
        },
    )
    result = deliver(request, instance, resources)
    [output] = [event for event in result.all_events if event.event_type_value == "STEP_OUTPUT"]
    metadata = output.step_output_data.metadata
    assert metadata["delivered"].value is False
    assert "SALESFLOW_SMTP_HOST" in metadata["not_sent_because"].value
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("email not sent" in text and "4 left" in text for text in logged)


def tls_context(directory) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_the_mailer_logs_in_over_starttls_or_ssl(security, tmp_path):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")

    context = tls_context(tmp_path)
    options = (
        {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        if security == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}
    )
    server = SmtpServer(authenticator=authenticator, **options)
    server.start()
    try:
        sent = Mailer(
            host="127.0.0.1",
            port=server.port,
            security=security,
            user="alerts@shop.test",
            password="s3cret",
            timeout_seconds=5,
        ).send(to=["owner@shop.test"], subject="Over TLS", contents="figures")
    finally:
        server.stop()
    assert sent is True
    assert [message["Subject"] for message in server.messages] == ["Over TLS"]
    assert server.messages[0]["From"] == '"alerts@shop.test" <alerts@shop.test>'
    assert logins and logins[0][1:] == ("alerts@shop.test", "s3cret")


def test_the_mailer_sends_attachments_as_the_report_emails_need(smtp, tmp_path):
    report = tmp_path / "sales-report_2026-W47.pdf"
    report.write_bytes(b"%PDF-1.4 a report")
    assert mailer(smtp.port).send(
        to=["owner@shop.test"], subject="Weekly report", contents="Attached.", attachments=[str(report)]
    )
    [message] = smtp.messages
    attached = {part.get_filename(): part.get_payload(decode=True) for part in message.walk() if part.get_filename()}
    assert attached == {"sales-report_2026-W47.pdf": b"%PDF-1.4 a report"}
