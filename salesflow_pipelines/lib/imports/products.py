"""Products: resolving what a row names against the backend's current `/products`, and stock.

A SKU matches whatever its case, spaces and separators ("sku-0007 ", "SKU 0007", "sku_0007" all
match "SKU-0007"; two products that would then look alike make the row ambiguous); a name
matches case-insensitively with spaces collapsed; a product id must exist. A row that names
the product twice (SKU and name) must name the same product both times. A name shared by two
products is ambiguous: the row is rejected and the clerk asked for the SKU.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.analytics.cleaning import sku_key
from salesflow_pipelines.lib.imports.reading import SheetTable
from salesflow_pipelines.lib.imports.validation import as_written, concat_problems, problems_frame

AMBIGUOUS = -1
SKU_SEPARATORS = re.compile(r"[\s\-_.]+")


def sku_match_key(sku: Any) -> str | None:
    """What a SKU is matched on: its spelling in the tables (`cleaning.sku_key`) without spaces and
    separators (-, _, .). None when missing."""
    spelled = sku_key(sku)
    return None if spelled is None else SKU_SEPARATORS.sub("", spelled)


def name_match_key(name: Any) -> str:
    """What a product name is matched on: case-folded, runs of white space as one space."""
    return " ".join(str(name).split()).casefold()


@dataclass
class Catalogue:
    """The backend's products by id, with the keys rows are matched on."""

    products: pd.DataFrame  # index product_id; sku, name, price, stock_quantity, low_stock_threshold

    @classmethod
    def from_payload(cls, payload: list[dict[str, Any]]) -> Catalogue:
        products = pd.DataFrame(
            {
                "product_id": [item.get("id") for item in payload],
                "sku": [item.get("sku") for item in payload],
                "name": [item.get("name") for item in payload],
                "stock_quantity": [item.get("stockQuantity") for item in payload],
            },
            columns=["product_id", "sku", "name", "stock_quantity"],
        )
        products = products[products["product_id"].notna()]
        products = products.astype({"product_id": "int64"}).set_index("product_id")
        products["stock_quantity"] = (
            pd.to_numeric(products["stock_quantity"], errors="coerce").fillna(0).astype("int64")
        )
        return cls(products)

    def by_sku(self, skus: pd.Series) -> pd.Series:
        return self._find(skus, "sku", sku_match_key)

    def by_name(self, names: pd.Series) -> pd.Series:
        return self._find(names, "name", name_match_key)

    def _find(self, wanted: pd.Series, column: str, key: Callable[[Any], str | None]) -> pd.Series:
        """The id of the product whose `column` has the `key` of each wanted value: AMBIGUOUS when several
        products have it, NA when none does or the value is missing."""
        product_keys = self.products[column].map(key, na_action="ignore")
        frame = pd.DataFrame({"key": product_keys.to_numpy(), "product_id": self.products.index.to_numpy()}).dropna()
        counts = frame.groupby("key")["product_id"].agg(["first", "size"])
        ids = dict(zip(counts.index, np.where(counts["size"] > 1, AMBIGUOUS, counts["first"]), strict=True))
        return wanted.map(key, na_action="ignore").map(ids).astype("Int64")

    def by_id(self, ids: pd.Series) -> pd.Series:
        known = pd.Series(ids).where(pd.Series(ids).isin(self.products.index))
        return known.round().astype("Int64")

    def sku_of(self, product_ids: pd.Series) -> pd.Series:
        return product_ids.map(self.products["sku"])

    def stock(self) -> dict[int, int]:
        return self.products["stock_quantity"].to_dict()


