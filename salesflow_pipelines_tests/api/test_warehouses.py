"""The embedded SQLite warehouse answers exactly as PostgreSQL does; a warehouse that cannot be read
is a 503 with a sentence, never a 500; the API's sessions cannot write even as the writer's user."""

from __future__ import annotations

import pytest

from salesflow_pipelines.api.store import ReadStore
from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.warehouse.tables import TABLES

QUESTIONS = [
    ("get", "/analytics/sales", {"params": {"period": "monthly"}}),
    ("get", "/analytics/sales", {"params": {"start_date": "2026-08-01", "end_date": "2026-09-30"}}),
    ("get", "/analytics/stock", {"params": {"period": "quarterly"}}),
    ("post", "/ml/forecast", {"json": {"payload": {"scope": "GLOBAL", "forecast_days": 14}}}),
    ("post", "/ml/forecast", {"json": {"payload": {"scope": "PRODUCT", "sku": "SKU-0007", "forecast_days": 3}}}),
    ("post", "/ml/anomalies", {"json": {"payload": {"scope": "ALL", "period": "yearly"}}}),
]


@pytest.fixture
def sqlite_copy(filled_warehouse, tmp_path) -> str:
    """The filled warehouse's tables copied into a SQLite file, through the pipelines' own writer."""
    source = warehouse.connect(filled_warehouse.writer_url)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    target = warehouse.connect(url)
    for table in TABLES.values():
        target.replace(table, source.read(table), None)
    return url


def test_sqlite_answers_as_postgres_does(running_api, api_server, sqlite_copy):
    embedded = api_server(warehouse_url=sqlite_copy)
    for method, path, options in QUESTIONS:
        on_postgres = getattr(running_api, method)(path, **options)
        on_sqlite = getattr(embedded, method)(path, **options)
        assert on_postgres.status_code == on_sqlite.status_code == 200, (path, on_sqlite.text)
        assert on_sqlite.json() == on_postgres.json(), path


def test_an_unreadable_warehouse_is_503_and_health_stays_up(api_server, filled_warehouse, tmp_path):
    missing_database = filled_warehouse.reader_url.rpartition("/")[0] + "/no_such_warehouse"
    for url in (missing_database, f"sqlite:///{tmp_path / 'nothing-here.db'}"):
        api = api_server(warehouse_url=url)
        answer = api.get("/analytics/sales")
        assert answer.status_code == 503, answer.text
        assert answer.json()["detail"].startswith("The warehouse cannot be read:")
        assert api.get("/health").status_code == 200


def test_the_api_sessions_are_read_only(filled_warehouse):
    store = ReadStore(filled_warehouse.writer_url, pool_size=1)  # even the pipelines' own user
    with pytest.raises(Exception, match="read-only transaction"):
        store.rows("DELETE FROM {daily_sales_kpis}")
    assert store.value("SELECT COUNT(*) FROM {daily_sales_kpis}") > 0
    store.close()
