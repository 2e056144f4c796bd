"""The read-only reader role on real PostgreSQL: SELECT on `analytics`, nothing else, idempotent.

Every test makes its own roles and databases and drops them: roles and `lock_cluster` are
cluster-wide, and the cluster (database `test` included) is shared with the rest of the suite.
`lock_cluster` is only ever given the name of a throwaway database here, never True.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
import pytest

from salesflow_pipelines.cli import main as salesflow
from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.warehouse import roles as warehouse_roles
from salesflow_pipelines.lib.warehouse.roles import ALWAYS_POSSIBLE, grant_reader
from salesflow_pipelines.lib.warehouse.tables import TABLES
from salesflow_pipelines_tests.conftest import _admin_connection, _url_for, scratch_database

DAILY = TABLES["daily_sales_kpis"]


def as_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


@pytest.fixture
def roles() -> Iterator[Callable[[str], str]]:
    """Role names of this test's own (roles are cluster-wide), all dropped afterwards (after the databases)."""
    names = []

    def new(prefix: str) -> str:
        names.append(f"{prefix}_{uuid.uuid4().hex[:8]}")
        return names[-1]

    yield new
    with _admin_connection() as admin:
        for name in names:
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def role(roles) -> str:
    return roles("salesflow_reader")


@pytest.fixture
def database(role: str) -> Iterator[str]:
    """A fresh database (dropped before the role): a Dagster-like table in `public`, a KPI table in `analytics`.

    PUBLIC may CREATE in its schema `public`, as in every database made before PostgreSQL 15.
    """
    name = f"salesflow_roles_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _url_for(name)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
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
            "cost_of_goods": [60.0],
            "gross_margin": [40.0],
            "margin_pct": [40.0],
        }
    )
    warehouse.connect(url).replace(DAILY, kpis, None)
    try:
        yield url
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def other_database(role: str) -> Iterator[str]:
    """Another throwaway database of the cluster, the only one `lock_cluster` is given (dropped before the roles)."""
    with scratch_database("salesflow_other") as url:
        yield url


def name_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def create_login(name: str) -> None:
    with _admin_connection() as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN')


def acls(url: str) -> tuple:
    """The database's ACL and its schema public's, as PostgreSQL stores them."""
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT d.datacl::text, n.nspacl::text FROM pg_database d, pg_namespace n "
            "WHERE d.datname = current_database() AND n.nspname = 'public'"
        ).fetchone()


def shared_acls() -> dict:
    """ACLs of the databases every test session shares: lock_cluster must leave them alone."""
    with _admin_connection() as admin:
        return dict(
            admin.execute(
                "SELECT datname, datacl::text FROM pg_database WHERE datname IN ('test', 'postgres', 'template1')"
            ).fetchall()
        )


def particular(granted) -> list[str]:
    """What the role can still do beyond what every role can in a database it connects to."""
    assert granted.remaining[-len(ALWAYS_POSSIBLE) :] == list(ALWAYS_POSSIBLE)
    return granted.remaining[: -len(ALWAYS_POSSIBLE)]


