"""The product snapshots of a range of days, made in one pass, are exactly what one pull per day gives."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from salesflow_pipelines.defs.resources import DemoSource
from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.lib.analytics.cleaning import sku_key
from salesflow_pipelines.lib.backend.payloads import (
    inventory_to_payload,
    products_from_payload,
    products_to_payload,
    snapshots_from_frames,
    snapshots_from_payload,
    typed_products_frame,
)
from salesflow_pipelines.lib.schemas import RAW_PRODUCT_COLUMNS, empty_frame

FIRST = date(2024, 12, 20)
SETTINGS = settings(max_examples=25, deadline=None)


def one_pull_per_day(data: DemoData, days: list[date]) -> pd.DataFrame:
    """Each day through the JSON the stand-in serves and the Java source parses, one day after the other."""
    return pd.concat(
        [
            products_from_payload(
                products_to_payload(data.products(day)), inventory_to_payload(data.inventory(day)), day
            )
            for day in days
        ],
        ignore_index=True,
    )


def joined_one_day(products: list[dict[str, Any]], inventory: list[dict[str, Any]], day: date) -> pd.DataFrame:
    """The one-day join as the contract states it: `/products` left-joined with the first `/inventory`
    item of each normalized SKU."""
    if not products:
        return empty_frame(RAW_PRODUCT_COLUMNS)
    frame = pd.DataFrame(
        {
            "product_id": [p.get("id") for p in products],
            "name": [p.get("name") for p in products],
            "sku": [p.get("sku") for p in products],
            "price": [p.get("price") for p in products],
            "stock_quantity": [p.get("stockQuantity") for p in products],
            "low_stock_threshold": [p.get("lowStockThreshold") for p in products],
        }
    )
    items = pd.DataFrame(
        {
            "sku_key": [sku_key(i.get("sku")) for i in inventory],
            "category": [i.get("category") for i in inventory],
            "cost": [i.get("cost") for i in inventory],
        },
        columns=["sku_key", "category", "cost"],
    ).drop_duplicates("sku_key")
    frame["sku_key"] = frame["sku"].map(sku_key)
    joined = frame.merge(items, on="sku_key", how="left").drop(columns="sku_key")
    joined["snapshot_date"] = pd.Timestamp(day)
    return typed_products_frame(joined)


day_lists = st.lists(st.integers(min_value=0, max_value=800), min_size=1, max_size=30, unique=True).map(
    lambda offsets: [FIRST + timedelta(days=offset) for offset in sorted(offsets)]
)
skus = st.one_of(st.none(), st.sampled_from(["SKU-1", " sku-1 ", "SKU-2", "sku-2", "SKU-3", "", "  "]))
product_items = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.one_of(st.none(), st.integers(min_value=1, max_value=50)),
            "name": st.one_of(st.none(), st.sampled_from(["Tea", " Tea  ", "Rice"])),
            "sku": skus,
            "price": st.one_of(st.none(), st.floats(min_value=0, max_value=100, allow_nan=False)),
            "stockQuantity": st.one_of(st.none(), st.integers(min_value=-5, max_value=500)),
            "lowStockThreshold": st.one_of(st.none(), st.integers(min_value=0, max_value=20)),
        }
    ),
    max_size=8,
)
inventory_items = st.lists(
    st.fixed_dictionaries(
        {
            "sku": skus,
            "category": st.one_of(st.none(), st.sampled_from(["Grocery", "grocery ", "Snacks"])),
            "cost": st.one_of(st.none(), st.floats(min_value=0, max_value=50, allow_nan=False)),
        }
    ),
    max_size=8,
)


@SETTINGS
@given(
    days=day_lists,
    seed=st.integers(min_value=0, max_value=50),
    product_count=st.integers(min_value=2, max_value=60),
)
def test_the_demo_range_is_each_days_pull_one_after_the_other(days, seed, product_count):
    data = DemoData(seed=seed, product_count=product_count)

    in_one_pass = snapshots_from_frames(data.products_on(days), data.inventory_on(days))

    pd.testing.assert_frame_equal(in_one_pass, one_pull_per_day(data, days))


def test_the_demo_source_gives_a_year_as_a_pull_per_day_would():
    days = [date(2025, 1, 1) + timedelta(days=offset) for offset in range(365)]
    source = DemoSource(orders_per_day=2000)

    pd.testing.assert_frame_equal(source.fetch_products_range(days), one_pull_per_day(source._data(), days))


def test_one_day_of_the_range_is_the_days_own_products_and_inventory():
    data = DemoData()
    day = date(2025, 3, 4)
    products = data.products_on([day - timedelta(days=1), day])
    inventory = data.inventory_on([day - timedelta(days=1), day])

    on_the_day = products[products["snapshot_date"] == pd.Timestamp(day)].drop(columns="snapshot_date")
    pd.testing.assert_frame_equal(on_the_day.reset_index(drop=True), data.products(day))
    on_the_day = inventory[inventory["snapshot_date"] == pd.Timestamp(day)].drop(columns="snapshot_date")
    pd.testing.assert_frame_equal(on_the_day.reset_index(drop=True), data.inventory(day))


@SETTINGS
@given(products=product_items, inventory=inventory_items, days=day_lists)
def test_one_answer_stamped_on_many_days_is_the_one_day_join_for_each(products, inventory, days):
    expected = pd.concat([joined_one_day(products, inventory, day) for day in days], ignore_index=True)

    pd.testing.assert_frame_equal(snapshots_from_payload(products, inventory, days), expected)


def test_no_products_give_the_empty_raw_frame():
    pd.testing.assert_frame_equal(
        snapshots_from_payload([], [{"sku": "SKU-1"}], [FIRST, FIRST + timedelta(days=1)]),
        empty_frame(RAW_PRODUCT_COLUMNS),
    )
