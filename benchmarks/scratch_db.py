"""A PostgreSQL database made for one benchmark and dropped after it (not a benchmark itself)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

# The admin connection that creates and drops the scratch database (as the test suite's).
DEFAULT_ADMIN_URL = os.environ.get("SALESFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_postgres(admin_url: str = DEFAULT_ADMIN_URL) -> Iterator[str]:
    """The URL of a database created for the caller and dropped afterwards."""
    database = f"salesflow_bench_{uuid.uuid4().hex[:12]}"
    base = admin_url.rpartition("/")[0]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{base}/{database}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
