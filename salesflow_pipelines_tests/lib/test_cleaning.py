"""The cleaning rules of DESIGN.md section 3, one at a time."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.lib.analytics.cleaning import (
    NO_CATEGORIES,
    UNKNOWN_SKU,
    category_lookup,
    clean_sales,
    normalize_sku,
    normalize_text,
    sku_key,
)
from salesflow_pipelines.lib.backend.payloads import inventory_to_payload, products_from_payload, products_to_payload
from salesflow_pipelines.lib.schemas import SalesLine, SalesReject
from salesflow_pipelines_tests.lib.frames import raw_lines

DAY = "2026-11-02T10:00:00"


def clean(*lines, categories=NO_CATEGORIES):
    result = clean_sales(raw_lines(*lines), categories)
    SalesLine.validate(result.lines)
    SalesReject.validate(result.rejects)
    return result


def test_duplicate_delivery_keeps_first_and_rejects_every_line_of_the_copy():
    result = clean(
        dict(sale_id=1, sale_date=DAY, line_no=1, quantity=2),
        dict(sale_id=1, sale_date=DAY, line_no=2, quantity=3),
        dict(sale_id=2, sale_date=DAY, line_no=1),
        dict(sale_id=1, sale_date=DAY, line_no=1, quantity=9),
        dict(sale_id=1, sale_date=DAY, line_no=2, quantity=9),
    )
    assert result.lines["quantity"].tolist() == [2.0, 3.0, 1.0]
    assert result.rejects["reason"].tolist() == ["DUPLICATE_SALE", "DUPLICATE_SALE"]
    assert result.rejects["sale_id"].tolist() == [1, 1]
    assert result.rejects["line_no"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("quantity", 0, "BAD_QUANTITY"),
        ("quantity", -2, "BAD_QUANTITY"),
        ("quantity", np.nan, "BAD_QUANTITY"),
        ("unit_price", -0.01, "BAD_PRICE"),
        ("unit_price", np.inf, "BAD_PRICE"),
        ("unit_price", np.nan, "BAD_PRICE"),
        ("discount", 1.5, "BAD_DISCOUNT"),
        ("discount", -0.1, "BAD_DISCOUNT"),
        ("status", "PENDING", "BAD_STATUS"),
        ("product_id", None, "MISSING_PRODUCT"),
        ("sale_id", None, "MISSING_SALE_ID"),
    ],
)
def test_bad_line_is_rejected_with_its_reason_and_the_sale_keeps_its_other_lines(field, value, reason):
    result = clean(
        dict({"sale_id": 7, "sale_date": DAY, "line_no": 1} | {field: value}),
        dict(sale_id=7, sale_date=DAY, line_no=2, quantity=4),
    )
    assert result.rejects["reason"].tolist() == [reason]
    assert result.rejects["line_no"].tolist() == [1]
    assert result.rejects["sale_date"].tolist() == [pd.Timestamp("2026-11-02")]
    assert result.lines["line_no"].tolist() == [2]


def test_boundary_values_are_valid():
    result = clean(
        dict(sale_id=1, sale_date=DAY, quantity=1, unit_price=0.0, discount=0.0),
        dict(sale_id=2, sale_date=DAY, quantity=1, unit_price=5.0, discount=1.0),
    )
    assert result.rejects.empty
    assert result.lines["revenue"].tolist() == [0.0, 0.0]


def test_first_broken_rule_wins():
    result = clean(dict(sale_id=1, sale_date=DAY, quantity=0, unit_price=-1, discount=2))
    assert result.rejects["reason"].tolist() == ["BAD_QUANTITY"]
    assert "got 0" in result.rejects["detail"].iloc[0]


def test_revenue_is_quantity_times_price_times_one_minus_discount():
    result = clean(dict(sale_id=1, sale_date=DAY, quantity=3, unit_price=21.0, discount=0.05))
    assert result.lines["gross_amount"].iloc[0] == pytest.approx(63.0)
    assert result.lines["revenue"].iloc[0] == pytest.approx(59.85)


def test_text_is_normalized_and_defaults_filled():
    result = clean(
        dict(
            sale_id=1,
            sale_date=DAY,
            region="  north   east ",
            sku=" sku-0007 ",
            product_name=" Espresso   Beans  1kg",
            status=" completed",
            category=" personal   care",
        ),
        dict(sale_id=2, sale_date=DAY, region=None, status=None, discount=None, customer_id=None),
    )
    first, second = result.lines.iloc[0], result.lines.iloc[1]
    assert (first["region"], first["sku"], first["product_name"]) == ("North East", "SKU-0007", "Espresso Beans 1kg")
    assert (first["status"], first["category"]) == ("COMPLETED", "Personal Care")
    assert (second["region"], second["status"], second["discount"]) == ("Unassigned", "COMPLETED", 0.0)
    assert pd.isna(second["customer_id"])


def test_category_comes_from_inventory_by_normalized_sku_else_uncategorized():
    products = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-01", "2026-11-02"]),
            "sku": [" sku-0001", "SKU-0001 "],
            "category": ["old", " grocery "],
        }
    )
    result = clean(
        dict(sale_id=1, sale_date=DAY, sku="Sku-0001"),
        dict(sale_id=2, sale_date=DAY, sku="SKU-0404"),
        dict(sale_id=3, sale_date=DAY, sku="SKU-0001", category="snacks"),
        categories=category_lookup(products),
    )
    assert result.lines["category"].tolist() == ["Grocery", "Uncategorized", "Snacks"]


def test_a_line_takes_the_category_of_its_own_day():
    products = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-01", "2026-11-02"]),
            "sku": ["SKU-0001", "SKU-0001"],
            "category": ["Grocery", "Snacks"],
        }
    )
    result = clean(
        dict(sale_id=1, sale_date="2026-11-01T09:00:00"),
        dict(sale_id=2, sale_date="2026-11-02T09:00:00"),
        dict(sale_id=3, sale_date="2026-11-03T09:00:00"),
        categories=category_lookup(products),
    )
    assert result.lines["category"].tolist() == ["Grocery", "Snacks", "Uncategorized"]


def test_days_pulled_by_different_runs_keep_every_sale():
    """Each pull numbers its delivery from 0; days stored side by side must not interleave."""
    day_one = raw_lines(
        dict(sale_id=1, sale_date="2026-11-14T09:00:00", line_no=1),
        dict(sale_id=1, sale_date="2026-11-14T09:00:00", line_no=2),
        dict(sale_id=2, sale_date="2026-11-14T10:00:00", line_no=1),
    )
    day_two = raw_lines(
        dict(sale_id=3, sale_date="2026-11-15T09:00:00", line_no=1),
        dict(sale_id=3, sale_date="2026-11-15T09:00:00", line_no=2),
        dict(sale_id=3, sale_date="2026-11-15T09:00:00", line_no=1),  # a second delivery of sale 3
    )
    result = clean_sales(pd.concat([day_one, day_two], ignore_index=True), NO_CATEGORIES)
    assert result.lines["sale_id"].tolist() == [1, 1, 2, 3, 3]
    assert result.rejects[["sale_id", "reason"]].values.tolist() == [[3, "DUPLICATE_SALE"]]


def test_a_sale_id_is_judged_duplicate_within_its_day():
    result = clean(
        dict(sale_id=5, sale_date="2026-11-14T09:00:00"),
        dict(sale_id=5, sale_date="2026-11-15T09:00:00"),
    )
    assert result.lines["sale_date"].dt.day.tolist() == [14, 15]
    assert result.rejects.empty


def split_into_pulls(raw: pd.DataFrame, cuts: list[int]) -> pd.DataFrame:
    """The days of `raw` as separate pulls (each numbered from 0) stored day by day, as runs leave them."""
    days = sorted(raw["sale_date"].dt.normalize().unique())
    bounds = [0, *sorted(set(cuts)), len(days)]
    pulls = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        pull = raw[raw["sale_date"].dt.normalize().isin(days[start:end])]
        pulls.append(pull.assign(delivery_order=np.arange(len(pull))))
    stored = pd.concat(pulls, ignore_index=True)
    return stored.sort_values("sale_date", key=lambda d: d.dt.normalize(), kind="stable", ignore_index=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=6), max_size=5), st.integers(min_value=0, max_value=6))
def test_a_days_lines_never_depend_on_how_days_were_pulled_or_grouped(cuts, window_start):
    raw, categories = demo_raw(orders_per_day=15)
    expected = {
        day: clean_sales(frame.copy(), categories) for day, frame in raw.groupby(raw["sale_date"].dt.normalize())
    }
    stored = split_into_pulls(raw, cuts)
    days = sorted(expected)[window_start:]
    window = stored[stored["sale_date"].dt.normalize().isin(days)].reset_index(drop=True)
    result = clean_sales(window, categories)
    for day in days:
        lines = result.lines[result.lines["sale_date"].dt.normalize() == day].reset_index(drop=True)
        rejects = result.rejects[result.rejects["sale_date"] == day].reset_index(drop=True)
        pd.testing.assert_frame_equal(lines, expected[day].lines, check_categorical=False)
        pd.testing.assert_frame_equal(rejects, expected[day].rejects)


def test_empty_input_gives_empty_valid_frames():
    result = clean_sales(raw_lines(dict(sale_id=1, sale_date=DAY)).iloc[0:0], NO_CATEGORIES)
    SalesLine.validate(result.lines)
    assert result.lines.empty and result.rejects.empty


@given(st.lists(st.text(alphabet=" \tabcXYZ-", max_size=12), min_size=1, max_size=20))
def test_normalize_text_trims_collapses_and_is_idempotent(values):
    series = pd.Series(values, dtype="string")
    once = normalize_text(series, case="upper")
    twice = normalize_text(once, case="upper")
    pd.testing.assert_series_equal(once, twice)
    for raw, normalized in zip(values, once, strict=True):
        expected = " ".join(raw.split()).upper()
        assert (pd.isna(normalized) and expected == "") or normalized == expected


def demo_raw(orders_per_day: int = 60) -> tuple[pd.DataFrame, pd.Series]:
    data = DemoData(orders_per_day=orders_per_day)
    end = date(2026, 10, 31)
    products = products_from_payload(
        products_to_payload(data.products(end)), inventory_to_payload(data.inventory(end)), end
    )
    return data.sales_lines(end - timedelta(days=6), end), category_lookup(products)


def test_overwriting_raw_gives_the_same_frames_and_reuses_raw_memory():
    raw, categories = demo_raw()
    expected = clean_sales(raw.copy(), categories)
    assert len(expected.rejects) > 0  # the demo's bad lines and duplicates: a real compaction
    quantity_buffer, total_amount_buffer = raw["quantity"].to_numpy(), raw["total_amount"].to_numpy()

    result = clean_sales(raw, categories, overwrite_raw=True)

    pd.testing.assert_frame_equal(result.lines, expected.lines)
    pd.testing.assert_frame_equal(result.rejects, expected.rejects)
    assert np.shares_memory(result.lines["quantity"].to_numpy(), quantity_buffer)  # moved down in place
    assert np.shares_memory(result.lines["revenue"].to_numpy(), total_amount_buffer)  # computed into raw's room


def test_without_overwrite_raw_is_left_as_it_was():
    raw, categories = demo_raw(orders_per_day=20)
    before = raw.copy()
    clean_sales(raw, categories)
    pd.testing.assert_frame_equal(raw, before)


def test_overwrite_raw_copies_what_it_may_not_write():
    raw, categories = demo_raw(orders_per_day=20)
    expected = clean_sales(raw.copy(), categories)
    with pd.option_context("mode.copy_on_write", True):  # column arrays are read-only views then
        protected = raw.copy()
        result = clean_sales(protected, categories, overwrite_raw=True)
        pd.testing.assert_frame_equal(protected, raw)
    pd.testing.assert_frame_equal(result.lines, expected.lines)


@given(st.lists(st.text(alphabet=" \t\u00a0abcXYZ-_", max_size=12), min_size=1, max_size=20))
def test_one_sku_rule_for_frames_and_payload_items(values):
    """`sku_key` (matching payload items) spells a SKU as `normalize_sku` (the tables) does."""
    normalized = normalize_sku(pd.Series(values, dtype="string"))
    for raw, spelled in zip(values, normalized, strict=True):
        assert spelled == (sku_key(raw) or UNKNOWN_SKU)
    assert sku_key(None) is None and sku_key(float("nan")) is None and sku_key(" sku-1  a ") == "SKU-1 A"
