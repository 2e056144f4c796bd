"""Header matching: which column of a sheet holds which field, and what kind of sheet it is.

Headers are compared after normalization (`header_key`): case-folded, anything that is not a
letter or digit turned into a space, spaces collapsed, so "Qty.", " QTY ", "qty_" and "Q.T.Y"
... all compare as their letters. A header with a trailing unit in brackets ("Quantity (pcs)")
also matches without it. The synonyms below are the documented list; add a spelling here and
every import accepts it.

Sheet kinds:
- **sales**: a product column (`sku`, `product_id` or `name`) and `quantity`; optional
  `sale_ref` (lines with one ref form one sale, without it each row is a sale);
- **stock**: `sku` and `stock_quantity`, optional `low_stock_threshold`. In a sheet *named*
  like a stock sheet ("Stock", "Inventory", ...) a plain `quantity` column means
  `stock_quantity`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SALES = "sales"
STOCK = "stock"

# field -> accepted spellings (compared with `header_key`). The field's own name is included.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "sku": (
        "sku",
        "sku code",
        "product sku",
        "item sku",
        "sku number",
        "sku no",
        "article number",
        "item code",
        "product code",
        "article code",
        "barcode sku",
    ),
    "product_id": ("product id", "productid", "product no", "product number", "item id", "prod id"),
    "name": (
        "name",
        "product",
        "product name",
        "item",
        "item name",
        "article",
        "article name",
        "description",
        "product description",
    ),
    "quantity": (
        "quantity",
        "qty",
        "qty sold",
        "quantity sold",
        "units",
        "units sold",
        "pieces",
        "pcs",
        "count",
        "number sold",
    ),
    "sale_ref": (
        "sale ref",
        "sale reference",
        "sale id",
        "sale no",
        "sale number",
        "order",
        "order id",
        "order no",
        "order number",
        "order ref",
        "receipt",
        "receipt no",
        "receipt number",
        "ticket",
        "ticket no",
        "invoice",
        "invoice no",
        "invoice number",
        "transaction",
        "transaction id",
        "transaction no",
        "basket",
        "basket id",
    ),
    "stock_quantity": (
        "stock quantity",
        "stock",
        "stock qty",
        "stock level",
        "stock on hand",
        "on hand",
        "quantity on hand",
        "qty on hand",
        "in stock",
        "current stock",
        "stock count",
        "counted",
        "inventory",
        "inventory quantity",
    ),
    "low_stock_threshold": (
        "low stock threshold",
        "threshold",
        "low stock",
        "low stock level",
        "reorder level",
        "reorder point",
        "min stock",
        "minimum stock",
        "minimum",
        "alert level",
        "low stock alert",
    ),
}

# Columns the old service took but the backend cannot: accepted, not sent, named in the summary.
NOT_SENT: dict[str, tuple[tuple[str, ...], str]] = {
    "sale_date": (
        ("sale date", "date", "sold on", "sold at", "sale time", "datetime", "timestamp", "day", "time"),
        "the backend stamps each sale with the time it is imported",
    ),
    "unit_price": (
        ("unit price", "price", "unit cost", "selling price", "sale price", "price each", "rate"),
        "the backend takes the product's current price",
    ),
    "line_total": (
        ("total", "line total", "subtotal", "amount", "total amount", "line amount", "value", "revenue"),
        "the backend computes totals from quantity and price",
    ),
}

SALES_SHEET_WORDS = {"sales", "sale", "orders", "transactions", "receipts", "till"}
STOCK_SHEET_WORDS = {"stock", "inventory", "stocktake", "stocklevels", "count"}
PRODUCT_FIELDS = ("sku", "product_id", "name")
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    SALES: ("sku", "product_id", "name", "quantity", "sale_ref"),
    STOCK: ("sku", "stock_quantity", "low_stock_threshold"),
}
HEADER_SEARCH_ROWS = 20
# Columns that hold numbers; their text cells show which decimal mark the file uses.
NUMBER_FIELDS = ("product_id", "quantity", "stock_quantity", "low_stock_threshold", "unit_price", "line_total")


def header_key(text: Any) -> str:
    """The comparable form of a header or sheet name: letters and digits, lower case, single spaces."""
    if text is None:
        return ""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).casefold()).split())


def _without_brackets(text: Any) -> str:
    return header_key(re.sub(r"[(\[].*?[)\]]", " ", str(text or "")))


_FIELD_BY_KEY = {header_key(spelling): name for name, spellings in SYNONYMS.items() for spelling in spellings}
_NOT_SENT_BY_KEY = {header_key(spelling): name for name, (spellings, _) in NOT_SENT.items() for spelling in spellings}


def field_for(header: Any) -> str | None:
    """The field a header names (a synonym of SYNONYMS or NOT_SENT), else None."""
    for key in (header_key(header), _without_brackets(header)):
        if key in _FIELD_BY_KEY:
            return _FIELD_BY_KEY[key]
        if key in _NOT_SENT_BY_KEY:
            return _NOT_SENT_BY_KEY[key]
    return None


def kind_from_sheet_name(name: str) -> str | None:
    """`sales` or `stock` when the sheet's (or CSV file's) name says so, else None."""
    words = set(header_key(name).split())
    words |= {"".join(header_key(name).split())}
    is_sales, is_stock = bool(words & SALES_SHEET_WORDS), bool(words & STOCK_SHEET_WORDS)
    if is_sales == is_stock:
        return None
    return SALES if is_sales else STOCK


@dataclass
class ColumnMap:
    """How one sheet's columns are used: field -> column position, and what is left out."""

    kind: str | None
    fields: dict[str, int]
    headers: list[str]
    not_sent: dict[str, str] = field(default_factory=dict)  # original header -> why it is not sent
    ignored: list[str] = field(default_factory=list)  # original headers of unknown or duplicate columns
    missing: list[tuple[str, ...]] = field(default_factory=list)  # required fields not found (alternatives)
    # not-sent number columns (unit price, line total) -> position: read only for the file's decimal mark
    also_read: dict[str, int] = field(default_factory=dict)

    def header_of(self, name: str) -> str:
        return self.headers[self.fields[name]] if name in self.fields else name


