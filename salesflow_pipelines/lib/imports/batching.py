"""From valid lines to sales, and from sales to `POST /sales/bulk` batches.

Lines that share a `sale_ref` (in one sheet) form one sale, in the order the ref first appears;
a line without a ref is a sale of its own. A sale is imported whole or not at all: when one of
its lines is rejected, its other lines are rejected too (`SALE_INCOMPLETE`). Batches hold at most
`batch_size` sales (500: the bulk call is one transaction, kept small enough to answer quickly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.imports.validation import concat_problems, problems_frame

DEFAULT_BATCH_SIZE = 500
SALES_KIND = "sales"
STOCK_KIND = "stock"


@dataclass
class Batch:
    """One call's worth of work: sales for `POST /sales/bulk`, or stock rows for `PUT /products/by-sku`.

    `key` orders batches and names them in the ledger ("K0001" stock, "S0001" sales; the halves of
    a rejected batch "S0001.1" and "S0001.2"); `sources` holds, per sale (or stock row), the
    `[sheet, row]` pairs it came from.
    """

    key: str
    kind: str
    payload: list[dict[str, Any]]
    sources: list[list[list[Any]]]
    state: str = "planned"
    attempts: int = 0
    sent_seq: int | None = None
    anchor_id: int | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def halves(self) -> list[Batch]:
        middle = len(self.payload) // 2
        return [
            Batch(f"{self.key}.{number}", self.kind, self.payload[start:end], self.sources[start:end])
            for number, (start, end) in enumerate(((0, middle), (middle, len(self.payload))), start=1)
        ]


def number_sales(lines: pd.DataFrame) -> pd.DataFrame:
    """`lines` (with `sheet`, `row`, `sale_ref`) plus `sale_no`: sales numbered in order of first line."""
    own = lines["sheet"].astype(str) + "\x1f#" + lines["row"].astype(str)
    shared = lines["sheet"].astype(str) + "\x1f" + lines["sale_ref"].astype("string").fillna("")
    keys = shared.where(lines["sale_ref"].notna(), own)
    codes, _ = pd.factorize(keys, sort=False)
    return lines.assign(sale_no=codes.astype("int64"))


def sale_label(lines: pd.DataFrame) -> pd.Series:
    return ("sale '" + lines["sale_ref"].astype("string") + "'").fillna("the sale on row " + lines["row"].astype(str))


def incomplete_sales(lines: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """SALE_INCOMPLETE problems for the lines whose sale has another line rejected."""
    bad = lines.merge(rejected[["sheet", "row"]].drop_duplicates(), on=["sheet", "row"], how="inner")
    if bad.empty:
        return concat_problems([])
    first_bad = bad.groupby("sale_no")["row"].min()
    other = lines[lines["sale_no"].isin(first_bad.index)]
    other = other.merge(bad[["sheet", "row"]].assign(is_bad=True), on=["sheet", "row"], how="left")
    other = other[other["is_bad"].isna()]
    frames = []
    for sheet, group in other.groupby("sheet", sort=False):
        messages = (
            "another line of "
            + sale_label(group)
            + " is rejected (row "
            + group["sale_no"].map(first_bad).astype(str)
            + "): a sale is imported whole or not at all"
        )
        frames.append(problems_frame(sheet, group["row"], "", "SALE_INCOMPLETE", messages))
    return concat_problems(frames)


def sale_batches(lines: pd.DataFrame, batch_size: int = DEFAULT_BATCH_SIZE) -> list[Batch]:
    """`CreateSaleRequest` batches from valid lines (`sheet, row, sale_no, product_id, quantity`)."""
    if lines.empty:
        return []
    ordered = lines.sort_values(["sale_no", "row"], kind="stable")
    sale_numbers = ordered["sale_no"].to_numpy()
    boundaries = np.flatnonzero(np.diff(sale_numbers)) + 1
    product_ids = np.split(ordered["product_id"].astype("int64").to_numpy(), boundaries)
    quantities = np.split(ordered["quantity"].astype("int64").to_numpy(), boundaries)
    sheets = np.split(ordered["sheet"].astype(str).to_numpy(), boundaries)
    rows = np.split(ordered["row"].to_numpy(), boundaries)
    payload = [
        {"items": [{"productId": int(p), "quantity": int(q)} for p, q in zip(ps, qs, strict=True)]}
        for ps, qs in zip(product_ids, quantities, strict=True)
    ]
    sources = [[[s, int(r)] for s, r in zip(ss, rs, strict=True)] for ss, rs in zip(sheets, rows, strict=True)]
    return [
        Batch(f"S{number:04d}", SALES_KIND, payload[start : start + batch_size], sources[start : start + batch_size])
        for number, start in enumerate(range(0, len(payload), batch_size), start=1)
    ]


def stock_batches(rows: pd.DataFrame, batch_size: int = DEFAULT_BATCH_SIZE) -> list[Batch]:
    """Stock updates (`sheet, row, sku, stock_quantity, low_stock_threshold`) in batches of rows."""
    if rows.empty:
        return []
    payload = [
        {"sku": sku, "stockQuantity": int(stock)} | ({} if pd.isna(low) else {"lowStockThreshold": int(low)})
        for sku, stock, low in zip(rows["sku"], rows["stock_quantity"], rows["low_stock_threshold"], strict=True)
    ]
    sources = [[[sheet, int(row)]] for sheet, row in zip(rows["sheet"], rows["row"], strict=True)]
    return [
        Batch(f"K{number:04d}", STOCK_KIND, payload[start : start + batch_size], sources[start : start + batch_size])
        for number, start in enumerate(range(0, len(payload), batch_size), start=1)
    ]


def signature(items: list[dict[str, Any]]) -> tuple[tuple[int, int], ...]:
    """A sale's content as the backend echoes it: its (product id, quantity) items, sorted."""
    return tuple(sorted((int(item["productId"]), int(item["quantity"])) for item in items))
