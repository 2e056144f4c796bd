"""Every external system as a `ConfigurableResource`, configured from the environment.

The defaults need nothing outside the machine: the embedded demo source, a SQLite warehouse
and Parquet files under `SALESFLOW_DATA_DIR`. Deployment swaps them through env vars only.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from salesflow_pipelines.lib import payloads
from salesflow_pipelines.lib.demo import DemoData
from salesflow_pipelines.lib.java_client import DEFAULT_BASE_URL, JavaApiClient

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


class DemoSource(dg.ConfigurableResource):
    """Embedded, seeded demo shop: the default source, no network needed."""

    seed: int = Field(default=7, description="Same seed, same sales.")
    orders_per_day: int = Field(default=200, description="Average orders per day before seasonality.")

    def fetch_sales(self, start: date, end: date) -> pd.DataFrame:
        """Raw sale lines dated in [start, end]."""
        return self._data().sales_lines(start, end)

    def fetch_products(self, snapshot_date: date) -> pd.DataFrame:
        """The product snapshot joined with inventory, through the same path as the API's."""
        data = self._data()
        return payloads.products_from_payload(
            payloads.products_to_payload(data.products(snapshot_date)),
            payloads.inventory_to_payload(data.inventory(snapshot_date)),
            snapshot_date,
        )

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
    max_concurrency: int = Field(default=4, description="Concurrent /sales/range page fetches.")

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

    def fetch_products(self, snapshot_date: date) -> pd.DataFrame:
        with self.client(dg.get_dagster_logger()) as client:
            return payloads.products_from_payload(client.fetch_products(), client.fetch_inventory(), snapshot_date)


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

    max_reject_rate: float = Field(default=0.05, description="SALESFLOW_MAX_REJECT_RATE")
    reconcile_tolerance: float = Field(
        default=0.01, description="Allowed gap between a sale's totalAmount and its lines."
    )


def sales_source_from_env() -> SalesSource:
    return SalesSource(
        kind=env_or("SALESFLOW_SOURCE", "demo"),
        demo=DemoSource(orders_per_day=int(os.environ.get("SALESFLOW_DEMO_ORDERS_PER_DAY", 200))),
        java=JavaApi(
            base_url=env_or("JAVA_API_URL", DEFAULT_BASE_URL),
            token=env_or("SYSTEM_JWT_TOKEN", None),
            phone=env_or("JAVA_API_PHONE", None),
            password=env_or("JAVA_API_PASSWORD", None),
        ),
    )


def data_quality_from_env() -> DataQuality:
    return DataQuality(max_reject_rate=float(os.environ.get("SALESFLOW_MAX_REJECT_RATE", 0.05)))
