"""The product catalogue as the warehouse last saw it, and finding a product a request names.

The newest `stock_snapshot` day is the catalogue (`GET /products` joined with `/inventory` on that
day); before any snapshot, the products `product_daily_sales` has seen. A SKU matches whatever its
case, spaces and separators (as the import matches them); a name matches case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import HTTPException

from salesflow_pipelines.api.store import ReadStore, as_date
from salesflow_pipelines.lib.imports.products import name_match_key, sku_match_key


@dataclass(frozen=True)
class Product:
    id: int
    sku: str | None
    name: str | None
    stock_quantity: int | None = None


def catalogue(store: ReadStore) -> tuple[list[Product], date | None]:
    """Every product of the newest snapshot day (and that day), else of the sales tables (and None)."""
    newest = as_date(store.value("SELECT MAX(snapshot_date) FROM {stock_snapshot}"))
    if newest is not None:
        rows = store.rows(
            "SELECT product_id, sku, name, stock_quantity FROM {stock_snapshot} WHERE snapshot_date = %s "
            "ORDER BY product_id",
            (newest,),
        )
        return [Product(int(row[0]), row[1], row[2], int(row[3])) for row in rows], newest
    latest: dict[int, Product] = {}
    for product_id, sku, name in store.rows(
        "SELECT product_id, sku, product_name FROM {product_daily_sales} ORDER BY sale_date"
    ):
        latest[int(product_id)] = Product(int(product_id), sku, name)
    return sorted(latest.values(), key=lambda product: product.id), None


def find_product(store: ReadStore, sku: str | None, name: str | None, product_id: int | None) -> Product:
    """The one product the identifiers name: 404 when none does, 422 when they disagree or a name is shared."""
    products, _ = catalogue(store)
    matches: list[tuple[str, Product]] = []
    if product_id is not None:
        found = [product for product in products if product.id == product_id]
        if not found:
            raise HTTPException(404, f"Unknown product id {product_id}")
        matches.append((f"product id {product_id}", found[0]))
    if sku:
        wanted = sku_match_key(sku)
        found = [product for product in products if product.sku and sku_match_key(product.sku) == wanted]
        unknown = f"Unknown SKU '{sku}': no product has it in the warehouse's catalogue"
        several = f"SKU '{sku}' matches several products; give the product id"
        matches.append((f"SKU '{sku}'", _only(found, unknown, several)))
    if name:
        wanted = name_match_key(name)
        found = [product for product in products if product.name and name_match_key(product.name) == wanted]
        unknown = f"Unknown product name '{name}'"
        several = f"Several products are named '{name}': give the SKU"
        matches.append((f"name '{name}'", _only(found, unknown, several)))
    first = matches[0][1]
    for what, product in matches[1:]:
        if product.id != first.id:
            raise HTTPException(422, f"{matches[0][0]} and {what} name different products")
    return first


def _only(found: list[Product], unknown: str, several: str) -> Product:
    """The one product found: 404 with `unknown` when there is none, 422 with `several` when there are more."""
    if not found:
        raise HTTPException(404, unknown)
    if len(found) > 1:
        raise HTTPException(422, several)
    return found[0]
