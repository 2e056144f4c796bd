"""Shared fixtures: a fresh PostgreSQL database per test session, isolated data dirs.

PostgreSQL is required, not optional: when 127.0.0.1:5432 (database `test`) is unreachable
the fixture fails the tests that need it with a message saying so; it never skips them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

ADMIN_URL = os.environ.get("SALESFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_connection() -> psycopg.Connection:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is required for these tests and is unreachable at {ADMIN_URL}: {error}. "
            "Start it (e.g. `pg_ctlcluster <version> main start`) or set SALESFLOW_TEST_PG_URL.",
            pytrace=False,
        )


def _url_for(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of a database created for the caller and dropped afterwards (never shared)."""
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield _url_for(database)
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database created for this test session (parallel sessions never share tables)."""
    with scratch_database("salesflow_test") as url:
        yield url


@pytest.fixture
def fresh_schema(postgres_url: str) -> Iterator[str]:
    """The session database with an empty `analytics` schema for this test."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
    yield postgres_url


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> str:
    """An empty SALESFLOW_DATA_DIR for this test."""
    path = tmp_path / "salesflow"
    path.mkdir()
    monkeypatch.setenv("SALESFLOW_DATA_DIR", str(path))
    return str(path)
