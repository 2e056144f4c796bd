"""Warehouse writes: per-window replace, atomic on failure, in SQLite and real PostgreSQL."""

from datetime import date

import pandas as pd
import pytest

from salesflow_pipelines.lib import warehouse
from salesflow_pipelines.lib.tables import TABLES, Table

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


def window(start: str, end: str) -> warehouse.Window:
    return warehouse.Window(date.fromisoformat(start), date.fromisoformat(end))


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
