"""The cleaning rules of DESIGN.md section 3: the source of truth for every KPI number.

Vectorized throughout: text is normalized once per distinct value (factorize, fix the
uniques, take back), rules are boolean masks, and a rejected line carries one reason code,
the first rule it breaks in the order of `REJECT_REASONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.schemas import SALE_STATUSES

UNASSIGNED_REGION = "Unassigned"
UNCATEGORIZED = "Uncategorized"
UNNAMED_PRODUCT = "Unnamed product"
UNKNOWN_SKU = "UNKNOWN"
DEFAULT_STATUS = "COMPLETED"

SALES_LINE_COLUMNS = [
    "sale_id",
    "sale_date",
    "line_no",
    "customer_id",
    "region",
    "status",
    "product_id",
    "product_name",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "gross_amount",
    "revenue",
]
REJECT_COLUMNS = ["sale_date", "sale_id", "line_no", "reason", "detail"]


@dataclass(frozen=True)
class CleanedSales:
    lines: pd.DataFrame
    rejects: pd.DataFrame


def normalize_text(
    values: pd.Series, case: Literal["title", "upper"] | None = None, default: str | None = None
) -> pd.Series:
    """Trim, collapse inner white space and optionally re-case; empty text counts as missing.

    Works on the distinct values only, so a column of millions of rows with a few hundred
    distinct spellings costs a few hundred string operations.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = pd.Index(uniques, dtype="object").str.replace(r"\s+", " ", regex=True).str.strip()
    if case == "title":
        cleaned = cleaned.str.title()
    elif case == "upper":
        cleaned = cleaned.str.upper()
    lookup = np.append(np.asarray(cleaned, dtype=object), None)
    normalized = pd.array(lookup[codes], dtype="string")
    normalized[normalized == ""] = pd.NA
    result = pd.Series(normalized, index=values.index, name=values.name)
    return result.fillna(default) if default is not None else result


def duplicate_deliveries(raw: pd.DataFrame) -> np.ndarray:
    """Mask of lines that belong to a second or later delivery of an already seen sale id.

    The frame is in delivery order and every delivered sale starts at line 1, so a running
    count of line-1 rows numbers the deliveries.
    """
    delivery = (raw["line_no"].to_numpy() == 1).cumsum()
    first_delivery = pd.Series(delivery).groupby(raw["sale_id"].to_numpy(), sort=False).transform("min")
    return (delivery != first_delivery.to_numpy()) & raw["sale_id"].notna().to_numpy()


def category_lookup(products: pd.DataFrame) -> pd.Series:
    """Inventory category by normalized SKU, from the latest snapshot that names one."""
    if products.empty:
        return pd.Series(dtype="string")
    latest = products.sort_values("snapshot_date", kind="stable").assign(
        sku=normalize_text(products["sku"], case="upper"),
        category=normalize_text(products["category"], case="title"),
    )
    latest = latest.dropna(subset=["sku", "category"]).drop_duplicates("sku", keep="last")
    return latest.set_index("sku")["category"]


def clean_sales(raw: pd.DataFrame, categories: pd.Series) -> CleanedSales:
    """Split raw sale lines into valid, normalized lines with revenue and rejected lines.

    `categories` maps normalized SKU to category (see `category_lookup`); a line's own
    `category` extension wins over it, and a SKU in neither is `Uncategorized`.
    """
    raw = raw.sort_values("delivery_order", kind="stable").reset_index(drop=True)
    lines = _normalized(raw, categories)
    reason, detail = _reject_reasons(lines, duplicate_deliveries(raw))
    rejected = reason.notna().to_numpy()
    valid = lines.loc[~rejected].reset_index(drop=True)
    valid["sale_id"] = valid["sale_id"].astype("int64")
    valid["product_id"] = valid["product_id"].astype("int64")
    valid["gross_amount"] = valid["quantity"] * valid["unit_price"]
    valid["revenue"] = valid["gross_amount"] * (1.0 - valid["discount"])
    rejects = pd.DataFrame(
        {
            "sale_date": lines.loc[rejected, "sale_date"].dt.normalize(),
            "sale_id": lines.loc[rejected, "sale_id"],
            "line_no": lines.loc[rejected, "line_no"],
            "reason": reason[rejected].astype("string"),
            "detail": detail[rejected].astype("string"),
        }
    ).reset_index(drop=True)
    return CleanedSales(lines=valid[SALES_LINE_COLUMNS], rejects=rejects[REJECT_COLUMNS])


