"""The read-only reader role on real PostgreSQL: SELECT on `analytics`, nothing else, idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
import pytest

from salesflow_pipelines.cli import main as salesflow
from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.tables import TABLES
from salesflow_pipelines.lib.warehouse_roles import grant_reader
from salesflow_pipelines_tests.conftest import _admin_connection, _url_for

DAILY = TABLES["daily_sales_kpis"]


def as_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


@pytest.fixture
def role() -> Iterator[str]:
    """A role name of this test's own (roles are cluster-wide), dropped afterwards."""
    name = f"salesflow_reader_{uuid.uuid4().hex[:8]}"
    yield name
    with _admin_connection() as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def database(role: str) -> Iterator[str]:
    """A fresh database (dropped before the role): a Dagster-like table in `public`, a KPI table in `analytics`."""
    name = f"salesflow_roles_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _url_for(name)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE public.runs (run_id text PRIMARY KEY, run_body text)")
        connection.execute("INSERT INTO public.runs VALUES ('r1', 'secret run config')")
    kpis = pd.DataFrame(
        {
            "sale_date": [pd.Timestamp("2026-11-01")],
            "revenue": [100.0],
            "orders": [2],
            "units": [3.0],
            "avg_order_value": [50.0],
            "unique_customers": [1],
            "refunded_amount": [0.0],
            "revenue_growth_pct": [None],
        }
    )
    warehouse.connect(url).replace(DAILY, kpis, None)
    try:
        yield url
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_reader_selects_analytics_and_nothing_else(database, role):
    password = uuid.uuid4().hex
    granted = grant_reader(database, role=role, password=password)
    assert granted.created and granted.password_set and granted.tables == ["daily_sales_kpis"]
    # A table the pipelines create after the grant is readable too (default privileges).
    warehouse.connect(database).read(TABLES["region_daily_sales"])

    with psycopg.connect(as_user(database, role, password), autocommit=True) as reader:
        assert reader.execute("SELECT revenue FROM analytics.daily_sales_kpis").fetchall() == [(100.0,)]
        assert reader.execute("SELECT count(*) FROM analytics.region_daily_sales").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT * FROM public.runs")
        for statement in (
            "INSERT INTO analytics.daily_sales_kpis (sale_date, revenue) VALUES ('2026-11-02', 1)",
            "DELETE FROM analytics.daily_sales_kpis",
            "CREATE TABLE analytics.mine (x int)",
            "CREATE TABLE public.mine (x int)",
        ):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
                reader.execute(statement)
        # Read-only by privileges, not only by the session default the role carries.
        reader.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("INSERT INTO analytics.daily_sales_kpis (sale_date, revenue) VALUES ('2026-11-02', 1)")


def test_running_again_changes_nothing_and_takes_back_extra_grants(database, role):
    grant_reader(database, role=role)
    with psycopg.connect(database, autocommit=True) as owner:
        owner.execute(f'GRANT INSERT, DELETE ON analytics.daily_sales_kpis TO "{role}"')
        owner.execute(f'GRANT SELECT ON public.runs TO "{role}"')
    again = grant_reader(database, role=role)
    assert not again.created and again.tables == ["daily_sales_kpis"]
    with psycopg.connect(database) as owner:
        privileges = owner.execute(
            "SELECT table_schema, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s ORDER BY 1, 2, 3",
            (role,),
        ).fetchall()
    # SELECT alone, on the table and on its monthly partition (readers query the table).
    assert privileges == [
        ("analytics", "daily_sales_kpis", "SELECT"),
        ("analytics", "daily_sales_kpis_p202611", "SELECT"),
    ]


def test_a_table_readable_by_public_outside_analytics_fails_the_grant_with_its_name(database, role):
    with psycopg.connect(database, autocommit=True) as owner:
        owner.execute("GRANT SELECT ON public.runs TO PUBLIC")
    with pytest.raises(warehouse.WarehouseError, match=r"public\.runs"):
        grant_reader(database, role=role)


def test_sqlite_warehouse_is_refused(tmp_path, role):
    with pytest.raises(warehouse.WarehouseError, match="PostgreSQL"):
        grant_reader(f"sqlite:///{tmp_path / 'warehouse.db'}", role=role)


def test_cli_grant_reader_reads_url_and_password_from_env(database, role, monkeypatch, capsys):
    monkeypatch.setenv("SALESFLOW_WAREHOUSE_URL", database)
    monkeypatch.setenv("SALESFLOW_READER_PASSWORD", "s3cret-reader")
    assert salesflow(["warehouse", "grant-reader", "--role", role]) == 0
    assert salesflow(["warehouse", "grant-reader", "--role", role]) == 0
    out = capsys.readouterr().out
    assert f"Role {role} created" in out and f"Role {role} checked" in out
    assert "s3cret-reader" not in out
    with psycopg.connect(as_user(database, role, "s3cret-reader")) as reader:
        assert reader.execute("SELECT count(*) FROM analytics.daily_sales_kpis").fetchone() == (1,)
    monkeypatch.delenv("SALESFLOW_WAREHOUSE_URL")
    assert salesflow(["warehouse", "grant-reader", "--role", role]) == 2
