"""Warehouse writes: per-window replace, atomic on failure, in SQLite and real PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pandas as pd
import psycopg
import pytest

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.dates import Window
from salesflow_pipelines.lib.warehouse.tables import TABLES, Table

REGIONS = TABLES["region_daily_sales"]


def regions(day: str, *names: str, revenue: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sale_date": pd.Timestamp(day),
            "region": list(names),
            "revenue": revenue,
            "orders": 1,
            "units": 2.0,
            "unique_customers": 1,
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> warehouse.Warehouse:
    if request.param == "sqlite":
        return warehouse.connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    return warehouse.connect(request.getfixturevalue("fresh_schema"))


def window(start: str, end: str) -> Window:
    return Window(date.fromisoformat(start), date.fromisoformat(end))


def test_replace_touches_only_its_window_and_is_idempotent(store):
    store.replace(REGIONS, regions("2026-11-01", "North", "South"), window("2026-11-01", "2026-11-02"))
    store.replace(REGIONS, regions("2026-11-02", "North"), window("2026-11-02", "2026-11-03"))
    store.replace(REGIONS, regions("2026-11-02", "East", revenue=5.0), window("2026-11-02", "2026-11-03"))
    store.replace(REGIONS, regions("2026-11-02", "East", revenue=5.0), window("2026-11-02", "2026-11-03"))

    table = store.read(REGIONS).sort_values(["sale_date", "region"])
    assert table["region"].tolist() == ["North", "South", "East"]
    assert table["revenue"].tolist() == [10.0, 10.0, 5.0]
    assert store.read(REGIONS, window("2026-11-02", "2026-11-03"))["region"].tolist() == ["East"]


def test_multi_day_window_replaces_every_day_at_once(store):
    store.replace(REGIONS, regions("2026-11-01", "North"), window("2026-11-01", "2026-11-02"))
    both_days = pd.concat([regions("2026-11-01", "West"), regions("2026-11-02", "West")])
    store.replace(REGIONS, both_days, window("2026-11-01", "2026-11-03"))
    assert sorted(store.read(REGIONS)["region"]) == ["West", "West"]


def test_failed_write_leaves_previous_rows(store):
    store.replace(REGIONS, regions("2026-11-01", "North"), window("2026-11-01", "2026-11-02"))
    duplicate_key = regions("2026-11-01", "South", "South")
    with pytest.raises(Exception):  # noqa: B017 - the driver's own integrity error
        store.replace(REGIONS, duplicate_key, window("2026-11-01", "2026-11-02"))
    assert store.read(REGIONS)["region"].tolist() == ["North"]


def test_rows_outside_the_window_are_refused_before_anything_is_deleted(store):
    store.replace(REGIONS, regions("2026-11-01", "North"), window("2026-11-01", "2026-11-02"))
    with pytest.raises(warehouse.WarehouseError, match="outside the partition window"):
        store.replace(REGIONS, regions("2026-11-05", "North"), window("2026-11-01", "2026-11-02"))
    assert len(store.read(REGIONS)) == 1


def test_unknown_url_scheme_says_what_to_use():
    with pytest.raises(warehouse.WarehouseError, match="sqlite:/// or postgresql://"):
        warehouse.connect("mysql://localhost/db")


EVERY_TYPE = Table(
    "every_type",
    {"day": "date", "at": "timestamp", "count": "int", "amount": "float", "label": "text"},
    (),
    "day",
    "One row per case: each logical column type, missing values, text beyond ASCII.",
)


def test_every_column_type_and_missing_values_round_trip(store):
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-11-01 23:59", "2026-11-02 00:00", "2026-11-02 12:00"]),
            "at": pd.to_datetime(["2026-11-01 08:30:15.75", None, "1999-12-31 23:59:59.5"]),
            "count": pd.array([-(2**62), None, 7], dtype="Int64"),
            "amount": [1.5, float("nan"), -1e-300],
            "label": pd.array(["Crème brûlée 🍮", None, ""], dtype="string"),
        }
    )
    store.replace(EVERY_TYPE, frame, window("2026-11-01", "2026-11-03"))
    back = store.read(EVERY_TYPE).sort_values("count", na_position="last").reset_index(drop=True)
    expected = frame.iloc[[0, 2, 1]].reset_index(drop=True)
    expected["day"] = expected["day"].dt.normalize()
    expected["at"] = expected["at"].dt.floor("s")
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back["label"].isna().tolist() == [False, False, True]


def test_rows_without_a_day_are_refused_with_their_count(store):
    undated = regions("2026-11-01", "North", "South")
    undated.loc[1, "sale_date"] = pd.NaT
    with pytest.raises(warehouse.WarehouseError, match="1 rows have no sale_date"):
        store.replace(REGIONS, undated, window("2026-11-01", "2026-11-02"))


def days_of_regions(start: str, end: str, *names: str, revenue: float = 10.0) -> pd.DataFrame:
    return pd.concat([regions(str(day.date()), *names, revenue=revenue) for day in pd.date_range(start, end)])


def partitions(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1",
            (f"analytics.{table}",),
        ).fetchall()
    return [name for (name,) in rows]


def analytics_tables(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'analytics' ORDER BY 1")
        return [name for (name,) in rows]


def test_postgres_backfill_and_partial_rewrite_across_monthly_partitions(fresh_schema):
    store = warehouse.connect(fresh_schema)
    four_months = days_of_regions("2026-01-01", "2026-04-30", "North", "South").sample(frac=1, random_state=7)
    store.replace(REGIONS, four_months, window("2026-01-01", "2026-05-01"))
    assert partitions(fresh_schema, "region_daily_sales") == [f"region_daily_sales_p2026{m:02d}" for m in (1, 2, 3, 4)]

    # Mid-January to mid-April: February and March are rebuilt (March with no rows: dropped),
    # the ends are edited in place; every row outside the window stays as it was.
    rewrite = days_of_regions("2026-01-15", "2026-02-28", "East", revenue=5.0)
    rewrite = pd.concat([rewrite, days_of_regions("2026-04-01", "2026-04-09", "East", revenue=5.0)])
    store.replace(REGIONS, rewrite, window("2026-01-15", "2026-04-10"))

    table = store.read(REGIONS)
    by_region = table.groupby("region")["sale_date"].agg(["min", "max", "count"])
    assert by_region.loc["East"].tolist() == [pd.Timestamp("2026-01-15"), pd.Timestamp("2026-04-09"), 45 + 9]
    north = table[table["region"] == "North"]["sale_date"]
    assert north.dt.month.value_counts().sort_index().to_dict() == {1: 14, 4: 21}
    assert not table.duplicated(["sale_date", "region"]).any()
    assert partitions(fresh_schema, "region_daily_sales") == [f"region_daily_sales_p2026{m:02d}" for m in (1, 2, 4)]
    assert analytics_tables(fresh_schema) == ["region_daily_sales"] + partitions(fresh_schema, "region_daily_sales")


def test_postgres_failed_month_rebuild_keeps_the_old_partition_and_leaves_no_staging_table(fresh_schema):
    store = warehouse.connect(fresh_schema)
    store.replace(REGIONS, days_of_regions("2026-03-01", "2026-03-31", "North"), window("2026-03-01", "2026-04-01"))
    broken = pd.concat([days_of_regions("2026-03-01", "2026-03-31", "West"), regions("2026-03-09", "West")])
    with pytest.raises(psycopg.errors.UniqueViolation):
        store.replace(REGIONS, broken, window("2026-03-01", "2026-04-01"))
    assert store.read(REGIONS)["region"].value_counts().to_dict() == {"North": 31}
    assert analytics_tables(fresh_schema) == ["region_daily_sales", "region_daily_sales_p202603"]


def test_postgres_table_from_before_partitions_is_converted_with_its_rows(fresh_schema):
    with psycopg.connect(fresh_schema) as connection:
        connection.execute("CREATE SCHEMA analytics")
        connection.execute(
            "CREATE TABLE analytics.region_daily_sales (sale_date DATE, region TEXT, revenue DOUBLE PRECISION, "
            "orders BIGINT, units DOUBLE PRECISION, unique_customers BIGINT, PRIMARY KEY (sale_date, region))"
        )
        connection.execute(
            "INSERT INTO analytics.region_daily_sales VALUES "
            "('2026-09-30', 'North', 1, 1, 1, 1), ('2026-10-01', 'North', 2, 1, 1, 1), "
            "('2026-10-02', 'South', 3, 1, 1, 1)"
        )
    store = warehouse.connect(fresh_schema)
    store.replace(REGIONS, regions("2026-10-02", "East"), window("2026-10-02", "2026-10-03"))

    table = store.read(REGIONS).sort_values("sale_date")
    assert list(zip(table["sale_date"].dt.strftime("%m-%d"), table["region"], strict=True)) == [
        ("09-30", "North"),
        ("10-01", "North"),
        ("10-02", "East"),
    ]
    assert partitions(fresh_schema, "region_daily_sales") == [f"region_daily_sales_p2026{m}" for m in ("09", "10")]
    with psycopg.connect(fresh_schema) as connection, pytest.raises(psycopg.errors.UniqueViolation):
        connection.execute("INSERT INTO analytics.region_daily_sales (sale_date, region) VALUES ('2026-10-02', 'East')")


def test_postgres_writers_of_overlapping_windows_take_turns(fresh_schema):
    """Parallel ranges: every write lands whole, no partition DDL races, each day from one writer."""
    windows = [
        ("2026-01-10", "2026-02-20"),
        ("2026-02-01", "2026-03-01"),
        ("2026-02-15", "2026-03-15"),
        ("2026-01-01", "2026-04-01"),
    ]

    def write(writer: int) -> None:
        start, end = windows[writer]
        frame = days_of_regions(
            start, str((pd.Timestamp(end) - pd.Timedelta(days=1)).date()), "North", "South", revenue=writer
        )
        for _ in range(3):
            warehouse.connect(fresh_schema).replace(REGIONS, frame, window(start, end))

    with ThreadPoolExecutor(len(windows)) as pool:
        list(pool.map(write, range(len(windows))))

    table = warehouse.connect(fresh_schema).read(REGIONS)
    assert not table.duplicated(["sale_date", "region"]).any()
    assert (table.groupby("sale_date")["region"].count() == 2).all()
    assert (table.groupby("sale_date")["revenue"].nunique() == 1).all()  # a day is one writer's, whole
    assert table["sale_date"].min() == pd.Timestamp("2026-01-01")
    assert table["sale_date"].max() == pd.Timestamp("2026-03-31")


def test_a_table_written_before_a_column_was_added_gets_it_on_the_next_write(store):
    """Columns are appended to a published table; an older warehouse is brought up to the contract."""
    before = Table(REGIONS.name, dict(list(REGIONS.columns.items())[:-1]), REGIONS.primary_key, "sale_date", "")
    store.replace(before, regions("2026-11-01", "North").iloc[:, :-1], window("2026-11-01", "2026-11-02"))
    store.replace(REGIONS, regions("2026-11-02", "South"), window("2026-11-02", "2026-11-03"))
    table = store.read(REGIONS).sort_values("sale_date")
    assert list(table.columns) == REGIONS.column_names
    assert table["region"].tolist() == ["North", "South"]
    assert pd.isna(table["unique_customers"].iloc[0]) and table["unique_customers"].iloc[1] == 1
