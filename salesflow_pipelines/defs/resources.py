"""Every external system as a `ConfigurableResource`, configured from the environment.

The defaults need nothing outside the machine: the embedded demo source, a SQLite warehouse
and Parquet files under `SALESFLOW_DATA_DIR`. Deployment swaps them through env vars only.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.lib.backend import payloads
from salesflow_pipelines.lib.backend.java_client import DEFAULT_BASE_URL, JavaApiClient

DEFAULT_DATA_DIR = ".salesflow"


def env_or(name: str, default: Any) -> Any:
    """`EnvVar(name)` when the variable is set, else `default`.

    An `EnvVar` keeps the value out of the UI and run config; the default keeps an unset
    optional variable from failing the launch.
    """
    return dg.EnvVar(name) if os.environ.get(name) else default


def data_dir() -> str:
    """SALESFLOW_DATA_DIR: a local folder (made absolute) or an fsspec URL such as s3://bucket/salesflow."""
    configured = os.environ.get("SALESFLOW_DATA_DIR", DEFAULT_DATA_DIR)
    return configured if "://" in configured else os.path.abspath(configured)


def local_data_dir() -> str:
    """`data_dir()` when it is a local folder, else ./.salesflow (absolute).

    Home of what stays on this machine when the frames go to an object store: the default
    SQLite warehouse, the import inbox, the reports.
    """
    configured = data_dir()
    return configured if "://" not in configured else os.path.abspath(DEFAULT_DATA_DIR)


class DemoSource(dg.ConfigurableResource):
    """Embedded, seeded demo shop: the default source, no network needed."""

    seed: int = Field(default=7, description="Same seed, same sales.")
    orders_per_day: int = Field(default=200, description="Average orders per day before seasonality.")

    def fetch_sales(self, start: date, end: date) -> pd.DataFrame:
        """Raw sale lines dated in [start, end]."""
        return self._data().sales_lines(start, end)

    def fetch_products_range(self, days: list[date]) -> pd.DataFrame:
        """The product snapshots of `days`, one day's rows after the other, joined with inventory by the
        Java source's join; the demo shop's frames of all the days are made at once, with no JSON."""
        data = self._data()
        return payloads.snapshots_from_frames(data.products_on(days), data.inventory_on(days))

    def _data(self) -> DemoData:
        return DemoData(seed=self.seed, orders_per_day=self.orders_per_day)


class JavaApi(dg.ConfigurableResource):
    """The SalesFlow Lite Java backend (system of record) over its REST API."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="JAVA_API_URL")
    token: str | None = Field(default=None, description="SYSTEM_JWT_TOKEN: a fixed system JWT")
    phone: str | None = Field(default=None, description="JAVA_API_PHONE: service account login")
    password: str | None = Field(default=None, description="JAVA_API_PASSWORD")
    timeout_seconds: float = 30.0
    max_retries: int = 4
    backoff_seconds: float = 0.5
    page_size: int = 500
    max_concurrency: int = Field(
        default=4, description="JAVA_API_MAX_CONCURRENCY: /sales/range pages fetched at once (and HTTP connections)"
    )

    def client(self, logger: Any = None) -> JavaApiClient:
        """A new client; close it (or use it as a context manager) when done."""
        return JavaApiClient(
            base_url=self.base_url,
            token=self.token,
            phone=self.phone,
            password=self.password,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
            page_size=self.page_size,
            max_concurrency=self.max_concurrency,
            logger=logger,
        )

    def fetch_sales(self, start: date, end: date) -> pd.DataFrame:
        with self.client(dg.get_dagster_logger()) as client:
            return payloads.sales_from_payload(client.fetch_sales(start, end))

    def fetch_products_range(self, days: list[date]) -> pd.DataFrame:
        """The product snapshots of `days` from one pull of `/products` and `/inventory` (the backend knows
        only its current stock), one day's rows after the other."""
        with self.client(dg.get_dagster_logger()) as client:
            return payloads.snapshots_from_payload(client.fetch_products(), client.fetch_inventory(), days)


class SalesSource(dg.ConfigurableResource):
    """Where sales and stock come from: `demo` (embedded, default) or `java` (the backend)."""

    kind: str = Field(default="demo", description="SALESFLOW_SOURCE: demo or java")
    demo: DemoSource
    java: JavaApi

    def active(self) -> DemoSource | JavaApi:
        sources = {"demo": self.demo, "java": self.java}
        if self.kind not in sources:
            raise ValueError(f"SALESFLOW_SOURCE must be 'demo' or 'java', got {self.kind!r}")
        return sources[self.kind]


class DataQuality(dg.ConfigurableResource):
    """Thresholds of the data-quality asset checks."""

    max_reject_rate: float = Field(
        default=0.05, description="SALESFLOW_MAX_REJECT_RATE: above it the reject-rate check warns"
    )
    reject_rate_ceiling: float = Field(
        default=0.20,
        description="SALESFLOW_REJECT_RATE_CEILING: a day above it (100+ lines) fails cleaning, nothing written",
    )
    reconcile_tolerance: float = Field(
        default=0.01, description="Allowed gap between a sale's totalAmount and its lines."
    )