def test_reader_selects_analytics_and_nothing_else(database, role):
    password = uuid.uuid4().hex
    granted = grant_reader(database, role=role, password=password)
    assert granted.created and granted.password_set and granted.tables == ["daily_sales_kpis"]
    # Nothing but what every role may (catalogs, functions, NOTIFY...) and the other databases stays possible.
    assert [line for line in particular(granted) if not line.startswith("connect to")] == []
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
            "CREATE TEMP TABLE mine (x int)",
        ):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
                reader.execute(statement)
        # Read-only by privileges, not only by the session default the role carries.
        reader.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("INSERT INTO analytics.daily_sales_kpis (sale_date, revenue) VALUES ('2026-11-02', 1)")
        # PUBLIC's TEMPORARY on the database and its CREATE on schema public (pre-15 default) are gone.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary tables"):
            reader.execute("CREATE TEMP TABLE mine (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema public"):
            reader.execute("CREATE TABLE public.mine (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("CREATE SCHEMA mine")


def test_running_again_changes_nothing_and_takes_back_extra_grants(database, role):
    grant_reader(database, role=role)
    granted_acls = acls(database)
    with psycopg.connect(database, autocommit=True) as owner:
        owner.execute(f'GRANT INSERT, DELETE ON analytics.daily_sales_kpis TO "{role}"')
        owner.execute(f'GRANT SELECT ON public.runs TO "{role}"')
        owner.execute(f'GRANT TEMPORARY, CREATE ON DATABASE "{name_of(database)}" TO "{role}"')
    again = grant_reader(database, role=role)
    assert not again.created and again.tables == ["daily_sales_kpis"]
    assert again.connect_kept == {} and again.create_kept == [] and again.locked == []
    assert acls(database) == granted_acls
    with psycopg.connect(database) as owner:
        privileges = owner.execute(
            "SELECT table_schema, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s ORDER BY 1, 2, 3",
            (role,),
        ).fetchall()
        temporary = owner.execute(
            "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY')", (role,)
        ).fetchone()
    # SELECT alone, on the table and on its monthly partition (readers query the table).
    assert privileges == [
        ("analytics", "daily_sales_kpis", "SELECT"),
        ("analytics", "daily_sales_kpis_p202611", "SELECT"),
    ]
    assert temporary == (False,)


def test_roles_using_the_warehouse_keep_their_access_when_public_loses_it(database, role, roles):
    """Dagster's user (owning tables in public) keeps CONNECT, TEMPORARY and CREATE; a bystander loses them."""
    dagster, bystander = roles("salesflow_dagster"), roles("salesflow_bystander")
    create_login(dagster)
    create_login(bystander)
    with psycopg.connect(database, autocommit=True) as owner:
        owner.execute(f'ALTER TABLE public.runs OWNER TO "{dagster}"')

    granted = grant_reader(database, role=role)
    assert granted.connect_kept == {name_of(database): [dagster]}
    assert granted.create_kept == [dagster]

    with psycopg.connect(as_user(database, dagster, "any"), autocommit=True) as user:
        user.execute("CREATE TABLE public.event_logs (id int)")
        user.execute("CREATE TEMP TABLE scratch (x int)")
        assert user.execute("SELECT count(*) FROM public.runs").fetchone() == (1,)
    # A role that reached the warehouse only through PUBLIC now needs GRANT CONNECT like the reader.
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(as_user(database, bystander, "any")).close()


def test_reader_reaches_other_databases_until_they_are_locked(database, other_database, role, roles):
    """Off by default: the reader connects to the cluster's other databases with PUBLIC's privileges there."""
    password = uuid.uuid4().hex
    other, user = name_of(other_database), roles("salesflow_other_user")
    create_login(user)
    with psycopg.connect(other_database, autocommit=True) as owner:
        owner.execute("CREATE TABLE public.theirs (x int)")
        owner.execute(f'ALTER TABLE public.theirs OWNER TO "{user}"')
    shared = shared_acls()

    granted = grant_reader(database, role=role, password=password)
    assert granted.locked == [] and "PUBLIC has CONNECT" in granted.other_databases[other]
    assert any(line.startswith("connect to") and other in line for line in particular(granted))
    with psycopg.connect(as_user(other_database, role, password), autocommit=True) as reader:
        # There it has what PUBLIC has, TEMP tables included (once it turns read-only off).
        reader.execute("SET default_transaction_read_only = off")
        reader.execute("CREATE TEMP TABLE scratch (x int)")

    locked = grant_reader(database, role=role, lock_cluster=[other])
    assert locked.locked == [other] and other not in locked.other_databases
    assert locked.connect_kept == {other: [user]}
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(as_user(other_database, role, password)).close()
    with psycopg.connect(as_user(other_database, user, "any")) as theirs:
        assert theirs.execute("SELECT count(*) FROM public.theirs").fetchone() == (0,)
    with psycopg.connect(as_user(database, role, password)) as reader:
        assert reader.execute("SELECT count(*) FROM analytics.daily_sales_kpis").fetchone() == (1,)

    again = grant_reader(database, role=role, lock_cluster=[other])
    assert again.locked == [other] and again.connect_kept == {}
    assert shared_acls() == shared


def test_lock_cluster_with_an_unknown_database_changes_nothing(database, role):
    before = acls(database)
    with pytest.raises(warehouse.WarehouseError, match="no_such_database"):
        grant_reader(database, role=role, lock_cluster=["no_such_database"])
    assert acls(database) == before
    with _admin_connection() as admin:
        assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)).fetchone() == (0,)


def test_a_writer_not_owning_the_database_gets_what_stays_reported(database, role, roles):
    """Only the database's owner can revoke PUBLIC's privileges: as anyone else they stay, reported with why."""
    writer = roles("salesflow_writer")
    with _admin_connection() as admin:
        admin.execute(f'CREATE ROLE "{writer}" LOGIN CREATEROLE')
    with psycopg.connect(database, autocommit=True) as owner:
        # What an admin gives the writer on a managed server: CREATE (for schema analytics), and its tables.
        owner.execute(f'GRANT CREATE ON DATABASE "{name_of(database)}" TO "{writer}"')
        owner.execute(f'ALTER SCHEMA analytics OWNER TO "{writer}"')
        for (relation,) in owner.execute(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('analytics', 'public') AND c.relkind IN ('r', 'p')"
        ).fetchall():
            owner.execute(f'ALTER TABLE {relation} OWNER TO "{writer}"')
    password = uuid.uuid4().hex

    granted = grant_reader(as_user(database, writer, "any"), role=role, password=password)
    assert granted.tables == ["daily_sales_kpis"]
    temp = [line for line in particular(granted) if line.startswith("create TEMP tables")]
    assert len(temp) == 1 and "owner postgres" in temp[0]
    assert any(line.startswith("create objects in schema public") for line in particular(granted))
    with psycopg.connect(as_user(database, role, password), autocommit=True) as reader:
        reader.execute("SET default_transaction_read_only = off")
        reader.execute("CREATE TEMP TABLE as_reported (x int)")

    # The owner running it takes them back.
    by_owner = grant_reader(database, role=role)
    assert [line for line in particular(by_owner) if not line.startswith("connect to")] == []
    assert by_owner.connect_kept == {name_of(database): [writer]} and by_owner.create_kept == [writer]


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
    assert f"What {role} can still do, and why:" in out and "PUBLIC has CONNECT" in out
    assert "s3cret-reader" not in out
    with psycopg.connect(as_user(database, role, "s3cret-reader")) as reader:
        assert reader.execute("SELECT count(*) FROM analytics.daily_sales_kpis").fetchone() == (1,)
    monkeypatch.delenv("SALESFLOW_WAREHOUSE_URL")
    assert salesflow(["warehouse", "grant-reader", "--role", role]) == 2


def test_cli_lock_cluster_is_off_unless_asked(monkeypatch):
    asked = []

    def grant(url, **kwargs):
        asked.append(kwargs["lock_cluster"])
        raise warehouse.WarehouseError("stop here")

    monkeypatch.setattr(warehouse_roles, "grant_reader", grant)
    monkeypatch.setenv("SALESFLOW_WAREHOUSE_URL", "postgresql://nowhere/warehouse")
    assert salesflow(["warehouse", "grant-reader"]) == 1
    assert salesflow(["warehouse", "grant-reader", "--lock-cluster"]) == 1
    assert asked == [False, True]