def _normalized(raw: pd.DataFrame, categories: pd.Series) -> pd.DataFrame:
    sku = normalize_text(raw["sku"], case="upper")
    own_category = normalize_text(raw["category"], case="title")
    inventory_category = pd.Series(
        pd.array(categories.reindex(sku.fillna("")).to_numpy(), dtype="string"), index=raw.index
    )
    return raw.assign(
        region=normalize_text(raw["region"], case="title", default=UNASSIGNED_REGION),
        status=normalize_text(raw["status"], case="upper", default=DEFAULT_STATUS),
        product_name=normalize_text(raw["product_name"], default=UNNAMED_PRODUCT),
        sku=sku.fillna(UNKNOWN_SKU),
        category=own_category.fillna(inventory_category).fillna(UNCATEGORIZED),
        discount=raw["discount"].fillna(0.0),
    )


def _reject_reasons(lines: pd.DataFrame, duplicate: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """The first broken rule of each line (NA when valid) and a detail a person can act on."""
    quantity = lines["quantity"].to_numpy()
    price = lines["unit_price"].to_numpy()
    discount = lines["discount"].to_numpy()
    rules = [
        ("MISSING_SALE_ID", lines["sale_id"].isna().to_numpy(), "sale has no id; it cannot be deduplicated"),
        ("DUPLICATE_SALE", duplicate, "sale id delivered more than once; first delivery kept"),
        ("MISSING_PRODUCT", lines["product_id"].isna().to_numpy(), "line has no productId"),
        ("BAD_QUANTITY", ~(np.isfinite(quantity) & (quantity > 0)), "quantity must be > 0, got "),
        ("BAD_PRICE", ~(np.isfinite(price) & (price >= 0)), "unitPrice must be >= 0, got "),
        ("BAD_DISCOUNT", ~((discount >= 0) & (discount <= 1)), "discount must be in [0, 1], got "),
        ("BAD_STATUS", ~lines["status"].isin(SALE_STATUSES).to_numpy(), "unknown status "),
    ]
    value_of = {
        "BAD_QUANTITY": lines["quantity"],
        "BAD_PRICE": lines["unit_price"],
        "BAD_DISCOUNT": lines["discount"],
        "BAD_STATUS": lines["status"],
    }
    reason = pd.Series(pd.NA, index=lines.index, dtype="object")
    detail = pd.Series(pd.NA, index=lines.index, dtype="object")
    for code, broken, message in rules:
        newly = broken & reason.isna().to_numpy()
        if not newly.any():
            continue
        reason[newly] = code
        suffix = value_of[code][newly].astype(str) if code in value_of else ""
        detail[newly] = message + suffix
    return reason, detail


def unreconciled_sales(raw: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Sales (first delivery) whose `totalAmount` differs from the sum of q x p x (1 - d).

    One row per such sale with `total_amount`, `lines_total` and `gap`.
    """
    ordered = raw.sort_values("delivery_order", kind="stable").reset_index(drop=True)
    first = ordered[~duplicate_deliveries(ordered)]
    amounts = first["quantity"] * first["unit_price"] * (1.0 - first["discount"].fillna(0.0))
    sales = pd.DataFrame({"sale_id": first["sale_id"], "total_amount": first["total_amount"], "line_amount": amounts})
    per_sale = sales.groupby("sale_id").agg(total_amount=("total_amount", "first"), lines_total=("line_amount", "sum"))
    per_sale["gap"] = (per_sale["total_amount"] - per_sale["lines_total"]).round(2)
    return per_sale[per_sale["gap"].abs() > tolerance].reset_index()
