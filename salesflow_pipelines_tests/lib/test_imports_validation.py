"""Validation, product resolution, stock checks, batching and the reconciliation rule (no network)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesflow_pipelines.lib.analytics.cleaning import sku_key
from salesflow_pipelines.lib.imports import headers, validation
from salesflow_pipelines.lib.imports.batching import sale_batches
from salesflow_pipelines.lib.imports.importer import ImportOptions, plan
from salesflow_pipelines.lib.imports.products import Catalogue, sku_match_key, stock_shortfalls
from salesflow_pipelines.lib.imports.reading import ReadResult, SheetTable
from salesflow_pipelines.lib.imports.reconcile import APPLIED, NOT_APPLIED, UNDECIDED, reconcile

CATALOGUE = Catalogue.from_payload(
    [
        {"id": 1, "sku": "SKU-0001", "name": "Espresso Beans 1kg", "stockQuantity": 10},
        {"id": 2, "sku": "SKU-0002", "name": "Green Tea", "stockQuantity": 5},
        {"id": 3, "sku": "SKU-0003", "name": "Green  TEA", "stockQuantity": 50},
        {"id": 4, "sku": "SKU-0004", "name": "Olive Oil", "stockQuantity": 0},
    ]
)


def sheet(header: list[str], rows: list[list], name: str = "Sales") -> SheetTable:
    columns = headers.map_columns(header, name)
    frame = pd.DataFrame({"row": range(2, len(rows) + 2)})
    for field, position in columns.fields.items():
        frame[field] = pd.Series([row[position] for row in rows], dtype=object)
    return SheetTable(name, columns.kind, 1, columns, frame)


def problems_by_row(problems: pd.DataFrame, sheet_name: str = "Sales") -> dict[int, list[str]]:
    return problems[problems["sheet"] == sheet_name].groupby("row")["reason"].agg(sorted).to_dict()


def test_numbers_stored_as_text_are_read_and_bad_ones_explained():
    numbers, problem = validation.parse_numbers(
        pd.Series(["12", " 1 200 ", "3,0", 4, 2.0, "abc", "#REF!", None, "", "1,500", True])
    )
    assert numbers[:5].tolist() == [12, 1200, 3, 4, 2]
    assert problem[:5].isna().all()
    assert problem[5] == "'abc' is not a number"
    assert "formula error (#REF!)" in problem[6]
    assert np.isnan(numbers[7]) and pd.isna(problem[7]) and pd.isna(problem[8])
    assert "could be 1500 or 1.5" in problem[9]
    assert "yes/no" in problem[10]


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_any_integer_written_as_text_reads_back(number):
    numbers, problem = validation.parse_numbers(pd.Series([str(number), f" {number} "]))
    assert numbers.tolist() == [number, number] and problem.isna().all()


def test_every_problem_of_every_row_is_collected_at_once():
    sales = sheet(
        ["SKU", "Qty"],
        [
            ["SKU-0001", -2],
            ["SKU-0001", 2.5],
            ["SKU-0001", 50_000],
            ["SKU-0001", None],
            ["SKU-0001", "lots"],
            [None, 1],
            ["SKU-0001", 0],
            ["SKU-0001", "7"],
        ],
    )
    lines, problems = validation.validate_sales(sales)
    assert problems_by_row(problems) == {
        2: ["BAD_QUANTITY"],
        3: ["FRACTIONAL_QUANTITY"],
        4: ["ABSURD_QUANTITY"],
        5: ["MISSING_QUANTITY"],
        6: ["NOT_A_NUMBER"],
        7: ["MISSING_PRODUCT"],
        8: ["BAD_QUANTITY"],
    }
    messages = dict(zip(problems["row"], problems["message"], strict=True))
    assert messages[2] == "-2 is not a quantity that can be sold: it must be a whole number of at least 1"
    assert messages[3] == "2.5 is not a whole number of units"
    assert "50000 units on one line is more than the limit of 10,000" in messages[4]
    assert messages[6] == "'lots' is not a number"
    assert set(problems["column"]) == {"Qty", "SKU"}
    assert lines.loc[7, "quantity"] == 7


def test_products_resolve_by_sku_id_or_name_forgiving_case_and_spaces():
    sales = sheet(
        ["SKU", "Product ID", "Product name", "Qty"],
        [
            [" sku-0001 ", None, None, 1],
            ["SKU 0002", None, None, 1],
            [None, 3, None, 1],
            [None, None, "espresso beans 1KG", 1],
            ["SKU-0099", None, None, 1],
            [None, 77, None, 1],
            [None, None, "green tea", 1],
            ["SKU-0001", None, "Olive Oil", 1],
        ],
    )
    read = ReadResult("xlsx", [sales])
    problems, batches = plan(read, CATALOGUE, ImportOptions())
    assert problems_by_row(problems) == {
        6: ["UNKNOWN_PRODUCT"],
        7: ["UNKNOWN_PRODUCT"],
        8: ["AMBIGUOUS_PRODUCT"],
        9: ["CONFLICTING_PRODUCT"],
    }
    [batch] = batches
    assert [sale["items"][0]["productId"] for sale in batch.payload] == [1, 2, 3, 1]
    assert "use the SKU" in problems.loc[problems["row"] == 8, "message"].item()


@given(st.text(alphabet=" \t-_.aB7", max_size=12))
def test_a_sku_is_matched_on_its_table_spelling_without_case_and_separators(raw):
    """The import and the read API match what the tables store (`cleaning.sku_key`), separators aside."""
    assert sku_match_key(raw) == sku_match_key(sku_key(raw)) == sku_match_key(f" {raw.lower()}-")
    assert sku_match_key(None) is None and sku_match_key(" sku_0007.") == sku_match_key("SKU-0007") == "SKU0007"


def test_sale_refs_group_lines_and_a_bad_line_rejects_its_whole_sale():
    sales = sheet(
        ["Order", "SKU", "Qty"],
        [
            ["A", "SKU-0001", 1],
            ["B", "SKU-0003", 1],
            ["A", "SKU-0003", 2],
            ["B", "SKU-0003", -1],
            [None, "SKU-0001", 1],
            [1001, "SKU-0003", 1],
            [1001.0, "SKU-0003", 1],
        ],
    )
    problems, batches = plan(ReadResult("xlsx", [sales]), CATALOGUE, ImportOptions())
    assert problems_by_row(problems) == {3: ["SALE_INCOMPLETE"], 5: ["BAD_QUANTITY"]}
    assert "another line of sale 'B' is rejected (row 5)" in problems.loc[problems["row"] == 3, "message"].item()
    [batch] = batches
    assert batch.payload == [
        {"items": [{"productId": 1, "quantity": 1}, {"productId": 3, "quantity": 2}]},
        {"items": [{"productId": 1, "quantity": 1}]},
        {"items": [{"productId": 3, "quantity": 1}, {"productId": 3, "quantity": 1}]},
    ]
    assert batch.sources[0] == [["Sales", 2], ["Sales", 4]]


def test_stock_is_checked_in_file_order_and_a_rejected_sale_uses_none():
    sales = pd.DataFrame(
        {
            "sale_no": [0, 1, 1, 2, 3, 4],
            "product_id": [2, 2, 1, 2, 2, 4],
            "quantity": [3, 3, 1, 2, 1, 1],
        }
    )
    short = stock_shortfalls(sales, CATALOGUE.stock())
    # stock 5 of product 2: sale 0 takes 3, sale 1 wants 3 more (rejected), sale 2 takes the last 2
    assert short.to_dict("records") == [
        {"sale_no": 1, "product_id": 2, "requested": 3, "available": 2},
        {"sale_no": 3, "product_id": 2, "requested": 1, "available": 0},
        {"sale_no": 4, "product_id": 4, "requested": 1, "available": 0},
    ]


def test_a_stock_sheet_in_the_same_workbook_counts_before_the_sales():
    stock = sheet(
        ["SKU", "Stock", "Reorder level"], [["SKU-0004", 5, 2], ["SKU-0002", 1, None], ["sku-0002", 2, None]], "Stock"
    )
    sales = sheet(["SKU", "Qty"], [["SKU-0004", 4], ["SKU-0004", 2]])
    problems, batches = plan(ReadResult("xlsx", [stock, sales]), CATALOGUE, ImportOptions())
    assert problems_by_row(problems, "Stock") == {3: ["DUPLICATE_SKU"], 4: ["DUPLICATE_SKU"]}
    assert problems_by_row(problems) == {3: ["INSUFFICIENT_STOCK"]}
    assert problems.loc[problems["sheet"] == "Sales", "message"].item().startswith("asks for 2 of SKU-0004 but only 1")
    assert [batch.key for batch in batches] == ["K0001", "S0001"]
    assert batches[0].payload == [{"sku": "SKU-0004", "stockQuantity": 5, "lowStockThreshold": 2}]


def test_batches_hold_at_most_the_batch_size():
    lines = pd.DataFrame(
        {"sheet": "Sales", "row": range(2, 1203), "sale_no": range(1201), "product_id": 1, "quantity": 1}
    )
    batches = sale_batches(lines, 500)
    assert [batch.key for batch in batches] == ["S0001", "S0002", "S0003"]
    assert [len(batch.payload) for batch in batches] == [500, 500, 201]
    halves = batches[2].halves()
    assert [half.key for half in halves] == ["S0003.1", "S0003.2"] and [len(h.payload) for h in halves] == [100, 101]


def sale(sale_id: int, *items: tuple[int, int]) -> dict:
    return {"id": sale_id, "items": [{"productId": p, "quantity": q, "sku": f"SKU-{p:04d}"} for p, q in items]}


def request(*items: tuple[int, int]) -> dict:
    return {"items": [{"productId": p, "quantity": q} for p, q in items]}


BATCH = [request((1, 2)), request((2, 1), (3, 1))]
EARLIER = [[request((5, 1))]]


@pytest.mark.parametrize(
    ("today", "anchor", "earlier", "outcome"),
    [
        # the whole batch after the anchor, in order (a till sale in between batches is fine)
        ([sale(10, (1, 1)), sale(11, (9, 9)), sale(12, (1, 2)), sale(13, (3, 1), (2, 1))], 10, [], APPLIED),
        (
            [sale(10), sale(11, (5, 1)), sale(12, (7, 1)), sale(13, (1, 2)), sale(14, (2, 1), (3, 1))],
            10,
            EARLIER,
            APPLIED,
        ),
        # nothing like it since the anchor, and the anchor is still listed: not applied
        ([sale(10, (1, 2)), sale(11, (9, 9))], 10, [], NOT_APPLIED),
        ([sale(10), sale(11, (5, 1))], 10, EARLIER, NOT_APPLIED),
        # the anchor is gone (the day changed): absence proves nothing
        ([sale(20, (9, 9))], 10, [], UNDECIDED),
        # no anchor (today was empty) and no earlier batch to anchor on
        ([sale(20, (9, 9))], -123, [], UNDECIDED),
        # no anchor, but an earlier batch of the run is listed: the list is complete
        ([sale(20, (5, 1))], -123, EARLIER, NOT_APPLIED),
        # a look-alike sale but not the whole batch: could be a till sale or part of it
        ([sale(10), sale(11, (1, 2))], 10, [], UNDECIDED),
        # the earlier batch is missing from the list: the list is not the whole story
        ([sale(10), sale(12, (1, 2)), sale(13, (2, 1), (3, 1))], 10, EARLIER, UNDECIDED),
    ],
)
def test_reconciliation_rule(today, anchor, earlier, outcome):
    assert reconcile(BATCH, earlier, today, anchor).outcome == outcome


def test_an_earlier_identical_batch_is_not_taken_for_the_lost_one():
    same = [request((1, 1))]
    today = [sale(10), sale(11, (1, 1))]
    assert reconcile(same, [same], today, 10).outcome == NOT_APPLIED
    assert reconcile(same, [same], [*today, sale(12, (1, 1))], 10).outcome == APPLIED