def map_columns(header: Sequence[Any], sheet_name: str) -> ColumnMap:
    """Match a header row to fields and decide the sheet's kind (None: neither kind)."""
    headers = [_header_text(value, position) for position, value in enumerate(header)]
    named_kind = kind_from_sheet_name(sheet_name)
    found: dict[str, int] = {}
    not_sent: dict[str, str] = {}
    also_read: dict[str, int] = {}
    ignored: list[str] = []
    for position, value in enumerate(header):
        if value is None or not str(value).strip():
            continue
        name = field_for(value)
        if name in NOT_SENT:
            not_sent[headers[position]] = NOT_SENT[name][1]
            if name in NUMBER_FIELDS:
                also_read.setdefault(name, position)
        elif name is None or name in found:
            ignored.append(headers[position] + (" (duplicate)" if name in found else ""))
        else:
            found[name] = position
    if named_kind == STOCK and "stock_quantity" not in found and "quantity" in found:
        found["stock_quantity"] = found.pop("quantity")
    kind = named_kind or _kind_from_fields(found)
    if kind is None:
        return ColumnMap(None, found, headers, not_sent, ignored, also_read=also_read)
    wanted = FIELDS_BY_KIND[kind]
    for name in [name for name in found if name not in wanted]:
        ignored.append(f"{headers[found.pop(name)]} (not used in a {kind} sheet)")
    return ColumnMap(kind, found, headers, not_sent, ignored, _missing(kind, found), also_read)


def _header_text(value: Any, position: int) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    return text or f"(column {column_letter(position)})"


def _kind_from_fields(found: dict[str, int]) -> str | None:
    if "stock_quantity" in found and "sku" in found:
        return STOCK
    if "quantity" in found and any(name in found for name in PRODUCT_FIELDS):
        return SALES
    return None


REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    SALES: (PRODUCT_FIELDS, ("quantity",)),
    STOCK: (("sku",), ("stock_quantity",)),
}


def _missing(kind: str, found: dict[str, int]) -> list[tuple[str, ...]]:
    return [choices for choices in REQUIRED[kind] if not any(name in found for name in choices)]


def describe_missing(kind: str, missing: list[tuple[str, ...]]) -> str:
    """A clerk's message naming the missing columns and a few spellings accepted for each."""
    parts = []
    for choices in missing:
        spellings = [spelling for name in choices for spelling in SYNONYMS[name][:3]]
        parts.append(f"{' or '.join(choices)} (a header such as {', '.join(repr(s) for s in spellings)})")
    return f"the {kind} sheet has no column for {'; nor for '.join(parts)}"


def is_header_row(values: Sequence[Any]) -> bool:
    """True when a row looks like a header: two or more known fields, one of them a product or quantity."""
    names = {field_for(value) for value in values if value is not None and str(value).strip()}
    names.discard(None)
    core = names & {"sku", "product_id", "name", "quantity", "stock_quantity"}
    return len(names) >= 2 and bool(core)


def column_letter(position: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