class ReportStore(dg.ConfigurableResource):
    """Where report files go: a local folder (with a stable `latest/` copy per kind), and who gets them."""

    base_dir: str = Field(description="SALESFLOW_REPORTS_DIR (default <SALESFLOW_DATA_DIR>/reports), a local folder")
    currency: str = Field(default="USD", description="SALESFLOW_CURRENCY: ISO code shown on money in the reports")
    recipients: str = Field(default="", description="SALESFLOW_REPORT_RECIPIENTS: comma-separated email addresses")

    def directory(self) -> Path:
        if "://" in self.base_dir:
            raise ValueError(f"SALESFLOW_REPORTS_DIR must be a local folder (reports are emailed), got {self.base_dir}")
        return Path(self.base_dir).resolve()

    def recipient_list(self) -> list[str]:
        return [address.strip() for address in self.recipients.split(",") if address.strip()]


def java_api_from_env() -> JavaApi:
    return JavaApi(
        base_url=env_or("JAVA_API_URL", DEFAULT_BASE_URL),
        token=env_or("SYSTEM_JWT_TOKEN", None),
        phone=env_or("JAVA_API_PHONE", None),
        password=env_or("JAVA_API_PASSWORD", None),
        max_concurrency=int(os.environ.get("JAVA_API_MAX_CONCURRENCY", 4)),
    )


def sales_source_from_env() -> SalesSource:
    return SalesSource(
        kind=env_or("SALESFLOW_SOURCE", "demo"),
        demo=DemoSource(orders_per_day=int(os.environ.get("SALESFLOW_DEMO_ORDERS_PER_DAY", 200))),
        java=java_api_from_env(),
    )


class ImportSettings(dg.ConfigurableResource):
    """The Excel/CSV import: where the inbox is, the ledger's warehouse, and the import's limits."""

    inbox: str = Field(description="SALESFLOW_IMPORT_INBOX (default <SALESFLOW_DATA_DIR>/import-inbox), a local folder")
    warehouse_url: str = Field(description="SALESFLOW_WAREHOUSE_URL: the import ledger lives there")
    dry_run: bool = Field(default=False, description="SALESFLOW_IMPORT_DRY_RUN=1: validate and write rejects only")
    settle_seconds: float = Field(
        default=10.0, description="SALESFLOW_IMPORT_SETTLE_SECONDS: a file unchanged this long is complete"
    )
    batch_size: int = Field(default=500, description="Sales per POST /sales/bulk (at most 500).")
    max_quantity: int = Field(default=10_000, description="SALESFLOW_IMPORT_MAX_QUANTITY: more on one line is a typo")
    max_rows: int = Field(default=500_000, description="Data rows per file; a bigger file is refused.")
    reconcile_wait_seconds: float = Field(
        default=30.0, description="Wait before each look at GET /sales/today after a lost answer."
    )
    unavailable_retries: int = Field(
        default=3, description="Retries of the import step while the backend is unreachable (nothing sent)."
    )
    retry_wait_seconds: float = Field(default=60.0, description="Seconds between those retries.")

    def inbox_path(self) -> Path:
        if "://" in self.inbox:
            raise ValueError(f"SALESFLOW_IMPORT_INBOX must be a local folder, got {self.inbox}")
        return Path(self.inbox).resolve()


def default_import_inbox() -> str:
    """<SALESFLOW_DATA_DIR>/import-inbox, or ./.salesflow/import-inbox when the data dir is an object store."""
    return os.path.join(local_data_dir(), "import-inbox")


def import_settings_from_env(warehouse_url: Any) -> ImportSettings:
    return ImportSettings(
        inbox=env_or("SALESFLOW_IMPORT_INBOX", default_import_inbox()),
        warehouse_url=warehouse_url,
        dry_run=os.environ.get("SALESFLOW_IMPORT_DRY_RUN", "").strip().lower() in ("1", "true", "yes", "on"),
        settle_seconds=float(os.environ.get("SALESFLOW_IMPORT_SETTLE_SECONDS", 10)),
        max_quantity=int(os.environ.get("SALESFLOW_IMPORT_MAX_QUANTITY", 10_000)),
    )


def data_quality_from_env() -> DataQuality:
    return DataQuality(
        max_reject_rate=float(os.environ.get("SALESFLOW_MAX_REJECT_RATE", 0.05)),
        reject_rate_ceiling=float(os.environ.get("SALESFLOW_REJECT_RATE_CEILING", 0.20)),
    )


def default_reports_dir() -> str:
    """<SALESFLOW_DATA_DIR>/reports, or ./.salesflow/reports when the data dir is an object store."""
    return os.path.join(local_data_dir(), "reports")


