"""The API tests' fixtures: one filled warehouse per session (its own database, read through its own
read-only role), the stand-in Java backend signing tokens with the shared secret, and the API itself
served by uvicorn on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
import pandas as pd
import psycopg
import pytest
import uvicorn

from salesflow_pipelines.api.app import create_app
from salesflow_pipelines.api.settings import ApiSettings
from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.warehouse.roles import grant_reader
from salesflow_pipelines_tests.api.filled import fill
from salesflow_pipelines_tests.conftest import _admin_connection, scratch_database

SECRET = "salesflow-api-tests-hs256-secret-0123456789abcdef-0123456789abcdef"  # 64+ bytes: fine for HS512 too
ISSUER = "salesflow-app"
ADMIN_LOGIN = ("0000000000", "admin123")
ALLOWED_ORIGIN = "https://shop.example.com"


@dataclass(frozen=True)
class FilledWarehouse:
    writer_url: str  # the pipelines' user: for the tests' own reads and the import ledger
    reader_url: str  # the read-only role the API uses
    reports_dir: Path

    def frame(self, sql: str, params=()) -> pd.DataFrame:
        with psycopg.connect(self.writer_url) as connection:
            cursor = connection.execute(sql, params)
            return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


@pytest.fixture(scope="session")
def filled_warehouse(tmp_path_factory) -> Iterator[FilledWarehouse]:
    """Eleven weeks of demo sales through the real assets, in a database of this session's own
    (other modules reset the shared one's schema), read by the API as a `salesflow_reader`-like role."""
    work = tmp_path_factory.mktemp("api-warehouse")
    role = f"salesflow_reader_api_{uuid.uuid4().hex[:8]}"
    with scratch_database("salesflow_api") as url:
        fill(url, work, work / "reports")
        grant_reader(url, role=role)
        yield FilledWarehouse(writer_url=url, reader_url=as_user(url, role), reports_dir=work / "reports")
    with _admin_connection() as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


@pytest.fixture(scope="session")
def standin() -> Iterator[StandinServer]:
    """The Java backend's stand-in, signing with the secret the API verifies with."""
    with StandinServer(DemoData(orders_per_day=20), jwt_secret=SECRET) as server:
        yield server


def token(
    role: str | list[str] | None = "ADMIN",
    *,
    ttl: float = 600,
    secret: str = SECRET,
    issuer: str | None = ISSUER,
    algorithm: str = "HS256",
    **claims,
) -> str:
    """A token shaped like the Java backend's (`role` one string), or the legacy `roles` list."""
    now = time.time()
    body = {"sub": "0000000000", "username": "admin", "iat": int(now), "exp": int(now + ttl), **claims}
    if issuer is not None:
        body["iss"] = issuer
    if isinstance(role, list):
        body["roles"] = role
    elif role is not None:
        body["role"] = role
    return jwt.encode(body, secret, algorithm=algorithm)


def bearer(value: str | None = None, **options) -> dict[str, str]:
    return {"Authorization": f"Bearer {value or token(**options)}"}


def api_settings(filled: FilledWarehouse, work: Path, standin: StandinServer | None = None, **changes) -> ApiSettings:
    settings = ApiSettings(
        warehouse_url=filled.reader_url,
        jwt_secret=SECRET.encode(),
        inbox=work / "inbox",
        reports_dir=filled.reports_dir,
        cors_origins=(ALLOWED_ORIGIN,),
        java_api_url=standin.base_url if standin else "http://127.0.0.1:9/api/v1",
    )
    return replace(settings, **changes)


@contextmanager
def serving(settings: ApiSettings) -> Iterator[str]:
    """The API under uvicorn on a free loopback port, in a thread; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@dataclass(frozen=True)
class RunningApi:
    url: str
    settings: ApiSettings
    warehouse: FilledWarehouse

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)

    def get(self, path: str, **options) -> httpx.Response:
        headers = options.pop("headers", None) or bearer()
        with self.client(headers) as client:
            return client.get(path, **options)

    def post(self, path: str, **options) -> httpx.Response:
        headers = options.pop("headers", None) or bearer()
        with self.client(headers) as client:
            return client.post(path, **options)


@pytest.fixture(scope="session")
def running_api(filled_warehouse, standin, tmp_path_factory) -> Iterator[RunningApi]:
    """One API server for the read-only tests of the session."""
    settings = api_settings(filled_warehouse, tmp_path_factory.mktemp("api"), standin)
    with serving(settings) as url:
        yield RunningApi(url, settings, filled_warehouse)


@pytest.fixture
def api_server(filled_warehouse, standin, tmp_path) -> Callable[..., RunningApi]:
    """Start an API server of this test's own, with changed settings (stopped after the test)."""
    stack: list = []

    def start(**changes) -> RunningApi:
        settings = api_settings(filled_warehouse, tmp_path, standin, **changes)
        context = serving(settings)
        url = context.__enter__()
        stack.append(context)
        return RunningApi(url, settings, filled_warehouse)

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)
