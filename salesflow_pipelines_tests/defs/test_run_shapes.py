"""DESIGN.md section 3 rule 8: a day's rows never depend on how its days were grouped into runs.

The same eight days are materialized the ways users and the daemon run them, from a server that
answers with 503 bursts and two-second tokens, into real PostgreSQL: one range (the reference),
day by day, day by day then a range re-run of any steps, two overlapping ranges at once, an asset
backfill level by level (one run per dependency level, as the daemon runs it), and consecutive
chunks of any sizes. Every warehouse table must equal the reference row for row.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines_tests.conftest import ADMIN_URL, _url_for, scratch_database
from salesflow_pipelines_tests.defs.daily_graph import WAREHOUSE_TABLES, materialize, warehouse_tables

FIRST = date(2026, 10, 5)
DAYS = [FIRST + timedelta(days=offset) for offset in range(8)]
LAST = DAYS[-1]
# One run per dependency level of the daily graph, in order (what an asset backfill launches).
LEVELS = [
    ["raw_sales", "raw_products"],
    ["sales_lines", "sales_rejects"],
    [
        "stock_snapshot",
        "daily_sales_kpis",
        "product_daily_sales",
        "region_daily_sales",
        "category_daily_sales",
        "customer_daily_kpis",
    ],
    ["product_inventory_kpis"],
    ["stock_kpis"],
]
# Steps a user may re-run on their own (the cleaning multi-asset is one step).
STEPS = {
    "clean_sales": ["sales_lines", "sales_rejects"],
    "stock_snapshot": ["stock_snapshot"],
    "daily_sales_kpis": ["daily_sales_kpis"],
    "product_daily_sales": ["product_daily_sales"],
    "customer_daily_kpis": ["customer_daily_kpis"],
    "product_inventory_kpis": ["product_inventory_kpis"],
    "stock_kpis": ["stock_kpis"],
}
SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Shop:
    """A warehouse database and a frames folder of its own, filled run by run from the server."""

    def __init__(self, server: StandinServer, url: str, frames: str) -> None:
        self.server, self.url, self.frames = server, url, frames

    def run(self, start: date, end: date, selection: list[str] | None = None) -> None:
        self.server.fail_next(2)  # every run meets a 503 burst
        result = materialize(self.server, self.url, self.frames, start, end, selection)
        assert result.success, f"run {start}..{end} {selection or 'all'} failed"

    def tables(self) -> dict[str, pd.DataFrame]:
        return warehouse_tables(self.url)


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(DemoData(orders_per_day=60), today=date(2026, 11, 5), token_ttl_seconds=2) as server:
        yield server


@contextlib.contextmanager
def new_shop(server: StandinServer, tmp_path_factory, template: Shop | None = None) -> Iterator[Shop]:
    """An empty shop, or a copy of `template` (its database cloned, its frames copied)."""
    frames = str(tmp_path_factory.mktemp("frames") / "frames")
    if template is None:
        with scratch_database("shape") as url:
            yield Shop(server, url, frames)
        return
    database = f"shape_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template.url.rpartition("/")[2]}"')
    shutil.copytree(template.frames, frames)
    try:
        yield Shop(server, _url_for(database), frames)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The eight days as one range run."""
    with new_shop(server, tmp_path_factory) as shop:
        shop.run(FIRST, LAST)
        tables = shop.tables()
    assert all(len(tables[name]) for name in WAREHOUSE_TABLES)
    assert (tables["sales_rejects"]["reason"] == "DUPLICATE_SALE").mean() < 0.5
    return tables


@pytest.fixture(scope="module")
def day_by_day(server, tmp_path_factory) -> Iterator[Shop]:
    """The eight days run one by one, as the daily schedule leaves them."""
    with new_shop(server, tmp_path_factory) as shop:
        for day in DAYS:
            shop.run(day, day)
        yield shop


def assert_same_rows(tables: dict[str, pd.DataFrame], reference: dict[str, pd.DataFrame]) -> None:
    for name in WAREHOUSE_TABLES:
        pd.testing.assert_frame_equal(tables[name], reference[name], obj=name)


def test_day_by_day_equals_one_range(day_by_day, reference):
    assert_same_rows(day_by_day.tables(), reference)


@SETTINGS
@given(
    steps=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, unique=True),
    first=st.integers(min_value=0, max_value=len(DAYS) - 1),
    length=st.integers(min_value=2, max_value=len(DAYS)),
)
def test_a_range_rerun_of_any_steps_after_daily_runs_changes_nothing(
    steps, first, length, server, day_by_day, reference, tmp_path_factory
):
    window = DAYS[first : first + length]
    with new_shop(server, tmp_path_factory, template=day_by_day) as shop:
        shop.run(window[0], window[-1], [asset for step in steps for asset in STEPS[step]])
        assert_same_rows(shop.tables(), reference)


def test_two_overlapping_ranges_at_once_equal_one_range(server, reference, tmp_path_factory):
    with new_shop(server, tmp_path_factory) as shop:
        failures: list[BaseException] = []

        def run(end: date) -> None:
            try:
                shop.run(FIRST, end)
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        runs = [threading.Thread(target=run, args=(end,)) for end in (DAYS[5], LAST)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join()
        assert not failures, failures
        assert_same_rows(shop.tables(), reference)


def test_an_asset_backfill_level_by_level_equals_one_range(server, reference, tmp_path_factory):
    with new_shop(server, tmp_path_factory) as shop:
        for level in LEVELS:
            shop.run(FIRST, LAST, level)
        assert_same_rows(shop.tables(), reference)


@SETTINGS
@given(cuts=st.sets(st.integers(min_value=1, max_value=len(DAYS) - 1), max_size=4))
def test_consecutive_chunks_of_any_size_equal_one_range(cuts, server, reference, tmp_path_factory):
    bounds = [0, *sorted(cuts), len(DAYS)]
    with new_shop(server, tmp_path_factory) as shop:
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            shop.run(DAYS[start], DAYS[end - 1])
        assert_same_rows(shop.tables(), reference)