def report_store_from_env() -> ReportStore:
    return ReportStore(
        base_dir=env_or("SALESFLOW_REPORTS_DIR", default_reports_dir()),
        currency=env_or("SALESFLOW_CURRENCY", "USD"),
        recipients=env_or("SALESFLOW_REPORT_RECIPIENTS", ""),
    )


SMTP_SECURITY = ("starttls", "ssl", "none")


class MailerError(RuntimeError):
    """The SMTP server could not take the message; the send step retries."""


class Mailer(dg.ConfigurableResource):
    """Email through yagmail over any SMTP server (STARTTLS, SSL or plain).

    With no SMTP host configured, a message is written to the run log instead of sent, and
    `send` returns False so the caller can say so in the UI: alerts are never silently lost.
    """

    host: str = Field(default="", description="SALESFLOW_SMTP_HOST; empty: log emails instead of sending them")
    port: int = Field(default=587, description="SALESFLOW_SMTP_PORT (587 STARTTLS, 465 SSL, 25 plain)")
    user: str | None = Field(default=None, description="SALESFLOW_SMTP_USER; none: send without logging in")
    password: str | None = Field(default=None, description="SALESFLOW_SMTP_PASSWORD")
    security: str = Field(default="starttls", description="SALESFLOW_SMTP_SECURITY: starttls, ssl or none")
    sender: str = Field(
        default="salesflow@localhost",
        description="SALESFLOW_SMTP_SENDER: the From address without a login (with one, yagmail sends as the user)",
    )
    recipients: str = Field(default="", description="SALESFLOW_ALERT_RECIPIENTS: comma-separated, anomaly and stock")
    ops_recipients: str = Field(default="", description="SALESFLOW_OPS_RECIPIENTS: comma-separated, failed runs")
    ui_url: str = Field(default="http://localhost:3000", description="SALESFLOW_UI_URL: the Dagster UI, for links")
    timeout_seconds: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.host.strip())

    def nobody_to_email(self, recipients: list[str], setting: str) -> str | None:
        """Why an email to `recipients` could reach nobody (no SMTP host, or `setting` empty), else None.

        Sensors skip with this reason instead of launching runs that would only log the message.
        """
        if not self.configured:
            return "no SMTP host (SALESFLOW_SMTP_HOST): nothing is emailed; set it to receive these emails"
        if not recipients:
            return f"{setting} is empty: nothing is emailed; set it to receive these emails"
        return None

    def alert_recipient_list(self) -> list[str]:
        return _addresses(self.recipients)

    def ops_recipient_list(self) -> list[str]:
        return _addresses(self.ops_recipients)

    def send(self, to: list[str] | str, subject: str, contents: str, attachments: list[str] | None = None) -> bool:
        """Send one message; False (the message logged instead) without a host or recipients.

        Raises `MailerError` (or the socket error) when the server cannot be reached or drops the
        message, so that the calling step's retry policy sends it later.
        """
        import yagmail

        recipients = _addresses(to) if isinstance(to, str) else [address for address in to if address]
        log = dg.get_dagster_logger()
        if not self.configured or not recipients:
            why = "no SMTP host configured (SALESFLOW_SMTP_HOST)" if not self.configured else "no recipients"
            log.warning(
                f"email not sent, {why}; logged instead.\nTo: {', '.join(recipients)}\nSubject: {subject}\n\n{contents}"
            )
            return False
        if self.security not in SMTP_SECURITY:
            raise MailerError(f"SALESFLOW_SMTP_SECURITY must be one of {SMTP_SECURITY}, got {self.security!r}")
        client = yagmail.SMTP(
            user=self.user or self.sender,
            password=self.password,
            host=self.host,
            port=self.port,
            smtp_ssl=self.security == "ssl",
            smtp_starttls=self.security == "starttls",
            smtp_skip_login=not self.user,
            soft_email_validation=False,
            timeout=self.timeout_seconds,
        )
        with client:
            delivered = client.send(to=recipients, subject=subject, contents=contents, attachments=attachments)
        if delivered is False:
            raise MailerError(f"the SMTP server at {self.host}:{self.port} dropped the connection; not sent")
        log.info(f"email sent to {', '.join(recipients)}: {subject}")
        return True


def _addresses(text: str) -> list[str]:
    return [address.strip() for address in text.split(",") if address.strip()]


def mailer_from_env() -> Mailer:
    return Mailer(
        host=env_or("SALESFLOW_SMTP_HOST", ""),
        port=int(os.environ.get("SALESFLOW_SMTP_PORT", 587)),
        user=env_or("SALESFLOW_SMTP_USER", None),
        password=env_or("SALESFLOW_SMTP_PASSWORD", None),
        security=env_or("SALESFLOW_SMTP_SECURITY", "starttls"),
        sender=env_or("SALESFLOW_SMTP_SENDER", "salesflow@localhost"),
        recipients=env_or("SALESFLOW_ALERT_RECIPIENTS", ""),
        ops_recipients=env_or("SALESFLOW_OPS_RECIPIENTS", ""),
        ui_url=env_or("SALESFLOW_UI_URL", "http://localhost:3000"),
    )