def resolve_products(lines: pd.DataFrame, catalogue: Catalogue, sheet: SheetTable) -> tuple[pd.Series, pd.DataFrame]:
    """The product id of each line (NA when unresolved) and the problems of the unresolved ones.

    `lines` (the sheet's rows, typed, on the index of `sheet.frame`) has `row` and any of `sku`,
    `product_id`, `name`; a line without any of them is already a MISSING_PRODUCT problem and is
    skipped here. Messages quote the cell as written in the sheet.
    """
    found = {}
    if "sku" in lines and lines["sku"].notna().any():
        found["sku"] = catalogue.by_sku(lines["sku"])
    if "product_id" in lines and lines["product_id"].notna().any():
        found["product_id"] = catalogue.by_id(lines["product_id"])
    if "name" in lines and lines["name"].notna().any():
        found["name"] = catalogue.by_name(lines["name"])
    product = pd.Series(pd.NA, index=lines.index, dtype="Int64")
    problems = []
    for column, ids in found.items():
        given = lines[column].notna()
        if column == "product_id":
            given &= (lines[column] % 1 == 0) & (lines[column] >= 1)  # otherwise already a validation problem
        unknown = given & ids.isna()
        ambiguous = given & (ids == AMBIGUOUS).fillna(False)
        usable = ids.where(~unknown & ~ambiguous)
        conflict = product.notna() & usable.notna() & (product != usable).fillna(False)
        what = {"sku": "SKU", "product_id": "product id", "name": "name"}[column]
        for rows, reason, template in (
            (unknown, "UNKNOWN_PRODUCT", "no product has the {what} '{value}' in the backend"),
            (ambiguous, "AMBIGUOUS_PRODUCT", "several products match '{value}': use the SKU instead"),
            (conflict, "CONFLICTING_PRODUCT", "'{value}' is a different product from the one in the other column"),
        ):
            if rows.any():
                values = sheet.frame.loc[rows[rows].index, column].map(as_written)
                messages = [template.format(what=what, value=value) for value in values]
                problems.append(
                    problems_frame(sheet.name, lines.loc[rows, "row"], sheet.header_of(column), reason, messages)
                )
        product = product.fillna(usable)
    # A line whose product column names an unknown product is not saved by another column.
    bad_rows = concat_problems(problems)["row"]
    product = product.where(~lines["row"].isin(bad_rows))
    return product, concat_problems(problems)


def stock_shortfalls(sales: pd.DataFrame, stock: dict[int, int]) -> pd.DataFrame:
    """Sales that ask for more than the stock left after the earlier sales of the file.

    `sales` has `sale_no` (file order), `product_id`, `quantity`, one row per line. Sales are
    taken greedily in file order: a sale that does not fit is rejected and does not use stock.
    Answers `sale_no, product_id, requested, available` for the first short product of each
    rejected sale. Only products whose total demand exceeds their stock are walked one by one.
    """
    columns = ["sale_no", "product_id", "requested", "available"]
    if sales.empty:
        return pd.DataFrame(columns=columns)
    per_sale = sales.groupby(["sale_no", "product_id"], sort=True)["quantity"].sum().reset_index()
    available = per_sale["product_id"].map(stock).fillna(0)
    demand = per_sale.groupby("product_id")["quantity"].cumsum()
    contended = set(per_sale.loc[demand > available, "product_id"])
    if not contended:
        return pd.DataFrame(columns=columns)
    walked = per_sale[per_sale["product_id"].isin(contended)]
    remaining = {product: stock.get(product, 0) for product in contended}
    short: list[tuple[int, int, int, int]] = []
    sale_numbers = walked["sale_no"].to_numpy()
    boundaries = np.flatnonzero(np.diff(sale_numbers)) + 1
    products = np.split(walked["product_id"].to_numpy(), boundaries)
    quantities = np.split(walked["quantity"].to_numpy(), boundaries)
    for sale_no, sale_products, sale_quantities in zip(
        sale_numbers[np.r_[0, boundaries]], products, quantities, strict=True
    ):
        lacking = [
            (product, quantity)
            for product, quantity in zip(sale_products, sale_quantities, strict=True)
            if remaining[product] < quantity
        ]
        if lacking:
            product, quantity = lacking[0]
            short.append((int(sale_no), int(product), int(quantity), int(max(remaining[product], 0))))
            continue
        for product, quantity in zip(sale_products, sale_quantities, strict=True):
            remaining[product] -= quantity
    return pd.DataFrame(short, columns=columns)
